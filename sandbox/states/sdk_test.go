package states

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

func newSDK(t *testing.T) (*harness, *sfn.Client) {
	t.Helper()
	h := newHarness(t)
	return h, sfn.NewFromConfig(servicetest.Config(t, "states", h.svc))
}

// wantAPIError checks that err is the typed SDK error T with HTTP 400.
func wantAPIError[T error](t *testing.T, what string, err error) {
	t.Helper()
	var typed T
	if !errors.As(err, &typed) {
		t.Errorf("%s: err = %v, want %T", what, err, typed)
		return
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != http.StatusBadRequest {
		t.Errorf("%s: HTTP %d, want 400", what, re.HTTPStatusCode())
	}
}

const tokenDef = `{"StartAt":"Ask","States":{
	"Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"FunctionName":"f","Payload":{"taskToken.$":"$$.Task.Token","in.$":"$"}},"ResultPath":"$.answer","TimeoutSeconds":600,"HeartbeatSeconds":60,"End":true}}}`

// TestSDKStateMachines lists state machines through the SDK's paginator;
// they are created through the Go API (the project creates its state
// machine with CloudFormation, never through the API).
func TestSDKStateMachines(t *testing.T) {
	h, client := newSDK(t)
	ctx := t.Context()
	if _, err := h.svc.CreateStateMachine("m", tokenDef, testRole); err != nil {
		t.Fatal(err)
	}
	refusals := []struct{ name, smName, def, role, code string }{
		{"same name, other definition", "m", `{"StartAt":"S","States":{"S":{"Type":"Succeed"}}}`, testRole, "StateMachineAlreadyExists"},
		{"unsupported field", "x", `{"StartAt":"S","States":{"S":{"Type":"Succeed","Assign":{}}}}`, testRole, "InvalidDefinition"},
		{"Parallel state", "x", `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[],"End":true}}}`, testRole, "InvalidDefinition"},
		{"bad name", "has space", tokenDef, testRole, "InvalidName"},
		{"bad role", "x", tokenDef, "role", "InvalidArn"},
	}
	for _, tc := range refusals {
		_, err := h.svc.CreateStateMachine(tc.smName, tc.def, tc.role)
		var apiErr *core.APIError
		if !errors.As(err, &apiErr) || apiErr.Code != tc.code {
			t.Errorf("%s: err = %v, want %s", tc.name, err, tc.code)
		}
	}
	for _, n := range []string{"a", "b", "c"} {
		if _, err := h.svc.CreateStateMachine(n, tokenDef, testRole); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	pager := sfn.NewListStateMachinesPaginator(client, &sfn.ListStateMachinesInput{MaxResults: 3})
	pages := 0
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListStateMachines: %v", err)
		}
		pages++
		for _, m := range page.StateMachines {
			names = append(names, aws.ToString(m.Name))
		}
	}
	if !reflect.DeepEqual(names, []string{"a", "b", "c", "m"}) || pages != 2 {
		t.Errorf("ListStateMachines = %v in %d pages, want [a b c m] in 2", names, pages)
	}
}

