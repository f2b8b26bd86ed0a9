// Package conformance holds Lambda and Step Functions implementations to
// the behaviour of the real services, in the manner of go-cloud's
// drivertest: the same named cases run through the real aws-sdk-go-v2
// clients against the sandbox's sandbox/lambda and sandbox/states (this
// package's tests), the one stand-in per API the unit tests of shared/ and
// cli/ run in-process (sandbox/sandboxtest). Each case names the AWS API
// reference page that documents the behaviour it checks.
package conformance

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	stypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

// Config returns SDK settings that reach an implementation served at url:
// dummy credentials, the loopback-only HTTP client, no retries (a case
// wants to see the first answer).
func Config(url string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}, nil
		}),
		HTTPClient:       awsenv.LoopbackOnlyClient(),
		RetryMaxAttempts: 1,
	}
}

// Lambda is one fresh Lambda implementation for one case: a client, and a
// function whose $LATEST holds code CodeSha256 and has Published versions
// (at least 3) published from it.
type Lambda struct {
	Client     *lambda.Client
	Function   string
	CodeSha256 string
}

// States is one fresh Step Functions implementation for one case: a
// client, a state machine whose every execution waits in a Task state on a
// task token (a callback task) and ends SUCCEEDED with the output of
// SendTaskSuccess or FAILED with the error of SendTaskFailure, and Token,
// which returns the open token of an execution.
type States struct {
	Client  *sfn.Client
	Machine string
	Token   func(t *testing.T, executionARN string) string
}

// LambdaCases are the Lambda cases, by name.
var LambdaCases = []struct {
	Name string
	Run  func(t *testing.T, l Lambda)
}{
	{"API_PublishVersion/CodeSha256 matches: publishes, and again publishes nothing new", publishMatching},
	{"API_PublishVersion/CodeSha256 differs: InvalidParameterValueException, nothing published", publishMismatching},
	{"API_CreateAlias+API_GetAlias/round trip with RevisionId", createGetAlias},
	{"API_CreateAlias/existing alias: ResourceConflictException", createExisting},
	{"API_CreateAlias/unknown version: ResourceNotFoundException", createUnknownVersion},
	{"API_UpdateAlias/current RevisionId: moves and changes RevisionId", updateCurrentRevision},
	{"API_UpdateAlias/stale RevisionId: PreconditionFailedException, alias unchanged", updateStaleRevision},
	{"API_AliasRoutingConfiguration/weight to an unknown version: refused", routingUnknownVersion},
	{"API_AliasRoutingConfiguration/weight above 1: ValidationException", routingWeightAboveOne},
	{"API_AliasRoutingConfiguration/two additional versions: refused with 400", routingTwoVersions},
	{"API_AliasRoutingConfiguration/routing with $LATEST: ValidationException as the second version, InvalidParameterValueException as the first", routingLatest},
	{"API_UpdateAlias/empty AdditionalVersionWeights clears routing, absent RoutingConfig keeps it", routingClearAndKeep},
	{"API_GetAlias/unknown alias or function: ResourceNotFoundException", getNotFound},
	{"API_CreateAlias/empty AdditionalVersionWeights: an alias without routing", createEmptyRouting},
	{"API_UpdateAlias/unknown alias: ResourceNotFoundException", updateUnknownAlias},
	{"API_PublishVersion/unknown function: ResourceNotFoundException", publishUnknownFunction},
	{"API_CreateAlias/name of digits only, description over 256: ValidationException", createInvalidAlias},
}

// RunLambda runs every Lambda case on a fresh implementation from make.
func RunLambda(t *testing.T, make func(t *testing.T) Lambda) {
	for _, c := range LambdaCases {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, make(t)) })
	}
}

// StatesCases are the Step Functions cases, by name.
var StatesCases = []struct {
	Name string
	Run  func(t *testing.T, s States)
}{
	{"API_StartExecution/same name and input while open: the same execution", startIdempotent},
	{"API_StartExecution/same name, other input: ExecutionAlreadyExists", startOtherInput},
	{"API_StartExecution/same name after close: ExecutionAlreadyExists", startAfterClose},
	{"API_StartExecution/unknown state machine: StateMachineDoesNotExist", startUnknownMachine},
	{"API_DescribeExecution/running and unknown", describe},
	{"API_ListExecutions/status filter, newest first, paged", listFilteredPaged},
	{"API_ListExecutions/made-up nextToken: InvalidToken", listBadToken},
	{"API_GetExecutionHistory/paged and in reverse order", historyPaged},
	{"API_StopExecution/aborts, records error and cause; unknown: ExecutionDoesNotExist", stop},
	{"API_SendTaskSuccess/closes the task once; then TaskTimedOut", sendSuccess},
	{"API_SendTaskFailure/fails the execution; malformed token: InvalidToken", sendFailure},
	{"API_SendTaskSuccess/token of a stopped execution: TaskTimedOut", sendAfterStop},
	{"API_StartExecution/invalid name: InvalidName; input not JSON: InvalidExecutionInput", startInvalid},
	{"API_ListExecutions/unknown state machine: StateMachineDoesNotExist", listUnknownMachine},
	{"API_SendTaskSuccess/output not JSON: InvalidOutput, the task still waits", sendInvalidOutput},
	{"API_ListExecutions+API_GetExecutionHistory/statusFilter not a status, maxResults over 1000: ValidationException", listInvalid},
	{"API_StopExecution/error over 256 characters: ValidationException, the execution runs on", stopInvalid},
	{"API_ListStateMachines/lists the state machine, STANDARD", listMachines},
}

