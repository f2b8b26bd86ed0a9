package logssvc

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// FilterPattern is a compiled CloudWatch Logs filter pattern
// ("Filter pattern syntax for metric filters, subscription filters, and
// filter log events"). The sandbox implements what aliasflow uses:
//
//   - "" matches every event;
//   - unstructured terms: `ERROR`, `"quoted phrase"` (all must occur),
//     `?ERROR ?WARN` (any of them), `-term` (must not occur); case-sensitive;
//   - JSON patterns: `{ $.a.b = "x" }`, `!=`, `<` `<=` `>` `>=` `=` with
//     numbers, `IS TRUE`, `IS FALSE`, `IS NULL`, `EXISTS`, `NOT EXISTS`,
//     `*` wildcards in strings, `&&`, `||` and parentheses; `$.a[0]` indexes.
//
// Regular expressions (%…%) and space-delimited patterns ([…]) are refused
// rather than matched approximately.
type FilterPattern struct {
	all   bool
	terms *termPattern
	json  node
}

// CompileFilterPattern parses a filter pattern.
func CompileFilterPattern(pattern string) (*FilterPattern, error) {
	p := strings.TrimSpace(pattern)
	switch {
	case p == "":
		return &FilterPattern{all: true}, nil
	case strings.HasPrefix(p, "{"):
		n, err := parseJSONPattern(p)
		if err != nil {
			return nil, err
		}
		return &FilterPattern{json: n}, nil
	case strings.HasPrefix(p, "["):
		return nil, fmt.Errorf("space-delimited filter patterns ([...]) are not supported by the aliasflow sandbox")
	case strings.HasPrefix(p, "%"):
		return nil, fmt.Errorf("regular expression filter patterns (%%...%%) are not supported by the aliasflow sandbox")
	}
	t, err := parseTerms(p)
	if err != nil {
		return nil, err
	}
	return &FilterPattern{terms: t}, nil
}

// Match reports whether a log event's message matches.
func (f *FilterPattern) Match(message string) bool {
	switch {
	case f.all:
		return true
	case f.terms != nil:
		return f.terms.match(message)
	}
	var doc any
	dec := json.NewDecoder(strings.NewReader(message))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return false // a JSON pattern matches JSON events only
	}
	return f.json.eval(doc)
}

// --- unstructured terms ---

type termPattern struct {
	required, optional, excluded []string
}

