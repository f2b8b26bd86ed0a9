package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Path is a parsed JSONPath of the subset this interpreter supports: "$"
// (the state's data) or "$$" (the context object) followed by dotted
// fields, bracketed quoted fields and non-negative array indexes. Wildcards,
// filters, slices and recursive descent are refused when a definition loads,
// so an execution never meets a path it cannot evaluate.
type Path struct {
	raw     string
	context bool
	steps   []step
}

type step struct {
	field   string
	index   int
	isIndex bool
}

// String returns the path as written.
func (p *Path) String() string { return p.raw }

// IsContext reports whether the path reads the context object ($$).
func (p *Path) IsContext() bool { return p.context }

// ParsePath parses a JSONPath.
func ParsePath(s string) (*Path, error) {
	p := &Path{raw: s}
	switch {
	case strings.HasPrefix(s, "$$"):
		p.context = true
		s = s[2:]
	case strings.HasPrefix(s, "$"):
		s = s[1:]
	default:
		return nil, fmt.Errorf("the path %q must begin with '$' or '$$'", p.raw)
	}
	for len(s) > 0 {
		switch s[0] {
		case '.':
			s = s[1:]
			if strings.HasPrefix(s, ".") {
				return nil, fmt.Errorf("the path %q uses recursive descent '..', which is not supported", p.raw)
			}
			n := strings.IndexAny(s, ".[")
			if n < 0 {
				n = len(s)
			}
			name := s[:n]
			if err := checkFieldName(p.raw, name); err != nil {
				return nil, err
			}
			p.steps = append(p.steps, step{field: name})
			s = s[n:]
		case '[':
			end := bracketEnd(s)
			if end < 0 {
				return nil, fmt.Errorf("the path %q has an unclosed '['", p.raw)
			}
			inner := s[1:end]
			s = s[end+1:]
			switch {
			case len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0]:
				name := inner[1 : len(inner)-1]
				if strings.ContainsRune(name, rune(inner[0])) {
					return nil, fmt.Errorf("the path %q has a quoted field with an embedded quote", p.raw)
				}
				p.steps = append(p.steps, step{field: name})
			default:
				i, err := strconv.Atoi(inner)
				if err != nil || i < 0 || strings.HasPrefix(inner, "+") {
					return nil, fmt.Errorf("the path %q uses %q, which is not supported (only fields and non-negative array indexes are)", p.raw, "["+inner+"]")
				}
				p.steps = append(p.steps, step{index: i, isIndex: true})
			}
		default:
			return nil, fmt.Errorf("the path %q is not a valid JSONPath (unexpected %q)", p.raw, s[:1])
		}
	}
	return p, nil
}

func bracketEnd(s string) int {
	if len(s) > 1 && (s[1] == '\'' || s[1] == '"') {
		q := s[1]
		i := strings.IndexByte(s[2:], q)
		if i < 0 {
			return -1
		}
		j := 2 + i + 1
		if j < len(s) && s[j] == ']' {
			return j
		}
		return -1
	}
	return strings.IndexByte(s, ']')
}

func checkFieldName(raw, name string) error {
	if name == "" {
		return fmt.Errorf("the path %q has an empty field name", raw)
	}
	if name == "*" || strings.ContainsAny(name, "*?@()[]'\", \t\n") {
		return fmt.Errorf("the path %q uses %q, which is not supported (wildcards, filters and expressions are not)", raw, name)
	}
	return nil
}

// PathError is a path that did not resolve against the data it was applied to.
type PathError struct {
	Path   string
	Reason string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("Invalid path '%s': %s", e.Path, e.Reason)
}

// Resolve evaluates the path against data ($) or ctx ($$).
func (p *Path) Resolve(data, ctx any) (any, error) {
	v := data
	if p.context {
		v = ctx
	}
	for _, st := range p.steps {
		if st.isIndex {
			arr, ok := v.([]any)
			if !ok || st.index >= len(arr) {
				return nil, &PathError{Path: p.raw, Reason: "the path does not exist in the input"}
			}
			v = arr[st.index]
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, &PathError{Path: p.raw, Reason: "the path does not exist in the input"}
		}
		v, ok = obj[st.field]
		if !ok {
			return nil, &PathError{Path: p.raw, Reason: "the path does not exist in the input"}
		}
	}
	return v, nil
}

// Set returns a copy of data with value placed at the path, creating
// objects along the way, as a ResultPath does. Only containers on the path
// are copied; the rest is shared, which is safe because values are never
// mutated in place.
func (p *Path) Set(data, value any) (any, error) {
	if p.context {
		return nil, &PathError{Path: p.raw, Reason: "a ResultPath cannot write the context object"}
	}
	return setAt(p, p.steps, data, true, value)
}

// setAt places value below data; present tells a missing field (created as
// an object, as AWS does) from one holding JSON null (an error).
func setAt(p *Path, steps []step, data any, present bool, value any) (any, error) {
	if len(steps) == 0 {
		return value, nil
	}
	st := steps[0]
	if st.isIndex {
		arr, ok := data.([]any)
		if !ok || st.index >= len(arr) {
			return nil, &PathError{Path: p.raw, Reason: "unable to apply the ResultPath: the array index does not exist in the input"}
		}
		child, err := setAt(p, steps[1:], arr[st.index], true, value)
		if err != nil {
			return nil, err
		}
		out := append([]any(nil), arr...)
		out[st.index] = child
		return out, nil
	}
	obj, ok := data.(map[string]any)
	if !ok && present {
		return nil, &PathError{Path: p.raw, Reason: "unable to apply the ResultPath to a value that is not a JSON object"}
	}
	out := make(map[string]any, len(obj)+1)
	for k, v := range obj {
		out[k] = v
	}
	cur, exists := obj[st.field]
	child, err := setAt(p, steps[1:], cur, exists, value)
	if err != nil {
		return nil, err
	}
	out[st.field] = child
	return out, nil
}

// Decode parses JSON text into the generic value form the interpreter uses
// (numbers as json.Number, so that integers survive unchanged).
func Decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

// Encode renders a value as compact JSON without HTML escaping, as Step
// Functions shows data.
func Encode(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "null"
	}
	return strings.TrimSuffix(b.String(), "\n")
}
