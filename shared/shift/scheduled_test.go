package shift_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/infra/statemachine"
	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// onPromotion makes e's handler verify its callers against the promotion
// definition run by the sandbox's interpreter (sandboxtest), and starts
// the promotion of hello version 5 the payloads in testdata belong to,
// smoke passed, approved, and the smoke test's call in flight.
func (e *env) onPromotion(t *testing.T, opts ...sandboxtest.Option) *sandboxtest.Run {
	t.Helper()
	fixture := load(t, "set-weight.json")
	p := sandboxtest.NewPromotion(t, append([]sandboxtest.Option{sandboxtest.At(fixture.StartTime)}, opts...)...)
	e.verifyOn(p.SFN)
	return p.Run(t, fixture.Promotion.Input)
}

// shifting drives r through smoke, approval and BeginShift (prod on 4).
func shifting(r *sandboxtest.Run) *sandboxtest.Run {
	return r.Smoke(true).AwaitApproval().Approve("lead@example.com").BeginShift("4")
}

// TestRefusesWhatNoRunningPromotionScheduled: the shift runs only the task
// the promotion state machine scheduled, for an execution that is RUNNING
// and in that task's state (DescribeExecution, GetExecutionHistory); a
// payload a person wrote and invoked by hand moves nothing and leaves no
// audit record, whatever actor it claims. The executions are the
// definition's own, run to each point by the sandbox's interpreter.
func TestRefusesWhatNoRunningPromotionScheduled(t *testing.T) {
	const cfo = "arn:aws:iam::000000000000:user/cfo"
	finalize := func(t *testing.T, exec string) promotion.TaskRequest {
		req := request(t, promotion.ActionFinalize, 2)
		req.Execution = exec
		req.Promotion.Shift = &promotion.Shift{StableVersion: "4", Step: 3, Weight: 1, Done: true}
		return req
	}
	rollback := func(t *testing.T, exec string) promotion.TaskRequest {
		req := load(t, "rollback-after-health.json")
		req.Execution = exec
		req.Actor = cfo
		return req
	}
	never := sandboxtest.ExecutionARN("hello-v6-0a0a0a0a")
	tests := []struct {
		name string
		opts []sandboxtest.Option
		// drive takes the promotion to the point the forged request comes in.
		drive func(r *sandboxtest.Run)
		req   func(t *testing.T, exec string) promotion.TaskRequest
		why   string
	}{
		{name: "forged finalize for an execution that never existed",
			req: func(t *testing.T, _ string) promotion.TaskRequest { return finalize(t, never) }, why: "does not exist"},
		{name: "forged rollback claiming the cfo, no execution",
			req: func(t *testing.T, _ string) promotion.TaskRequest { return rollback(t, never) }, why: "does not exist"},
		{name: "the CLI's old rollback payload (no execution)",
			req: func(t *testing.T, _ string) promotion.TaskRequest { return load(t, "rollback-cli.json") },
			why: "is not an execution of the aliasflow-promotion state machine"},
		{name: "forged rollback claiming the cfo while the promotion bakes", drive: func(r *sandboxtest.Run) { shifting(r).Bake() },
			req: rollback, why: "no task is running (the latest event is TaskSubmitted)"},
		{name: "forged rollback claiming the cfo while the weight is set", drive: func(r *sandboxtest.Run) { shifting(r) },
			req: rollback, why: `is in state "SetWeight", not Rollback`},
		{name: "forged finalize while the promotion checks health", drive: func(r *sandboxtest.Run) { shifting(r).Bake().CheckHealth() },
			req: finalize, why: `is in state "CheckHealth", not Finalize`},
		{name: "forged finalize for a promotion that was rolled back", drive: func(r *sandboxtest.Run) { shifting(r).Bake().Unhealthy() },
			req: finalize, why: "has ended (ExecutionFailed), not RUNNING"},
		{name: "replayed finalize after the promotion completed",
			drive: func(r *sandboxtest.Run) {
				shifting(r)
				for range r.In.Steps {
					r.Bake().BakeOver()
				}
				r.Finalize()
			},
			req: finalize, why: "has ended (ExecutionSucceeded), not RUNNING"},
		{name: "an execution of another state machine", req: func(t *testing.T, exec string) promotion.TaskRequest {
			return finalize(t, "arn:aws:states:us-east-1:000000000000:execution:other:hello-v5-9f86d081")
		}, why: "is not an execution of the aliasflow-promotion state machine"},
		{name: "a definition deployed to invoke another Lambda", opts: []sandboxtest.Option{
			sandboxtest.Resolve(statemachine.ShiftFunctionArn, "arn:aws:lambda:us-east-1:000000000000:function:evil")},
			drive: func(r *sandboxtest.Run) { shifting(r) },
			req: func(t *testing.T, exec string) promotion.TaskRequest {
				req := request(t, promotion.ActionSetWeight, 0)
				req.Execution = exec
				return req
			}, why: `invokes "evil"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(e.t, fn, "stg", "5", nil)
			e.lam.SetAlias(e.t, fn, "prod", "4", map[string]float64{"5": 0.75})
			r := e.onPromotion(t, tc.opts...)
			if tc.drive != nil {
				tc.drive(r)
			}
			_, err := e.h.Handle(ctx, tc.req(t, r.ARN))
			wantErrorName(t, err, shift.ErrNotScheduled)
			wantContains(t, "error", message(err), tc.why)
			if got := e.alias("prod"); got != "4 + 5@0.75" {
				t.Errorf("prod = %s, want it untouched (4 + 5@0.75)", got)
			}
			if n := e.lam.Succeeded("UpdateAlias"); n != 0 {
				t.Errorf("UpdateAlias succeeded %d times, want none", n)
			}
			wantSummary(t, e, []string{})
			if e.bus.Calls() != 0 {
				t.Errorf("PutEvents calls = %d, want none", e.bus.Calls())
			}
			if bytes.Contains(e.logs.Bytes(), []byte(`"actor":"`+cfo)) {
				t.Errorf("a log line names the forged actor as actor:\n%s", e.logs.String())
			}
		})
	}
}

