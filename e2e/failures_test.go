package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// TestSmokeFailure releases a version that fails every call: the smoke
// tests fail, stg goes back to the version it served, nobody is asked for
// approval and prod never moves.
func TestSmokeFailure(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	prod := s.generate("/production/")
	p := s.merge(helloFails, "badc0de")
	out := s.waitDone(p, stepTimeout)
	split := prod.Stop()

	s.wantExecution(out, sfntypes.ExecutionStatusFailed, "SmokeTestsFailed")
	s.wantAliases("1", "1")
	s.wantStates(p, "SmokeTest", "SmokePassed", "RestoreStg", "SmokeTestsFailed")
	recs := s.wantAudit(
		"release.published →2",
		"alias.moved stg 1→2",
		"smoke.failed stg →2",
		"alias.moved stg 2→1",
	)
	if r := recs[2]; !strings.Contains(r.Reason, "invoke stg") || !strings.Contains(r.Reason, "GET /staging/") {
		t.Errorf("smoke.failed reason %q, want both failed checks named", r.Reason)
	}
	if n := len(s.world().Emails()); n != 0 {
		t.Errorf("%d approval e-mails sent for a release that failed its smoke tests, want none", n)
	}
	if split["1"] == 0 || len(split) != 1 {
		t.Errorf("prod traffic during the release: %v, want only version 1", split)
	}
}

// TestRejection rejects a release through the approval link: the promotion
// fails as Rejected, prod stays where it was, stg keeps the candidate, and
// the other approver's link can no longer decide.
func TestRejection(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	p := s.merge(helloV2, "c0ffee2")
	s.decide(p, oncall, "reject", "the greeting is wrong")
	out := s.waitDone(p, stepTimeout)

	s.wantExecution(out, sfntypes.ExecutionStatusFailed, "Rejected")
	s.wantAliases("2", "1")
	s.wantStates(p, "SmokeTest", "SmokePassed", "RequestApproval", "RecordRejection", "Rejected")
	recs := s.wantAudit(
		"release.published →2",
		"alias.moved stg 1→2",
		"smoke.passed stg →2",
		"approval.requested →2",
		"approval.rejected →2 by "+oncall,
	)
	if r := recs[len(recs)-1]; r.Reason != "the greeting is wrong" {
		t.Errorf("approval.rejected reason %q, want the approver's comment", r.Reason)
	}
	// The first decision counts: the other link is refused and moves nothing.
	if status, body := s.decideByLink(s.approvalLink(p, approver), "approve", ""); status == http.StatusOK {
		t.Errorf("approving after the rejection: status 200, want a refusal:\n%s", body)
	}
	s.wantAliases("2", "1")
}

// TestApprovalTimeout lets the approval wait expire: the promotion fails as
// ApprovalExpired and a late click on the link moves nothing.
func TestApprovalTimeout(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(tg *config.Target) { tg.ApprovalTimeoutSeconds = 3 })
	p := s.merge(helloV2, "c0ffee2")
	link := s.approvalLink(p, approver)
	out := s.waitDone(p, stepTimeout)

	s.wantExecution(out, sfntypes.ExecutionStatusFailed, "ApprovalExpired")
	s.wantAliases("2", "1")
	s.wantStates(p, "SmokeTest", "SmokePassed", "RequestApproval", "RecordExpiry", "ApprovalExpired")
	s.wantAudit(
		"release.published →2",
		"alias.moved stg 1→2",
		"smoke.passed stg →2",
		"approval.requested →2",
		"approval.expired →2",
	)
	if status, body := s.decideByLink(link, "approve", ""); status == http.StatusOK {
		t.Errorf("approving after the approval expired: status 200, want a refusal:\n%s", body)
	}
	s.wantAliases("2", "1")
	events, err := s.history(p.arn)
	if err != nil {
		t.Fatal(err)
	}
	timedOut := false
	for _, e := range events {
		timedOut = timedOut || e.Type == sfntypes.HistoryEventTypeTaskTimedOut
	}
	if !timedOut {
		t.Errorf("history of %s has no TaskTimedOut event for the approval wait", p.name)
	}
}

