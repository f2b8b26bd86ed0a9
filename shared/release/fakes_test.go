package release

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/fakes/lambdafake"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

var (
	_ Lambda            = (*lambdafake.Fake)(nil)
	_ StepFunctions     = (*fakeSFN)(nil)
	_ Builds            = (*fakeBuilds)(nil)
	_ audit.EventPutter = (*fakeBus)(nil)
)

// callLog records every AWS call the fakes answer, in order.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (c *callLog) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, op)
}

func (c *callLog) since(i int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls[i:])
}

func (c *callLog) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

// mutatingOps are the calls that change something in Lambda or Step Functions.
var mutatingOps = map[string]bool{
	"PublishVersion": true, "UpdateAlias": true, "CreateAlias": true,
	"StopExecution": true, "StartExecution": true,
}

// faults holds errors to answer instead of doing an operation, in order.
type faults map[string][]error

func (f faults) next(op string) error {
	errs := f[op]
	if len(errs) == 0 {
		return nil
	}
	f[op] = errs[1:]
	return errs[0]
}

func throttled(op string) error {
	return &lambdatypes.TooManyRequestsException{Message: aws.String(op + ": Rate exceeded")}
}

type fakeExecution struct {
	arn, name, input string
	status           sfntypes.ExecutionStatus
	// states are the states entered, oldest first.
	states             []string
	stopErr, stopCause string
}

// fakeSFN is one state machine's executions as Step Functions keeps them.
type fakeSFN struct {
	mu         sync.Mutex
	calls      *callLog
	smARN      string
	executions []*fakeExecution // in start order
	pageSize   int
	fail       faults
}

func newFakeSFN(calls *callLog, smARN string) *fakeSFN {
	return &fakeSFN{calls: calls, smARN: smARN, pageSize: 1000, fail: faults{}}
}

func (f *fakeSFN) byName(name string) *fakeExecution {
	for _, e := range f.executions {
		if e.name == name {
			return e
		}
	}
	return nil
}

// execution returns a copy of the named execution.
func (f *fakeSFN) execution(name string) (fakeExecution, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.byName(name)
	if e == nil {
		return fakeExecution{}, false
	}
	return *e, true
}

func (f *fakeSFN) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.executions)
}

// advance makes the named execution enter states, as the workflow would.
func (f *fakeSFN) advance(name string, states ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.byName(name)
	e.states = append(e.states, states...)
}

// finish closes the named execution with status.
func (f *fakeSFN) finish(name string, status sfntypes.ExecutionStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byName(name).status = status
}

// add puts an execution started elsewhere (another function's promotion).
func (f *fakeSFN) add(name string, states ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.executions = append(f.executions, &fakeExecution{arn: ExecutionARN(f.smARN, name), name: name, input: "{}", status: sfntypes.ExecutionStatusRunning, states: states})
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.calls.add("StartExecution")
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail.next("StartExecution"); err != nil {
		return nil, err
	}
	if aws.ToString(in.StateMachineArn) != f.smARN {
		return nil, &sfntypes.StateMachineDoesNotExist{Message: aws.String("State Machine Does Not Exist: " + aws.ToString(in.StateMachineArn))}
	}
	name, input := aws.ToString(in.Name), aws.ToString(in.Input)
	// Standard workflows: the same name and input as a running execution is
	// the same execution; a closed one, or another input, is refused.
	if e := f.byName(name); e != nil {
		if e.status == sfntypes.ExecutionStatusRunning && e.input == input {
			return &sfn.StartExecutionOutput{ExecutionArn: aws.String(e.arn), StartDate: aws.Time(time.Unix(0, 0))}, nil
		}
		return nil, &sfntypes.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists: '" + e.arn + "'")}
	}
	e := &fakeExecution{arn: ExecutionARN(f.smARN, name), name: name, input: input, status: sfntypes.ExecutionStatusRunning}
	f.executions = append(f.executions, e)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(e.arn), StartDate: aws.Time(time.Unix(0, 0))}, nil
}

// page returns items [from, from+size) and the token of the rest.
func page(token *string, size, total int) (from, to int, next *string) {
	if token != nil {
		from, _ = strconv.Atoi(*token)
	}
	to = min(from+size, total)
	if to < total {
		next = aws.String(strconv.Itoa(to))
	}
	return from, to, next
}

