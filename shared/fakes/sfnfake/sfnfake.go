// Package sfnfake is a stateful in-memory AWS Step Functions for tests:
// state machines, executions with their histories, and task tokens. It runs
// no definition: a test scripts what an execution does (Enter, Exit, Wait,
// End), or lets every execution of a machine wait on a task token from its
// start (WaitOnStart) and finish when the token is answered. Everything the
// API itself enforces it enforces as Step Functions does: idempotent
// StartExecution, newest-first paged listings, paged and reversible
// histories, StopExecution of open executions only, task tokens accepted
// once. It answers the aws-sdk-go-v2 calls directly and, through Handler,
// over HTTP, so that sandbox/conformance holds it to the same cases as
// the sandbox.
//
// Behaviour follows the Step Functions API reference:
// https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html,
// API_ListExecutions.html, API_GetExecutionHistory.html, API_StopExecution.html,
// API_DescribeExecution.html, API_SendTaskSuccess.html and API_SendTaskFailure.html.
package sfnfake

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Region and Account are the ones ARNs are built with.
const (
	Region  = "us-east-1"
	Account = "000000000000"
)

// StateMachineARN is the ARN of the state machine name.
func StateMachineARN(name string) string {
	return "arn:aws:states:" + Region + ":" + Account + ":stateMachine:" + name
}

// ExecutionARN is the ARN Step Functions gives execution name of the state
// machine machineARN.
func ExecutionARN(machineARN, name string) string {
	return strings.Replace(machineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

type execution struct {
	arn, name, machine string
	input              string
	status             types.ExecutionStatus
	start, stop        time.Time
	seq                int
	errName, cause     string
	output             *string
	events             []types.HistoryEvent
}

type task struct {
	exec  *execution
	state string
	open  bool
}

type machine struct {
	arn, name   string
	created     time.Time
	seq         int
	waitOnStart string // state name; "" runs nothing
}

// Fake is the fake Step Functions. The zero value is not usable; call New.
type Fake struct {
	mu       sync.Mutex
	machines map[string]*machine
	execs    map[string]*execution
	tasks    map[string]*task
	seq      int
	tokens   int
	now      time.Time
	errs     map[string][]error
	calls    []string
	// PageSize, when > 0, caps every page of ListExecutions and
	// GetExecutionHistory so that callers exercise pagination.
	PageSize int
	// OnCall, when set, is called (unlocked) with each operation's name.
	OnCall func(op string)
}

// New returns a fake with no state machines. Its clock starts at a fixed
// time and moves one millisecond per event, so histories are ordered and
// reproducible.
func New() *Fake {
	return &Fake{machines: map[string]*machine{}, execs: map[string]*execution{}, tasks: map[string]*task{},
		errs: map[string][]error{}, now: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}
}

// AddStateMachine creates a state machine and returns its ARN.
func (f *Fake) AddStateMachine(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	arn := StateMachineARN(name)
	f.seq++
	f.machines[arn] = &machine{arn: arn, name: name, created: f.tick(), seq: f.seq}
	return arn
}

// WaitOnStart makes every execution of machineARN enter Task state state on
// start and wait there on a new task token (see Token): SendTaskSuccess
// ends the execution SUCCEEDED with the output, SendTaskFailure FAILED with
// the error, as a definition of that one state would.
func (f *Fake) WaitOnStart(machineARN, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.machines[machineARN].waitOnStart = state
}

// Fail queues errors that the next calls of op answer instead of running.
func (f *Fake) Fail(op string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[op] = append(f.errs[op], errs...)
}

// Calls returns the operations called so far, in order.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// begin records a call and returns its queued error; on nil it returns
// with f.mu held.
func (f *Fake) begin(op string) error {
	if f.OnCall != nil {
		f.OnCall(op)
	}
	f.mu.Lock()
	f.calls = append(f.calls, op)
	if q := f.errs[op]; len(q) > 0 {
		f.errs[op] = q[1:]
		f.mu.Unlock()
		return q[0]
	}
	return nil
}

func (f *Fake) tick() time.Time {
	f.now = f.now.Add(time.Millisecond)
	return f.now
}

func (f *Fake) add(e *execution, ev types.HistoryEvent) {
	ev.Id = int64(len(e.events) + 1)
	ev.PreviousEventId = ev.Id - 1
	ev.Timestamp = aws.Time(f.tick())
	e.events = append(e.events, ev)
}

// ---- scripting ----------------------------------------------------------

// Start starts an execution as StartExecution does and returns its ARN.
func (f *Fake) Start(machineARN, name, input string) string {
	out, err := f.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(machineARN), Name: aws.String(name), Input: aws.String(input)})
	if err != nil {
		panic(fmt.Sprintf("sfnfake: start %s: %v", name, err))
	}
	return aws.ToString(out.ExecutionArn)
}

