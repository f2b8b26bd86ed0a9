// Package sandboxtest runs the sandbox's services in-process for unit tests
// of shared/ and cli/: each behind an httptest loopback server, reached
// through the real SDK clients with dummy credentials (servicetest.Config),
// in the spirit of go-cloud's memblob — one stand-in per AWS API, the one
// `aliasflow local` and the e2e tests run.
//
// Promotion runs the real definition (infra/statemachine/promotion.asl.json)
// on the sandbox's Step Functions interpreter with the task Lambdas answered
// by Go functions and a manual clock, so every execution history a test
// reads is one the interpreter wrote for that definition, never a script.
package sandboxtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/infra/statemachine"
	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	"github.com/aliasflow/aliasflow/sandbox/states"
	"github.com/aliasflow/aliasflow/sandbox/states/statestest"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// T0 is the time a Promotion's clock starts at.
var T0 = time.Date(2026, 11, 21, 6, 0, 5, 0, time.UTC)

// ApprovalURL is the approval API's URL the definition is deployed with
// (its ${ApprovalUrl}); the approval request carries it.
const ApprovalURL = "https://approvals.example/approve"

// MachineARN is the ARN the promotion state machine gets.
const MachineARN = "arn:aws:states:" + core.Region + ":" + core.Account + ":stateMachine:" + deploy.StateMachine

// ExecutionARN is the ARN of the promotion's execution named name.
func ExecutionARN(name string) string { return promotion.ExecutionARN(MachineARN, name) }

// StatesRole is the execution role the promotion state machine is created with.
const StatesRole = "arn:aws:iam::" + core.Account + ":role/aliasflow-states"

// Call is one task's Lambda call: the payload the definition sent, and it
// decoded.
type Call struct {
	Request promotion.TaskRequest
	Payload []byte
	// Function, Qualifier and Version are set for Lambda.Code's calls:
	// the function and qualifier invoked and the version that runs.
	Function, Qualifier, Version string
}

// Handler answers one task's Lambda call as the function would: a payload,
// a function error (FunctionError), or an Invoke API error (*core.APIError,
// which the interpreter names "Lambda.<code>").
type Handler func(ctx context.Context, call Call) (core.InvokeResult, error)

// Return answers with v as the function's JSON result.
func Return(v any) Handler {
	return func(context.Context, Call) (core.InvokeResult, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return core.InvokeResult{}, fmt.Errorf("sandboxtest: marshal result: %w", err)
		}
		return core.InvokeResult{Payload: b, ExecutedVersion: "$LATEST"}, nil
	}
}

// FunctionError answers as a function that returned an error of errorType.
func FunctionError(errorType, message string) Handler {
	return func(context.Context, Call) (core.InvokeResult, error) {
		b, _ := json.Marshal(map[string]string{"errorType": errorType, "errorMessage": message})
		return core.InvokeResult{Payload: b, FunctionError: "Unhandled", ExecutedVersion: "$LATEST"}, nil
	}
}

// Function runs a function's Go handler in-process as the task's function:
// its result is the payload; its error is the function error aws-lambda-go
// reports (lambda/errors.go lambdaErrorResponse: an
// InvokeResponse_Error as it is, any other error typed by its Go type's name).
func Function(handle func(ctx context.Context, payload []byte) (any, error)) Handler {
	return func(ctx context.Context, call Call) (core.InvokeResult, error) {
		out, err := handle(ctx, call.Payload)
		if err != nil {
			ive, ok := err.(messages.InvokeResponse_Error)
			if !ok {
				typ := reflect.TypeOf(err)
				if typ.Kind() == reflect.Pointer {
					typ = typ.Elem()
				}
				ive = messages.InvokeResponse_Error{Message: err.Error(), Type: typ.Name()}
			}
			return FunctionError(ive.Type, ive.Message)(ctx, call)
		}
		return Return(out)(ctx, call)
	}
}

// ServiceError answers as Lambda's Invoke API failing with code (e.g.
// "ServiceException", "TooManyRequestsException") and status.
func ServiceError(code string, status int) Handler {
	return func(context.Context, Call) (core.InvokeResult, error) {
		return core.InvokeResult{}, core.Errorf(code, status, "%s from sandboxtest", code)
	}
}

// Park never answers: the call stays in flight until the execution stops
// or the test ends, so the execution stays RUNNING in the state that made it.
func Park(ctx context.Context, _ Call) (core.InvokeResult, error) {
	<-ctx.Done()
	return core.InvokeResult{}, ctx.Err()
}

// PassedSmoke is the smoke test's default answer: one passing check.
var PassedSmoke = promotion.SmokeResult{Passed: true, Checks: []promotion.CheckResult{{Name: "greets", Passed: true, Attempts: 1, LatencyMs: 41}}}

