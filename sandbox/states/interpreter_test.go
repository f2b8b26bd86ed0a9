package states

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

// task builds a one-Task definition around the given state fields.
// Auxiliary states are added only when referenced, since a definition with
// an unreachable state is refused.
func taskDef(fields string) string {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task",` + fields + `}`
	for _, aux := range []string{"Caught", "Next"} {
		if strings.Contains(fields, `"Next":"`+aux+`"`) {
			def += `,"` + aux + `":{"Type":"Pass","End":true}`
		}
	}
	return def + `}}`
}

const invokeF = `"Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","Payload.$":"$"}`
const waitF = `"Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"FunctionName":"f","Payload":{"token.$":"$$.Task.Token","in.$":"$"}}`

func TestInterpreter(t *testing.T) {
	echo := func(call fakeCall) (core.InvokeResult, error) { return ok(call.Payload) }
	fails := func(errorType string) func(fakeCall) (core.InvokeResult, error) {
		return func(fakeCall) (core.InvokeResult, error) { return functionError(errorType, "boom") }
	}
	tests := []struct {
		name       string
		def        string
		input      string
		lambdas    map[string]func(fakeCall) (core.InvokeResult, error)
		drive      func(t *testing.T, h *harness, arn string)
		wantStatus string
		wantError  string
		wantCause  string // substring
		wantOutput string // JSON, compared semantically; "" skips
		check      func(t *testing.T, h *harness, arn string)
	}{
		{
			name:       "Pass with Result at a ResultPath",
			def:        `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"x":1},"ResultPath":"$.r","End":true}}}`,
			input:      `{"a":1}`,
			wantStatus: StatusSucceeded, wantOutput: `{"a":1,"r":{"x":1}}`,
		},
		{
			name:       "Pass Parameters with paths and the context object",
			def:        `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.in","Parameters":{"v.$":"$.v","name.$":"$$.Execution.Name","state.$":"$$.State.Name","sm.$":"$$.StateMachine.Name","input.$":"$$.Execution.Input.in.v","role.$":"$$.Execution.RoleArn","retry.$":"$$.State.RetryCount","lit":"x"},"End":true}}}`,
			input:      `{"in":{"v":7}}`,
			wantStatus: StatusSucceeded, wantOutput: `{"v":7,"name":"e1","state":"P","sm":"m","input":7,"role":"` + testRole + `","retry":0,"lit":"x"}`,
		},
		{
			name:       "Pass timestamps in the context object",
			def:        `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"start.$":"$$.Execution.StartTime","entered.$":"$$.State.EnteredTime","id.$":"$$.Execution.Id","smid.$":"$$.StateMachine.Id"},"End":true}}}`,
			wantStatus: StatusSucceeded, wantOutput: `{"start":"2026-11-21T09:00:00.000Z","entered":"2026-11-21T09:00:00.000Z","id":"arn:aws:states:us-east-1:000000000000:execution:m:e1","smid":"arn:aws:states:us-east-1:000000000000:stateMachine:m"}`,
		},
		{
			name:       "Pass intrinsic functions",
			def:        `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"msg.$":"States.Format('{} is v{}', $.fn, $.v)","obj.$":"States.StringToJson($.raw)","str.$":"States.JsonToString($.o)","arr.$":"States.Array($.v, 'x')"},"End":true}}}`,
			input:      `{"fn":"hello","v":2,"raw":"{\"k\":[1]}","o":{"a":true}}`,
			wantStatus: StatusSucceeded, wantOutput: `{"msg":"hello is v2","obj":{"k":[1]},"str":"{\"a\":true}","arr":[2,"x"]}`,
		},
		{
			name:       "OutputPath selects, null OutputPath gives an empty object",
			def:        `{"StartAt":"A","States":{"A":{"Type":"Pass","OutputPath":"$.keep","Next":"B"},"B":{"Type":"Pass","ResultPath":"$.r","Result":1,"OutputPath":"$.r","Next":"C"},"C":{"Type":"Pass","OutputPath":null,"End":true}}}`,
			input:      `{"keep":{"x":1},"drop":2}`,
			wantStatus: StatusSucceeded, wantOutput: `{}`,
		},
		{
			name:       "InputPath null gives an empty object",
			def:        `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":null,"End":true}}}`,
			input:      `{"a":1}`,
			wantStatus: StatusSucceeded, wantOutput: `{}`,
		},
		{
			name:       "Choice routes and Default",
			def:        `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"And":[{"Variable":"$.n","NumericGreaterThan":1},{"Not":{"Variable":"$.s","StringEquals":"no"}}],"Next":"Big"}],"Default":"Small"},"Big":{"Type":"Pass","Result":"big","End":true},"Small":{"Type":"Pass","Result":"small","End":true}}}`,
			input:      `{"n":5,"s":"yes"}`,
			wantStatus: StatusSucceeded, wantOutput: `"big"`,
		},
		{
			name:       "Choice without a match or Default fails with States.NoChoiceMatched",
			def:        `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericEquals":1,"Next":"S"}]},"S":{"Type":"Succeed"}}}`,
			input:      `{"n":2}`,
			wantStatus: StatusFailed, wantError: "States.NoChoiceMatched",
		},
		{
			name:       "Choice on a missing Variable fails with States.Runtime",
			def:        `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.missing","NumericEquals":1,"Next":"S"}],"Default":"S"},"S":{"Type":"Succeed"}}}`,
			wantStatus: StatusFailed, wantError: "States.Runtime", wantCause: "$.missing",
		},
		{
			name:  "Wait Seconds waits on the clock",
			def:   `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":30,"End":true}}}`,
			input: `{"a":1}`,
			drive: func(t *testing.T, h *harness, arn string) {
				c := h.atCursor(arn, "Wait armed", func(c cursor) bool { return !c.WakeAt.IsZero() })
				if got := c.WakeAt.Sub(h.clock.Now()); got != 30*time.Second {
					t.Errorf("waits %v, want 30s", got)
				}
				h.clock.Advance(29 * time.Second)
				if st, _ := h.svc.ExecutionStatus(arn); st != StatusRunning {
					t.Fatalf("status after 29s = %s, want RUNNING", st)
				}
				h.clock.Advance(time.Second)
			},
			wantStatus: StatusSucceeded, wantOutput: `{"a":1}`,
			check: func(t *testing.T, h *harness, arn string) {
				if got := h.eventTypes(arn); !reflect.DeepEqual(got, []string{"ExecutionStarted", "WaitStateEntered", "WaitStateExited", "ExecutionSucceeded"}) {
					t.Errorf("events = %v", got)
				}
			},
		},
		{
			name:  "Wait SecondsPath, Timestamp and TimestampPath",
			def:   `{"StartAt":"A","States":{"A":{"Type":"Wait","SecondsPath":"$.s","Next":"B"},"B":{"Type":"Wait","Timestamp":"2026-11-21T10:00:00Z","Next":"C"},"C":{"Type":"Wait","TimestampPath":"$.t","End":true}}}`,
			input: `{"s":60,"t":"2026-11-21T11:00:00Z"}`,
			drive: func(t *testing.T, h *harness, arn string) {
				for _, step := range []struct {
					state string
					wait  time.Duration
				}{{"A", time.Minute}, {"B", 59 * time.Minute}, {"C", time.Hour}} {
					c := h.atCursor(arn, step.state+" armed", func(c cursor) bool { return c.State == step.state && !c.WakeAt.IsZero() })
					if got := c.WakeAt.Sub(h.clock.Now()); got != step.wait {
						t.Errorf("%s waits %v, want %v", step.state, got, step.wait)
					}
					h.clock.Advance(step.wait)
				}
			},
			wantStatus: StatusSucceeded,
		},
		{
			name:       "Wait SecondsPath that is not a number fails with States.Runtime",
			def:        `{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}`,
			input:      `{"s":"soon"}`,
			wantStatus: StatusFailed, wantError: "States.Runtime", wantCause: "SecondsPath",
		},
		{
			name:       "Succeed applies InputPath and OutputPath",
			def:        `{"StartAt":"S","States":{"S":{"Type":"Succeed","InputPath":"$.a","OutputPath":"$.b"}}}`,
			input:      `{"a":{"b":[1]}}`,
			wantStatus: StatusSucceeded, wantOutput: `[1]`,
		},
		{
			name:       "Fail with Error and Cause",
			def:        `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Bad","Cause":"because"}}}`,
			wantStatus: StatusFailed, wantError: "Bad", wantCause: "because",
			check: func(t *testing.T, h *harness, arn string) {
				if got := h.eventTypes(arn); !reflect.DeepEqual(got, []string{"ExecutionStarted", "FailStateEntered", "ExecutionFailed"}) {
					t.Errorf("events = %v", got)
				}
			},
		},
		{
			name:       "Fail with ErrorPath and CausePath",
			def:        `{"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"$.e","CausePath":"States.Format('code {}', $.c)"}}}`,
			input:      `{"e":"Custom","c":42}`,
			wantStatus: StatusFailed, wantError: "Custom", wantCause: "code 42",
		},
		{
			name:       "lambda:invoke result shape, ResultSelector and ResultPath",
			def:        taskDef(`"Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","Qualifier":"prod","Payload":{"x.$":"$.x"}},"ResultSelector":{"p.$":"$.Payload","code.$":"$.StatusCode","v.$":"$.ExecutedVersion","rid.$":"$.SdkResponseMetadata.RequestId","h.$":"$.SdkHttpMetadata.HttpStatusCode"},"ResultPath":"$.res","Next":"Next"`),
			input:      `{"x":3}`,
			lambdas:    map[string]func(fakeCall) (core.InvokeResult, error){"f": echo},
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, h *harness, arn string) {
				res, _ := h.output(arn)["res"].(map[string]any)
				if !reflect.DeepEqual(res["p"], map[string]any{"x": float64(3)}) || res["code"] != float64(200) || res["v"] != "$LATEST" || res["rid"] == "" || res["h"] != float64(200) {
					t.Errorf("res = %v", res)
				}
				if calls := h.lam.callList(); len(calls) != 1 || calls[0].Qualifier != "prod" || calls[0].Raw != `{"x":3}` {
					t.Errorf("calls = %+v, want one call with qualifier prod and payload {\"x\":3}", calls)
				}
				wantTypes := []string{"ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"}
				if got := h.eventTypes(arn); !reflect.DeepEqual(got, wantTypes) {
					t.Errorf("events = %v\nwant %v", got, wantTypes)
				}
				d := h.scheduled(arn, "T")
				if d.ResourceType != "lambda" || d.Resource != "invoke" || d.Region != core.Region || d.Parameters != `{"FunctionName":"f","Payload":{"x":3},"Qualifier":"prod"}` {
					t.Errorf("TaskScheduled = %+v", d)
				}
			},
		},
		{
			name:       "ResultPath null keeps the input",
			def:        taskDef(invokeF + `,"ResultPath":null,"End":true`),
			input:      `{"keep":true}`,
			lambdas:    map[string]func(fakeCall) (core.InvokeResult, error){"f": func(fakeCall) (core.InvokeResult, error) { return ok("ignored") }},
			wantStatus: StatusSucceeded, wantOutput: `{"keep":true}`,
		},
		{
			name:       "function error caught with ResultPath",
			def:        taskDef(invokeF + `,"Catch":[{"ErrorEquals":["Other"],"Next":"Next"},{"ErrorEquals":["States.TaskFailed"],"ResultPath":"$.err","Next":"Caught"}],"End":true`),
			input:      `{"a":1}`,
			lambdas:    map[string]func(fakeCall) (core.InvokeResult, error){"f": fails("aliasflow.HealthCheckFailed")},
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, h *harness, arn string) {
				out := h.output(arn)
				errOut, _ := out["err"].(map[string]any)
				if out["a"] != float64(1) || errOut["Error"] != "aliasflow.HealthCheckFailed" {
					t.Fatalf("output = %v", out)
				}
				var cause map[string]string
				if err := json.Unmarshal([]byte(errOut["Cause"].(string)), &cause); err != nil || cause["errorMessage"] != "boom" {
					t.Errorf("Cause = %v, want the function's error payload", errOut["Cause"])
				}
				if got := h.states(arn); !reflect.DeepEqual(got, []string{"T", "Caught"}) {
					t.Errorf("states = %v", got)
				}
			},
		},
		{
			name:       "uncaught function error fails the execution",
			def:        taskDef(invokeF + `,"Catch":[{"ErrorEquals":["Other"],"Next":"Caught"}],"End":true`),
			lambdas:    map[string]func(fakeCall) (core.InvokeResult, error){"f": fails("Runtime.ExitError")},
			wantStatus: StatusFailed, wantError: "Runtime.ExitError", wantCause: "boom",
		},
		{
			name:       "an Invoke API error is Lambda.<exception>",
			def:        taskDef(`"Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"missing"},"End":true`),
			wantStatus: StatusFailed, wantError: "Lambda.ResourceNotFoundException", wantCause: "Function not found",
		},
		{
			name: "Retry with backoff, then Catch when attempts run out",
			def:  taskDef(invokeF + `,"Retry":[{"ErrorEquals":["Flaky"],"IntervalSeconds":2,"BackoffRate":3,"MaxAttempts":2}],"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Caught"}],"End":true`),
			lambdas: map[string]func(fakeCall) (core.InvokeResult, error){"f": func(call fakeCall) (core.InvokeResult, error) {
				return functionError("Flaky", "try again")
			}},
			drive: func(t *testing.T, h *harness, arn string) {
				for i, want := range []time.Duration{2 * time.Second, 6 * time.Second} {
					c := h.atCursor(arn, "backoff", func(c cursor) bool { return c.Phase == phaseBackoff && c.RetryCount == i+1 })
					if got := c.WakeAt.Sub(h.clock.Now()); got != want {
						t.Errorf("retry %d waits %v, want %v", i+1, got, want)
					}
					h.clock.Advance(want - time.Millisecond)
					if n := len(h.lam.callList()); n != i+1 {
						t.Errorf("calls before the backoff ended = %d, want %d", n, i+1)
					}
					h.clock.Advance(time.Millisecond)
				}
			},
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, h *harness, arn string) {
				if n := len(h.lam.callList()); n != 3 {
					t.Errorf("calls = %d, want 3 (1 + MaxAttempts 2)", n)
				}
				if n, _ := h.svc.Transitions(arn); n != 2+2 {
					t.Errorf("transitions = %d, want 4 (T, Caught and 2 retries)", n)
				}
			},
		},
		{
			name: "Retry succeeds and $$.State.RetryCount counts",
			def:  taskDef(`"Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","Payload":{"retry.$":"$$.State.RetryCount"}},"Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":1,"MaxAttempts":3,"BackoffRate":1}],"OutputPath":"$.Payload","End":true`),
			lambdas: map[string]func(fakeCall) (core.InvokeResult, error){"f": func(call fakeCall) (core.InvokeResult, error) {
				if call.Payload["retry"] == float64(2) {
					return ok(call.Payload)
				}
				return core.InvokeResult{}, core.Errorf("ServiceException", 500, "internal")
			}},
			drive: func(t *testing.T, h *harness, arn string) {
				for i := 1; i <= 2; i++ {
					h.atCursor(arn, "backoff", func(c cursor) bool { return c.Phase == phaseBackoff && c.RetryCount == i })
					h.clock.Advance(time.Second)
				}
			},
			wantStatus: StatusSucceeded, wantOutput: `{"retry":2}`,
		},
		{
			name:       "waitForTaskToken times out with States.Timeout",
			def:        taskDef(waitF + `,"TimeoutSeconds":60,"Catch":[{"ErrorEquals":["States.Timeout"],"ResultPath":"$.timeout","Next":"Caught"}],"End":true`),
			input:      `{"a":1}`,
			lambdas:    map[string]func(fakeCall) (core.InvokeResult, error){"f": echo},
			drive:      func(t *testing.T, h *harness, arn string) { h.waiting(arn, "T"); h.clock.Advance(time.Minute) },
			wantStatus: StatusSucceeded, wantOutput: `{"a":1,"timeout":{"Error":"States.Timeout"}}`,
			check: func(t *testing.T, h *harness, arn string) {
				want := []string{"ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskTimedOut", "TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"}
				if got := h.eventTypes(arn); !reflect.DeepEqual(got, want) {
					t.Errorf("events = %v\nwant %v", got, want)
				}
			},
		},
		{
			name:    "waitForTaskToken: SendTaskSuccess output is the result",
			def:     taskDef(waitF + `,"ResultPath":"$.cb","End":true`),
			input:   `{"a":1}`,
			lambdas: map[string]func(fakeCall) (core.InvokeResult, error){"f": echo},
			drive: func(t *testing.T, h *harness, arn string) {
				tok := h.waiting(arn, "T")
				if call := h.lam.callList()[0]; call.Payload["token"] != tok {
					t.Errorf("the function got token %v, want %s", call.Payload["token"], tok)
				}
				if err := h.svc.SendTaskSuccess(t.Context(), tok, `{"ok":true}`); err != nil {
					t.Fatal(err)
				}
			},
			wantStatus: StatusSucceeded, wantOutput: `{"a":1,"cb":{"ok":true}}`,
		},
		{
			name:       "waitForTaskToken: a token sent during the call completes the task",
			def:        taskDef(waitF + `,"End":true`),
			lambdas:    map[string]func(fakeCall) (core.InvokeResult, error){},
			drive:      nil, // the function itself answers; see the lambdas set in the test body
			wantStatus: StatusSucceeded, wantOutput: `{"early":true}`,
		},
		{
			name:       "waitForTaskToken: the function's own failure fails the task",
			def:        taskDef(waitF + `,"TimeoutSeconds":60,"End":true`),
			lambdas:    map[string]func(fakeCall) (core.InvokeResult, error){"f": fails("Boom")},
			wantStatus: StatusFailed, wantError: "Boom",
			check: func(t *testing.T, h *harness, arn string) {
				if contains(h.eventTypes(arn), EventTaskSubmitted) {
					t.Errorf("a failed call must not be TaskSubmitted")
				}
			},
		},
		{
			name:    "heartbeat keeps the task alive; a missed one is States.HeartbeatTimeout",
			def:     taskDef(waitF + `,"TimeoutSeconds":100,"HeartbeatSeconds":10,"End":true`),
			lambdas: map[string]func(fakeCall) (core.InvokeResult, error){"f": echo},
			drive: func(t *testing.T, h *harness, arn string) {
				tok := h.waiting(arn, "T")
				for range 3 {
					h.clock.Advance(8 * time.Second)
					if _, err := h.svc.apiSendTaskHeartbeat([]byte(mustJSON(map[string]string{"taskToken": tok}))); err != nil {
						t.Fatalf("SendTaskHeartbeat: %v", err)
					}
				}
				h.clock.Advance(9 * time.Second)
				if st, _ := h.svc.ExecutionStatus(arn); st != StatusRunning {
					t.Fatalf("status 9s after a heartbeat = %s, want RUNNING", st)
				}
				h.clock.Advance(time.Second)
			},
			wantStatus: StatusFailed, wantError: "States.HeartbeatTimeout",
		},
		{
			name:    "HeartbeatSecondsPath and TimeoutSecondsPath read the input",
			def:     taskDef(waitF + `,"TimeoutSecondsPath":"$.t","HeartbeatSecondsPath":"$.hb","End":true`),
			input:   `{"t":100,"hb":10}`,
			lambdas: map[string]func(fakeCall) (core.InvokeResult, error){"f": echo},
			drive: func(t *testing.T, h *harness, arn string) {
				h.waiting(arn, "T")
				d := h.scheduled(arn, "T")
				if d.TimeoutInSeconds == nil || *d.TimeoutInSeconds != 100 || d.HeartbeatInSeconds == nil || *d.HeartbeatInSeconds != 10 {
					t.Errorf("TaskScheduled timeouts = %v/%v, want 100/10", d.TimeoutInSeconds, d.HeartbeatInSeconds)
				}
				h.clock.Advance(10 * time.Second)
			},
			wantStatus: StatusFailed, wantError: "States.HeartbeatTimeout",
		},
		{
			name: "TimeoutSeconds of a request/response task that hangs",
			def:  taskDef(invokeF + `,"TimeoutSeconds":5,"End":true`),
			lambdas: map[string]func(fakeCall) (core.InvokeResult, error){"f": func(fakeCall) (core.InvokeResult, error) {
				select {} // never returns; the task's context is abandoned
			}},
			drive: func(t *testing.T, h *harness, arn string) {
				h.atCursor(arn, "running", func(c cursor) bool { return c.Phase == phaseRunning })
				h.clock.Advance(5 * time.Second)
			},
			wantStatus: StatusFailed, wantError: "States.Timeout",
		},
		{
			name:       "TimeoutSecondsPath that does not resolve fails with States.Runtime, even with a States.ALL catcher",
			def:        taskDef(waitF + `,"TimeoutSecondsPath":"$.missing","Catch":[{"ErrorEquals":["States.ALL"],"Next":"Caught"}],"End":true`),
			lambdas:    map[string]func(fakeCall) (core.InvokeResult, error){"f": echo},
			wantStatus: StatusFailed, wantError: "States.Runtime", wantCause: "TimeoutSecondsPath",
		},
		{
			name:       "InputPath that does not resolve fails with States.Runtime",
			def:        taskDef(invokeF + `,"InputPath":"$.nope","End":true`),
			lambdas:    map[string]func(fakeCall) (core.InvokeResult, error){"f": echo},
			wantStatus: StatusFailed, wantError: "States.Runtime", wantCause: "$.nope",
		},
		{
			name:       "a Parameters path that does not resolve fails with States.Runtime",
			def:        taskDef(`"Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","Payload":{"x.$":"$.nope"}},"End":true`),
			lambdas:    map[string]func(fakeCall) (core.InvokeResult, error){"f": echo},
			wantStatus: StatusFailed, wantError: "States.Runtime", wantCause: "$.nope",
		},
		{
			name:       "a ResultSelector path that does not resolve fails with States.Runtime",
			def:        taskDef(invokeF + `,"ResultSelector":{"x.$":"$.Payload.nope"},"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Caught"}],"End":true`),
			lambdas:    map[string]func(fakeCall) (core.InvokeResult, error){"f": echo},
			wantStatus: StatusFailed, wantError: "States.Runtime", wantCause: "ResultSelector",
		},
		{
			name:       "an OutputPath that does not resolve fails with States.Runtime",
			def:        `{"StartAt":"P","States":{"P":{"Type":"Pass","OutputPath":"$.nope","End":true}}}`,
			wantStatus: StatusFailed, wantError: "States.Runtime",
		},
		{
			name:       "a failing intrinsic is States.IntrinsicFailure",
			def:        `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"States.StringToJson($.s)"},"End":true}}}`,
			input:      `{"s":"not json"}`,
			wantStatus: StatusFailed, wantError: "States.IntrinsicFailure",
		},
		{
			name:       "a Lambda function ARN as Resource (legacy form)",
			def:        taskDef(`"Resource":"arn:aws:lambda:us-east-1:000000000000:function:f:prod","ResultPath":"$.r","End":true`),
			input:      `{"a":1}`,
			lambdas:    map[string]func(fakeCall) (core.InvokeResult, error){"arn:aws:lambda:us-east-1:000000000000:function:f:prod": echo},
			wantStatus: StatusSucceeded, wantOutput: `{"a":1,"r":{"a":1}}`,
			check: func(t *testing.T, h *harness, arn string) {
				want := []string{"ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"}
				if got := h.eventTypes(arn); !reflect.DeepEqual(got, want) {
					t.Errorf("events = %v\nwant %v", got, want)
				}
			},
		},
		{
			name: "definition TimeoutSeconds times the execution out",
			def:  `{"TimeoutSeconds":10,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"End":true}}}`,
			drive: func(t *testing.T, h *harness, arn string) {
				h.atCursor(arn, "armed", func(c cursor) bool { return !c.WakeAt.IsZero() })
				h.clock.Advance(10 * time.Second)
			},
			wantStatus: StatusTimedOut, wantError: "States.Timeout",
			check: func(t *testing.T, h *harness, arn string) {
				if got := h.eventTypes(arn); got[len(got)-1] != EventExecutionTimedOut {
					t.Errorf("last event %s, want ExecutionTimedOut", got[len(got)-1])
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			for fn, handler := range tc.lambdas {
				h.lam.handle(fn, handler)
			}
			if strings.HasPrefix(tc.name, "waitForTaskToken: a token sent during the call") {
				h.lam.handle("f", func(call fakeCall) (core.InvokeResult, error) {
					tok, _ := call.Payload["token"].(string)
					if err := h.svc.SendTaskSuccess(context.Background(), tok, `{"early":true}`); err != nil {
						t.Errorf("SendTaskSuccess during the call: %v", err)
					}
					return ok("late")
				})
			}
			sm := h.machine("m", tc.def)
			arn := h.start(sm, "e1", tc.input)
			if tc.drive != nil {
				tc.drive(t, h, arn)
			}
			status, errName, cause := h.closed(arn)
			if status != tc.wantStatus || errName != tc.wantError || !strings.Contains(cause, tc.wantCause) {
				t.Fatalf("ended %s/%q (cause %q), want %s/%q (cause containing %q)\nevents: %v", status, errName, cause, tc.wantStatus, tc.wantError, tc.wantCause, h.eventTypes(arn))
			}
			if tc.wantOutput != "" {
				h.svc.mu.Lock()
				got := *h.svc.executions[arn].Output
				h.svc.mu.Unlock()
				var g, w any
				_ = json.Unmarshal([]byte(got), &g)
				_ = json.Unmarshal([]byte(tc.wantOutput), &w)
				if !reflect.DeepEqual(g, w) {
					t.Errorf("output = %s, want %s", got, tc.wantOutput)
				}
			}
			if tc.check != nil {
				tc.check(t, h, arn)
			}
		})
	}
}