func (f *fakeSFN) ListExecutions(_ context.Context, in *sfn.ListExecutionsInput, _ ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	f.calls.add("ListExecutions")
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail.next("ListExecutions"); err != nil {
		return nil, err
	}
	var items []sfntypes.ExecutionListItem
	for i := len(f.executions) - 1; i >= 0; i-- { // newest first, as AWS lists
		e := f.executions[i]
		if in.StatusFilter != "" && e.status != in.StatusFilter {
			continue
		}
		items = append(items, sfntypes.ExecutionListItem{ExecutionArn: aws.String(e.arn), Name: aws.String(e.name), Status: e.status, StateMachineArn: aws.String(f.smARN)})
	}
	size := f.pageSize
	if in.MaxResults > 0 {
		size = min(size, int(in.MaxResults))
	}
	from, to, next := page(in.NextToken, size, len(items))
	return &sfn.ListExecutionsOutput{Executions: items[from:to], NextToken: next}, nil
}

func (f *fakeSFN) GetExecutionHistory(_ context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	f.calls.add("GetExecutionHistory")
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail.next("GetExecutionHistory"); err != nil {
		return nil, err
	}
	var e *fakeExecution
	for _, x := range f.executions {
		if x.arn == aws.ToString(in.ExecutionArn) {
			e = x
		}
	}
	if e == nil {
		return nil, &sfntypes.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: " + aws.ToString(in.ExecutionArn))}
	}
	events := []sfntypes.HistoryEvent{{Id: 1, Type: sfntypes.HistoryEventTypeExecutionStarted}}
	for _, s := range e.states {
		typ := sfntypes.HistoryEventTypeTaskStateEntered
		if s == "SmokePassed" || s == "HasSteps" || s == "MoreSteps" {
			typ = sfntypes.HistoryEventTypeChoiceStateEntered
		}
		events = append(events, sfntypes.HistoryEvent{Id: int64(len(events) + 1), Type: typ, StateEnteredEventDetails: &sfntypes.StateEnteredEventDetails{Name: aws.String(s)}})
		if typ == sfntypes.HistoryEventTypeTaskStateEntered {
			events = append(events, sfntypes.HistoryEvent{Id: int64(len(events) + 1), Type: sfntypes.HistoryEventTypeTaskScheduled})
		}
	}
	if e.status == sfntypes.ExecutionStatusAborted {
		events = append(events, sfntypes.HistoryEvent{Id: int64(len(events) + 1), Type: sfntypes.HistoryEventTypeExecutionAborted})
	}
	if in.ReverseOrder {
		slices.Reverse(events)
	}
	size := f.pageSize
	if in.MaxResults > 0 {
		size = min(size, int(in.MaxResults))
	}
	from, to, next := page(in.NextToken, size, len(events))
	return &sfn.GetExecutionHistoryOutput{Events: events[from:to], NextToken: next}, nil
}

func (f *fakeSFN) StopExecution(_ context.Context, in *sfn.StopExecutionInput, _ ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	f.calls.add("StopExecution")
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail.next("StopExecution"); err != nil {
		return nil, err
	}
	for _, e := range f.executions {
		if e.arn == aws.ToString(in.ExecutionArn) {
			if e.status == sfntypes.ExecutionStatusRunning {
				e.status = sfntypes.ExecutionStatusAborted
				e.stopErr, e.stopCause = aws.ToString(in.Error), aws.ToString(in.Cause)
			}
			return &sfn.StopExecutionOutput{StopDate: aws.Time(time.Unix(0, 0))}, nil
		}
	}
	return nil, &sfntypes.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: " + aws.ToString(in.ExecutionArn))}
}

// fakeBuilds is CodeBuild's record of builds and what they exported.
type fakeBuilds struct {
	calls  *callLog
	builds map[string]map[string]string
	asked  [][]string
	fail   faults
}

func (f *fakeBuilds) BatchGetBuilds(_ context.Context, in *codebuild.BatchGetBuildsInput, _ ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error) {
	f.calls.add("BatchGetBuilds")
	f.asked = append(f.asked, in.Ids)
	if err := f.fail.next("BatchGetBuilds"); err != nil {
		return nil, err
	}
	out := &codebuild.BatchGetBuildsOutput{}
	for _, id := range in.Ids {
		vars, ok := f.builds[id]
		if !ok {
			out.BuildsNotFound = append(out.BuildsNotFound, id)
			continue
		}
		b := cbtypes.Build{Id: aws.String(id), BuildStatus: cbtypes.StatusTypeSucceeded}
		for k, v := range vars {
			b.ExportedEnvironmentVariables = append(b.ExportedEnvironmentVariables, cbtypes.ExportedEnvironmentVariable{Name: aws.String(k), Value: aws.String(v)})
		}
		out.Builds = append(out.Builds, b)
	}
	return out, nil
}

// fakeBus is EventBridge, keeping what was put.
type fakeBus struct {
	calls   *callLog
	entries []string
}

func (f *fakeBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.calls.add("PutEvents")
	for _, e := range in.Entries {
		f.entries = append(f.entries, aws.ToString(e.Detail))
	}
	return &eventbridge.PutEventsOutput{}, nil
}
