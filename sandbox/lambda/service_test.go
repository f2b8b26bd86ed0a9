package lambdasvc_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/aliasflow/aliasflow/sandbox/core"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
)

const (
	helloPkg = "github.com/aliasflow/aliasflow/examples/hello"
	echoPkg  = "./testdata/echo"
	role     = "arn:aws:iam::000000000000:role/test"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type logSink struct {
	mu      sync.Mutex
	lines   map[string][]string // group -> messages
	streams map[string][]string // group -> stream of each message
}

func (l *logSink) Append(group, stream string, at time.Time, message string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lines == nil {
		l.lines, l.streams = map[string][]string{}, map[string][]string{}
	}
	l.lines[group] = append(l.lines[group], message)
	l.streams[group] = append(l.streams[group], stream)
}

// streamMatches says whether every stream of group matches pattern.
func (l *logSink) streamMatches(group, pattern string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	re := regexp.MustCompile(pattern)
	for _, s := range l.streams[group] {
		if !re.MatchString(s) {
			return false
		}
	}
	return len(l.streams[group]) > 0
}

func (l *logSink) matches(group string, re *regexp.Regexp) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.lines[group] {
		if re.MatchString(m) {
			return true
		}
	}
	return false
}

func (l *logSink) contains(group, text string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.lines[group] {
		if strings.Contains(m, text) {
			return true
		}
	}
	return false
}

type invocation struct {
	function, resource, version string
	failed                      bool
}

type invocationSink struct {
	mu  sync.Mutex
	got []invocation
}

func (s *invocationSink) RecordInvocation(function, resource, executedVersion string, failed bool, _ time.Duration, _ time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, invocation{function, resource, executedVersion, failed})
}

type env struct {
	svc    *lambdasvc.Service
	client *lambda.Client
	clock  *clock
	logs   *logSink
	calls  *invocationSink
	opts   lambdasvc.Options
}

func newEnv(t *testing.T, mutate ...func(*lambdasvc.Options)) *env {
	t.Helper()
	e := &env{clock: &clock{t: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}, logs: &logSink{}, calls: &invocationSink{}}
	e.opts = lambdasvc.Options{
		WorkDir: t.TempDir(), Clock: e.clock.Now, UpdateDuration: 5 * time.Second,
		Logs: e.logs, Invocations: e.calls,
	}
	for _, m := range mutate {
		m(&e.opts)
	}
	svc, err := lambdasvc.New(e.opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.svc = svc
	srv := httptest.NewServer(svc)
	t.Cleanup(func() { srv.Close(); svc.Close() })
	e.client = lambda.NewFromConfig(lambdatest.Config(), func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return e
}

// create makes a function from a built package and lets the create settle.
func (e *env) create(t *testing.T, name, pkg string, mutate ...func(*lambda.CreateFunctionInput)) *lambda.CreateFunctionOutput {
	t.Helper()
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(role), Code: &types.FunctionCode{ZipFile: lambdatest.Zip(t, lambdatest.Build(t, pkg))},
	}
	for _, m := range mutate {
		m(in)
	}
	out, err := e.client.CreateFunction(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", name, err)
	}
	e.clock.Advance(e.opts.UpdateDuration)
	return out
}

// publish publishes a version and lets it become Active.
func (e *env) publish(t *testing.T, name string) string {
	t.Helper()
	out, err := e.client.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("PublishVersion %s: %v", name, err)
	}
	e.clock.Advance(e.publishDuration())
	return aws.ToString(out.Version)
}

func (e *env) publishDuration() time.Duration {
	if e.opts.PublishDuration > 0 {
		return e.opts.PublishDuration
	}
	return lambdasvc.DefaultPublishDuration
}

// TestPublishedVersionPendingThenActive: a new version is Pending for the
// configured time, then Active ("Lambda function states": "Lambda does not
// invoke a function during pending state"; the published-version-active
// waiter polls GetFunctionConfiguration for it). Invoking it, directly or
// through an alias, meanwhile fails with ResourceConflictException, as
// invoking a function that is still being created does.
func TestPublishedVersionPendingThenActive(t *testing.T) {
	e := newEnv(t, func(o *lambdasvc.Options) { o.PublishDuration = 3 * time.Second })
	ctx := context.Background()
	e.create(t, "hello", helloPkg)
	out, err := e.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if out.State != types.StatePending {
		t.Errorf("PublishVersion State = %q, want Pending", out.State)
	}
	if _, err := e.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("stg"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatalf("CreateAlias on a Pending version: %v", err)
	}
	state := func() types.State {
		t.Helper()
		c, err := e.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("hello"), Qualifier: aws.String("1")})
		if err != nil {
			t.Fatal(err)
		}
		return c.State
	}
	for _, q := range []string{"1", "stg"} {
		_, err := e.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String(q)})
		wantAPIError[*types.ResourceConflictException](t, err, 409)
	}
	e.clock.Advance(2 * time.Second)
	if got := state(); got != types.StatePending {
		t.Errorf("State after 2s = %q, want Pending", got)
	}
	e.clock.Advance(time.Second)
	if got := state(); got != types.StateActive {
		t.Errorf("State after 3s = %q, want Active", got)
	}
	if _, err := e.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String("stg")}); err != nil {
		t.Errorf("Invoke of the Active version: %v", err)
	}
	// Zero asks for the default, never for versions that are Active at once.
	z := newEnv(t, func(o *lambdasvc.Options) { o.PublishDuration = 0 })
	z.create(t, "hello", helloPkg)
	if out, err := z.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("hello")}); err != nil || out.State != types.StatePending {
		t.Errorf("PublishVersion with PublishDuration 0 = %v, %v; want Pending", out, err)
	}
}