// TestRunsTheScheduledRequestNotThePayload: while the promotion runs its
// Finalize task, a hand-written finalize naming another version (7) runs
// the task as the state machine scheduled it — version 5 — and nothing of
// the forged payload.
func TestRunsTheScheduledRequestNotThePayload(t *testing.T) {
	e := newEnv(t)
	e.publish() // 7
	e.lam.SetAlias(e.t, fn, "stg", "5", nil)
	e.lam.SetAlias(e.t, fn, "prod", "4", map[string]float64{"5": 0.75})
	r := shifting(e.onPromotion(t))
	for range r.In.Steps {
		r.Bake().BakeOver()
	}
	// Finalize's call is in flight: the definition scheduled it.
	forged := request(t, promotion.ActionFinalize, 2)
	forged.Execution = r.ARN
	forged.Actor = "arn:aws:iam::000000000000:user/cfo"
	forged.Promotion.Version = "7"
	forged.Promotion.Steps = nil
	if _, err := e.h.Handle(ctx, forged); err != nil {
		t.Fatalf("finalize: %v", err)
	}
	if got := e.alias("prod"); got != "5" {
		t.Errorf("prod = %s, want 5 (the scheduled version, not the forged 7)", got)
	}
	for _, r := range wantSummary(t, e, []string{"alias.moved prod 4>5", "promotion.completed prod 4>5"}) {
		if r.Actor != "aliasflow" || strings.Contains(r.Reason, "cfo") {
			t.Errorf("%s actor = %q, reason %q; want aliasflow and no forged name", r.Event, r.Actor, r.Reason)
		}
	}
}

// TestOperatorRollbackNamesTheVerifiedCaller: an operator's rollback fails
// the bake through the approval API, whose Cause names the caller API
// Gateway verified; the rollback the definition then runs records that
// caller, once per record.
func TestOperatorRollbackNamesTheVerifiedCaller(t *testing.T) {
	const ops = "arn:aws:sts::000000000000:assumed-role/oncall/ops"
	e := newEnv(t)
	e.lam.SetAlias(e.t, fn, "stg", "5", nil)
	e.lam.SetAlias(e.t, fn, "prod", "4", map[string]float64{"5": 0.25})
	r := shifting(e.onPromotion(t)).Bake()
	cause, _ := json.Marshal(promotion.Override{Actor: ops, Reason: "5xx after v5"})
	// The approval API answers the Bake's token so; the definition's Catch
	// puts it in $.failure and runs Rollback.
	if _, err := r.P.SFN.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(r.Token()),
		Error: aws.String(promotion.ErrOperatorRollback), Cause: aws.String(string(cause))}); err != nil {
		t.Fatal(err)
	}
	req := r.P.Request(t, r.ARN, promotion.ActionRollback, 1)
	if _, err := e.h.Handle(ctx, req); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if got := e.alias("prod"); got != "4" {
		t.Errorf("prod = %s, want 4", got)
	}
	for _, r := range wantSummary(t, e, []string{"alias.moved prod 5>4 @0", "promotion.rolled_back prod 5>4"}) {
		if r.Actor != ops {
			t.Errorf("%s actor = %q, want %s", r.Event, r.Actor, ops)
		}
		if r.Event == "promotion.rolled_back" && r.Reason != "rolled back by "+ops+": 5xx after v5" {
			t.Errorf("reason = %q", r.Reason)
		}
	}
}

