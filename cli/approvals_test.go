package cli_test

import (
	"testing"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/progress"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// TestCountApprovals: status and watch say where the count of a promotion
// needing two approvals stands ("1 of 2 approvals"), from the
// approval.counted records of its execution, each actor once; without the
// trail, how many are required; nothing changes for one approval.
func TestCountApprovals(t *testing.T) {
	const exec = "arn:aws:states:us-east-1:000000000000:execution:aliasflow-promotion:hello-v2-abc"
	counted := func(actor, execution string) audit.Record {
		return audit.Record{Event: audit.ApprovalCounted, Actor: actor, Execution: execution}
	}
	tests := []struct {
		name     string
		required int
		state    string
		recs     []audit.Record
		known    bool
		want     string
	}{
		{name: "none yet", required: 2, state: promotion.StateRequestApproval, known: true, want: "awaiting approval, 0 of 2 approvals (expires x)"},
		{name: "one approver, twice", required: 2, state: promotion.StateRequestApproval, known: true,
			recs: []audit.Record{counted("a@example.com", exec), counted("a@example.com", exec), counted("b@example.com", exec+"-r2")},
			want: "awaiting approval, 1 of 2 approvals (expires x)"},
		{name: "trail unreadable", required: 3, state: promotion.StateRequestApproval, want: "awaiting approval, 3 approvals required (expires x)"},
		{name: "one approval required", required: 0, state: promotion.StateRequestApproval, known: true, want: "awaiting approval (expires x)"},
		{name: "not waiting", required: 2, state: promotion.StateBake, known: true, want: "awaiting approval (expires x)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &progress.Progress{Execution: exec, State: tc.state, Gate: "awaiting approval (expires x)"}
			p.Promotion.Target.Approval.Required = tc.required
			cli.CountApprovals(p, tc.recs, tc.known)
			if p.Gate != tc.want {
				t.Errorf("gate %q, want %q", p.Gate, tc.want)
			}
		})
	}
}
