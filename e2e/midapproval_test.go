package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// TestSecondApprovalByLink (issue 20): a canary at 10 % with an approval
// step before 100 % e-mails the step's approver a signed link once prod
// holds at the step — the same kind of link as the approval at the
// start, the e-mail naming the step. Deciding through its page moves prod
// to 100 % (approved) or rolls it back (rejected), each decision audited
// once with the approver the link verified.
func TestSecondApprovalByLink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		decision  string
		status    sfntypes.ExecutionStatus
		errName   string
		prod      string
		lastAudit []string
	}{
		{name: "approved", decision: "approve", status: sfntypes.ExecutionStatusSucceeded, prod: "2",
			lastAudit: []string{"approval.granted prod 1→2 @0.1 by " + oncall, "alias.moved prod 1→2", "promotion.completed prod 1→2"}},
		{name: "rejected", decision: "reject", status: sfntypes.ExecutionStatusFailed, errName: promotion.StateRolledBack, prod: "1",
			lastAudit: []string{"alias.moved prod 2→1 @0", "promotion.rolled_back prod 2→1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newScenario(t, func(tg *config.Target) {
				tg.Strategy = config.StrategyConfig{Type: config.Steps, Steps: []plan.Step{
					{SetWeight: &plan.SetWeight{Weight: 0.1}}, {Analysis: &plan.Analysis{BakeSeconds: 2}},
					{Approval: &plan.Approval{Approvers: []string{oncall}}}}}
			})
			p := s.merge(helloV2, "c0ffee2")
			s.approveByLink(p, approver)
			s.waitWaiting(p, promotion.StateBake)
			tr := s.generate("/production/")
			s.waitWaiting(p, promotion.StatePause)
			var step email
			for _, m := range s.world().Emails() {
				if m.To == oncall && strings.Contains(m.Subject, "Second approval") && linkExecution(linkPattern.FindString(m.Body)) == p.arn {
					step = m
				}
			}
			if step.Body == "" {
				t.Fatalf("no second-approval e-mail to %s among %d e-mails", oncall, len(s.world().Emails()))
			}
			if !strings.Contains(step.Body, "second approval before 100 % — prod at 10 % for 2 seconds") {
				t.Errorf("the step's e-mail does not name the step:\n%s", step.Body)
			}
			link := linkPattern.FindString(step.Body)
			if code, page := s.openLink(link); code != http.StatusOK || !strings.Contains(page, "second approval before 100 %") {
				t.Fatalf("GET the step's page: status %d, want 200 naming the step:\n%s", code, page)
			}
			if code, page := s.decideByLink(link, tc.decision, "canary looks fine"); code != http.StatusOK {
				t.Fatalf("POST %s: status %d, want 200:\n%s", tc.decision, code, page)
			}
			res := s.waitDone(p, stepTimeout)
			tr.Stop()
			s.wantExecution(res, tc.status, tc.errName)
			s.wantAliases("2", tc.prod)
			want := []string{"release.published →2", "alias.moved stg 1→2", "smoke.passed stg →2", "approval.requested →2",
				"approval.granted →2 by " + approver, "traffic.shifted prod 1→2 @0.1", "approval.requested prod 1→2 @0.1"}
			s.wantAudit(append(want, tc.lastAudit...)...)
		})
	}
}
