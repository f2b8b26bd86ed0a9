// Package lambdafake is a stateful in-memory AWS Lambda for tests: functions
// with $LATEST code, published versions and aliases, enforcing what the
// Lambda API enforces on them (CodeSha256 and RevisionId preconditions,
// routing only to one other published version, weights in 0–1, no routing
// with $LATEST, no CreateAlias over an existing alias). It answers the
// aws-sdk-go-v2 calls directly (it satisfies the small Lambda interfaces of
// shared/*) and, through Handler, over HTTP, so that the conformance suite
// in sandbox/conformance holds it to the same cases as the sandbox.
//
// Behaviour follows the Lambda API reference:
// https://docs.aws.amazon.com/lambda/latest/api/API_PublishVersion.html,
// API_CreateAlias.html, API_GetAlias.html, API_UpdateAlias.html and
// API_AliasRoutingConfiguration.html.
package lambdafake

import (
	"context"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// Region and Account are the ones ARNs are built with.
const (
	Region  = "us-east-1"
	Account = "000000000000"
	latest  = "$LATEST"
)

// FunctionARN is the ARN of function name, qualified when qualifier is set.
func FunctionARN(name, qualifier string) string {
	arn := "arn:aws:lambda:" + Region + ":" + Account + ":function:" + name
	if qualifier != "" {
		arn += ":" + qualifier
	}
	return arn
}

// Alias is one alias as the fake stores it.
type Alias struct {
	Version     string
	Weights     map[string]float64
	Revision    string
	Description string
}

// Answer is what a version returns to an Invoke: the payload and, for a
// function error, the X-Amz-Function-Error value ("Unhandled").
type Answer struct {
	Payload       []byte
	FunctionError string
}

type version struct {
	sha string
	// role and dlq are the execution role and dead-letter queue ARN the
	// version was published with.
	role, dlq string
	// pending is how many more reads (PublishVersion's answer,
	// GetFunctionConfiguration, Invoke) find the version Pending; while it
	// is, invoking it fails.
	pending int
	// description is PublishVersion's Description for the version.
	description string
}

// Role is the execution role functions have until Configure changes it.
const Role = "arn:aws:iam::" + Account + ":role/lambda-role"

type function struct {
	name string
	// latestSha is $LATEST's code; dirty says it changed since the last
	// published version (so PublishVersion makes a new one).
	latestSha string
	dirty     bool
	// latestRole and latestDLQ are $LATEST's execution role and
	// dead-letter queue.
	latestRole, latestDLQ string
	// pendingNext is the pending count of the next version published.
	pendingNext int
	// updating is how many more calls find $LATEST mid-update.
	updating int
	versions []version // versions[i] is version i+1
	aliases  map[string]*Alias
	handler  func(version string, payload []byte) Answer
}

// Fake is the fake Lambda. The zero value is not usable; call New.
type Fake struct {
	mu        sync.Mutex
	functions map[string]*function
	rev       int
	errs      map[string][]error
	before    map[string][]func()
	calls     []string
	succeeded map[string]int
	invoked   []lambda.InvokeInput
	// OnCall, when set, is called (unlocked) with each operation's name
	// before it runs, e.g. to log the calls of several fakes in one order.
	OnCall func(op string)
}

// New returns a fake with no functions.
func New() *Fake {
	return &Fake{functions: map[string]*function{}, errs: map[string][]error{}, before: map[string][]func(){}, succeeded: map[string]int{}}
}

// AddFunction creates a function whose $LATEST holds code sha and
// publishes versions published versions of it (all with sha).
func (f *Fake) AddFunction(name, sha string, published int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn := &function{name: name, latestSha: sha, latestRole: Role, aliases: map[string]*Alias{}}
	for range published {
		fn.versions = append(fn.versions, version{sha: sha, role: Role})
	}
	f.functions[name] = fn
}

// Deploy is UpdateFunctionCode finishing: $LATEST of fn now holds sha.
func (f *Fake) Deploy(fn, sha string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.functions[fn].latestSha, f.functions[fn].dirty = sha, true
}

// Publish publishes $LATEST of fn as a new version, as PublishVersion
// would after a code change, and returns its number. It is setup: no call
// is recorded.
func (f *Fake) Publish(fn string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	x := f.functions[fn]
	x.versions = append(x.versions, x.cut())
	x.dirty = false
	return strconv.Itoa(len(x.versions))
}

// cut is the version publishing $LATEST makes now.
func (fn *function) cut() version {
	v := version{sha: fn.latestSha, role: fn.latestRole, dlq: fn.latestDLQ, pending: fn.pendingNext}
	fn.pendingNext = 0
	return v
}

// Configure is UpdateFunctionConfiguration finishing: $LATEST of fn now
// runs as role with dlq as its dead-letter queue ("" for none), and the
// next PublishVersion publishes a new version.
func (f *Fake) Configure(fn, role, dlq string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	x := f.functions[fn]
	x.latestRole, x.latestDLQ, x.dirty = role, dlq, true
}

// PendingFor makes the next version published of fn Pending for its first
// n reads — PublishVersion's answer, then GetFunctionConfiguration or
// Invoke calls (Lambda function states: a version may be Pending after
// PublishVersion); an Invoke that finds it Pending fails with
// ResourceConflictException.
func (f *Fake) PendingFor(fn string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.functions[fn].pendingNext = n
}

// Updating makes the next n PublishVersion calls of fn find $LATEST
// mid-update (ResourceConflictException); until then
// GetFunctionConfiguration reports LastUpdateStatus InProgress.
func (f *Fake) Updating(fn string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.functions[fn].updating = n
}

// Handle sets what Invoke of fn answers, per executed version.
func (f *Fake) Handle(fn string, h func(version string, payload []byte) Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.functions[fn].handler = h
}

// SetAlias stores an alias directly, as another party would have (a
// human, or the workflow): a new RevisionId, no validation.
func (f *Fake) SetAlias(fn, name, version string, weights map[string]float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := &Alias{Version: version, Weights: maps.Clone(weights), Revision: f.newRevision()}
	if old, ok := f.functions[fn].aliases[name]; ok {
		a.Description = old.Description
	}
	f.functions[fn].aliases[name] = a
}

// DeleteAlias removes an alias directly.
func (f *Fake) DeleteAlias(fn, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.functions[fn].aliases, name)
}

