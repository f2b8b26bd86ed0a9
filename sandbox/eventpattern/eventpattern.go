// Package eventpattern matches events against EventBridge event patterns
// (and SNS filter policies, which share their syntax), cut to what
// aliasflow's rules and subscriptions use, with the semantics the
// EventBridge user guide documents ("Creating event patterns",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html;
// "Content filtering in Amazon EventBridge event patterns",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html):
//
//   - exact strings listed in arrays, any of which may match; an event
//     array matches when any element does;
//   - nested objects, every field of which must match;
//   - prefix matching ({"prefix": "..."}), the settings-changed rule's.
//
// Those are all aliasflow's rules (shared/eventpatterns) and its approval
// subscription's filter policy use. Exact numbers, booleans and null, the
// other content filters (suffix, anything-but, numeric, exists,
// equals-ignore-case, wildcard, cidr) and $or are refused at Compile by
// name, never matched approximately.
package eventpattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Pattern is a compiled event pattern.
type Pattern struct {
	root *object
}

// object is a pattern object: every field must match.
type object struct {
	fields []field
}

type field struct {
	name   string
	nested *object // set when the pattern value is an object
	leaf   []leaf
}

// leaf is one value of a match array: an exact string or, when prefix, a
// string the value starts with.
type leaf struct {
	exact  string
	prefix bool
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
		where := path + "." + name
		if path == "" {
			where = name
		}
		if name == "$or" {
			return nil, unsupported(where, "$or")
		}
		switch v := m[name].(type) {
		case map[string]any:
			if len(v) == 0 {
				return nil, fmt.Errorf("%s: empty object", where)
			}
			sub, err := compileObject(v, where)
			if err != nil {
				return nil, err
			}
			o.fields = append(o.fields, field{name: name, nested: sub})
		case []any:
			if len(v) == 0 {
				return nil, fmt.Errorf("%s: empty array matches nothing; EventBridge refuses it", where)
			}
			f := field{name: name}
			for _, el := range v {
				l, err := compileLeaf(el, where)
				if err != nil {
					return nil, err
				}
				f.leaf = append(f.leaf, l)
			}
			o.fields = append(o.fields, f)
		default:
			return nil, fmt.Errorf("%s: match values must be in an array, got %s", where, describe(v))
		}
	}
	return o, nil
}

func unsupported(where, what string) error {
	return fmt.Errorf("%s: %s is not supported by the aliasflow sandbox's event patterns (exact strings and prefix)", where, what)
}

func compileLeaf(el any, where string) (leaf, error) {
	switch v := el.(type) {
	case string:
		return leaf{exact: v}, nil
	case json.Number:
		return leaf{}, unsupported(where, "the exact number "+v.String())
	case bool:
		return leaf{}, unsupported(where, fmt.Sprintf("the exact boolean %v", v))
	case nil:
		return leaf{}, unsupported(where, "the exact null")
	case map[string]any:
		if len(v) != 1 {
			return leaf{}, fmt.Errorf("%s: a content filter has exactly one operator, got %s", where, describe(v))
		}
		for op, arg := range v {
			if op != "prefix" {
				return leaf{}, unsupported(where, "the content filter "+op)
			}
			s, ok := arg.(string)
			if !ok {
				return leaf{}, fmt.Errorf("%s: prefix takes a string, got %s", where, describe(arg))
			}
			return leaf{exact: s, prefix: true}, nil
		}
	}
	return leaf{}, fmt.Errorf("%s: unsupported match value %s", where, describe(el))
}

func describe(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (o *object) match(ev map[string]any) bool {
	for _, f := range o.fields {
		v, present := ev[f.name]
		if !present {
			return false
		}
		if f.nested != nil {
			if !matchNested(f.nested, v) {
				return false
			}
			continue
		}
		if !matchLeaf(f.leaf, v) {
			return false
		}
	}
	return true
}

// matchNested matches a nested pattern against an object, or any object
// of an array.
func matchNested(o *object, v any) bool {
	switch vv := v.(type) {
	case map[string]any:
		return o.match(vv)
	case []any:
		for _, el := range vv {
			if m, ok := el.(map[string]any); ok && o.match(m) {
				return true
			}
		}
	}
	return false
}

// matchLeaf matches a present value, or any element of an array, against
// any of the leaves; a leaf never matches an object.
func matchLeaf(leaves []leaf, v any) bool {
	values := []any{v}
	if arr, ok := v.([]any); ok {
		values = arr
	}
	for _, l := range leaves {
		for _, el := range values {
			if l.match(el) {
				return true
			}
		}
	}
	return false
}

func (l leaf) match(v any) bool {
	s, ok := v.(string)
	if l.prefix {
		return ok && strings.HasPrefix(s, l.exact)
	}
	return ok && s == l.exact
}
