// Package eventpattern matches events against EventBridge event patterns,
// with the semantics the EventBridge user guide documents ("Amazon
// EventBridge event patterns", "Content filtering"), so the sandbox routes
// events by the very patterns the CDK rules deploy.
//
// Supported: exact values (strings, numbers, booleans, null) listed in
// arrays, nested objects, prefix, suffix, anything-but (a value, a list, or
// a prefix/suffix/equals-ignore-case/wildcard), exists, numeric ranges,
// equals-ignore-case, wildcard, and $or. An event array matches when any of
// its elements matches. Anything else (cidr, unknown operators, malformed
// shapes) is refused at Compile, never silently matched.
package eventpattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Pattern is a compiled event pattern.
type Pattern struct {
	root *object
}

// object is a pattern object: every field must match, and any of the $or
// alternatives (when present) must match too.
type object struct {
	fields []field
	or     []*object
}

type field struct {
	name   string
	nested *object // set when the pattern value is an object
	leaf   []matcher
}

// matcher matches one leaf value. present is false when the field is absent
// from the event (only exists:false matches then).
type matcher interface {
	match(v any, present bool) bool
}

// Compile parses and validates an event pattern (a JSON object).
func Compile(pattern string) (*Pattern, error) {
	var raw any
	dec := json.NewDecoder(strings.NewReader(pattern))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("event pattern is not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("event pattern has trailing data after the JSON object")
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, errors.New("event pattern must be a JSON object")
	}
	if len(m) == 0 {
		return nil, errors.New("event pattern must not be empty")
	}
	root, err := compileObject(m, "")
	if err != nil {
		return nil, err
	}
	return &Pattern{root: root}, nil
}

// MustCompile is Compile for patterns known to be valid (tests, constants).
func MustCompile(pattern string) *Pattern {
	p, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return p
}

// Match reports whether the event (a JSON object) matches the pattern.
func (p *Pattern) Match(event []byte) (bool, error) {
	var ev any
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		return false, fmt.Errorf("event is not valid JSON: %w", err)
	}
	m, ok := ev.(map[string]any)
	if !ok {
		return false, errors.New("event must be a JSON object")
	}
	return p.root.match(m), nil
}

// MatchValue matches an already-decoded event (as produced by
// encoding/json, with or without UseNumber).
func (p *Pattern) MatchValue(event map[string]any) bool { return p.root.match(event) }

