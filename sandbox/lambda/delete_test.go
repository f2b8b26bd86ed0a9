package lambdasvc_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aliasflow/aliasflow/sandbox/core"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
)

// seedVersions publishes n versions of hello, each from a changed $LATEST.
func (e *env) seedVersions(t *testing.T, n int) {
	t.Helper()
	e.create(t, "hello", echoPkg)
	for i := range n {
		if i > 0 {
			if _, err := e.svc.UpdateFunctionConfiguration("hello", lambdasvc.UpdateFunctionConfigurationInput{Description: aws.String(strings.Repeat("v", i))}); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(e.opts.UpdateDuration)
		}
		e.publish(t, "hello")
	}
}

// storedCode is the sum of the CodeSize of $LATEST and every version of
// each function listed, what GetAccountSettings must report in use.
func (e *env) storedCode(t *testing.T, functions ...string) int64 {
	t.Helper()
	var sum int64
	for _, fn := range functions {
		out, err := e.client.ListVersionsByFunction(context.Background(), &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(fn)})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Versions {
			sum += v.CodeSize
		}
	}
	return sum
}

// TestDeleteFunctionWithQualifier: DeleteFunction with a Qualifier deletes
// one version — "Specify a version to delete. You can't delete a version
// that an alias references." (DeleteFunction, Lambda API Reference,
// https://docs.aws.amazon.com/lambda/latest/api/API_DeleteFunction.html) —
// and Lambda refuses a referenced one with ResourceConflictException
// "Unable to delete version because the following aliases reference it:
// [live]" (the answer AWS gives, as reported in
// karl-cardenas-coding/go-lambda-cleanup#45 and
// cloud-custodian/cloud-custodian#6739). An alias's weighted route
// (AdditionalVersionWeights) references its version as much as its
// FunctionVersion does. $LATEST is deleted only with the function.
func TestDeleteFunctionWithQualifier(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.seedVersions(t, 4)
	for _, a := range []lambda.CreateAliasInput{
		{Name: aws.String("prod"), FunctionVersion: aws.String("2"), RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"3": 0.1}}},
		{Name: aws.String("stg"), FunctionVersion: aws.String("4")},
		{Name: aws.String("blue"), FunctionVersion: aws.String("4")},
	} {
		a.FunctionName = aws.String("hello")
		if _, err := e.client.CreateAlias(ctx, &a); err != nil {
			t.Fatal(err)
		}
	}
	refused := []struct {
		name, function, qualifier string
		check                     func(t *testing.T, err error)
		want                      string
	}{
		{"the version aliases point at", "hello", "4",
			func(t *testing.T, err error) { wantAPIError[*types.ResourceConflictException](t, err, 409) },
			"Unable to delete version because the following aliases reference it: [blue, stg]"},
		{"the version an alias routes to", "hello", "3",
			func(t *testing.T, err error) { wantAPIError[*types.ResourceConflictException](t, err, 409) },
			"the following aliases reference it: [prod]"},
		{"the version named in the function name", "hello:2", "",
			func(t *testing.T, err error) { wantAPIError[*types.ResourceConflictException](t, err, 409) },
			"the following aliases reference it: [prod]"},
		{"$LATEST", "hello", "$LATEST",
			func(t *testing.T, err error) { wantAPIError[*types.InvalidParameterValueException](t, err, 400) },
			"$LATEST version cannot be deleted without deleting the function"},
		{"an alias", "hello", "prod",
			func(t *testing.T, err error) { wantAPIError[*types.InvalidParameterValueException](t, err, 400) },
			"Deletion of aliases is not currently supported"},
		{"a version never published", "hello", "9",
			func(t *testing.T, err error) { wantAPIError[*types.ResourceNotFoundException](t, err, 404) },
			"function:hello:9"},
		{"a function that does not exist", "nope", "1",
			func(t *testing.T, err error) { wantAPIError[*types.ResourceNotFoundException](t, err, 404) },
			"function:nope"},
	}
	before := e.storedCode(t, "hello")
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			in := &lambda.DeleteFunctionInput{FunctionName: aws.String(tt.function)}
			if tt.qualifier != "" {
				in.Qualifier = aws.String(tt.qualifier)
			}
			_, err := e.client.DeleteFunction(ctx, in)
			tt.check(t, err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DeleteFunction %s %s: %v, want a message with %q", tt.function, tt.qualifier, err, tt.want)
			}
		})
	}
	if got := e.storedCode(t, "hello"); got != before {
		t.Fatalf("code stored after the refusals = %d, want %d (nothing deleted)", got, before)
	}

	settings := func() *lambda.GetAccountSettingsOutput {
		t.Helper()
		out, err := e.client.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
		if err != nil {
			t.Fatalf("GetAccountSettings: %v", err)
		}
		return out
	}
	if got := settings().AccountUsage.TotalCodeSize; got != before {
		t.Errorf("AccountUsage.TotalCodeSize = %d, want %d ($LATEST and 4 versions)", got, before)
	}
	if _, err := e.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("hello"), Qualifier: aws.String("1")}); err != nil {
		t.Fatalf("DeleteFunction of the unreferenced version 1: %v", err)
	}
	_, err := e.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("hello"), Qualifier: aws.String("1")})
	wantAPIError[*types.ResourceNotFoundException](t, err, 404)
	after := e.storedCode(t, "hello")
	if after >= before {
		t.Errorf("code stored after deleting version 1 = %d, want less than %d", after, before)
	}
	if got := settings().AccountUsage.TotalCodeSize; got != after {
		t.Errorf("AccountUsage.TotalCodeSize after deleting version 1 = %d, want %d", got, after)
	}
	// A version number is never reused.
	if _, err := e.svc.UpdateFunctionConfiguration("hello", lambdasvc.UpdateFunctionConfigurationInput{Description: aws.String("fifth")}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Second)
	if got := e.publish(t, "hello"); got != "5" {
		t.Errorf("version published after a deletion = %s, want 5", got)
	}

	// Without a qualifier the function goes, with its versions and aliases.
	if _, err := e.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("hello")}); err != nil {
		t.Fatalf("DeleteFunction hello: %v", err)
	}
	for _, q := range []string{"", "2", "prod"} {
		in := &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("hello")}
		if q != "" {
			in.Qualifier = aws.String(q)
		}
		_, err := e.client.GetFunctionConfiguration(ctx, in)
		wantAPIError[*types.ResourceNotFoundException](t, err, 404)
	}
	_, err = e.client.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("hello")})
	wantAPIError[*types.ResourceNotFoundException](t, err, 404)
	if got := settings().AccountUsage; got.TotalCodeSize != 0 || got.FunctionCount != 0 {
		t.Errorf("AccountUsage after deleting the function = %+v, want no code and no function", got)
	}
}

