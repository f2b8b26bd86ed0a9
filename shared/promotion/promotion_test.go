package promotion

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/smithy-go"
)

func TestPlan(t *testing.T) {
	tests := []struct {
		name string
		in   config.StrategyConfig
		want []Step
	}{
		{"all at once has no partial steps", config.StrategyConfig{Type: config.AllAtOnce}, []Step{}},
		{"canary is one step", config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 30}, []Step{{0.1, 30}}},
		{"linear stops below 100", config.StrategyConfig{Type: config.Linear, Percent: 30, IntervalSeconds: 5}, []Step{{0.3, 5}, {0.6, 5}, {0.9, 5}}},
		{"linear 50", config.StrategyConfig{Type: config.Linear, Percent: 50, IntervalSeconds: 1}, []Step{{0.5, 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Plan(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Plan(%+v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestExecutionName(t *testing.T) {
	sha := "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
	a := ExecutionName("hello", "2", sha)
	if a != ExecutionName("hello", "2", sha) {
		t.Fatal("ExecutionName is not deterministic")
	}
	if a != "hello-v2-9f86d081" {
		t.Errorf("ExecutionName = %q, want hello-v2-9f86d081 (version and the code hash's first bytes)", a)
	}
	if b := ExecutionName("hello", "3", sha); b == a {
		t.Errorf("versions 2 and 3 share the name %q", a)
	}
	long := ExecutionName(strings.Repeat("f", 64), "12345", "not-base64!")
	if len(long) > 80 || !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(long) {
		t.Errorf("ExecutionName of a long name = %q (%d chars), want ≤ 80 valid characters", long, len(long))
	}
}

func TestTaskErrorKeepsTheName(t *testing.T) {
	err := TaskError(ErrProdBusy, "prod routes to %s", "7")
	var ive messages.InvokeResponse_Error
	if !errors.As(err, &ive) || ive.Type != ErrProdBusy || ive.Message != "prod routes to 7" {
		t.Errorf("TaskError = %#v, want type %s", err, ErrProdBusy)
	}
}

func TestAsTaskError(t *testing.T) {
	throttled := &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "Rate exceeded"}
	tests := []struct {
		name, wantType string
		err            error
	}{
		{"definition error passes through", ErrHealthCheckFailed, TaskError(ErrHealthCheckFailed, "alarm")},
		{"throttling is transient", ErrTransient, fmt.Errorf("update alias prod: %w", throttled)},
		{"deadline is transient", ErrTransient, fmt.Errorf("get alias: %w", context.DeadlineExceeded)},
		{"anything else failed", ErrTaskFailed, errors.New("prod serves neither 3 nor 2")},
		// Lambda function states: "Lambda does not invoke a function during
		// pending state"; the call succeeds once it is Active.
		{"a Pending version is transient", ErrTransient, fmt.Errorf("invoke: %w", &smithy.GenericAPIError{Code: "ResourceConflictException",
			Message: "The operation cannot be performed at this time. The function is currently in the following state: Pending"})},
		{"a SnapStart version not ready is transient", ErrTransient, &smithy.GenericAPIError{Code: "SnapStartNotReadyException", Message: "Lambda is initializing your function."}},
		{"a function not ready is transient", ErrTransient, &smithy.GenericAPIError{Code: "ResourceNotReadyException", Message: "The function is inactive"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ive messages.InvokeResponse_Error
			got := AsTaskError(tc.err)
			if ive, _ = got.(messages.InvokeResponse_Error); ive.Type != tc.wantType {
				t.Errorf("AsTaskError(%v) type = %q, want %q", tc.err, ive.Type, tc.wantType)
			}
		})
	}
	if AsTaskError(nil) != nil {
		t.Error("AsTaskError(nil) is not nil")
	}
}

// TestStepCountIsPlan: the validator bounds the bakes by config's count of
// steps, which must be Plan's.
func TestStepCountIsPlan(t *testing.T) {
	for _, s := range []config.StrategyConfig{
		{Type: config.AllAtOnce}, {Type: config.Canary, Percent: 10, BakeSeconds: 60},
		{Type: config.Linear, Percent: 1, IntervalSeconds: 60}, {Type: config.Linear, Percent: 33, IntervalSeconds: 60},
		{Type: config.Linear, Percent: 50, IntervalSeconds: 60}, {Type: config.Linear, Percent: 99, IntervalSeconds: 60},
	} {
		if got, want := s.StepCount(), len(Plan(s)); got != want {
			t.Errorf("%+v: StepCount = %d, Plan has %d steps", s, got, want)
		}
	}
}

func TestFunctionsOfSingleAndGroup(t *testing.T) {
	single := Input{Function: "hello", Version: "7", PreviousStgVersion: "6", StgRevision: "r1"}
	if got := single.Functions(); len(got) != 1 || got[0].Function != "hello" || got[0].Version != "7" ||
		got[0].PreviousStgVersion != "6" || got[0].StgRevision != "r1" {
		t.Errorf("single Functions() = %+v, want hello v7 (prev 6, revision r1)", got)
	}
	group := Input{Function: "a", Version: "1", Group: "api",
		Members: []Member{{Function: "a", Version: "1"}, {Function: "b", Version: "4"}}}
	if got := group.Functions(); len(got) != 2 || got[1].Function != "b" || got[1].Version != "4" {
		t.Errorf("group Functions() = %+v, want members a v1, b v4", got)
	}
}
