package promotion

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
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
	fn, suffix := fit(function, len(version)+len(tag)+3, attempt)
	return fmt.Sprintf("%s-v%s-%s%s", fn, version, tag, suffix)
}

// fit cuts what names the promotion so that the whole name, with the
// others bytes beside it and the attempt's suffix, stays within Step
// Functions' 80 characters; it returns the suffix too.
func fit(what string, others, attempt int) (string, string) {
	suffix := ""
	if attempt > 1 {
		suffix = "-r" + strconv.Itoa(attempt)
	}
	if max := 80 - others - len(suffix); len(what) > max {
		what = what[:max]
	}
	return what, suffix
}

// GroupExecutionName is the deterministic execution name of a group's
// release: "<group>-g<tag>", tag being the hex of the first 4 bytes of
// SHA-256 over the members' lines "function\tversion\tcodeSha256\n"
// sorted by function, so the same members at the same versions and code
// always give the same name whatever order they were named in. The group
// is cut short as ExecutionName cuts a function.
func GroupExecutionName(group string, members []Member) string {
	return GroupAttemptName(group, members, 1)
}

// GroupAttemptName is GroupExecutionName for the attempt-th promotion of
// a group's release, as AttemptName is for one function.
func GroupAttemptName(group string, members []Member, attempt int) string {
	lines := make([]string, 0, len(members))
	for _, m := range members {
		lines = append(lines, m.Function+"\t"+m.Version+"\t"+m.Release.CodeSha256+"\n")
	}
	// Function names hold no tab or newline, so sorting the lines sorts
	// by function.
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "")))
	tag := hex.EncodeToString(sum[:4])
	g, suffix := fit(group, len(tag)+2, attempt)
	return g + "-g" + tag + suffix
}

// groupExecutionName matches the names GroupAttemptName gives.
var groupExecutionName = regexp.MustCompile(`^(.+)-g([0-9a-f]{8})(?:-r([1-9][0-9]{0,5}))?$`)

// executionName matches the names AttemptName gives.
var executionName = regexp.MustCompile(`^(.+)-v([0-9]+)-([0-9a-f]{8})(?:-r([1-9][0-9]{0,5}))?$`)

// ExecutionRef is what an execution name says about its promotion.
type ExecutionRef struct {
	// Function is the function's name as the execution name carries it:
	// cut short when the function's name is long (see ExecutionName).
	// Empty for a group's promotion.
	Function string
	// Version is the function's version; empty for a group's promotion,
	// whose members' versions are in its input (Input.Members).
	Version string
	// Attempt is 1 for a release's first promotion, n for its (n-1)th retry.
	Attempt int
	// Group is the group's name (cut short as Function is) when the
	// promotion moves a group of functions (GroupExecutionName).
	Group string
}

// ParseExecutionName reads an execution name (or an execution ARN) back
// into its function, version and attempt, or its group and attempt; ok is
// false when it is not a name AttemptName or GroupAttemptName gives.
func ParseExecutionName(nameOrARN string) (ref ExecutionRef, ok bool) {
	ref, _, ok = parse(nameOrARN)
	return ref, ok
}

// parse is ParseExecutionName with the code tag. A single function's name
// ends "-v<digits>-<tag>", a group's "-g<tag>": the character before the
// tag tells them apart, so no name reads as both.
func parse(nameOrARN string) (ref ExecutionRef, tag string, ok bool) {
	n := ExecutionNameOf(nameOrARN)
	var attempt string
	if m := executionName.FindStringSubmatch(n); m != nil {
		ref, tag, attempt = ExecutionRef{Function: m[1], Version: m[2], Attempt: 1}, m[3], m[4]
	} else if m := groupExecutionName.FindStringSubmatch(n); m != nil {
		ref, tag, attempt = ExecutionRef{Group: m[1], Attempt: 1}, m[2], m[3]
	} else {
		return ExecutionRef{}, "", false
	}
	if attempt != "" {
		ref.Attempt, _ = strconv.Atoi(attempt)
		if ref.Attempt < 2 {
			return ExecutionRef{}, "", false
		}
	}
	return ref, tag, true
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
	// A retry's suffix may cut a long function (or group) name shorter.
	return oka && okb && ra.Version == rb.Version && ta == tb &&
		(ra.Group == "") == (rb.Group == "") &&
		(strings.HasPrefix(ra.Function, rb.Function) || strings.HasPrefix(rb.Function, ra.Function)) &&
		(strings.HasPrefix(ra.Group, rb.Group) || strings.HasPrefix(rb.Group, ra.Group))
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
