// Package pendingtest is a stateful in-memory Step Functions for tests of
// code that finds and answers a waiting task: executions with real-shaped
// histories, and SendTaskSuccess/SendTaskFailure that accept a token once
// and then answer TaskTimedOut, as Step Functions does.
package pendingtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/fakes/sfnfake"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// ApprovalFunctionARN is the function the fake's RequestApproval task invokes.
const ApprovalFunctionARN = "arn:aws:lambda:us-east-1:000000000000:function:aliasflow-approval"

// ExecutionARN returns the ARN of an execution of aliasflow-promotion.
func ExecutionARN(name string) string {
	return promotion.ExecutionARN("arn:aws:states:us-east-1:000000000000:stateMachine:"+deploy.StateMachine, name)
}

// Sent is one accepted SendTaskSuccess or SendTaskFailure.
type Sent struct {
	Token   string
	Success bool
	Output  string // SendTaskSuccess
	Error   string // SendTaskFailure
	Cause   string // SendTaskFailure
}

// SFN is the fake. The zero value is not usable; call New.
type SFN struct {
	mu    sync.Mutex
	execs map[string]*execution
	tasks map[string]*task

	// PageSize, when > 0, caps every GetExecutionHistory page so tests
	// exercise pagination.
	PageSize int
	// StaleHistory makes SendTask* close the task without writing history,
	// as when another decider wins the race between reading the history and
	// answering.
	StaleHistory bool
	// Sent lists the accepted SendTask* calls, in order.
	Sent []Sent
	// Calls counts calls per operation.
	Calls map[string]int
}

type execution struct {
	arn    string
	status types.ExecutionStatus
	input  string
	start  time.Time
	stop   time.Time
	events []types.HistoryEvent
	// err and cause: how it ended (StopExecution's, or a Fail state's).
	err, cause string
}

type task struct {
	exec  *execution
	state string
	open  bool
}

// New returns an empty fake.
func New() *SFN {
	return &SFN{execs: map[string]*execution{}, tasks: map[string]*task{}, Calls: map[string]int{}}
}

// Waiting describes an execution parked in a waitForTaskToken state.
type Waiting struct {
	ARN         string
	State       promotion.State
	StateName   string // default promotion.StateRequestApproval
	Token       string
	EnteredTime time.Time
	// TimeoutSeconds defaults to State.Target.ApprovalTimeoutSeconds.
	TimeoutSeconds int64
	ApprovalURL    string
	// InFlight: the task's Lambda call has not returned (no TaskSubmitted).
	InFlight bool
}

// AddWaiting creates a running execution whose history reads as the
// promotion definition writes it: smoke test passed, the choice, and the
// waitForTaskToken task scheduled, started and submitted.
func (f *SFN) AddWaiting(w Waiting) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w.StateName == "" {
		w.StateName = promotion.StateRequestApproval
	}
	if w.TimeoutSeconds == 0 {
		w.TimeoutSeconds = int64(w.State.Target.ApprovalTimeoutSeconds)
	}
	entered := w.EnteredTime
	start := entered.Add(-30 * time.Second)
	input, _ := json.Marshal(w.State.Input)
	stateInput, _ := json.Marshal(w.State)
	ex := &execution{arn: w.ARN, status: types.ExecutionStatusRunning, input: string(input), start: start}
	smokeOut, _ := json.Marshal(w.State.Smoke)
	payload := promotion.TaskRequest{
		Action: promotion.ActionRequest, Execution: w.ARN, StartTime: start, TaskToken: w.Token,
		ApprovalURL: w.ApprovalURL, EnteredTime: entered, Promotion: w.State,
	}
	params, _ := json.Marshal(map[string]any{"FunctionName": ApprovalFunctionARN, "Payload": payload})
	ex.add(start, types.HistoryEvent{Type: types.HistoryEventTypeExecutionStarted,
		ExecutionStartedEventDetails: &types.ExecutionStartedEventDetails{Input: aws.String(string(input))}})
	ex.add(start, entered0("TaskStateEntered", promotion.StateSmokeTest, string(input)))
	ex.add(start.Add(time.Second), types.HistoryEvent{Type: types.HistoryEventTypeTaskSucceeded,
		TaskSucceededEventDetails: &types.TaskSucceededEventDetails{Resource: aws.String("invoke"), ResourceType: aws.String("lambda"), Output: aws.String(string(smokeOut))}})
	ex.add(start.Add(time.Second), exited("TaskStateExited", promotion.StateSmokeTest, string(stateInput)))
	ex.add(start.Add(time.Second), entered0("ChoiceStateEntered", promotion.StateSmokePassed, string(stateInput)))
	ex.add(start.Add(time.Second), exited("ChoiceStateExited", promotion.StateSmokePassed, string(stateInput)))
	ex.add(entered, entered0("TaskStateEntered", w.StateName, string(stateInput)))
	ex.add(entered, types.HistoryEvent{Type: types.HistoryEventTypeTaskScheduled,
		TaskScheduledEventDetails: &types.TaskScheduledEventDetails{
			Parameters: aws.String(string(params)), Region: aws.String("us-east-1"),
			Resource: aws.String("invoke.waitForTaskToken"), ResourceType: aws.String("lambda"),
			TimeoutInSeconds: aws.Int64(w.TimeoutSeconds),
		}})
	ex.add(entered, types.HistoryEvent{Type: types.HistoryEventTypeTaskStarted,
		TaskStartedEventDetails: &types.TaskStartedEventDetails{Resource: aws.String("invoke.waitForTaskToken"), ResourceType: aws.String("lambda")}})
	if !w.InFlight {
		ex.add(entered, types.HistoryEvent{Type: types.HistoryEventTypeTaskSubmitted,
			TaskSubmittedEventDetails: &types.TaskSubmittedEventDetails{Resource: aws.String("invoke.waitForTaskToken"), ResourceType: aws.String("lambda"), Output: aws.String(`{"StatusCode":200}`)}})
	}
	f.execs[w.ARN] = ex
	f.tasks[w.Token] = &task{exec: ex, state: w.StateName, open: true}
}

