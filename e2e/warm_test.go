package e2e

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// warmSteps warms the new version with 3 provisioned concurrency before a
// canary of 10 % (issue 20: warm → setWeight 10 → analysis → 100 %).
func warmSteps(tg *config.Target) {
	tg.Strategy = config.StrategyConfig{Type: config.Steps, Steps: []plan.Step{
		{Warm: &plan.Warm{ProvisionedConcurrency: 3, TimeoutSeconds: 60}},
		{SetWeight: &plan.SetWeight{Weight: 0.1}},
		{Analysis: &plan.Analysis{BakeSeconds: 2}},
	}}
}

// TestWarmBeforeTheFirstWeight (issue 20): the promotion puts provisioned
// concurrency on the new version, waits in WarmWait while Lambda reports
// it IN_PROGRESS, and sets the first weight only once it is READY; past
// 100 % it stays on the new version, which then serves all of prod.
func TestWarmBeforeTheFirstWeight(t *testing.T) {
	t.Parallel()
	s := newScenario(t, warmSteps)
	s.wantAliases("1", "1")
	p := s.merge(helloV2, "c0ffee2")
	s.approveByLink(p, approver)
	s.waitWaiting(p, promotion.StateBake)
	tr := s.generate("/production/")
	res := s.waitDone(p, stepTimeout)
	split := tr.Stop()
	s.wantExecution(res, sfntypes.ExecutionStatusSucceeded, "")
	if split["2"] == 0 || split["error"] > 0 {
		t.Errorf("prod traffic at 10%%: %v, want answers from version 2 and no errors", split)
	}
	s.wantAliases("2", "2")

	pc, err := s.world().Sandbox().Lambda().GetProvisionedConcurrencyConfig(fn, "2")
	if err != nil {
		t.Fatalf("provisioned concurrency on version 2 after the promotion: %v", err)
	}
	if pc.Status != lambdasvc.ProvisionedReady || pc.AllocatedProvisionedConcurrentExecutions != 3 {
		t.Errorf("provisioned concurrency on version 2 = %s with %d allocated, want READY with 3 (it stays past 100%%)", pc.Status, pc.AllocatedProvisionedConcurrentExecutions)
	}
	got, err := s.enteredStates(p.arn)
	if err != nil {
		t.Fatal(err)
	}
	begin, set := slices.Index(got, promotion.StateBeginShift), slices.Index(got, promotion.StateSetWeight)
	if begin < 0 || set < 0 {
		t.Fatalf("execution %s entered %s: no BeginShift or no SetWeight", p.name, strings.Join(got, " → "))
	}
	warming := got[begin+1 : set]
	if want := []string{"HasSteps", "Warm", "MoreSteps", "WarmWait", "Warm"}; len(warming) < len(want) || !slices.Equal(warming[:len(want)], want) ||
		warming[len(warming)-1] != "MoreSteps" || slices.Contains(warming, "Pause") {
		t.Errorf("between BeginShift and SetWeight the execution entered %s, want Warm, then WarmWait and Warm until READY, then MoreSteps",
			strings.Join(warming, " → "))
	}
	// The weight was set only once the allocation was READY: after the
	// configuration's LastModified plus the sandbox's allocation time.
	ready, err := time.Parse("2006-01-02T15:04:05.000-0700", pc.LastModified)
	if err != nil {
		t.Fatal(err)
	}
	ready = ready.Add(lambdasvc.DefaultProvisionDuration)
	hist, err := s.history(p.arn)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range hist {
		if ev.StateEnteredEventDetails != nil && *ev.StateEnteredEventDetails.Name == promotion.StateSetWeight {
			if ev.Timestamp.Before(ready) {
				t.Errorf("SetWeight entered at %s, before the provisioned concurrency was READY at %s", ev.Timestamp.Format(time.RFC3339Nano), ready.Format(time.RFC3339Nano))
			}
			break
		}
	}
}

// TestWarmFailureRollsBack (issue 20): an allocation that ends FAILED
// rolls the promotion back before any traffic reaches the new version,
// and the rollback removes the provisioned concurrency aliasflow put.
func TestWarmFailureRollsBack(t *testing.T) {
	t.Parallel()
	s := newScenario(t, warmSteps)
	s.wantAliases("1", "1")
	if err := s.world().Sandbox().Lambda().FailProvisioning(fn, "FUNCTION_ERROR_INIT_FAILURE"); err != nil {
		t.Fatal(err)
	}
	watch := s.watchAliases()
	p := s.merge(helloV2, "c0ffee2")
	s.approveByLink(p, approver)
	res := s.waitDone(p, stepTimeout)
	s.wantExecution(res, sfntypes.ExecutionStatusFailed, promotion.StateRolledBack)
	if got := s.alias("prod"); got.version != "1" || len(got.weights) != 0 {
		t.Errorf("prod after the rollback = %s, want 1 with no routing", got)
	}
	watch.mu.Lock()
	moves := slices.Clone(watch.moves)
	watch.mu.Unlock()
	for _, m := range moves {
		if strings.Contains(m, " prod ") {
			t.Errorf("prod moved during a failed warm (%s): no traffic may reach an unwarmed version", m)
		}
	}
	_, err := s.world().Sandbox().Lambda().GetProvisionedConcurrencyConfig(fn, "2")
	var ae *core.APIError
	if !errors.As(err, &ae) || ae.Code != "ProvisionedConcurrencyConfigNotFoundException" {
		t.Errorf("provisioned concurrency on version 2 after the rollback: %v, want none (the rollback removes it)", err)
	}
	got, err := s.enteredStates(p.arn)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(got, promotion.StateSetWeight) || !slices.Contains(got, promotion.StateWarm) {
		t.Errorf("execution %s entered %s, want Warm and no SetWeight", p.name, strings.Join(got, " → "))
	}
}