func (t *termPattern) match(msg string) bool {
	for _, s := range t.required {
		if !strings.Contains(msg, s) {
			return false
		}
	}
	for _, s := range t.excluded {
		if strings.Contains(msg, s) {
			return false
		}
	}
	if len(t.optional) == 0 {
		return true
	}
	for _, s := range t.optional {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func parseTerms(p string) (*termPattern, error) {
	t := &termPattern{}
	for i := 0; i < len(p); {
		if p[i] == ' ' || p[i] == '\t' {
			i++
			continue
		}
		kind := byte(0)
		if p[i] == '?' || p[i] == '-' {
			kind = p[i]
			i++
		}
		var term string
		if i < len(p) && p[i] == '"' {
			s, n, err := readQuoted(p[i:])
			if err != nil {
				return nil, err
			}
			term, i = s, i+n
		} else {
			start := i
			for i < len(p) && p[i] != ' ' && p[i] != '\t' {
				c := rune(p[i])
				if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !strings.ContainsRune("_.-:/@", c) {
					return nil, fmt.Errorf("invalid character %q in term at offset %d: terms with other characters must be in double quotes", p[i], i)
				}
				i++
			}
			term = p[start:i]
		}
		if term == "" {
			return nil, fmt.Errorf("empty term at offset %d", i)
		}
		switch kind {
		case '?':
			t.optional = append(t.optional, term)
		case '-':
			t.excluded = append(t.excluded, term)
		default:
			t.required = append(t.required, term)
		}
	}
	if len(t.optional) > 0 && len(t.required) > 0 {
		return nil, fmt.Errorf("cannot mix ?term (any of) with plain terms (all of) in one pattern")
	}
	return t, nil
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

// --- JSON patterns ---

type node interface {
	eval(doc any) bool
}

type orNode struct{ l, r node }

func (n orNode) eval(doc any) bool { return n.l.eval(doc) || n.r.eval(doc) }

type andNode struct{ l, r node }

func (n andNode) eval(doc any) bool { return n.l.eval(doc) && n.r.eval(doc) }

// step is one selector step: a field name, or an array index when index ≥ 0.
type step struct {
	field string
	index int
}

type cmpNode struct {
	sel []step
	op  string // = != < <= > >= IS_TRUE IS_FALSE IS_NULL EXISTS NOT_EXISTS
	// str is set for string comparisons (with wildcards), num for numeric ones.
	str    *string
	num    float64
	numSet bool
}

func (n cmpNode) eval(doc any) bool {
	v, ok := selectPath(doc, n.sel)
	switch n.op {
	case "EXISTS":
		return ok
	case "NOT_EXISTS":
		return !ok
	}
	if !ok {
		return false
	}
	switch n.op {
	case "IS_TRUE":
		return v == true
	case "IS_FALSE":
		return v == false
	case "IS_NULL":
		return v == nil
	}
	if n.numSet {
		var f float64
		switch x := v.(type) {
		case json.Number:
			var err error
			if f, err = x.Float64(); err != nil {
				return false
			}
		default:
			return false
		}
		switch n.op {
		case "=":
			return f == n.num
		case "!=":
			return f != n.num
		case "<":
			return f < n.num
		case "<=":
			return f <= n.num
		case ">":
			return f > n.num
		case ">=":
			return f >= n.num
		}
		return false
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	case bool:
		s = strconv.FormatBool(x)
	default:
		return false
	}
	eq := globMatch(*n.str, s)
	if n.op == "!=" {
		return !eq
	}
	return eq
}

func selectPath(doc any, sel []step) (any, bool) {
	v := doc
	for _, s := range sel {
		if s.index >= 0 {
			arr, ok := v.([]any)
			if !ok || s.index >= len(arr) {
				return nil, false
			}
			v = arr[s.index]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[s.field]; !ok {
			return nil, false
		}
	}
	return v, true
}

// globMatch matches s against a pattern where '*' stands for any run.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

type token struct {
	kind string // { } ( ) && || op sel str word
	text string
	pos  int
}

func lexJSONPattern(p string) ([]token, error) {
	var toks []token
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.ContainsRune("{}()", rune(c)):
			toks = append(toks, token{string(c), string(c), i})
			i++
		case strings.HasPrefix(p[i:], "&&"), strings.HasPrefix(p[i:], "||"):
			toks = append(toks, token{p[i : i+2], p[i : i+2], i})
			i += 2
		case strings.HasPrefix(p[i:], "!="), strings.HasPrefix(p[i:], "<="), strings.HasPrefix(p[i:], ">="):
			toks = append(toks, token{"op", p[i : i+2], i})
			i += 2
		case c == '=' || c == '<' || c == '>':
			toks = append(toks, token{"op", string(c), i})
			i++
		case c == '"':
			s, n, err := readQuoted(p[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{"str", s, i})
			i += n
		case c == '$':
			start := i
			for i < len(p) && !strings.ContainsRune(" \t\n\r(){}=!<>&|\"", rune(p[i])) {
				i++
			}
			toks = append(toks, token{"sel", p[start:i], start})
		case c == '%':
			return nil, fmt.Errorf("regular expressions (%%...%%) are not supported by the aliasflow sandbox (offset %d)", i)
		default:
			start := i
			for i < len(p) && !strings.ContainsRune(" \t\n\r(){}=!<>&|\"$%", rune(p[i])) {
				i++
			}
			if i == start {
				return nil, fmt.Errorf("unexpected character %q at offset %d", c, i)
			}
			toks = append(toks, token{"word", p[start:i], start})
		}
	}
	return toks, nil
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return token{kind: "end", pos: -1}
}

func (p *parser) next() token {
	t := p.peek()
	if p.i < len(p.toks) {
		p.i++
	}
	return t
}

func (p *parser) expect(kind string) error {
	if t := p.next(); t.kind != kind {
		return fmt.Errorf("expected %s, found %s at offset %d", kind, describeTok(t), t.pos)
	}
	return nil
}

func describeTok(t token) string {
	if t.kind == "end" {
		return "end of pattern"
	}
	return strconv.Quote(t.text)
}

func parseJSONPattern(src string) (node, error) {
	toks, err := lexJSONPattern(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if err := p.expect("}"); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != "end" {
		return nil, fmt.Errorf("unexpected %s after the closing brace at offset %d", describeTok(t), t.pos)
	}
	return n, nil
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == "||" {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == "&&" {
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *parser) unary() (node, error) {
	if p.peek().kind == "(" {
		p.next()
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return n, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (node, error) {
	t := p.next()
	if t.kind != "sel" {
		return nil, fmt.Errorf("expected a selector like $.field, found %s at offset %d", describeTok(t), t.pos)
	}
	sel, err := parseSelector(t.text)
	if err != nil {
		return nil, fmt.Errorf("selector %s at offset %d: %w", t.text, t.pos, err)
	}
	n := cmpNode{sel: sel}
	op := p.next()
	switch {
	case op.kind == "word" && op.text == "IS":
		v := p.next()
		switch v.text {
		case "TRUE", "FALSE", "NULL":
			n.op = "IS_" + v.text
		default:
			return nil, fmt.Errorf("expected TRUE, FALSE or NULL after IS, found %s at offset %d", describeTok(v), v.pos)
		}
		return n, nil
	case op.kind == "word" && op.text == "EXISTS":
		n.op = "EXISTS"
		return n, nil
	case op.kind == "word" && op.text == "NOT":
		if v := p.next(); v.text != "EXISTS" {
			return nil, fmt.Errorf("expected EXISTS after NOT, found %s at offset %d", describeTok(v), v.pos)
		}
		n.op = "NOT_EXISTS"
		return n, nil
	case op.kind == "op":
		n.op = op.text
	default:
		return nil, fmt.Errorf("expected an operator after %s, found %s at offset %d", t.text, describeTok(op), op.pos)
	}
	v := p.next()
	switch v.kind {
	case "str":
		if n.op != "=" && n.op != "!=" {
			return nil, fmt.Errorf("operator %s takes a number, found the string %q at offset %d", n.op, v.text, v.pos)
		}
		s := v.text
		n.str = &s
	case "word":
		if f, err := strconv.ParseFloat(v.text, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			n.num, n.numSet = f, true
			break
		}
		if n.op != "=" && n.op != "!=" {
			return nil, fmt.Errorf("operator %s takes a number, found %q at offset %d", n.op, v.text, v.pos)
		}
		s := v.text
		n.str = &s
	default:
		return nil, fmt.Errorf("expected a value after %s, found %s at offset %d", n.op, describeTok(v), v.pos)
	}
	return n, nil
}

// parseSelector parses $.a.b[0].c.
func parseSelector(s string) ([]step, error) {
	rest, ok := strings.CutPrefix(s, "$")
	if !ok {
		return nil, fmt.Errorf("must start with $")
	}
	var steps []step
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			name := rest[:end]
			if name == "" || name == "*" {
				return nil, fmt.Errorf("empty or wildcard field names are not supported")
			}
			steps = append(steps, step{field: name, index: -1})
			rest = rest[end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [")
			}
			n, err := strconv.Atoi(rest[1:end])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("array index %q is not a non-negative integer", rest[1:end])
			}
			steps = append(steps, step{index: n})
			rest = rest[end+1:]
		default:
			return nil, fmt.Errorf("unexpected %q", rest[0])
		}
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("selects nothing; use $.field")
	}
	return steps, nil
}
