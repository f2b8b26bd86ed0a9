package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/aliasflow/aliasflow/sandbox"
	cwsvc "github.com/aliasflow/aliasflow/sandbox/cloudwatch"
	"github.com/aliasflow/aliasflow/sandbox/iam"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
)

// authTemplate gives function "caller" a role that may read and move the
// aliases of functions, and read the alarms, tagged
// aliasflow:pipeline=aliasflow, and nothing else.
const authTemplate = `{"Resources":{
 "Caller":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"caller","Role":{"Fn::GetAtt":["CallerRole","Arn"]}}},
 "CallerRole":{"Type":"AWS::IAM::Role","Properties":{}},
 "CallerPolicy":{"Type":"AWS::IAM::Policy","Properties":{"Roles":[{"Ref":"CallerRole"}],"PolicyDocument":{"Statement":[
  {"Effect":"Allow","Action":["lambda:GetAlias","lambda:UpdateAlias"],
   "Resource":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":lambda:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":function:*"]]},
   "Condition":{"StringEquals":{"aws:ResourceTag/aliasflow:pipeline":"aliasflow"}}},
  {"Effect":"Allow","Action":"cloudwatch:DescribeAlarms","Resource":{"Fn::Sub":"arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"},
   "Condition":{"StringEquals":{"aws:ResourceTag/aliasflow:pipeline":"aliasflow"}}}]}}}}}`