func TestSDKExecutions(t *testing.T) {
	h, client := newSDK(t)
	ctx := t.Context()
	h.lam.handle("f", func(call fakeCall) (core.InvokeResult, error) { return ok(map[string]any{"notified": true}) })
	smARN, err := h.svc.CreateStateMachine("m", tokenDef, testRole)
	sm := &sfn.CreateStateMachineOutput{StateMachineArn: aws.String(smARN)}
	if err != nil {
		t.Fatal(err)
	}
	start := func(name, input string) (*sfn.StartExecutionOutput, error) {
		return client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String(name), Input: aws.String(input)})
	}
	first, err := start("hello-v2-abcd", `{"v":2}`)
	if err != nil {
		t.Fatalf("StartExecution: %v", err)
	}
	t.Run("StartExecution is idempotent by name and input while RUNNING", func(t *testing.T) {
		h.clock.Advance(time.Second)
		again, err := start("hello-v2-abcd", `{"v":2}`)
		if err != nil {
			t.Fatalf("StartExecution again: %v", err)
		}
		if aws.ToString(again.ExecutionArn) != aws.ToString(first.ExecutionArn) || !again.StartDate.Equal(*first.StartDate) {
			t.Errorf("again = %s at %v, want %s at %v", aws.ToString(again.ExecutionArn), again.StartDate, aws.ToString(first.ExecutionArn), first.StartDate)
		}
		_, err = start("hello-v2-abcd", `{"v":3}`)
		wantAPIError[*types.ExecutionAlreadyExists](t, "other input", err)
	})
	t.Run("StartExecution refusals", func(t *testing.T) {
		_, err := start(strings.Repeat("n", 81), `{}`)
		wantAPIError[*types.InvalidName](t, "81 characters", err)
		_, err = start("bad name", `{}`)
		wantAPIError[*types.InvalidName](t, "white space", err)
		_, err = start("x", `{"v":`)
		wantAPIError[*types.InvalidExecutionInput](t, "bad JSON", err)
		_, err = client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:000000000000:stateMachine:nope")})
		wantAPIError[*types.StateMachineDoesNotExist](t, "unknown machine", err)
		unnamed, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn})
		if err != nil || !strings.Contains(aws.ToString(unnamed.ExecutionArn), ":m:") {
			t.Errorf("StartExecution without a name = %v, %v; want a generated name", unnamed, err)
		}
	})

	arn := first.ExecutionArn
	tok := h.waiting(aws.ToString(arn), "Ask")
	t.Run("history shapes, and the token in TaskScheduled parameters", func(t *testing.T) {
		hist, err := client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: arn})
		if err != nil {
			t.Fatalf("GetExecutionHistory: %v", err)
		}
		var types_ []string
		var found string
		for i, ev := range hist.Events {
			types_ = append(types_, string(ev.Type))
			if ev.Id != int64(i+1) || ev.PreviousEventId != int64(i) || ev.Timestamp == nil {
				t.Errorf("event %d ids %d/%d timestamp %v", i, ev.Id, ev.PreviousEventId, ev.Timestamp)
			}
			if d := ev.TaskScheduledEventDetails; d != nil {
				if aws.ToString(d.ResourceType) != "lambda" || aws.ToString(d.Resource) != "invoke.waitForTaskToken" || aws.ToString(d.Region) != core.Region ||
					aws.ToInt64(d.TimeoutInSeconds) != 600 || aws.ToInt64(d.HeartbeatInSeconds) != 60 {
					t.Errorf("TaskScheduled details = %+v", d)
				}
				var p struct{ Payload struct{ TaskToken string } }
				if err := json.Unmarshal([]byte(aws.ToString(d.Parameters)), &p); err != nil {
					t.Fatalf("parameters: %v", err)
				}
				found = p.Payload.TaskToken
			}
			if d := ev.StateEnteredEventDetails; d != nil && (aws.ToString(d.Name) != "Ask" || aws.ToString(d.Input) != `{"v":2}`) {
				t.Errorf("StateEntered details = %+v", d)
			}
			if d := ev.ExecutionStartedEventDetails; d != nil && (aws.ToString(d.Input) != `{"v":2}` || aws.ToString(d.RoleArn) != testRole) {
				t.Errorf("ExecutionStarted details = %+v", d)
			}
			if d := ev.TaskSubmittedEventDetails; d != nil && !strings.Contains(aws.ToString(d.Output), `"notified":true`) {
				t.Errorf("TaskSubmitted output = %s", aws.ToString(d.Output))
			}
		}
		want := []string{"ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted"}
		if !reflect.DeepEqual(types_, want) {
			t.Errorf("events = %v, want %v", types_, want)
		}
		if found != tok {
			t.Errorf("token in TaskScheduled parameters = %q, want %q", found, tok)
		}
		rev, err := client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: arn, ReverseOrder: true, MaxResults: 2, IncludeExecutionData: aws.Bool(false)})
		if err != nil {
			t.Fatal(err)
		}
		if len(rev.Events) != 2 || rev.Events[0].Type != types.HistoryEventTypeTaskSubmitted || rev.NextToken == nil {
			t.Errorf("reverse page = %d events starting %s, next %v", len(rev.Events), rev.Events[0].Type, rev.NextToken)
		}
		if d := rev.Events[0].TaskSubmittedEventDetails; d == nil || d.Output != nil {
			t.Errorf("includeExecutionData=false still returns output: %+v", d)
		}
		rest, err := client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: arn, ReverseOrder: true, MaxResults: 2, NextToken: rev.NextToken})
		if err != nil || len(rest.Events) != 2 || rest.Events[0].Type != types.HistoryEventTypeTaskScheduled {
			t.Errorf("second reverse page = %+v, %v", rest, err)
		}
		_, err = client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: arn, NextToken: aws.String("bogus")})
		wantAPIError[*types.InvalidToken](t, "bad next token", err)
	})
	t.Run("task token errors", func(t *testing.T) {
		_, err := client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("not a token"), Output: aws.String(`{}`)})
		wantAPIError[*types.InvalidToken](t, "malformed token", err)
		_, err = client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(newToken()), Output: aws.String(`{}`)})
		wantAPIError[*types.TaskDoesNotExist](t, "unknown token", err)
		_, err = client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(newToken()), Error: aws.String("E")})
		wantAPIError[*types.TaskDoesNotExist](t, "unknown token (failure)", err)
		_, err = client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(tok), Output: aws.String(`{"a":`)})
		wantAPIError[*types.InvalidOutput](t, "bad output", err)
	})
	t.Run("SendTaskSuccess completes; a second answer is TaskTimedOut", func(t *testing.T) {
		if _, err := client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(tok), Output: aws.String(`{"approved":true}`)}); err != nil {
			t.Fatalf("SendTaskSuccess: %v", err)
		}
		h.closed(aws.ToString(arn))
		_, err := client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(tok), Output: aws.String(`{}`)})
		wantAPIError[*types.TaskTimedOut](t, "answered twice", err)
		d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: arn})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != types.ExecutionStatusSucceeded || !sameJSON(aws.ToString(d.Output), `{"v":2,"answer":{"approved":true}}`) || aws.ToString(d.Input) != `{"v":2}` || d.StopDate == nil || aws.ToString(d.Name) != "hello-v2-abcd" {
			t.Errorf("DescribeExecution = status %s output %s input %s stop %v", d.Status, aws.ToString(d.Output), aws.ToString(d.Input), d.StopDate)
		}
		_, err = start("hello-v2-abcd", `{"v":2}`)
		wantAPIError[*types.ExecutionAlreadyExists](t, "restart a closed execution", err)
	})
	t.Run("SendTaskFailure and StopExecution", func(t *testing.T) {
		failing, err := start("fails", `{}`)
		if err != nil {
			t.Fatal(err)
		}
		ftok := h.waiting(aws.ToString(failing.ExecutionArn), "Ask")
		if _, err := client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(ftok), Error: aws.String("aliasflow.Rejected"), Cause: aws.String("no")}); err != nil {
			t.Fatalf("SendTaskFailure: %v", err)
		}
		h.closed(aws.ToString(failing.ExecutionArn))
		d, _ := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: failing.ExecutionArn})
		if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "aliasflow.Rejected" || aws.ToString(d.Cause) != "no" {
			t.Errorf("after SendTaskFailure: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
		}

		stopped, err := start("stopped", `{}`)
		if err != nil {
			t.Fatal(err)
		}
		h.waiting(aws.ToString(stopped.ExecutionArn), "Ask")
		out, err := client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: stopped.ExecutionArn, Error: aws.String("aliasflow.Superseded"), Cause: aws.String("v3")})
		if err != nil || out.StopDate == nil {
			t.Fatalf("StopExecution = %v, %v", out, err)
		}
		d, _ = client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: stopped.ExecutionArn})
		if d.Status != types.ExecutionStatusAborted || aws.ToString(d.Error) != "aliasflow.Superseded" || aws.ToString(d.Cause) != "v3" {
			t.Errorf("after StopExecution: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
		}
		hist, _ := client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: stopped.ExecutionArn, ReverseOrder: true, MaxResults: 1})
		if ev := hist.Events[0]; ev.Type != types.HistoryEventTypeExecutionAborted || aws.ToString(ev.ExecutionAbortedEventDetails.Error) != "aliasflow.Superseded" {
			t.Errorf("last event = %s %+v", ev.Type, ev.ExecutionAbortedEventDetails)
		}
	})
	t.Run("describe errors", func(t *testing.T) {
		_, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:000000000000:execution:m:nope")})
		wantAPIError[*types.ExecutionDoesNotExist](t, "unknown execution", err)
		_, err = client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:000000000000:stateMachine:m")})
		wantAPIError[*types.InvalidArn](t, "machine ARN as execution", err)
		_, err = client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:000000000000:execution:m:nope")})
		wantAPIError[*types.ExecutionDoesNotExist](t, "stop unknown", err)
		_, err = client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String("nope")})
		wantAPIError[*types.InvalidArn](t, "history of a malformed ARN", err)
	})
	t.Run("ListExecutions: newest first, status filter, pages", func(t *testing.T) {
		var all []string
		pager := sfn.NewListExecutionsPaginator(client, &sfn.ListExecutionsInput{StateMachineArn: sm.StateMachineArn, MaxResults: 2})
		for pager.HasMorePages() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListExecutions: %v", err)
			}
			for _, e := range page.Executions {
				all = append(all, string(e.Status)+":"+aws.ToString(e.Name))
			}
		}
		if len(all) != 4 || all[0] != "ABORTED:stopped" || all[1] != "FAILED:fails" || all[3] != "SUCCEEDED:hello-v2-abcd" {
			t.Errorf("ListExecutions = %v, want newest first", all)
		}
		running, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: sm.StateMachineArn, StatusFilter: types.ExecutionStatusFailed})
		if err != nil || len(running.Executions) != 1 || aws.ToString(running.Executions[0].Name) != "fails" {
			t.Errorf("ListExecutions(FAILED) = %+v, %v", running, err)
		}
		_, err = client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: sm.StateMachineArn, NextToken: aws.String("bogus")})
		wantAPIError[*types.InvalidToken](t, "bad token", err)
		_, err = client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:000000000000:stateMachine:nope")})
		wantAPIError[*types.StateMachineDoesNotExist](t, "unknown machine", err)
	})
}