func (f *Fake) exec(arn string) *execution {
	e, ok := f.execs[arn]
	if !ok {
		panic("sfnfake: no execution " + arn)
	}
	return e
}

// Enter makes the execution enter a state of kind ("Task", "Choice",
// "Wait", "Pass", "Succeed", "Fail") with input ("{}" when empty).
func (f *Fake) Enter(execARN, kind, state, input string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enter(f.exec(execARN), kind, state, input)
}

func (f *Fake) enter(e *execution, kind, state, input string) {
	if input == "" {
		input = "{}"
	}
	f.add(e, types.HistoryEvent{Type: types.HistoryEventType(kind + "StateEntered"),
		StateEnteredEventDetails: &types.StateEnteredEventDetails{Name: aws.String(state), Input: aws.String(input)}})
}

// Exit makes the execution leave a state of kind with output.
func (f *Fake) Exit(execARN, kind, state, output string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exit(f.exec(execARN), kind, state, output)
}

func (f *Fake) exit(e *execution, kind, state, output string) {
	if output == "" {
		output = "{}"
	}
	f.add(e, types.HistoryEvent{Type: types.HistoryEventType(kind + "StateExited"),
		StateExitedEventDetails: &types.StateExitedEventDetails{Name: aws.String(state), Output: aws.String(output)}})
}

// Wait makes the execution enter Task state state and wait on a new task
// token, which it returns.
func (f *Fake) Wait(execARN, state string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wait(f.exec(execARN), state)
}

func (f *Fake) wait(e *execution, state string) string {
	f.enter(e, "Task", state, e.input)
	f.tokens++
	raw := make([]byte, 33)
	raw[0] = 1
	copy(raw[1:], fmt.Sprintf("sfnfake-task-%019d", f.tokens))
	tok := base64.StdEncoding.EncodeToString(raw)
	res := aws.String("invoke.waitForTaskToken")
	f.add(e, types.HistoryEvent{Type: types.HistoryEventTypeTaskScheduled, TaskScheduledEventDetails: &types.TaskScheduledEventDetails{
		Resource: res, ResourceType: aws.String("lambda"), Region: aws.String(Region), Parameters: aws.String("{}")}})
	f.add(e, types.HistoryEvent{Type: types.HistoryEventTypeTaskStarted, TaskStartedEventDetails: &types.TaskStartedEventDetails{Resource: res, ResourceType: aws.String("lambda")}})
	f.add(e, types.HistoryEvent{Type: types.HistoryEventTypeTaskSubmitted, TaskSubmittedEventDetails: &types.TaskSubmittedEventDetails{Resource: res, ResourceType: aws.String("lambda"), Output: aws.String(`{"StatusCode":200}`)}})
	f.tasks[tok] = &task{exec: e, state: state, open: true}
	return tok
}

// Schedule makes the execution enter Task state state and start its task
// as Step Functions does before it invokes a Lambda function
// (TaskStateEntered, TaskScheduled with parameters — the task's resolved
// Parameters, e.g. {"FunctionName":…,"Payload":…} — and TaskStarted),
// leaving the task running.
func (f *Fake) Schedule(execARN, state, parameters string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.exec(execARN)
	f.enter(e, "Task", state, e.input)
	res := aws.String("invoke")
	f.add(e, types.HistoryEvent{Type: types.HistoryEventTypeTaskScheduled, TaskScheduledEventDetails: &types.TaskScheduledEventDetails{
		Resource: res, ResourceType: aws.String("lambda"), Region: aws.String(Region), Parameters: aws.String(parameters)}})
	f.add(e, types.HistoryEvent{Type: types.HistoryEventTypeTaskStarted, TaskStartedEventDetails: &types.TaskStartedEventDetails{Resource: res, ResourceType: aws.String("lambda")}})
}

