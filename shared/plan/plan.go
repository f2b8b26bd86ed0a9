// Package plan is a promotion's rollout as data: the steps prod passes
// through once a release is approved (set a weight, judge the evidence,
// pause, …), the presets that express the strategies of the settings
// (all-at-once, canary, linear) as such steps, and Next, the one function
// that decides what a promotion does after each step. The shift Lambda, the
// CLI's watch and status and the approval page all read a promotion's plan
// through this package, so they never disagree about where it stands.
package plan

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
)

// Kind names what a step does.
type Kind string

// The step kinds. Every kind runs end to end today; a kind added to the
// plan's vocabulary before the promotion can run it stays out of Runnable,
// and Validate refuses it by name.
const (
	KindSetWeight Kind = "setWeight"
	KindAnalysis  Kind = "analysis"
	KindPause     Kind = "pause"
	KindApproval  Kind = "approval"
	KindWarm      Kind = "warm"
	KindWindow    Kind = "window"
)

// Runnable are the kinds a promotion can run today.
var Runnable = []Kind{KindSetWeight, KindAnalysis, KindPause, KindWindow, KindApproval, KindWarm}

// Plan is the list of steps prod passes through after approval, before it
// is finalized on the new version. An empty plan moves prod all at once.
type Plan struct {
	Steps []Step `json:"steps"`
}

// Step is one step of a plan: exactly one of its fields is set (the shape
// Argo Rollouts gives its canary steps).
type Step struct {
	// SetWeight moves a share of prod's traffic to the new version.
	SetWeight *SetWeight `json:"setWeight,omitempty" jsonschema_extras:"x-default=none"`
	// Analysis bakes the previous weight and judges it.
	Analysis *Analysis `json:"analysis,omitempty" jsonschema_extras:"x-default=none"`
	// Pause holds the weight for a time or until continued.
	Pause *Pause `json:"pause,omitempty" jsonschema_extras:"x-default=none"`
	// Approval waits for one of its approvers before the next step.
	Approval *Approval `json:"approval,omitempty" jsonschema_extras:"x-default=none"`
	// Warm provisions concurrency on the new version and waits until it
	// is ready, before the weight that follows.
	Warm *Warm `json:"warm,omitempty" jsonschema_extras:"x-default=none"`
	// Window holds the promotion outside the allowed hours and in freezes.
	Window *Window `json:"window,omitempty" jsonschema_extras:"x-default=none"`
}

// SetWeight sends Weight (0–1 exclusive) of prod's traffic to the new
// version.
type SetWeight struct {
	// Weight is the new version's share of prod's traffic, above the
	// previous step's weight.
	Weight float64 `json:"weight" jsonschema:"exclusiveMinimum=0,exclusiveMaximum=1"`
}

// Analysis holds the weight for BakeSeconds and then judges the new
// version against the stable version (shared/shift's verdict): it fails
// when the new version's error rate is significantly more than
// MaxErrorRate above the stable version's, and passes only once at least
// MinInvocations calls bound it within that.
type Analysis struct {
	// BakeSeconds is how long the weight serves before it is judged.
	BakeSeconds int `json:"bakeSeconds" jsonschema:"minimum=1,maximum=86400"`
	// Test names the verdict's statistical test (TestBinomial).
	Test string `json:"test" jsonschema:"default=binomial,enum=binomial"`
	// MaxErrorRate is the error rate the new version may show above the
	// stable version's.
	MaxErrorRate float64 `json:"maxErrorRate" jsonschema:"minimum=0,maximum=1" jsonschema_extras:"x-default=health.maxErrorRate"`
	// MinInvocations is how many calls of the new version pass the step.
	MinInvocations int `json:"minInvocations" jsonschema:"minimum=1" jsonschema_extras:"x-default=health.minInvocations"`
}

// TestBinomial is the evidence verdict's test: an exact one-sided binomial
// test against the stable version's rate plus the allowance to fail, a
// Clopper–Pearson upper bound to pass (shared/shift, verdict.go).
const TestBinomial = "binomial"

// Pause holds the weight for Seconds, or until a person continues the
// promotion when Seconds is 0 (`aliasflow promote` or `resume`; nobody
// continuing within the target's approvalTimeoutSeconds rolls back).
type Pause struct {
	// Seconds is how long the pause holds; 0 holds until continued.
	Seconds int `json:"seconds,omitempty" jsonschema:"default=0,minimum=0,maximum=86400"`
}

