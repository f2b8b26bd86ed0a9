package approval_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/audit/audittest"
	"github.com/aliasflow/aliasflow/shared/ledger"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// fakeTrail is a function's audit trail as the log group holds it.
type fakeTrail []audit.Record

func (f fakeTrail) Function(_ context.Context, fn string) (ledger.Trail, error) {
	return ledger.NewTrail(f).Of(fn), nil
}

const operatorARN = "arn:aws:iam::000000000000:user/aliasflow-operator"

// completed1to2 is the trail of a promotion that moved prod 1 → 2 (and of
// version 1's own first release).
func completed1to2() fakeTrail {
	t0 := time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC)
	rec := func(at time.Duration, ev audit.Event, from, to, exec string) audit.Record {
		return audit.Record{Audit: true, Function: "hello", Event: ev, Alias: promotion.AliasProd, FromVersion: from, ToVersion: to,
			Execution: "arn:aws:states:us-east-1:000000000000:execution:aliasflow-promotion:" + exec, Time: t0.Add(at)}
	}
	return fakeTrail{
		rec(0, audit.AliasMoved, "", "1", "hello-v1-0a0a0a0a"),
		rec(0, audit.PromotionCompleted, "", "1", "hello-v1-0a0a0a0a"),
		rec(time.Hour, audit.AliasMoved, "1", "2", "hello-v2-0b0b0b0b"),
		rec(time.Hour, audit.PromotionCompleted, "1", "2", "hello-v2-0b0b0b0b"),
	}
}

// TestManualRollbackStartsAnExecution: with no promotion shifting, an
// operator's rollback through POST /override names a function, not an
// execution; the approval Lambda decides the version from the audit trail
// and starts an execution of the promotion state machine in rollback mode
// whose input carries the caller API Gateway verified — never a name in
// the body. A version no approved promotion put on prod needs break-glass.
func TestManualRollbackStartsAnExecution(t *testing.T) {
	tests := []struct {
		name      string
		principal string
		body      map[string]any
		prod      map[string]float64 // weights of prod (on 2)
		trail     fakeTrail
		// shifting starts a promotion of hello that has entered BeginShift.
		shifting bool
		status   int
		why      string
		wantTo   string
		glass    bool
		dryRun   bool
	}{
		{name: "back to the version the last promotion replaced", principal: operatorARN,
			body: map[string]any{"action": "rollback", "function": "hello", "comment": "5xx after v2"}, trail: completed1to2(),
			status: http.StatusOK, wantTo: "1"},
		{name: "to a version an approved promotion put on prod", principal: operatorARN,
			body: map[string]any{"action": "rollback", "function": "hello", "to": "1", "comment": "x"}, trail: completed1to2(),
			status: http.StatusOK, wantTo: "1"},
		{name: "to a never-approved version", principal: operatorARN,
			body: map[string]any{"action": "rollback", "function": "hello", "to": "5", "comment": "x"}, trail: completed1to2(),
			status: http.StatusConflict, why: "never went to prod through an approved promotion"},
		{name: "to a never-approved version, break-glass", principal: operatorARN,
			body: map[string]any{"action": "rollback", "function": "hello", "to": "5", "breakGlass": true, "comment": "x"}, trail: completed1to2(),
			status: http.StatusOK, wantTo: "5", glass: true},
		{name: "break-glass without a version", principal: operatorARN,
			body: map[string]any{"action": "rollback", "function": "hello", "breakGlass": true}, trail: completed1to2(),
			status: http.StatusBadRequest, why: "breakGlass needs to"},
		{name: "to a version that does not exist, break-glass", principal: operatorARN,
			body: map[string]any{"action": "rollback", "function": "hello", "to": "99", "breakGlass": true}, trail: completed1to2(),
			status: http.StatusNotFound, why: "no published version 99"},
		{name: "a forged actor in the body is no field", principal: operatorARN,
			body: map[string]any{"action": "rollback", "function": "hello", "actor": "arn:aws:iam::000000000000:user/cfo"}, trail: completed1to2(),
			status: http.StatusBadRequest, why: "unknown field"},
		{name: "no verified caller", principal: "",
			body: map[string]any{"action": "rollback", "function": "hello"}, trail: completed1to2(),
			status: http.StatusForbidden, why: "no verified IAM caller"},
		{name: "prod is weighted", principal: operatorARN, prod: map[string]float64{"3": 0.1},
			body: map[string]any{"action": "rollback", "function": "hello"}, trail: completed1to2(),
			status: http.StatusConflict, why: "routes between versions"},
		{name: "a promotion is shifting prod", principal: operatorARN, shifting: true,
			body: map[string]any{"action": "rollback", "function": "hello"}, trail: completed1to2(),
			status: http.StatusConflict, why: "is shifting prod of hello"},
		{name: "an empty trail", principal: operatorARN,
			body: map[string]any{"action": "rollback", "function": "hello"}, trail: fakeTrail{},
			status: http.StatusConflict, why: "no version of prod of hello before 2"},
		{name: "dry run starts nothing", principal: operatorARN,
			body: map[string]any{"action": "rollback", "function": "hello", "dryRun": true}, trail: completed1to2(),
			status: http.StatusOK, wantTo: "1", dryRun: true},
		{name: "function on a promotion override", principal: operatorARN,
			body: map[string]any{"action": "promote-now", "function": "hello"}, trail: completed1to2(),
			status: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sb := sandboxtest.NewPromotion(t)
			if tc.shifting {
				shifting(t, sb)
			}
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			h := approval.New(sb.SFN, &fakeSNS{}, lambdaWith(t, map[string]string{"prod": "2", "stg": "2"}, tc.prod).Client, nil,
				audit.New(log, &audittest.Bus{}, nil), metrics.New(&bytes.Buffer{}, nil),
				&approval.Options{Log: log, Rollbacks: sb.SFN, Trail: tc.trail, StateMachine: sb.MachineARN})
			res := h.ServeAPIGateway(context.Background(), callerReq(approval.OverridePath, tc.principal, tc.body))
			if res.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d; body %s", res.StatusCode, tc.status, res.Body)
			}
			var got approval.CallerResponse
			if err := json.Unmarshal([]byte(res.Body), &got); err != nil {
				t.Fatalf("body %q: %v", res.Body, err)
			}
			if !strings.Contains(got.Error, tc.why) {
				t.Errorf("error = %q, want it to contain %q", got.Error, tc.why)
			}
			rollbacks := rollbacksOf(t, sb, "hello")
			if tc.status != http.StatusOK || tc.dryRun {
				if len(rollbacks) != 0 {
					t.Errorf("started %d rollback executions, want none", len(rollbacks))
				}
				if tc.dryRun && (got.From != "2" || got.To != tc.wantTo) {
					t.Errorf("plan %s → %s, want 2 → %s", got.From, got.To, tc.wantTo)
				}
				return
			}
			if len(rollbacks) != 1 {
				t.Fatalf("started %d rollback executions, want 1", len(rollbacks))
			}
			if got.Execution != rollbacks[0].ARN || got.From != "2" || got.To != tc.wantTo || got.Principal != tc.principal {
				t.Errorf("answer = %+v, want execution %s, 2 → %s by %s", got, rollbacks[0].ARN, tc.wantTo, tc.principal)
			}
			var in promotion.Input
			if err := json.Unmarshal([]byte(rollbacks[0].Input), &in); err != nil {
				t.Fatalf("input %q: %v", rollbacks[0].Input, err)
			}
			want := promotion.ManualRollback{From: "2", To: tc.wantTo, Actor: tc.principal, Reason: tc.body["comment"].(string), BreakGlass: tc.glass}
			if in.Function != "hello" || in.Version != tc.wantTo || in.Rollback == nil || *in.Rollback != want {
				t.Errorf("input = %+v (rollback %+v), want hello %s with %+v", in, in.Rollback, tc.wantTo, want)
			}
		})
	}
}

