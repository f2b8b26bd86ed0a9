package cli_test

// These tests run the CLI against the sandbox's Step Functions (the real
// ASL interpreter running infra/statemachine/promotion.asl.json) through
// the real SDK client, so the progress reader and the deciders are checked
// against histories as the interpreter writes them, not only as the fakes
// script them. The task Lambdas are scripted; the clock is a fake one.

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/states"
	"github.com/aliasflow/aliasflow/sandbox/states/statestest"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// scriptedLambdas answers the pipeline's tasks: smoke passes, the approval
// request only parks the token, the shift walks a canary.
type scriptedLambdas struct {
	mu      sync.Mutex
	actions []string
	healthy bool
	// rollback is the last rollback request the definition sent.
	rollback *promotion.TaskRequest
}

func (l *scriptedLambdas) Invoke(_ context.Context, function, _ string, payload []byte) (core.InvokeResult, error) {
	var req promotion.TaskRequest
	if err := json.Unmarshal(payload, &req); err != nil {
		return core.InvokeResult{}, err
	}
	l.mu.Lock()
	l.actions = append(l.actions, req.Action)
	if req.Action == promotion.ActionRollback {
		l.rollback = &req
	}
	healthy := l.healthy
	l.mu.Unlock()
	var out any = map[string]any{}
	switch req.Action {
	case promotion.ActionSmoke:
		out = promotion.SmokeResult{Passed: true, Checks: []promotion.CheckResult{{Name: "greets", Passed: true, Attempts: 1}}}
	case promotion.ActionBegin:
		s := req.Promotion.Steps[0]
		out = promotion.Shift{StableVersion: "1", Step: 0, Weight: s.Weight, BakeSeconds: s.BakeSeconds}
	case promotion.ActionSetWeight:
		// The shift, as the shift function returns it.
		out = *req.Promotion.Shift
	case promotion.ActionCheckHealth:
		if !healthy {
			b, _ := json.Marshal(map[string]string{"errorType": promotion.ErrHealthCheckFailed, "errorMessage": "error rate 50% > 5%"})
			return core.InvokeResult{Payload: b, FunctionError: "Unhandled", ExecutedVersion: "$LATEST"}, nil
		}
		out = promotion.Shift{StableVersion: "1", Step: 1, Weight: 1, Done: true}
	}
	b, _ := json.Marshal(out)
	return core.InvokeResult{Payload: b, ExecutedVersion: "$LATEST"}, nil
}

type interpreted struct {
	w     *world
	clock *statestest.Clock
	svc   *states.Service
	lam   *scriptedLambdas
	exec  string
	name  string
}

func startInterpreted(t *testing.T, healthy bool) *interpreted {
	t.Helper()
	def, err := os.ReadFile("../infra/statemachine/promotion.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	definition := strings.NewReplacer(
		"${SmokeTestFunctionArn}", core.FunctionARN("aliasflow-smoketest", ""),
		"${ApprovalFunctionArn}", core.FunctionARN("aliasflow-approval", ""),
		"${ShiftFunctionArn}", core.FunctionARN("aliasflow-shift", ""),
		"${ApprovalUrl}", "http://127.0.0.1:4566/approvals",
	).Replace(string(def))
	it := &interpreted{clock: statestest.NewClock(clitest.T0), lam: &scriptedLambdas{healthy: healthy}}
	it.svc = states.New(it.lam, &states.Options{Now: it.clock.Now, AfterFunc: it.clock.AfterFunc, Random: func() float64 { return 0.5 }})
	t.Cleanup(it.svc.Close)
	srv := httptest.NewServer(it.svc)
	t.Cleanup(srv.Close)
	sm, err := it.svc.CreateStateMachine("aliasflow-promotion", definition, "arn:aws:iam::000000000000:role/states")
	if err != nil {
		t.Fatal(err)
	}
	target := config.Target{Function: "hello", Strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 300},
		Approvers: []string{"alice@example.com"}, ApprovalTimeoutSeconds: 3600}
	target.ApplyDefaults()
	in := promotion.Input{Function: "hello", Version: "2", PreviousStgVersion: "1",
		Release: promotion.Release{CodeSha256: "q83vEjRWeJA=", Source: "codebuild"}, Target: target, Steps: promotion.Plan(target.Strategy)}
	raw, _ := json.Marshal(in)
	it.name = promotion.ExecutionName("hello", "2", in.Release.CodeSha256)
	if it.exec, err = it.svc.StartExecution(context.Background(), sm, it.name, string(raw)); err != nil {
		t.Fatal(err)
	}
	client := sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), HTTPClient: awsenv.LoopbackOnlyClient(),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	it.w = newWorld(t)
	it.w.states = nil
	it.w.sfn = client
	it.w.now = clitest.T0
	return it
}