// TestGetAccountSettings: the usage is the stored deployment packages (each
// version's CodeSize) and the function count; the limit is Lambda's
// default code storage quota, 75 GB per Region ("Storage for uploaded
// functions (.zip file archives) and layers. Each function version and
// layer version consumes storage", Lambda quotas,
// https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
func TestGetAccountSettings(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.seedVersions(t, 2)
	e.create(t, "other", echoPkg)
	out, err := e.client.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatalf("GetAccountSettings: %v", err)
	}
	tests := []struct {
		name      string
		got, want int64
	}{
		{"AccountUsage.FunctionCount", out.AccountUsage.FunctionCount, 2},
		{"AccountUsage.TotalCodeSize", out.AccountUsage.TotalCodeSize, e.storedCode(t, "hello", "other")},
		{"AccountLimit.TotalCodeSize (75 GB)", out.AccountLimit.TotalCodeSize, 75 << 30},
		{"AccountLimit.CodeSizeZipped (50 MB)", out.AccountLimit.CodeSizeZipped, 50 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
			}
		})
	}
}

type busRecorder struct {
	mu     sync.Mutex
	events []string
}

func (b *busRecorder) EmitServiceEvent(source, detailType, detail string, _ []string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, source+" "+detailType+" "+detail)
	return "id", nil
}

// TestDeleteFunctionReachesEventBridgeAsCloudTrail: a successful
// DeleteFunction API call reaches the bus as CloudTrail's record of it —
// source aws.lambda, "AWS API Call via CloudTrail", event name
// DeleteFunction20150331, the caller's userIdentity and the function and
// qualifier requested — and a refused one as nothing, as on an account
// whose trail logs management events.
func TestDeleteFunctionReachesEventBridgeAsCloudTrail(t *testing.T) {
	e := newEnv(t)
	bus := &busRecorder{}
	e.svc.SetEventBus(bus)
	caller := core.Caller{Type: "IAMUser", ARN: "arn:aws:iam::000000000000:user/aliasflow-operator", AccessKeyID: "aliasflow-operator"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.svc.ServeHTTP(w, r.WithContext(core.WithCaller(r.Context(), caller)))
	}))
	t.Cleanup(srv.Close)
	client := lambda.NewFromConfig(lambdatest.Config(), func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	e.seedVersions(t, 2)
	if _, err := client.CreateAlias(context.Background(), &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name, qualifier string
		want            []string
	}{
		{"refused: an alias points at it", "2", nil},
		{"deleted", "1", []string{`aws.lambda AWS API Call via CloudTrail `, `"eventName":"DeleteFunction20150331"`, `"eventSource":"lambda.amazonaws.com"`,
			`"requestParameters":{"functionName":"hello","qualifier":"1"}`, `"arn":"arn:aws:iam::000000000000:user/aliasflow-operator"`}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			bus.mu.Lock()
			bus.events = nil
			bus.mu.Unlock()
			_, _ = client.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String("hello"), Qualifier: aws.String(s.qualifier)})
			bus.mu.Lock()
			defer bus.mu.Unlock()
			if len(s.want) == 0 {
				if len(bus.events) != 0 {
					t.Errorf("events = %v, want none", bus.events)
				}
				return
			}
			if len(bus.events) != 1 {
				t.Fatalf("events = %v, want one", bus.events)
			}
			for _, w := range s.want {
				if !strings.Contains(bus.events[0], w) {
					t.Errorf("event %s lacks %s", bus.events[0], w)
				}
			}
		})
	}
}
