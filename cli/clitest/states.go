// Package clitest holds hand-written, stateful fakes of the AWS APIs the
// CLI calls, and a builder that writes execution histories the way Step
// Functions writes them for the promotion definition, for the tests of
// package cli and cli/progress.
package clitest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
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

// Account-wide names the fakes answer with.
const (
	StateMachineARN = "arn:aws:states:us-east-1:000000000000:stateMachine:" + deploy.StateMachine
	ShiftARN        = "arn:aws:lambda:us-east-1:000000000000:function:aliasflow-shift"
	ApprovalARN     = "arn:aws:lambda:us-east-1:000000000000:function:aliasflow-approval"
)

// ExecutionARN is the ARN of an execution of aliasflow-promotion.
func ExecutionARN(name string) string {
	return promotion.ExecutionARN(StateMachineARN, name)
}

// States is a fake Step Functions holding the aliasflow-promotion state
// machine and scripted executions.
type States struct {
	mu    sync.Mutex
	execs map[string]*Run
	order []string
	// Sent lists the accepted SendTaskSuccess / SendTaskFailure calls.
	Sent []Sent
	// Stopped lists StopExecution calls.
	Stopped []sfn.StopExecutionInput
}

// Sent is one accepted SendTask* call.
type Sent struct {
	Token, Output, Error, Cause string
	Success                     bool
}

// NewStates returns an empty fake.
func NewStates() *States { return &States{execs: map[string]*Run{}} }

// Run is one scripted execution; its methods append history events the
// way Step Functions writes them.
type Run struct {
	f      *States
	arn    string
	name   string
	input  string
	status types.ExecutionStatus
	start  time.Time
	stop   time.Time
	err    string
	cause  string
	at     time.Time
	events []types.HistoryEvent
	// tokens open in this run: token → state name
	tokens map[string]string
}

// Start begins an execution named for the input's release.
func (f *States) Start(in promotion.Input, at time.Time) *Run {
	name := promotion.ExecutionName(in.Function, in.Version, in.Release.CodeSha256)
	raw, _ := json.Marshal(in)
	r := &Run{f: f, arn: ExecutionARN(name), name: name, input: string(raw), status: types.ExecutionStatusRunning,
		start: at, at: at, tokens: map[string]string{}}
	f.mu.Lock()
	f.execs[r.arn] = r
	f.order = append(f.order, r.arn)
	f.mu.Unlock()
	r.add(types.HistoryEvent{Type: types.HistoryEventTypeExecutionStarted,
		ExecutionStartedEventDetails: &types.ExecutionStartedEventDetails{Input: aws.String(r.input), RoleArn: aws.String("arn:aws:iam::000000000000:role/promotion")}})
	return r
}

// ARN and Name of the execution.
func (r *Run) ARN() string  { return r.arn }
func (r *Run) Name() string { return r.name }

// Tick advances the run's clock.
func (r *Run) Tick(d time.Duration) *Run { r.at = r.at.Add(d); return r }

func (r *Run) add(ev types.HistoryEvent) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	ev.Id = int64(len(r.events) + 1)
	ev.PreviousEventId = ev.Id - 1
	ev.Timestamp = aws.Time(r.at)
	r.events = append(r.events, ev)
}

func doc(v any) *string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return aws.String(string(b))
}

// Enter enters a state with st as its input ("Task", "Choice", "Fail").
func (r *Run) Enter(kind, name string, st promotion.State) *Run {
	r.add(types.HistoryEvent{Type: types.HistoryEventType(kind + "StateEntered"),
		StateEnteredEventDetails: &types.StateEnteredEventDetails{Name: aws.String(name), Input: doc(st)}})
	return r
}

// Exit exits a state with st as its output.
func (r *Run) Exit(kind, name string, st promotion.State) *Run {
	r.add(types.HistoryEvent{Type: types.HistoryEventType(kind + "StateExited"),
		StateExitedEventDetails: &types.StateExitedEventDetails{Name: aws.String(name), Output: doc(st)}})
	return r
}