// Token returns the open task token of the execution ("" when none).
func (f *Fake) Token(execARN string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tok, t := range f.tasks {
		if t.exec.arn == execARN && t.open {
			return tok
		}
	}
	return ""
}

// End closes the execution with status (SUCCEEDED, FAILED, TIMED_OUT,
// ABORTED), closing its open tasks.
func (f *Fake) End(execARN string, status types.ExecutionStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.end(f.exec(execARN), status, "", "", nil)
}

func (f *Fake) end(e *execution, status types.ExecutionStatus, errName, cause string, output *string) {
	ev := types.HistoryEvent{}
	switch status {
	case types.ExecutionStatusSucceeded:
		ev.Type = types.HistoryEventTypeExecutionSucceeded
		ev.ExecutionSucceededEventDetails = &types.ExecutionSucceededEventDetails{Output: output}
	case types.ExecutionStatusFailed:
		ev.Type = types.HistoryEventTypeExecutionFailed
		ev.ExecutionFailedEventDetails = &types.ExecutionFailedEventDetails{Error: aws.String(errName), Cause: aws.String(cause)}
	case types.ExecutionStatusAborted:
		ev.Type = types.HistoryEventTypeExecutionAborted
		ev.ExecutionAbortedEventDetails = &types.ExecutionAbortedEventDetails{Error: aws.String(errName), Cause: aws.String(cause)}
	case types.ExecutionStatusTimedOut:
		ev.Type = types.HistoryEventTypeExecutionTimedOut
	}
	for _, t := range f.tasks {
		if t.exec == e {
			t.open = false
		}
	}
	f.add(e, ev)
	e.status, e.stop, e.errName, e.cause, e.output = status, f.now, errName, cause, output
}

// Events returns a copy of the execution's history, oldest first.
func (f *Fake) Events(execARN string) []types.HistoryEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.exec(execARN).events)
}

// Execution is what the fake holds about one execution.
type Execution struct {
	ARN, Name, Input string
	Status           types.ExecutionStatus
	// Error and Cause are those of a stop or a failure.
	Error, Cause string
}

// Execution returns the execution arn; ok is false when there is none.
func (f *Fake) Execution(arn string) (ex Execution, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.execs[arn]
	if !ok {
		return Execution{}, false
	}
	return Execution{ARN: e.arn, Name: e.name, Input: e.input, Status: e.status, Error: e.errName, Cause: e.cause}, true
}

// Executions returns every execution, of every machine, in start order.
func (f *Fake) Executions() []Execution {
	f.mu.Lock()
	var arns []string
	for arn := range f.execs {
		arns = append(arns, arn)
	}
	slices.SortFunc(arns, func(a, b string) int { return f.execs[a].seq - f.execs[b].seq })
	f.mu.Unlock()
	out := make([]Execution, 0, len(arns))
	for _, arn := range arns {
		e, _ := f.Execution(arn)
		out = append(out, e)
	}
	return out
}

// Status is the execution's status.
func (f *Fake) Status(execARN string) types.ExecutionStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exec(execARN).status
}

// ---- the API ------------------------------------------------------------

// validName is API_StartExecution's rule for names: 1–80 characters, none
// of whitespace, brackets, wildcards, the listed specials or controls.
var validName = regexp.MustCompile(`^[^\s<>{}\[\]?*"#%\\^|~` + "`" + `$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$`)

func machineNotFound(arn string) error {
	return &types.StateMachineDoesNotExist{Message: aws.String("State Machine Does Not Exist: '" + arn + "'")}
}

func executionNotFound(arn string) error {
	return &types.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: '" + arn + "'")}
}