// TestWeightedAliasNeedsSameRoleAndDeadLetter: "Both versions must have the
// same execution role" and "the same dead-letter queue configuration, or no
// dead-letter queue configuration" (Lambda aliases,
// https://docs.aws.amazon.com/lambda/latest/dg/configuration-aliases.html);
// CreateAlias and UpdateAlias with such routing are refused.
func TestWeightedAliasNeedsSameRoleAndDeadLetter(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create(t, "hello", helloPkg)
	e.publish(t, "hello") // 1: role, no DLQ
	// The configuration changes are setup, through the sandbox's Go API
	// (the project calls no UpdateFunctionConfiguration).
	update := func(in lambdasvc.UpdateFunctionConfigurationInput) string {
		t.Helper()
		if _, err := e.svc.UpdateFunctionConfiguration("hello", in); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(e.opts.UpdateDuration)
		return e.publish(t, "hello")
	}
	v2 := update(lambdasvc.UpdateFunctionConfigurationInput{Role: aws.String("arn:aws:iam::000000000000:role/other")})
	v3 := update(lambdasvc.UpdateFunctionConfigurationInput{Role: aws.String(role),
		DeadLetterConfig: &lambdasvc.DeadLetterConfig{TargetArn: "arn:aws:sqs:us-east-1:000000000000:dlq"}})
	v4 := update(lambdasvc.UpdateFunctionConfigurationInput{Description: aws.String("same role and DLQ as 3")})
	if _, err := e.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	weighted := func(primary, extra string) *lambda.UpdateAliasInput {
		return &lambda.UpdateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String(primary),
			RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{extra: 0.1}}}
	}
	tests := []struct {
		name, primary, extra, want string
	}{
		{"different execution role", "1", v2, "same execution role"},
		{"a dead-letter queue on one version only", "1", v3, "same dead-letter queue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.UpdateAlias(ctx, weighted(tt.primary, tt.extra))
			wantAPIError[*types.InvalidParameterValueException](t, err, 400)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("UpdateAlias 1 + %s: %v, want a refusal naming %q", tt.extra, err, tt.want)
			}
			_, err = e.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("canary-" + tt.extra),
				FunctionVersion: aws.String(tt.primary), RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{tt.extra: 0.1}}})
			wantAPIError[*types.InvalidParameterValueException](t, err, 400)
		})
	}
	if _, err := e.client.UpdateAlias(ctx, weighted(v3, v4)); err != nil {
		t.Errorf("UpdateAlias %s + %s (same role and DLQ): %v", v3, v4, err)
	}
	a, err := e.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod")})
	if err != nil || aws.ToString(a.FunctionVersion) != v3 {
		t.Errorf("prod = %v, %v; want %s (only the allowed change applied)", a, err, v3)
	}
}

// wantAPIError checks err is the typed SDK error T with the HTTP status.
func wantAPIError[T error](t *testing.T, err error, status int) {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error = %v, want %T", err, target)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Fatalf("HTTP status of %v, want %d", err, status)
	}
}