// Promotion is the promotion state machine deployed on the sandbox's Step
// Functions, served in-process.
type Promotion struct {
	// SFN is a real SDK client for the service.
	SFN *sfn.Client
	// States is the service itself (its Go API: History, ExecutionStatus).
	States *states.Service
	// Clock drives waits, task timeouts and retry backoff; nothing waits on
	// the wall clock.
	Clock *statestest.Clock
	// MachineARN is the state machine's ARN.
	MachineARN string

	mu       sync.Mutex
	fails    failQueue
	handlers map[string]Handler // by promotion action
	requests []promotion.TaskRequest
	arrived  chan struct{}
	waiting  []*held // calls with no handler, in flight until answered
}

// held is a task call waiting for the test's answer.
type held struct {
	req    promotion.TaskRequest
	answer chan Handler
}

// Option changes how NewPromotion deploys the definition.
type Option func(*settings)

type settings struct {
	start      time.Time
	values     map[string]string
	unanswered bool
}

// Unanswered deploys with no default task answers: every task call waits
// in flight until the test answers it (Answer, or a Run from Attach), also
// those of executions the code under test starts.
func Unanswered() Option { return func(s *settings) { s.unanswered = true } }

// At starts the Promotion's clock at start instead of T0.
func At(start time.Time) Option { return func(s *settings) { s.start = start } }

// Resolve deploys the definition with placeholder (one of
// statemachine.Substitutions) resolved to value instead of the sandbox's
// own: a state machine deployed with another function in a task.
func Resolve(placeholder, value string) Option {
	return func(s *settings) { s.values[placeholder] = value }
}

// NewPromotion deploys the promotion definition, its placeholders resolved
// as the sandbox's local world resolves them, with the default task
// answers: the smoke test passes (PassedSmoke), the approval request only
// parks its token, and every other task's call waits in flight until a
// test answers it (Answer) or the execution stops. Change them with Handle.
func NewPromotion(t testing.TB, opts ...Option) *Promotion {
	t.Helper()
	set := settings{start: T0, values: map[string]string{
		statemachine.SmokeTestFunctionArn: core.FunctionARN(deploy.SmokeTestFunction, ""),
		statemachine.ApprovalFunctionArn:  core.FunctionARN(deploy.ApprovalFunction, ""),
		statemachine.ShiftFunctionArn:     core.FunctionARN(deploy.ShiftFunction, ""),
		statemachine.ApprovalURL:          ApprovalURL,
	}}
	for _, o := range opts {
		o(&set)
	}
	p := &Promotion{
		Clock:    statestest.NewClock(set.start),
		handlers: map[string]Handler{promotion.ActionSmoke: Return(PassedSmoke), promotion.ActionRequest: Return(map[string]any{})},
		arrived:  make(chan struct{}),
	}
	if set.unanswered {
		clear(p.handlers)
	}
	p.States = states.New(p, &states.Options{Now: p.Clock.Now, AfterFunc: p.Clock.AfterFunc, Random: func() float64 { return 0.5 }})
	t.Cleanup(p.States.Close)
	p.SFN = sfn.NewFromConfig(servicetest.Config(t, "states", http.HandlerFunc(p.serve)))
	def := statemachine.Definition
	for k, v := range set.values {
		def = strings.ReplaceAll(def, "${"+k+"}", v)
	}
	arn, err := p.States.CreateStateMachine(deploy.StateMachine, def, StatesRole)
	if err != nil {
		t.Fatalf("sandboxtest: create the promotion state machine: %v", err)
	}
	if arn != MachineARN {
		t.Fatalf("sandboxtest: the state machine is %s, want %s", arn, MachineARN)
	}
	p.MachineARN = arn
	return p
}

// Fail makes the next calls of the Step Functions API operation op (e.g.
// "DescribeExecution"), one per error, answer that error as Step Functions
// writes one (awsJson1_0, __type), whoever calls: a throttle or an outage
// the SDK decodes as it would AWS's.
func (p *Promotion) Fail(op string, errs ...*core.APIError) {
	p.fails.add(op, errs...)
}

// serve answers a queued failure and passes everything else to the service.
func (p *Promotion) serve(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
	if fail := p.fails.next(op); fail != nil {
		core.WriteAWSJSONError(w, "1.0", fail)
		return
	}
	p.States.ServeHTTP(w, r)
}

// Handle makes h answer every later task call with the action (one of
// the promotion.Action* names).
func (p *Promotion) Handle(action string, h Handler) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handlers[action] = h
}

// Invoke implements core.Invoker: it answers the definition's task calls.
func (p *Promotion) Invoke(ctx context.Context, function, _ string, payload []byte) (core.InvokeResult, error) {
	var req promotion.TaskRequest
	if err := json.Unmarshal(payload, &req); err != nil {
		return core.InvokeResult{}, fmt.Errorf("sandboxtest: the payload to %s is not a promotion.TaskRequest: %w", function, err)
	}
	p.mu.Lock()
	p.requests = append(p.requests, req)
	close(p.arrived)
	p.arrived = make(chan struct{})
	h := p.handlers[req.Action]
	var wait *held
	if h == nil {
		wait = &held{req: req, answer: make(chan Handler, 1)}
		p.waiting = append(p.waiting, wait)
	}
	p.mu.Unlock()
	call := Call{Request: req, Payload: payload}
	if wait == nil {
		return h(ctx, call)
	}
	select {
	case h := <-wait.answer:
		return h(ctx, call)
	case <-ctx.Done():
		p.mu.Lock()
		p.waiting = slices.DeleteFunc(p.waiting, func(w *held) bool { return w == wait })
		p.mu.Unlock()
		return core.InvokeResult{}, ctx.Err()
	}
}