func compileObject(m map[string]any, path string) (*object, error) {
	o := &object{}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names) // deterministic error messages
	for _, name := range names {
		v := m[name]
		where := join(path, name)
		if name == "$or" {
			alts, ok := v.([]any)
			if !ok || len(alts) < 2 {
				return nil, fmt.Errorf("%s: $or takes an array of at least two patterns", where)
			}
			for i, a := range alts {
				am, ok := a.(map[string]any)
				if !ok || len(am) == 0 {
					return nil, fmt.Errorf("%s[%d]: each $or alternative must be a non-empty object", where, i)
				}
				sub, err := compileObject(am, path)
				if err != nil {
					return nil, err
				}
				o.or = append(o.or, sub)
			}
			continue
		}
		switch vv := v.(type) {
		case map[string]any:
			if len(vv) == 0 {
				return nil, fmt.Errorf("%s: empty object", where)
			}
			sub, err := compileObject(vv, where)
			if err != nil {
				return nil, err
			}
			o.fields = append(o.fields, field{name: name, nested: sub})
		case []any:
			if len(vv) == 0 {
				return nil, fmt.Errorf("%s: empty array matches nothing; EventBridge refuses it", where)
			}
			ms := make([]matcher, 0, len(vv))
			for _, el := range vv {
				mt, err := compileLeaf(el, where)
				if err != nil {
					return nil, err
				}
				ms = append(ms, mt)
			}
			o.fields = append(o.fields, field{name: name, leaf: ms})
		default:
			return nil, fmt.Errorf("%s: match values must be in an array, got %s", where, describe(v))
		}
	}
	return o, nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func describe(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (o *object) match(ev map[string]any) bool {
	for _, f := range o.fields {
		v, present := ev[f.name]
		if f.nested != nil {
			if !matchNested(f.nested, v, present) {
				return false
			}
			continue
		}
		if !matchLeaf(f.leaf, v, present) {
			return false
		}
	}
	if len(o.or) > 0 {
		for _, alt := range o.or {
			if alt.match(ev) {
				return true
			}
		}
		return false
	}
	return true
}

func matchNested(o *object, v any, present bool) bool {
	switch vv := v.(type) {
	case map[string]any:
		return o.match(vv)
	case []any:
		for _, el := range vv {
			if m, ok := el.(map[string]any); ok && o.match(m) {
				return true
			}
		}
		return false
	default:
		// A nested pattern against an absent field still matches when
		// everything inside it only asks for absence (exists:false).
		if !present {
			return o.match(map[string]any{})
		}
		return false
	}
}

func matchLeaf(ms []matcher, v any, present bool) bool {
	if arr, ok := v.([]any); ok {
		// exists matches on the array as a whole; other matchers on any element.
		for _, m := range ms {
			if e, ok := m.(existsMatcher); ok {
				if e.match(v, true) {
					return true
				}
				continue
			}
			for _, el := range arr {
				if m.match(el, true) {
					return true
				}
			}
		}
		return false
	}
	if _, ok := v.(map[string]any); ok {
		// A leaf pattern never matches an object, except to test existence.
		for _, m := range ms {
			if e, ok := m.(existsMatcher); ok && e.match(v, true) {
				return true
			}
		}
		return false
	}
	for _, m := range ms {
		if m.match(v, present) {
			return true
		}
	}
	return false
}

// --- leaf matchers ---

type exactMatcher struct{ want any } // string, float64, bool or nil

func (m exactMatcher) match(v any, present bool) bool {
	if !present {
		return false
	}
	switch w := m.want.(type) {
	case nil:
		return v == nil
	case string:
		s, ok := v.(string)
		return ok && s == w
	case bool:
		b, ok := v.(bool)
		return ok && b == w
	case float64:
		f, ok := number(v)
		return ok && f == w
	}
	return false
}

type existsMatcher struct{ want bool }

func (m existsMatcher) match(_ any, present bool) bool { return present == m.want }

type prefixMatcher struct {
	s          string
	ignoreCase bool
}

func (m prefixMatcher) match(v any, present bool) bool {
	s, ok := v.(string)
	if !present || !ok {
		return false
	}
	if m.ignoreCase {
		return len(s) >= len(m.s) && strings.EqualFold(s[:len(m.s)], m.s)
	}
	return strings.HasPrefix(s, m.s)
}

type suffixMatcher struct {
	s          string
	ignoreCase bool
}

func (m suffixMatcher) match(v any, present bool) bool {
	s, ok := v.(string)
	if !present || !ok {
		return false
	}
	if m.ignoreCase {
		return len(s) >= len(m.s) && strings.EqualFold(s[len(s)-len(m.s):], m.s)
	}
	return strings.HasSuffix(s, m.s)
}

type ignoreCaseMatcher struct{ s string }

func (m ignoreCaseMatcher) match(v any, present bool) bool {
	s, ok := v.(string)
	return present && ok && strings.EqualFold(s, m.s)
}

type wildcardMatcher struct{ parts []string } // split on unescaped '*'

func (m wildcardMatcher) match(v any, present bool) bool {
	s, ok := v.(string)
	if !present || !ok {
		return false
	}
	return wildcardMatch(m.parts, s)
}

func wildcardMatch(parts []string, s string) bool {
	if len(parts) == 1 {
		return s == parts[0]
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// anythingBut matches a present value that none of its inner matchers match.
type anythingBut struct{ not []matcher }

func (m anythingBut) match(v any, present bool) bool {
	if !present {
		return false
	}
	for _, n := range m.not {
		if n.match(v, true) {
			return false
		}
	}
	return true
}

type bound struct {
	op string
	x  float64
}

type numericMatcher struct{ bounds []bound }

func (m numericMatcher) match(v any, present bool) bool {
	f, ok := number(v)
	if !present || !ok {
		return false
	}
	for _, b := range m.bounds {
		var pass bool
		switch b.op {
		case "=":
			pass = f == b.x
		case "<":
			pass = f < b.x
		case "<=":
			pass = f <= b.x
		case ">":
			pass = f > b.x
		case ">=":
			pass = f >= b.x
		}
		if !pass {
			return false
		}
	}
	return true
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

func compileLeaf(el any, where string) (matcher, error) {
	switch v := el.(type) {
	case nil, string, bool:
		return exactMatcher{want: v}, nil
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("%s: bad number %s", where, v)
		}
		return exactMatcher{want: f}, nil
	case []any:
		return nil, fmt.Errorf("%s: arrays cannot be nested in a match array", where)
	case map[string]any:
		if len(v) != 1 {
			return nil, fmt.Errorf("%s: a content filter has exactly one operator, got %s", where, describe(v))
		}
		for op, arg := range v {
			return compileOperator(op, arg, where)
		}
	}
	return nil, fmt.Errorf("%s: unsupported match value %s", where, describe(el))
}

func compileOperator(op string, arg any, where string) (matcher, error) {
	switch op {
	case "prefix", "suffix":
		s, ignoreCase, err := stringOrIgnoreCase(arg)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", where, op, err)
		}
		if op == "prefix" {
			return prefixMatcher{s: s, ignoreCase: ignoreCase}, nil
		}
		return suffixMatcher{s: s, ignoreCase: ignoreCase}, nil
	case "equals-ignore-case":
		s, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("%s: equals-ignore-case takes a string, got %s", where, describe(arg))
		}
		return ignoreCaseMatcher{s: s}, nil
	case "wildcard":
		s, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("%s: wildcard takes a string, got %s", where, describe(arg))
		}
		if strings.Contains(s, "**") {
			return nil, fmt.Errorf("%s: wildcard %q has consecutive '*' characters", where, s)
		}
		return wildcardMatcher{parts: splitWildcard(s)}, nil
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return nil, fmt.Errorf("%s: exists takes true or false, got %s", where, describe(arg))
		}
		return existsMatcher{want: b}, nil
	case "numeric":
		return compileNumeric(arg, where)
	case "anything-but":
		return compileAnythingBut(arg, where)
	case "cidr":
		return nil, fmt.Errorf("%s: the sandbox does not implement cidr matching", where)
	}
	return nil, fmt.Errorf("%s: unrecognized match type %s", where, op)
}