func TestStopExecution(t *testing.T) {
	tests := []struct {
		name  string
		def   string
		ready func(h *harness, arn string) string // returns the task token, if any
	}{
		{"while a task waits for its token", taskDef(waitF + `,"End":true`), func(h *harness, arn string) string { return h.waiting(arn, "T") }},
		{"during a Wait", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":600,"End":true}}}`, func(h *harness, arn string) string {
			h.atCursor(arn, "armed", func(c cursor) bool { return !c.WakeAt.IsZero() })
			return ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.lam.handle("f", func(call fakeCall) (core.InvokeResult, error) { return ok(call.Payload) })
			arn := h.start(h.machine("m", tc.def), "e1", "")
			tok := tc.ready(h, arn)
			body := mustJSON(map[string]string{"executionArn": arn, "error": "aliasflow.Superseded", "cause": "v3 replaced v2"})
			if _, err := h.svc.apiStopExecution([]byte(body)); err != nil {
				t.Fatalf("StopExecution: %v", err)
			}
			status, errName, cause := h.closed(arn)
			if status != StatusAborted || errName != "aliasflow.Superseded" || cause != "v3 replaced v2" {
				t.Errorf("ended %s/%s/%s, want ABORTED with the given error and cause", status, errName, cause)
			}
			events := mustHistory(t, h, arn)
			last := events[len(events)-1]
			if last.Type != EventExecutionAborted || last.ExecutionAbortedEventDetails.Error != "aliasflow.Superseded" {
				t.Errorf("last event = %+v, want ExecutionAborted", last)
			}
			h.clock.Advance(time.Hour)
			if got := len(mustHistory(t, h, arn)); got != len(events) {
				t.Errorf("events after the stop: %d, want %d", got, len(events))
			}
			if tok != "" {
				err := h.svc.SendTaskSuccess(t.Context(), tok, `{}`)
				if apiErr, isAPI := err.(*core.APIError); !isAPI || apiErr.Code != "TaskTimedOut" {
					t.Errorf("SendTaskSuccess after the stop = %v, want TaskTimedOut", err)
				}
			}
		})
	}
}

