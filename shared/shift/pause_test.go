package shift_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// A plan with a pause: the shift decides the pause (its kind and
// position, and how long the Pause state waits on its token), and after
// it, on Continue, what follows — the next step for a timed pause that ran
// its time or a pause an operator continued (audited once with who), a
// rollback for a pause until continued that nobody continued.
func pausePlan(pause plan.Pause) config.StrategyConfig {
	return config.StrategyConfig{Type: config.Steps, Steps: []plan.Step{
		{SetWeight: &plan.SetWeight{Weight: 0.25}},
		{Analysis: &plan.Analysis{BakeSeconds: 300}},
		{Pause: &pause},
		{SetWeight: &plan.SetWeight{Weight: 0.5}},
		{Analysis: &plan.Analysis{BakeSeconds: 300}},
	}}
}

func TestCheckHealthGoesToAPause(t *testing.T) {
	tests := []struct {
		name  string
		pause plan.Pause
		want  promotion.Shift
	}{
		{"until continued waits as long as an approval", plan.Pause{},
			promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 86400, Kind: "pause", Position: 2}},
		{"a timed pause waits its time", plan.Pause{Seconds: 600},
			promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 600, Kind: "pause", Position: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, req := healthEnv(t, 0, "healthy")
			req.Promotion.Target.Strategy = pausePlan(tc.pause)
			got, err := e.run(req)
			if err != nil {
				t.Fatalf("check-health: %v", err)
			}
			if got = withoutVerdict(t, got); *got != tc.want {
				t.Errorf("shift = %+v, want %+v", got, tc.want)
			}
			wantSummary(t, e, []string{"health.passed prod 4>5 @0.25"})
		})
	}
}

func TestContinue(t *testing.T) {
	const ops = "arn:aws:iam::000000000000:user/ops"
	tests := []struct {
		name     string
		pause    plan.Pause
		position int
		bake     *promotion.Bake
		want     *promotion.Shift
		wantErr  string
		wantRecs []string
		wantWhy  string
	}{
		{name: "an operator continues a pause until continued", bake: &promotion.Bake{PromoteNow: true, Actor: ops},
			want:     &promotion.Shift{StableVersion: "4", Step: 1, Weight: 0.5, BakeSeconds: 300, Kind: "setWeight", Position: 3},
			wantRecs: []string{"pause.continued prod 4>5 @0.25"}, wantWhy: "pause at 25% continued by " + ops + " (promote: past this pause)"},
		{name: "promote --full on a pause skips the rest", bake: &promotion.Bake{PromoteNow: true, Full: true, Actor: ops},
			want:     &promotion.Shift{StableVersion: "4", Step: 2, Weight: 1, Done: true, Kind: "finalize", Position: 5},
			wantRecs: []string{"pause.continued prod 4>5 @0.25"}, wantWhy: "every remaining step skipped"},
		{name: "a timed pause that ran its time goes on", pause: plan.Pause{Seconds: 600}, bake: &promotion.Bake{Error: "States.Timeout"},
			want:     &promotion.Shift{StableVersion: "4", Step: 1, Weight: 0.5, BakeSeconds: 300, Kind: "setWeight", Position: 3},
			wantRecs: []string{}},
		{name: "nobody continued a pause until continued: roll back", bake: &promotion.Bake{Error: "States.Timeout"},
			wantErr: promotion.ErrPauseExpired, wantRecs: []string{}},
		{name: "the position is not a pause", position: 1, bake: &promotion.Bake{PromoteNow: true, Actor: ops},
			wantErr: promotion.ErrInvalidInput, wantRecs: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(t, fn, "stg", "5", nil)
			e.lam.SetAlias(t, fn, "prod", "4", map[string]float64{"5": 0.25})
			req := request(t, promotion.ActionContinue, 0)
			req.Promotion.Target.Strategy = pausePlan(tc.pause)
			pos := 2
			if tc.position != 0 {
				pos = tc.position
			}
			req.Promotion.Shift = &promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 86400, Kind: "pause", Position: pos}
			req.Promotion.Bake = tc.bake
			got, err := e.run(req)
			if tc.wantErr != "" {
				wantErrorName(t, err, tc.wantErr)
			} else if err != nil {
				t.Fatalf("continue: %v", err)
			}
			if tc.want != nil && (got == nil || *got != *tc.want) {
				t.Errorf("shift = %+v, want %+v", got, tc.want)
			}
			recs := wantSummary(t, e, tc.wantRecs)
			if len(recs) > 0 {
				if recs[0].Actor != ops {
					t.Errorf("pause.continued actor = %q, want %s", recs[0].Actor, ops)
				}
				wantContains(t, "pause.continued reason", recs[0].Reason, tc.wantWhy)
			}
			if got, want := e.alias("prod"), "4 + 5@0.25"; got != want {
				t.Errorf("prod = %s, want %s; continue moves nothing", got, want)
			}
		})
	}
}