// until polls the execution's history until it waits in a
// waitForTaskToken state.
func (it *interpreted) until(t *testing.T, state string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		evs, err := it.svc.History(it.exec)
		if err != nil {
			t.Fatal(err)
		}
		// The waitForTaskToken states are ready once their Lambda took the token.
		if n := len(evs); n > 0 && evs[n-1].Type == "TaskSubmitted" {
			for i := n - 1; i >= 0; i-- {
				if d := evs[i].StateEnteredEventDetails; d != nil {
					if d.Name == state {
						return
					}
					break
				}
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("the execution never reached %s", state)
}

func TestAgainstTheInterpreter(t *testing.T) {
	it := startInterpreted(t, true)
	it.until(t, "RequestApproval")

	code, out, errs := it.w.run(t, "status", "hello")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "status while awaiting approval", out, it.name, "awaiting approval (1h0m0s left)")

	code, out, errs = it.w.run(t, "promote", it.name, "--now")
	wantCode(t, code, cli.ExitConflict, out, errs)
	wantContains(t, "promote before the bake", errs, "is not baking or paused: it is awaiting approval")

	code, out, errs = it.w.run(t, "approve", it.name, "--comment", "ship it")
	wantCode(t, code, cli.ExitOK, out, errs)
	it.until(t, "Bake")

	code, out, errs = it.w.run(t, "status", "hello", "--json")
	wantCode(t, code, cli.ExitOK, out, errs)
	var st struct{ Functions []cli.FunctionStatus }
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Functions) != 1 || len(st.Functions[0].Promotions) != 1 {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	p := st.Functions[0].Promotions[0]
	if p.State != "Bake" || p.Weight != 0.1 || p.Step != 1 || p.StableVersion != "1" || !p.Shifting || !p.NextAt.Equal(clitest.T0.Add(300*time.Second)) {
		t.Errorf("while baking: %+v; want Bake at 0.1, step 1, stable 1, shifting, next at T0+300s", p)
	}

	code, out, errs = it.w.run(t, "promote", it.name, "--now")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "promote --now", out, "ended the bake at 10%")

	code, out, errs = it.w.run(t, "watch", it.name, "--interval", "100ms")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "watch to the end", out, "completed: prod on version 2", "[100% ✔]")
	it.lam.mu.Lock()
	got := strings.Join(it.lam.actions, ",")
	it.lam.mu.Unlock()
	if want := "smoke,request,granted,begin,set-weight,bake,check-health,finalize"; got != want {
		t.Errorf("task actions = %s; want %s", got, want)
	}

	code, out, errs = it.w.run(t, "approve", it.name)
	wantCode(t, code, cli.ExitConflict, out, errs)
	wantContains(t, "approve after the end", errs, "has ended (SUCCEEDED)", "already decided by "+clitest.Approver+" ("+clitest.Caller+")")
}