// Task runs a lambda:invoke task state to success: entered with in,
// scheduled, started, succeeded with payload, exited with out.
func (r *Run) Task(name string, in promotion.State, payload any, out promotion.State) *Run {
	r.Enter("Task", name, in)
	r.schedule(name, in, "", 0)
	r.add(types.HistoryEvent{Type: types.HistoryEventTypeTaskStarted,
		TaskStartedEventDetails: &types.TaskStartedEventDetails{Resource: aws.String("invoke"), ResourceType: aws.String("lambda")}})
	r.Tick(200 * time.Millisecond)
	r.add(types.HistoryEvent{Type: types.HistoryEventTypeTaskSucceeded,
		TaskSucceededEventDetails: &types.TaskSucceededEventDetails{Resource: aws.String("invoke"), ResourceType: aws.String("lambda"),
			Output: doc(map[string]any{"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": payload})}})
	return r.Exit("Task", name, out)
}

// Choice passes through a choice state.
func (r *Run) Choice(name string, st promotion.State) *Run {
	return r.Enter("Choice", name, st).Exit("Choice", name, st)
}

func (r *Run) schedule(name string, in promotion.State, token string, timeout int64) {
	fn, action := ShiftARN, promotion.TaskActions[name]
	switch name {
	case promotion.StateRequestApproval, promotion.StateRecordApproval, promotion.StateRecordRejection, promotion.StateRecordExpiry:
		fn = ApprovalARN
	}
	payload := promotion.TaskRequest{Action: action, Execution: r.arn, StartTime: r.start, TaskToken: token, Promotion: in}
	if name == promotion.StateRequestApproval {
		payload.EnteredTime, payload.ApprovalURL = r.at, "http://127.0.0.1/approvals"
	}
	d := &types.TaskScheduledEventDetails{Parameters: doc(map[string]any{"FunctionName": fn, "Payload": payload}),
		Region: aws.String("us-east-1"), Resource: aws.String("invoke"), ResourceType: aws.String("lambda")}
	if token != "" {
		d.Resource = aws.String("invoke.waitForTaskToken")
	}
	if timeout > 0 {
		d.TimeoutInSeconds = aws.Int64(timeout)
	}
	r.add(types.HistoryEvent{Type: types.HistoryEventTypeTaskScheduled, TaskScheduledEventDetails: d})
}

// Wait enters a waitForTaskToken state and leaves it open with token.
func (r *Run) Wait(name string, in promotion.State, token string, timeoutSeconds int64) *Run {
	r.Enter("Task", name, in)
	r.schedule(name, in, token, timeoutSeconds)
	r.add(types.HistoryEvent{Type: types.HistoryEventTypeTaskStarted,
		TaskStartedEventDetails: &types.TaskStartedEventDetails{Resource: aws.String("invoke.waitForTaskToken"), ResourceType: aws.String("lambda")}})
	r.add(types.HistoryEvent{Type: types.HistoryEventTypeTaskSubmitted,
		TaskSubmittedEventDetails: &types.TaskSubmittedEventDetails{Resource: aws.String("invoke.waitForTaskToken"), ResourceType: aws.String("lambda"), Output: aws.String(`{"StatusCode":200}`)}})
	r.f.mu.Lock()
	r.tokens[token] = name
	r.f.mu.Unlock()
	return r
}

// TimeOut ends the open wait of token with States.Timeout and exits its
// state with out (the Catch's result).
func (r *Run) TimeOut(token string, out promotion.State) *Run {
	r.f.mu.Lock()
	name := r.tokens[token]
	delete(r.tokens, token)
	r.f.mu.Unlock()
	r.add(types.HistoryEvent{Type: types.HistoryEventTypeTaskTimedOut,
		TaskTimedOutEventDetails: &types.TaskTimedOutEventDetails{Resource: aws.String("invoke.waitForTaskToken"), ResourceType: aws.String("lambda"), Error: aws.String("States.Timeout")}})
	return r.Exit("Task", name, out)
}

// FailTask fails the current task attempt with an error name.
func (r *Run) FailTask(errName, cause string) *Run {
	r.add(types.HistoryEvent{Type: types.HistoryEventTypeTaskFailed,
		TaskFailedEventDetails: &types.TaskFailedEventDetails{Resource: aws.String("invoke"), ResourceType: aws.String("lambda"), Error: aws.String(errName), Cause: aws.String(cause)}})
	return r
}

