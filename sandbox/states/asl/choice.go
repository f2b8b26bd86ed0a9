package asl

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Rule is a Choice rule: a comparison of Variable with a value (or the value
// at another path), or an And / Or / Not of rules. Top-level rules carry Next.
type Rule struct {
	Variable *Path
	// Operator is the comparison's field name, e.g. "StringEquals" or
	// "NumericLessThanPath"; empty for And / Or / Not.
	Operator  string
	Value     any
	ValuePath *Path
	And, Or   []*Rule
	Not       *Rule
	Next      string
}

type opKind int

const (
	kindString opKind = iota
	kindNumeric
	kindBoolean
	kindTimestamp
	kindTest
)

type compareOp struct {
	kind opKind
	// cmp is "eq", "lt", "gt", "le", "ge", "match", or for tests the type.
	cmp string
}

var compareOps = func() map[string]compareOp {
	m := map[string]compareOp{}
	rel := map[string]string{"Equals": "eq", "LessThan": "lt", "GreaterThan": "gt", "LessThanEquals": "le", "GreaterThanEquals": "ge"}
	for prefix, kind := range map[string]opKind{"String": kindString, "Numeric": kindNumeric, "Timestamp": kindTimestamp} {
		for suffix, cmp := range rel {
			m[prefix+suffix] = compareOp{kind, cmp}
			m[prefix+suffix+"Path"] = compareOp{kind, cmp}
		}
	}
	m["StringMatches"] = compareOp{kindString, "match"}
	m["BooleanEquals"] = compareOp{kindBoolean, "eq"}
	m["BooleanEqualsPath"] = compareOp{kindBoolean, "eq"}
	for _, t := range []string{"IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"} {
		m[t] = compareOp{kindTest, t}
	}
	return m
}()

func compileRule(l *loader, where string, v any, top bool) *Rule {
	m, ok := v.(map[string]any)
	if !ok {
		l.errorf(where, "a Choice rule must be a JSON object")
		return nil
	}
	r := &Rule{}
	var ops []string
	for k := range m {
		switch k {
		case "Variable", "Next", "Comment", "And", "Or", "Not":
		default:
			if _, ok := compareOps[k]; ok {
				ops = append(ops, k)
				continue
			}
			l.errorf(where, "the field %q is not a valid Choice rule field", k)
		}
	}
	sort.Strings(ops)
	if top {
		r.Next = l.str(where, m, "Next", true)
	} else if _, ok := m["Next"]; ok {
		l.errorf(where, "a nested Choice rule must not have Next")
	}
	_, hasAnd := m["And"]
	_, hasOr := m["Or"]
	_, hasNot := m["Not"]
	bools := 0
	for _, b := range []bool{hasAnd, hasOr, hasNot} {
		if b {
			bools++
		}
	}
	switch {
	case bools+len(ops) != 1:
		l.errorf(where, "a Choice rule must have exactly one comparison operator or one of And, Or, Not (found %d)", bools+len(ops))
		return r
	case hasAnd || hasOr:
		name := "And"
		if hasOr {
			name = "Or"
		}
		list, ok := m[name].([]any)
		if !ok || len(list) == 0 {
			l.errorf(where, "%s must be a non-empty array of rules", name)
			return r
		}
		if _, ok := m["Variable"]; ok {
			l.errorf(where, "a rule with %s must not have Variable", name)
		}
		var rules []*Rule
		for i, e := range list {
			rules = append(rules, compileRule(l, fmt.Sprintf("%s/%s[%d]", where, name, i), e, false))
		}
		if hasAnd {
			r.And = rules
		} else {
			r.Or = rules
		}
		return r
	case hasNot:
		if _, ok := m["Variable"]; ok {
			l.errorf(where, "a rule with Not must not have Variable")
		}
		r.Not = compileRule(l, where+"/Not", m["Not"], false)
		return r
	}
	op := ops[0]
	r.Operator = op
	if vs := l.str(where, m, "Variable", true); vs != "" {
		p, err := ParsePath(vs)
		if err != nil {
			l.errorf(where+"/Variable", "%v", err)
		} else {
			r.Variable = p
		}
	}
	spec := compareOps[op]
	val := m[op]
	switch {
	case strings.HasSuffix(op, "Path") && spec.kind != kindTest:
		s, ok := val.(string)
		if !ok {
			l.errorf(where+"/"+op, "must be a path string")
			break
		}
		p, err := ParsePath(s)
		if err != nil {
			l.errorf(where+"/"+op, "%v", err)
		}
		r.ValuePath = p
	case spec.kind == kindString:
		if _, ok := val.(string); !ok {
			l.errorf(where+"/"+op, "must be a string")
		}
		r.Value = val
	case spec.kind == kindNumeric:
		if _, ok := val.(json.Number); !ok {
			l.errorf(where+"/"+op, "must be a number")
		}
		r.Value = val
	case spec.kind == kindBoolean, spec.kind == kindTest:
		if _, ok := val.(bool); !ok {
			l.errorf(where+"/"+op, "must be a boolean")
		}
		r.Value = val
	case spec.kind == kindTimestamp:
		s, _ := val.(string)
		if _, ok := parseTimestamp(s); !ok {
			l.errorf(where+"/"+op, "must be an RFC 3339 timestamp, e.g. 2016-03-14T01:59:00Z")
		}
		r.Value = val
	}
	return r
}

// Eval evaluates the rule against the effective input (data) and context.
// A Variable (or *Path value) that does not resolve is a States.Runtime
// error, except for IsPresent; a value of the wrong type makes the
// comparison false, as the spec says.
func (r *Rule) Eval(data, ctx any) (bool, error) {
	switch {
	case r.And != nil:
		for _, c := range r.And {
			ok, err := c.Eval(data, ctx)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.Or != nil:
		for _, c := range r.Or {
			ok, err := c.Eval(data, ctx)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.Not != nil:
		ok, err := r.Not.Eval(data, ctx)
		return !ok && err == nil, err
	}
	spec := compareOps[r.Operator]
	v, err := r.Variable.Resolve(data, ctx)
	if r.Operator == "IsPresent" {
		return (err == nil) == r.Value.(bool), nil
	}
	if err != nil {
		return false, err
	}
	if spec.kind == kindTest {
		return typeTest(spec.cmp, v) == r.Value.(bool), nil
	}
	want := r.Value
	if r.ValuePath != nil {
		if want, err = r.ValuePath.Resolve(data, ctx); err != nil {
			return false, err
		}
	}
	switch spec.kind {
	case kindString:
		a, ok1 := v.(string)
		b, ok2 := want.(string)
		if !ok1 || !ok2 {
			return false, nil
		}
		if spec.cmp == "match" {
			return wildcardMatch(b, a), nil
		}
		return relate(spec.cmp, strings.Compare(a, b)), nil
	case kindNumeric:
		a, ok1 := number(v)
		b, ok2 := number(want)
		if !ok1 || !ok2 {
			return false, nil
		}
		c := 0
		if a < b {
			c = -1
		} else if a > b {
			c = 1
		}
		return relate(spec.cmp, c), nil
	case kindBoolean:
		a, ok1 := v.(bool)
		b, ok2 := want.(bool)
		return ok1 && ok2 && a == b, nil
	case kindTimestamp:
		as, _ := v.(string)
		bs, _ := want.(string)
		a, ok1 := parseTimestamp(as)
		b, ok2 := parseTimestamp(bs)
		if !ok1 || !ok2 {
			return false, nil
		}
		return relate(spec.cmp, a.Compare(b)), nil
	}
	return false, nil
}

func relate(cmp string, c int) bool {
	switch cmp {
	case "eq":
		return c == 0
	case "lt":
		return c < 0
	case "gt":
		return c > 0
	case "le":
		return c <= 0
	case "ge":
		return c >= 0
	}
	return false
}

func typeTest(t string, v any) bool {
	switch t {
	case "IsNull":
		return v == nil
	case "IsNumeric":
		_, ok := v.(json.Number)
		return ok
	case "IsString":
		_, ok := v.(string)
		return ok
	case "IsBoolean":
		_, ok := v.(bool)
		return ok
	case "IsTimestamp":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, ok = parseTimestamp(s)
		return ok
	}
	return false
}

// number reads a JSON number as a float64.
func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return f, err == nil
}

// parseTimestamp accepts the RFC 3339 profile the spec requires: an
// uppercase T between date and time and Z or a numeric offset.
func parseTimestamp(s string) (time.Time, bool) {
	if !strings.Contains(s, "T") {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// wildcardMatch implements StringMatches: "*" matches any run of
// characters; "\*" and "\\" are a literal star and backslash.
func wildcardMatch(pattern, s string) bool {
	type tok struct {
		star bool
		ch   byte
	}
	var toks []tok
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '\\' && i+1 < len(pattern):
			toks = append(toks, tok{ch: pattern[i+1]})
			i++
		case c == '*':
			toks = append(toks, tok{star: true})
		default:
			toks = append(toks, tok{ch: c})
		}
	}
	// Classic iterative wildcard matching with backtracking to the last star.
	ti, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case ti < len(toks) && !toks[ti].star && toks[ti].ch == s[si]:
			ti++
			si++
		case ti < len(toks) && toks[ti].star:
			star, mark = ti, si
			ti++
		case star >= 0:
			ti = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
