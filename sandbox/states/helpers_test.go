package states

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/states/statestest"
)

// fakeInvoker is a scripted Lambda: one handler per function name, and a
// record of every call.
type fakeInvoker struct {
	mu       sync.Mutex
	handlers map[string]func(call fakeCall) (core.InvokeResult, error)
	calls    []fakeCall
}

type fakeCall struct {
	Function  string
	Qualifier string
	Payload   map[string]any
	Raw       string
}

var _ core.Invoker = (*fakeInvoker)(nil)

func newFakeInvoker() *fakeInvoker {
	return &fakeInvoker{handlers: map[string]func(fakeCall) (core.InvokeResult, error){}}
}

func (f *fakeInvoker) handle(function string, h func(call fakeCall) (core.InvokeResult, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[function] = h
}

func (f *fakeInvoker) Invoke(_ context.Context, function, qualifier string, payload []byte) (core.InvokeResult, error) {
	call := fakeCall{Function: function, Qualifier: qualifier, Raw: string(payload)}
	_ = json.Unmarshal(payload, &call.Payload)
	f.mu.Lock()
	f.calls = append(f.calls, call)
	h := f.handlers[function]
	f.mu.Unlock()
	if h == nil {
		return core.InvokeResult{}, core.Errorf("ResourceNotFoundException", 404, "Function not found: %s", function)
	}
	return h(call)
}

func (f *fakeInvoker) callList() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

// ok answers with a JSON payload.
func ok(v any) (core.InvokeResult, error) {
	b, _ := json.Marshal(v)
	return core.InvokeResult{Payload: b, ExecutedVersion: "$LATEST"}, nil
}

// functionError answers as a function that returned an error.
func functionError(errorType, msg string) (core.InvokeResult, error) {
	b, _ := json.Marshal(map[string]string{"errorType": errorType, "errorMessage": msg})
	return core.InvokeResult{Payload: b, FunctionError: "Unhandled", ExecutedVersion: "$LATEST"}, nil
}

type harness struct {
	t     *testing.T
	svc   *Service
	clock *statestest.Clock
	lam   *fakeInvoker
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, clock: statestest.NewClock(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)), lam: newFakeInvoker()}
	h.svc = New(h.lam, &Options{Now: h.clock.Now, AfterFunc: h.clock.AfterFunc, Random: func() float64 { return 0.5 }})
	t.Cleanup(h.svc.Close)
	return h
}

const testRole = "arn:aws:iam::000000000000:role/aliasflow-states"

func (h *harness) machine(name, definition string) string {
	h.t.Helper()
	arn, err := h.svc.CreateStateMachine(name, definition, testRole)
	if err != nil {
		h.t.Fatalf("CreateStateMachine(%s): %v", name, err)
	}
	return arn
}

func (h *harness) start(machine, name, input string) string {
	h.t.Helper()
	arn, err := h.svc.StartExecution(context.Background(), machine, name, input)
	if err != nil {
		h.t.Fatalf("StartExecution(%s): %v", name, err)
	}
	return arn
}

// until waits (on the service's change notifications, with a wall-clock
// safety limit) until cond holds.
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	limit := time.After(10 * time.Second)
	for {
		ch := h.svc.changes()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-time.After(20 * time.Millisecond):
		case <-limit:
			h.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// status waits until the execution is closed and returns its status.
func (h *harness) closed(arn string) (status, errName, cause string) {
	h.t.Helper()
	h.until("execution "+arn+" to close", func() bool {
		st, _ := h.svc.ExecutionStatus(arn)
		return st != StatusRunning
	})
	h.svc.mu.Lock()
	defer h.svc.mu.Unlock()
	e := h.svc.executions[arn]
	if e.Error != nil {
		errName = *e.Error
	}
	if e.Cause != nil {
		cause = *e.Cause
	}
	return e.Status, errName, cause
}

// atCursor waits until the running execution's position satisfies cond.
func (h *harness) atCursor(arn, what string, cond func(c cursor) bool) cursor {
	h.t.Helper()
	var got cursor
	h.until(what, func() bool {
		h.svc.mu.Lock()
		defer h.svc.mu.Unlock()
		e := h.svc.executions[arn]
		if e == nil || e.Cursor == nil {
			return false
		}
		got = *e.Cursor
		return cond(got)
	})
	return got
}

// waiting waits until the execution's task in state is waiting for its
// token and returns the token.
func (h *harness) waiting(arn, state string) string {
	h.t.Helper()
	c := h.atCursor(arn, state+" waiting for its token", func(c cursor) bool {
		return c.State == state && c.Phase == phaseWaiting
	})
	return c.Token
}

// states lists the names of the states entered, in order.
func (h *harness) states(arn string) []string {
	events, err := h.svc.History(arn)
	if err != nil {
		h.t.Fatalf("History: %v", err)
	}
	var out []string
	for _, ev := range events {
		if ev.StateEnteredEventDetails != nil {
			out = append(out, ev.StateEnteredEventDetails.Name)
		}
	}
	return out
}

func (h *harness) eventTypes(arn string) []string {
	events, err := h.svc.History(arn)
	if err != nil {
		h.t.Fatalf("History: %v", err)
	}
	var out []string
	for _, ev := range events {
		out = append(out, ev.Type)
	}
	return out
}

func (h *harness) output(arn string) map[string]any {
	h.t.Helper()
	h.svc.mu.Lock()
	defer h.svc.mu.Unlock()
	e := h.svc.executions[arn]
	if e.Output == nil {
		h.t.Fatalf("execution %s has no output (status %s)", arn, e.Status)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(*e.Output), &out); err != nil {
		h.t.Fatalf("output %q: %v", *e.Output, err)
	}
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return string(b)
}
