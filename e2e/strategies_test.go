package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// TestHappyPath promotes version 2 of hello through each strategy: smoke
// tests pass, an approver approves through the e-mailed link (or an
// operator through the CLI), prod moves through the strategy's weights
// while users call it, and ends on version 2 with no routing.
func TestHappyPath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		strategy config.StrategyConfig
		// weights prod passes through before it is finalized.
		weights []float64
		// viaCLI approves with `aliasflow approve` instead of the link.
		viaCLI bool
	}{
		{name: "all-at-once", strategy: config.StrategyConfig{Type: config.AllAtOnce}},
		{name: "canary", strategy: config.StrategyConfig{Type: config.Canary, Percent: 25, BakeSeconds: 2}, weights: []float64{0.25}, viaCLI: true},
		{name: "linear", strategy: config.StrategyConfig{Type: config.Linear, Percent: 40, IntervalSeconds: 1}, weights: []float64{0.4, 0.8}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newScenario(t, func(tg *config.Target) { tg.Strategy = c.strategy })
			s.wantAliases("1", "1")

			p := s.merge(helloV2, "c0ffee2")
			by := approver
			if c.viaCLI {
				s.approvalEmail(p, approver) // approval was asked for
				s.waitWaiting(p, "RequestApproval")
				code, out, errOut := s.cli("approve", p.name, "--comment", "ship it")
				if code != 0 {
					t.Fatalf("aliasflow approve %s: exit %d\n%s%s", p.name, code, out, errOut)
				}
				by = "arn:aws:iam::000000000000:user/test"
			} else {
				s.approveByLink(p, approver)
			}
			var split map[string]int
			if len(c.weights) > 0 {
				s.waitWaiting(p, "Bake")
				tr := s.generate("/production/")
				s.waitDone(p, stepTimeout)
				split = tr.Stop()
			}
			out := s.waitDone(p, stepTimeout)
			s.wantExecution(out, sfntypes.ExecutionStatusSucceeded, "")
			s.wantAliases("2", "2")
			if got := s.versions(); strings.Join(got, ",") != "$LATEST,1,2" {
				t.Errorf("versions of hello: %v, want $LATEST,1,2", got)
			}
			if len(c.weights) > 0 && (split["1"] == 0 || split["2"] == 0 || split["error"] > 0) {
				t.Errorf("prod traffic during the shift: %v, want answers from versions 1 and 2 and no errors", split)
			}

			want := []string{
				"release.published →2",
				"alias.moved stg 1→2",
				"smoke.passed stg →2",
				"approval.requested →2",
				"approval.granted →2 by " + by,
			}
			states := []string{"SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps"}
			for _, w := range c.weights {
				want = append(want, fmt.Sprintf("traffic.shifted prod 1→2 @%g", w))
				states = append(states, "SetWeight", "Bake", "CheckHealth", "MoreSteps")
			}
			want = append(want, "alias.moved prod 1→2", "promotion.completed prod 1→2")
			states = append(states, "Finalize", "Completed")
			recs := s.wantAudit(want...)
			s.wantStates(p, states...)

			// `aliasflow history` reads the same trail, newest first.
			code, hout, errOut := s.cli("--json", "history", fn)
			var hist struct{ Records []audit.Record }
			if code != 0 || json.Unmarshal([]byte(hout), &hist) != nil {
				t.Fatalf("aliasflow --json history %s: exit %d\n%s%s", fn, code, hout, errOut)
			}
			var got []string
			for i := len(hist.Records) - 1; i >= 0; i-- {
				got = append(got, describe(hist.Records[i]))
			}
			if len(recs) == len(want) && !slices.Equal(got, want) {
				t.Errorf("aliasflow history %s, oldest first:\n  %s\nwant:\n  %s", fn, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}
