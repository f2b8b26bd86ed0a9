package promotion

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// ExecutionName is the deterministic execution name of a release: the same
// function, version and code always give the same name (at most 80
// characters, as Step Functions allows), "<function>-v<version>-<tag>" with
// the function cut short when the whole would be longer.
func ExecutionName(function, version, codeSha256 string) string {
	sum := sha256.Sum256([]byte(codeSha256))
	if raw, err := base64.StdEncoding.DecodeString(codeSha256); err == nil && len(raw) >= 4 {
		copy(sum[:], raw)
	}
	tag := hex.EncodeToString(sum[:4])
	fn := function
	if max := 80 - len(version) - len(tag) - 3; len(fn) > max {
		fn = fn[:max]
	}
	return fmt.Sprintf("%s-v%s-%s", fn, version, tag)
}

// executionName matches the names ExecutionName gives.
var executionName = regexp.MustCompile(`^(.+)-v([0-9]+)-([0-9a-f]{8})$`)

// ExecutionRef is what an execution name says about its promotion.
type ExecutionRef struct {
	// Function is the function's name as the execution name carries it:
	// cut short when the function's name is long (see ExecutionName).
	Function string
	Version  string
}

// ParseExecutionName reads an execution name (or an execution ARN) back
// into its function and version; ok is false when it is not a name
// ExecutionName gives.
func ParseExecutionName(nameOrARN string) (ref ExecutionRef, ok bool) {
	m := executionName.FindStringSubmatch(ExecutionNameOf(nameOrARN))
	if m == nil {
		return ExecutionRef{}, false
	}
	return ExecutionRef{Function: m[1], Version: m[2]}, true
}

// ExecutionOf reports whether name is an execution name of function's
// promotions, and of which version. Comparing with what ExecutionName
// builds, rather than a "<fn>-v" prefix, keeps "hello" from matching
// "hello-v2"'s promotions and copes with the truncation of long names.
func ExecutionOf(function, name string) (version string, ok bool) {
	ref, ok := ParseExecutionName(name)
	if !ok {
		return "", false
	}
	want := ExecutionName(function, ref.Version, "")
	const tagLen = 8
	if len(name) != len(want) || name[:len(name)-tagLen] != want[:len(want)-tagLen] {
		return "", false
	}
	return ref.Version, true
}

// ExecutionARN is the ARN Step Functions gives the execution name of the
// state machine stateMachineARN: arn:<partition>:states:<region>:<account>:execution:<machine>:<name>.
func ExecutionARN(stateMachineARN, name string) string {
	return strings.Replace(stateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

// IsExecutionARN reports whether s is an execution ARN (of a standard
// workflow: arn:...:states:...:execution:<machine>:<name>).
func IsExecutionARN(s string) bool {
	return strings.HasPrefix(s, "arn:") && strings.Contains(s, ":execution:")
}

// ExecutionNameOf is an execution ARN's last part, the execution name; a
// name is returned as it is.
func ExecutionNameOf(arn string) string {
	if i := strings.LastIndex(arn, ":"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}
