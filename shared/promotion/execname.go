package promotion

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ExecutionName is the deterministic execution name of a release: the same
// function, version and code always give the same name (at most 80
// characters, as Step Functions allows), "<function>-v<version>-<tag>" with
// the function cut short when the whole would be longer. It is the name of
// the release's first promotion; AttemptName names the retries.
func ExecutionName(function, version, codeSha256 string) string {
	return AttemptName(function, version, codeSha256, 1)
}

// AttemptName is the execution name of the attempt-th promotion of a
// release (attempt 1 is ExecutionName's): a retry, which Step Functions
// must see as a new execution, appends "-r<attempt>".
func AttemptName(function, version, codeSha256 string, attempt int) string {
	sum := sha256.Sum256([]byte(codeSha256))
	if raw, err := base64.StdEncoding.DecodeString(codeSha256); err == nil && len(raw) >= 4 {
		copy(sum[:], raw)
	}
	return name(function, version, hex.EncodeToString(sum[:4]), attempt)
}

func name(function, version, tag string, attempt int) string {
	suffix := ""
	if attempt > 1 {
		suffix = "-r" + strconv.Itoa(attempt)
	}
	fn := function
	if max := 80 - len(version) - len(tag) - 3 - len(suffix); len(fn) > max {
		fn = fn[:max]
	}
	return fmt.Sprintf("%s-v%s-%s%s", fn, version, tag, suffix)
}

// executionName matches the names AttemptName gives.
var executionName = regexp.MustCompile(`^(.+)-v([0-9]+)-([0-9a-f]{8})(?:-r([1-9][0-9]{0,5}))?$`)

// ExecutionRef is what an execution name says about its promotion.
type ExecutionRef struct {
	// Function is the function's name as the execution name carries it:
	// cut short when the function's name is long (see ExecutionName).
	Function string
	Version  string
	// Attempt is 1 for a release's first promotion, n for its (n-1)th retry.
	Attempt int
}

// ParseExecutionName reads an execution name (or an execution ARN) back
// into its function, version and attempt; ok is false when it is not a
// name AttemptName gives.
func ParseExecutionName(nameOrARN string) (ref ExecutionRef, ok bool) {
	ref, _, ok = parse(nameOrARN)
	return ref, ok
}

// parse is ParseExecutionName with the code tag.
func parse(nameOrARN string) (ref ExecutionRef, tag string, ok bool) {
	m := executionName.FindStringSubmatch(ExecutionNameOf(nameOrARN))
	if m == nil {
		return ExecutionRef{}, "", false
	}
	ref = ExecutionRef{Function: m[1], Version: m[2], Attempt: 1}
	if m[4] != "" {
		ref.Attempt, _ = strconv.Atoi(m[4])
		if ref.Attempt < 2 {
			return ExecutionRef{}, "", false
		}
	}
	return ref, m[3], true
}

// ExecutionOf reports whether name is an execution name of function's
// promotions (any attempt), and of which version. Comparing with what
// AttemptName builds, rather than a "<fn>-v" prefix, keeps "hello" from
// matching "hello-v2"'s promotions and copes with the truncation of long
// names.
func ExecutionOf(function, nameOrARN string) (version string, ok bool) {
	ref, tag, ok := parse(nameOrARN)
	if !ok || ExecutionNameOf(nameOrARN) != name(function, ref.Version, tag, ref.Attempt) {
		return "", false
	}
	return ref.Version, true
}

// SameRelease reports whether two execution names are promotions (any
// attempts) of the same release: same function, version and code.
func SameRelease(a, b string) bool {
	ra, ta, oka := parse(a)
	rb, tb, okb := parse(b)
	// A retry's suffix may cut a long function name shorter.
	return oka && okb && ra.Version == rb.Version && ta == tb &&
		(strings.HasPrefix(ra.Function, rb.Function) || strings.HasPrefix(rb.Function, ra.Function))
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
