package shift_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// warmPlan warms the new version with 5 before a canary of 25 %.
func warmPlan(timeout int) config.StrategyConfig {
	return config.StrategyConfig{Type: config.Steps, Steps: []plan.Step{
		{Warm: &plan.Warm{ProvisionedConcurrency: 5, TimeoutSeconds: timeout}},
		{SetWeight: &plan.SetWeight{Weight: 0.25}},
		{Analysis: &plan.Analysis{BakeSeconds: 300}},
	}}
}

// warmEnv is the harness with the sandbox's provisioned concurrency READY
// after ready (its clock is the wall clock).
func warmEnv(t *testing.T, ready time.Duration) *env {
	t.Helper()
	e := newEnv(t)
	e.lam = sandboxtest.NewLambda(t, sandboxtest.ActiveAtOnce, func(o *lambdasvc.Options) { o.ProvisionDuration = ready })
	e.lambda = e.lam.Client
	e.verifyOn(e.sf)
	e.lam.AddFunction(t, fn, 6)
	e.lam.SetAlias(t, fn, "stg", "5", nil)
	e.lam.SetAlias(t, fn, "prod", "4", nil)
	return e
}

// provisionedOf is what Lambda says of hello:5's provisioned concurrency,
// "none" when there is none.
func (e *env) provisionedOf(t *testing.T, version string) string {
	t.Helper()
	out, err := e.lam.Admin.GetProvisionedConcurrencyConfig(context.Background(), &lambda.GetProvisionedConcurrencyConfigInput{
		FunctionName: aws.String(fn), Qualifier: aws.String(version)})
	var nf *ltypes.ProvisionedConcurrencyConfigNotFoundException
	if errors.As(err, &nf) {
		return "none"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out.Status)
}

// TestWarm: the Warm task puts the step's provisioned concurrency on the
// new version and goes on to the next weight only once Lambda says READY;
// until then it waits (shift.kind warming, a wait doubling from 1 s up to
// 15 s); FAILED, a refusal, or the step's timeout fail the task
// (aliasflow.WarmFailed), which the definition rolls back. Prod never
// moves here.
func TestWarm(t *testing.T) {
	warming := func(baked, bake int) *promotion.Shift {
		return &promotion.Shift{StableVersion: "4", Step: -1, Kind: promotion.ShiftWarming, Position: 0, BakedSeconds: baked, BakeSeconds: bake}
	}
	tests := []struct {
		name    string
		ready   time.Duration
		setup   func(t *testing.T, e *env)
		timeout int
		shift   *promotion.Shift
		want    *promotion.Shift // Kind, Position, Step, Weight, BakeSeconds, BakedSeconds compared
		wantErr string
		wantPC  string
	}{
		{name: "the first read puts it and waits a second", ready: time.Hour,
			want: warming(0, 1), wantPC: "IN_PROGRESS"},
		{name: "still warming: the wait doubles", ready: time.Hour, shift: warming(3, 4),
			want: warming(7, 7), wantPC: "IN_PROGRESS"},
		{name: "the wait is at most 15 s", ready: time.Hour, shift: warming(60, 15),
			want: warming(75, 15), wantPC: "IN_PROGRESS"},
		{name: "the wait ends at the timeout", ready: time.Hour, timeout: 80, shift: warming(60, 15),
			want: warming(75, 5), wantPC: "IN_PROGRESS"},
		{name: "READY: the first weight", ready: time.Nanosecond,
			setup: func(t *testing.T, e *env) { put(t, e, 5) }, shift: warming(1, 1),
			want: &promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, Kind: string(plan.KindSetWeight), Position: 1}, wantPC: "READY"},
		{name: "not READY in time: roll back", ready: time.Hour, shift: warming(595, 5),
			wantErr: promotion.ErrWarmFailed, wantPC: "IN_PROGRESS"},
		{name: "FAILED: roll back", ready: time.Nanosecond,
			setup: func(t *testing.T, e *env) {
				if err := e.lam.Service.FailProvisioning(fn, "FUNCTION_ERROR_INIT_FAILURE"); err != nil {
					t.Fatal(err)
				}
				put(t, e, 5)
			}, shift: warming(1, 1), wantErr: promotion.ErrWarmFailed, wantPC: "FAILED"},
		{name: "refused by Lambda (more than reserved): roll back", ready: time.Hour,
			setup: func(t *testing.T, e *env) {
				if err := e.lam.Service.PutFunctionConcurrency(fn, 2); err != nil {
					t.Fatal(err)
				}
			}, wantErr: promotion.ErrWarmFailed, wantPC: "none"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := warmEnv(t, tc.ready)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			req := request(t, promotion.ActionWarm, 0)
			req.Promotion.Target.Strategy = warmPlan(tc.timeout)
			req.Promotion.Shift = &promotion.Shift{StableVersion: "4", Step: -1, Kind: string(plan.KindWarm), Position: 0}
			if tc.shift != nil {
				req.Promotion.Shift = tc.shift
			}
			// The sandbox's READY is on the wall clock.
			time.Sleep(time.Millisecond)
			got, err := e.run(req)
			if tc.wantErr != "" {
				wantErrorName(t, err, tc.wantErr)
			} else if err != nil {
				t.Fatalf("warm: %v", err)
			}
			if tc.want != nil {
				if got == nil {
					t.Fatalf("shift = nil, want %+v", tc.want)
				}
				if tc.want.Kind == string(plan.KindSetWeight) {
					tc.want.BakeSeconds = got.BakeSeconds // the analysis's first look, not this test's
				}
				g := promotion.Shift{StableVersion: got.StableVersion, Step: got.Step, Weight: got.Weight, Kind: got.Kind, Position: got.Position,
					BakeSeconds: got.BakeSeconds, BakedSeconds: got.BakedSeconds}
				if g != *tc.want {
					t.Errorf("shift = %+v, want %+v", g, *tc.want)
				}
			}
			if got := e.provisionedOf(t, "5"); got != tc.wantPC {
				t.Errorf("provisioned concurrency on version 5 = %s, want %s", got, tc.wantPC)
			}
			if got, want := e.alias("prod"), "4"; got != want {
				t.Errorf("prod = %s, want %s; warming moves no traffic", got, want)
			}
		})
	}
}