// windowPlan is a deploy window (UTC hours; the harness's clock is Monday
// 2025-06-02 09:30:20) before a canary of 25 %.
func windowPlan(w plan.Window) config.StrategyConfig {
	return config.StrategyConfig{Type: config.Steps, Steps: []plan.Step{
		{Window: &w},
		{SetWeight: &plan.SetWeight{Weight: 0.25}},
		{Analysis: &plan.Analysis{BakeSeconds: 300}},
	}}
}

// TestBeginAtAWindow: an open window passes in the same task; a closed one
// holds the promotion (in the Pause state) until it opens, audited once
// with why and until when.
func TestBeginAtAWindow(t *testing.T) {
	tests := []struct {
		name     string
		w        plan.Window
		want     promotion.Shift
		wantRecs []string
		wantWhy  string
	}{
		{name: "open: the first weight at once", w: plan.Window{Hours: []string{"09:00-17:00"}},
			want:     promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 300, Kind: "setWeight", Position: 1},
			wantRecs: []string{}},
		{name: "closed: wait until it opens", w: plan.Window{Hours: []string{"10:00-11:00"}},
			want:     promotion.Shift{StableVersion: "4", Step: -1, BakeSeconds: 1780, Kind: "window", Position: 0},
			wantRecs: []string{"window.deferred prod 4>5 @0"}, wantWhy: "the promotion waits until 2025-06-02T10:00:00Z"},
		{name: "a freeze: wait until it ends", w: plan.Window{Freezes: []plan.Freeze{{Name: "launch",
			From: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC)}}},
			want:     promotion.Shift{StableVersion: "4", Step: -1, BakeSeconds: 52180, Kind: "window", Position: 0},
			wantRecs: []string{"window.deferred prod 4>5 @0"}, wantWhy: `freeze "launch" until 2025-06-03T00:00:00Z`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(t, fn, "stg", "5", nil)
			e.lam.SetAlias(t, fn, "prod", "4", nil)
			req := request(t, promotion.ActionBegin, 0)
			req.Promotion.Shift = nil
			req.Promotion.Target.Strategy = windowPlan(tc.w)
			req.Promotion.Steps = promotion.Plan(req.Promotion.Target.Strategy)
			got, err := e.run(req)
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			c := *got
			c.Verdict = ""
			// Begin carries prod as it read it (the next move's lock).
			if want := withProdSeen(t, e, &tc.want); c != *want {
				t.Errorf("shift = %+v, want %+v", got, tc.want)
			}
			recs := wantSummary(t, e, tc.wantRecs)
			if len(recs) > 0 {
				wantContains(t, "window.deferred reason", recs[0].Reason, tc.wantWhy)
			}
			if got := e.alias("prod"); got != "4" {
				t.Errorf("prod = %s; a window moves nothing", got)
			}
		})
	}
}