func TestSnapshotRestoreResumes(t *testing.T) {
	def := `{"StartAt":"W","States":{
		"W":{"Type":"Wait","Seconds":100,"Next":"T"},
		"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"FunctionName":"f","Payload":{"token.$":"$$.Task.Token"}},"TimeoutSeconds":300,"Catch":[{"ErrorEquals":["States.Timeout"],"ResultPath":"$.t","Next":"R"}],"Next":"R"},
		"R":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"g"},"ResultPath":"$.g","End":true}}}`
	tests := []struct {
		name string
		run  func(t *testing.T, a *harness, arn string) *harness
	}{
		{"a Wait keeps its end time", func(t *testing.T, a *harness, arn string) *harness {
			a.atCursor(arn, "armed", func(c cursor) bool { return c.State == "W" && !c.WakeAt.IsZero() })
			a.clock.Advance(40 * time.Second)
			b := restoreInto(t, a)
			c := b.atCursor(arn, "restored wait", func(c cursor) bool { return c.State == "W" })
			if got := c.WakeAt.Sub(b.clock.Now()); got != 60*time.Second {
				t.Errorf("restored Wait has %v left, want 60s", got)
			}
			b.clock.Advance(60 * time.Second)
			tok := b.waiting(arn, "T")
			if err := b.svc.SendTaskSuccess(t.Context(), tok, `{"ok":1}`); err != nil {
				t.Fatal(err)
			}
			return b
		}},
		{"a waiting task keeps its token and remaining timeout", func(t *testing.T, a *harness, arn string) *harness {
			a.atCursor(arn, "armed", func(c cursor) bool { return !c.WakeAt.IsZero() })
			a.clock.Advance(100 * time.Second)
			tok := a.waiting(arn, "T")
			a.clock.Advance(200 * time.Second)
			b := restoreInto(t, a)
			if got := b.waiting(arn, "T"); got != tok {
				t.Fatalf("token after restore = %q, want %q", got, tok)
			}
			b.clock.Advance(99 * time.Second)
			if st, _ := b.svc.ExecutionStatus(arn); st != StatusRunning {
				t.Fatalf("timed out early after restore: %s", st)
			}
			b.clock.Advance(time.Second)
			return b
		}},
		{"a task in flight runs again", func(t *testing.T, a *harness, arn string) *harness {
			a.lam.handle("g", func(fakeCall) (core.InvokeResult, error) { select {} })
			a.atCursor(arn, "armed", func(c cursor) bool { return !c.WakeAt.IsZero() })
			a.clock.Advance(100 * time.Second)
			tok := a.waiting(arn, "T")
			if err := a.svc.SendTaskSuccess(t.Context(), tok, `{}`); err != nil {
				t.Fatal(err)
			}
			a.atCursor(arn, "R in flight", func(c cursor) bool { return c.State == "R" && c.Phase == phaseRunning })
			return restoreInto(t, a)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newHarness(t)
			a.lam.handle("f", func(call fakeCall) (core.InvokeResult, error) { return ok(call.Payload) })
			arn := a.start(a.machine("m", def), "e1", `{"x":1}`)
			b := tc.run(t, a, arn)
			if status, errName, _ := b.closed(arn); status != StatusSucceeded {
				t.Fatalf("after restore the execution ended %s/%s, want SUCCEEDED\nevents %v", status, errName, b.eventTypes(arn))
			}
			if got := b.output(arn)["g"].(map[string]any)["Payload"]; got != "restored" {
				t.Errorf("R's result = %v, want the restored service's call", got)
			}
			if got := b.eventTypes(arn)[0]; got != EventExecutionStarted {
				t.Errorf("history lost its start: first event %s", got)
			}
		})
	}
}