func TestCreateAndGetFunction(t *testing.T) {
	e := newEnv(t)
	zip := lambdatest.Zip(t, lambdatest.Build(t, helloPkg))
	sum := sha256.Sum256(zip)
	wantSha := base64.StdEncoding.EncodeToString(sum[:])
	ctx := context.Background()
	out, err := e.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("hello"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(role), Code: &types.FunctionCode{ZipFile: zip}, Timeout: aws.Int32(10), MemorySize: aws.Int32(256),
		Environment:   &types.Environment{Variables: map[string]string{"GREETING": "hi"}},
		LoggingConfig: &types.LoggingConfig{LogFormat: types.LogFormatJson, LogGroup: aws.String("/aliasflow/pipeline")},
	})
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	if got := aws.ToString(out.CodeSha256); got != wantSha {
		t.Errorf("CodeSha256 = %s, want %s", got, wantSha)
	}
	if out.State != types.StatePending {
		t.Errorf("State right after create = %s, want Pending", out.State)
	}
	_, err = e.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello")})
	wantAPIError[*types.ResourceConflictException](t, err, 409)

	e.clock.Advance(5 * time.Second)
	got, err := e.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("hello")})
	if err != nil {
		t.Fatalf("GetFunction: %v", err)
	}
	c := got.Configuration
	checks := []struct{ name, got, want string }{
		{"State", string(c.State), "Active"},
		{"LastUpdateStatus", string(c.LastUpdateStatus), "Successful"},
		{"Version", aws.ToString(c.Version), "$LATEST"},
		{"FunctionArn", aws.ToString(c.FunctionArn), "arn:aws:lambda:us-east-1:000000000000:function:hello"},
		{"LogGroup", aws.ToString(c.LoggingConfig.LogGroup), "/aliasflow/pipeline"},
		{"Environment", c.Environment.Variables["GREETING"], "hi"},
		{"CodeSha256", aws.ToString(c.CodeSha256), wantSha},
		{"RevisionId", aws.ToString(c.RevisionId), aws.ToString(out.RevisionId)},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	// GetFunction's Code is where the package can be downloaded: a
	// presigned S3 URL (FunctionCodeLocation, Lambda API Reference), here of
	// the same shape on the sandbox's loopback host.
	if got.Code == nil || aws.ToString(got.Code.RepositoryType) != "S3" {
		t.Fatalf("GetFunction Code = %+v, want RepositoryType S3", got.Code)
	}
	loc, err := url.Parse(aws.ToString(got.Code.Location))
	if err != nil || !strings.HasPrefix(loc.Host, "127.0.0.1:") || loc.Query().Get("X-Amz-Signature") == "" ||
		loc.Query().Get("X-Amz-Expires") != "600" || !strings.HasSuffix(loc.Query().Get("X-Amz-Credential"), "/us-east-1/s3/aws4_request") {
		t.Errorf("GetFunction Code.Location = %q (%v), want a presigned-looking loopback URL", aws.ToString(got.Code.Location), err)
	}
	if aws.ToInt32(c.Timeout) != 10 || aws.ToInt32(c.MemorySize) != 256 {
		t.Errorf("Timeout/MemorySize = %d/%d, want 10/256", aws.ToInt32(c.Timeout), aws.ToInt32(c.MemorySize))
	}

	_, err = e.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("hello"), Runtime: types.RuntimeProvidedal2023, Role: aws.String(role), Code: &types.FunctionCode{ZipFile: zip},
	})
	wantAPIError[*types.ResourceConflictException](t, err, 409)
}

func TestCreateFunctionRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	zip := lambdatest.Zip(t, lambdatest.Build(t, helloPkg))
	cases := []struct {
		name   string
		mutate func(*lambda.CreateFunctionInput)
	}{
		{"unsupported runtime", func(in *lambda.CreateFunctionInput) { in.Runtime = types.RuntimePython312 }},
		{"not a zip", func(in *lambda.CreateFunctionInput) { in.Code.ZipFile = []byte("not a zip") }},
		{"reserved env", func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"AWS_REGION": "eu-west-1"}}
		}},
		{"timeout too long", func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(901) }},
		{"bad name", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("has space") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &lambda.CreateFunctionInput{
				FunctionName: aws.String("fn"), Runtime: types.RuntimeProvidedal2023, Role: aws.String(role),
				Code: &types.FunctionCode{ZipFile: zip},
			}
			tc.mutate(in)
			_, err := e.client.CreateFunction(context.Background(), in)
			wantAPIError[*types.InvalidParameterValueException](t, err, 400)
		})
	}
	_, err := e.client.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("fn")})
	wantAPIError[*types.ResourceNotFoundException](t, err, 404)
}

