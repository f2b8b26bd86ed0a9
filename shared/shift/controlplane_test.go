package shift_test

import (
	"encoding/json"
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/infra/statemachine"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// TestPromotionControlPlaneCalls: the shift's Lambda control-plane
// requests per promotion (15 a second for the whole account, "Lambda
// quotas", https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html#api-requests)
// do not grow with its steps or health checks. Begin reads stg and prod and
// the two versions' configurations; each set-weight and the finalize write
// prod once, with the RevisionId the execution's state carries as the
// precondition; no task reads prod or a configuration again. The tasks run
// in the order of the definition, each task's result kept where the
// definition's ResultPath puts it.
func TestPromotionControlPlaneCalls(t *testing.T) {
	var def struct {
		States map[string]struct{ ResultPath *string }
	}
	if err := json.Unmarshal([]byte(statemachine.Definition), &def); err != nil {
		t.Fatal(err)
	}
	keepsShift := func(action string) bool {
		for state, a := range promotion.TaskActions {
			if p := def.States[state].ResultPath; a == action && p != nil && *p == "$."+promotion.ResultShift {
				return true
			}
		}
		return false
	}
	tests := []struct {
		name     string
		strategy config.StrategyConfig
		health   config.Health
		want     map[string]int
	}{
		{name: "canary judged on the log streams",
			strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 60},
			health:   config.Health{FreshSignal: config.FreshSignalLogs, LogRuntime: config.LogRuntimeGo, MetricDelaySeconds: 240},
			want:     map[string]int{"GetAlias": 2, "GetFunctionConfiguration": 2, "UpdateAlias": 2}},
		{name: "linear in 3 steps judged on the log streams",
			strategy: config.StrategyConfig{Type: config.Linear, Percent: 25, IntervalSeconds: 60},
			health:   config.Health{FreshSignal: config.FreshSignalLogs, LogRuntime: config.LogRuntimeGo, MetricDelaySeconds: 240},
			want:     map[string]int{"GetAlias": 2, "GetFunctionConfiguration": 2, "UpdateAlias": 4}},
		{name: "linear in 3 steps judged on the metrics",
			strategy: config.StrategyConfig{Type: config.Linear, Percent: 25, IntervalSeconds: 120},
			health:   config.Health{MetricDelaySeconds: 60},
			want:     map[string]int{"GetAlias": 2, "GetFunctionConfiguration": 2, "UpdateAlias": 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := config.Target{Function: fn, Approvers: []string{"lead@example.com"}, Strategy: tc.strategy, Health: tc.health}
			target.ApplyDefaults()
			if err := target.Validate("target"); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t)
			e.cw = newFakeCloudWatch()
			e.cw.alarms["hello-prod-errors"] = fakeAlarm{state: cwtypes.StateValueOk}
			lg := &fakeLogs{}
			clock := func() time.Time { return e.now }
			log := slog.New(slog.NewJSONHandler(&e.logs, nil))
			e.h = shift.New(e.lambda, e.cw, e.sf, audit.New(log, e.bus, &audit.Options{Now: clock}), metrics.New(&e.emf, clock),
				&shift.Options{Log: log, Now: clock, Logs: lg})
			e.lam.SetAlias(t, fn, "stg", "5", nil)
			e.lam.SetAlias(t, fn, "prod", "4", nil)
			tr := &traffic{lg: lg, cw: e.cw, group: "/aws/lambda/" + fn}

			state := load(t, "check-health-timeout.json").Promotion
			state.Target, state.Steps, state.Bake, state.Shift = target, promotion.Plan(target.Strategy), nil, nil
			run := func(action string) {
				t.Helper()
				out, err := e.run(promotion.TaskRequest{Action: action, Execution: "arn:aws:states:us-east-1:000000000000:execution:aliasflow-promotion:hello-v5-9f86d081", Promotion: state})
				if err != nil {
					t.Fatalf("%s: %v", action, err)
				}
				if keepsShift(action) {
					state.Shift = out
				}
			}
			run(promotion.ActionBegin)
			for checks := 0; !state.Shift.Done; checks++ {
				if checks > 100 {
					t.Fatalf("no end after %d checks: %s", checks, state.Shift.Verdict)
				}
				if !state.Shift.Extend {
					run(promotion.ActionSetWeight)
				}
				for range state.Shift.BakeSeconds {
					tr.second(e.now, 20, state.Shift.Weight, kindOK)
					e.now = e.now.Add(time.Second)
				}
				state.Bake = &promotion.Bake{Error: "States.Timeout"}
				run(promotion.ActionCheckHealth)
			}
			run(promotion.ActionFinalize)
			if got := e.alias("prod"); got != "5" {
				t.Fatalf("prod = %s after the promotion, want 5", got)
			}
			got := map[string]int{}
			for op := range maps.Keys(tc.want) {
				got[op] = e.lam.Count(op)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("control-plane requests %v, want %v (calls: %v)", got, tc.want, e.lam.Calls())
			}
		})
	}
}

// TestCarriedProdDrift: a move of prod from the state's revision that
// finds prod changed since (Lambda's PreconditionFailedException) reads
// prod once and decides on what it finds: a prod moved by someone else
// fails the task as before, nothing written; a prod rewritten as it was
// (a new RevisionId only) is moved.
func TestCarriedProdDrift(t *testing.T) {
	tests := []struct {
		name      string
		meanwhile func(e *env)
		action    string
		wantErr   string
		wantProd  string
		wantReads int // GetAlias calls by the task
	}{
		{name: "finalize after prod was rolled back by hand", action: promotion.ActionFinalize,
			meanwhile: func(e *env) { e.lam.SetAlias(t, fn, "prod", "4", nil) },
			wantErr:   promotion.ErrTaskFailed, wantProd: "4", wantReads: 1},
		{name: "finalize after prod was rewritten unchanged", action: promotion.ActionFinalize,
			meanwhile: func(e *env) { e.lam.SetAlias(t, fn, "prod", "4", map[string]float64{"5": 0.25}) },
			wantProd:  "5", wantReads: 1},
		{name: "finalize with prod as left", action: promotion.ActionFinalize,
			meanwhile: func(*env) {}, wantProd: "5", wantReads: 0},
		{name: "the next step after prod moved to another version", action: promotion.ActionSetWeight,
			meanwhile: func(e *env) { e.lam.SetAlias(t, fn, "prod", "3", nil) },
			wantErr:   promotion.ErrTaskFailed, wantProd: "3", wantReads: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(t, fn, "stg", "5", nil)
			e.lam.SetAlias(t, fn, "prod", "4", nil)
			// Set-weight of the first step, its result kept as the
			// definition keeps it.
			req := request(t, promotion.ActionSetWeight, 0)
			req.Promotion.Shift.Prod = ""
			s, err := e.run(req)
			if err != nil {
				t.Fatal(err)
			}
			tc.meanwhile(e)
			next := *s
			next.Step = 1
			if tc.action == promotion.ActionFinalize {
				next.Weight, next.Done = 1, true
			} else {
				next.Weight = req.Promotion.Steps[1].Weight
			}
			req = request(t, tc.action, 0)
			req.Promotion.Shift = &next
			reads := e.lam.Count("GetAlias")
			_, err = e.run(req)
			wantErrorName(t, err, tc.wantErr)
			if got := e.alias("prod"); got != tc.wantProd {
				t.Errorf("prod = %s, want %s", got, tc.wantProd)
			}
			if got := e.lam.Count("GetAlias") - reads; got != tc.wantReads {
				t.Errorf("%s read prod %d times, want %d", tc.action, got, tc.wantReads)
			}
		})
	}
}
