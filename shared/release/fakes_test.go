package release

import (
	"context"
	"fmt"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

var (
	_ Lambda            = (*fakeLambda)(nil)
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

type fakeVersion struct {
	number int
	sha    string
}

type fakeAlias struct {
	version     string
	revision    string
	description string
	weights     map[string]float64
}

// fakeLambda is one function's versions and aliases as Lambda keeps them.
type fakeLambda struct {
	mu       sync.Mutex
	calls    *callLog
	function string
	// latestSha is $LATEST's code; latestDirty says it changed since the
	// last published version (so PublishVersion makes a new one).
	latestSha   string
	latestDirty bool
	// updating is how many more PublishVersion calls find $LATEST mid-update.
	updating int
	versions []fakeVersion
	aliases  map[string]*fakeAlias
	revs     int
	fail     faults
	// beforeUpdateAlias runs (unlocked) before each UpdateAlias, to let a
	// test play a concurrent writer.
	beforeUpdateAlias func()
}

func newFakeLambda(calls *callLog, function string) *fakeLambda {
	return &fakeLambda{calls: calls, function: function, aliases: map[string]*fakeAlias{}, fail: faults{}}
}

// deploy is UpdateFunctionCode finishing: $LATEST now holds sha.
func (f *fakeLambda) deploy(sha string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latestSha, f.latestDirty = sha, true
}

func (f *fakeLambda) newRevision() string {
	f.revs++
	return fmt.Sprintf("rev-%04d", f.revs)
}

// setAlias moves an alias outside the handler (a human, or the workflow).
func (f *fakeLambda) setAlias(name, version string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.aliases[name] = &fakeAlias{version: version, revision: f.newRevision()}
}

func (f *fakeLambda) alias(name string) (fakeAlias, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.aliases[name]
	if !ok {
		return fakeAlias{}, false
	}
	return *a, true
}

func (f *fakeLambda) versionCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.versions)
}

func (f *fakeLambda) checkFunction(name *string) error {
	if aws.ToString(name) != f.function {
		return &lambdatypes.ResourceNotFoundException{Message: aws.String("Function not found: " + aws.ToString(name))}
	}
	return nil
}

func (f *fakeLambda) PublishVersion(_ context.Context, in *lambda.PublishVersionInput, _ ...func(*lambda.Options)) (*lambda.PublishVersionOutput, error) {
	f.calls.add("PublishVersion")
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail.next("PublishVersion"); err != nil {
		return nil, err
	}
	if err := f.checkFunction(in.FunctionName); err != nil {
		return nil, err
	}
	if f.updating > 0 {
		f.updating--
		return nil, &lambdatypes.ResourceConflictException{Message: aws.String("The operation cannot be performed at this time. An update is in progress for resource: " + f.function)}
	}
	if sha := aws.ToString(in.CodeSha256); sha != "" && sha != f.latestSha {
		return nil, &lambdatypes.InvalidParameterValueException{Message: aws.String(fmt.Sprintf(
			"CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", sha, f.latestSha))}
	}
	// Lambda publishes no new version when nothing changed since the last.
	if f.latestDirty || len(f.versions) == 0 {
		f.versions = append(f.versions, fakeVersion{number: len(f.versions) + 1, sha: f.latestSha})
		f.latestDirty = false
	}
	v := f.versions[len(f.versions)-1]
	return &lambda.PublishVersionOutput{Version: aws.String(strconv.Itoa(v.number)), CodeSha256: aws.String(v.sha)}, nil
}

func (f *fakeLambda) GetAlias(_ context.Context, in *lambda.GetAliasInput, _ ...func(*lambda.Options)) (*lambda.GetAliasOutput, error) {
	f.calls.add("GetAlias")
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail.next("GetAlias"); err != nil {
		return nil, err
	}
	if err := f.checkFunction(in.FunctionName); err != nil {
		return nil, err
	}
	a, ok := f.aliases[aws.ToString(in.Name)]
	if !ok {
		return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("Cannot find alias arn: " + aws.ToString(in.Name))}
	}
	out := &lambda.GetAliasOutput{Name: in.Name, FunctionVersion: aws.String(a.version), RevisionId: aws.String(a.revision), Description: aws.String(a.description)}
	if len(a.weights) > 0 {
		out.RoutingConfig = &lambdatypes.AliasRoutingConfiguration{AdditionalVersionWeights: a.weights}
	}
	return out, nil
}

func (f *fakeLambda) hasVersion(v string) bool {
	n, err := strconv.Atoi(v)
	return err == nil && n >= 1 && n <= len(f.versions)
}

func (f *fakeLambda) UpdateAlias(_ context.Context, in *lambda.UpdateAliasInput, _ ...func(*lambda.Options)) (*lambda.UpdateAliasOutput, error) {
	f.calls.add("UpdateAlias")
	if f.beforeUpdateAlias != nil {
		f.beforeUpdateAlias()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail.next("UpdateAlias"); err != nil {
		return nil, err
	}
	if err := f.checkFunction(in.FunctionName); err != nil {
		return nil, err
	}
	a, ok := f.aliases[aws.ToString(in.Name)]
	if !ok {
		return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("Alias not found")}
	}
	if in.RevisionId != nil && aws.ToString(in.RevisionId) != a.revision {
		return nil, &lambdatypes.PreconditionFailedException{Message: aws.String("The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")}
	}
	if in.FunctionVersion != nil {
		if !f.hasVersion(aws.ToString(in.FunctionVersion)) {
			return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("Function not found: version " + aws.ToString(in.FunctionVersion))}
		}
		a.version = aws.ToString(in.FunctionVersion)
	}
	if in.Description != nil {
		a.description = aws.ToString(in.Description)
	}
	if in.RoutingConfig != nil {
		a.weights = in.RoutingConfig.AdditionalVersionWeights
	}
	a.revision = f.newRevision()
	return &lambda.UpdateAliasOutput{Name: in.Name, FunctionVersion: aws.String(a.version), RevisionId: aws.String(a.revision), Description: aws.String(a.description)}, nil
}

func (f *fakeLambda) CreateAlias(_ context.Context, in *lambda.CreateAliasInput, _ ...func(*lambda.Options)) (*lambda.CreateAliasOutput, error) {
	f.calls.add("CreateAlias")
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail.next("CreateAlias"); err != nil {
		return nil, err
	}
	if err := f.checkFunction(in.FunctionName); err != nil {
		return nil, err
	}
	name := aws.ToString(in.Name)
	if _, ok := f.aliases[name]; ok {
		return nil, &lambdatypes.ResourceConflictException{Message: aws.String("Alias already exists: " + name)}
	}
	if !f.hasVersion(aws.ToString(in.FunctionVersion)) {
		return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("Function not found: version " + aws.ToString(in.FunctionVersion))}
	}
	a := &fakeAlias{version: aws.ToString(in.FunctionVersion), description: aws.ToString(in.Description), revision: f.newRevision()}
	f.aliases[name] = a
	return &lambda.CreateAliasOutput{Name: in.Name, FunctionVersion: aws.String(a.version), RevisionId: aws.String(a.revision)}, nil
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
	f.executions = append(f.executions, &fakeExecution{arn: promotion.ExecutionARN(f.smARN, name), name: name, input: "{}", status: sfntypes.ExecutionStatusRunning, states: states})
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
	e := &fakeExecution{arn: promotion.ExecutionARN(f.smARN, name), name: name, input: input, status: sfntypes.ExecutionStatusRunning}
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