// StartExecution starts an execution. The same name and input as an open
// execution is the same execution again; another input, or a closed
// execution of that name, is ExecutionAlreadyExists.
func (f *Fake) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	if err := f.begin("StartExecution"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	m, ok := f.machines[aws.ToString(in.StateMachineArn)]
	if !ok {
		return nil, machineNotFound(aws.ToString(in.StateMachineArn))
	}
	name, input := aws.ToString(in.Name), aws.ToString(in.Input)
	if name == "" {
		f.seq++
		name = fmt.Sprintf("%08x-0000-4000-8000-%012x", f.seq, f.seq)
	}
	if !validName.MatchString(name) {
		return nil, &types.InvalidName{Message: aws.String("Invalid Name: '" + name + "'")}
	}
	if input == "" {
		input = "{}"
	}
	if !json.Valid([]byte(input)) {
		return nil, &types.InvalidExecutionInput{Message: aws.String("Invalid execution input: not JSON")}
	}
	arn := ExecutionARN(m.arn, name)
	if e, ok := f.execs[arn]; ok {
		if e.status == types.ExecutionStatusRunning && e.input == input {
			return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn), StartDate: aws.Time(e.start)}, nil
		}
		return nil, &types.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists: '" + arn + "'")}
	}
	f.seq++
	e := &execution{arn: arn, name: name, machine: m.arn, input: input, status: types.ExecutionStatusRunning, start: f.tick(), seq: f.seq}
	f.execs[arn] = e
	f.add(e, types.HistoryEvent{Type: types.HistoryEventTypeExecutionStarted, ExecutionStartedEventDetails: &types.ExecutionStartedEventDetails{
		Input: aws.String(input), RoleArn: aws.String("arn:aws:iam::" + Account + ":role/" + m.name)}})
	if m.waitOnStart != "" {
		f.wait(e, m.waitOnStart)
	}
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn), StartDate: aws.Time(e.start)}, nil
}