// TestEnvironmentSizeIsTheJSONOfTheMap: Lambda measures the 4 KB quota on
// environment variables ("Lambda quotas": 4 KB for all environment
// variables associated with the function, in aggregate) on the JSON of the
// whole Variables map — braces, quotes, separators and escapes included —
// not on the sum of the keys' and values' lengths.
func TestEnvironmentSizeIsTheJSONOfTheMap(t *testing.T) {
	e := newEnv(t)
	zip := lambdatest.Zip(t, lambdatest.Build(t, helloPkg))
	ctx := context.Background()
	e.create(t, "sized", helloPkg)
	many := map[string]string{}
	for i := range 100 {
		// 100 × "Vnn":"<28 x>" (36 bytes), 99 commas and the braces: 3701
		// bytes of JSON, 3100 of keys and values.
		many[fmt.Sprintf("V%02d", i)] = strings.Repeat("x", 28)
	}
	tests := []struct {
		name    string
		vars    map[string]string
		wantErr bool
	}{
		// {"KK":"<4087 a>"} is 4096 bytes.
		{"JSON exactly 4 KB", map[string]string{"KK": strings.Repeat("a", 4087)}, false},
		{"JSON a byte over (key + value only 4090)", map[string]string{"KK": strings.Repeat("a", 4088)}, true},
		// 2050 quotes are 2051 bytes of key + value, but 4100 escaped.
		{"quotes escaped", map[string]string{"QQ": strings.Repeat(`"`, 2050)}, true},
		{"backslashes escaped", map[string]string{"BB": strings.Repeat(`\`, 2050)}, true},
		{"control characters escaped", map[string]string{"CC": strings.Repeat("\x01", 700)}, true},
		{"many small variables under the limit", many, false},
		{"many small variables over it by their separators", withVar(many, "WW", strings.Repeat("y", 400)), true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
				FunctionName: aws.String(fmt.Sprintf("env-%d", i)), Runtime: types.RuntimeProvidedal2023,
				Role: aws.String(role), Code: &types.FunctionCode{ZipFile: zip}, Environment: &types.Environment{Variables: tt.vars},
			})
			// UpdateFunctionConfiguration is the Go API's (the worlds set
			// environments with it; nothing calls it over HTTP).
			_, uerr := e.svc.UpdateFunctionConfiguration("sized", lambdasvc.UpdateFunctionConfigurationInput{
				Environment: &lambdasvc.Environment{Variables: tt.vars},
			})
			if !tt.wantErr {
				if err != nil || uerr != nil {
					t.Fatalf("CreateFunction: %v; UpdateFunctionConfiguration: %v; want both accepted", err, uerr)
				}
				e.clock.Advance(e.opts.UpdateDuration)
				return
			}
			var ipv *types.InvalidParameterValueException
			if !errors.As(err, &ipv) || !strings.Contains(err.Error(), "exceeded the 4KB limit") {
				t.Errorf("CreateFunction: %v, want InvalidParameterValueException for the 4KB limit", err)
			}
			var goErr *core.APIError
			if !errors.As(uerr, &goErr) || goErr.Code != "InvalidParameterValueException" || !strings.Contains(uerr.Error(), "exceeded the 4KB limit") {
				t.Errorf("UpdateFunctionConfiguration: %v, want InvalidParameterValueException for the 4KB limit", uerr)
			}
		})
	}
}

func withVar(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

func TestUpdateCodeAndPublish(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	created := e.create(t, "hello", helloPkg)
	v2zip := lambdatest.Zip(t, lambdatest.Build(t, helloPkg, "-ldflags=-X 'main.greeting=Hello from Lambda World'"))

	if got := e.publish(t, "hello"); got != "1" {
		t.Fatalf("first PublishVersion = %s, want 1", got)
	}
	if got := e.publish(t, "hello"); got != "1" {
		t.Errorf("PublishVersion with nothing changed = %s, want the existing 1", got)
	}

	up, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("hello"), ZipFile: v2zip})
	if err != nil {
		t.Fatalf("UpdateFunctionCode: %v", err)
	}
	if up.LastUpdateStatus != types.LastUpdateStatusInProgress {
		t.Errorf("LastUpdateStatus after update = %s, want InProgress", up.LastUpdateStatus)
	}
	if aws.ToString(up.CodeSha256) == aws.ToString(created.CodeSha256) {
		t.Errorf("CodeSha256 did not change with the code")
	}
	_, err = e.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("hello")})
	wantAPIError[*types.ResourceConflictException](t, err, 409)
	_, err = e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("hello"), ZipFile: v2zip})
	wantAPIError[*types.ResourceConflictException](t, err, 409)

	e.clock.Advance(5 * time.Second)
	cfg, err := e.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("hello")})
	if err != nil {
		t.Fatalf("GetFunctionConfiguration: %v", err)
	}
	if cfg.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Errorf("LastUpdateStatus once settled = %s, want Successful", cfg.LastUpdateStatus)
	}

	_, err = e.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("hello"), CodeSha256: created.CodeSha256})
	wantAPIError[*types.InvalidParameterValueException](t, err, 400)
	_, err = e.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("hello"), RevisionId: created.RevisionId})
	wantAPIError[*types.PreconditionFailedException](t, err, 412)

	pub, err := e.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("hello"), CodeSha256: up.CodeSha256, RevisionId: cfg.RevisionId, Description: aws.String("v2")})
	if err != nil {
		t.Fatalf("PublishVersion with matching preconditions: %v", err)
	}
	if aws.ToString(pub.Version) != "2" || aws.ToString(pub.CodeSha256) != aws.ToString(up.CodeSha256) || aws.ToString(pub.Description) != "v2" {
		t.Errorf("published = version %s sha %s desc %q, want 2 %s v2", aws.ToString(pub.Version), aws.ToString(pub.CodeSha256), aws.ToString(pub.Description), aws.ToString(up.CodeSha256))
	}

	// A configuration change alone is a new version too.
	stage := map[string]string{"STAGE": "b"}
	if _, err := e.svc.UpdateFunctionConfiguration("hello", lambdasvc.UpdateFunctionConfigurationInput{Environment: &lambdasvc.Environment{Variables: stage}}); err != nil {
		t.Fatalf("UpdateFunctionConfiguration: %v", err)
	}
	e.clock.Advance(5 * time.Second)
	if got := e.publish(t, "hello"); got != "3" {
		t.Errorf("PublishVersion after a configuration change = %s, want 3", got)
	}

	list, err := e.client.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("hello")})
	if err != nil {
		t.Fatalf("ListVersionsByFunction: %v", err)
	}
	var got []string
	for _, v := range list.Versions {
		got = append(got, aws.ToString(v.Version))
	}
	if strings.Join(got, ",") != "$LATEST,1,2,3" {
		t.Errorf("versions = %v, want [$LATEST 1 2 3]", got)
	}
	// ListVersionsByFunction lists $LATEST under its qualified ARN, as the
	// AWS CLI reference's list-versions-by-function example shows; each
	// version under its own.
	for _, v := range list.Versions {
		if want := "arn:aws:lambda:us-east-1:000000000000:function:hello:" + aws.ToString(v.Version); aws.ToString(v.FunctionArn) != want {
			t.Errorf("FunctionArn of %s = %s, want %s", aws.ToString(v.Version), aws.ToString(v.FunctionArn), want)
		}
	}
	latestCfg, err := e.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("hello")})
	if err != nil || aws.ToString(latestCfg.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:hello" {
		t.Errorf("GetFunctionConfiguration of $LATEST: FunctionArn %s (%v), want the unqualified ARN", aws.ToString(latestCfg.FunctionArn), err)
	}
	v1, err := e.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("hello"), Qualifier: aws.String("1")})
	if err != nil || aws.ToString(v1.CodeSha256) != aws.ToString(created.CodeSha256) {
		t.Errorf("version 1 = %v (err %v), want the original code", aws.ToString(v1.CodeSha256), err)
	}
	_, err = e.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("hello"), Qualifier: aws.String("9")})
	wantAPIError[*types.ResourceNotFoundException](t, err, 404)
}

func TestAliases(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create(t, "hello", helloPkg)
	e.publish(t, "hello")
	if _, err := e.svc.UpdateFunctionConfiguration("hello", lambdasvc.UpdateFunctionConfigurationInput{Description: aws.String("second")}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Second)
	e.publish(t, "hello")

	prod, err := e.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String("1")})
	if err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	if aws.ToString(prod.AliasArn) != "arn:aws:lambda:us-east-1:000000000000:function:hello:prod" {
		t.Errorf("AliasArn = %s", aws.ToString(prod.AliasArn))
	}
	_, err = e.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String("1")})
	wantAPIError[*types.ResourceConflictException](t, err, 409)

	weights := func(m map[string]float64) *types.AliasRoutingConfiguration {
		return &types.AliasRoutingConfiguration{AdditionalVersionWeights: m}
	}
	bad := []struct {
		name    string
		version string
		routing *types.AliasRoutingConfiguration
		want    string
	}{
		{"two additional versions", "1", weights(map[string]float64{"2": 0.1, "3": 0.1}), "InvalidParameterValue"},
		// Constraints of the API model (AdditionalVersionWeights: keys
		// [0-9]+, values 0.0–1.0) are ValidationException on AWS.
		{"weight above one", "1", weights(map[string]float64{"2": 1.5}), "ValidationException"},
		{"negative weight", "1", weights(map[string]float64{"2": -0.1}), "ValidationException"},
		{"non-numeric routing key", "1", weights(map[string]float64{"two": 0.1}), "ValidationException"},
		{"additional is $LATEST", "1", weights(map[string]float64{"$LATEST": 0.1}), "ValidationException"},
		{"primary $LATEST with routing", "$LATEST", weights(map[string]float64{"2": 0.1}), "InvalidParameterValue"},
		{"additional is its own version", "2", weights(map[string]float64{"2": 0.1}), "InvalidParameterValue"},
		{"unpublished additional version", "1", weights(map[string]float64{"7": 0.1}), "ResourceNotFound"},
		{"unpublished version", "9", nil, "ResourceNotFound"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String(tc.version), RoutingConfig: tc.routing})
			switch tc.want {
			case "ValidationException":
				var apiErr smithy.APIError
				if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
					t.Fatalf("UpdateAlias: %v, want ValidationException", err)
				}
				_, err = e.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("weighted"), FunctionVersion: aws.String(tc.version), RoutingConfig: tc.routing})
				if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
					t.Fatalf("CreateAlias: %v, want ValidationException", err)
				}
			case "InvalidParameterValue":
				wantAPIError[*types.InvalidParameterValueException](t, err, 400)
			default:
				wantAPIError[*types.ResourceNotFoundException](t, err, 404)
			}
		})
	}

	moved, err := e.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{
		FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String("1"),
		RoutingConfig: weights(map[string]float64{"2": 0.25}), RevisionId: prod.RevisionId,
	})
	if err != nil {
		t.Fatalf("UpdateAlias with routing: %v", err)
	}
	if w := moved.RoutingConfig.AdditionalVersionWeights["2"]; w != 0.25 {
		t.Errorf("weight of 2 = %v, want 0.25", w)
	}
	_, err = e.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String("2"), RevisionId: prod.RevisionId})
	wantAPIError[*types.PreconditionFailedException](t, err, 412)

	// Moving the primary onto the routed version without clearing routing breaks the rule.
	_, err = e.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String("2")})
	wantAPIError[*types.InvalidParameterValueException](t, err, 400)
	final, err := e.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{
		FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String("2"),
		RoutingConfig: &types.AliasRoutingConfiguration{}, RevisionId: moved.RevisionId,
	})
	if err != nil {
		t.Fatalf("UpdateAlias clearing routing: %v", err)
	}
	if final.RoutingConfig != nil && len(final.RoutingConfig.AdditionalVersionWeights) > 0 {
		t.Errorf("routing after clearing = %v, want none", final.RoutingConfig.AdditionalVersionWeights)
	}

	if _, err := e.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("dev"), FunctionVersion: aws.String("$LATEST")}); err != nil {
		t.Fatalf("CreateAlias dev: %v", err)
	}
	// A name breaking the model's pattern is ValidationException, as Lambda
	// answers model violations ("Service: AWSLambda; Status Code: 400; Error
	// Code: ValidationException", github.com/awslabs/aws-transit-vpc/issues/32).
	_, err = e.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("12"), FunctionVersion: aws.String("1")})
	if apiErr := (smithy.APIError)(nil); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
		t.Fatalf("CreateAlias named 12: %v, want ValidationException", err)
	}

	list, err := e.client.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("hello")})
	if err != nil {
		t.Fatalf("ListAliases: %v", err)
	}
	var names []string
	for _, a := range list.Aliases {
		names = append(names, aws.ToString(a.Name)+"->"+aws.ToString(a.FunctionVersion))
	}
	if strings.Join(names, ",") != "dev->$LATEST,prod->2" {
		t.Errorf("aliases = %v, want [dev->$LATEST prod->2]", names)
	}
	_, err = e.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("hello"), Name: aws.String("nope")})
	wantAPIError[*types.ResourceNotFoundException](t, err, 404)
}

func TestInvokeHelloThroughAlias(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create(t, "hello", helloPkg)
	e.publish(t, "hello")
	if _, err := e.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/hello", RequestContext: events.APIGatewayProxyRequestContext{Stage: "production"}})
	out, err := e.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("arn:aws:lambda:us-east-1:000000000000:function:hello:prod"), Payload: req, LogType: types.LogTypeTail})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if out.FunctionError != nil {
		t.Fatalf("FunctionError = %s: %s", aws.ToString(out.FunctionError), out.Payload)
	}
	if got := aws.ToString(out.ExecutedVersion); got != "1" {
		t.Errorf("ExecutedVersion = %s, want 1", got)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out.Payload, &resp); err != nil {
		t.Fatalf("payload %s: %v", out.Payload, err)
	}
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"message":"Hello from Lambda"`) || !strings.Contains(resp.Body, `"version":"1"`) {
		t.Errorf("hello answered %d %s, want 200 with Hello from Lambda from version 1", resp.StatusCode, resp.Body)
	}
	tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if !strings.Contains(string(tail), "START RequestId:") || !strings.Contains(string(tail), "REPORT RequestId:") {
		t.Errorf("log tail = %q, want START and REPORT lines", tail)
	}
	e.calls.mu.Lock()
	got := e.calls.got
	e.calls.mu.Unlock()
	if len(got) != 1 || got[0] != (invocation{"hello", "hello:prod", "1", false}) {
		t.Errorf("recorded invocations = %+v, want one of hello:prod version 1", got)
	}
	if !e.logs.contains("/aws/lambda/hello", "START RequestId:") {
		t.Errorf("log group /aws/lambda/hello lacks the START line")
	}

	_, err = e.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope")})
	wantAPIError[*types.ResourceNotFoundException](t, err, 404)
	_, err = e.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String("stg")})
	wantAPIError[*types.ResourceNotFoundException](t, err, 404)
}

func TestWeightedAliasRoutesByWeight(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create(t, "hello", helloPkg)
	e.publish(t, "hello")
	if _, err := e.client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("hello"),
		ZipFile: lambdatest.Zip(t, lambdatest.Build(t, helloPkg, "-ldflags=-X 'main.greeting=Hello from Lambda World'"))}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Second)
	e.publish(t, "hello")
	if _, err := e.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String("1"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.3}}}); err != nil {
		t.Fatal(err)
	}
	const n = 400
	counts := map[string]int{}
	for range n {
		out, err := e.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello:prod")})
		if err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		v := aws.ToString(out.ExecutedVersion)
		counts[v]++
		var resp events.APIGatewayProxyResponse
		_ = json.Unmarshal(out.Payload, &resp)
		wantGreeting := map[string]string{"1": `"Hello from Lambda"`, "2": `"Hello from Lambda World"`}[v]
		if wantGreeting == "" || !strings.Contains(resp.Body, wantGreeting) {
			t.Fatalf("executed version %s answered %s", v, resp.Body)
		}
	}
	// 30% of 400 = 120, sd ≈ 9.2: ±40 is more than 4 sd.
	if c := counts["2"]; c < 80 || c > 160 || counts["1"]+c != n {
		t.Errorf("version counts = %v, want about 120 of %d on version 2", counts, n)
	}
}

