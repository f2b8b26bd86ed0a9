package e2e

import (
	"strings"
	"testing"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
)

// TestBakeRoundsFitTheHistoryBudget holds the validator's history budget
// (config.EventsPerBake, EventsPerStep, BakeRounds) to what Step Functions
// really writes: a canary with no traffic bakes again round after round
// until health.maxBakeSeconds, then rolls back by its policy; every round
// of the real definition, run by the sandbox's interpreter (which ends an
// execution at 25,000 events, as Step Functions does), must add at most
// EventsPerBake events. If the definition grows a state inside the loop,
// this fails before a long promotion could run into the limit with prod
// left weighted.
func TestBakeRoundsFitTheHistoryBudget(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(tg *config.Target) {
		tg.Strategy = config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 2}
		tg.SmokeChecks = tg.SmokeChecks[1:]
		tg.Health.Alarms = nil
		tg.Health.OnInconclusive = config.OnInconclusiveRollback
		tg.Health.MaxBakeSeconds = 47 // 2 s, then three extensions of 15 s
	})
	p := s.merge(helloV2, "b0a4e00")
	s.approveByLink(p, approver)
	out := s.waitDone(p, stepTimeout)
	s.wantExecution(out, sfntypes.ExecutionStatusFailed, "RolledBack")

	events, err := s.history(p.arn)
	if err != nil {
		t.Fatal(err)
	}
	// A round runs from one CheckHealth's start to the next's.
	var checks []int
	for i, e := range events {
		if d := e.StateEnteredEventDetails; d != nil && *d.Name == "CheckHealth" {
			checks = append(checks, i)
		}
	}
	if len(checks) < 3 {
		t.Fatalf("CheckHealth entered %d times, want at least 3 rounds to measure", len(checks))
	}
	most := 0
	for i := 1; i < len(checks); i++ {
		n := checks[i] - checks[i-1]
		most = max(most, n)
		if n > config.EventsPerBake {
			t.Errorf("bake round %d added %d history events, more than config.EventsPerBake (%d): the validator's history budget is too small",
				i, n, config.EventsPerBake)
		}
	}
	t.Logf("%d bake rounds of at most %d events each (budget %d); %d events in all", len(checks)-1, most, config.EventsPerBake, len(events))
	recs, err := s.auditRecords()
	if err != nil {
		t.Fatal(err)
	}
	if r := find(recs, audit.HealthFailed); r == nil || !strings.Contains(r.Reason, "health.maxBakeSeconds") {
		t.Errorf("health.failed record %+v, want the bake limit named", r)
	}
}