// TestAccessDenied: with IAM on, a function's call its role does not allow
// is refused with the error each service answers ("Troubleshoot access
// denied error messages", IAM User Guide; each API's Common Errors), the
// rest goes through, and callers that are not functions are not evaluated.
func TestAccessDenied(t *testing.T) {
	sb := start(t, sandbox.Options{LambdaUpdateDuration: -1})
	zip, err := lambdasvc.ZipBootstrap([]byte("#!/bin/sh\n"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tags := range map[string]map[string]string{"hello": {"aliasflow:pipeline": "aliasflow"}, "other": nil} {
		if _, err := sb.Lambda().CreateFunction(lambdasvc.CreateFunctionInput{FunctionName: name, Runtime: "provided.al2023", Handler: "bootstrap",
			Role: "arn:aws:iam::000000000000:role/r", Code: lambdasvc.FunctionCode{ZipFile: zip}, Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	threshold := 1.0
	for name, tags := range map[string][]any{"tagged": {map[string]any{"Key": "aliasflow:pipeline", "Value": "aliasflow"}}, "a": nil} {
		if err := sb.CloudWatch().PutMetricAlarm(cwsvc.PutMetricAlarmInput{AlarmName: name, Namespace: "AWS/Lambda", MetricName: "Errors", Statistic: "Sum",
			Period: 60, EvaluationPeriods: 1, Threshold: &threshold, ComparisonOperator: "GreaterThanThreshold", Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	set, err := iam.Load(map[string][]byte{"Stack": []byte(authTemplate)}, sb.IAMEnv())
	if err != nil {
		t.Fatal(err)
	}
	sb.EnableIAM(set)

	ctx := context.Background()
	ep := aws.String(sb.Endpoint())
	asCaller := lambdatest.Config()
	asCaller.Credentials = credentials.NewStaticCredentialsProvider("caller", "s", "t")
	principal := "arn:aws:sts::000000000000:assumed-role/Stack-CallerRole/caller"
	denied := func(action, resource string) string {
		return "User: " + principal + " is not authorized to perform: " + action + " on resource: " + resource + " because no identity-based policy allows the " + action + " action"
	}
	cases := []struct {
		name       string
		call       func(aws.Config) error
		code       string
		status     int
		message    string
		notAllowed bool // false: the policy allows it (the answer is the service's own)
	}{
		{"lambda allowed by tag", func(c aws.Config) error {
			_, err := lambda.NewFromConfig(c, func(o *lambda.Options) { o.BaseEndpoint = ep }).GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("hello"), Name: aws.String("stg")})
			return err
		}, "ResourceNotFoundException", 404, "", false},
		{"lambda untagged function", func(c aws.Config) error {
			_, err := lambda.NewFromConfig(c, func(o *lambda.Options) { o.BaseEndpoint = ep }).UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("other"), Name: aws.String("prod"), FunctionVersion: aws.String("1")})
			return err
		}, "AccessDeniedException", 403, denied("lambda:UpdateAlias", "arn:aws:lambda:us-east-1:000000000000:function:other"), true},
		{"lambda action not granted", func(c aws.Config) error {
			_, err := lambda.NewFromConfig(c, func(o *lambda.Options) { o.BaseEndpoint = ep }).PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("hello")})
			return err
		}, "AccessDeniedException", 403, denied("lambda:PublishVersion", "arn:aws:lambda:us-east-1:000000000000:function:hello"), true},
		{"states awsJson", func(c aws.Config) error {
			_, err := sfn.NewFromConfig(c, func(o *sfn.Options) { o.BaseEndpoint = ep }).DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:000000000000:execution:m:e")})
			return err
		}, "AccessDeniedException", 400, denied("states:DescribeExecution", "arn:aws:states:us-east-1:000000000000:execution:m:e"), true},
		{"events awsJson", func(c aws.Config) error {
			_, err := eventbridge.NewFromConfig(c, func(o *eventbridge.Options) { o.BaseEndpoint = ep }).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{Source: aws.String("aliasflow"), DetailType: aws.String("x"), Detail: aws.String("{}")}}})
			return err
		}, "AccessDeniedException", 400, denied("events:PutEvents", "arn:aws:events:us-east-1:000000000000:event-bus/default"), true},
		{"secretsmanager awsJson", func(c aws.Config) error {
			_, err := secretsmanager.NewFromConfig(c, func(o *secretsmanager.Options) { o.BaseEndpoint = ep }).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
			return err
		}, "AccessDeniedException", 400, denied("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:000000000000:secret:s"), true},
		{"sns awsQuery", func(c aws.Config) error {
			_, err := sns.NewFromConfig(c, func(o *sns.Options) { o.BaseEndpoint = ep }).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:t"), Message: aws.String("m")})
			return err
		}, "AuthorizationError", 403, denied("sns:Publish", "arn:aws:sns:us-east-1:000000000000:t"), true},
		{"cloudwatch allowed by tag", func(c aws.Config) error {
			out, err := cloudwatch.NewFromConfig(c, func(o *cloudwatch.Options) { o.BaseEndpoint = ep }).DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"tagged"}})
			if err == nil && len(out.MetricAlarms) == 1 {
				return &smithy.GenericAPIError{Code: "none"}
			}
			return err
		}, "none", 0, "", false},
		{"cloudwatch rpcv2Cbor", func(c aws.Config) error {
			_, err := cloudwatch.NewFromConfig(c, func(o *cloudwatch.Options) { o.BaseEndpoint = ep }).DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"a"}})
			return err
		}, "AccessDeniedException", 400, denied("cloudwatch:DescribeAlarms", "arn:aws:cloudwatch:us-east-1:000000000000:alarm:a"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(asCaller)
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != c.code {
				t.Fatalf("as the caller function: %v, want %s", err, c.code)
			}
			var re *awshttp.ResponseError
			if errors.As(err, &re) && c.status != 0 && re.HTTPStatusCode() != c.status {
				t.Errorf("HTTP status %d, want %d", re.HTTPStatusCode(), c.status)
			}
			if c.message != "" && api.ErrorMessage() != c.message {
				t.Errorf("message\n  %q\nwant\n  %q", api.ErrorMessage(), c.message)
			}
			if c.notAllowed {
				// The default test credentials are not a function: not evaluated.
				if err := c.call(lambdatest.Config()); errors.As(err, &api) && strings.Contains(api.ErrorCode(), "AccessDenied") {
					t.Errorf("as a caller that is not a function: %v, want no IAM evaluation", err)
				}
			}
		})
	}
	var allowed, refused int
	for _, d := range sb.IAMDecisions() {
		if d.Allowed {
			allowed++
		} else {
			refused++
		}
	}
	if allowed != 2 || refused != len(cases)-2 {
		t.Errorf("decisions: %d allowed, %d denied, want 2 and %d", allowed, refused, len(cases)-2)
	}
}