func put(t *testing.T, e *env, n int32) {
	t.Helper()
	if _, err := e.lam.Admin.PutProvisionedConcurrencyConfig(context.Background(), &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String(fn), Qualifier: aws.String("5"), ProvisionedConcurrentExecutions: aws.Int32(n)}); err != nil {
		t.Fatal(err)
	}
}

// TestRollbackRemovesWarm: a rollback of a plan with a warm step removes
// the provisioned concurrency from the new version (billed while it is
// configured, serving nothing); a plan without one touches none.
func TestRollbackRemovesWarm(t *testing.T) {
	tests := []struct {
		name     string
		strategy config.StrategyConfig
		want     string
	}{
		{name: "a plan with a warm step", strategy: warmPlan(0), want: "none"},
		{name: "a plan without one", strategy: config.StrategyConfig{Type: config.Canary, Percent: 25, BakeSeconds: 300}, want: "READY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := warmEnv(t, time.Nanosecond)
			e.lam.SetAlias(t, fn, "prod", "4", map[string]float64{"5": 0.25})
			put(t, e, 5)
			req := request(t, promotion.ActionRollback, 0)
			req.Promotion.Target.Strategy = tc.strategy
			req.Promotion.Shift.Kind, req.Promotion.Shift.Position = string(plan.KindAnalysis), 2
			time.Sleep(time.Millisecond)
			if _, err := e.run(req); err != nil {
				t.Fatalf("rollback: %v", err)
			}
			if got := e.provisionedOf(t, "5"); got != tc.want {
				t.Errorf("provisioned concurrency on version 5 after the rollback = %s, want %s", got, tc.want)
			}
			if got, want := e.alias("prod"), "4"; got != want {
				t.Errorf("prod = %s, want %s", got, want)
			}
		})
	}
}

