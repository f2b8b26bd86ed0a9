package shift_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/fakes/sfnfake"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

// TestRefusesWhatNoRunningPromotionScheduled: the shift runs only the task
// the promotion state machine scheduled, for an execution that is RUNNING
// and in that task's state (DescribeExecution, GetExecutionHistory); a
// payload a person wrote and invoked by hand moves nothing and leaves no
// audit record, whatever actor it claims.
func TestRefusesWhatNoRunningPromotionScheduled(t *testing.T) {
	const cfo = "arn:aws:iam::000000000000:user/cfo"
	exec := "arn:aws:states:us-east-1:000000000000:execution:aliasflow-promotion:hello-v5-9f86d081"
	finalize := func(t *testing.T) promotion.TaskRequest {
		req := request(t, promotion.ActionFinalize, 2)
		req.Promotion.Shift = &promotion.Shift{StableVersion: "4", Step: 3, Weight: 1, Done: true}
		return req
	}
	rollback := func(t *testing.T) promotion.TaskRequest {
		req := load(t, "rollback-after-health.json")
		req.Actor = cfo
		return req
	}
	tests := []struct {
		name string
		req  func(t *testing.T) promotion.TaskRequest
		// setup scripts the execution the forged request names.
		setup func(e *env, req promotion.TaskRequest)
		why   string
	}{
		{name: "forged finalize for an execution that never existed", req: finalize,
			setup: func(*env, promotion.TaskRequest) {}, why: "does not exist"},
		{name: "forged rollback claiming the cfo, no execution", req: rollback,
			setup: func(*env, promotion.TaskRequest) {}, why: "does not exist"},
		{name: "the CLI's old rollback payload (no execution)", req: func(t *testing.T) promotion.TaskRequest { return load(t, "rollback-cli.json") },
			setup: func(*env, promotion.TaskRequest) {}, why: "is not an execution of the aliasflow-promotion state machine"},
		{name: "forged rollback claiming the cfo while the promotion bakes", req: rollback,
			setup: func(e *env, req promotion.TaskRequest) {
				bake := request(t, promotion.ActionBake, 0)
				schedule(e.sf, bake)
			}, why: `is in state "Bake", not Rollback`},
		{name: "forged finalize while the promotion checks health", req: finalize,
			setup: func(e *env, req promotion.TaskRequest) {
				schedule(e.sf, request(t, promotion.ActionCheckHealth, 0))
			}, why: `is in state "CheckHealth", not Finalize`},
		{name: "forged finalize for a promotion that was rolled back", req: finalize,
			setup: func(e *env, req promotion.TaskRequest) {
				schedule(e.sf, rollback(t))
				e.sf.End(exec, sfntypes.ExecutionStatusFailed)
			}, why: "has ended (ExecutionFailed), not RUNNING"},
		{name: "replayed finalize after its task ended", req: finalize,
			setup: func(e *env, req promotion.TaskRequest) {
				schedule(e.sf, req)
				e.sf.Exit(exec, "Task", promotion.StateFinalize, "{}")
			}, why: "no task is running"},
		{name: "an execution of another state machine", req: func(t *testing.T) promotion.TaskRequest {
			req := finalize(t)
			req.Execution = "arn:aws:states:us-east-1:000000000000:execution:other:hello-v5-9f86d081"
			return req
		}, setup: func(*env, promotion.TaskRequest) {}, why: "is not an execution of the aliasflow-promotion state machine"},
		{name: "scheduled for another Lambda", req: finalize,
			setup: func(e *env, req promotion.TaskRequest) {
				e.sf.Start(sfnfake.StateMachineARN(deploy.StateMachine), "hello-v5-9f86d081", "{}")
				payload, _ := json.Marshal(req)
				params, _ := json.Marshal(map[string]any{"FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:evil", "Payload": json.RawMessage(payload)})
				e.sf.Schedule(exec, promotion.StateFinalize, string(params))
			}, why: `invokes "evil"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(fn, "stg", "5", nil)
			e.lam.SetAlias(fn, "prod", "4", map[string]float64{"5": 0.75})
			req := tc.req(t)
			tc.setup(e, req)
			_, err := e.h.Handle(ctx, req)
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
// Finalize task, a hand-written finalize naming another version (2, whose
// own promotion was rolled back) runs the task as the state machine
// scheduled it — version 5 — and nothing of the forged payload.
func TestRunsTheScheduledRequestNotThePayload(t *testing.T) {
	e := newEnv(t)
	e.lam.Publish(fn) // 7
	e.lam.SetAlias(fn, "stg", "5", nil)
	e.lam.SetAlias(fn, "prod", "4", map[string]float64{"5": 0.75})
	req := request(t, promotion.ActionFinalize, 2)
	req.Promotion.Shift = &promotion.Shift{StableVersion: "4", Step: 3, Weight: 1, Done: true}
	schedule(e.sf, req)
	forged := req
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
	e.lam.SetAlias(fn, "stg", "5", nil)
	e.lam.SetAlias(fn, "prod", "4", map[string]float64{"5": 0.25})
	req := request(t, promotion.ActionRollback, 0)
	cause, _ := json.Marshal(promotion.Override{Actor: ops, Reason: "5xx after v5"})
	req.Promotion.Failure = &promotion.Failure{Error: promotion.ErrOperatorRollback, Cause: string(cause)}
	if _, err := e.run(req); err != nil {
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
			e.lam.SetAlias(fn, "stg", "5", nil)
			e.lam.SetAlias(fn, "prod", "4", map[string]float64{"5": 0.25})
			req := tc.req(t)
			schedule(e.sf, req)
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
	throttle := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
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
			e.lam.SetAlias(fn, "stg", "5", nil)
			e.lam.SetAlias(fn, "prod", "4", nil)
			req := request(t, promotion.ActionSetWeight, 0)
			schedule(e.sf, req)
			errs := make([]error, tc.throttles)
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
	schedule(e.sf, req)
	e.sf.Fail("GetExecutionHistory", &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"})
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := e.h.Handle(short, req)
	wantErrorName(t, err, promotion.ErrTransient)
	if len(e.slept) != 0 {
		t.Errorf("waits = %v, want none with less than the reserve left", e.slept)
	}
}
