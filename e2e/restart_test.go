package e2e

import (
	"testing"

	"github.com/aliasflow/aliasflow/shared/config"
)

// TestRestartWhileWaitingForApproval restarts `aliasflow local` with its
// state directory while a promotion waits for approval: versions, aliases,
// the execution, its task token and the link key survive, so the link
// e-mailed before the restart approves it and the canary completes.
func TestRestartWhileWaitingForApproval(t *testing.T) {
	t.Parallel()
	s := startScenario(t, func(tg *config.Target) {
		tg.Strategy = config.StrategyConfig{Type: config.Canary, Percent: 50, BakeSeconds: 1}
	}, t.TempDir())
	p := s.merge(helloV2, "c0ffee2")
	link := s.approvalLink(p, approver)
	// Restarted while the approval is awaited: the request has returned.
	// (A restart while the request is still e-mailing runs it again — as
	// Step Functions retries a failed call — and an attempt cut off without
	// a trace may e-mail again; see shared/approval's request.)
	s.waitRequested(p)

	s.restart()
	s.wantAliases("2", "1")
	if got := s.versions(); len(got) != 3 {
		t.Errorf("versions of hello after the restart: %v, want $LATEST,1,2", got)
	}
	s.waitWaiting(p, "RequestApproval")
	if status, body := s.decideByLink(link, "approve", "approved after a restart"); status != 200 {
		t.Fatalf("approve with the link e-mailed before the restart: status %d:\n%s", status, body)
	}
	out := s.waitDone(p, stepTimeout)

	s.wantCanaryOneToTwo(p, out)
}