// RunStates runs every Step Functions case on a fresh implementation.
func RunStates(t *testing.T, make func(t *testing.T) States) {
	for _, c := range StatesCases {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, make(t)) })
	}
}

// wantError fails unless err is the SDK's typed error T with HTTP status
// (0: any).
func wantError[T error](t *testing.T, what string, err error, status int) {
	t.Helper()
	var typed T
	if !errors.As(err, &typed) {
		t.Fatalf("%s: err = %v, want %T", what, err, typed)
	}
	wantStatus(t, what, err, status)
}

// wantCode fails unless err is an API error with code and HTTP status.
func wantCode(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != code {
		t.Fatalf("%s: err = %v, want an API error %s", what, err, code)
	}
	wantStatus(t, what, err, status)
}

func wantStatus(t *testing.T, what string, err error, status int) {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("%s: err = %v, want an HTTP error response", what, err)
	}
	if status != 0 && re.HTTPStatusCode() != status {
		t.Fatalf("%s: HTTP %d, want %d (%v)", what, re.HTTPStatusCode(), status, err)
	}
}

// result is a call's two results, so that a case can write
// val(client.Op(...)).must(t, "Op").
type result[T any] struct {
	v   T
	err error
}

func val[T any](v T, err error) result[T] { return result[T]{v, err} }

// must fails the case when the call failed and returns its output.
func (r result[T]) must(t *testing.T, what string) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%s: %v", what, r.err)
	}
	return r.v
}

// ---- Lambda -------------------------------------------------------------

// https://docs.aws.amazon.com/lambda/latest/api/API_PublishVersion.html:
// "Lambda doesn't publish a version if the function's configuration and
// code haven't changed since the last version."
func publishMatching(t *testing.T, l Lambda) {
	ctx := t.Context()
	a := val(l.Client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: &l.Function, CodeSha256: &l.CodeSha256})).must(t, "PublishVersion")
	if aws.ToString(a.CodeSha256) != l.CodeSha256 || aws.ToString(a.Version) == "" || aws.ToString(a.Version) == "$LATEST" {
		t.Fatalf("PublishVersion = version %q code %q, want a number and %q", aws.ToString(a.Version), aws.ToString(a.CodeSha256), l.CodeSha256)
	}
	b := val(l.Client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: &l.Function, CodeSha256: &l.CodeSha256})).must(t, "PublishVersion again")
	if aws.ToString(b.Version) != aws.ToString(a.Version) {
		t.Errorf("PublishVersion of unchanged code = %s, want the same version %s", aws.ToString(b.Version), aws.ToString(a.Version))
	}
}

// API_PublishVersion, CodeSha256: "Only publish a version if the hash
// value matches the value that's specified."
func publishMismatching(t *testing.T, l Lambda) {
	ctx := t.Context()
	before := versions(t, l)
	_, err := l.Client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: &l.Function,
		CodeSha256: aws.String("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")})
	wantError[*ltypes.InvalidParameterValueException](t, "PublishVersion with another CodeSha256", err, http.StatusBadRequest)
	if after := versions(t, l); !slices.Equal(after, before) {
		t.Errorf("versions after a refused publish = %v, want %v", after, before)
	}
}

func versions(t *testing.T, l Lambda) []string {
	t.Helper()
	out := val(l.Client.ListVersionsByFunction(t.Context(), &lambda.ListVersionsByFunctionInput{FunctionName: &l.Function})).must(t, "ListVersionsByFunction")
	var vs []string
	for _, v := range out.Versions {
		vs = append(vs, aws.ToString(v.Version))
	}
	return vs
}

// https://docs.aws.amazon.com/lambda/latest/api/API_CreateAlias.html and
// API_GetAlias.html: the alias as created, with a RevisionId.
func createGetAlias(t *testing.T, l Lambda) {
	ctx := t.Context()
	c := val(l.Client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: &l.Function, Name: aws.String("stg"),
		FunctionVersion: aws.String("1"), Description: aws.String("made by conformance")})).must(t, "CreateAlias")
	g := val(l.Client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: &l.Function, Name: aws.String("stg")})).must(t, "GetAlias")
	if aws.ToString(g.FunctionVersion) != "1" || aws.ToString(g.Description) != "made by conformance" || aws.ToString(g.Name) != "stg" {
		t.Errorf("GetAlias = %s %q %q, want stg on 1 described as made", aws.ToString(g.Name), aws.ToString(g.FunctionVersion), aws.ToString(g.Description))
	}
	if aws.ToString(g.RevisionId) == "" || aws.ToString(g.RevisionId) != aws.ToString(c.RevisionId) {
		t.Errorf("GetAlias RevisionId = %q, want the one CreateAlias returned (%q)", aws.ToString(g.RevisionId), aws.ToString(c.RevisionId))
	}
	if !strings.HasSuffix(aws.ToString(g.AliasArn), ":function:"+l.Function+":stg") {
		t.Errorf("AliasArn = %q, want the function's ARN qualified by stg", aws.ToString(g.AliasArn))
	}
}