// Approval waits for one of Approvers (entries of the target's approvers,
// each e-mailed a signed link to the approval page, as at the start, or
// deciding as the IAM principals approval.principals maps to them, with
// `aliasflow approve`) to approve before the next step; a rejection, or
// nobody deciding within approvalTimeoutSeconds, rolls back.
type Approval struct {
	// Approvers are entries of the target's approvers.
	Approvers []string `json:"approvers" jsonschema:"minItems=1"`
}

// Warm puts ProvisionedConcurrency on the new version and waits until
// Lambda reports it READY, before the setWeight that follows sends the
// version traffic (a weighted alias splits provisioned concurrency by
// weight; provisioned on the version itself, all of it serves the new
// version's share). A FAILED allocation, or none READY within the
// target's warm timeout, rolls back, and a rollback removes it; past 100 %
// it stays on the new version, which then serves all of prod (docs/warm.md).
type Warm struct {
	// ProvisionedConcurrency is put on the new version (1 to 1,000,
	// MaxProvisionedConcurrency).
	ProvisionedConcurrency int `json:"provisionedConcurrency" jsonschema:"minimum=1,maximum=1000"`
	// TimeoutSeconds is how long the step waits for READY before it
	// rolls back (0: the default, 600, DefaultWarmTimeoutSeconds).
	TimeoutSeconds int `json:"timeoutSeconds,omitempty" jsonschema:"default=600,minimum=0,maximum=3600"`
}

// DefaultWarmTimeoutSeconds is a warm step's wait for READY when it names
// none: Lambda allocates provisioned concurrency in a few minutes ("It can
// take a few minutes to allocate provisioned concurrency", Configuring
// provisioned concurrency,
// https://docs.aws.amazon.com/lambda/latest/dg/provisioned-concurrency.html).
const DefaultWarmTimeoutSeconds = 600

// Timeout is the step's wait for READY, in seconds.
func (w Warm) Timeout() int {
	if w.TimeoutSeconds == 0 {
		return DefaultWarmTimeoutSeconds
	}
	return w.TimeoutSeconds
}

// MaxProvisionedConcurrency bounds a warm step: Lambda's default
// concurrency quota of a Region, 1,000 ("Lambda quotas",
// https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
// Lambda itself refuses more than leaves the account 100 unreserved, which
// the step reports as its failure.
const MaxProvisionedConcurrency = 1000

// Window holds the promotion until the current time is inside one of the
// allowed hours and outside every freeze (window.go); an operator's
// promote overrides it, audited as break-glass.
type Window struct {
	// Hours are UTC ranges "HH:MM-HH:MM" on the allowed days; none
	// allows every hour. A range may pass midnight ("22:00-02:00").
	Hours []string `json:"hours,omitempty" jsonschema_extras:"x-default=every hour"`
	// Days are the allowed weekdays, "Mon" to "Sun"; none allows every day.
	Days []string `json:"days,omitempty" jsonschema:"enum=Mon,enum=Tue,enum=Wed,enum=Thu,enum=Fri,enum=Sat,enum=Sun" jsonschema_extras:"x-default=every day"`
	// Freezes are periods no step may pass, whatever the hours.
	Freezes []Freeze `json:"freezes,omitempty" jsonschema_extras:"x-default=none"`
}

// Freeze is a declared period in which promotions wait: from From until
// To (RFC 3339 times).
type Freeze struct {
	// Name says why the freeze is declared.
	Name string `json:"name"`
	// From is when the freeze begins (RFC 3339).
	From time.Time `json:"from"`
	// To is when the freeze ends (RFC 3339).
	To time.Time `json:"to"`
}

