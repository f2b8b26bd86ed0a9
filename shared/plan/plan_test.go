package plan_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// health is a target's health settings with the defaults applied.
func health() config.Health {
	t := config.Target{Health: config.Health{MaxErrorRate: 0.02, MinInvocations: 50}}
	t.ApplyDefaults()
	return t.Health
}

// TestPresetsAreTodaysSteps: the presets make, from today's settings,
// exactly the weights and bakes promotion.Plan gives the execution input,
// each weight judged by one analysis with the target's health criteria.
func TestPresetsAreTodaysSteps(t *testing.T) {
	tests := []struct {
		name string
		s    config.StrategyConfig
	}{
		{"all at once", config.StrategyConfig{Type: config.AllAtOnce}},
		{"default strategy", config.StrategyConfig{}},
		{"canary 10% for 5m", config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 300}},
		{"canary 99%", config.StrategyConfig{Type: config.Canary, Percent: 99, BakeSeconds: 1}},
		{"linear 25%", config.StrategyConfig{Type: config.Linear, Percent: 25, IntervalSeconds: 60}},
		{"linear 30% stops below 100", config.StrategyConfig{Type: config.Linear, Percent: 30, IntervalSeconds: 5}},
		{"linear 50%", config.StrategyConfig{Type: config.Linear, Percent: 50, IntervalSeconds: 1}},
		{"linear 1%", config.StrategyConfig{Type: config.Linear, Percent: 1, IntervalSeconds: 600}},
	}
	h := health()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.s.Plan(h)
			today := promotion.Plan(tc.s)
			got := p.Weights()
			if len(got) != len(today) {
				t.Fatalf("Preset(%+v) has %d weights (%s), promotion.Plan %d (%v)", tc.s, len(got), p, len(today), today)
			}
			for i := range today {
				if got[i].Weight != today[i].Weight || got[i].BakeSeconds != today[i].BakeSeconds {
					t.Errorf("weight %d = %+v, promotion.Plan's = %+v", i, got[i], today[i])
				}
			}
			if len(p.Steps) != 2*len(today) {
				t.Errorf("Preset(%+v) has %d steps, want a weight and an analysis for each of %d", tc.s, len(p.Steps), len(today))
			}
			for i, s := range p.Steps {
				if s.Kind() != plan.KindAnalysis {
					continue
				}
				want := plan.Analysis{BakeSeconds: s.Analysis.BakeSeconds, Test: plan.TestBinomial, MaxErrorRate: h.MaxErrorRate, MinInvocations: h.MinInvocations}
				if *s.Analysis != want {
					t.Errorf("steps[%d] = %+v, want %+v", i, *s.Analysis, want)
				}
			}
			// An execution's input carries the weights (Input.Steps) and
			// the target; the plan it reads back is the preset.
			target := config.Target{Strategy: tc.s, Health: config.Health{MaxErrorRate: 0.02, MinInvocations: 50}}
			in := promotion.Input{Target: target, Steps: today}
			if back := in.Rollout(); !reflect.DeepEqual(back, p) {
				t.Errorf("Input.Rollout() = %s %+v, want the preset %s", back, back, p)
			}
			if err := plan.Validate(p); err != nil {
				t.Errorf("Validate(preset %+v) = %v, want nil", tc.s, err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	weight := func(w float64) plan.Step { return plan.Step{SetWeight: &plan.SetWeight{Weight: w}} }
	analysis := func(bake int) plan.Step {
		return plan.Step{Analysis: &plan.Analysis{BakeSeconds: bake, Test: plan.TestBinomial, MaxErrorRate: 0.01, MinInvocations: 10}}
	}
	tests := []struct {
		name  string
		steps []plan.Step
		want  string // "" when valid; else a part of the error
	}{
		{"empty is all at once", nil, ""},
		{"two weights judged", []plan.Step{weight(0.1), analysis(60), weight(0.5), analysis(60)}, ""},
		{"no kind", []plan.Step{{}}, "steps[0]: must set exactly one of"},
		{"two kinds in one step", []plan.Step{{SetWeight: &plan.SetWeight{Weight: 0.1}, Pause: &plan.Pause{}}}, "steps[0]: must set exactly one of"},
		{"weight 0", []plan.Step{weight(0), analysis(60)}, "steps[0]: setWeight.weight 0 must be between 0 and 1"},
		{"weight 1", []plan.Step{weight(1), analysis(60)}, "setWeight.weight 1 must be between 0 and 1"},
		{"weight going down", []plan.Step{weight(0.5), analysis(60), weight(0.2), analysis(60)}, "steps[2]: setWeight.weight 0.2 must be above the previous weight 0.5"},
		{"weight nobody judges", []plan.Step{weight(0.5)}, "steps[0]: setWeight must be followed by an analysis"},
		{"analysis first", []plan.Step{analysis(60)}, "steps[0]: analysis must follow a setWeight"},
		{"analysis without bake", []plan.Step{weight(0.1), analysis(0)}, "steps[1]: analysis.bakeSeconds must be 1–86400"},
		{"analysis with another test", []plan.Step{weight(0.1), {Analysis: &plan.Analysis{BakeSeconds: 1, Test: "t-test", MinInvocations: 1}}}, `analysis.test must be "binomial"`},
		{"analysis without invocations", []plan.Step{weight(0.1), {Analysis: &plan.Analysis{BakeSeconds: 1, Test: plan.TestBinomial}}}, "analysis.minInvocations must be at least 1"},
		{"pause until continued", []plan.Step{weight(0.1), analysis(60), {Pause: &plan.Pause{}}}, ""},
		{"pause before the first weight", []plan.Step{{Pause: &plan.Pause{Seconds: 600}}, weight(0.1), analysis(60)}, ""},
		{"pause for a negative time", []plan.Step{{Pause: &plan.Pause{Seconds: -1}}}, "steps[0]: pause.seconds must be 0 (until continued) or 1–86400, got -1"},
		{"pause between a weight and its analysis", []plan.Step{weight(0.1), {Pause: &plan.Pause{}}, analysis(60)}, "steps[0]: setWeight must be followed by an analysis"},
		{"a second approval", []plan.Step{weight(0.1), analysis(60), {Approval: &plan.Approval{Approvers: []string{"a@example.com"}}}}, ""},
		{"an approval nobody can give", []plan.Step{{Approval: &plan.Approval{}}}, "steps[0]: approval.approvers must name at least one approver"},
		{"an approver who is no address", []plan.Step{{Approval: &plan.Approval{Approvers: []string{"alice"}}}}, `steps[0]: approval.approvers[0]: "alice" is not an approver's e-mail address`},
		{"warm before the first weight", []plan.Step{warm(5), weight(0.1), analysis(60)}, ""},
		{"warm before a later weight", []plan.Step{weight(0.1), analysis(60), warm(50), weight(0.5), analysis(60)}, ""},
		{"warm at the maximum", []plan.Step{warm(plan.MaxProvisionedConcurrency), weight(0.1), analysis(60)}, ""},
		{"warm nothing", []plan.Step{warm(0), weight(0.1), analysis(60)}, "steps[0]: warm.provisionedConcurrency must be 1–1000, got 0"},
		{"warm above the maximum", []plan.Step{warm(1001), weight(0.1), analysis(60)}, "steps[0]: warm.provisionedConcurrency must be 1–1000, got 1001"},
		{"warm with a timeout", []plan.Step{{Warm: &plan.Warm{ProvisionedConcurrency: 5, TimeoutSeconds: 3600}}, weight(0.1), analysis(60)}, ""},
		{"warm waiting more than an hour", []plan.Step{{Warm: &plan.Warm{ProvisionedConcurrency: 5, TimeoutSeconds: 3601}}, weight(0.1), analysis(60)}, "steps[0]: warm.timeoutSeconds must be 0 (the default, 600s) or 1–3600, got 3601"},
		{"warm as the last step", []plan.Step{weight(0.1), analysis(60), warm(5)}, "steps[2]: warm must be followed by a setWeight"},
		{"warm before a pause", []plan.Step{warm(5), {Pause: &plan.Pause{}}, weight(0.1), analysis(60)}, "steps[0]: warm must be followed by a setWeight"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := plan.Validate(plan.Plan{Steps: tc.steps})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		name string
		p    plan.Plan
		want string
	}{
		{"all at once", config.StrategyConfig{Type: config.AllAtOnce}.Plan(health()), "100%"},
		{"canary", config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 300}.Plan(health()), "10% → analysis 5m → 100%"},
		{"linear", config.StrategyConfig{Type: config.Linear, Percent: 40, IntervalSeconds: 90}.Plan(health()), "40% → analysis 90s → 80% → analysis 90s → 100%"},
		{"pause", plan.Plan{Steps: []plan.Step{{Pause: &plan.Pause{}}, {Pause: &plan.Pause{Seconds: 7200}}}}, "pause until continued → pause 2h → 100%"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAnalysisOf(t *testing.T) {
	p := config.StrategyConfig{Type: config.Linear, Percent: 30, IntervalSeconds: 5}.Plan(health())
	for _, tc := range []struct {
		name   string
		weight int
		want   int
	}{{"first", 0, 1}, {"second", 1, 3}, {"third", 2, 5}, {"past the last", 3, -1}, {"negative", -1, -1}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.AnalysisOf(tc.weight); got != tc.want {
				t.Errorf("AnalysisOf(%d) = %d, want %d", tc.weight, got, tc.want)
			}
		})
	}
}

func warm(n int) plan.Step { return plan.Step{Warm: &plan.Warm{ProvisionedConcurrency: n}} }
