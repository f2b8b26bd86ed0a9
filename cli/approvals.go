package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/cli/progress"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// countApprovals says, on a promotion waiting for more than one approval
// (approval.required), where the count stands: "awaiting approval, 1 of 2
// approvals (…)". The approval Lambda audits each approval before the
// last as approval.counted (the last is approval.granted), so the count
// is the distinct actors of those records for the execution. Without the
// trail (known false: an approver may not read it) it says how many are
// required.
func countApprovals(p *progress.Progress, recs []audit.Record, known bool) {
	if p.State != promotion.StateRequestApproval {
		return
	}
	required := p.Promotion.Target.Approval.RequiredApprovals()
	if required <= 1 {
		return
	}
	text := fmt.Sprintf("%d approvals required", required)
	if known {
		actors := map[string]bool{}
		for _, r := range recs {
			if r.Event == audit.ApprovalCounted && r.Execution == p.Execution {
				actors[r.Actor] = true
			}
		}
		text = fmt.Sprintf("%d of %d approvals", min(len(actors), required), required)
	}
	p.Gate = strings.Replace(p.Gate, "awaiting approval", "awaiting approval, "+text, 1)
}

// approvalsRefresh bounds how often watch reads the trail for the count:
// CloudWatch Logs' FilterLogEvents allows few calls a second per account.
const approvalsRefresh = 30 * time.Second

// trailRead is one read of a function's trail for the count.
type trailRead struct {
	at    time.Time
	recs  []audit.Record
	known bool
}

// countApprovalsCached is countApprovals for watch: the trail is read at
// most every approvalsRefresh per execution.
func (a *app) countApprovalsCached(ctx context.Context, p *progress.Progress) {
	if p.State != promotion.StateRequestApproval || p.Promotion.Target.Approval.RequiredApprovals() <= 1 {
		return
	}
	if a.trailReads == nil {
		a.trailReads = map[string]trailRead{}
	}
	now := a.env.Now()
	r, ok := a.trailReads[p.Execution]
	if !ok || now.Sub(r.at) >= approvalsRefresh {
		recs, err := a.readAudit(ctx, p.Function, p.Entered.Add(-time.Minute))
		r = trailRead{at: now, recs: recs, known: err == nil}
		a.trailReads[p.Execution] = r
	}
	countApprovals(p, r.recs, r.known)
}
