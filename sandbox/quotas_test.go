package sandbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
	"github.com/aliasflow/aliasflow/sandbox/quota"
)

func TestQuotasThrottleAsAWSDoes(t *testing.T) {
	// GIVEN a sandbox enforcing AWS's request quotas, each bucket tightened
	// to 2 tokens and a clock that stands still (no refill), WHEN a real SDK
	// client with its retries disabled calls an API three times, THEN the
	// third call gets that service's throttling error (code, HTTP status,
	// Lambda's Reason), and the sandbox reports the throttle.
	tight := func(r quota.Rule) quota.Rule { r.Rate, r.Burst, r.Large = 2, 2, nil; return r }
	limits := quota.Default()
	for _, r := range limits {
		limits = limits.With(tight(r))
	}
	limits = limits.With(tight(quota.Rule{Name: "sns Publish (test)", Service: "sns", Operations: []string{"Publish"}}))
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	sb := start(t, sandbox.Options{Quotas: limits, Clock: func() time.Time { return at }})
	cfg := lambdatest.Config()
	cfg.BaseEndpoint = aws.String(sb.Endpoint())
	ctx := context.Background()
	arn := "arn:aws:states:us-east-1:000000000000:stateMachine:nothing"
	cases := []struct {
		name, quota, code string
		status            int
		call              func() error
	}{
		{"Lambda control plane", "lambda control plane", "TooManyRequestsException", 429, func() error {
			_, err := lambda.NewFromConfig(cfg).ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("hello")})
			return err
		}},
		{"Step Functions ListExecutions", "states ListExecutions", "ThrottlingException", 400, func() error {
			_, err := sfn.NewFromConfig(cfg).ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn)})
			return err
		}},
		{"CloudWatch Logs FilterLogEvents", "logs FilterLogEvents", "ThrottlingException", 400, func() error {
			_, err := cloudwatchlogs.NewFromConfig(cfg).FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/hello")})
			return err
		}},
		{"CloudWatch DescribeAlarms", "cloudwatch DescribeAlarms", "Throttling", 400, func() error {
			_, err := cloudwatch.NewFromConfig(cfg).DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
			return err
		}},
		{"SSM GetParameter", "ssm GetParameter", "ThrottlingException", 400, func() error {
			_, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aliasflow/aliasflow/targets/hello")})
			return err
		}},
		{"EventBridge PutEvents", "events PutEvents", "ThrottlingException", 400, func() error {
			_, err := eventbridge.NewFromConfig(cfg).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
				{Source: aws.String("test"), DetailType: aws.String("t"), Detail: aws.String("{}")}}})
			return err
		}},
		{"SNS Publish", "sns Publish (test)", "Throttling", 400, func() error {
			_, err := sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:none"), Message: aws.String("m")})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := range 2 {
				if err := c.call(); isThrottle(err) {
					t.Fatalf("call %d throttled with tokens left: %v", i+1, err)
				}
			}
			err := c.call()
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != c.code {
				t.Fatalf("third call: err = %v, want %s", err, c.code)
			}
			if api.ErrorMessage() != "Rate exceeded" {
				t.Errorf("message = %q, want %q", api.ErrorMessage(), "Rate exceeded")
			}
			var status interface{ HTTPStatusCode() int }
			if errors.As(err, &status) && status.HTTPStatusCode() != c.status {
				t.Errorf("HTTP status = %d, want %d", status.HTTPStatusCode(), c.status)
			}
			var tooMany *lambdatypes.TooManyRequestsException
			if c.code == "TooManyRequestsException" && (!errors.As(err, &tooMany) || tooMany.Reason != lambdatypes.ThrottleReasonCallerRateLimitExceeded) {
				t.Errorf("Lambda's throttle = %#v, want Reason CallerRateLimitExceeded", tooMany)
			}
			var used *quota.Usage
			for _, u := range sb.Quotas() {
				if u.Rule == c.quota {
					used = &u
				}
			}
			if used == nil || used.Requests != 3 || used.Throttled != 1 {
				t.Errorf("usage of %s = %+v, want 3 requests, 1 throttled", c.quota, used)
			}
		})
	}
}

// isThrottle reports an error any of the services' throttling codes.
func isThrottle(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "Throttling", "ThrottlingException", "TooManyRequestsException":
		return true
	}
	return false
}

func TestQuotasOffByDefault(t *testing.T) {
	// GIVEN a sandbox without Quotas, WHEN a client calls FilterLogEvents
	// twenty times at once (four times its 5 TPS quota), THEN none is
	// throttled and no usage is reported.
	sb := start(t, sandbox.Options{})
	cfg := lambdatest.Config()
	cfg.BaseEndpoint = aws.String(sb.Endpoint())
	logs := cloudwatchlogs.NewFromConfig(cfg)
	for i := range 20 {
		_, err := logs.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/hello")})
		if isThrottle(err) {
			t.Fatalf("call %d throttled: %v", i+1, err)
		}
	}
	if u := sb.Quotas(); u != nil {
		t.Errorf("Quotas() = %v, want nil when off", u)
	}
}