// Answer waits until execution arn's call with action is in flight with no
// handler, and answers it with h.
func (p *Promotion) Answer(t testing.TB, arn, action string, h Handler) promotion.TaskRequest {
	t.Helper()
	var w *held
	p.Until(t, fmt.Sprintf("a %q call from %s to answer", action, arn), func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, c := range p.waiting {
			if c.req.Execution == arn && c.req.Action == action {
				w = c
				p.waiting = slices.Delete(p.waiting, i, i+1)
				return true
			}
		}
		return false
	})
	w.answer <- h
	return w.req
}

// inFlight reports whether execution arn has a call waiting for an answer
// (one with action, when action is set).
func (p *Promotion) inFlight(arn, action string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.ContainsFunc(p.waiting, func(w *held) bool {
		return w.req.Execution == arn && (action == "" || w.req.Action == action)
	})
}

// Start starts an execution of the definition named name with in.
func (p *Promotion) Start(t testing.TB, name string, in promotion.Input) string {
	t.Helper()
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("sandboxtest: marshal input: %v", err)
	}
	arn, err := p.States.StartExecution(context.Background(), p.MachineARN, name, string(raw))
	if err != nil {
		t.Fatalf("sandboxtest: start %s: %v", name, err)
	}
	return arn
}

// StartWaiting starts an execution and returns once its approval request
// has been sent and the RequestApproval task waits for its token: the
// execution's ARN and the request the approval function received.
func (p *Promotion) StartWaiting(t testing.TB, name string, in promotion.Input) (string, promotion.TaskRequest) {
	t.Helper()
	arn := p.Start(t, name, in)
	req := p.Request(t, arn, promotion.ActionRequest, 1)
	p.Until(t, "RequestApproval to wait for its token", func() bool { return p.lastEvent(arn) == "TaskSubmitted" })
	return arn, req
}

// Request waits until the execution arn has made its n-th task call with
// action (n from 1) and returns that call's request.
func (p *Promotion) Request(t testing.TB, arn, action string, n int) promotion.TaskRequest {
	t.Helper()
	limit := time.After(waitLimit)
	for {
		p.mu.Lock()
		seen, arrived := 0, p.arrived
		for _, r := range p.requests {
			if r.Execution == arn && r.Action == action {
				if seen++; seen == n {
					p.mu.Unlock()
					return r
				}
			}
		}
		p.mu.Unlock()
		select {
		case <-arrived:
		case <-limit:
			t.Fatalf("sandboxtest: %s made %d %q calls within %v, want %d", arn, seen, action, waitLimit, n)
		}
	}
}

// Actions lists the actions of the task calls execution arn has made, in order.
func (p *Promotion) Actions(arn string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.requests {
		if r.Execution == arn {
			out = append(out, r.Action)
		}
	}
	return out
}

// waitLimit bounds every wait on the interpreter: a safety net for a
// broken test, far above what a loaded machine needs.
const waitLimit = 30 * time.Second

// Until waits until cond holds, polling, and fails the test after a
// generous wall-clock limit.
func (p *Promotion) Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !within(waitLimit, cond) {
		t.Fatalf("sandboxtest: timed out after %v waiting for %s", waitLimit, what)
	}
}

// within polls cond until it holds or limit has passed, first often (the
// interpreter answers in microseconds), then every 2 ms.
func within(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	pause := 50 * time.Microsecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 2*time.Millisecond)
	}
	return true
}

// WaitStatus waits until the execution's status is status.
func (p *Promotion) WaitStatus(t testing.TB, arn, status string) {
	t.Helper()
	p.Until(t, arn+" to be "+status, func() bool {
		got, _ := p.States.ExecutionStatus(arn)
		return got == status
	})
}

// AdvanceUntil moves the clock on by step, again and again, until cond
// holds: for a timer the execution sets from its own goroutine (a retry's
// backoff), which a single Advance may reach before it is set.
func (p *Promotion) AdvanceUntil(t testing.TB, what string, step time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("sandboxtest: timed out after %v waiting for %s", waitLimit, what)
		}
		p.Clock.Advance(step)
		time.Sleep(2 * time.Millisecond)
	}
}

// WaitEvent waits until the execution's history holds an event of type typ.
func (p *Promotion) WaitEvent(t testing.TB, arn, typ string) {
	t.Helper()
	p.Until(t, arn+" to write "+typ, func() bool {
		events, _ := p.States.History(arn)
		for _, ev := range events {
			if ev.Type == typ {
				return true
			}
		}
		return false
	})
}

func (p *Promotion) lastEvent(arn string) string {
	events, _ := p.States.History(arn)
	if len(events) == 0 {
		return ""
	}
	return events[len(events)-1].Type
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("marshal %T: %w", v, err)
	}
	return string(b), nil
}
