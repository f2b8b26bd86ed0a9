package shift_test

import (
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift"
)

// TestManualRollback: an operator's rollback outside a promotion is an
// execution of the promotion state machine that the approval API started
// (input.rollback, the Mode choice, the ManualRollback task). The shift
// moves prod as the execution's own input says — who asked, why, where
// to — never as the invoke payload says, and writes one alias.moved and
// one promotion.rolled_back naming that verified caller. A prod that is
// weighted or no longer where the rollback was decided is not touched.
func TestManualRollback(t *testing.T) {
	const (
		ops  = "arn:aws:iam::000000000000:user/aliasflow-operator"
		cfo  = "arn:aws:iam::000000000000:user/cfo"
		exec = "hello-rollback-4-0a1b2c3d"
	)
	input := func(m promotion.ManualRollback) promotion.Input {
		return promotion.Input{Function: fn, Version: m.To, Steps: []promotion.Step{}, Rollback: &m}
	}
	tests := []struct {
		name string
		prod func(e *env)
		in   promotion.ManualRollback
		// forge edits the invoke payload after the execution started.
		forge       func(req *promotion.TaskRequest)
		wantProd    string
		wantRecords []string
		wantReason  string
		wantErr     string
	}{
		{name: "back to the version before the last promotion",
			prod:     func(e *env) { e.lam.SetAlias(e.t, fn, "prod", "5", nil) },
			in:       promotion.ManualRollback{From: "5", To: "4", Actor: ops, Reason: "5xx after v5"},
			wantProd: "4", wantRecords: []string{"alias.moved prod 5>4", "promotion.rolled_back prod 5>4"},
			wantReason: "rolled back by " + ops + ": 5xx after v5"},
		{name: "break-glass says so",
			prod:     func(e *env) { e.lam.SetAlias(e.t, fn, "prod", "5", nil) },
			in:       promotion.ManualRollback{From: "5", To: "3", Actor: ops, Reason: "db schema", BreakGlass: true},
			wantProd: "3", wantRecords: []string{"alias.moved prod 5>3", "promotion.rolled_back prod 5>3"},
			wantReason: "break-glass rollback by " + ops + " to a version no approved promotion put on prod: db schema"},
		{name: "the payload's actor and version are not the execution's",
			prod: func(e *env) { e.lam.SetAlias(e.t, fn, "prod", "5", nil) },
			in:   promotion.ManualRollback{From: "5", To: "4", Actor: ops, Reason: "5xx after v5"},
			forge: func(req *promotion.TaskRequest) {
				req.Actor = cfo
				req.Promotion.Version = "3"
				req.Promotion.Rollback = &promotion.ManualRollback{From: "5", To: "3", Actor: cfo, Reason: "forged", BreakGlass: true}
			},
			wantProd: "4", wantRecords: []string{"alias.moved prod 5>4", "promotion.rolled_back prod 5>4"},
			wantReason: "rolled back by " + ops + ": 5xx after v5"},
		{name: "prod is weighted: a promotion is shifting",
			prod:     func(e *env) { e.lam.SetAlias(e.t, fn, "prod", "4", map[string]float64{"5": 0.25}) },
			in:       promotion.ManualRollback{From: "4", To: "3", Actor: ops, Reason: "x"},
			wantProd: "4 + 5@0.25", wantRecords: []string{}, wantErr: "routes"},
		{name: "prod moved since the rollback was decided",
			prod:     func(e *env) { e.lam.SetAlias(e.t, fn, "prod", "6", nil) },
			in:       promotion.ManualRollback{From: "5", To: "4", Actor: ops, Reason: "x"},
			wantProd: "6", wantRecords: []string{}, wantErr: "not on version 5"},
		{name: "no verified caller",
			prod:     func(e *env) { e.lam.SetAlias(e.t, fn, "prod", "5", nil) },
			in:       promotion.ManualRollback{From: "5", To: "4", Reason: "x"},
			wantProd: "5", wantRecords: []string{}, wantErr: "rollback.actor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(e.t, fn, "stg", "5", nil)
			tc.prod(e)
			in := input(tc.in)
			// The approval API starts the execution; the definition's Mode
			// choice sends it to ManualRollback, whose call is in flight.
			p := sandboxtest.NewPromotion(t)
			e.verifyOn(p.SFN)
			arn := p.Start(t, exec, in)
			req := p.Request(t, arn, promotion.ActionManualRollback, 1)
			if tc.forge != nil {
				// A forged invoke payload: the shift must still go by what
				// the execution holds.
				tc.forge(&req)
			}
			_, err := e.h.Handle(ctx, req)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("manual rollback succeeded; want an error containing %q", tc.wantErr)
				}
				wantContains(t, "error", message(err), tc.wantErr)
			} else if err != nil {
				t.Fatalf("manual rollback: %v", err)
			}
			if got := e.alias("prod"); got != tc.wantProd {
				t.Errorf("prod = %s, want %s", got, tc.wantProd)
			}
			for _, r := range wantSummary(t, e, tc.wantRecords) {
				if r.Actor != tc.in.Actor {
					t.Errorf("%s actor = %q, want %s", r.Event, r.Actor, tc.in.Actor)
				}
				if r.Event == "promotion.rolled_back" && r.Reason != tc.wantReason {
					t.Errorf("reason = %q, want %q", r.Reason, tc.wantReason)
				}
			}
		})
	}
}

// TestManualRollbackOnlyForItsOwnExecution: the manual-rollback action runs
// only where the Mode choice sent an execution; scheduled by nothing, it is
// refused like any hand-written invoke.
func TestManualRollbackOnlyForItsOwnExecution(t *testing.T) {
	e := newEnv(t)
	e.verifyOn(sandboxtest.NewPromotion(t).SFN) // no execution started
	e.lam.SetAlias(e.t, fn, "prod", "5", nil)
	req := promotion.TaskRequest{Action: promotion.ActionManualRollback,
		Execution: "arn:aws:states:us-east-1:000000000000:execution:aliasflow-promotion:hello-rollback-4-0a1b2c3d",
		Promotion: promotion.State{Input: promotion.Input{Function: fn, Version: "4",
			Rollback: &promotion.ManualRollback{From: "5", To: "4", Actor: "arn:aws:iam::000000000000:user/cfo", Reason: "x"}}}}
	_, err := e.h.Handle(ctx, req)
	wantErrorName(t, err, shift.ErrNotScheduled)
	if got := e.alias("prod"); got != "5" {
		t.Errorf("prod = %s, want 5", got)
	}
	wantSummary(t, e, []string{})
}