// An unsigned request is not served (the dispatcher's job, mirrored here),
// and an action the sandbox does not implement is refused by name.
func TestSDKUnknownAction(t *testing.T) {
	_, client := newSDK(t)
	_, err := client.CreateActivity(t.Context(), &sfn.CreateActivityInput{Name: aws.String("a")})
	if err == nil || !strings.Contains(err.Error(), "UnknownOperationException") || !strings.Contains(err.Error(), "CreateActivity") {
		t.Errorf("CreateActivity = %v, want UnknownOperationException naming it", err)
	}
}

func TestExecutionStarterInterface(t *testing.T) {
	h := newHarness(t)
	sm := h.machine("m", `{"StartAt":"S","States":{"S":{"Type":"Succeed"}}}`)
	var starter core.ExecutionStarter = h.svc
	arn, err := starter.StartExecution(t.Context(), sm, "", `{"from":"eventbridge"}`)
	if err != nil {
		t.Fatalf("StartExecution: %v", err)
	}
	if status, _, _ := h.closed(arn); status != StatusSucceeded {
		t.Errorf("status %s", status)
	}
	if _, err := starter.StartExecution(t.Context(), sm, "", `not json`); err == nil {
		t.Errorf("StartExecution with bad input succeeded")
	} else if apiErr := (*core.APIError)(nil); !errors.As(err, &apiErr) || apiErr.Code != "InvalidExecutionInput" {
		t.Errorf("err = %v, want InvalidExecutionInput", err)
	}
}

// sameJSON compares two JSON texts as values (object key order aside).
func sameJSON(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}
