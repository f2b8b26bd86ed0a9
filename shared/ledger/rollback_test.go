package ledger_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/ledger"
)

// TestRollbackTarget: the one decision of where a rollback with no
// promotion shifting takes prod, which the approval API makes and the CLI
// plans with (before, two copies that disagreed: the CLI planned --to a
// never-approved version and a weighted prod the API then refused).
func TestRollbackTarget(t *testing.T) {
	const caller = "arn:aws:iam::000000000000:user/aliasflow-operator"
	completed := shifted1to2()
	rolledBack := func() ledger.Trail {
		tr := append(ledger.Trail(nil), completed...)
		for _, ev := range []audit.Event{audit.AliasMoved, audit.PromotionRolledBack} {
			r := rec(time.Hour, "hello", ev, "prod", "2", "1", "hello-rollback-1-0c0c0c0c")
			r.Actor = caller
			tr = append(tr, r)
		}
		return ledger.NewTrail(tr)
	}()
	firstMove := ledger.NewTrail([]audit.Record{rec(0, "hello", audit.AliasMoved, "prod", "1", "2", "")})
	tests := []struct {
		name       string
		trail      ledger.Trail
		prod       alias.Alias
		want       string
		breakGlass bool
		wantTarget string // from→to
		wantWhy    string
		kind       ledger.RefusalKind
		wantErr    string
	}{
		{name: "the version the last promotion replaced", trail: completed, prod: on("2", nil, ""), wantTarget: "2→1", wantWhy: "the version hello-v2-0a0a0a0a replaced"},
		{name: "the version before the last move", trail: firstMove, prod: on("2", nil, ""), wantTarget: "2→1", wantWhy: "the version before the last move of prod"},
		{name: "to a version an approved promotion put on prod", trail: rolledBack, prod: on("1", nil, ""), want: "2", wantTarget: "1→2",
			wantWhy: "prod served it after promotion hello-v2-0a0a0a0a completed"},
		{name: "to a never-approved version", trail: completed, prod: on("2", nil, ""), want: "1", kind: ledger.NotApproved, wantErr: "never went to prod through an approved promotion"},
		{name: "break-glass", trail: completed, prod: on("2", nil, ""), want: "5", breakGlass: true, wantTarget: "2→5", wantWhy: "break-glass"},
		{name: "to where prod is", trail: completed, prod: on("2", nil, ""), want: "2", kind: ledger.AlreadyThere, wantErr: "already on version 2"},
		{name: "no prod", trail: completed, prod: alias.Alias{}, kind: ledger.NoProd, wantErr: "has no prod alias"},
		{name: "weighted prod", trail: completed, prod: on("1", map[string]float64{"2": 0.1}, ""), kind: ledger.Weighted, wantErr: "routes between versions"},
		{name: "an empty trail", prod: on("2", nil, ""), kind: ledger.NothingEarlier, wantErr: "nothing to roll back to: the audit trail has no version of prod of hello before 2"},
		{name: "moved outside aliasflow", trail: completed, prod: on("3", nil, ""), kind: ledger.Drifted, wantErr: "moved outside aliasflow"},
		{name: "never past a rollback", trail: rolledBack, prod: on("1", nil, ""), kind: ledger.PastRollback,
			wantErr: "prod of hello is on version 1, where a rollback by " + caller + " put it"},
		{name: "another function's trail is not read", trail: completed.Of("other"), prod: on("2", nil, ""), kind: ledger.NothingEarlier, wantErr: "nothing to roll back"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.trail.RollbackTarget("hello", tc.prod, tc.want, tc.breakGlass)
			if tc.wantErr != "" {
				var r *ledger.Refusal
				if !errors.As(err, &r) || r.Kind != tc.kind || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("RollbackTarget = %+v, %v; want a refusal of kind %d saying %q", got, err, tc.kind, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("RollbackTarget: %v", err)
			}
			if g := got.From + "→" + got.To; g != tc.wantTarget || !strings.Contains(got.Why, tc.wantWhy) {
				t.Errorf("RollbackTarget = %s (%s); want %s (%s)", g, got.Why, tc.wantTarget, tc.wantWhy)
			}
		})
	}
}