// TestWarmGroup: for a group the Warm task puts the step's provisioned
// concurrency on every member's new version, and goes on to the weight
// only once all of them are READY.
func TestWarmGroup(t *testing.T) {
	tests := []struct {
		name      string
		ready     time.Duration
		before    []string // members' versions warmed before the task, READY at once
		wantKind  string
		wantOther string
	}{
		{name: "neither warmed: both put, waiting", ready: time.Hour, wantKind: promotion.ShiftWarming, wantOther: "IN_PROGRESS"},
		{name: "both READY: the weight", ready: time.Nanosecond, before: []string{"hello:5", "other:3"},
			wantKind: string(plan.KindSetWeight), wantOther: "READY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := warmEnv(t, tc.ready)
			e.lam.AddFunction(t, "other", 3)
			for _, fv := range tc.before {
				name, version, _ := strings.Cut(fv, ":")
				if _, err := e.lam.Admin.PutProvisionedConcurrencyConfig(context.Background(), &lambda.PutProvisionedConcurrencyConfigInput{
					FunctionName: aws.String(name), Qualifier: aws.String(version), ProvisionedConcurrentExecutions: aws.Int32(5)}); err != nil {
					t.Fatal(err)
				}
			}
			req := request(t, promotion.ActionWarm, 0)
			req.Promotion.Target.Strategy = warmPlan(0)
			req.Promotion.Group = "api"
			req.Promotion.Members = []promotion.Member{
				{Function: fn, Version: "5", Target: req.Promotion.Target},
				{Function: "other", Version: "3", Target: req.Promotion.Target},
			}
			req.Promotion.Shift = &promotion.Shift{StableVersion: "4", Step: -1, Kind: string(plan.KindWarm), Position: 0, BakedSeconds: 1}
			time.Sleep(time.Millisecond)
			got, err := e.run(req)
			if err != nil {
				t.Fatalf("warm: %v", err)
			}
			if got.Kind != tc.wantKind {
				t.Errorf("shift.kind = %q, want %q", got.Kind, tc.wantKind)
			}
			out, err := e.lam.Admin.GetProvisionedConcurrencyConfig(context.Background(), &lambda.GetProvisionedConcurrencyConfigInput{
				FunctionName: aws.String("other"), Qualifier: aws.String("3")})
			if err != nil || string(out.Status) != tc.wantOther {
				t.Errorf("provisioned concurrency on other:3 = %v (%v), want %s", out, err, tc.wantOther)
			}
			if got := e.provisionedOf(t, "5"); got != tc.wantOther {
				t.Errorf("provisioned concurrency on hello:5 = %s, want %s", got, tc.wantOther)
			}
		})
	}
}

// TestFinalizeSaysWhatStaysWarm: at 100 % a plan with a warm step keeps
// the new version's provisioned concurrency (it serves all of prod now),
// leaves any other version's as it is, and logs both.
func TestFinalizeSaysWhatStaysWarm(t *testing.T) {
	tests := []struct {
		name       string
		strategy   config.StrategyConfig
		wantLogged string // "" for no line
	}{
		{name: "a plan with a warm step", strategy: warmPlan(0), wantLogged: `"newVersion":"5=5","otherVersionsOrAliases":"4=2"`},
		{name: "a plan without one", strategy: config.StrategyConfig{Type: config.Canary, Percent: 25, BakeSeconds: 300}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := warmEnv(t, time.Nanosecond)
			e.lam.SetAlias(t, fn, "prod", "4", map[string]float64{"5": 0.25})
			put(t, e, 5)
			if _, err := e.lam.Admin.PutProvisionedConcurrencyConfig(context.Background(), &lambda.PutProvisionedConcurrencyConfigInput{
				FunctionName: aws.String(fn), Qualifier: aws.String("4"), ProvisionedConcurrentExecutions: aws.Int32(2)}); err != nil {
				t.Fatal(err)
			}
			req := request(t, promotion.ActionFinalize, 0)
			req.Promotion.Target.Strategy = tc.strategy
			if _, err := e.run(req); err != nil {
				t.Fatalf("finalize: %v", err)
			}
			logged := strings.Contains(e.logs.String(), "provisioned concurrency kept")
			if logged != (tc.wantLogged != "") || !strings.Contains(e.logs.String(), tc.wantLogged) {
				t.Errorf("log = %s\nwant the kept provisioned concurrency logged: %v (%s)", e.logs.String(), tc.wantLogged != "", tc.wantLogged)
			}
			for _, v := range []string{"4", "5"} {
				if got := e.provisionedOf(t, v); got != "READY" {
					t.Errorf("provisioned concurrency on version %s after 100%% = %s, want READY (left as it is)", v, got)
				}
			}
			if got, want := e.alias("prod"), "5"; got != want {
				t.Errorf("prod = %s, want %s", got, want)
			}
		})
	}
}