// Kind is the kind of the step, "" when none or more than one field is set.
func (s Step) Kind() Kind {
	var kinds []Kind
	if s.SetWeight != nil {
		kinds = append(kinds, KindSetWeight)
	}
	if s.Analysis != nil {
		kinds = append(kinds, KindAnalysis)
	}
	if s.Pause != nil {
		kinds = append(kinds, KindPause)
	}
	if s.Approval != nil {
		kinds = append(kinds, KindApproval)
	}
	if s.Warm != nil {
		kinds = append(kinds, KindWarm)
	}
	if s.Window != nil {
		kinds = append(kinds, KindWindow)
	}
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

// String says what the step does in a few words: "10%", "analysis 5m",
// "pause until continued".
func (s Step) String() string {
	switch s.Kind() {
	case KindSetWeight:
		return alias.Percent(s.SetWeight.Weight)
	case KindAnalysis:
		return "analysis " + seconds(s.Analysis.BakeSeconds)
	case KindPause:
		if s.Pause.Seconds == 0 {
			return "pause until continued"
		}
		return "pause " + seconds(s.Pause.Seconds)
	case KindApproval:
		return "approval by " + strings.Join(s.Approval.Approvers, " or ")
	case KindWarm:
		return fmt.Sprintf("warm %d", s.Warm.ProvisionedConcurrency)
	case KindWindow:
		return "window " + s.Window.String()
	}
	return "invalid step"
}

// String is the plan in one line: "10% → analysis 5m → 100%".
func (p Plan) String() string {
	var parts []string
	for _, s := range p.Steps {
		parts = append(parts, s.String())
	}
	return strings.Join(append(parts, "100%"), " → ")
}

// Validate refuses a plan the promotion cannot run: a step with no kind or
// several, a weight outside (0, 1) or not above the one before, an
// analysis with no bake or no weight to judge, a warm outside 1–1000 or
// not right before a setWeight, and — by name — a kind the promotion
// cannot run yet. Each weight is followed by exactly one
// analysis (the definition's SetWeight goes straight to its Bake).
func Validate(p Plan) error {
	var errs []error
	bad := func(i int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("steps[%d]: "+format, append([]any{i}, args...)...))
	}
	weight := 0.0
	for i, s := range p.Steps {
		k := s.Kind()
		switch k {
		case "":
			bad(i, "must set exactly one of setWeight, analysis, pause, approval, warm, window")
			continue
		case KindSetWeight:
			w := s.SetWeight.Weight
			if !(w > 0 && w < 1) {
				bad(i, "setWeight.weight %v must be between 0 and 1 exclusive", w)
			} else if w <= weight {
				bad(i, "setWeight.weight %v must be above the previous weight %v", w, weight)
			}
			weight = w
			if i+1 >= len(p.Steps) || p.Steps[i+1].Kind() != KindAnalysis {
				bad(i, "setWeight must be followed by an analysis (a weight nobody judges would reach 100%% unchecked)")
			}
		case KindAnalysis:
			a := s.Analysis
			if a.BakeSeconds < 1 || a.BakeSeconds > 86400 {
				bad(i, "analysis.bakeSeconds must be 1–86400, got %d", a.BakeSeconds)
			}
			if a.Test != TestBinomial {
				bad(i, "analysis.test must be %q, got %q", TestBinomial, a.Test)
			}
			if a.MaxErrorRate < 0 || a.MaxErrorRate > 1 {
				bad(i, "analysis.maxErrorRate must be between 0 and 1, got %v", a.MaxErrorRate)
			}
			if a.MinInvocations < 1 {
				bad(i, "analysis.minInvocations must be at least 1, got %d", a.MinInvocations)
			}
			if i == 0 || p.Steps[i-1].Kind() != KindSetWeight {
				bad(i, "analysis must follow a setWeight (it judges that weight)")
			}
		case KindPause:
			if s.Pause.Seconds < 0 || s.Pause.Seconds > 86400 {
				bad(i, "pause.seconds must be 0 (until continued) or 1–86400, got %d", s.Pause.Seconds)
			}
		case KindWindow:
			if err := s.Window.validate(); err != nil {
				bad(i, "window.%v", err)
			}
		case KindWarm:
			if n := s.Warm.ProvisionedConcurrency; n < 1 || n > MaxProvisionedConcurrency {
				bad(i, "warm.provisionedConcurrency must be 1–%d, got %d", MaxProvisionedConcurrency, n)
			}
			if t := s.Warm.TimeoutSeconds; t < 0 || t > 3600 {
				bad(i, "warm.timeoutSeconds must be 0 (the default, %ds) or 1–3600, got %d", DefaultWarmTimeoutSeconds, t)
			}
			// Warming is for the weight that follows: anything else in
			// between would let traffic reach the version while it warms
			// or hold a paid allocation for nothing.
			if i+1 >= len(p.Steps) || p.Steps[i+1].Kind() != KindSetWeight {
				bad(i, "warm must be followed by a setWeight (it warms the new version before that weight sends it traffic)")
			}
		case KindApproval:
			if len(s.Approval.Approvers) == 0 {
				bad(i, "approval.approvers must name at least one approver")
			}
			for j, a := range s.Approval.Approvers {
				if strings.TrimSpace(a) == "" || !strings.Contains(a, "@") {
					bad(i, "approval.approvers[%d]: %q is not an approver's e-mail address", j, a)
				}
			}
		default:
			bad(i, "%s steps are not supported yet", k)
		}
	}
	return errors.Join(errs...)
}