func TestFunctionErrorsTimeoutsAndCrashes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create(t, "echo", echoPkg, func(in *lambda.CreateFunctionInput) {
		in.Timeout = aws.Int32(1)
		in.Environment = &types.Environment{Variables: map[string]string{"COLOR": "blue"}}
	})
	invoke := func(payload string) *lambda.InvokeOutput {
		t.Helper()
		out, err := e.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(payload)})
		if err != nil {
			t.Fatalf("Invoke %s: %v", payload, err)
		}
		return out
	}
	pidOf := func(out *lambda.InvokeOutput) float64 {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(out.Payload, &m); err != nil || out.FunctionError != nil {
			t.Fatalf("payload %s (function error %v)", out.Payload, aws.ToString(out.FunctionError))
		}
		return m["pid"].(float64)
	}

	first := invoke(`{"env":"COLOR","log":"a line from echo"}`)
	var m map[string]any
	_ = json.Unmarshal(first.Payload, &m)
	for k, want := range map[string]string{"env": "blue", "version": "$LATEST", "name": "echo", "memory": "128", "region": "us-east-1",
		"logGroup": "/aws/lambda/echo",
		// AWS's Runtime Interface Emulator names the invoked function with
		// its own fixed account and no qualifier (rie.InvokeHandler).
		"arn": "arn:aws:lambda:us-east-1:012345678912:function:echo"} {
		if m[k] != want {
			t.Errorf("%s = %v, want %s", k, m[k], want)
		}
	}
	if !e.logs.contains("/aws/lambda/echo", "a line from echo") {
		t.Errorf("the function's output did not reach its log group")
	}
	pid := pidOf(first)
	if again := pidOf(invoke(`{}`)); again != pid {
		t.Errorf("second invoke ran in process %v, want the warm %v", again, pid)
	}

	cases := []struct {
		name, payload, errorType string
	}{
		{"handler error", `{"fail":"boom"}`, "errorString"},
		{"timeout", `{"sleepMs":3000}`, "Sandbox.Timedout"},
		{"exit", `{"exit":3}`, "Runtime.ExitError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := invoke(tc.payload)
			if aws.ToString(out.FunctionError) != "Unhandled" {
				t.Fatalf("FunctionError = %q, want Unhandled (payload %s)", aws.ToString(out.FunctionError), out.Payload)
			}
			var fe struct{ ErrorType, ErrorMessage string }
			_ = json.Unmarshal(out.Payload, &fe)
			if fe.ErrorType != tc.errorType {
				t.Errorf("errorType = %q, want %q (%s)", fe.ErrorType, tc.errorType, out.Payload)
			}
			// Whatever happened, the function answers the next call.
			pidOf(invoke(`{}`))
		})
	}

	e.svc.Faults().CrashNext("echo", 1)
	out := invoke(`{}`)
	if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "Runtime.ExitError") {
		t.Errorf("crashed invoke = %q %s, want Unhandled Runtime.ExitError", aws.ToString(out.FunctionError), out.Payload)
	}
	// The failed invocation's REPORT line says so, in a stream named as
	// Lambda names them: YYYY/MM/DD/[version]environment.
	if !e.logs.contains("/aws/lambda/echo", "\tStatus: error\tError Type: Runtime.ExitError") {
		t.Errorf("log group /aws/lambda/echo lacks a REPORT line with Status: error")
	}
	if !e.logs.streamMatches("/aws/lambda/echo", `^[0-9]{4}/[0-9]{2}/[0-9]{2}/\[\$LATEST\][0-9a-f]{16,}$`) {
		t.Errorf("log streams of echo %q are not named YYYY/MM/DD/[$LATEST]id", e.logs.streams["/aws/lambda/echo"])
	}
	before := pidOf(invoke(`{}`))
	// Killing the process during a slow invocation ends it with Runtime.ExitError too.
	done := make(chan *lambda.InvokeOutput)
	go func() {
		o, _ := e.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"log":"slow call started","sleepMs":900}`)})
		done <- o
	}()
	// Generous: a loaded CI machine may take a while to run the call.
	deadline := time.Now().Add(15 * time.Second)
	for !e.logs.contains("/aws/lambda/echo", "slow call started") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := e.svc.KillProcesses("echo"); n != 1 {
		t.Errorf("KillProcesses = %d, want the 1 busy process", n)
	}
	if o := <-done; o == nil || !strings.Contains(string(o.Payload), "Runtime.ExitError") {
		t.Errorf("killed invocation answered %v, want Runtime.ExitError", o)
	}
	if after := pidOf(invoke(`{}`)); after == before {
		t.Errorf("after the kill the function still ran in process %v", after)
	}
}

func TestConcurrentInvokes(t *testing.T) {
	e := newEnv(t, func(o *lambdasvc.Options) { o.MaxProcessesPerVersion = 3 })
	e.create(t, "echo", echoPkg)
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	pids := sync.Map{}
	for range 20 {
		wg.Go(func() {
			out, err := e.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"sleepMs":50}`)})
			if err != nil || out.FunctionError != nil {
				errs <- "invoke failed"
				return
			}
			var m map[string]any
			_ = json.Unmarshal(out.Payload, &m)
			pids.Store(m["pid"], true)
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	n := 0
	pids.Range(func(any, any) bool { n++; return true })
	if n < 1 || n > 3 {
		t.Errorf("processes used = %d, want 1–3 (the per-version limit)", n)
	}
}

