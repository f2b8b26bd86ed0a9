package shift_test

import (
	"context"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// TestBeginProbesBeforeTheFirstWeight: with health.probes, BeginShift
// invokes the new and the stable version, ProbesAtStartFactor (5) times as
// often as a check does, before prod routes anything to the new one; a
// version failing its probes never serves a user.
func TestBeginProbesBeforeTheFirstWeight(t *testing.T) {
	tests := []struct {
		name     string
		failRate int // the new version fails 1 call in failRate; 0 never
		payload  []byte
		smoke    bool // the payload comes from an invoke smoke check
		probes   int
		wantErr  string
	}{
		{name: "failing probes: no traffic moves", failRate: 1, payload: []byte(`{"path":"/"}`), probes: 5,
			wantErr: "not shifting prod of hello to version 5: 25 of 25 probes of version 5 failed (stable version 4: 0 of 25), significantly above the limit 5%; no traffic moved"},
		{name: "half failing, payload of the invoke smoke check", failRate: 2, smoke: true, probes: 10, wantErr: "25 of 50 probes of version 5 failed"},
		// 2 of 25 is not significant at the 1 % level (P ≈ 0.36).
		{name: "2 failures in 25 probes are not proof", failRate: 12, payload: []byte(`{}`), probes: 5},
		{name: "passing probes: the first step", payload: []byte(`{"path":"/"}`), probes: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(e.t, fn, "stg", "5", nil)
			e.lam.SetAlias(e.t, fn, "prod", "4", nil)
			calls := 0
			var payloads, qualifiers []string
			e.lam.Code(fn, func(ctx context.Context, call sandboxtest.Call) (core.InvokeResult, error) {
				payloads = append(payloads, string(call.Payload))
				qualifiers = append(qualifiers, call.Qualifier)
				if call.Version == "5" {
					calls++
					if tc.failRate > 0 && calls%tc.failRate == 0 {
						return sandboxtest.FunctionError("errorString", "boom")(ctx, call)
					}
				}
				return sandboxtest.Return("ok")(ctx, call)
			})
			req := request(t, promotion.ActionBegin, 0)
			req.Promotion.Shift = nil
			req.Promotion.Target.Health.Probes = tc.probes
			req.Promotion.Target.Health.ProbePayload = tc.payload
			if tc.smoke {
				req.Promotion.Target.SmokeChecks = []config.SmokeCheck{{Name: "get", Invoke: &config.InvokeCheck{Payload: []byte(`{"smoke":true}`)}}}
			}
			got, err := e.run(req)
			if len(qualifiers) != 2*config.ProbesAtStartFactor*tc.probes {
				t.Errorf("invoked %q, want %d probes of each version", qualifiers, config.ProbesAtStartFactor*tc.probes)
			}
			if tc.smoke && (len(payloads) == 0 || payloads[0] != `{"smoke":true}`) {
				t.Errorf("probe payloads %q, want the smoke check's", payloads)
			}
			if e.alias("prod") != "4" {
				t.Errorf("prod = %s; begin never moves it", e.alias("prod"))
			}
			if tc.wantErr == "" {
				if err != nil || got == nil || got.Weight != req.Promotion.Steps[0].Weight {
					t.Fatalf("begin = %+v, %v; want the first step", got, err)
				}
				return
			}
			wantErrorName(t, err, promotion.ErrHealthCheckFailed)
			wantContains(t, "error", message(err), tc.wantErr)
		})
	}
}

// TestBeginProbesCountTowardsTheFirstStep: the probes BeginShift sends at
// 0 % are evidence about the new version like any later probe; the first
// check-health of step 0 adds its own probes to them rather than starting
// from nothing, so a broken canary is judged on twice the calls.
func TestBeginProbesCountTowardsTheFirstStep(t *testing.T) {
	tests := []struct {
		name       string
		failEvery  int // the new version fails 1 call in failEvery; 0 never
		wantCalls  float64
		wantErrors float64
	}{
		// Begin sends 5 × 20 probes of each version: 8 of 100 failing is
		// not significant above 5 % (P ≈ 0.13), so the version gets its
		// first weight; the check adds its 20 (2 failing): 10 of 120.
		{name: "failing 1 in 12 of its probes", failEvery: 12, wantCalls: 120, wantErrors: 10},
		{name: "healthy", wantCalls: 120},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(e.t, fn, "stg", "5", nil)
			e.lam.SetAlias(e.t, fn, "prod", "4", nil)
			calls := 0
			e.lam.Code(fn, func(ctx context.Context, call sandboxtest.Call) (core.InvokeResult, error) {
				if call.Version == "5" {
					calls++
					if tc.failEvery > 0 && calls%tc.failEvery == 0 {
						return core.InvokeResult{Payload: []byte(`{"errorMessage":"boom","errorType":"errorString"}`), FunctionError: "Handled"}, nil
					}
				}
				return sandboxtest.Return("ok")(ctx, call)
			})
			req := request(t, promotion.ActionBegin, 0)
			req.Promotion.Shift = nil
			req.Promotion.Target.Health.Probes = 20
			req.Promotion.Target.Health.ProbePayload = []byte(`{}`)
			s, err := e.run(req)
			if err != nil || s == nil || s.Done {
				t.Fatalf("begin = %+v, %v; want the first step", s, err)
			}
			// The definition sets the weight and bakes the step.
			e.lam.SetAlias(e.t, fn, "prod", "4", map[string]float64{"5": s.Weight})
			e.now = e.now.Add(time.Duration(s.BakeSeconds) * time.Second)
			check := request(t, promotion.ActionCheckHealth, 0)
			check.Promotion.Target = req.Promotion.Target
			check.Promotion.Shift = s
			check.Promotion.Bake = &promotion.Bake{Error: "States.Timeout"}
			_, _ = e.run(check) // healthy, inconclusive or not: the evidence is what is checked
			var probes *audit.Evidence
			for _, r := range e.audits(t) {
				if r.Verdict == nil {
					continue
				}
				for i, ev := range r.Verdict.Sources {
					if ev.Source == "probes" {
						probes = &r.Verdict.Sources[i]
					}
				}
			}
			if probes == nil {
				t.Fatalf("no probes evidence in the check's verdict: %q", summary(e.audits(t)))
			}
			if probes.NewInvocations != tc.wantCalls || probes.NewErrors != tc.wantErrors {
				t.Errorf("probes evidence of version 5: %v errors in %v calls, want %v in %v (begin's 20 and the check's 20)",
					probes.NewErrors, probes.NewInvocations, tc.wantErrors, tc.wantCalls)
			}
			if probes.StableInvocations != tc.wantCalls {
				t.Errorf("probes evidence of stable version 4: %v calls, want %v", probes.StableInvocations, tc.wantCalls)
			}
		})
	}
}
