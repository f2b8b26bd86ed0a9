package lambdasvc_test

import (
	"context"
	"encoding/base64"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
)

// provisionedEnv is hello with versions 1 and 2 and prod on 1 sending 10 %
// to 2, every provisioned concurrency configuration READY after a minute.
func provisionedEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, func(o *lambdasvc.Options) { o.ProvisionDuration = time.Minute })
	e.seedVersions(t, 2)
	if _, err := e.client.CreateAlias(context.Background(), &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"),
		FunctionVersion: aws.String("1"), RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.1}}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// errorCode is the API error code of err, "" for none.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// TestPutProvisionedConcurrencyConfigRefuses: Put is on a published version
// or alias only, never both on a version and an alias routing to it, and
// within the function's reserved concurrency or the account's unreserved
// minimum of 100 (PutProvisionedConcurrencyConfig, Lambda API reference;
// "Configuring provisioned concurrency": it "counts towards a function's
// reserved concurrency and Regional quotas").
func TestPutProvisionedConcurrencyConfigRefuses(t *testing.T) {
	cases := []struct {
		name      string
		setup     func(t *testing.T, e *env)
		qualifier string
		n         int32
		wantCode  string
	}{
		{name: "$LATEST", qualifier: "$LATEST", n: 1, wantCode: "InvalidParameterValueException"},
		{name: "a version that does not exist", qualifier: "9", n: 1, wantCode: "ResourceNotFoundException"},
		{name: "an alias that does not exist", qualifier: "beta", n: 1, wantCode: "ResourceNotFoundException"},
		{name: "zero", qualifier: "2", n: 0, wantCode: "InvalidParameterValueException"},
		{name: "an alias whose version is provisioned", qualifier: "prod", n: 2, wantCode: "ResourceConflictException",
			setup: func(t *testing.T, e *env) { e.put(t, "2", 1) }},
		{name: "a version an alias already provisions", qualifier: "2", n: 2, wantCode: "ResourceConflictException",
			setup: func(t *testing.T, e *env) { e.put(t, "prod", 10) }},
		{name: "more than the reserved concurrency", qualifier: "2", n: 6, wantCode: "InvalidParameterValueException",
			setup: func(t *testing.T, e *env) {
				if err := e.svc.PutFunctionConcurrency("hello", 5); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "below the account's unreserved minimum", qualifier: "2", n: 901, wantCode: "InvalidParameterValueException"},
		{name: "exactly at the unreserved minimum", qualifier: "2", n: 900, wantCode: ""},
		{name: "a version within the reserved concurrency", qualifier: "2", n: 5, wantCode: "",
			setup: func(t *testing.T, e *env) {
				if err := e.svc.PutFunctionConcurrency("hello", 5); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := provisionedEnv(t)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			_, err := e.client.PutProvisionedConcurrencyConfig(context.Background(), &lambda.PutProvisionedConcurrencyConfigInput{
				FunctionName: aws.String("hello"), Qualifier: aws.String(tc.qualifier), ProvisionedConcurrentExecutions: aws.Int32(tc.n)})
			if got := errorCode(err); got != tc.wantCode {
				t.Errorf("Put %d on %s: error %q (%v), want %q", tc.n, tc.qualifier, got, err, tc.wantCode)
			}
		})
	}
}

func (e *env) put(t *testing.T, qualifier string, n int32) *lambda.PutProvisionedConcurrencyConfigOutput {
	t.Helper()
	out, err := e.client.PutProvisionedConcurrencyConfig(context.Background(), &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String("hello"), Qualifier: aws.String(qualifier), ProvisionedConcurrentExecutions: aws.Int32(n)})
	if err != nil {
		t.Fatalf("Put %d on %s: %v", n, qualifier, err)
	}
	return out
}

// TestProvisionedConcurrencyAllocates: a configuration is IN_PROGRESS with
// nothing allocated until its environments are ready, then READY with all
// of it allocated and available; an injected failure ends FAILED with its
// reason; Delete removes it and the account's unreserved concurrency
// returns.
func TestProvisionedConcurrencyAllocates(t *testing.T) {
	cases := []struct {
		name          string
		fail          string
		advance       time.Duration
		wantStatus    types.ProvisionedConcurrencyStatusEnum
		wantAllocated int32
		wantReason    string
	}{
		{name: "in progress", advance: 59 * time.Second, wantStatus: types.ProvisionedConcurrencyStatusEnumInProgress},
		{name: "ready", advance: time.Minute, wantStatus: types.ProvisionedConcurrencyStatusEnumReady, wantAllocated: 7},
		{name: "failed", fail: "FUNCTION_ERROR_INIT_FAILURE", advance: time.Minute,
			wantStatus: types.ProvisionedConcurrencyStatusEnumFailed, wantReason: "FUNCTION_ERROR_INIT_FAILURE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := provisionedEnv(t)
			ctx := context.Background()
			if tc.fail != "" {
				if err := e.svc.FailProvisioning("hello", tc.fail); err != nil {
					t.Fatal(err)
				}
			}
			before := e.svc.GetAccountSettings().AccountLimit.UnreservedConcurrentExecutions
			put := e.put(t, "2", 7)
			if put.Status != types.ProvisionedConcurrencyStatusEnumInProgress || aws.ToInt32(put.AllocatedProvisionedConcurrentExecutions) != 0 {
				t.Errorf("Put answered %s with %d allocated, want IN_PROGRESS with 0", put.Status, aws.ToInt32(put.AllocatedProvisionedConcurrentExecutions))
			}
			if got := e.svc.GetAccountSettings().AccountLimit.UnreservedConcurrentExecutions; got != before-7 {
				t.Errorf("unreserved concurrency = %d, want %d (7 fewer)", got, before-7)
			}
			e.clock.Advance(tc.advance)
			got, err := e.client.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String("hello"), Qualifier: aws.String("2")})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.wantStatus || aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions) != tc.wantAllocated ||
				aws.ToInt32(got.AvailableProvisionedConcurrentExecutions) != tc.wantAllocated || aws.ToString(got.StatusReason) != tc.wantReason {
				t.Errorf("Get = %s allocated %d available %d reason %q, want %s allocated and available %d reason %q", got.Status,
					aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions), aws.ToInt32(got.AvailableProvisionedConcurrentExecutions),
					aws.ToString(got.StatusReason), tc.wantStatus, tc.wantAllocated, tc.wantReason)
			}
			if _, err := e.client.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{FunctionName: aws.String("hello"), Qualifier: aws.String("2")}); err != nil {
				t.Fatal(err)
			}
			_, err = e.client.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String("hello"), Qualifier: aws.String("2")})
			var nf *types.ProvisionedConcurrencyConfigNotFoundException
			if !errors.As(err, &nf) {
				t.Errorf("Get after Delete: %v, want ProvisionedConcurrencyConfigNotFoundException", err)
			}
			if got := e.svc.GetAccountSettings().AccountLimit.UnreservedConcurrentExecutions; got != before {
				t.Errorf("unreserved concurrency after Delete = %d, want %d", got, before)
			}
		})
	}
}

