package plan_test

import (
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
)

// TestNext is the plan interpreter's contract: for each step kind and
// each way a step can end, what the promotion does next. Every failure
// path decides a rollback: weight 0, every request on the stable version
// and no routing left.
func TestNext(t *testing.T) {
	linear := config.StrategyConfig{Type: config.Linear, Percent: 25, IntervalSeconds: 60}.Plan(health())
	canary := config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 300}.Plan(health())
	allAtOnce := config.StrategyConfig{Type: config.AllAtOnce}.Plan(health())
	withPause := plan.Plan{Steps: append(append([]plan.Step{}, canary.Steps...), plan.Step{Pause: &plan.Pause{}})}
	withWarm := plan.Plan{Steps: append([]plan.Step{{Warm: &plan.Warm{ProvisionedConcurrency: 5}}}, canary.Steps...)}
	broken := plan.Plan{Steps: []plan.Step{{}}}
	windowFirst := plan.Plan{Steps: append([]plan.Step{{Window: &plan.Window{Hours: []string{"09:00-17:00"}}}}, canary.Steps...)}
	pauseFirst := plan.Plan{Steps: append([]plan.Step{{Pause: &plan.Pause{Seconds: 60}}}, canary.Steps...)}
	type want struct {
		kind        plan.Kind
		position    int
		weight      float64
		weightIndex int
		again       bool
		reason      string // part of the rollback's reason
	}
	rollback := func(reason string) want {
		return want{kind: plan.KindRollback, position: -1, weightIndex: -1, reason: reason}
	}
	tests := []struct {
		name string
		p    plan.Plan
		at   int
		f    plan.Facts
		want want
	}{
		// Each kind in turn.
		{"all at once finalizes at once", allAtOnce, plan.Start, plan.Facts{}, want{kind: plan.KindFinalize, position: 0, weight: 1, weightIndex: 0}},
		{"the first step sets the first weight", linear, plan.Start, plan.Facts{}, want{kind: plan.KindSetWeight, position: 0, weight: 0.25, weightIndex: 0}},
		{"a weight set is analysed", linear, 0, plan.Facts{}, want{kind: plan.KindAnalysis, position: 1, weight: 0.25, weightIndex: 0}},
		{"a passed analysis sets the next weight", linear, 1, plan.Facts{}, want{kind: plan.KindSetWeight, position: 2, weight: 0.5, weightIndex: 1}},
		{"the last analysis passed finalizes", linear, 5, plan.Facts{}, want{kind: plan.KindFinalize, position: 6, weight: 1, weightIndex: 3}},
		{"canary passed finalizes", canary, 1, plan.Facts{}, want{kind: plan.KindFinalize, position: 2, weight: 1, weightIndex: 1}},
		// Inconclusive evidence.
		{"inconclusive bakes the same analysis again", linear, 3, plan.Facts{Outcome: plan.Inconclusive, Again: true}, want{kind: plan.KindAnalysis, position: 3, weight: 0.5, weightIndex: 1, again: true}},
		{"inconclusive accepted moves on", linear, 3, plan.Facts{Outcome: plan.Inconclusive, AcceptInconclusive: true}, want{kind: plan.KindSetWeight, position: 4, weight: 0.75, weightIndex: 2}},
		// Operators.
		{"promote goes past the current step only", linear, 1, plan.Facts{Outcome: plan.Inconclusive, Again: true, Skip: plan.SkipStep}, want{kind: plan.KindSetWeight, position: 2, weight: 0.5, weightIndex: 1}},
		{"promote on the last step finalizes", canary, 1, plan.Facts{Outcome: plan.Inconclusive, Skip: plan.SkipStep}, want{kind: plan.KindFinalize, position: 2, weight: 1, weightIndex: 1}},
		{"promote --full skips every remaining step", linear, 1, plan.Facts{Outcome: plan.Inconclusive, Again: true, Skip: plan.SkipFull}, want{kind: plan.KindFinalize, position: 6, weight: 1, weightIndex: 3}},
		// Prod that need not or cannot shift gradually.
		{"a first release moves at once", linear, plan.Start, plan.Facts{Direct: true}, want{kind: plan.KindFinalize, position: 6, weight: 1, weightIndex: 3}},
		// Every failure path rolls back: no routing left.
		{"a failed analysis rolls back", linear, 3, plan.Facts{Outcome: plan.Failed, Reason: "unhealthy at 50%"}, rollback("unhealthy at 50%")},
		{"a failure rolls back whatever an operator asked", linear, 3, plan.Facts{Outcome: plan.Failed, Skip: plan.SkipFull, Reason: "alarm"}, rollback("alarm")},
		{"a failure before the first weight rolls back", linear, plan.Start, plan.Facts{Outcome: plan.Failed, Reason: "probes failed"}, rollback("probes failed")},
		{"inconclusive and spent rolls back", linear, 3, plan.Facts{Outcome: plan.Inconclusive}, rollback("still inconclusive")},
		{"inconclusive outside an analysis rolls back", linear, 2, plan.Facts{Outcome: plan.Inconclusive, Again: true}, rollback("steps[2] (setWeight) is not an analysis")},
		{"a position past the plan rolls back", canary, 2, plan.Facts{}, rollback("position 2 is outside the plan's 2 steps")},
		{"a position before the start rolls back", canary, -2, plan.Facts{}, rollback("position -2 is outside")},
		// A pause holds the weight set before it.
		{"a passed analysis goes to the pause", withPause, 1, plan.Facts{}, want{kind: plan.KindPause, position: 2, weight: 0.1, weightIndex: 0}},
		{"a pause continued finalizes", withPause, 2, plan.Facts{}, want{kind: plan.KindFinalize, position: 3, weight: 1, weightIndex: 1}},
		{"promote on a pause continues it", withPause, 2, plan.Facts{Skip: plan.SkipStep}, want{kind: plan.KindFinalize, position: 3, weight: 1, weightIndex: 1}},
		{"a pause nobody continued rolls back", withPause, 2, plan.Facts{Outcome: plan.Failed, Reason: "nobody continued"}, rollback("nobody continued")},
		{"a pause is never inconclusive", withPause, 2, plan.Facts{Outcome: plan.Inconclusive, Again: true}, rollback("steps[2] (pause) is not an analysis")},
		{"a pause first holds weight 0", pauseFirst, plan.Start, plan.Facts{}, want{kind: plan.KindPause, position: 0, weight: 0, weightIndex: -1}},
		// A window is a step like a pause; whether it is open is the
		// shift's to say (plan.Window.Opens).
		{"a window first", windowFirst, plan.Start, plan.Facts{}, want{kind: plan.KindWindow, position: 0, weight: 0, weightIndex: -1}},
		{"past a window, the weight", windowFirst, 0, plan.Facts{}, want{kind: plan.KindSetWeight, position: 1, weight: 0.1, weightIndex: 0}},
		{"break-glass past a closed window", windowFirst, 0, plan.Facts{Skip: plan.SkipStep}, want{kind: plan.KindSetWeight, position: 1, weight: 0.1, weightIndex: 0}},
		{"a warm first holds weight 0", withWarm, plan.Start, plan.Facts{}, want{kind: plan.KindWarm, position: 0, weight: 0, weightIndex: -1}},
		{"past a warm, its weight", withWarm, 0, plan.Facts{}, want{kind: plan.KindSetWeight, position: 1, weight: 0.1, weightIndex: 0}},
		{"a warm that failed rolls back", withWarm, 0, plan.Facts{Outcome: plan.Failed, Reason: "provisioned concurrency FAILED"}, rollback("provisioned concurrency FAILED")},
		{"a step with no kind rolls back", broken, plan.Start, plan.Facts{}, rollback("steps[0] sets no kind or several")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := plan.Next(tc.p, tc.at, tc.f)
			got := want{kind: d.Kind, position: d.Position, weight: d.Weight, weightIndex: d.WeightIndex, again: d.Again}
			w := tc.want
			w.reason = ""
			if got != w {
				t.Errorf("Next(%s, %d, %+v) = %+v, want %+v", tc.p, tc.at, tc.f, d, tc.want)
			}
			if !strings.Contains(d.Reason, tc.want.reason) {
				t.Errorf("Next(…).Reason = %q, want it to contain %q", d.Reason, tc.want.reason)
			}
			if d.Kind == plan.KindRollback && d.Weight != 0 {
				t.Errorf("a rollback leaves weight %v on the new version, want 0", d.Weight)
			}
			if k := d.Kind; k != plan.KindFinalize && k != plan.KindRollback && d.Step.Kind() != k {
				t.Errorf("Next(…).Step is a %q step, want the %q step it decides", d.Step.Kind(), k)
			}
		})
	}
}

