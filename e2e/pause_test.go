package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// TestPauseHeldUntilContinued (issue 20): a "steps" strategy pauses at
// 25 % once its analysis passed. Prod holds the weight, users served by
// both versions, until an operator's `aliasflow promote` continues the
// pause through the approval API — audited once, naming the IAM identity
// — and prod moves to 100 %.
func TestPauseHeldUntilContinued(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(tg *config.Target) {
		tg.Strategy = config.StrategyConfig{Type: config.Steps, Steps: []plan.Step{
			{SetWeight: &plan.SetWeight{Weight: 0.25}}, {Analysis: &plan.Analysis{BakeSeconds: 2}}, {Pause: &plan.Pause{}}}}
	})
	s.wantAliases("1", "1")
	p := s.merge(helloV2, "c0ffee2")
	s.approveByLink(p, approver)
	s.waitWaiting(p, promotion.StateBake)
	tr := s.generate("/production/")
	s.waitWaiting(p, promotion.StatePause)

	// Held: a while later prod still splits at 25 % and the execution
	// still waits in the Pause.
	time.Sleep(3 * time.Second)
	if got := s.alias("prod"); got.version != "1" || got.weights["2"] != 0.25 {
		t.Errorf("prod during the pause = %s, want 1 with 2 at 0.25", got)
	}
	s.waitWaiting(p, promotion.StatePause)
	code, st, errOut := s.cli("status", fn)
	if code != 0 || !strings.Contains(st, "paused at 25%, held: continue it with `aliasflow promote") {
		t.Errorf("aliasflow status %s: exit %d, want the pause named:\n%s%s", fn, code, st, errOut)
	}

	code, out, errOut := s.cli("promote", p.name, "--yes")
	if code != 0 || !strings.Contains(out, "continued the pause at 25% of "+p.name) {
		t.Fatalf("aliasflow promote %s: exit %d\n%s%s", p.name, code, out, errOut)
	}
	res := s.waitDone(p, stepTimeout)
	split := tr.Stop()
	s.wantExecution(res, sfntypes.ExecutionStatusSucceeded, "")
	s.wantAliases("2", "2")
	if split["1"] == 0 || split["2"] == 0 || split["error"] > 0 {
		t.Errorf("prod traffic during the pause: %v, want answers from versions 1 and 2 and no errors", split)
	}
	s.wantAudit(
		"release.published →2",
		"alias.moved stg 1→2",
		"smoke.passed stg →2",
		"approval.requested →2",
		"approval.granted →2 by "+approver,
		"traffic.shifted prod 1→2 @0.25",
		"pause.continued prod 1→2 @0.25 by arn:aws:iam::000000000000:user/test",
		"alias.moved prod 1→2",
		"promotion.completed prod 1→2",
	)
	// The analysis may bake again while its evidence is inconclusive
	// (Bake → CheckHealth → MoreSteps once more); the rest is fixed.
	got, err := s.enteredStates(p.arn)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for i := 0; i < len(got); i++ {
		if n := len(states); n >= 3 && slices.Equal(got[i:min(i+3, len(got))], []string{"Bake", "CheckHealth", "MoreSteps"}) &&
			slices.Equal(states[n-3:], []string{"Bake", "CheckHealth", "MoreSteps"}) {
			i += 2
			continue
		}
		states = append(states, got[i])
	}
	want := []string{"Mode", "SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps",
		"SetWeight", "Bake", "CheckHealth", "MoreSteps", "Pause", "Continue", "MoreSteps", "Finalize", "Completed"}
	if !slices.Equal(states, want) {
		t.Errorf("execution %s entered\n  %s\nwant (extensions of the analysis aside)\n  %s", p.name, strings.Join(got, " → "), strings.Join(want, " → "))
	}
}

// TestWindowDefersAndBreakGlass (issue 20): a deploy window whose freeze
// covers now holds the promotion before its first weight — prod untouched,
// the deferral audited with why — until an operator's `aliasflow promote`
// breaks the glass (audited once, naming the IAM identity); the canary
// then runs as usual.
func TestWindowDefersAndBreakGlass(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	s := newScenario(t, func(tg *config.Target) {
		tg.Strategy = config.StrategyConfig{Type: config.Steps, Steps: []plan.Step{
			{Window: &plan.Window{Freezes: []plan.Freeze{{Name: "launch", From: now.Add(-time.Hour), To: now.Add(24 * time.Hour)}}}},
			{SetWeight: &plan.SetWeight{Weight: 0.25}}, {Analysis: &plan.Analysis{BakeSeconds: 2}}}}
	})
	p := s.merge(helloV2, "c0ffee2")
	s.approveByLink(p, approver)
	s.waitWaiting(p, promotion.StatePause)
	if got := s.alias("prod"); got.version != "1" || len(got.weights) != 0 {
		t.Errorf("prod while the window is closed = %s, want 1 untouched", got)
	}
	code, st, errOut := s.cli("status", fn)
	if code != 0 || !strings.Contains(st, "held at 0% by the deploy window") {
		t.Errorf("aliasflow status %s: exit %d, want the window named:\n%s%s", fn, code, st, errOut)
	}

	code, out, errOut := s.cli("promote", p.name, "--yes")
	if code != 0 || !strings.Contains(out, "broke the glass: went past the closed deploy window at 0% of "+p.name) {
		t.Fatalf("aliasflow promote %s: exit %d\n%s%s", p.name, code, out, errOut)
	}
	s.waitWaiting(p, promotion.StateBake)
	tr := s.generate("/production/")
	res := s.waitDone(p, stepTimeout)
	tr.Stop()
	s.wantExecution(res, sfntypes.ExecutionStatusSucceeded, "")
	s.wantAliases("2", "2")
	recs := s.wantAudit(
		"release.published →2",
		"alias.moved stg 1→2",
		"smoke.passed stg →2",
		"approval.requested →2",
		"approval.granted →2 by "+approver,
		"window.deferred prod 1→2 @0",
		"window.overridden prod 1→2 @0 by arn:aws:iam::000000000000:user/test",
		"traffic.shifted prod 1→2 @0.25",
		"alias.moved prod 1→2",
		"promotion.completed prod 1→2",
	)
	for _, r := range recs {
		switch r.Event {
		case "window.deferred":
			if !strings.Contains(r.Reason, `freeze "launch" until`) {
				t.Errorf("window.deferred reason = %q, want the freeze named", r.Reason)
			}
		case "window.overridden":
			if !strings.Contains(r.Reason, "break-glass") {
				t.Errorf("window.overridden reason = %q, want break-glass", r.Reason)
			}
		}
	}
}