// API_CreateAlias, ResourceConflictException: "The resource already exists".
func createExisting(t *testing.T, l Lambda) {
	ctx := t.Context()
	val(l.Client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"), FunctionVersion: aws.String("1")})).must(t, "CreateAlias")
	_, err := l.Client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"), FunctionVersion: aws.String("2")})
	wantError[*ltypes.ResourceConflictException](t, "CreateAlias again", err, http.StatusConflict)
}

// API_CreateAlias, ResourceNotFoundException: "The resource specified in
// the request does not exist" — here the version. Lambda answers it with
// HTTP 404 "Function not found: arn:…:function:<name>:<version>" (as quoted
// in https://github.com/aws-cloudformation/rain/issues/175).
func createUnknownVersion(t *testing.T, l Lambda) {
	_, err := l.Client.CreateAlias(t.Context(), &lambda.CreateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"), FunctionVersion: aws.String("99")})
	wantError[*ltypes.ResourceNotFoundException](t, "CreateAlias on version 99", err, http.StatusNotFound)
}

func createAlias(t *testing.T, l Lambda, name, version string) *lambda.CreateAliasOutput {
	t.Helper()
	return val(l.Client.CreateAlias(t.Context(), &lambda.CreateAliasInput{FunctionName: &l.Function, Name: aws.String(name), FunctionVersion: aws.String(version)})).must(t, "CreateAlias")
}

// https://docs.aws.amazon.com/lambda/latest/api/API_UpdateAlias.html,
// RevisionId: "Only update the alias if the revision ID matches the ID
// that's specified."
func updateCurrentRevision(t *testing.T, l Lambda) {
	c := createAlias(t, l, "prod", "1")
	u := val(l.Client.UpdateAlias(t.Context(), &lambda.UpdateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"),
		FunctionVersion: aws.String("2"), RevisionId: c.RevisionId})).must(t, "UpdateAlias")
	if aws.ToString(u.FunctionVersion) != "2" || aws.ToString(u.RevisionId) == "" || aws.ToString(u.RevisionId) == aws.ToString(c.RevisionId) {
		t.Errorf("UpdateAlias = version %s revision %q, want 2 and a new revision (was %q)", aws.ToString(u.FunctionVersion), aws.ToString(u.RevisionId), aws.ToString(c.RevisionId))
	}
}

// API_UpdateAlias, PreconditionFailedException (HTTP 412): "The
// RevisionId provided does not match the latest RevisionId".
func updateStaleRevision(t *testing.T, l Lambda) {
	ctx := t.Context()
	c := createAlias(t, l, "prod", "1")
	val(l.Client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"), FunctionVersion: aws.String("2")})).must(t, "UpdateAlias")
	_, err := l.Client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"), FunctionVersion: aws.String("3"), RevisionId: c.RevisionId})
	wantError[*ltypes.PreconditionFailedException](t, "UpdateAlias with the stale RevisionId", err, http.StatusPreconditionFailed)
	if g := getAlias(t, l, "prod"); aws.ToString(g.FunctionVersion) != "2" {
		t.Errorf("alias after a refused update is on %s, want 2", aws.ToString(g.FunctionVersion))
	}
}

func getAlias(t *testing.T, l Lambda, name string) *lambda.GetAliasOutput {
	t.Helper()
	return val(l.Client.GetAlias(t.Context(), &lambda.GetAliasInput{FunctionName: &l.Function, Name: aws.String(name)})).must(t, "GetAlias")
}

func weights(w map[string]float64) *ltypes.AliasRoutingConfiguration {
	return &ltypes.AliasRoutingConfiguration{AdditionalVersionWeights: w}
}

// unchanged checks that a refused routing left the alias on 1 unweighted.
func unchanged(t *testing.T, l Lambda) {
	t.Helper()
	g := getAlias(t, l, "prod")
	if aws.ToString(g.FunctionVersion) != "1" || (g.RoutingConfig != nil && len(g.RoutingConfig.AdditionalVersionWeights) > 0) {
		t.Errorf("alias after a refused routing = %s %v, want 1 with no routing", aws.ToString(g.FunctionVersion), g.RoutingConfig)
	}
}

// https://docs.aws.amazon.com/lambda/latest/api/API_AliasRoutingConfiguration.html:
// "The second version, and the percentage of traffic that's routed to it" —
// a version that must exist (ResourceNotFoundException, as for
// FunctionVersion in API_UpdateAlias).
func routingUnknownVersion(t *testing.T, l Lambda) {
	createAlias(t, l, "prod", "1")
	_, err := l.Client.UpdateAlias(t.Context(), &lambda.UpdateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"), RoutingConfig: weights(map[string]float64{"99": 0.1})})
	wantError[*ltypes.ResourceNotFoundException](t, "routing to version 99", err, http.StatusNotFound)
	unchanged(t, l)
}

// API_AliasRoutingConfiguration, AdditionalVersionWeights: "Valid Range:
// Minimum value of 0.0. Maximum value of 1.0." A request breaking the API
// model is refused with ValidationException before anything else.
func routingWeightAboveOne(t *testing.T, l Lambda) {
	createAlias(t, l, "prod", "1")
	_, err := l.Client.UpdateAlias(t.Context(), &lambda.UpdateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"), RoutingConfig: weights(map[string]float64{"2": 1.5})})
	wantCode(t, "weight 1.5", err, "ValidationException", http.StatusBadRequest)
	unchanged(t, l)
}

// API_AliasRoutingConfiguration: one "second version" — an alias points to
// at most two versions.
func routingTwoVersions(t *testing.T, l Lambda) {
	createAlias(t, l, "prod", "1")
	_, err := l.Client.UpdateAlias(t.Context(), &lambda.UpdateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"), RoutingConfig: weights(map[string]float64{"2": 0.1, "3": 0.1})})
	wantStatus(t, "two additional versions", err, http.StatusBadRequest)
	unchanged(t, l)
}

// https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html:
// a weighted alias cannot use $LATEST. As the additional version it breaks
// the model's key pattern [0-9]+ (API_AliasRoutingConfiguration:
// ValidationException); as the primary version the API answers
// InvalidParameterValueException.
func routingLatest(t *testing.T, l Lambda) {
	createAlias(t, l, "prod", "1")
	_, err := l.Client.UpdateAlias(t.Context(), &lambda.UpdateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"), RoutingConfig: weights(map[string]float64{"$LATEST": 0.1})})
	wantCode(t, "routing to $LATEST", err, "ValidationException", http.StatusBadRequest)
	_, err = l.Client.UpdateAlias(t.Context(), &lambda.UpdateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"),
		FunctionVersion: aws.String("$LATEST"), RoutingConfig: weights(map[string]float64{"2": 0.1})})
	wantError[*ltypes.InvalidParameterValueException](t, "$LATEST with routing", err, http.StatusBadRequest)
	unchanged(t, l)
}

// API_UpdateAlias, RoutingConfig: the routing is replaced when given, kept
// when absent; an empty AdditionalVersionWeights removes it.
func routingClearAndKeep(t *testing.T, l Lambda) {
	ctx := t.Context()
	createAlias(t, l, "prod", "1")
	val(l.Client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"), RoutingConfig: weights(map[string]float64{"2": 0.25})})).must(t, "UpdateAlias weighted")
	val(l.Client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"), Description: aws.String("kept")})).must(t, "UpdateAlias description only")
	if g := getAlias(t, l, "prod"); g.RoutingConfig == nil || g.RoutingConfig.AdditionalVersionWeights["2"] != 0.25 {
		t.Fatalf("routing after an update without RoutingConfig = %v, want 2@0.25 kept", g.RoutingConfig)
	}
	val(l.Client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"), RoutingConfig: weights(map[string]float64{})})).must(t, "UpdateAlias clearing")
	if g := getAlias(t, l, "prod"); g.RoutingConfig != nil && len(g.RoutingConfig.AdditionalVersionWeights) > 0 {
		t.Errorf("routing after clearing = %v, want none", g.RoutingConfig.AdditionalVersionWeights)
	}
}

// https://docs.aws.amazon.com/lambda/latest/api/API_GetAlias.html,
// ResourceNotFoundException (HTTP 404).
func getNotFound(t *testing.T, l Lambda) {
	ctx := t.Context()
	_, err := l.Client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: &l.Function, Name: aws.String("nope")})
	wantError[*ltypes.ResourceNotFoundException](t, "GetAlias of a missing alias", err, http.StatusNotFound)
	_, err = l.Client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("no-such-function"), Name: aws.String("prod")})
	wantError[*ltypes.ResourceNotFoundException](t, "GetAlias of a missing function", err, http.StatusNotFound)
}

// API_CreateAlias, RoutingConfig: an empty AdditionalVersionWeights routes
// nothing (the alias mover always sends one).
func createEmptyRouting(t *testing.T, l Lambda) {
	val(l.Client.CreateAlias(t.Context(), &lambda.CreateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"),
		FunctionVersion: aws.String("2"), RoutingConfig: weights(map[string]float64{})})).must(t, "CreateAlias")
	if g := getAlias(t, l, "prod"); aws.ToString(g.FunctionVersion) != "2" || (g.RoutingConfig != nil && len(g.RoutingConfig.AdditionalVersionWeights) > 0) {
		t.Errorf("alias = %s %v, want 2 with no routing", aws.ToString(g.FunctionVersion), g.RoutingConfig)
	}
}

// API_UpdateAlias, ResourceNotFoundException: the alias does not exist
// (UpdateAlias never creates one).
func updateUnknownAlias(t *testing.T, l Lambda) {
	_, err := l.Client.UpdateAlias(t.Context(), &lambda.UpdateAliasInput{FunctionName: &l.Function, Name: aws.String("nope"), FunctionVersion: aws.String("1")})
	wantError[*ltypes.ResourceNotFoundException](t, "UpdateAlias of a missing alias", err, http.StatusNotFound)
	_, err = l.Client.GetAlias(t.Context(), &lambda.GetAliasInput{FunctionName: &l.Function, Name: aws.String("nope")})
	wantError[*ltypes.ResourceNotFoundException](t, "GetAlias after the refused update", err, http.StatusNotFound)
}

// API_PublishVersion, ResourceNotFoundException.
func publishUnknownFunction(t *testing.T, l Lambda) {
	_, err := l.Client.PublishVersion(t.Context(), &lambda.PublishVersionInput{FunctionName: aws.String("no-such-function")})
	wantError[*ltypes.ResourceNotFoundException](t, "PublishVersion of a missing function", err, http.StatusNotFound)
}

// API_CreateAlias, Name: "Pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)";
// Description: "Maximum length of 256". Requests breaking the model are
// refused with ValidationException; nothing is created.
func createInvalidAlias(t *testing.T, l Lambda) {
	ctx := t.Context()
	_, err := l.Client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: &l.Function, Name: aws.String("123"), FunctionVersion: aws.String("1")})
	wantCode(t, "alias named 123", err, "ValidationException", http.StatusBadRequest)
	_, err = l.Client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: &l.Function, Name: aws.String("prod"), FunctionVersion: aws.String("1"),
		Description: aws.String(strings.Repeat("d", 257))})
	wantCode(t, "description of 257 characters", err, "ValidationException", http.StatusBadRequest)
	out := val(l.Client.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: &l.Function})).must(t, "ListAliases")
	if len(out.Aliases) != 0 {
		t.Errorf("aliases after refused creates = %d, want 0", len(out.Aliases))
	}
}

