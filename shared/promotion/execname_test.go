package promotion

import (
	"strings"
	"testing"
)

func TestExecutionOf(t *testing.T) {
	sha := "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
	long := strings.Repeat("f", 64)
	tests := []struct {
		name, fn, exec string
		wantVersion    string
		wantOK         bool
	}{
		{"own promotion", "hello", ExecutionName("hello", "12", sha), "12", true},
		{"a function whose name extends it", "hello", ExecutionName("hello-v2", "1", sha), "", false},
		{"the longer function's own", "hello-v2", ExecutionName("hello-v2", "1", sha), "1", true},
		{"another function", "hello", ExecutionName("orders", "3", sha), "", false},
		{"no tag", "hello", "hello-v3", "", false},
		{"version not digits", "hello", "hello-vx-01234567", "", false},
		{"truncated long name", long, ExecutionName(long, "1234567", sha), "1234567", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := ExecutionOf(tt.fn, tt.exec)
			if v != tt.wantVersion || ok != tt.wantOK {
				t.Errorf("ExecutionOf(%q, %q) = %q, %v; want %q, %v", tt.fn, tt.exec, v, ok, tt.wantVersion, tt.wantOK)
			}
		})
	}
}

func TestParseExecutionName(t *testing.T) {
	sm := "arn:aws:states:us-east-1:123456789012:stateMachine:aliasflow-promotion"
	tests := []struct {
		name, in string
		want     ExecutionRef
		wantOK   bool
	}{
		{"name", "hello-v2-9f86d081", ExecutionRef{"hello", "2"}, true},
		{"ARN", ExecutionARN(sm, "hello-v2-9f86d081"), ExecutionRef{"hello", "2"}, true},
		{"function with -v in it", "api-v2-v13-0011aabb", ExecutionRef{"api-v2", "13"}, true},
		{"upper-case tag", "hello-v2-9F86D081", ExecutionRef{}, false},
		{"short tag", "hello-v2-9f86d0", ExecutionRef{}, false},
		{"empty", "", ExecutionRef{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseExecutionName(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseExecutionName(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// Step Functions names an execution arn:<partition>:states:<region>:<account>:execution:<stateMachineName>:<executionName>
// ("Amazon Resource Names (ARNs) for Step Functions", AWS Step Functions
// Developer Guide).
func TestExecutionARNRoundTrip(t *testing.T) {
	sm := "arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:aliasflow-promotion"
	arn := ExecutionARN(sm, "hello-v2-9f86d081")
	if want := "arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:aliasflow-promotion:hello-v2-9f86d081"; arn != want {
		t.Errorf("ExecutionARN = %q, want %q", arn, want)
	}
	if !IsExecutionARN(arn) || IsExecutionARN(sm) || IsExecutionARN("hello-v2-9f86d081") {
		t.Error("IsExecutionARN misjudges an execution ARN, a state machine ARN or a name")
	}
	if n := ExecutionNameOf(arn); n != "hello-v2-9f86d081" {
		t.Errorf("ExecutionNameOf(%q) = %q", arn, n)
	}
	if n := ExecutionNameOf("hello-v2-9f86d081"); n != "hello-v2-9f86d081" {
		t.Errorf("ExecutionNameOf of a name = %q", n)
	}
}