// Succeed ends the execution successfully.
func (r *Run) Succeed(out promotion.State) *Run {
	r.Enter("Succeed", promotion.StateCompleted, out).Exit("Succeed", promotion.StateCompleted, out)
	r.add(types.HistoryEvent{Type: types.HistoryEventTypeExecutionSucceeded,
		ExecutionSucceededEventDetails: &types.ExecutionSucceededEventDetails{Output: doc(out)}})
	r.end(types.ExecutionStatusSucceeded, "", "")
	return r
}

// Fail ends the execution in a Fail state.
func (r *Run) Fail(state, errName, cause string, in promotion.State) *Run {
	r.Enter("Fail", state, in)
	r.add(types.HistoryEvent{Type: types.HistoryEventTypeExecutionFailed,
		ExecutionFailedEventDetails: &types.ExecutionFailedEventDetails{Error: aws.String(errName), Cause: aws.String(cause)}})
	r.end(types.ExecutionStatusFailed, errName, cause)
	return r
}

func (r *Run) end(status types.ExecutionStatus, errName, cause string) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	r.status, r.stop, r.err, r.cause = status, r.at, errName, cause
	r.tokens = map[string]string{}
}

// Status is the run's status.
func (r *Run) Status() types.ExecutionStatus {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	return r.status
}

// Events returns a copy of the history, oldest first.
func (r *Run) Events() []types.HistoryEvent {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	return append([]types.HistoryEvent(nil), r.events...)
}

// Describe is DescribeExecution's answer for the run.
func (r *Run) Describe() *sfn.DescribeExecutionOutput {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	return r.describe()
}

func (r *Run) describe() *sfn.DescribeExecutionOutput {
	out := &sfn.DescribeExecutionOutput{ExecutionArn: aws.String(r.arn), Name: aws.String(r.name), StateMachineArn: aws.String(StateMachineARN),
		Status: r.status, StartDate: aws.Time(r.start), Input: aws.String(r.input)}
	if !r.stop.IsZero() {
		out.StopDate = aws.Time(r.stop)
	}
	if r.err != "" {
		out.Error, out.Cause = aws.String(r.err), aws.String(r.cause)
	}
	return out
}

// ListStateMachines lists the one state machine.
func (f *States) ListStateMachines(_ context.Context, _ *sfn.ListStateMachinesInput, _ ...func(*sfn.Options)) (*sfn.ListStateMachinesOutput, error) {
	return &sfn.ListStateMachinesOutput{StateMachines: []types.StateMachineListItem{
		{Name: aws.String("other"), StateMachineArn: aws.String(strings.Replace(StateMachineARN, deploy.StateMachine, "other", 1)), Type: types.StateMachineTypeStandard, CreationDate: aws.Time(time.Unix(0, 0))},
		{Name: aws.String(deploy.StateMachine), StateMachineArn: aws.String(StateMachineARN), Type: types.StateMachineTypeStandard, CreationDate: aws.Time(time.Unix(0, 0))},
	}}, nil
}

// ListExecutions lists executions newest first, filtered by status, one
// per page so callers exercise pagination.
func (f *States) ListExecutions(_ context.Context, in *sfn.ListExecutionsInput, _ ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if aws.ToString(in.StateMachineArn) != StateMachineARN {
		return nil, &types.StateMachineDoesNotExist{Message: aws.String("State Machine Does Not Exist: '" + aws.ToString(in.StateMachineArn) + "'")}
	}
	var items []types.ExecutionListItem
	for i := len(f.order) - 1; i >= 0; i-- {
		r := f.execs[f.order[i]]
		if in.StatusFilter != "" && r.status != in.StatusFilter {
			continue
		}
		it := types.ExecutionListItem{ExecutionArn: aws.String(r.arn), Name: aws.String(r.name), StateMachineArn: aws.String(StateMachineARN), Status: r.status, StartDate: aws.Time(r.start)}
		if !r.stop.IsZero() {
			it.StopDate = aws.Time(r.stop)
		}
		items = append(items, it)
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].StartDate.After(*items[j].StartDate) })
	off, _ := strconv.Atoi(aws.ToString(in.NextToken))
	out := &sfn.ListExecutionsOutput{}
	if off < len(items) {
		out.Executions = items[off : off+1]
		if off+1 < len(items) {
			out.NextToken = aws.String(strconv.Itoa(off + 1))
		}
	}
	return out, nil
}