// TestProvisionedConcurrencySplitsByWeight: on a weighted alias the
// configuration is allocated to the alias's versions by their weights
// (AllocatedProvisionedConcurrentExecutions, Lambda API reference: "When a
// weighted alias is used during linear and canary deployments, this value
// fluctuates depending on the amount of concurrency that is provisioned for
// the function versions"), and follows the routing as it moves.
func TestProvisionedConcurrencySplitsByWeight(t *testing.T) {
	cases := []struct {
		name    string
		weights map[string]float64
		n       int32
		want    map[string]int
	}{
		{name: "10% of 20", weights: map[string]float64{"2": 0.1}, n: 20, want: map[string]int{"1": 18, "2": 2}},
		{name: "rounded to the nearest environment", weights: map[string]float64{"2": 0.25}, n: 10, want: map[string]int{"1": 7, "2": 3}},
		{name: "half", weights: map[string]float64{"2": 0.5}, n: 4, want: map[string]int{"1": 2, "2": 2}},
		{name: "no routing", weights: nil, n: 4, want: map[string]int{"1": 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := provisionedEnv(t)
			ctx := context.Background()
			e.put(t, "prod", tc.n)
			if got := e.svc.ProvisionedSplit("hello", "prod"); got != nil {
				t.Errorf("split while IN_PROGRESS = %v, want none", got)
			}
			e.clock.Advance(time.Minute)
			if _, err := e.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"),
				RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: tc.weights}}); err != nil {
				t.Fatal(err)
			}
			if got := e.svc.ProvisionedSplit("hello", "prod"); !maps.Equal(got, tc.want) {
				t.Errorf("split = %v, want %v", got, tc.want)
			}
			list, err := e.client.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String("hello")})
			if err != nil {
				t.Fatal(err)
			}
			if len(list.ProvisionedConcurrencyConfigs) != 1 {
				t.Fatalf("listed %d configurations, want 1", len(list.ProvisionedConcurrencyConfigs))
			}
			c := list.ProvisionedConcurrencyConfigs[0]
			if wantArn := "arn:aws:lambda:us-east-1:000000000000:function:hello:prod"; aws.ToString(c.FunctionArn) != wantArn || aws.ToInt32(c.AllocatedProvisionedConcurrentExecutions) != tc.n {
				t.Errorf("listed %s allocated %d, want %s allocated %d", aws.ToString(c.FunctionArn), aws.ToInt32(c.AllocatedProvisionedConcurrentExecutions), wantArn, tc.n)
			}
		})
	}
}

// TestProvisionedEnvironmentReportsNoInit: an invocation a READY
// provisioned environment serves was initialized with the allocation, so
// its REPORT line has no Init Duration; the first invocation of a version
// with none (or none READY yet) initializes its environment and reports it,
// as RIE prints it (internal/lambda/rie/handlers.go).
func TestProvisionedEnvironmentReportsNoInit(t *testing.T) {
	cases := []struct {
		name      string
		put       bool
		advance   time.Duration
		qualifier string
		wantInit  bool
	}{
		{name: "on demand", qualifier: "2", wantInit: true},
		{name: "provisioned, READY", put: true, advance: time.Minute, qualifier: "2", wantInit: false},
		{name: "provisioned, still IN_PROGRESS", put: true, advance: time.Second, qualifier: "2", wantInit: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := provisionedEnv(t)
			if tc.put {
				e.put(t, "2", 1)
			}
			e.clock.Advance(tc.advance)
			out, err := e.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String(tc.qualifier),
				Payload: []byte(`{}`), LogType: types.LogTypeTail})
			if err != nil {
				t.Fatal(err)
			}
			tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
			report := ""
			for _, l := range strings.Split(string(tail), "\n") {
				if strings.HasPrefix(l, "REPORT ") {
					report = l
				}
			}
			if report == "" {
				t.Fatalf("no REPORT line in %q", tail)
			}
			if got := strings.Contains(report, "Init Duration: "); got != tc.wantInit {
				t.Errorf("REPORT line %q has an Init Duration: %v, want %v", report, got, tc.wantInit)
			}
		})
	}
}