func stringOrIgnoreCase(arg any) (string, bool, error) {
	switch v := arg.(type) {
	case string:
		return v, false, nil
	case map[string]any:
		if s, ok := v["equals-ignore-case"].(string); ok && len(v) == 1 {
			return s, true, nil
		}
	}
	return "", false, fmt.Errorf("takes a string or {\"equals-ignore-case\": string}, got %s", describe(arg))
}

func splitWildcard(s string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '\\'):
			cur.WriteByte(s[i+1])
			i++
		case s[i] == '*':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(parts, cur.String())
}

func compileNumeric(arg any, where string) (matcher, error) {
	list, ok := arg.([]any)
	if !ok || len(list) == 0 || len(list)%2 != 0 || len(list) > 4 {
		return nil, fmt.Errorf("%s: numeric takes [op, number] or [op, number, op, number], got %s", where, describe(arg))
	}
	var m numericMatcher
	var lower, upper bool
	for i := 0; i < len(list); i += 2 {
		op, ok := list[i].(string)
		if !ok {
			return nil, fmt.Errorf("%s: numeric operator must be a string, got %s", where, describe(list[i]))
		}
		n, ok := list[i+1].(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s: numeric %s takes a number, got %s", where, op, describe(list[i+1]))
		}
		x, err := n.Float64()
		if err != nil || math.Abs(x) > 5e9 {
			return nil, fmt.Errorf("%s: numeric value %s out of range (-5e9..5e9)", where, n)
		}
		switch op {
		case "=":
			if len(list) != 2 {
				return nil, fmt.Errorf("%s: numeric = cannot be combined", where)
			}
		case ">", ">=":
			if lower {
				return nil, fmt.Errorf("%s: numeric has two lower bounds", where)
			}
			lower = true
		case "<", "<=":
			if upper {
				return nil, fmt.Errorf("%s: numeric has two upper bounds", where)
			}
			upper = true
		default:
			return nil, fmt.Errorf("%s: unknown numeric operator %q", where, op)
		}
		m.bounds = append(m.bounds, bound{op: op, x: x})
	}
	return m, nil
}

func compileAnythingBut(arg any, where string) (matcher, error) {
	var not []matcher
	switch v := arg.(type) {
	case string, bool, nil:
		not = append(not, exactMatcher{want: v})
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("%s: bad number %s", where, v)
		}
		not = append(not, exactMatcher{want: f})
	case []any:
		if len(v) == 0 {
			return nil, fmt.Errorf("%s: anything-but list must not be empty", where)
		}
		for _, el := range v {
			switch e := el.(type) {
			case string:
				not = append(not, exactMatcher{want: e})
			case json.Number:
				f, err := e.Float64()
				if err != nil {
					return nil, fmt.Errorf("%s: bad number %s", where, e)
				}
				not = append(not, exactMatcher{want: f})
			default:
				return nil, fmt.Errorf("%s: anything-but list takes strings or numbers, got %s", where, describe(el))
			}
		}
	case map[string]any:
		if len(v) != 1 {
			return nil, fmt.Errorf("%s: anything-but takes one operator, got %s", where, describe(v))
		}
		for op, inner := range v {
			switch op {
			case "prefix", "suffix", "equals-ignore-case", "wildcard":
			default:
				return nil, fmt.Errorf("%s: anything-but does not take %s", where, op)
			}
			// anything-but accepts a list for equals-ignore-case and wildcard.
			if list, ok := inner.([]any); ok && (op == "equals-ignore-case" || op == "wildcard") {
				for _, el := range list {
					m, err := compileOperator(op, el, where)
					if err != nil {
						return nil, err
					}
					not = append(not, m)
				}
				continue
			}
			m, err := compileOperator(op, inner, where)
			if err != nil {
				return nil, err
			}
			not = append(not, m)
		}
	default:
		return nil, fmt.Errorf("%s: unsupported anything-but value %s", where, describe(arg))
	}
	return anythingBut{not: not}, nil
}