// restoreInto snapshots a (stopping it) and restores into a new service on
// the same clock, whose g answers "restored".
func restoreInto(t *testing.T, a *harness) *harness {
	t.Helper()
	a.svc.Close()
	snap, err := a.svc.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	b := &harness{t: t, clock: a.clock, lam: newFakeInvoker()}
	b.svc = New(b.lam, &Options{Now: b.clock.Now, AfterFunc: b.clock.AfterFunc})
	t.Cleanup(b.svc.Close)
	b.lam.handle("f", func(call fakeCall) (core.InvokeResult, error) { return ok(call.Payload) })
	b.lam.handle("g", func(fakeCall) (core.InvokeResult, error) { return ok("restored") })
	if err := b.svc.Restore(snap); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return b
}

func TestFiftyConcurrentExecutions(t *testing.T) {
	h := newHarness(t)
	h.lam.handle("f", func(call fakeCall) (core.InvokeResult, error) { return ok(call.Payload) })
	sm := h.machine("m", `{"StartAt":"T","States":{"T":{"Type":"Task",`+waitF+`,"ResultPath":"$.r","Next":"W"},"W":{"Type":"Wait","Seconds":5,"End":true}}}`)
	var arns []string
	for i := range 50 {
		arns = append(arns, h.start(sm, fmt.Sprintf("e%02d", i), fmt.Sprintf(`{"n":%d}`, i)))
	}
	var wg sync.WaitGroup
	for i, arn := range arns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := h.waiting(arn, "T")
			if err := h.svc.SendTaskSuccess(context.Background(), tok, fmt.Sprintf(`{"i":%d}`, i)); err != nil {
				t.Errorf("SendTaskSuccess %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	for _, arn := range arns {
		h.atCursor(arn, "waiting", func(c cursor) bool { return c.State == "W" && !c.WakeAt.IsZero() })
	}
	h.clock.Advance(5 * time.Second)
	for i, arn := range arns {
		if status, errName, _ := h.closed(arn); status != StatusSucceeded {
			t.Fatalf("execution %d ended %s/%s", i, status, errName)
		}
		out := h.output(arn)
		if r := out["r"].(map[string]any)["i"]; r != float64(i) || out["n"] != float64(i) {
			t.Errorf("execution %d output %v: results crossed executions", i, out)
		}
	}
}

// The HTTP handler refuses what it does not implement, by name.
func TestUnknownOperation(t *testing.T) {
	h := newHarness(t)
	for _, target := range []string{"AWSStepFunctions.CreateActivity", "AWSStepFunctions.StartSyncExecution", "Other.Thing"} {
		_, err := callTarget(h.svc, target, `{}`)
		if err == nil || !strings.Contains(err.Error(), "UnknownOperationException") {
			t.Errorf("%s: err = %v, want UnknownOperationException", target, err)
		}
	}
}

// callTarget sends one awsJson request to the handler and returns the body,
// or the error type and message.
func callTarget(s *Service, target, body string) (string, error) {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return "", fmt.Errorf("%d %s: %s", rec.Code, rec.Header().Get("X-Amzn-ErrorType"), rec.Body.String())
	}
	return rec.Body.String(), nil
}