// count is how many times op appears in calls.
func count(calls []string, op string) int {
	n := 0
	for _, c := range calls {
		if c == op {
			n++
		}
	}
	return n
}

// TestCallerCheckCostsOneRead: the caller check runs on every task, and
// Step Functions' buckets are the account's (DescribeExecution refills at
// 15/s, GetExecutionHistory at 20/s in us-east-1: "Step Functions service
// quotas"); at 200 promotions a DescribeExecution plus a history page per
// task emptied them. One GetExecutionHistory page, newest first, tells
// that the execution runs this task, and nothing else is read.
func TestCallerCheckCostsOneRead(t *testing.T) {
	tests := []struct {
		name string
		req  func(t *testing.T) promotion.TaskRequest
	}{
		{name: "set weight", req: func(t *testing.T) promotion.TaskRequest { return request(t, promotion.ActionSetWeight, 1) }},
		{name: "bake", req: func(t *testing.T) promotion.TaskRequest { return request(t, promotion.ActionBake, 1) }},
		{name: "finalize", req: func(t *testing.T) promotion.TaskRequest {
			req := request(t, promotion.ActionFinalize, 2)
			req.Promotion.Shift = &promotion.Shift{StableVersion: "4", Step: 3, Weight: 1, Done: true}
			return req
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(e.t, fn, "stg", "5", nil)
			e.lam.SetAlias(e.t, fn, "prod", "4", map[string]float64{"5": 0.25})
			req := tc.req(t)
			schedule(t, e.sf, req)
			before := len(e.sf.Calls())
			if _, err := e.h.Handle(ctx, req); err != nil {
				t.Fatalf("%s: %v", req.Action, err)
			}
			calls := e.sf.Calls()[before:]
			if got := count(calls, "DescribeExecution"); got != 0 {
				t.Errorf("DescribeExecution calls = %d, want 0 (calls %v)", got, calls)
			}
			if got := count(calls, "GetExecutionHistory"); got != 1 {
				t.Errorf("GetExecutionHistory calls = %d, want 1 (calls %v)", got, calls)
			}
		})
	}
}

// TestThrottledCallerCheckIsWaitedOut: a throttled history read says the
// account's bucket is empty for a moment, not that the caller is wrong;
// the check waits (backing off) and the task runs, instead of failing
// towards a rollback of a possibly healthy release. Each wait is bounded.
func TestThrottledCallerCheckIsWaitedOut(t *testing.T) {
	throttle := core.Errorf("ThrottlingException", http.StatusBadRequest, "Rate exceeded")
	tests := []struct {
		name      string
		throttles int
	}{
		{name: "one throttle", throttles: 1},
		{name: "more throttles than the SDK retries", throttles: 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(e.t, fn, "stg", "5", nil)
			e.lam.SetAlias(e.t, fn, "prod", "4", nil)
			req := request(t, promotion.ActionSetWeight, 0)
			schedule(t, e.sf, req)
			errs := make([]*core.APIError, tc.throttles)
			for i := range errs {
				errs[i] = throttle
			}
			e.sf.Fail("GetExecutionHistory", errs...)
			if _, err := e.h.Handle(ctx, req); err != nil {
				t.Fatalf("set weight after %d throttles: %v (%s)", tc.throttles, err, errorName(err))
			}
			if got := e.alias("prod"); got != "4 + 5@0.25" {
				t.Errorf("prod = %s, want 4 + 5@0.25 (step 0 set)", got)
			}
			if len(e.slept) != tc.throttles {
				t.Errorf("waits = %d, want %d (one per throttle)", len(e.slept), tc.throttles)
			}
			for _, d := range e.slept {
				if d <= 0 || d > 8*time.Second+time.Millisecond {
					t.Errorf("wait %s, want within (0, 8s]", d)
				}
			}
		})
	}
}

// TestCallerCheckGivesUpBeforeTheDeadline: when the invocation's time runs
// out while still throttled, the throttle goes back as aliasflow.Transient
// (the definition retries the task) before Lambda would time the
// invocation out.
func TestCallerCheckGivesUpBeforeTheDeadline(t *testing.T) {
	e := newEnv(t)
	req := request(t, promotion.ActionSetWeight, 0)
	schedule(t, e.sf, req)
	e.sf.Fail("GetExecutionHistory", core.Errorf("ThrottlingException", http.StatusBadRequest, "Rate exceeded"))
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := e.h.Handle(short, req)
	wantErrorName(t, err, promotion.ErrTransient)
	if len(e.slept) != 0 {
		t.Errorf("waits = %v, want none with less than the reserve left", e.slept)
	}
}
