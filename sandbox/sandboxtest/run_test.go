package sandboxtest_test

import (
	"slices"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// TestRunThroughAPause: HealthTo routes the definition to its Pause state
// on the shift's kind, AwaitPause leaves the Pause waiting on a token, and
// once it is answered (or its time runs out) Continue answers the Continue
// task the definition then calls.
func TestRunThroughAPause(t *testing.T) {
	const ops = "arn:aws:iam::000000000000:user/ops"
	tests := []struct {
		name string
		kind string
		// answer ends the Pause's wait.
		answer func(r *sandboxtest.Run)
	}{
		{name: "a pause continued by an operator", kind: string(plan.KindPause),
			answer: func(r *sandboxtest.Run) { r.Succeed(promotion.Bake{PromoteNow: true, Actor: ops}) }},
		{name: "a pause that ran its time", kind: string(plan.KindPause),
			answer: func(r *sandboxtest.Run) { r.TimeOut(time.Hour) }},
		{name: "an operator's hold resumed", kind: promotion.ShiftHold,
			answer: func(r *sandboxtest.Run) { r.Succeed(promotion.Bake{PromoteNow: true, Actor: ops}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := sandboxtest.NewPromotion(t)
			target := config.Target{Function: "hello", Approvers: []string{"alice@example.com"}, ApprovalTimeoutSeconds: 3600,
				Strategy: config.StrategyConfig{Type: config.Steps, Steps: []plan.Step{
					{SetWeight: &plan.SetWeight{Weight: 0.1}}, {Analysis: &plan.Analysis{BakeSeconds: 30}}, {Pause: &plan.Pause{}}}}}
			target.ApplyDefaults()
			in := promotion.Input{Function: "hello", Version: "2", PreviousStgVersion: "1",
				Release: promotion.Release{CodeSha256: "sha-2"}, Target: target, Steps: promotion.Plan(target.Strategy)}

			r := p.Run(t, in).Smoke(true).AwaitApproval().Approve("alice@example.com").BeginShift("1").Bake()
			bake := r.Token()
			r.HealthTo(promotion.Shift{StableVersion: "1", Weight: 0.1, BakeSeconds: 3600, Kind: tc.kind, Position: 2}).AwaitPause()
			if got := r.Token(); got == "" || got == bake {
				t.Fatalf("the Pause's token = %q; want one of its own (the bake's was %q)", got, bake)
			}
			tc.answer(r)
			r.Continue(promotion.Shift{StableVersion: "1", Weight: 1, Done: true, Kind: string(plan.KindFinalize), Position: 3}).Finalize()

			if got := r.Status(); got != "SUCCEEDED" {
				t.Errorf("status = %s, want SUCCEEDED", got)
			}
			want := []string{promotion.ActionSmoke, promotion.ActionRequest, promotion.ActionGranted, promotion.ActionBegin,
				promotion.ActionSetWeight, promotion.ActionBake, promotion.ActionCheckHealth, promotion.ActionPause,
				promotion.ActionContinue, promotion.ActionFinalize}
			if got := p.Actions(r.ARN); !slices.Equal(got, want) {
				t.Errorf("actions = %v, want %v", got, want)
			}
		})
	}
}