func (f *States) run(arn string) (*Run, error) {
	r, ok := f.execs[arn]
	if !ok {
		return nil, &types.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: '" + arn + "'")}
	}
	return r, nil
}

// DescribeExecution answers for a scripted run.
func (f *States) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.run(aws.ToString(in.ExecutionArn))
	if err != nil {
		return nil, err
	}
	return r.describe(), nil
}

// GetExecutionHistory pages the history (MaxResults, ReverseOrder).
func (f *States) GetExecutionHistory(_ context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.run(aws.ToString(in.ExecutionArn))
	if err != nil {
		return nil, err
	}
	return sfnfake.HistoryPage(r.events, in, 0)
}

// StopExecution aborts a running execution.
func (f *States) StopExecution(_ context.Context, in *sfn.StopExecutionInput, _ ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	f.mu.Lock()
	r, err := f.run(aws.ToString(in.ExecutionArn))
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	f.Stopped = append(f.Stopped, *in)
	running := r.status == types.ExecutionStatusRunning
	f.mu.Unlock()
	if running {
		r.add(types.HistoryEvent{Type: types.HistoryEventTypeExecutionAborted,
			ExecutionAbortedEventDetails: &types.ExecutionAbortedEventDetails{Error: in.Error, Cause: in.Cause}})
		r.end(types.ExecutionStatusAborted, aws.ToString(in.Error), aws.ToString(in.Cause))
	}
	return &sfn.StopExecutionOutput{StopDate: aws.Time(r.at)}, nil
}

func (f *States) claim(token string) (*Run, string, error) {
	for _, r := range f.execs {
		if name, ok := r.tokens[token]; ok {
			delete(r.tokens, token)
			return r, name, nil
		}
	}
	return nil, "", &types.TaskTimedOut{Message: aws.String("Task Timed Out: 'Provided task does not exist anymore'")}
}

// SendTaskSuccess closes an open wait once; the task's state exits with the
// output at the state's ResultPath (approval: $.approval; Bake: $.bake).
func (f *States) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	f.mu.Lock()
	r, name, err := f.claim(aws.ToString(in.TaskToken))
	if err == nil {
		f.Sent = append(f.Sent, Sent{Token: aws.ToString(in.TaskToken), Output: aws.ToString(in.Output), Success: true})
	}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if !json.Valid([]byte(aws.ToString(in.Output))) {
		return nil, &types.InvalidOutput{Message: aws.String("output is not JSON")}
	}
	r.add(types.HistoryEvent{Type: types.HistoryEventTypeTaskSucceeded,
		TaskSucceededEventDetails: &types.TaskSucceededEventDetails{Resource: aws.String("invoke.waitForTaskToken"), ResourceType: aws.String("lambda"), Output: in.Output}})
	r.add(types.HistoryEvent{Type: types.HistoryEventTypeTaskStateExited,
		StateExitedEventDetails: &types.StateExitedEventDetails{Name: aws.String(name), Output: in.Output}})
	return &sfn.SendTaskSuccessOutput{}, nil
}

// SendTaskFailure closes an open wait once with an error.
func (f *States) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	f.mu.Lock()
	r, _, err := f.claim(aws.ToString(in.TaskToken))
	if err == nil {
		f.Sent = append(f.Sent, Sent{Token: aws.ToString(in.TaskToken), Error: aws.ToString(in.Error), Cause: aws.ToString(in.Cause)})
	}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	r.FailTask(aws.ToString(in.Error), aws.ToString(in.Cause))
	return &sfn.SendTaskFailureOutput{}, nil
}

// String describes the fake in failure messages.
func (f *States) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, arn := range f.order {
		r := f.execs[arn]
		fmt.Fprintf(&b, "%s %s (%d events)\n", r.name, r.status, len(r.events))
	}
	return b.String()
}

func sendSuccess(token string, out any) *sfn.SendTaskSuccessInput {
	return &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: doc(out)}
}
