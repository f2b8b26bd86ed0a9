package logssvc

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

func pipelineLines(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("testdata/pipeline.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// runtimeLines are log lines of Lambda's runtimes: a text REPORT line, a
// JSON platform.report record, an error document and a START line.
var runtimeLines = []string{
	"REPORT RequestId: 8f5e Duration: 1.20 ms Billed Duration: 2 ms Memory Size: 128 MB Max Memory Used: 20 MB",
	`{"time":"2026-11-21T10:00:00Z","type":"platform.report","record":{"requestId":"8f5e","metrics":{"durationMs":1.2}}}`,
	`{"errorMessage":"boom","errorType":"errorString"}`,
	"START RequestId: 8f5e Version: 2",
}

// TestFilterPatternMatches holds the patterns aliasflow uses to what the
// CloudWatch Logs documentation says they match ("Filter pattern syntax
// for metric filters, subscription filters, and filter log events",
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html):
// terms are case-sensitive and all must occur, ?terms any of them, a
// JSON pattern's conditions all hold (&&), a string equality is exact, and
// IS TRUE matches the JSON value true only.
func TestFilterPatternMatches(t *testing.T) {
	lines := pipelineLines(t)
	tests := []struct {
		name    string
		pattern string
		lines   []string
		want    []int // indexes of matching lines
	}{
		{"empty matches all", "", lines, []int{0, 1, 2, 3, 4, 5}},
		// shared/approval rollback.go, cli auditlog.go: a function's audit trail.
		{"audit of a function", `{ $.audit IS TRUE && $.function = "hello" }`, lines, []int{0, 1, 3}},
		// e2e and the browser tests: any audit record.
		{"is true", `{ $.audit IS TRUE }`, lines, []int{0, 1, 3, 4}},
		{"event equals", `{ $.event = "alias.moved" }`, lines, []int{1, 4}},
		{"nested selector", `{ $.release.commit = "3f2a9c1" }`, lines, []int{0}},
		{"equality is exact", `{ $.event = "alias" }`, lines, nil},
		{"term", `ERROR`, lines, []int{5}},
		{"two terms all of", `audit alice`, lines, []int{4}},
		{"quoted phrase", `"health check failed"`, lines, []int{5}},
		{"case sensitive term", `Health`, lines, nil},
		// shared/shift logsignal.go logFilter: the REPORT lines of both log
		// formats and the runtimes' error documents.
		{"the shift's log signal", `?"REPORT RequestId" ?"platform.report" ?"errorMessage"`, runtimeLines, []int{0, 1, 2}},
		{"optional terms any of", `?traffic.shifted ?release.published`, lines, []int{0, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp, err := CompileFilterPattern(tt.pattern)
			if err != nil {
				t.Fatalf("CompileFilterPattern(%q): %v", tt.pattern, err)
			}
			var got []int
			for i, l := range tt.lines {
				if fp.Match(l) {
					got = append(got, i)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%q matched lines %v, want %v", tt.pattern, got, tt.want)
			}
		})
	}
}

func TestFilterPatternNonJSONEvent(t *testing.T) {
	fp, err := CompileFilterPattern(`{ $.audit IS TRUE }`)
	if err != nil {
		t.Fatal(err)
	}
	if fp.Match("START RequestId: 1 Version: $LATEST") {
		t.Error("a JSON pattern matched a plain-text line")
	}
}

// TestFilterPatternErrors: what the syntax has and aliasflow does not use
// is refused, naming it; a malformed pattern is refused, saying why.
func TestFilterPatternErrors(t *testing.T) {
	tests := []struct{ name, pattern, want string }{
		{"not equal", `{ $.audit IS TRUE && $.function != "hello" }`, "the operator !="},
		{"numeric comparison", `{ $.errors > 2 }`, "the operator >"},
		{"is false", `{ $.audit IS FALSE }`, "the operator IS FALSE"},
		{"is null", `{ $.a IS NULL }`, "the operator IS NULL"},
		{"exists", `{ $.weight EXISTS }`, "the operator EXISTS"},
		{"not exists", `{ $.weight NOT EXISTS }`, "the operator NOT EXISTS"},
		{"or", `{ $.event = "a" || $.event = "b" }`, "|| (any of)"},
		{"parentheses", `{ ($.event = "a") }`, "parentheses"},
		{"wildcard", `{ $.event = "alias.*" }`, "wildcards"},
		{"unquoted value", `{ $.alias = stg }`, "unquoted values (stg"},
		{"numeric value", `{ $.errors = 3 }`, "unquoted values (3"},
		{"array index", `{ $.a[0] = "x" }`, "array indexes"},
		{"exclusion", `alias.moved -alice`, "exclusion terms (-term)"},
		{"regex", `%ERROR%`, "regular expressions"},
		{"space delimited", `[ip, user, status]`, "space-delimited patterns"},
		{"unclosed brace", `{ $.audit IS TRUE`, "does not end with }"},
		{"no selector", `{ audit = "x" }`, "want a selector"},
		{"empty selector", `{ $. = "x" }`, "names no field"},
		{"dangling and", `{ $.a = "x" && }`, "want a selector"},
		{"single ampersand", `{ $.a = "x" & $.b = "y" }`, "want && or the end"},
		{"unterminated quote", `{ $.a = "x }`, "unterminated quoted string"},
		{"unquoted special term", `a=b`, "must be in double quotes"},
		{"mixed optional and required", `?a b`, "cannot mix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileFilterPattern(tt.pattern)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CompileFilterPattern(%q) = %v, want an error naming %q", tt.pattern, err, tt.want)
			}
		})
	}
}

func FuzzFilterPattern(f *testing.F) {
	for _, s := range []string{
		``, `ERROR`, `"a b" c`, `?x ?y`, `?"REPORT RequestId" ?"platform.report"`,
		`{ $.audit IS TRUE && $.function = "hello" }`,
		`{ $.a.b = "x" }`, `[a, b]`, `%re%`, `{`, `{ $.a = "\"" }`, `{ $.a != "x" }`,
	} {
		f.Add(s, `{"audit":true,"function":"hello","a":{"b":"x"},"n":5}`)
	}
	f.Fuzz(func(t *testing.T, pattern, message string) {
		fp, err := CompileFilterPattern(pattern)
		if err != nil {
			return
		}
		fp.Match(message) // must not panic
	})
}
