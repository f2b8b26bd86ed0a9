package logssvc

import (
	"bufio"
	"os"
	"slices"
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

func TestFilterPatternMatches(t *testing.T) {
	lines := pipelineLines(t)
	tests := []struct {
		name    string
		pattern string
		want    []int // indexes of matching lines in testdata/pipeline.jsonl
	}{
		{"empty matches all", "", []int{0, 1, 2, 3, 4, 5}},
		{"audit of a function", `{ $.audit IS TRUE && $.function = "hello" }`, []int{0, 1, 3}},
		{"event equals", `{ $.event = "alias.moved" }`, []int{1, 4}},
		{"unquoted string value", `{ $.alias = stg }`, []int{1, 4}},
		{"not equal", `{ $.audit IS TRUE && $.function != "hello" }`, []int{4}},
		{"is false", `{ $.audit IS FALSE }`, []int{5}},
		{"or with parentheses", `{ ($.event = "traffic.shifted" || $.event = "release.published") && $.function = "hello" }`, []int{0, 3}},
		{"string wildcard", `{ $.event = "promotion.*" || $.event = "alias.*" }`, []int{1, 4}},
		{"wildcard in the middle", `{ $.msg = "audit*moved" }`, []int{1, 4}},
		{"nested selector", `{ $.release.commit = "3f2a9c1" }`, []int{0}},
		{"numeric greater", `{ $.errors > 2 }`, []int{5}},
		{"numeric on fractional", `{ $.weight <= 0.1 && $.weight >= 0.1 }`, []int{3}},
		{"numeric equals", `{ $.toVersion = 2 }`, nil}, // toVersion is a string: no numeric match
		{"exists", `{ $.weight EXISTS }`, []int{3}},
		{"not exists", `{ $.audit IS TRUE && $.fromVersion NOT EXISTS }`, []int{0}},
		{"is null on missing", `{ $.nothing IS NULL }`, nil},
		{"term", `ERROR`, []int{5}},
		{"two terms all of", `audit alice`, []int{4}},
		{"quoted phrase", `"health check failed"`, []int{5}},
		{"optional terms any of", `?traffic.shifted ?release.published`, []int{0, 3}},
		{"exclusion", `alias.moved -alice`, []int{1}},
		{"case sensitive term", `Health`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp, err := CompileFilterPattern(tt.pattern)
			if err != nil {
				t.Fatalf("CompileFilterPattern(%q): %v", tt.pattern, err)
			}
			var got []int
			for i, l := range lines {
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

func TestFilterPatternErrors(t *testing.T) {
	tests := []struct{ name, pattern string }{
		{"unclosed brace", `{ $.audit IS TRUE`},
		{"no selector", `{ audit = 1 }`},
		{"missing value", `{ $.a = }`},
		{"bad IS", `{ $.a IS MAYBE }`},
		{"NOT without EXISTS", `{ $.a NOT 1 }`},
		{"string with numeric operator", `{ $.a > "x" }`},
		{"word with numeric operator", `{ $.a > abc }`},
		{"regex", `{ $.a = %ab+% }`},
		{"regex term", `%ERROR%`},
		{"space delimited", `[ip, user, status]`},
		{"dangling and", `{ $.a = 1 && }`},
		{"single ampersand", `{ $.a = 1 & $.b = 2 }`},
		{"trailing garbage", `{ $.a = 1 } x`},
		{"unterminated quote", `{ $.a = "x }`},
		{"bad index", `{ $.a[x] = 1 }`},
		{"empty selector", `{ $ = 1 }`},
		{"unquoted special term", `a=b`},
		{"mixed optional and required", `?a b`},
		{"unbalanced paren", `{ ($.a = 1 }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := CompileFilterPattern(tt.pattern); err == nil {
				t.Errorf("CompileFilterPattern(%q): want an error", tt.pattern)
			}
		})
	}
}

func FuzzFilterPattern(f *testing.F) {
	for _, s := range []string{
		``, `ERROR`, `"a b" -c`, `?x ?y`,
		`{ $.audit IS TRUE && $.function = "hello" }`,
		`{ ($.a = 1 || $.b != "x*y") && $.c[0].d NOT EXISTS }`,
		`{ $.n >= -1.5e3 }`, `{ $.a IS NULL }`, `[a, b]`, `%re%`, `{`, `{ $.a = "\"" }`,
	} {
		f.Add(s, `{"audit":true,"function":"hello","a":[1,{"d":2}],"n":5}`)
	}
	f.Fuzz(func(t *testing.T, pattern, message string) {
		fp, err := CompileFilterPattern(pattern)
		if err != nil {
			return
		}
		fp.Match(message) // must not panic
	})
}
