package logssvc

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// FilterPattern is a compiled CloudWatch Logs filter pattern, cut to what
// aliasflow uses ("Filter pattern syntax for metric filters, subscription
// filters, and filter log events",
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html):
//
//   - "" matches every event;
//   - terms, case-sensitive substrings: `ERROR`, `"quoted phrase"` (all of
//     them must occur), or `?"a" ?"b"` (any of them) — the shift Lambda's
//     log signal;
//   - a JSON pattern of conditions joined by &&: `$.a.b = "string"` and
//     `$.a IS TRUE` — the audit trail's readers.
//
// Everything else the syntax has (exclusions, ||, parentheses, !=,
// numeric comparisons, IS FALSE/NULL, EXISTS, wildcards, array indexes,
// regular expressions, space-delimited patterns) is refused by name rather
// than matched approximately.
type FilterPattern struct {
	all bool
	// anyOf: one of terms must occur; else every one.
	anyOf bool
	terms []string
	json  []condition
}

// condition is one condition of a JSON pattern: the field at path is the
// string equals, or true when isTrue.
type condition struct {
	path   []string
	equals string
	isTrue bool
}

// CompileFilterPattern parses a filter pattern.
func CompileFilterPattern(pattern string) (*FilterPattern, error) {
	p := strings.TrimSpace(pattern)
	switch {
	case p == "":
		return &FilterPattern{all: true}, nil
	case strings.HasPrefix(p, "{"):
		return parseJSONPattern(p)
	case strings.HasPrefix(p, "["):
		return nil, unsupported("space-delimited patterns ([...])")
	case strings.HasPrefix(p, "%"):
		return nil, unsupported("regular expressions (%...%)")
	}
	return parseTerms(p)
}

func unsupported(what string) error {
	return fmt.Errorf("%s are not supported by the aliasflow sandbox's filter patterns (terms, ?terms, and { $.a = \"x\" && $.b IS TRUE })", what)
}

// Match reports whether a log event's message matches.
func (f *FilterPattern) Match(message string) bool {
	switch {
	case f.all:
		return true
	case f.json != nil:
		var doc any
		if err := json.Unmarshal([]byte(message), &doc); err != nil {
			return false // a JSON pattern matches JSON events only
		}
		for _, c := range f.json {
			if !c.match(doc) {
				return false
			}
		}
		return true
	}
	for _, t := range f.terms {
		if strings.Contains(message, t) == f.anyOf {
			return f.anyOf
		}
	}
	return !f.anyOf
}

func (c condition) match(doc any) bool {
	v := doc
	for _, field := range c.path {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[field]; !ok {
			return false
		}
	}
	if c.isTrue {
		return v == true
	}
	s, ok := v.(string)
	return ok && s == c.equals
}

func parseTerms(p string) (*FilterPattern, error) {
	f := &FilterPattern{}
	optional := 0
	for p = strings.TrimSpace(p); p != ""; p = strings.TrimSpace(p) {
		if strings.HasPrefix(p, "-") {
			return nil, unsupported("exclusion terms (-term)")
		}
		if rest, ok := strings.CutPrefix(p, "?"); ok {
			optional++
			p = rest
		}
		term := ""
		if strings.HasPrefix(p, `"`) {
			s, n, err := readQuoted(p)
			if err != nil {
				return nil, err
			}
			term, p = s, p[n:]
		} else {
			end := strings.IndexAny(p, " \t")
			if end < 0 {
				end = len(p)
			}
			term, p = p[:end], p[end:]
			if i := strings.IndexFunc(term, func(c rune) bool {
				return !unicode.IsLetter(c) && !unicode.IsDigit(c) && !strings.ContainsRune("_.:/@", c)
			}); i >= 0 {
				return nil, fmt.Errorf("invalid character %q in the term %s: terms with other characters must be in double quotes", term[i], term)
			}
		}
		if term == "" {
			return nil, fmt.Errorf("empty term in filter pattern")
		}
		f.terms = append(f.terms, term)
	}
	if optional > 0 && optional != len(f.terms) {
		return nil, fmt.Errorf("cannot mix ?term (any of) with plain terms (all of) in one pattern")
	}
	f.anyOf = optional > 0
	return f, nil
}