func TestMalformedRequests(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, target, body, want string
	}{
		{"body not JSON", "AWSStepFunctions.StartExecution", `{`, "SerializationException"},
		{"missing ARN", "AWSStepFunctions.DescribeExecution", `{}`, "ValidationException"},
		{"bad status filter", "AWSStepFunctions.ListExecutions", `{"stateMachineArn":"arn:aws:states:us-east-1:000000000000:stateMachine:m","statusFilter":"DONE"}`, "ValidationException"},
		{"maxResults too large", "AWSStepFunctions.GetExecutionHistory", `{"executionArn":"arn:aws:states:us-east-1:000000000000:execution:m:e","maxResults":1001}`, "ValidationException"},
		{"an operation the project does not call", "AWSStepFunctions.UpdateStateMachine", `{"stateMachineArn":"arn:aws:states:us-east-1:000000000000:stateMachine:m"}`, "UnknownOperationException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := callTarget(h.svc, tc.target, tc.body)
			if err == nil || !strings.Contains(err.Error(), "400 "+tc.want) {
				t.Errorf("err = %v, want 400 %s", err, tc.want)
			}
		})
	}
}

func TestVersionCountsChanges(t *testing.T) {
	h := newHarness(t)
	v0 := h.svc.Version()
	arn := h.start(h.machine("m", `{"StartAt":"S","States":{"S":{"Type":"Succeed"}}}`), "e", "")
	h.closed(arn)
	if v := h.svc.Version(); v <= v0 {
		t.Errorf("Version = %d after changes, want more than %d", v, v0)
	}
}