// Alias returns a copy of an alias; ok is false when it does not exist.
func (f *Fake) Alias(fn, name string) (a Alias, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.functions[fn].aliases[name]
	if !ok {
		return Alias{}, false
	}
	a = *p
	a.Weights = maps.Clone(p.Weights)
	return a, true
}

// Versions is how many versions of fn are published.
func (f *Fake) Versions(fn string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.functions[fn].versions)
}

// Fail queues errors that the next calls of op answer instead of running.
func (f *Fake) Fail(op string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[op] = append(f.errs[op], errs...)
}

// Before queues functions run (unlocked), one per call, at the start of the
// next calls of op: another writer acting between a read and a write.
func (f *Fake) Before(op string, fns ...func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.before[op] = append(f.before[op], fns...)
}

// Calls returns the operations called so far, in order.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Count is how many times op was called.
func (f *Fake) Count(op string) int {
	n := 0
	for _, c := range f.Calls() {
		if c == op {
			n++
		}
	}
	return n
}

// Succeeded is how many calls of op succeeded (changes made, for the
// writing operations).
func (f *Fake) Succeeded(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.succeeded[op]
}

// begin records a call, runs its Before hook and returns its queued error;
// on nil it returns with f.mu held.
func (f *Fake) begin(op string) error {
	if f.OnCall != nil {
		f.OnCall(op)
	}
	f.mu.Lock()
	f.calls = append(f.calls, op)
	var hook func()
	if q := f.before[op]; len(q) > 0 {
		hook, f.before[op] = q[0], q[1:]
	}
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	f.mu.Lock()
	if q := f.errs[op]; len(q) > 0 {
		f.errs[op] = q[1:]
		f.mu.Unlock()
		return q[0]
	}
	return nil
}

