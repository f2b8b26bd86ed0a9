package sandboxtest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
)

// TestLambdaCode: an invoke of a function with Code is checked and routed
// by the service, then answered in-process; Fail answers first.
func TestLambdaCode(t *testing.T) {
	tests := []struct {
		name      string
		active    bool
		setup     func(t *testing.T, l *sandboxtest.Lambda)
		qualifier string
		wantErr   string // API error code
		wantVer   string
		wantFnErr string
	}{
		{name: "alias runs its version", active: true, qualifier: "stg", wantVer: "2"},
		{name: "version number", active: true, qualifier: "1", wantVer: "1"},
		{name: "weighted alias routes by its weights", active: true, qualifier: "stg", wantVer: "1",
			setup: func(t *testing.T, l *sandboxtest.Lambda) {
				l.SetAlias(t, "hello", "stg", "2", map[string]float64{"1": 1})
			}},
		{name: "missing alias answered by the service", active: true, qualifier: "prod", wantErr: "ResourceNotFoundException"},
		{name: "Pending version answered by the service", qualifier: "stg", wantErr: "ResourceConflictException"},
		{name: "queued failure first", active: true, qualifier: "stg", wantErr: "TooManyRequestsException",
			setup: func(t *testing.T, l *sandboxtest.Lambda) {
				l.Fail("Invoke", core.Errorf("TooManyRequestsException", http.StatusTooManyRequests, "Rate exceeded"))
			}},
		{name: "function error", active: true, qualifier: "stg", wantVer: "2", wantFnErr: "Unhandled",
			setup: func(t *testing.T, l *sandboxtest.Lambda) {
				l.Code("hello", sandboxtest.FunctionError("errorString", "boom"))
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l *sandboxtest.Lambda
			if tc.active {
				l = sandboxtest.NewLambda(t, sandboxtest.ActiveAtOnce)
			} else {
				l = sandboxtest.NewLambda(t)
			}
			l.AddFunction(t, "hello", 2)
			l.SetAlias(t, "hello", "stg", "2", nil)
			l.Code("hello", func(_ context.Context, c sandboxtest.Call) (core.InvokeResult, error) {
				return sandboxtest.Return(map[string]string{"version": c.Version, "qualifier": c.Qualifier, "payload": string(c.Payload)})(context.Background(), c)
			})
			if tc.setup != nil {
				tc.setup(t, l)
			}
			out, err := l.Client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String(tc.qualifier), Payload: []byte(`{"a":1}`)})
			if tc.wantErr != "" {
				var api smithy.APIError
				if !errors.As(err, &api) || api.ErrorCode() != tc.wantErr {
					t.Fatalf("Invoke error = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if got := aws.ToString(out.ExecutedVersion); got != tc.wantVer {
				t.Errorf("executed version = %s, want %s", got, tc.wantVer)
			}
			if got := aws.ToString(out.FunctionError); got != tc.wantFnErr {
				t.Errorf("function error = %q, want %q", got, tc.wantFnErr)
			}
			if tc.wantFnErr == "" {
				want := `{"payload":"{\"a\":1}","qualifier":"` + tc.qualifier + `","version":"` + tc.wantVer + `"}`
				if string(out.Payload) != want {
					t.Errorf("payload = %s, want %s", out.Payload, want)
				}
			}
		})
	}
}