// Criteria are how an analysis judges: the target's health settings'
// maxErrorRate and minInvocations, for an analysis that names none.
type Criteria struct {
	MaxErrorRate   float64
	MinInvocations int
}

// The presets: the plans the strategies of the settings make
// (config.StrategyConfig.Plan).

// AllAtOnce has no steps: prod moves to the new version at once.
func AllAtOnce() Plan { return Plan{Steps: []Step{}} }

// Canary sends percent of prod's traffic to the new version and judges it
// after bake seconds.
func Canary(percent, bake int, c Criteria) Plan {
	return FromWeights([]Weighted{{Weight: float64(percent) / 100, BakeSeconds: bake}}, c)
}

// Linear adds percent of prod's traffic every interval seconds, each
// weight judged, until 100.
func Linear(percent, interval int, c Criteria) Plan {
	var ws []Weighted
	for p := percent; p > 0 && p < 100; p += percent {
		ws = append(ws, Weighted{Weight: float64(p) / 100, BakeSeconds: interval})
	}
	return FromWeights(ws, c)
}

// WithCriteria is p with c given to each analysis that names no criteria
// of its own (a plan written out in the settings).
func WithCriteria(p Plan, c Criteria) Plan {
	out := Plan{Steps: make([]Step, len(p.Steps))}
	for i, s := range p.Steps {
		if a := s.Analysis; a != nil && a.Test == "" && a.MaxErrorRate == 0 && a.MinInvocations == 0 {
			s.Analysis = &Analysis{BakeSeconds: a.BakeSeconds, Test: TestBinomial, MaxErrorRate: c.MaxErrorRate, MinInvocations: c.MinInvocations}
		}
		out.Steps[i] = s
	}
	return out
}

// Weighted is a weight and how long it bakes before its analysis: what an
// execution's input carries as its steps (promotion.Step).
type Weighted struct {
	Weight      float64
	BakeSeconds int
}

// FromWeights is the plan of weights each followed by its analysis, judged
// by c.
func FromWeights(ws []Weighted, c Criteria) Plan {
	p := Plan{Steps: make([]Step, 0, 2*len(ws))}
	for _, w := range ws {
		p.Steps = append(p.Steps,
			Step{SetWeight: &SetWeight{Weight: w.Weight}},
			Step{Analysis: &Analysis{BakeSeconds: w.BakeSeconds, Test: TestBinomial,
				MaxErrorRate: c.MaxErrorRate, MinInvocations: c.MinInvocations}})
	}
	return p
}

// Bakes are the shortest and the longest bake of the plan's analyses
// (0, 0 with none): the settings check the shortest against the
// evidence's delay and give the longest its maximum bake.
func (p Plan) Bakes() (shortest, longest int) {
	for _, s := range p.Steps {
		if s.Kind() != KindAnalysis {
			continue
		}
		b := s.Analysis.BakeSeconds
		if shortest == 0 || b < shortest {
			shortest = b
		}
		longest = max(longest, b)
	}
	return shortest, longest
}

// Weights are the plan's weights, each with the bake of the analysis that
// follows it (0 when none does).
func (p Plan) Weights() []Weighted {
	ws := []Weighted{}
	for i, s := range p.Steps {
		if s.Kind() != KindSetWeight {
			continue
		}
		w := Weighted{Weight: s.SetWeight.Weight}
		if i+1 < len(p.Steps) && p.Steps[i+1].Kind() == KindAnalysis {
			w.BakeSeconds = p.Steps[i+1].Analysis.BakeSeconds
		}
		ws = append(ws, w)
	}
	return ws
}

// AnalysisOf is the position of the analysis that judges the plan's
// weight-th weight (0-based), -1 when there is none.
func (p Plan) AnalysisOf(weight int) int {
	n := -1
	for i, s := range p.Steps {
		if s.Kind() == KindSetWeight {
			n++
			continue
		}
		if n == weight && s.Kind() == KindAnalysis {
			return i
		}
		if n > weight {
			break
		}
	}
	return -1
}

// seconds prints a duration in seconds compactly: "90s", "5m", "2h".
func seconds(n int) string {
	switch {
	case n != 0 && n%3600 == 0:
		return fmt.Sprintf("%dh", n/3600)
	case n != 0 && n%60 == 0:
		return fmt.Sprintf("%dm", n/60)
	}
	return fmt.Sprintf("%ds", n)
}