// readQuoted reads a double-quoted string with backslash escapes; it returns
// the content and the bytes consumed.
func readQuoted(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("unterminated escape in %s", s)
			}
			i++
			b.WriteByte(s[i])
		case '"':
			return b.String(), i + 1, nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, fmt.Errorf("unterminated quoted string %s", s)
}

// parseJSONPattern parses `{ C && C ... }` with each C `$.a.b = "x"` or
// `$.a IS TRUE`.
func parseJSONPattern(p string) (*FilterPattern, error) {
	body, ok := strings.CutSuffix(strings.TrimPrefix(p, "{"), "}")
	if !ok {
		return nil, fmt.Errorf("JSON filter pattern %s does not end with }", p)
	}
	f := &FilterPattern{json: []condition{}}
	for rest := strings.TrimSpace(body); ; {
		c, n, err := parseCondition(rest)
		if err != nil {
			return nil, fmt.Errorf("JSON filter pattern %s: %w", p, err)
		}
		f.json = append(f.json, c)
		rest = strings.TrimSpace(rest[n:])
		if rest == "" {
			return f, nil
		}
		switch {
		case strings.HasPrefix(rest, "&&"):
			rest = strings.TrimSpace(rest[2:])
		case strings.HasPrefix(rest, "||"):
			return nil, unsupported("|| (any of)")
		default:
			return nil, fmt.Errorf("JSON filter pattern %s: want && or the end after a condition, found %q", p, rest)
		}
	}
}

// parseCondition parses one condition at the start of s and returns the
// bytes it took.
func parseCondition(s string) (condition, int, error) {
	if strings.HasPrefix(s, "(") {
		return condition{}, 0, unsupported("parentheses")
	}
	sel, ok := strings.CutPrefix(s, "$.")
	if !ok {
		return condition{}, 0, fmt.Errorf("want a selector like $.field, found %q", s)
	}
	end := strings.IndexFunc(sel, func(c rune) bool {
		return !unicode.IsLetter(c) && !unicode.IsDigit(c) && c != '_' && c != '.' && c != '-'
	})
	if end < 0 {
		end = len(sel)
	}
	if end < len(sel) && sel[end] == '[' {
		return condition{}, 0, unsupported("array indexes ($.a[0])")
	}
	c := condition{path: strings.Split(sel[:end], ".")}
	if slices.Contains(c.path, "") {
		return condition{}, 0, fmt.Errorf("selector $.%s names no field", sel[:end])
	}
	taken := len(s) - len(sel) + end
	rest := strings.TrimLeft(s[taken:], " \t")
	taken = len(s) - len(rest)
	switch {
	case strings.HasPrefix(rest, "IS TRUE"):
		c.isTrue = true
		return c, taken + len("IS TRUE"), nil
	case strings.HasPrefix(rest, "="):
		v := strings.TrimLeft(rest[1:], " \t")
		if !strings.HasPrefix(v, `"`) {
			return condition{}, 0, unsupported(fmt.Sprintf("unquoted values (%s)", firstWord(v)))
		}
		str, n, err := readQuoted(v)
		if err != nil {
			return condition{}, 0, err
		}
		if strings.Contains(str, "*") {
			return condition{}, 0, unsupported(fmt.Sprintf("wildcards (%q)", str))
		}
		c.equals = str
		return c, len(s) - len(v) + n, nil
	}
	return condition{}, 0, unsupported(fmt.Sprintf("the operator %s", firstWord(rest)))
}

func firstWord(s string) string {
	if s == "" {
		return "(none)"
	}
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		if strings.HasPrefix(s, "IS ") || strings.HasPrefix(s, "NOT ") {
			return s[:i] + " " + firstWord(strings.TrimLeft(s[i:], " \t"))
		}
		return s[:i]
	}
	return s
}