func TestInterpreterRollbackOnUnhealthyCanary(t *testing.T) {
	it := startInterpreted(t, false)
	it.until(t, "RequestApproval")
	code, out, errs := it.w.run(t, "approve", it.name)
	wantCode(t, code, cli.ExitOK, out, errs)
	it.until(t, "Bake")
	it.clock.Advance(301 * time.Second) // the bake ends
	code, out, errs = it.w.run(t, "watch", it.name, "--interval", "100ms")
	wantCode(t, code, cli.ExitUnsuccessful, out, errs)
	wantContains(t, "watch", out, "failed: RolledBack", "[10% ✘]")
	wantContains(t, "watch", errs, "aliasflow history hello")
}

// TestInterpreterOperatorRollback: the definition itself rolls back when
// the CLI fails the Bake task; the shift Lambda is invoked by the state
// machine's Rollback state, not by the CLI.
func TestInterpreterOperatorRollback(t *testing.T) {
	it := startInterpreted(t, true)
	it.until(t, "RequestApproval")
	if code, out, errs := it.w.run(t, "approve", it.name); code != cli.ExitOK {
		wantCode(t, code, cli.ExitOK, out, errs)
	}
	it.until(t, "Bake")
	// The CLI polls while the interpreter runs Rollback on its own
	// goroutine: give it real time between polls.
	it.w.onSleep = func(int) { time.Sleep(50 * time.Millisecond) }
	code, out, errs := it.w.run(t, "rollback", "hello", "--yes")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "rollback", out, "stopped "+it.name, "version 2 → 1")
	if st, _ := it.svc.ExecutionStatus(it.exec); st != "FAILED" {
		t.Errorf("execution status = %s; want FAILED (RolledBack)", st)
	}
	it.lam.mu.Lock()
	req := it.lam.rollback
	it.lam.mu.Unlock()
	if req == nil || req.Execution != it.exec || req.Actor != "" || req.Promotion.Failure == nil ||
		req.Promotion.Failure.Error != cli.ErrOperatorRollback || !strings.Contains(req.Promotion.Failure.Cause, `"actor":"`+clitest.Caller+`"`) {
		t.Errorf("shift request = %+v; want the definition's rollback of %s, caught from %s", req, it.exec, cli.ErrOperatorRollback)
	}
}

// endsAfterDescribe is Step Functions as a watcher can meet it: the
// execution ends between the DescribeExecution that says RUNNING and the
// GetExecutionHistory that then holds its end event.
type endsAfterDescribe struct {
	cli.StatesAPI
	t       *testing.T
	it      *interpreted
	advance sync.Once
}

func (s *endsAfterDescribe) DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	out, err := s.StatesAPI.DescribeExecution(ctx, in, opts...)
	s.advance.Do(func() {
		s.it.clock.Advance(301 * time.Second) // the bake ends, the canary is unhealthy
		deadline := time.Now().Add(30 * time.Second)
		for st, _ := s.it.svc.ExecutionStatus(s.it.exec); st == "RUNNING"; st, _ = s.it.svc.ExecutionStatus(s.it.exec) {
			if time.Now().After(deadline) {
				s.t.Errorf("the execution did not end after its bake")
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	return out, err
}

// TestWatchSeesAnEndBetweenDescribeAndHistory: a watch whose first read
// described the execution running and then read a history that already
// ends must report the end, not poll forever for an end it has read.
func TestWatchSeesAnEndBetweenDescribeAndHistory(t *testing.T) {
	it := startInterpreted(t, false)
	it.until(t, "RequestApproval")
	code, out, errs := it.w.run(t, "approve", it.name)
	wantCode(t, code, cli.ExitOK, out, errs)
	it.until(t, "Bake")
	it.w.sfn = &endsAfterDescribe{StatesAPI: it.w.sfn, t: t, it: it}
	it.w.onSleep = func(n int) {
		if n > 100 {
			t.Fatalf("watch still polls after %d polls of an execution that has ended", n)
		}
	}
	code, out, errs = it.w.run(t, "watch", it.name, "--interval", "100ms")
	wantCode(t, code, cli.ExitUnsuccessful, out, errs)
	wantContains(t, "watch", out, "failed: RolledBack")
}