// TestContinueAWindow: when a closed window's wait ends it is checked
// again; an operator's promote breaks the glass, audited with who.
func TestContinueAWindow(t *testing.T) {
	const ops = "arn:aws:iam::000000000000:user/ops"
	tests := []struct {
		name     string
		hours    string
		bake     *promotion.Bake
		want     promotion.Shift
		wantRecs []string
		wantWhy  string
	}{
		{name: "opened meanwhile: the first weight", hours: "09:00-17:00", bake: &promotion.Bake{Error: "States.Timeout"},
			want: promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 300, Kind: "setWeight", Position: 1}, wantRecs: []string{}},
		{name: "still closed: wait again", hours: "10:00-11:00", bake: &promotion.Bake{Error: "States.Timeout"},
			want:     promotion.Shift{StableVersion: "4", Step: -1, BakeSeconds: 1780, Kind: "window", Position: 0},
			wantRecs: []string{"window.deferred prod 4>5 @0"}, wantWhy: "waits until 2025-06-02T10:00:00Z"},
		{name: "break-glass", hours: "10:00-11:00", bake: &promotion.Bake{PromoteNow: true, Actor: ops},
			want:     promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 300, Kind: "setWeight", Position: 1},
			wantRecs: []string{"window.overridden prod 4>5 @0"}, wantWhy: "break-glass: " + ops + " went past the closed window 10:00-11:00 UTC"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(t, fn, "stg", "5", nil)
			e.lam.SetAlias(t, fn, "prod", "4", nil)
			req := request(t, promotion.ActionContinue, 0)
			req.Promotion.Target.Strategy = windowPlan(plan.Window{Hours: []string{tc.hours}})
			req.Promotion.Steps = promotion.Plan(req.Promotion.Target.Strategy)
			req.Promotion.Shift = &promotion.Shift{StableVersion: "4", Step: -1, BakeSeconds: 600, Kind: "window", Position: 0}
			req.Promotion.Bake = tc.bake
			got, err := e.run(req)
			if err != nil {
				t.Fatalf("continue: %v", err)
			}
			c := *got
			c.Verdict = ""
			// Continue carries the request's prod (none here).
			if c != tc.want {
				t.Errorf("shift = %+v, want %+v", got, tc.want)
			}
			recs := wantSummary(t, e, tc.wantRecs)
			if len(recs) > 0 {
				wantContains(t, "reason", recs[0].Reason, tc.wantWhy)
				if tc.bake.PromoteNow && recs[0].Actor != ops {
					t.Errorf("window.overridden actor = %q, want %s", recs[0].Actor, ops)
				}
			}
		})
	}
}

// TestOperatorPause: `aliasflow pause` ends the bake to hold prod at its
// weight — health judged first (unhealthy still rolls back), the pause
// audited with who — and `aliasflow resume` bakes the step again.
func TestOperatorPause(t *testing.T) {
	const ops = "arn:aws:iam::000000000000:user/ops"
	t.Run("check-health holds", func(t *testing.T) {
		for _, tc := range []struct {
			name, kind string
			want       *promotion.Shift
			wantErr    string
			wantRecs   []string
		}{
			{name: "healthy so far", kind: "healthy",
				want:     &promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 86400, Kind: promotion.ShiftHold, Position: 1},
				wantRecs: []string{"promotion.paused prod 4>5 @0.25", "health.passed prod 4>5 @0.25"}},
			{name: "inconclusive so far", kind: "few clean calls",
				want:     &promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 86400, Kind: promotion.ShiftHold, Position: 1},
				wantRecs: []string{"promotion.paused prod 4>5 @0.25", "health.inconclusive prod 4>5 @0.25"}},
			{name: "unhealthy rolls back all the same", kind: "alarm", wantErr: promotion.ErrHealthCheckFailed,
				wantRecs: []string{"promotion.paused prod 4>5 @0.25", "health.failed prod 4>5 @0.25"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e, req := healthEnv(t, 0, tc.kind)
				req.Promotion.Bake = &promotion.Bake{Hold: true, Actor: ops}
				got, err := e.run(req)
				if tc.wantErr != "" {
					wantErrorName(t, err, tc.wantErr)
				} else if err != nil {
					t.Fatalf("check-health: %v", err)
				}
				if tc.want != nil && (got == nil || *withoutVerdict(t, got) != *tc.want) {
					t.Errorf("shift = %+v, want %+v", got, tc.want)
				}
				if recs := wantSummary(t, e, tc.wantRecs); len(recs) > 0 && recs[0].Actor != ops {
					t.Errorf("promotion.paused actor = %q, want %s", recs[0].Actor, ops)
				}
			})
		}
	})
	t.Run("continue after a hold", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			bake     *promotion.Bake
			want     *promotion.Shift
			wantErr  string
			wantRecs []string
		}{
			{name: "resume bakes the step again", bake: &promotion.Bake{PromoteNow: true, Actor: ops},
				want:     &promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 300, Extend: true, Extensions: 1, Kind: "analysis", Position: 1},
				wantRecs: []string{"pause.continued prod 4>5 @0.25"}},
			{name: "promote --full skips the rest", bake: &promotion.Bake{PromoteNow: true, Full: true, Actor: ops},
				want:     &promotion.Shift{StableVersion: "4", Step: 3, Weight: 1, Done: true, Kind: "finalize", Position: 6},
				wantRecs: []string{"pause.continued prod 4>5 @0.25"}},
			{name: "nobody resumed: roll back", bake: &promotion.Bake{Error: "States.Timeout"}, wantErr: promotion.ErrPauseExpired, wantRecs: []string{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t)
				e.lam.SetAlias(t, fn, "stg", "5", nil)
				e.lam.SetAlias(t, fn, "prod", "4", map[string]float64{"5": 0.25})
				req := request(t, promotion.ActionContinue, 0)
				req.Promotion.Shift = &promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 86400, Kind: promotion.ShiftHold, Position: 1}
				req.Promotion.Bake = tc.bake
				got, err := e.run(req)
				if tc.wantErr != "" {
					wantErrorName(t, err, tc.wantErr)
				} else if err != nil {
					t.Fatalf("continue: %v", err)
				}
				if tc.want != nil && (got == nil || *got != *tc.want) {
					t.Errorf("shift = %+v, want %+v", got, tc.want)
				}
				wantSummary(t, e, tc.wantRecs)
			})
		}
	})
}