// ListStateMachines lists the state machines, oldest first, paged.
func (f *Fake) ListStateMachines(_ context.Context, in *sfn.ListStateMachinesInput, _ ...func(*sfn.Options)) (*sfn.ListStateMachinesOutput, error) {
	if err := f.begin("ListStateMachines"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	list := slices.Collect(maps.Values(f.machines))
	slices.SortFunc(list, func(a, b *machine) int { return a.seq - b.seq })
	from, to, next, err := page(len(list), in.MaxResults, in.NextToken, "machines", f.PageSize)
	if err != nil {
		return nil, err
	}
	out := &sfn.ListStateMachinesOutput{StateMachines: []types.StateMachineListItem{}, NextToken: next}
	for _, m := range list[from:to] {
		out.StateMachines = append(out.StateMachines, types.StateMachineListItem{Name: aws.String(m.name), StateMachineArn: aws.String(m.arn),
			Type: types.StateMachineTypeStandard, CreationDate: aws.Time(m.created)})
	}
	return out, nil
}

// DescribeExecution describes an execution.
func (f *Fake) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	if err := f.begin("DescribeExecution"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	e, ok := f.execs[aws.ToString(in.ExecutionArn)]
	if !ok {
		return nil, executionNotFound(aws.ToString(in.ExecutionArn))
	}
	out := &sfn.DescribeExecutionOutput{ExecutionArn: aws.String(e.arn), Name: aws.String(e.name), StateMachineArn: aws.String(e.machine),
		Status: e.status, StartDate: aws.Time(e.start), Input: aws.String(e.input), Output: e.output}
	if !e.stop.IsZero() {
		out.StopDate = aws.Time(e.stop)
	}
	if e.status == types.ExecutionStatusFailed || e.status == types.ExecutionStatusAborted {
		out.Error, out.Cause = aws.String(e.errName), aws.String(e.cause)
	}
	return out, nil
}

// page serves [from, to) of n items for a listing scoped by scope: tokens
// are opaque and bound to their listing, so a token from another listing
// (or a made-up one) is InvalidToken. MaxResults 0 means 100; over 1000
// is refused; a pageSize > 0 makes pages smaller still, so that callers
// exercise pagination.
func page(n int, maxResults int32, token *string, scope string, pageSize int) (from, to int, next *string, err error) {
	if maxResults < 0 || maxResults > 1000 {
		return 0, 0, nil, &types.ValidationException{Message: aws.String(fmt.Sprintf(
			"1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000", maxResults))}
	}
	size := int(maxResults)
	if size == 0 {
		size = 100
	}
	if pageSize > 0 {
		size = min(size, pageSize)
	}
	if token != nil && *token != "" {
		raw, derr := base64.StdEncoding.DecodeString(*token)
		rest, ok := strings.CutPrefix(string(raw), scope+"|")
		off, cerr := strconv.Atoi(rest)
		if derr != nil || !ok || cerr != nil || off < 0 || off > n {
			return 0, 0, nil, &types.InvalidToken{Message: aws.String("Invalid Token: '" + *token + "'")}
		}
		from = off
	}
	to = min(from+size, n)
	if to < n {
		next = aws.String(base64.StdEncoding.EncodeToString([]byte(scope + "|" + strconv.Itoa(to))))
	}
	return from, to, next, nil
}

// HistoryPage serves one GetExecutionHistory page of history (oldest event
// first) as Step Functions does: in ReverseOrder when asked, at most
// MaxResults events (100 when 0), from a NextToken this function gave for
// the same execution and order (any other is InvalidToken). A pageSize > 0
// makes pages smaller still. Every fake Step Functions pages with it.
func HistoryPage(history []types.HistoryEvent, in *sfn.GetExecutionHistoryInput, pageSize int) (*sfn.GetExecutionHistoryOutput, error) {
	events := slices.Clone(history)
	if in.ReverseOrder {
		slices.Reverse(events)
	}
	from, to, next, err := page(len(events), in.MaxResults, in.NextToken, fmt.Sprintf("%s|%t", aws.ToString(in.ExecutionArn), in.ReverseOrder), pageSize)
	if err != nil {
		return nil, err
	}
	return &sfn.GetExecutionHistoryOutput{Events: events[from:to], NextToken: next}, nil
}

// ListExecutions lists a machine's executions newest first (by start, then
// by start order), filtered by status, paged.
func (f *Fake) ListExecutions(_ context.Context, in *sfn.ListExecutionsInput, _ ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	if err := f.begin("ListExecutions"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	if in.StatusFilter != "" && !slices.Contains(in.StatusFilter.Values(), in.StatusFilter) {
		return nil, &types.ValidationException{Message: aws.String(fmt.Sprintf(
			"1 validation error detected: Value '%s' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: %v", in.StatusFilter, in.StatusFilter.Values()))}
	}
	m, ok := f.machines[aws.ToString(in.StateMachineArn)]
	if !ok {
		return nil, machineNotFound(aws.ToString(in.StateMachineArn))
	}
	var list []*execution
	for _, e := range f.execs {
		if e.machine == m.arn && (in.StatusFilter == "" || e.status == in.StatusFilter) {
			list = append(list, e)
		}
	}
	slices.SortFunc(list, func(a, b *execution) int {
		if c := b.start.Compare(a.start); c != 0 {
			return c
		}
		return b.seq - a.seq
	})
	from, to, next, err := page(len(list), in.MaxResults, in.NextToken, m.arn+"|"+string(in.StatusFilter), f.PageSize)
	if err != nil {
		return nil, err
	}
	out := &sfn.ListExecutionsOutput{Executions: []types.ExecutionListItem{}, NextToken: next}
	for _, e := range list[from:to] {
		it := types.ExecutionListItem{ExecutionArn: aws.String(e.arn), Name: aws.String(e.name), StateMachineArn: aws.String(e.machine),
			Status: e.status, StartDate: aws.Time(e.start)}
		if !e.stop.IsZero() {
			it.StopDate = aws.Time(e.stop)
		}
		out.Executions = append(out.Executions, it)
	}
	return out, nil
}

// GetExecutionHistory pages an execution's events, oldest first or in
// ReverseOrder.
func (f *Fake) GetExecutionHistory(_ context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	if err := f.begin("GetExecutionHistory"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	e, ok := f.execs[aws.ToString(in.ExecutionArn)]
	if !ok {
		return nil, executionNotFound(aws.ToString(in.ExecutionArn))
	}
	return HistoryPage(e.events, in, f.PageSize)
}

// StopExecution aborts an open execution; stopping a closed one changes
// nothing.
func (f *Fake) StopExecution(_ context.Context, in *sfn.StopExecutionInput, _ ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	if err := f.begin("StopExecution"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	if err := checkFailure(in.Error, in.Cause); err != nil {
		return nil, err
	}
	e, ok := f.execs[aws.ToString(in.ExecutionArn)]
	if !ok {
		return nil, executionNotFound(aws.ToString(in.ExecutionArn))
	}
	if e.status == types.ExecutionStatusRunning {
		f.end(e, types.ExecutionStatusAborted, aws.ToString(in.Error), aws.ToString(in.Cause), nil)
	}
	return &sfn.StopExecutionOutput{StopDate: aws.Time(e.stop)}, nil
}

// checkFailure applies the limits of an error name (256) and a cause
// (32768) given to StopExecution or SendTaskFailure.
func checkFailure(errName, cause *string) error {
	if len(aws.ToString(errName)) > 256 || len(aws.ToString(cause)) > 32768 {
		return &types.ValidationException{Message: aws.String("1 validation error detected: the error is limited to 256 characters and the cause to 32768")}
	}
	return nil
}

// claim closes the open task of tok: a token that is not one (malformed)
// is InvalidToken, one never issued TaskDoesNotExist, one whose task is no
// longer waiting TaskTimedOut.
func (f *Fake) claim(tok string) (*task, error) {
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || len(raw) < 33 {
		return nil, &types.InvalidToken{Message: aws.String("Invalid Token: 'Invalid token'")}
	}
	t, ok := f.tasks[tok]
	switch {
	case !ok:
		return nil, &types.TaskDoesNotExist{Message: aws.String("Task Does Not Exist: 'Provided task does not exist'")}
	case !t.open:
		return nil, &types.TaskTimedOut{Message: aws.String("Task Timed Out: 'Provided task does not exist anymore'")}
	}
	t.open = false
	return t, nil
}

// SendTaskSuccess answers an open task once; output must be JSON.
func (f *Fake) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	if err := f.begin("SendTaskSuccess"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	output := aws.ToString(in.Output)
	if _, err := base64.StdEncoding.DecodeString(aws.ToString(in.TaskToken)); err == nil && !json.Valid([]byte(output)) {
		return nil, &types.InvalidOutput{Message: aws.String("Invalid Output: 'the output is not valid JSON'")}
	}
	t, err := f.claim(aws.ToString(in.TaskToken))
	if err != nil {
		return nil, err
	}
	e := t.exec
	f.add(e, types.HistoryEvent{Type: types.HistoryEventTypeTaskSucceeded, TaskSucceededEventDetails: &types.TaskSucceededEventDetails{
		Resource: aws.String("invoke.waitForTaskToken"), ResourceType: aws.String("lambda"), Output: aws.String(output)}})
	f.exit(e, "Task", t.state, output)
	if f.machines[e.machine].waitOnStart == t.state {
		f.end(e, types.ExecutionStatusSucceeded, "", "", aws.String(output))
	}
	return &sfn.SendTaskSuccessOutput{}, nil
}

// SendTaskFailure fails an open task once.
func (f *Fake) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	if err := f.begin("SendTaskFailure"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	if err := checkFailure(in.Error, in.Cause); err != nil {
		return nil, err
	}
	t, err := f.claim(aws.ToString(in.TaskToken))
	if err != nil {
		return nil, err
	}
	e := t.exec
	f.add(e, types.HistoryEvent{Type: types.HistoryEventTypeTaskFailed, TaskFailedEventDetails: &types.TaskFailedEventDetails{
		Resource: aws.String("invoke.waitForTaskToken"), ResourceType: aws.String("lambda"), Error: in.Error, Cause: in.Cause}})
	if f.machines[e.machine].waitOnStart == t.state {
		f.end(e, types.ExecutionStatusFailed, aws.ToString(in.Error), aws.ToString(in.Cause), nil)
	}
	return &sfn.SendTaskFailureOutput{}, nil
}