func TestThrottleInjection(t *testing.T) {
	e := newEnv(t)
	e.create(t, "hello", helloPkg)
	e.svc.Faults().Throttle(1, "GetFunction")
	_, err := e.client.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("hello")})
	wantAPIError[*types.TooManyRequestsException](t, err, http.StatusTooManyRequests)
	if _, err := e.client.GetAlias(context.Background(), &lambda.GetAliasInput{FunctionName: aws.String("hello"), Name: aws.String("x")}); err == nil {
		t.Fatalf("GetAlias of a missing alias succeeded")
	} else {
		wantAPIError[*types.ResourceNotFoundException](t, err, 404)
	}
	e.svc.Faults().Throttle(0)
	if _, err := e.client.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("hello")}); err != nil {
		t.Errorf("GetFunction after throttling stopped: %v", err)
	}
	if e.svc.Faults().Throttled() != 1 {
		t.Errorf("Throttled = %d, want 1", e.svc.Faults().Throttled())
	}
}

func TestSnapshotRestore(t *testing.T) {
	codeDir := t.TempDir()
	e := newEnv(t, func(o *lambdasvc.Options) { o.CodeDir = codeDir })
	ctx := context.Background()
	e.create(t, "hello", helloPkg)
	e.publish(t, "hello")
	if _, err := e.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	snap, err := e.svc.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	e2 := newEnv(t, func(o *lambdasvc.Options) { o.CodeDir = codeDir })
	if err := e2.svc.Restore(snap); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	a, err := e2.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod")})
	if err != nil || aws.ToString(a.FunctionVersion) != "1" {
		t.Fatalf("restored alias = %v, %v; want prod -> 1", a, err)
	}
	out, err := e2.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String("prod")})
	if err != nil || out.FunctionError != nil || aws.ToString(out.ExecutedVersion) != "1" {
		t.Fatalf("invoke after restore: %v %s", err, out.Payload)
	}
	if got := e2.publish(t, "hello"); got != "1" {
		t.Errorf("publish after restore = %s, want the existing 1", got)
	}
}