// approvalPlan is a canary of 25 % that waits for a second approval
// before 100 %.
func approvalPlan() config.StrategyConfig {
	return config.StrategyConfig{Type: config.Steps, Steps: []plan.Step{
		{SetWeight: &plan.SetWeight{Weight: 0.25}},
		{Analysis: &plan.Analysis{BakeSeconds: 300}},
		{Approval: &plan.Approval{Approvers: []string{"lead@example.com"}}},
	}}
}

// TestApprovalStep: a second approval before 100 % — requested (audited)
// once the analysis passed; approved by one of its approvers (named with
// the principal the approval API verified), the promotion finalizes;
// nobody approving in time, or an approver not of this step, does not.
func TestApprovalStep(t *testing.T) {
	const lead = "arn:aws:iam::000000000000:user/lead"
	t.Run("requested after the analysis", func(t *testing.T) {
		e, req := healthEnv(t, 0, "healthy")
		req.Promotion.Target.Strategy = approvalPlan()
		got, err := e.run(req)
		if err != nil {
			t.Fatalf("check-health: %v", err)
		}
		want := promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 86400, Kind: "approval", Position: 2}
		if c := *withoutVerdict(t, got); c != want {
			t.Errorf("shift = %+v, want %+v", c, want)
		}
		recs := wantSummary(t, e, []string{"health.passed prod 4>5 @0.25", "approval.requested prod 4>5 @0.25"})
		if len(recs) == 2 {
			wantContains(t, "approval.requested reason", recs[1].Reason, "approval step at 25%: lead@example.com")
		}
	})
	for _, tc := range []struct {
		name     string
		bake     *promotion.Bake
		want     *promotion.Shift
		wantErr  string
		wantRecs []string
	}{
		{name: "approved by its approver", bake: &promotion.Bake{PromoteNow: true, Actor: lead, Approver: "lead@example.com"},
			want:     &promotion.Shift{StableVersion: "4", Step: 1, Weight: 1, Done: true, Kind: "finalize", Position: 3},
			wantRecs: []string{"approval.granted prod 4>5 @0.25"}},
		{name: "an operator's promote is no approval", bake: &promotion.Bake{PromoteNow: true, Actor: lead},
			wantErr: promotion.ErrPauseExpired, wantRecs: []string{}},
		{name: "approved by someone else", bake: &promotion.Bake{PromoteNow: true, Actor: lead, Approver: "ops@example.com"},
			wantErr: promotion.ErrInvalidInput, wantRecs: []string{}},
		{name: "nobody approved in time", bake: &promotion.Bake{Error: "States.Timeout"}, wantErr: promotion.ErrPauseExpired, wantRecs: []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(t, fn, "stg", "5", nil)
			e.lam.SetAlias(t, fn, "prod", "4", map[string]float64{"5": 0.25})
			req := request(t, promotion.ActionContinue, 0)
			req.Promotion.Target.Strategy = approvalPlan()
			req.Promotion.Steps = promotion.Plan(req.Promotion.Target.Strategy)
			req.Promotion.Shift = &promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 86400, Kind: "approval", Position: 2}
			req.Promotion.Bake = tc.bake
			got, err := e.run(req)
			if tc.wantErr != "" {
				wantErrorName(t, err, tc.wantErr)
			} else if err != nil {
				t.Fatalf("continue: %v", err)
			}
			if tc.want != nil && (got == nil || *got != *tc.want) {
				t.Errorf("shift = %+v, want %+v", got, tc.want)
			}
			if recs := wantSummary(t, e, tc.wantRecs); len(recs) > 0 && (recs[0].Actor != lead || !strings.Contains(recs[0].Reason, "approved by lead@example.com")) {
				t.Errorf("approval.granted = %+v, want the principal as actor and the approver named", recs[0])
			}
		})
	}
}
