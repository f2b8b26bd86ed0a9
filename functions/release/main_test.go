package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"
)

func TestNewHandler(t *testing.T) {
	const path = "/aliasflow/aliasflow/targets/"
	const sm = "arn:aws:states:us-east-1:000000000000:stateMachine:aliasflow-promotion"
	tests := []struct {
		name    string
		path    string
		sm      string
		wantErr string
	}{
		{name: "wired", path: path, sm: sm},
		{name: "no settings path", sm: sm, wantErr: "ALIASFLOW_SETTINGS_PATH is not set"},
		{name: "settings path not a path", path: "aliasflow", sm: sm, wantErr: `path "aliasflow" must start and end with /`},
		{name: "no state machine", path: path, wantErr: "ALIASFLOW_STATE_MACHINE_ARN is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ALIASFLOW_SETTINGS_PATH", tt.path)
			t.Setenv("ALIASFLOW_STATE_MACHINE_ARN", tt.sm)
			t.Setenv("AWS_REGION", "us-east-1")
			t.Setenv("AWS_ACCESS_KEY_ID", "test")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
			t.Setenv("AWS_CONFIG_FILE", os.DevNull)
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
			h, err := newHandler(context.Background(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("newHandler error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("newHandler: %v", err)
			}
			if h.StateMachineARN != sm || h.Lambda == nil || h.SFN == nil || h.Builds == nil || h.Audit == nil || h.Metrics == nil || h.Targets == nil {
				t.Errorf("handler not fully wired: %+v", h)
			}
		})
	}
}

// A burst of releases is throttled by AWS's request quotas; every client of
// the release Lambda must retry a throttle more than the SDK's default 3
// times and must not run out of client-side retry tokens (the standard
// retryer's quota allows about 100 retried throttles per client), or a
// release fails three asynchronous attempts and is lost.
func TestHandlerClientsRetryThrottlesPatiently(t *testing.T) {
	t.Setenv("ALIASFLOW_SETTINGS_PATH", "/aliasflow/aliasflow/targets/")
	t.Setenv("ALIASFLOW_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:000000000000:stateMachine:aliasflow-promotion")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	h, err := newHandler(context.Background(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("newHandler: %v", err)
	}
	lc, ok := h.Lambda.(*awslambda.Client)
	if !ok {
		t.Fatalf("h.Lambda is %T, want *lambda.Client", h.Lambda)
	}
	sf, ok := h.SFN.(*sfn.Client)
	if !ok {
		t.Fatalf("h.SFN is %T, want *sfn.Client", h.SFN)
	}
	const wantAttempts = 8
	const retriedThrottles = 300 // a burst of 200 releases, each throttled more than once
	tests := []struct {
		name     string
		retryer  aws.Retryer
		throttle error
	}{
		{name: "lambda TooManyRequestsException", retryer: lc.Options().Retryer,
			throttle: &lambdatypes.TooManyRequestsException{Message: aws.String("Rate exceeded")}},
		{name: "states ThrottlingException", retryer: sf.Options().Retryer,
			throttle: &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.retryer.MaxAttempts(); got < wantAttempts {
				t.Errorf("MaxAttempts() = %d, want at least %d", got, wantAttempts)
			}
			if !tt.retryer.IsErrorRetryable(tt.throttle) {
				t.Fatalf("IsErrorRetryable(%v) = false, want true", tt.throttle)
			}
			for i := range retriedThrottles {
				if _, err := tt.retryer.GetRetryToken(context.Background(), tt.throttle); err != nil {
					t.Fatalf("retry token %d of %d: %v, want one for every retried throttle", i+1, retriedThrottles, err)
				}
			}
			if d, err := tt.retryer.RetryDelay(20, tt.throttle); err != nil || d > 10*time.Second {
				t.Errorf("RetryDelay(20) = %s, %v; want at most 10s", d, err)
			}
		})
	}
}