func (f *Fake) newRevision() string {
	f.rev++
	return fmt.Sprintf("8f4a%04d-0000-4000-8000-%012d", f.rev, f.rev)
}

func notFound(format string, args ...any) error {
	return &types.ResourceNotFoundException{Message: aws.String(fmt.Sprintf(format, args...)), Type: aws.String("User")}
}

// validation is the error of a request that breaks a constraint of
// Lambda's API model: AWS checks those first and answers
// ValidationException (HTTP 400), a code the SDK has no type for.
func validation(format string, args ...any) error {
	return &smithy.GenericAPIError{Code: "ValidationException", Message: fmt.Sprintf(format, args...), Fault: smithy.FaultClient}
}

// checkModel applies the model's constraints on an alias's description
// ("Maximum length of 256", API_CreateAlias, API_UpdateAlias) and routing
// (AdditionalVersionWeights keys "Pattern: [0-9]+", values "Valid Range:
// Minimum value of 0.0. Maximum value of 1.0.",
// API_AliasRoutingConfiguration).
func checkModel(description *string, routing *types.AliasRoutingConfiguration) error {
	if len(aws.ToString(description)) > 256 {
		return validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256")
	}
	if routing == nil {
		return nil
	}
	for _, v := range slices.Sorted(maps.Keys(routing.AdditionalVersionWeights)) {
		w := routing.AdditionalVersionWeights[v]
		if len(v) > 1024 || !versionKey.MatchString(v) || math.IsNaN(w) || w < 0 || w > 1 {
			return validation("1 validation error detected: Value '{%s=%v}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "+
				"keys must be version numbers ([0-9]+) and weights between 0.0 and 1.0", v, w)
		}
	}
	return nil
}

var versionKey = regexp.MustCompile(`^[0-9]+$`)

func invalid(format string, args ...any) error {
	return &types.InvalidParameterValueException{Message: aws.String(fmt.Sprintf(format, args...)), Type: aws.String("User")}
}

func (f *Fake) function(name *string) (*function, error) {
	fn, ok := f.functions[aws.ToString(name)]
	if !ok {
		return nil, notFound("Function not found: %s", FunctionARN(aws.ToString(name), ""))
	}
	return fn, nil
}

func (fn *function) hasVersion(v string) bool {
	n, err := strconv.Atoi(v)
	return err == nil && n >= 1 && n <= len(fn.versions) && strconv.Itoa(n) == v
}

var aliasName = regexp.MustCompile(`^(?:[a-zA-Z0-9_-]*[a-zA-Z_-][a-zA-Z0-9_-]*)$`)

// checkAlias validates an alias's target and routing as Lambda does
// (API_AliasRoutingConfiguration: one additional version, weight 0.0–1.0;
// CreateAlias/UpdateAlias: the version must exist).
func (fn *function) checkAlias(version string, weights map[string]float64) error {
	if version == "" {
		return invalid("FunctionVersion is required")
	}
	if version != latest && !fn.hasVersion(version) {
		return notFound("Function not found: %s", FunctionARN(fn.name, version))
	}
	if len(weights) == 0 {
		return nil
	}
	if len(weights) > 1 {
		return invalid("Number of items in AdditionalVersionWeights must be at most 1: an alias can point to at most two versions")
	}
	if version == latest {
		return invalid("$LATEST is not supported for an alias pointing to more than 1 version")
	}
	for v := range weights {
		switch {
		case v == version:
			return invalid("Alias cannot point to the same version %s in FunctionVersion and AdditionalVersionWeights", v)
		case !fn.hasVersion(v):
			return notFound("Function not found: %s", FunctionARN(fn.name, v))
		}
		// Lambda aliases: "Both versions must have the same execution role"
		// and "the same dead-letter queue configuration, or no dead-letter
		// queue configuration".
		a, b := fn.version(version), fn.version(v)
		if a.role != b.role {
			return invalid("Alias can only point to versions with the same execution role: version %s has role %s, version %s has role %s", version, a.role, v, b.role)
		}
		if a.dlq != b.dlq {
			return invalid("Alias can only point to versions with the same dead-letter queue configuration: version %s has %q, version %s has %q", version, a.dlq, v, b.dlq)
		}
	}
	return nil
}

