package promotion

import (
	"crypto/sha256"
	"encoding/hex"
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
		{"a retry", "hello", AttemptName("hello", "12", sha, 3), "12", true},
		{"a retry of a truncated long name", long, AttemptName(long, "1234567", sha, 12), "1234567", true},
		{"a retry of another function", "hello", AttemptName("hello-v2", "1", sha, 2), "", false},
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
		{"name", "hello-v2-9f86d081", ExecutionRef{Function: "hello", Version: "2", Attempt: 1}, true},
		{"ARN", ExecutionARN(sm, "hello-v2-9f86d081"), ExecutionRef{Function: "hello", Version: "2", Attempt: 1}, true},
		{"function with -v in it", "api-v2-v13-0011aabb", ExecutionRef{Function: "api-v2", Version: "13", Attempt: 1}, true},
		{"a retry", "hello-v2-9f86d081-r2", ExecutionRef{Function: "hello", Version: "2", Attempt: 2}, true},
		{"a retry of a function ending in -r", "web-r-v2-9f86d081-r15", ExecutionRef{Function: "web-r", Version: "2", Attempt: 15}, true},
		{"attempt 1 is never written", "hello-v2-9f86d081-r1", ExecutionRef{}, false},
		{"attempt 0", "hello-v2-9f86d081-r0", ExecutionRef{}, false},
		{"upper-case tag", "hello-v2-9F86D081", ExecutionRef{}, false},
		{"short tag", "hello-v2-9f86d0", ExecutionRef{}, false},
		{"empty", "", ExecutionRef{}, false},
		{"group", "api-gdeadbeef", ExecutionRef{Group: "api", Attempt: 1}, true},
		{"group ARN", ExecutionARN(sm, "api-gdeadbeef"), ExecutionRef{Group: "api", Attempt: 1}, true},
		{"group retry", "api-gdeadbeef-r3", ExecutionRef{Group: "api", Attempt: 3}, true},
		{"group with -v in it", "api-v2-g0011aabb", ExecutionRef{Group: "api-v2", Attempt: 1}, true},
		{"group attempt 1 is never written", "api-gdeadbeef-r1", ExecutionRef{}, false},
		{"group upper-case tag", "api-gDEADBEEF", ExecutionRef{}, false},
		{"group without a name", "-gdeadbeef", ExecutionRef{}, false},
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

// TestAttemptName: a retry is a new execution name (Step Functions refuses
// to start a closed execution's name again), at most 80 characters, and
// recognised as the same release.
func TestAttemptName(t *testing.T) {
	sha := "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
	long := strings.Repeat("f", 64)
	for _, fn := range []string{"hello", long} {
		first := ExecutionName(fn, "7", sha)
		if got := AttemptName(fn, "7", sha, 1); got != first {
			t.Errorf("AttemptName(1) = %q, want ExecutionName's %q", got, first)
		}
		seen := map[string]bool{first: true}
		for a := 2; a <= 120; a++ {
			n := AttemptName(fn, "7", sha, a)
			if len(n) > 80 || seen[n] {
				t.Fatalf("AttemptName(%d) = %q: %d characters, seen before %v", a, n, len(n), seen[n])
			}
			seen[n] = true
			ref, ok := ParseExecutionName(n)
			if !ok || ref.Attempt != a || ref.Version != "7" {
				t.Errorf("ParseExecutionName(%q) = %+v, %v; want attempt %d of version 7", n, ref, ok, a)
			}
			if !SameRelease(first, n) || !SameRelease(n, first) {
				t.Errorf("SameRelease(%q, %q) = false", first, n)
			}
		}
	}
	if SameRelease(ExecutionName("hello", "7", sha), ExecutionName("hello", "8", sha)) {
		t.Error("two versions are the same release")
	}
	if SameRelease(ExecutionName("hello", "7", sha), AttemptName("hello", "7", "other", 2)) {
		t.Error("two codes are the same release")
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

// TestGroupExecutionName: a group's name is "<group>-g<tag>[-r<attempt>]",
// the tag a function of the members' functions, versions and code alone
// (not of the order they were named in), at most 80 characters, parsed
// back with Group set and never taken for a single function's promotion.
func TestGroupExecutionName(t *testing.T) {
	shaA := "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
	shaB := "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
	a := Member{Function: "orders", Version: "3", Release: Release{CodeSha256: shaA}}
	b := Member{Function: "payments", Version: "12", Release: Release{CodeSha256: shaB}}
	long := strings.Repeat("g", 64)
	// The tag written out: sha256 of the sorted lines, first 4 bytes.
	sum := sha256.Sum256([]byte("orders\t3\t" + shaA + "\npayments\t12\t" + shaB + "\n"))
	tag := hex.EncodeToString(sum[:4])
	b13 := b
	b13.Version = "13"
	bOther := b
	bOther.Release.CodeSha256 = shaA
	tests := []struct {
		name, got, want string
	}{
		{"named", GroupExecutionName("api", []Member{a, b}), "api-g" + tag},
		{"order does not matter", GroupExecutionName("api", []Member{b, a}), "api-g" + tag},
		{"a retry", GroupAttemptName("api", []Member{a, b}, 4), "api-g" + tag + "-r4"},
		{"a long group is cut", GroupAttemptName(long, []Member{a, b}, 999999), long[:80-10-8] + "-g" + tag + "-r999999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
			if len(tt.got) > 80 {
				t.Errorf("%q is %d characters, Step Functions allows 80", tt.got, len(tt.got))
			}
			ref, ok := ParseExecutionName(tt.got)
			if !ok || ref.Group == "" || ref.Function != "" || ref.Version != "" {
				t.Errorf("ParseExecutionName(%q) = %+v, %v; want a group's ref", tt.got, ref, ok)
			}
			if _, ok := ExecutionOf("orders", tt.got); ok {
				t.Errorf("ExecutionOf(orders, %q) took a group's promotion for the function's", tt.got)
			}
		})
	}
	same := []struct {
		name string
		x, y string
		want bool
	}{
		{"a retry of the group", GroupExecutionName("api", []Member{a, b}), GroupAttemptName("api", []Member{a, b}, 2), true},
		{"a retry of a cut long group", GroupExecutionName(long, []Member{a, b}), GroupAttemptName(long, []Member{a, b}, 12), true},
		{"another version of a member", GroupExecutionName("api", []Member{a, b}), GroupExecutionName("api", []Member{a, b13}), false},
		{"other code of a member", GroupExecutionName("api", []Member{a, b}), GroupExecutionName("api", []Member{a, bOther}), false},
		{"another group", GroupExecutionName("api", []Member{a, b}), GroupExecutionName("web", []Member{a, b}), false},
	}
	for _, tt := range same {
		t.Run(tt.name, func(t *testing.T) {
			if got := SameRelease(tt.x, tt.y); got != tt.want {
				t.Errorf("SameRelease(%q, %q) = %v, want %v", tt.x, tt.y, got, tt.want)
			}
		})
	}
}