// ---- Step Functions -----------------------------------------------------

func start(t *testing.T, s States, name, input string) *sfn.StartExecutionOutput {
	t.Helper()
	return val(s.Client.StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: &s.Machine, Name: aws.String(name), Input: aws.String(input)})).must(t, "StartExecution "+name)
}

func stopExecution(t *testing.T, s States, arn *string) {
	t.Helper()
	val(s.Client.StopExecution(t.Context(), &sfn.StopExecutionInput{ExecutionArn: arn, Error: aws.String("Test.Stop"), Cause: aws.String("stopped by conformance")})).must(t, "StopExecution")
}

// https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html:
// "If StartExecution is called with the same name and input as a running
// execution, the call succeeds and return the same response as the
// original request."
func startIdempotent(t *testing.T, s States) {
	a := start(t, s, "same", `{"n":1}`)
	b := start(t, s, "same", `{"n":1}`)
	if aws.ToString(a.ExecutionArn) != aws.ToString(b.ExecutionArn) || !a.StartDate.Equal(*b.StartDate) {
		t.Errorf("second start = %s at %v, want %s at %v", aws.ToString(b.ExecutionArn), b.StartDate, aws.ToString(a.ExecutionArn), a.StartDate)
	}
}

// API_StartExecution: "If the execution is running and the new input is
// different, ExecutionAlreadyExists."
func startOtherInput(t *testing.T, s States) {
	start(t, s, "same", `{"n":1}`)
	_, err := s.Client.StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: &s.Machine, Name: aws.String("same"), Input: aws.String(`{"n":2}`)})
	wantError[*stypes.ExecutionAlreadyExists](t, "StartExecution with another input", err, http.StatusBadRequest)
}