// TestHistoryLimitFailsTheExecution: an execution whose history reaches
// Step Functions' quota of 25,000 events fails ("If the execution history
// reaches this quota, the execution fails", Step Functions service quotas)
// with States.Runtime; its ExecutionFailed is the 25,000th event and no
// event follows it.
func TestHistoryLimitFailsTheExecution(t *testing.T) {
	h := newHarness(t)
	// A loop that never ends by itself: four events a round.
	m := h.machine("loop", `{"StartAt":"Again","States":{
		"Again":{"Type":"Pass","Next":"Done?"},
		"Done?":{"Type":"Choice","Choices":[{"Variable":"$.stop","BooleanEquals":true,"Next":"Done"}],"Default":"Again"},
		"Done":{"Type":"Succeed"}}}`)
	arn := h.start(m, "forever", `{"stop":false}`)
	var status, errName, cause string
	limit := time.After(2 * time.Minute)
	for {
		st, err := h.svc.ExecutionStatus(arn)
		if err != nil {
			t.Fatal(err)
		}
		if st != StatusRunning {
			status, errName, cause = h.closed(arn)
			break
		}
		select {
		case <-limit:
			events, _ := h.svc.History(arn)
			t.Fatalf("the looping execution still runs with %d history events; it must fail at 25,000", len(events))
		case <-time.After(20 * time.Millisecond):
		}
	}
	if status != StatusFailed || errName != "States.Runtime" || !strings.Contains(cause, "25000") {
		t.Errorf("execution = %s %s (%s), want FAILED States.Runtime naming the 25000-event limit", status, errName, cause)
	}
	events, err := h.svc.History(arn)
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1]
	if len(events) != 25000 || last.Type != EventExecutionFailed || last.ID != 25000 {
		t.Errorf("history: %d events, last %s #%d; want 25000, the last ExecutionFailed #25000", len(events), last.Type, last.ID)
	}
	// The history stays closed: nothing is added after the failure.
	time.Sleep(50 * time.Millisecond)
	if again, _ := h.svc.History(arn); len(again) != len(events) {
		t.Errorf("history grew to %d events after the execution failed", len(again))
	}
}