func entered0(typ, name, input string) types.HistoryEvent {
	return types.HistoryEvent{Type: types.HistoryEventType(typ),
		StateEnteredEventDetails: &types.StateEnteredEventDetails{Name: aws.String(name), Input: aws.String(input)}}
}

func exited(typ, name, output string) types.HistoryEvent {
	return types.HistoryEvent{Type: types.HistoryEventType(typ),
		StateExitedEventDetails: &types.StateExitedEventDetails{Name: aws.String(name), Output: aws.String(output)}}
}

func (ex *execution) add(at time.Time, ev types.HistoryEvent) {
	ev.Id = int64(len(ex.events) + 1)
	ev.PreviousEventId = ev.Id - 1
	ev.Timestamp = aws.Time(at)
	ex.events = append(ex.events, ev)
}

// End stops an execution with status (SUCCEEDED, FAILED, ABORTED, TIMED_OUT).
func (f *SFN) End(arn string, status types.ExecutionStatus, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ex := f.execs[arn]
	ex.status, ex.stop = status, at
	typ := map[types.ExecutionStatus]types.HistoryEventType{
		types.ExecutionStatusSucceeded: types.HistoryEventTypeExecutionSucceeded,
		types.ExecutionStatusFailed:    types.HistoryEventTypeExecutionFailed,
		types.ExecutionStatusAborted:   types.HistoryEventTypeExecutionAborted,
		types.ExecutionStatusTimedOut:  types.HistoryEventTypeExecutionTimedOut,
	}[status]
	for _, t := range f.tasks {
		if t.exec == ex && t.open {
			t.open = false
			if status == types.ExecutionStatusAborted {
				ex.add(at, types.HistoryEvent{Type: types.HistoryEventTypeTaskStateAborted,
					StateExitedEventDetails: &types.StateExitedEventDetails{Name: aws.String(t.state)}})
			}
		}
	}
	ex.add(at, types.HistoryEvent{Type: typ})
}

// TimeOut times the task of token out, as the state's TimeoutSecondsPath does.
func (f *SFN) TimeOut(token string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tasks[token]
	t.open = false
	t.exec.add(at, types.HistoryEvent{Type: types.HistoryEventTypeTaskTimedOut,
		TaskTimedOutEventDetails: &types.TaskTimedOutEventDetails{Resource: aws.String("invoke.waitForTaskToken"), ResourceType: aws.String("lambda"), Error: aws.String("States.Timeout")}})
	t.exec.add(at, exited("TaskStateExited", t.state, "{}"))
	t.exec.add(at, entered0("TaskStateEntered", promotion.StateRecordExpiry, "{}"))
}

// Retry fails the attempt holding token as a Lambda service error and
// schedules the task again with newToken, as the state's Retry does.
func (f *SFN) Retry(token, newToken string, at time.Time) {
	f.RetryAfter(token, newToken, at, "Lambda.ServiceException", "Service unavailable")
}

// RetryAfter is Retry with the failure the attempt ended with: errName and
// cause as the TaskFailed event carries them (for a function error, the
// cause is the function's error payload).
func (f *SFN) RetryAfter(token, newToken string, at time.Time, errName, cause string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tasks[token]
	t.open = false
	var sched types.HistoryEvent
	for _, ev := range t.exec.events {
		if ev.Type == types.HistoryEventTypeTaskScheduled {
			sched = ev
		}
	}
	params := strings.Replace(aws.ToString(sched.TaskScheduledEventDetails.Parameters), token, newToken, 1)
	t.exec.add(at, types.HistoryEvent{Type: types.HistoryEventTypeTaskFailed,
		TaskFailedEventDetails: &types.TaskFailedEventDetails{Resource: aws.String("invoke.waitForTaskToken"), ResourceType: aws.String("lambda"),
			Error: aws.String(errName), Cause: aws.String(cause)}})
	d := *sched.TaskScheduledEventDetails
	d.Parameters = aws.String(params)
	t.exec.add(at, types.HistoryEvent{Type: types.HistoryEventTypeTaskScheduled, TaskScheduledEventDetails: &d})
	f.tasks[newToken] = &task{exec: t.exec, state: t.state, open: true}
}