// API_StartExecution: "If the execution is closed, ExecutionAlreadyExists
// regardless of input."
func startAfterClose(t *testing.T, s States) {
	a := start(t, s, "once", `{}`)
	stopExecution(t, s, a.ExecutionArn)
	_, err := s.Client.StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: &s.Machine, Name: aws.String("once"), Input: aws.String(`{}`)})
	wantError[*stypes.ExecutionAlreadyExists](t, "StartExecution of a closed name", err, http.StatusBadRequest)
}

// API_StartExecution, StateMachineDoesNotExist.
func startUnknownMachine(t *testing.T, s States) {
	other := s.Machine[:strings.LastIndex(s.Machine, ":")+1] + "no-such-machine"
	_, err := s.Client.StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: &other, Name: aws.String("x"), Input: aws.String(`{}`)})
	wantError[*stypes.StateMachineDoesNotExist](t, "StartExecution of a missing machine", err, http.StatusBadRequest)
}

// https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html
func describe(t *testing.T, s States) {
	ctx := t.Context()
	a := start(t, s, "described", `{"x":"y"}`)
	d := val(s.Client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: a.ExecutionArn})).must(t, "DescribeExecution")
	if d.Status != stypes.ExecutionStatusRunning || aws.ToString(d.Name) != "described" || aws.ToString(d.Input) != `{"x":"y"}` ||
		aws.ToString(d.StateMachineArn) != s.Machine || d.StopDate != nil || !d.StartDate.Equal(*a.StartDate) {
		t.Errorf("DescribeExecution = %s %s input %s machine %s stop %v, want RUNNING described with its input, no stop date",
			d.Status, aws.ToString(d.Name), aws.ToString(d.Input), aws.ToString(d.StateMachineArn), d.StopDate)
	}
	_, err := s.Client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(aws.ToString(a.ExecutionArn) + "-gone")})
	wantError[*stypes.ExecutionDoesNotExist](t, "DescribeExecution of a missing execution", err, http.StatusBadRequest)
}