// version returns published version v (a valid number).
func (fn *function) version(v string) *version {
	n, _ := strconv.Atoi(v)
	return &fn.versions[n-1]
}

func (a *Alias) config(fn, name string) types.AliasConfiguration {
	c := types.AliasConfiguration{AliasArn: aws.String(FunctionARN(fn, name)), Name: aws.String(name),
		FunctionVersion: aws.String(a.Version), RevisionId: aws.String(a.Revision), Description: aws.String(a.Description)}
	if len(a.Weights) > 0 {
		c.RoutingConfig = &types.AliasRoutingConfiguration{AdditionalVersionWeights: maps.Clone(a.Weights)}
	}
	return c
}

// PublishVersion publishes $LATEST, or returns the newest version when
// $LATEST has not changed since it was published ("Lambda doesn't publish
// a version if the function's configuration and code haven't changed since
// the last version"); a CodeSha256 that is not $LATEST's is refused.
func (f *Fake) PublishVersion(_ context.Context, in *lambda.PublishVersionInput, _ ...func(*lambda.Options)) (*lambda.PublishVersionOutput, error) {
	if err := f.begin("PublishVersion"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	fn, err := f.function(in.FunctionName)
	if err != nil {
		return nil, err
	}
	if fn.updating > 0 {
		fn.updating--
		return nil, &types.ResourceConflictException{Message: aws.String("The operation cannot be performed at this time. An update is in progress for resource: " + FunctionARN(fn.name, "")), Type: aws.String("User")}
	}
	if sha := aws.ToString(in.CodeSha256); sha != "" && sha != fn.latestSha {
		return nil, invalid("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", sha, fn.latestSha)
	}
	if fn.dirty || len(fn.versions) == 0 {
		v := fn.cut()
		v.description = aws.ToString(in.Description)
		fn.versions = append(fn.versions, v)
		fn.dirty = false
	}
	v := strconv.Itoa(len(fn.versions))
	c := fn.configuration(v)
	if x := fn.version(v); x.pending > 0 {
		x.pending--
	}
	f.succeeded["PublishVersion"]++
	return &lambda.PublishVersionOutput{FunctionName: c.FunctionName, FunctionArn: c.FunctionArn, Version: c.Version,
		CodeSha256: c.CodeSha256, Role: c.Role, DeadLetterConfig: c.DeadLetterConfig, State: c.State, LastUpdateStatus: c.LastUpdateStatus}, nil
}

// GetAlias returns an alias; a missing one is ResourceNotFoundException.
func (f *Fake) GetAlias(_ context.Context, in *lambda.GetAliasInput, _ ...func(*lambda.Options)) (*lambda.GetAliasOutput, error) {
	if err := f.begin("GetAlias"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	fn, err := f.function(in.FunctionName)
	if err != nil {
		return nil, err
	}
	name := aws.ToString(in.Name)
	a, ok := fn.aliases[name]
	if !ok {
		return nil, notFound("Alias not found: %s", FunctionARN(fn.name, name))
	}
	c := a.config(fn.name, name)
	return &lambda.GetAliasOutput{AliasArn: c.AliasArn, Name: c.Name, FunctionVersion: c.FunctionVersion,
		RevisionId: c.RevisionId, Description: c.Description, RoutingConfig: c.RoutingConfig}, nil
}

// CreateAlias creates an alias; one that exists is ResourceConflictException.
func (f *Fake) CreateAlias(_ context.Context, in *lambda.CreateAliasInput, _ ...func(*lambda.Options)) (*lambda.CreateAliasOutput, error) {
	if err := f.begin("CreateAlias"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	fn, err := f.function(in.FunctionName)
	if err != nil {
		return nil, err
	}
	name := aws.ToString(in.Name)
	if !aliasName.MatchString(name) || len(name) > 128 {
		return nil, validation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)", name)
	}
	if err := checkModel(in.Description, in.RoutingConfig); err != nil {
		return nil, err
	}
	var weights map[string]float64
	if in.RoutingConfig != nil {
		weights = in.RoutingConfig.AdditionalVersionWeights
	}
	if err := fn.checkAlias(aws.ToString(in.FunctionVersion), weights); err != nil {
		return nil, err
	}
	if _, ok := fn.aliases[name]; ok {
		return nil, &types.ResourceConflictException{Message: aws.String("Alias already exists: " + FunctionARN(fn.name, name)), Type: aws.String("User")}
	}
	a := &Alias{Version: aws.ToString(in.FunctionVersion), Description: aws.ToString(in.Description), Revision: f.newRevision()}
	if len(weights) > 0 {
		a.Weights = maps.Clone(weights)
	}
	fn.aliases[name] = a
	c := a.config(fn.name, name)
	f.succeeded["CreateAlias"]++
	return &lambda.CreateAliasOutput{AliasArn: c.AliasArn, Name: c.Name, FunctionVersion: c.FunctionVersion,
		RevisionId: c.RevisionId, Description: c.Description, RoutingConfig: c.RoutingConfig}, nil
}

// UpdateAlias changes an alias: a RevisionId that is not the alias's
// current one is PreconditionFailedException; an absent RoutingConfig
// keeps the routing and an empty one clears it.
func (f *Fake) UpdateAlias(_ context.Context, in *lambda.UpdateAliasInput, _ ...func(*lambda.Options)) (*lambda.UpdateAliasOutput, error) {
	if err := f.begin("UpdateAlias"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	fn, err := f.function(in.FunctionName)
	if err != nil {
		return nil, err
	}
	name := aws.ToString(in.Name)
	a, ok := fn.aliases[name]
	if !ok {
		return nil, notFound("Alias not found: %s", FunctionARN(fn.name, name))
	}
	if in.RevisionId != nil && *in.RevisionId != "" && *in.RevisionId != a.Revision {
		return nil, &types.PreconditionFailedException{Type: aws.String("User"),
			Message: aws.String("The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")}
	}
	if err := checkModel(in.Description, in.RoutingConfig); err != nil {
		return nil, err
	}
	next := *a
	if in.FunctionVersion != nil {
		next.Version = *in.FunctionVersion
	}
	if in.Description != nil {
		next.Description = *in.Description
	}
	if in.RoutingConfig != nil {
		next.Weights = nil
		if len(in.RoutingConfig.AdditionalVersionWeights) > 0 {
			next.Weights = maps.Clone(in.RoutingConfig.AdditionalVersionWeights)
		}
	}
	if err := fn.checkAlias(next.Version, next.Weights); err != nil {
		return nil, err
	}
	next.Revision = f.newRevision()
	fn.aliases[name] = &next
	c := next.config(fn.name, name)
	f.succeeded["UpdateAlias"]++
	return &lambda.UpdateAliasOutput{AliasArn: c.AliasArn, Name: c.Name, FunctionVersion: c.FunctionVersion,
		RevisionId: c.RevisionId, Description: c.Description, RoutingConfig: c.RoutingConfig}, nil
}

// ListAliases lists a function's aliases by name.
func (f *Fake) ListAliases(_ context.Context, in *lambda.ListAliasesInput, _ ...func(*lambda.Options)) (*lambda.ListAliasesOutput, error) {
	if err := f.begin("ListAliases"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	fn, err := f.function(in.FunctionName)
	if err != nil {
		return nil, err
	}
	out := &lambda.ListAliasesOutput{}
	for _, name := range slices.Sorted(maps.Keys(fn.aliases)) {
		a := fn.aliases[name]
		if v := aws.ToString(in.FunctionVersion); v != "" && a.Version != v {
			continue
		}
		out.Aliases = append(out.Aliases, a.config(fn.name, name))
	}
	return out, nil
}

func (fn *function) configuration(v string) types.FunctionConfiguration {
	x := version{sha: fn.latestSha, role: fn.latestRole, dlq: fn.latestDLQ}
	if v != latest {
		x = *fn.version(v)
	}
	c := types.FunctionConfiguration{FunctionName: aws.String(fn.name), FunctionArn: aws.String(FunctionARN(fn.name, v)),
		Version: aws.String(v), CodeSha256: aws.String(x.sha), Description: aws.String(x.description), Role: aws.String(x.role),
		State: types.StateActive, LastUpdateStatus: types.LastUpdateStatusSuccessful}
	if x.dlq != "" {
		c.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String(x.dlq)}
	}
	if x.pending > 0 {
		c.State, c.StateReasonCode = types.StatePending, types.StateReasonCodeCreating
	}
	if v == latest && fn.updating > 0 {
		c.LastUpdateStatus = types.LastUpdateStatusInProgress
	}
	return c
}

// ListVersionsByFunction lists $LATEST and the published versions, oldest first.
func (f *Fake) ListVersionsByFunction(_ context.Context, in *lambda.ListVersionsByFunctionInput, _ ...func(*lambda.Options)) (*lambda.ListVersionsByFunctionOutput, error) {
	if err := f.begin("ListVersionsByFunction"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	fn, err := f.function(in.FunctionName)
	if err != nil {
		return nil, err
	}
	out := &lambda.ListVersionsByFunctionOutput{Versions: []types.FunctionConfiguration{fn.configuration(latest)}}
	for i := range fn.versions {
		out.Versions = append(out.Versions, fn.configuration(strconv.Itoa(i+1)))
	}
	return out, nil
}

// GetFunctionConfiguration answers for $LATEST, a version or an alias.
func (f *Fake) GetFunctionConfiguration(_ context.Context, in *lambda.GetFunctionConfigurationInput, _ ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error) {
	if err := f.begin("GetFunctionConfiguration"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	fn, err := f.function(in.FunctionName)
	if err != nil {
		return nil, err
	}
	v, err := fn.resolve(aws.ToString(in.Qualifier))
	if err != nil {
		return nil, err
	}
	c := fn.configuration(v)
	if v != latest && fn.version(v).pending > 0 {
		fn.version(v).pending--
	}
	return &lambda.GetFunctionConfigurationOutput{FunctionName: c.FunctionName, FunctionArn: c.FunctionArn, Version: c.Version,
		CodeSha256: c.CodeSha256, Description: c.Description, Role: c.Role, DeadLetterConfig: c.DeadLetterConfig, State: c.State,
		StateReasonCode: c.StateReasonCode, LastUpdateStatus: c.LastUpdateStatus}, nil
}

// resolve turns a qualifier ("", $LATEST, a version, an alias) into the
// version it names; an alias resolves to its primary version.
func (fn *function) resolve(q string) (string, error) {
	switch {
	case q == "" || q == latest:
		return latest, nil
	case fn.hasVersion(q):
		return q, nil
	}
	if a, ok := fn.aliases[q]; ok {
		return a.Version, nil
	}
	return "", notFound("Function not found: %s", FunctionARN(fn.name, q))
}

// Invoked returns the inputs of every Invoke call, failed ones included.
func (f *Fake) Invoked() []lambda.InvokeInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.invoked)
}

// Invoke runs the function's handler for the version the qualifier names
// (an alias's primary version: the fake does not split traffic).
func (f *Fake) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.mu.Lock()
	f.invoked = append(f.invoked, *in)
	f.mu.Unlock()
	if err := f.begin("Invoke"); err != nil {
		return nil, err
	}
	fn, err := f.function(in.FunctionName)
	var v string
	if err == nil {
		v, err = fn.resolve(aws.ToString(in.Qualifier))
	}
	if err == nil && v != latest && fn.version(v).pending > 0 {
		fn.version(v).pending--
		err = &types.ResourceConflictException{Type: aws.String("User"),
			Message: aws.String("The operation cannot be performed at this time. The function is currently in the following state: Pending")}
	}
	var h func(string, []byte) Answer
	if err == nil {
		h = fn.handler
	}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := &lambda.InvokeOutput{StatusCode: 200, ExecutedVersion: aws.String(v), Payload: []byte("null")}
	if h != nil {
		a := h(v, in.Payload)
		out.Payload = a.Payload
		if a.FunctionError != "" {
			out.FunctionError = aws.String(a.FunctionError)
		}
	}
	return out, nil
}
