package awserr_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/sandbox/iam"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
	"github.com/aliasflow/aliasflow/sandbox/quota"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// asReturned wraps err the way an SDK client returns it: an OperationError
// around a ResponseError around the typed error, then the caller's context.
func asReturned(op string, status int, err error) error {
	return fmt.Errorf("caller's context: %w", &smithy.OperationError{ServiceID: "Svc", OperationName: op,
		Err: &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}}})
}

// TestCodeOfTypedErrors: the SDK's typed errors, as a client returns them,
// sort into their kind.
func TestCodeOfTypedErrors(t *testing.T) {
	msg := aws.String("m")
	cases := []struct {
		name string
		err  error
		want awserr.ErrorCode
	}{
		{"nil", nil, awserr.OK},
		{"plain error", errors.New("boom"), awserr.Unknown},
		{"lambda ResourceNotFoundException", asReturned("GetAlias", 404, &lambdatypes.ResourceNotFoundException{Message: msg}), awserr.NotFound},
		{"sfn ExecutionDoesNotExist", asReturned("DescribeExecution", 400, &sfntypes.ExecutionDoesNotExist{Message: msg}), awserr.NotFound},
		{"sfn StateMachineDoesNotExist", asReturned("StartExecution", 400, &sfntypes.StateMachineDoesNotExist{Message: msg}), awserr.NotFound},
		{"ssm ParameterNotFound", asReturned("GetParameter", 400, &ssmtypes.ParameterNotFound{Message: msg}), awserr.NotFound},
		{"sns NotFoundException", asReturned("Publish", 404, &snstypes.NotFoundException{Message: msg}), awserr.NotFound},
		{"cloudwatch ResourceNotFound", asReturned("SetAlarmState", 404, &cwtypes.ResourceNotFound{Message: msg}), awserr.NotFound},
		{"logs ResourceNotFoundException", asReturned("FilterLogEvents", 400, &logtypes.ResourceNotFoundException{Message: msg}), awserr.NotFound},
		{"sfn ExecutionAlreadyExists", asReturned("StartExecution", 400, &sfntypes.ExecutionAlreadyExists{Message: msg}), awserr.AlreadyExists},
		{"ssm ParameterAlreadyExists", asReturned("PutParameter", 400, &ssmtypes.ParameterAlreadyExists{Message: msg}), awserr.AlreadyExists},
		{"lambda ResourceConflictException", asReturned("CreateAlias", 409, &lambdatypes.ResourceConflictException{Message: msg}), awserr.Conflict},
		{"lambda PreconditionFailedException", asReturned("UpdateAlias", 412, &lambdatypes.PreconditionFailedException{Message: msg}), awserr.Stale},
		{"lambda InvalidParameterValueException naming CodeSHA256", asReturned("PublishVersion", 400, &lambdatypes.InvalidParameterValueException{
			Message: aws.String("CodeSHA256 (abc) is different from current CodeSHA256 in $LATEST (def). Please try again.")}), awserr.Stale},
		{"lambda InvalidParameterValueException", asReturned("CreateAlias", 400, &lambdatypes.InvalidParameterValueException{Message: msg}), awserr.Invalid},
		{"sfn TaskDoesNotExist", asReturned("SendTaskSuccess", 400, &sfntypes.TaskDoesNotExist{Message: msg}), awserr.Closed},
		{"sfn TaskTimedOut", asReturned("SendTaskSuccess", 400, &sfntypes.TaskTimedOut{Message: msg}), awserr.Closed},
		{"sfn InvalidToken", asReturned("SendTaskFailure", 400, &sfntypes.InvalidToken{Message: msg}), awserr.Closed},
		{"lambda TooManyRequestsException", asReturned("UpdateAlias", 429, &lambdatypes.TooManyRequestsException{Message: msg}), awserr.Transient},
		{"lambda ResourceNotReadyException", asReturned("Invoke", 502, &lambdatypes.ResourceNotReadyException{Message: msg}), awserr.Transient},
		{"lambda ServiceException", asReturned("Invoke", 500, &lambdatypes.ServiceException{Message: msg}), awserr.Transient},
		{"sfn ThrottlingException (generic)", asReturned("ListExecutions", 400, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "m"}), awserr.Transient},
		{"cloudwatch LimitExceededFault", asReturned("GetMetricData", 400, &cwtypes.LimitExceededFault{Message: msg}), awserr.Transient},
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), awserr.Transient},
		{"dial timeout", &net.OpError{Op: "dial", Err: timeoutErr{}}, awserr.Transient},
		{"sfn ValidationException", asReturned("StartExecution", 400, &sfntypes.ValidationException{Message: msg}), awserr.Invalid},
		{"lambda AccessDeniedException (generic)", asReturned("UpdateAlias", 403, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "m"}), awserr.Denied},
		{"sns AuthorizationErrorException", asReturned("Publish", 403, &snstypes.AuthorizationErrorException{Message: msg}), awserr.Denied},
		{"an error shape aliasflow does not branch on", asReturned("CreateFunction", 400, &lambdatypes.CodeStorageExceededException{Message: msg}), awserr.Unknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := awserr.Code(tc.err); got != tc.want {
				t.Errorf("Code(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestIs(t *testing.T) {
	err := asReturned("GetAlias", 404, &lambdatypes.ResourceNotFoundException{})
	cases := []struct {
		name  string
		codes []awserr.ErrorCode
		want  bool
	}{
		{"its code", []awserr.ErrorCode{awserr.NotFound}, true},
		{"among others", []awserr.ErrorCode{awserr.Stale, awserr.NotFound}, true},
		{"another", []awserr.ErrorCode{awserr.Stale}, false},
		{"none", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := awserr.Is(err, tc.codes...); got != tc.want {
				t.Errorf("Is(%v, %v) = %v, want %v", err, tc.codes, got, tc.want)
			}
		})
	}
}

// TestCodeOfSandboxAnswers: the same kinds from the errors the real SDK
// clients decode from the sandbox's wire answers.
func TestCodeOfSandboxAnswers(t *testing.T) {
	sb, err := sandbox.Start(t.Context(), sandbox.Options{LambdaUpdateDuration: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	zip, err := lambdasvc.ZipBootstrap([]byte("#!/bin/sh\n"))
	if err != nil {
		t.Fatal(err)
	}
	created, err := sb.Lambda().CreateFunction(lambdasvc.CreateFunctionInput{FunctionName: "hello", Runtime: "provided.al2023", Handler: "bootstrap",
		Role: "arn:aws:iam::000000000000:role/r", Code: lambdasvc.FunctionCode{ZipFile: zip}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Lambda().PublishVersion("hello", lambdasvc.PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Lambda().CreateAlias("hello", lambdasvc.CreateAliasInput{Name: "prod", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	sm, err := sb.States().CreateStateMachine("wait", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`, "arn:aws:iam::000000000000:role/r")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.States().StartExecution(t.Context(), sm, "run-1", `{}`); err != nil {
		t.Fatal(err)
	}
	cfg := lambdatest.Config()
	cfg.BaseEndpoint = aws.String(sb.Endpoint())
	lam, states := lambda.NewFromConfig(cfg), sfn.NewFromConfig(cfg)
	ctx := t.Context()
	other := "a different code hash"
	if created.CodeSha256 == other {
		t.Fatal("the test's other hash is the function's")
	}
	cases := []struct {
		name string
		call func() error
		want awserr.ErrorCode
	}{
		{"lambda GetAlias of a missing alias", func() error {
			_, err := lam.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("hello"), Name: aws.String("stg")})
			return err
		}, awserr.NotFound},
		{"lambda CreateAlias that exists", func() error {
			_, err := lam.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String("1")})
			return err
		}, awserr.Conflict},
		{"lambda UpdateAlias with a stale revision", func() error {
			_, err := lam.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"), FunctionVersion: aws.String("1"), RevisionId: aws.String("stale")})
			return err
		}, awserr.Stale},
		{"lambda PublishVersion of a CodeSha256 that is not $LATEST's", func() error {
			_, err := lam.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("hello"), CodeSha256: aws.String(other)})
			return err
		}, awserr.Stale},
		{"lambda CreateAlias with a name over 128 characters", func() error {
			_, err := lam.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("hello"), Name: aws.String(strings.Repeat("a", 129)), FunctionVersion: aws.String("1")})
			return err
		}, awserr.Invalid},
		{"sfn DescribeExecution of a missing execution", func() error {
			_, err := states.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:000000000000:execution:wait:nope")})
			return err
		}, awserr.NotFound},
		{"sfn StartExecution of a name in use with another input", func() error {
			_, err := states.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String("run-1"), Input: aws.String(`{"other":true}`)})
			return err
		}, awserr.AlreadyExists},
		{"sfn SendTaskSuccess with a token no task holds", func() error {
			_, err := states.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("bogus"), Output: aws.String("{}")})
			return err
		}, awserr.Closed},
		{"ssm GetParameter of a missing parameter", func() error {
			_, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aliasflow/nope")})
			return err
		}, awserr.NotFound},
		{"sns Publish to a missing topic", func() error {
			_, err := sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:nope"), Message: aws.String("hi")})
			return err
		}, awserr.NotFound},
		{"cloudwatch SetAlarmState of a missing alarm", func() error {
			_, err := cloudwatch.NewFromConfig(cfg).SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("nope"), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("test")})
			return err
		}, awserr.NotFound},
		{"logs FilterLogEvents of a missing group", func() error {
			_, err := cloudwatchlogs.NewFromConfig(cfg).FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/nope")})
			return err
		}, awserr.NotFound},
		{"secretsmanager GetSecretValue of a missing secret", func() error {
			_, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
			return err
		}, awserr.NotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if got := awserr.Code(err); got != tc.want {
				t.Errorf("Code(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
}

// TestCodeOfSandboxThrottles: a throttled call (the sandbox enforcing a
// bucket of 1 with a clock that stands still) is Transient.
func TestCodeOfSandboxThrottles(t *testing.T) {
	limits := quota.Default()
	for _, r := range limits {
		r.Rate, r.Burst, r.Large = 1, 1, nil
		limits = limits.With(r)
	}
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	sb, err := sandbox.Start(t.Context(), sandbox.Options{Quotas: limits, Clock: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	cfg := lambdatest.Config()
	cfg.BaseEndpoint = aws.String(sb.Endpoint())
	ctx := t.Context()
	cases := []struct {
		name string
		call func() error
	}{
		{"lambda ListAliases", func() error {
			_, err := lambda.NewFromConfig(cfg).ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("hello")})
			return err
		}},
		{"sfn ListExecutions", func() error {
			_, err := sfn.NewFromConfig(cfg).ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:000000000000:stateMachine:nothing")})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_ = tc.call() // takes the bucket's one token
			err := tc.call()
			if got := awserr.Code(err); got != awserr.Transient {
				t.Errorf("Code(%v) = %v, want %v", err, got, awserr.Transient)
			}
		})
	}
}

// TestCodeOfSandboxDenials: a call the caller's role does not allow, as the
// sandbox evaluates it with IAM on (the caller is the function "caller",
// whose role allows nothing), is Denied.
func TestCodeOfSandboxDenials(t *testing.T) {
	sb, err := sandbox.Start(t.Context(), sandbox.Options{LambdaUpdateDuration: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	set, err := iam.Load(map[string][]byte{"Stack": []byte(`{"Resources":{
 "Caller":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"caller","Role":{"Fn::GetAtt":["CallerRole","Arn"]}}},
 "CallerRole":{"Type":"AWS::IAM::Role","Properties":{}}}}`)}, sb.IAMEnv())
	if err != nil {
		t.Fatal(err)
	}
	sb.EnableIAM(set)
	cfg := lambdatest.Config()
	cfg.BaseEndpoint = aws.String(sb.Endpoint())
	cfg.Credentials = credentials.NewStaticCredentialsProvider("caller", "s", "t")
	ctx := t.Context()
	cases := []struct {
		name string
		call func() error
	}{
		{"lambda PublishVersion", func() error {
			_, err := lambda.NewFromConfig(cfg).PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("hello")})
			return err
		}},
		{"sfn DescribeExecution", func() error {
			_, err := sfn.NewFromConfig(cfg).DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:000000000000:execution:m:e")})
			return err
		}},
		{"ssm GetParameter", func() error {
			_, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aliasflow/x")})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if got := awserr.Code(err); got != awserr.Denied {
				t.Errorf("Code(%v) = %v, want %v", err, got, awserr.Denied)
			}
		})
	}
}