// https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html:
// "Results are sorted by time, with the most recent execution first";
// statusFilter; maxResults and nextToken paging.
func listFilteredPaged(t *testing.T, s States) {
	ctx := t.Context()
	var arns []string
	for _, n := range []string{"e1", "e2", "e3"} {
		arns = append(arns, aws.ToString(start(t, s, n, `{}`).ExecutionArn))
	}
	stopExecution(t, s, &arns[1])
	list := func(filter stypes.ExecutionStatus) []string {
		var names []string
		var token *string
		for pages := 0; ; pages++ {
			out := val(s.Client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: &s.Machine, StatusFilter: filter, MaxResults: 1, NextToken: token})).must(t, "ListExecutions")
			if len(out.Executions) > 1 {
				t.Fatalf("page of %d executions, want at most MaxResults 1", len(out.Executions))
			}
			for _, e := range out.Executions {
				names = append(names, aws.ToString(e.Name))
			}
			if token = out.NextToken; token == nil || pages > 10 {
				return names
			}
		}
	}
	if got := list(""); !slices.Equal(got, []string{"e3", "e2", "e1"}) {
		t.Errorf("all executions = %v, want newest first [e3 e2 e1]", got)
	}
	if got := list(stypes.ExecutionStatusRunning); !slices.Equal(got, []string{"e3", "e1"}) {
		t.Errorf("RUNNING = %v, want [e3 e1]", got)
	}
	if got := list(stypes.ExecutionStatusAborted); !slices.Equal(got, []string{"e2"}) {
		t.Errorf("ABORTED = %v, want [e2]", got)
	}
}

// API_ListExecutions, InvalidToken: "The provided token is not valid."
func listBadToken(t *testing.T, s States) {
	start(t, s, "e1", `{}`)
	_, err := s.Client.ListExecutions(t.Context(), &sfn.ListExecutionsInput{StateMachineArn: &s.Machine, NextToken: aws.String("bm90LWEtdG9rZW4=")})
	wantError[*stypes.InvalidToken](t, "ListExecutions with a made-up token", err, http.StatusBadRequest)
}

// https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html:
// "the results are returned in ascending order of the timeStamp of the
// events. Use the reverseOrder parameter to get the latest events first";
// maxResults and nextToken paging.
func historyPaged(t *testing.T, s States) {
	ctx := t.Context()
	a := start(t, s, "h", `{}`)
	s.Token(t, aws.ToString(a.ExecutionArn)) // the task is waiting: the history holds more than the start
	read := func(reverse bool, size int32) []int64 {
		var ids []int64
		var token *string
		for pages := 0; ; pages++ {
			out := val(s.Client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: a.ExecutionArn, ReverseOrder: reverse, MaxResults: size, NextToken: token})).must(t, "GetExecutionHistory")
			if size > 0 && len(out.Events) > int(size) {
				t.Fatalf("page of %d events, want at most %d", len(out.Events), size)
			}
			for _, e := range out.Events {
				ids = append(ids, e.Id)
			}
			if token = out.NextToken; token == nil || pages > 100 {
				return ids
			}
		}
	}
	all := read(false, 0)
	if len(all) < 3 || all[0] != 1 || !slices.IsSorted(all) {
		t.Fatalf("history ids = %v, want at least 3, ascending from 1", all)
	}
	first := val(s.Client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: a.ExecutionArn, MaxResults: 1})).must(t, "GetExecutionHistory")
	if first.Events[0].Type != stypes.HistoryEventTypeExecutionStarted {
		t.Errorf("first event = %s, want ExecutionStarted", first.Events[0].Type)
	}
	if got := read(false, 2); !slices.Equal(got, all) {
		t.Errorf("paged by 2 = %v, want %v", got, all)
	}
	rev := slices.Clone(all)
	slices.Reverse(rev)
	if got := read(true, 2); !slices.Equal(got, rev) {
		t.Errorf("reverse paged by 2 = %v, want %v", got, rev)
	}
	_, err := s.Client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(aws.ToString(a.ExecutionArn) + "-gone")})
	wantError[*stypes.ExecutionDoesNotExist](t, "GetExecutionHistory of a missing execution", err, http.StatusBadRequest)
}

