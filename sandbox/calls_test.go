package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/aliasflow/aliasflow/sandbox"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
)

// configAs is the test SDK configuration signing with access key id key.
func configAs(key string) aws.Config {
	cfg := lambdatest.Config()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(key, "secret", "")
	return cfg
}

// TestCallsAttributedByCallerAndOperation checks that each wire protocol's
// operation is named and each call is attributed to its access key id.
func TestCallsAttributedByCallerAndOperation(t *testing.T) {
	sb := start(t, sandbox.Options{})
	ctx := context.Background()
	ep := aws.String(sb.Endpoint())
	if _, err := sb.Secrets().CreateSecret("aliasflow/link-key", "k"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, caller, service, op string
		status                    int
		call                      func(aws.Config) error
	}{
		{"restJson1", "alice", "lambda", "ListFunctions", http.StatusOK, func(c aws.Config) error {
			_, err := lambda.NewFromConfig(c, func(o *lambda.Options) { o.BaseEndpoint = ep }).ListFunctions(ctx, &lambda.ListFunctionsInput{})
			return err
		}},
		{"restJson1 error", "alice", "lambda", "GetAlias", http.StatusNotFound, func(c aws.Config) error {
			_, _ = lambda.NewFromConfig(c, func(o *lambda.Options) { o.BaseEndpoint = ep }).GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("missing"), Name: aws.String("stg")})
			return nil
		}},
		// The call log names an operation as AWS's model routes it, also
		// one the sandbox refuses (Lambda's router is the model's).
		{"restJson1 operation the sandbox does not serve", "alice", "lambda", "GetFunctionConcurrency", http.StatusNotFound, func(c aws.Config) error {
			_, err := lambda.NewFromConfig(c, func(o *lambda.Options) { o.BaseEndpoint = ep }).GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("hello")})
			if !strings.Contains(fmt.Sprint(err), "UnknownOperationException") {
				t.Errorf("GetFunctionConcurrency: %v, want UnknownOperationException", err)
			}
			return nil
		}},
		{"awsJson1_0", "aliasflow-release", "states", "ListStateMachines", http.StatusOK, func(c aws.Config) error {
			_, err := sfn.NewFromConfig(c, func(o *sfn.Options) { o.BaseEndpoint = ep }).ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
			return err
		}},
		{"awsJson1_1", "aliasflow-approval", "secretsmanager", "GetSecretValue", http.StatusOK, func(c aws.Config) error {
			_, err := secretsmanager.NewFromConfig(c, func(o *secretsmanager.Options) { o.BaseEndpoint = ep }).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("aliasflow/link-key")})
			return err
		}},
		{"awsQuery form body", "bob", "sts", "GetCallerIdentity", http.StatusOK, func(c aws.Config) error {
			out, err := sts.NewFromConfig(c, func(o *sts.Options) { o.BaseEndpoint = ep }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err == nil && aws.ToString(out.Arn) != "arn:aws:iam::000000000000:user/bob" {
				t.Errorf("GetCallerIdentity after counting = %s, want bob's ARN (the form body must reach STS)", aws.ToString(out.Arn))
			}
			return err
		}},
		{"rpcv2Cbor", "aliasflow-shift", "monitoring", "DescribeAlarms", http.StatusOK, func(c aws.Config) error {
			_, err := cloudwatch.NewFromConfig(c, func(o *cloudwatch.Options) { o.BaseEndpoint = ep }).DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sb.ResetCalls()
			before := time.Now()
			if err := tc.call(configAs(tc.caller)); err != nil {
				t.Fatalf("%s call: %v", tc.op, err)
			}
			calls := sb.Calls()
			if len(calls) != 1 {
				t.Fatalf("recorded %d calls (%+v), want 1", len(calls), calls)
			}
			got := calls[0]
			if got.Caller != tc.caller || got.Service != tc.service || got.Operation != tc.op || got.Status != tc.status {
				t.Errorf("recorded %s/%s/%s status %d, want %s/%s/%s status %d",
					got.Caller, got.Service, got.Operation, got.Status, tc.caller, tc.service, tc.op, tc.status)
			}
			if got.At.Before(before) || got.At.After(time.Now()) {
				t.Errorf("recorded at %s, want during the call (after %s)", got.At, before)
			}
		})
	}
	sb.ResetCalls()
	if got := sb.Calls(); len(got) != 0 {
		t.Errorf("after ResetCalls: %d calls, want none", len(got))
	}
}

// TestFunctionProcessIdentity checks that a function process signs as its
// function: its AWS_ACCESS_KEY_ID is the function's name.
func TestFunctionProcessIdentity(t *testing.T) {
	sb := start(t, sandbox.Options{LambdaUpdateDuration: -1})
	zip := lambdatest.Zip(t, lambdatest.Build(t, "./lambda/testdata/echo"))
	if _, err := sb.Lambda().CreateFunction(lambdasvc.CreateFunctionInput{
		FunctionName: "aliasflow-release", Runtime: "provided.al2023", Handler: "bootstrap",
		Role: "arn:aws:iam::000000000000:role/test", Code: lambdasvc.FunctionCode{ZipFile: zip},
	}); err != nil {
		t.Fatal(err)
	}
	client := lambda.NewFromConfig(lambdatest.Config(), func(o *lambda.Options) { o.BaseEndpoint = aws.String(sb.Endpoint()) })
	out, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("aliasflow-release"), Payload: []byte(`{"env":"AWS_ACCESS_KEY_ID"}`)})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var got struct{ Env string }
	if err := json.Unmarshal(out.Payload, &got); err != nil {
		t.Fatalf("answer %s: %v", out.Payload, err)
	}
	if got.Env != "aliasflow-release" {
		t.Errorf("AWS_ACCESS_KEY_ID in the function = %q, want its name %q", got.Env, "aliasflow-release")
	}
}
