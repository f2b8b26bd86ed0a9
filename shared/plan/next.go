package plan

import (
	"fmt"
	"slices"
)

// The ends of a plan, as Decision.Kind names them besides the step kinds.
const (
	// KindFinalize: every step is behind; prod moves to the new version.
	KindFinalize Kind = "finalize"
	// KindRollback: prod goes back to the stable version with no routing.
	KindRollback Kind = "rollback"
)

// Outcome is how the step just run ended, as Next weighs it.
type Outcome string

const (
	// Passed: the step did what it does (a weight is set, an analysis
	// passed). The zero value: a step with nothing to judge passes.
	Passed Outcome = ""
	// Inconclusive: an analysis could not judge the new version yet.
	Inconclusive Outcome = "inconclusive"
	// Failed: the step found harm (an unhealthy verdict, a firing alarm)
	// or could not run; the promotion rolls back.
	Failed Outcome = "failed"
)

// Skip is an operator's promote, with Argo Rollouts' meaning.
type Skip string

const (
	// SkipNone: no operator asked.
	SkipNone Skip = ""
	// SkipStep (`aliasflow promote`): past the current step only; the next
	// step's checks still apply.
	SkipStep Skip = "step"
	// SkipFull (`aliasflow promote --full`): past every remaining step to
	// 100 %, accepting an inconclusive verdict.
	SkipFull Skip = "full"
)

// Facts are what the step just run found, the inputs Next decides on.
type Facts struct {
	Outcome Outcome
	// Again says an inconclusive analysis may bake again: its step is
	// within health.maxBakeSeconds and the execution history's budget.
	Again bool
	// AcceptInconclusive says an inconclusive analysis that may not bake
	// again passes (health.onInconclusive promote, and the evidence does
	// not lean towards harm).
	AcceptInconclusive bool
	// Skip is an operator's promote during the step.
	Skip Skip
	// Direct says prod moves all at once whatever the plan: a first
	// release, prod already on the new version, or versions that cannot
	// share a weighted alias under strategy.fallbackAllAtOnce.
	Direct bool
	// Reason says why, for a failed outcome.
	Reason string
}

// Decision is what the promotion does next.
type Decision struct {
	// Kind is the kind of the step to run, or KindFinalize, KindRollback.
	Kind Kind
	// Position is the index of that step in the plan (len(Steps) for
	// finalize, -1 for a rollback).
	Position int
	// Step is the step to run (zero for finalize and rollback).
	Step Step
	// Weight is the share of prod's traffic the new version has during the
	// step: the last weight set at or before it; 1 for finalize, 0 for a
	// rollback (every request on the stable version, no routing left).
	Weight float64
	// WeightIndex is how many weights the plan has set by the step, less
	// one: the 0-based index of the current weight, -1 before the first.
	WeightIndex int
	// Again says the step is the same analysis baking again.
	Again bool
	// Reason says why, for a rollback.
	Reason string
}

// Start is the position before the first step.
const Start = -1

// Next decides what follows the step at position at (Start before the
// first) given what it found. A failure rolls back whatever the step; an
// inconclusive analysis bakes again while it may, then passes or rolls
// back; an operator's promote goes past the current step (SkipStep) or
// every step (SkipFull); past the last step prod is finalized. A position
// outside the plan, or a step whose kind the promotion cannot run, rolls
// back: a plan that cannot be followed never leaves prod weighted.
func Next(p Plan, at int, f Facts) Decision {
	rollback := func(format string, args ...any) Decision {
		return Decision{Kind: KindRollback, Position: -1, WeightIndex: -1, Reason: fmt.Sprintf(format, args...)}
	}
	if f.Outcome == Failed {
		return rollback("%s", f.Reason)
	}
	if at < Start || at >= len(p.Steps) {
		return rollback("position %d is outside the plan's %d steps", at, len(p.Steps))
	}
	if f.Direct {
		return finalize(p)
	}
	if f.Outcome == Inconclusive && f.Skip == SkipNone {
		if at == Start || p.Steps[at].Kind() != KindAnalysis {
			return rollback("steps[%d] (%s) is not an analysis; only an analysis can be inconclusive", at, kindAt(p, at))
		}
		switch {
		case f.Again:
			d := decideAt(p, at)
			d.Again = true
			return d
		case !f.AcceptInconclusive:
			return rollback("the analysis at steps[%d] is still inconclusive and may not bake again", at)
		}
	}
	if f.Skip == SkipFull {
		return finalize(p)
	}
	next := at + 1
	if next == len(p.Steps) {
		return finalize(p)
	}
	switch k := p.Steps[next].Kind(); {
	case k == "":
		return rollback("steps[%d] sets no kind or several", next)
	case !runnable(k):
		return rollback("steps[%d]: %s steps are not supported yet", next, k)
	}
	return decideAt(p, next)
}

// At is the decision to run the step at position i again — a window
// still closed when its wait ends — or a rollback outside the plan.
func At(p Plan, i int) Decision {
	if i < 0 || i >= len(p.Steps) {
		return Decision{Kind: KindRollback, Position: -1, WeightIndex: -1, Reason: fmt.Sprintf("position %d is outside the plan's %d steps", i, len(p.Steps))}
	}
	return decideAt(p, i)
}

// decideAt is the decision to run the step at position i.
func decideAt(p Plan, i int) Decision {
	d := Decision{Kind: p.Steps[i].Kind(), Position: i, Step: p.Steps[i], WeightIndex: -1}
	for _, s := range p.Steps[:i+1] {
		if s.Kind() == KindSetWeight {
			d.Weight = s.SetWeight.Weight
			d.WeightIndex++
		}
	}
	return d
}

func finalize(p Plan) Decision {
	return Decision{Kind: KindFinalize, Position: len(p.Steps), Weight: 1, WeightIndex: len(p.Weights())}
}

func runnable(k Kind) bool { return slices.Contains(Runnable, k) }

func kindAt(p Plan, at int) string {
	if at == Start {
		return "the start"
	}
	return string(p.Steps[at].Kind())
}