// TestAlarmDuringCanary fires the prod alarm while the canary bakes: the
// health check fails and prod goes back to the stable version, with no
// routing left behind.
func TestAlarmDuringCanary(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(tg *config.Target) {
		tg.Strategy = config.StrategyConfig{Type: config.Canary, Percent: 50, BakeSeconds: 3}
	})
	p := s.merge(helloV2, "c0ffee2")
	s.approveByLink(p, approver)
	s.waitWaiting(p, "Bake")
	// The task is open as soon as the shift Lambda runs; the weight lands
	// a moment later.
	eventually(t, stepTimeout, func() error {
		if got := s.alias("prod"); got.version != "1" || got.weights["2"] != 0.5 {
			return fmt.Errorf("prod during the canary → %s, want 1 + 2@0.5", got)
		}
		return nil
	})
	tr := s.generate("/production/")
	s.setAlarm(prodAlarm, cwtypes.StateValueAlarm, "e2e: users report errors")
	out := s.waitDone(p, stepTimeout)
	split := tr.Stop()

	s.wantExecution(out, sfntypes.ExecutionStatusFailed, "RolledBack")
	s.wantAliases("2", "1")
	s.wantStates(p, "SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps",
		"SetWeight", "Bake", "CheckHealth", "Rollback", "RolledBack")
	recs := s.wantAudit(
		"release.published →2",
		"alias.moved stg 1→2",
		"smoke.passed stg →2",
		"approval.requested →2",
		"approval.granted →2 by "+approver,
		"traffic.shifted prod 1→2 @0.5",
		"health.failed prod 1→2 @0.5",
		"alias.moved prod 2→1 @0",
		"promotion.rolled_back prod 2→1",
	)
	if r := find(recs, audit.HealthFailed); r == nil || !strings.Contains(r.Reason, prodAlarm) {
		t.Errorf("health.failed record %+v, want the alarm %s named", r, prodAlarm)
	}
	if split["2"] == 0 {
		t.Errorf("prod traffic during the canary: %v, want some answers from version 2", split)
	}
	if got := s.get("/production/"); got != "1" {
		t.Errorf("/production/ after the rollback answered version %s, want 1", got)
	}
}

// TestErrorRateRollback releases a version that fails half its calls. It
// gets through the smoke tests (they retry a 5xx; hello spreads its
// failures evenly, so a retried check passes every time), but the error
// rate the canary shows under real traffic rolls it back.
func TestErrorRateRollback(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(tg *config.Target) {
		tg.Strategy = config.StrategyConfig{Type: config.Canary, Percent: 50, BakeSeconds: 3}
		// Only the HTTP check, retried: a flaky version passes it.
		tg.SmokeChecks = tg.SmokeChecks[1:]
		tg.SmokeRetries = 10
		// No alarm: the error rate alone must catch it.
		tg.Health.Alarms = nil
	})
	p := s.merge(helloFlaky, "f1a4e00")
	s.approveByLink(p, approver)
	s.waitWaiting(p, "Bake")
	tr := s.generate("/production/")
	out := s.waitDone(p, stepTimeout)
	split := tr.Stop()

	s.wantExecution(out, sfntypes.ExecutionStatusFailed, "RolledBack")
	s.wantAliases("2", "1")
	s.wantStates(p, "SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps",
		"SetWeight", "Bake", "CheckHealth", "Rollback", "RolledBack")
	recs := s.wantAudit(
		"release.published →2",
		"alias.moved stg 1→2",
		"smoke.passed stg →2",
		"approval.requested →2",
		"approval.granted →2 by "+approver,
		"traffic.shifted prod 1→2 @0.5",
		"health.failed prod 1→2 @0.5",
		"alias.moved prod 2→1 @0",
		"promotion.rolled_back prod 2→1",
	)
	if r := find(recs, audit.HealthFailed); r == nil || !strings.Contains(r.Reason, "error rate") {
		t.Errorf("health.failed record %+v, want the error rate named", r)
	}
	if split["error"] == 0 {
		t.Errorf("prod traffic during the canary: %v, want errors from version 2", split)
	}
}

// find returns the first record of an event.
func find(recs []audit.Record, ev audit.Event) *audit.Record {
	for i := range recs {
		if recs[i].Event == ev {
			return &recs[i]
		}
	}
	return nil
}

// TestProbesStopABrokenVersionBeforeAnyTraffic releases the version that
// fails half its calls to a target judged by probes alone (no fresh log
// signal, no user traffic at all): BeginShift's probes of the new and the
// stable version at 0 % show it failing, so the promotion aborts before prod
// sends it a single request — through the shift role's own grant to invoke
// the targets' versions, evaluated by the sandbox's IAM.
func TestProbesStopABrokenVersionBeforeAnyTraffic(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(tg *config.Target) {
		tg.Strategy = config.StrategyConfig{Type: config.Canary, Percent: 50, BakeSeconds: 3}
		tg.SmokeChecks = tg.SmokeChecks[1:]
		tg.SmokeRetries = 10
		tg.Health.Alarms = nil
		tg.Health.FreshSignal, tg.Health.LogRuntime = "", ""
		tg.Health.OnInconclusive = config.OnInconclusiveRollback
		tg.Health.Probes = 20
		tg.Health.ProbePayload = json.RawMessage(`{"httpMethod":"GET","path":"/","requestContext":{"stage":"production"}}`)
	})
	p := s.merge(helloFlaky, "f1a4e00")
	s.approveByLink(p, approver)
	out := s.waitDone(p, stepTimeout)

	s.wantExecution(out, sfntypes.ExecutionStatusFailed, "Aborted")
	s.wantAliases("2", "1")
	recs := s.wantAudit(
		"release.published →2",
		"alias.moved stg 1→2",
		"smoke.passed stg →2",
		"approval.requested →2",
		"approval.granted →2 by "+approver,
		"promotion.aborted prod →2",
	)
	if r := find(recs, audit.TrafficShifted); r != nil {
		t.Errorf("traffic shifted to a version that failed its probes: %+v", r)
	}
	if r := find(recs, audit.PromotionAborted); r == nil || !strings.Contains(r.Reason, "probes") {
		t.Errorf("promotion.aborted record %+v, want the probes named", r)
	}
}