// shifting runs a promotion of hello version 3 on the definition until it
// has entered BeginShift: smoke passed, approved, the shift beginning.
func shifting(t *testing.T, sb *sandboxtest.Promotion) {
	t.Helper()
	in := testState().Input
	in.Version = "3"
	arn, req := sb.StartWaiting(t, promotion.ExecutionName("hello", "3", "c2hhLW9mLWhlbGxv"), in)
	sb.Handle(promotion.ActionGranted, sandboxtest.Return(map[string]any{}))
	out, _ := json.Marshal(promotion.Decision{Approved: true, Approver: alice, Via: "link", DecidedAt: entered})
	if _, err := sb.SFN.SendTaskSuccess(context.Background(), &sfn.SendTaskSuccessInput{TaskToken: aws.String(req.TaskToken), Output: aws.String(string(out))}); err != nil {
		t.Fatal(err)
	}
	sb.Request(t, arn, promotion.ActionBegin, 1) // parked: BeginShift is in progress
}

// execution is one execution as ListExecutions and DescribeExecution
// tell it.
type execution struct{ ARN, Input string }

// rollbacksOf lists the manual rollback executions of fn started on the
// promotion state machine.
func rollbacksOf(t *testing.T, sb *sandboxtest.Promotion, fn string) []execution {
	t.Helper()
	ctx := context.Background()
	var out []execution
	p := sfn.NewListExecutionsPaginator(sb.SFN, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sb.MachineARN)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListExecutions: %v", err)
		}
		for _, e := range page.Executions {
			if !approval.IsRollbackOf(fn, aws.ToString(e.ExecutionArn)) {
				continue
			}
			d, err := sb.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
			if err != nil {
				t.Fatalf("DescribeExecution: %v", err)
			}
			out = append(out, execution{ARN: aws.ToString(e.ExecutionArn), Input: aws.ToString(d.Input)})
		}
	}
	return out
}

// TestManualRollbackName: the name is deterministic, fits Step Functions'
// 80 characters, and is no promotion's.
func TestManualRollbackName(t *testing.T) {
	tests := []struct{ name, fn string }{
		{name: "short", fn: "hello"},
		{name: "long", fn: strings.Repeat("f", 64)},
		{name: "a function whose name looks like a rollback", fn: "hello-rollback-1-abcdefab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := approval.RollbackName(tc.fn, "12", "k"), approval.RollbackName(tc.fn, "12", "k")
			if a != b || len(a) > 80 {
				t.Errorf("RollbackName = %q then %q, want the same name of at most 80 characters", a, b)
			}
			if !approval.IsRollbackOf(tc.fn, a) {
				t.Errorf("IsRollbackOf(%q, %q) = false", tc.fn, a)
			}
			if approval.IsRollbackOf(tc.fn+"x", a) && len(a) < 80 {
				t.Errorf("IsRollbackOf(%q, %q) = true for another function", tc.fn+"x", a)
			}
			if _, ok := promotion.ParseExecutionName(a); ok {
				t.Errorf("%q parses as a promotion's name", a)
			}
		})
	}
}