// https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html:
// the execution is ABORTED with the error and cause given.
func stop(t *testing.T, s States) {
	ctx := t.Context()
	a := start(t, s, "stopped", `{}`)
	stopExecution(t, s, a.ExecutionArn)
	d := val(s.Client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: a.ExecutionArn})).must(t, "DescribeExecution")
	if d.Status != stypes.ExecutionStatusAborted || d.StopDate == nil || aws.ToString(d.Error) != "Test.Stop" || aws.ToString(d.Cause) != "stopped by conformance" {
		t.Errorf("after StopExecution: %s stop %v error %q cause %q, want ABORTED with a stop date, Test.Stop and its cause", d.Status, d.StopDate, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	h := val(s.Client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: a.ExecutionArn, ReverseOrder: true, MaxResults: 1})).must(t, "GetExecutionHistory")
	if len(h.Events) != 1 || h.Events[0].Type != stypes.HistoryEventTypeExecutionAborted {
		t.Errorf("newest event after StopExecution = %v, want ExecutionAborted", h.Events)
	}
	_, err := s.Client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(aws.ToString(a.ExecutionArn) + "-gone")})
	wantError[*stypes.ExecutionDoesNotExist](t, "StopExecution of a missing execution", err, http.StatusBadRequest)
}

// https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html:
// the task's output is the execution's; TaskTimedOut once the task is
// no longer waiting.
func sendSuccess(t *testing.T, s States) {
	ctx := t.Context()
	a := start(t, s, "answered", `{}`)
	tok := s.Token(t, aws.ToString(a.ExecutionArn))
	val(s.Client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: &tok, Output: aws.String(`{"ok":true}`)})).must(t, "SendTaskSuccess")
	d := waitClosed(t, s, a.ExecutionArn)
	if d.Status != stypes.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"ok":true}` {
		t.Errorf("after SendTaskSuccess: %s output %q, want SUCCEEDED with the task's output", d.Status, aws.ToString(d.Output))
	}
	_, err := s.Client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: &tok, Output: aws.String(`{}`)})
	wantError[*stypes.TaskTimedOut](t, "SendTaskSuccess again", err, http.StatusBadRequest)
}

// https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html:
// the task fails with the error and cause; InvalidToken for a token that is
// not one.
func sendFailure(t *testing.T, s States) {
	ctx := t.Context()
	_, err := s.Client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String("not a token"), Error: aws.String("X")})
	wantError[*stypes.InvalidToken](t, "SendTaskFailure with a malformed token", err, http.StatusBadRequest)
	_, err = s.Client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("not a token"), Output: aws.String(`{}`)})
	wantError[*stypes.InvalidToken](t, "SendTaskSuccess with a malformed token", err, http.StatusBadRequest)
	a := start(t, s, "failed", `{}`)
	tok := s.Token(t, aws.ToString(a.ExecutionArn))
	val(s.Client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: &tok, Error: aws.String("Test.Rejected"), Cause: aws.String("no")})).must(t, "SendTaskFailure")
	d := waitClosed(t, s, a.ExecutionArn)
	if d.Status != stypes.ExecutionStatusFailed || aws.ToString(d.Error) != "Test.Rejected" || aws.ToString(d.Cause) != "no" {
		t.Errorf("after SendTaskFailure: %s %q %q, want FAILED Test.Rejected no", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
}

// API_SendTaskSuccess, TaskTimedOut: the task of a stopped execution no
// longer waits.
func sendAfterStop(t *testing.T, s States) {
	a := start(t, s, "stopped-task", `{}`)
	tok := s.Token(t, aws.ToString(a.ExecutionArn))
	stopExecution(t, s, a.ExecutionArn)
	_, err := s.Client.SendTaskSuccess(t.Context(), &sfn.SendTaskSuccessInput{TaskToken: &tok, Output: aws.String(`{}`)})
	wantError[*stypes.TaskTimedOut](t, "SendTaskSuccess after StopExecution", err, http.StatusBadRequest)
}

// API_StartExecution: name "must not contain whitespace"… (InvalidName);
// InvalidExecutionInput: "The provided JSON input data is not valid."
func startInvalid(t *testing.T, s States) {
	_, err := s.Client.StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: &s.Machine, Name: aws.String("has space"), Input: aws.String(`{}`)})
	wantError[*stypes.InvalidName](t, "StartExecution named with a space", err, http.StatusBadRequest)
	_, err = s.Client.StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: &s.Machine, Name: aws.String("bad-input"), Input: aws.String(`{not json`)})
	wantError[*stypes.InvalidExecutionInput](t, "StartExecution with input that is not JSON", err, http.StatusBadRequest)
	_, err = s.Client.DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(strings.Replace(s.Machine, ":stateMachine:", ":execution:", 1) + ":bad-input")})
	wantError[*stypes.ExecutionDoesNotExist](t, "the refused execution", err, http.StatusBadRequest)
}

// API_ListExecutions, StateMachineDoesNotExist.
func listUnknownMachine(t *testing.T, s States) {
	other := s.Machine[:strings.LastIndex(s.Machine, ":")+1] + "no-such-machine"
	_, err := s.Client.ListExecutions(t.Context(), &sfn.ListExecutionsInput{StateMachineArn: &other})
	wantError[*stypes.StateMachineDoesNotExist](t, "ListExecutions of a missing machine", err, http.StatusBadRequest)
}

// API_SendTaskSuccess, InvalidOutput: "The provided JSON output data is
// not valid." Nothing is decided: the same token still answers.
func sendInvalidOutput(t *testing.T, s States) {
	ctx := t.Context()
	a := start(t, s, "bad-output", `{}`)
	tok := s.Token(t, aws.ToString(a.ExecutionArn))
	_, err := s.Client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: &tok, Output: aws.String(`{not json`)})
	wantError[*stypes.InvalidOutput](t, "SendTaskSuccess with output that is not JSON", err, http.StatusBadRequest)
	val(s.Client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: &tok, Output: aws.String(`{}`)})).must(t, "SendTaskSuccess after the refusal")
	if d := waitClosed(t, s, a.ExecutionArn); d.Status != stypes.ExecutionStatusSucceeded {
		t.Errorf("status = %s, want SUCCEEDED", d.Status)
	}
}

// API_ListExecutions, statusFilter: "Valid Values: RUNNING | SUCCEEDED |
// FAILED | TIMED_OUT | ABORTED | PENDING_REDRIVE"; maxResults (also of
// API_GetExecutionHistory): "Valid Range: Minimum value of 0. Maximum
// value of 1000." A request outside the model is a ValidationException.
func listInvalid(t *testing.T, s States) {
	ctx := t.Context()
	a := start(t, s, "listed", `{}`)
	_, err := s.Client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: &s.Machine, StatusFilter: "BOGUS"})
	wantError[*stypes.ValidationException](t, "ListExecutions statusFilter BOGUS", err, http.StatusBadRequest)
	_, err = s.Client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: &s.Machine, MaxResults: 1001})
	wantError[*stypes.ValidationException](t, "ListExecutions maxResults 1001", err, http.StatusBadRequest)
	// GetExecutionHistory's model lists no ValidationException, so the SDK
	// reports it as a generic API error with that code.
	_, err = s.Client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: a.ExecutionArn, MaxResults: 1001})
	wantCode(t, "GetExecutionHistory maxResults 1001", err, "ValidationException", http.StatusBadRequest)
}

// API_StopExecution, error: "Maximum length of 256." Nothing stops.
func stopInvalid(t *testing.T, s States) {
	ctx := t.Context()
	a := start(t, s, "long-error", `{}`)
	_, err := s.Client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: a.ExecutionArn, Error: aws.String(strings.Repeat("e", 257))})
	wantError[*stypes.ValidationException](t, "StopExecution with an error of 257 characters", err, http.StatusBadRequest)
	d := val(s.Client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: a.ExecutionArn})).must(t, "DescribeExecution")
	if d.Status != stypes.ExecutionStatusRunning {
		t.Errorf("status after a refused stop = %s, want RUNNING", d.Status)
	}
}

// https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListStateMachines.html:
// each item names the machine, its ARN, its type and creation date.
func listMachines(t *testing.T, s States) {
	out := val(s.Client.ListStateMachines(t.Context(), &sfn.ListStateMachinesInput{})).must(t, "ListStateMachines")
	var found bool
	for _, m := range out.StateMachines {
		if aws.ToString(m.StateMachineArn) == s.Machine {
			found = true
			if !strings.HasSuffix(s.Machine, ":stateMachine:"+aws.ToString(m.Name)) || m.Type != stypes.StateMachineTypeStandard || m.CreationDate == nil {
				t.Errorf("listed %s %s %s created %v, want the machine's name, STANDARD and a creation date", aws.ToString(m.Name), aws.ToString(m.StateMachineArn), m.Type, m.CreationDate)
			}
		}
	}
	if !found {
		t.Errorf("ListStateMachines = %d machines without %s", len(out.StateMachines), s.Machine)
	}
}

// waitClosed polls DescribeExecution until the execution is closed (the
// sandbox runs the rest of the definition asynchronously).
func waitClosed(t *testing.T, s States, arn *string) *sfn.DescribeExecutionOutput {
	t.Helper()
	for range 2000 {
		d := val(s.Client.DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: arn})).must(t, "DescribeExecution")
		if d.Status != stypes.ExecutionStatusRunning {
			return d
		}
		Pause()
	}
	t.Fatalf("execution %s still RUNNING", aws.ToString(arn))
	return nil
}