// TestOperatorPausesAndResumes (issue 20): `aliasflow pause` holds a
// canary at its weight — health judged first, the pause audited with the
// IAM identity — prod stays split while held, and `aliasflow resume`
// bakes the step again before prod moves to 100 %.
func TestOperatorPausesAndResumes(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(tg *config.Target) {
		tg.Strategy = config.StrategyConfig{Type: config.Canary, Percent: 25, BakeSeconds: 120}
	})
	p := s.merge(helloV2, "c0ffee2")
	s.approveByLink(p, approver)
	s.waitWaiting(p, promotion.StateBake)
	tr := s.generate("/production/")
	code, out, errOut := s.cli("pause", p.name, "--yes")
	if code != 0 || !strings.Contains(out, "paused "+p.name+" at 25%") {
		t.Fatalf("aliasflow pause %s: exit %d\n%s%s", p.name, code, out, errOut)
	}
	s.waitWaiting(p, promotion.StatePause)
	if got := s.alias("prod"); got.version != "1" || got.weights["2"] != 0.25 {
		t.Errorf("prod while paused = %s, want 1 with 2 at 0.25", got)
	}
	code, out, errOut = s.cli("resume", p.name, "--yes")
	if code != 0 || !strings.Contains(out, "resumed at 25% of "+p.name) {
		t.Fatalf("aliasflow resume %s: exit %d\n%s%s", p.name, code, out, errOut)
	}
	s.waitWaiting(p, promotion.StateBake)
	// The step bakes again; end it with a promote rather than wait.
	code, out, errOut = s.cli("promote", p.name, "--yes")
	if code != 0 {
		t.Fatalf("aliasflow promote %s: exit %d\n%s%s", p.name, code, out, errOut)
	}
	res := s.waitDone(p, stepTimeout)
	tr.Stop()
	s.wantExecution(res, sfntypes.ExecutionStatusSucceeded, "")
	s.wantAliases("2", "2")
	ops := "arn:aws:iam::000000000000:user/test"
	s.wantAudit(
		"release.published →2",
		"alias.moved stg 1→2",
		"smoke.passed stg →2",
		"approval.requested →2",
		"approval.granted →2 by "+approver,
		"traffic.shifted prod 1→2 @0.25",
		"promotion.paused prod 1→2 @0.25 by "+ops,
		"pause.continued prod 1→2 @0.25 by "+ops,
		"bake.skipped prod 1→2 @0.25 by "+ops,
		"alias.moved prod 1→2",
		"promotion.completed prod 1→2",
	)
}

// TestSecondApprovalBefore100 (issue 20): a steps plan asks for a second
// approval once its canary at 25 % passed. Prod holds at 25 % until one of
// the step's approvers approves with `aliasflow approve` as the IAM
// principal the settings map to them (audited with both); an operator's
// promote cannot pass it. Then prod moves to 100 %.
func TestSecondApprovalBefore100(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(tg *config.Target) {
		tg.Strategy = config.StrategyConfig{Type: config.Steps, Steps: []plan.Step{
			{SetWeight: &plan.SetWeight{Weight: 0.25}}, {Analysis: &plan.Analysis{BakeSeconds: 2}},
			{Approval: &plan.Approval{Approvers: []string{oncall}}}}}
	})
	p := s.merge(helloV2, "c0ffee2")
	s.approveByLink(p, approver)
	s.waitWaiting(p, promotion.StateBake)
	tr := s.generate("/production/")
	s.waitWaiting(p, promotion.StatePause)
	if got := s.alias("prod"); got.version != "1" || got.weights["2"] != 0.25 {
		t.Errorf("prod awaiting the second approval = %s, want 1 with 2 at 0.25", got)
	}
	if code, out, errOut := s.cli("promote", p.name, "--yes"); code == 0 {
		t.Errorf("aliasflow promote past an approval step: exit 0, want a refusal\n%s%s", out, errOut)
	}
	code, out, errOut := s.cli("approve", p.name, "--comment", "canary looks fine")
	if code != 0 {
		t.Fatalf("aliasflow approve %s: exit %d\n%s%s", p.name, code, out, errOut)
	}
	res := s.waitDone(p, stepTimeout)
	tr.Stop()
	s.wantExecution(res, sfntypes.ExecutionStatusSucceeded, "")
	s.wantAliases("2", "2")
	s.wantAudit(
		"release.published →2",
		"alias.moved stg 1→2",
		"smoke.passed stg →2",
		"approval.requested →2",
		"approval.granted →2 by "+approver,
		"traffic.shifted prod 1→2 @0.25",
		"approval.requested prod 1→2 @0.25",
		"approval.granted prod 1→2 @0.25 by arn:aws:iam::000000000000:user/test",
		"alias.moved prod 1→2",
		"promotion.completed prod 1→2",
	)
}