// TestNextWalksEveryPreset follows each preset from the start with every
// step passing and checks it meets each weight in order, then finalizes.
func TestNextWalksEveryPreset(t *testing.T) {
	for _, s := range []config.StrategyConfig{
		{Type: config.AllAtOnce},
		{Type: config.Canary, Percent: 5, BakeSeconds: 60},
		{Type: config.Linear, Percent: 10, IntervalSeconds: 60},
	} {
		t.Run(string(s.Type), func(t *testing.T) {
			p := s.Plan(health())
			var weights []float64
			at := plan.Start
			for range 2*len(p.Steps) + 1 {
				d := plan.Next(p, at, plan.Facts{})
				if d.Kind == plan.KindFinalize || d.Kind == plan.KindRollback {
					if d.Kind != plan.KindFinalize {
						t.Fatalf("walk ended in %s: %s", d.Kind, d.Reason)
					}
					break
				}
				if d.Kind == plan.KindSetWeight {
					weights = append(weights, d.Weight)
				}
				at = d.Position
			}
			want := p.Weights()
			if len(weights) != len(want) {
				t.Fatalf("walk set %v, want the %d weights of %s", weights, len(want), p)
			}
			for i := range want {
				if weights[i] != want[i].Weight {
					t.Errorf("weight %d = %v, want %v", i, weights[i], want[i].Weight)
				}
			}
		})
	}
}

func TestAt(t *testing.T) {
	canary := config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 300}.Plan(health())
	for _, tc := range []struct {
		name string
		at   int
		kind plan.Kind
	}{{"the analysis", 1, plan.KindAnalysis}, {"past the plan", 2, plan.KindRollback}, {"before it", -1, plan.KindRollback}} {
		t.Run(tc.name, func(t *testing.T) {
			if d := plan.At(canary, tc.at); d.Kind != tc.kind || (d.Kind == plan.KindRollback && d.Weight != 0) {
				t.Errorf("At(%d) = %+v, want a %s", tc.at, d, tc.kind)
			}
		})
	}
}