// History returns a copy of an execution's events, oldest first.
func (f *SFN) History(arn string) []types.HistoryEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]types.HistoryEvent(nil), f.execs[arn].events...)
}

// DescribeExecution implements pending.HistoryAPI.
func (f *SFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["DescribeExecution"]++
	ex, ok := f.execs[aws.ToString(in.ExecutionArn)]
	if !ok {
		return nil, &types.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: '" + aws.ToString(in.ExecutionArn) + "'")}
	}
	out := &sfn.DescribeExecutionOutput{ExecutionArn: aws.String(ex.arn), Status: ex.status, Input: aws.String(ex.input), StartDate: aws.Time(ex.start),
		StateMachineArn: aws.String("arn:aws:states:us-east-1:000000000000:stateMachine:aliasflow-promotion")}
	if !ex.stop.IsZero() {
		out.StopDate = aws.Time(ex.stop)
	}
	if ex.err != "" {
		out.Error, out.Cause = aws.String(ex.err), aws.String(ex.cause)
	}
	return out, nil
}

// GetExecutionHistory implements pending.HistoryAPI, with pages and
// reverse order as Step Functions serves them (NextToken is an offset here).
func (f *SFN) GetExecutionHistory(_ context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["GetExecutionHistory"]++
	ex, ok := f.execs[aws.ToString(in.ExecutionArn)]
	if !ok {
		return nil, &types.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: '" + aws.ToString(in.ExecutionArn) + "'")}
	}
	return sfnfake.HistoryPage(ex.events, in, f.PageSize)
}

// SendTaskSuccess accepts an open task's token once.
func (f *SFN) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["SendTaskSuccess"]++
	tok, output := aws.ToString(in.TaskToken), aws.ToString(in.Output)
	if !json.Valid([]byte(output)) {
		return nil, &types.InvalidOutput{Message: aws.String("Invalid Output: not JSON")}
	}
	t, err := f.claim(tok)
	if err != nil {
		return nil, err
	}
	f.Sent = append(f.Sent, Sent{Token: tok, Success: true, Output: output})
	if !f.StaleHistory {
		now := t.exec.events[len(t.exec.events)-1].Timestamp.Add(time.Second)
		t.exec.add(now, types.HistoryEvent{Type: types.HistoryEventTypeTaskSucceeded,
			TaskSucceededEventDetails: &types.TaskSucceededEventDetails{Resource: aws.String("invoke.waitForTaskToken"), ResourceType: aws.String("lambda"), Output: aws.String(output)}})
		t.exec.add(now, exited("TaskStateExited", t.state, "{}"))
		t.exec.add(now, entered0("TaskStateEntered", promotion.StateRecordApproval, "{}"))
	}
	return &sfn.SendTaskSuccessOutput{}, nil
}

// SendTaskFailure accepts an open task's token once.
func (f *SFN) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["SendTaskFailure"]++
	tok := aws.ToString(in.TaskToken)
	if len(aws.ToString(in.Cause)) > 32768 || len(aws.ToString(in.Error)) > 256 {
		return nil, &types.ValidationException{Message: aws.String("1 validation error detected: cause or error too long")}
	}
	t, err := f.claim(tok)
	if err != nil {
		return nil, err
	}
	f.Sent = append(f.Sent, Sent{Token: tok, Error: aws.ToString(in.Error), Cause: aws.ToString(in.Cause)})
	if !f.StaleHistory {
		now := t.exec.events[len(t.exec.events)-1].Timestamp.Add(time.Second)
		t.exec.add(now, types.HistoryEvent{Type: types.HistoryEventTypeTaskFailed,
			TaskFailedEventDetails: &types.TaskFailedEventDetails{Resource: aws.String("invoke.waitForTaskToken"), ResourceType: aws.String("lambda"), Error: in.Error, Cause: in.Cause}})
		t.exec.add(now, exited("TaskStateExited", t.state, "{}"))
		t.exec.add(now, entered0("TaskStateEntered", promotion.StateRecordRejection, "{}"))
	}
	return &sfn.SendTaskFailureOutput{}, nil
}

func (f *SFN) claim(tok string) (*task, error) {
	t, ok := f.tasks[tok]
	switch {
	case !ok:
		return nil, &types.InvalidToken{Message: aws.String("Invalid Token: 'Invalid token'")}
	case !t.open:
		return nil, &types.TaskTimedOut{Message: aws.String("Task Timed Out: 'Provided task does not exist anymore'")}
	}
	t.open = false
	return t, nil
}

// String describes the fake for test failure messages.
func (f *SFN) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("fake sfn: %d executions, %d sent, calls %v", len(f.execs), len(f.Sent), f.Calls)
}

// EndWith is End with the execution's error and cause, as a Fail state or
// StopExecution leaves them.
func (f *SFN) EndWith(arn string, status types.ExecutionStatus, errName, cause string, at time.Time) {
	f.End(arn, status, at)
	f.mu.Lock()
	defer f.mu.Unlock()
	ex := f.execs[arn]
	ex.err, ex.cause = errName, cause
}