func TestIdleProcessesAreReaped(t *testing.T) {
	e := newEnv(t, func(o *lambdasvc.Options) { o.IdleTimeout = -1 })
	e.create(t, "echo", echoPkg)
	pid := func() any {
		t.Helper()
		out, err := e.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("echo")})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("Invoke: %v", err)
		}
		var m map[string]any
		_ = json.Unmarshal(out.Payload, &m)
		return m["pid"]
	}
	first := pid()
	if n := e.svc.ReapIdle(time.Hour); n != 0 {
		t.Errorf("ReapIdle(1h) reaped %d fresh processes, want 0", n)
	}
	if n := e.svc.ReapIdle(0); n != 1 {
		t.Errorf("ReapIdle(0) = %d, want the 1 idle process", n)
	}
	if again := pid(); again == first {
		t.Errorf("after reaping, the invoke ran in the old process %v", again)
	}
}

// TestNoProcessStartsAfterClose: an invoke that arrives after Close must not
// start a process nothing would ever stop (seen as a leaked code directory
// in an end-to-end cleanup).
func TestNoProcessStartsAfterClose(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create(t, "hello", helloPkg)
	e.svc.Close()
	_, err := e.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello")})
	if err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("invoke after Close: err = %v, want the sandbox shutting down", err)
	}
}
