package asl

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Template is a compiled payload template (Parameters, ResultSelector): a
// JSON value whose object fields ending in ".$" take their value from a path
// or an intrinsic function call when evaluated.
type Template struct {
	root tnode
	raw  any
}

type tnode interface {
	eval(data, ctx any) (any, error)
}

type literal struct{ v any }

func (l literal) eval(_, _ any) (any, error) { return l.v, nil }

// strLiteral is a quoted intrinsic argument. segs splits it at the "{}"
// placeholders that were not escaped, for States.Format.
type strLiteral struct {
	v    string
	segs []string
}

func (l strLiteral) eval(_, _ any) (any, error) { return l.v, nil }

type pathNode struct{ p *Path }

func (n pathNode) eval(data, ctx any) (any, error) { return n.p.Resolve(data, ctx) }

type objectNode struct {
	keys  []string
	nodes []tnode
}

func (o objectNode) eval(data, ctx any) (any, error) {
	out := make(map[string]any, len(o.keys))
	for i, k := range o.keys {
		v, err := o.nodes[i].eval(data, ctx)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

type arrayNode []tnode

func (a arrayNode) eval(data, ctx any) (any, error) {
	out := make([]any, len(a))
	for i, n := range a {
		v, err := n.eval(data, ctx)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// CompileTemplate compiles a payload template; where names the field for
// error messages.
func CompileTemplate(v any, where string) (*Template, error) {
	n, err := compileNode(v, where)
	if err != nil {
		return nil, err
	}
	return &Template{root: n, raw: v}, nil
}

func compileNode(v any, where string) (tnode, error) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := objectNode{}
		seen := map[string]bool{}
		for _, k := range keys {
			name := k
			var n tnode
			if strings.HasSuffix(k, ".$") {
				name = strings.TrimSuffix(k, ".$")
				s, ok := t[k].(string)
				if !ok {
					return nil, fmt.Errorf("the value of %s/%s must be a string holding a path or an intrinsic function", where, k)
				}
				expr, err := CompileExpression(s)
				if err != nil {
					return nil, fmt.Errorf("%s/%s: %w", where, k, err)
				}
				n = expr
			} else {
				c, err := compileNode(t[k], where+"/"+k)
				if err != nil {
					return nil, err
				}
				n = c
			}
			if name == "" {
				return nil, fmt.Errorf("%s has a field with an empty name", where)
			}
			if seen[name] {
				return nil, fmt.Errorf("%s has both %q and %q", where, name, name+".$")
			}
			seen[name] = true
			o.keys = append(o.keys, name)
			o.nodes = append(o.nodes, n)
		}
		return o, nil
	case []any:
		a := make(arrayNode, len(t))
		for i, e := range t {
			c, err := compileNode(e, fmt.Sprintf("%s[%d]", where, i))
			if err != nil {
				return nil, err
			}
			a[i] = c
		}
		return a, nil
	default:
		return literal{v}, nil
	}
}

// Eval evaluates the template against data ($) and ctx ($$).
func (t *Template) Eval(data, ctx any) (any, error) { return t.root.eval(data, ctx) }

// Raw is the template as written in the definition.
func (t *Template) Raw() any { return t.raw }

// Expression is a path or an intrinsic function call: the value of a ".$"
// field, or of a field such as ErrorPath that takes either.
type Expression struct{ n tnode }

func (e *Expression) eval(data, ctx any) (any, error) { return e.n.eval(data, ctx) }

// Eval evaluates the expression.
func (e *Expression) Eval(data, ctx any) (any, error) { return e.n.eval(data, ctx) }

// CompileExpression parses a path ("$..." / "$$...") or an intrinsic
// function call ("States.Format(...)").
func CompileExpression(s string) (*Expression, error) {
	if strings.HasPrefix(s, "$") {
		p, err := ParsePath(s)
		if err != nil {
			return nil, err
		}
		return &Expression{pathNode{p}}, nil
	}
	if strings.HasPrefix(s, "States.") {
		ps := &iparser{s: s}
		call, err := ps.call()
		if err != nil {
			return nil, err
		}
		ps.space()
		if ps.i != len(ps.s) {
			return nil, fmt.Errorf("unexpected %q after the intrinsic function in %q", ps.s[ps.i:], s)
		}
		return &Expression{call}, nil
	}
	return nil, fmt.Errorf("%q is neither a path nor an intrinsic function", s)
}

// IntrinsicError is an intrinsic function that failed at run time; Step
// Functions reports it as States.IntrinsicFailure.
type IntrinsicError struct{ Msg string }

func (e *IntrinsicError) Error() string { return e.Msg }

// The intrinsic functions this interpreter implements; any other name is
// refused when the definition loads.
var intrinsics = map[string]func(args []any) (any, error){
	"States.Format":       nil, // callNode.format: it needs the literal's escapes
	"States.StringToJson": intrinsicStringToJSON,
	"States.JsonToString": intrinsicJSONToString,
	"States.Array":        func(args []any) (any, error) { return append([]any{}, args...), nil },
}

type callNode struct {
	name string
	args []tnode
}

func (c callNode) eval(data, ctx any) (any, error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		v, err := a.eval(data, ctx)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	var v any
	var err error
	if c.name == "States.Format" {
		v, err = c.format(args)
	} else {
		v, err = intrinsics[c.name](args)
	}
	if err != nil {
		return nil, &IntrinsicError{Msg: fmt.Sprintf("%s: %v", c.name, err)}
	}
	return v, nil
}

// format implements States.Format: a literal format string keeps its
// escaped braces literal; a format string read from a path has no escapes.
func (c callNode) format(args []any) (any, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("expects a format string")
	}
	var segs []string
	if l, ok := c.args[0].(strLiteral); ok {
		segs = l.segs
	} else {
		tmpl, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("the first argument must be a string")
		}
		segs = strings.Split(tmpl, "{}")
	}
	if len(segs)-1 != len(args)-1 {
		return nil, fmt.Errorf("the format string has %d {} but %d arguments follow", len(segs)-1, len(args)-1)
	}
	var b strings.Builder
	for i, seg := range segs {
		b.WriteString(seg)
		if i+1 >= len(segs) {
			break
		}
		switch v := args[i+1].(type) {
		case string:
			b.WriteString(v)
		case map[string]any, []any:
			return nil, fmt.Errorf("argument %d is not a string, number, boolean or null", i+1)
		default:
			b.WriteString(Encode(v))
		}
	}
	return b.String(), nil
}

func intrinsicStringToJSON(args []any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("expects one argument")
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("the argument must be a string")
	}
	v, err := Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("the argument is not JSON: %v", err)
	}
	return v, nil
}

func intrinsicJSONToString(args []any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("expects one argument")
	}
	return Encode(args[0]), nil
}

// iparser parses intrinsic function calls:
// call := Name '(' [arg {',' arg}] ')'; arg := 'string' | number | true |
// false | null | path | call.
type iparser struct {
	s string
	i int
}

func (p *iparser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *iparser) call() (tnode, error) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '(' {
		p.i++
	}
	if p.i == len(p.s) {
		return nil, fmt.Errorf("%q is not an intrinsic function call (no '(')", p.s)
	}
	name := strings.TrimSpace(p.s[start:p.i])
	if _, ok := intrinsics[name]; !ok {
		return nil, fmt.Errorf("the intrinsic function %q is not supported (supported: States.Format, States.StringToJson, States.JsonToString, States.Array)", name)
	}
	p.i++ // (
	c := callNode{name: name}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
		return c, c.checkArity()
	}
	for {
		p.space()
		a, err := p.arg()
		if err != nil {
			return nil, err
		}
		c.args = append(c.args, a)
		p.space()
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("unclosed call to %s in %q", name, p.s)
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] == ')' {
			p.i++
			return c, c.checkArity()
		}
		return nil, fmt.Errorf("unexpected %q in %q", p.s[p.i:p.i+1], p.s)
	}
}

func (c callNode) checkArity() error {
	switch c.name {
	case "States.Format":
		if len(c.args) == 0 {
			return fmt.Errorf("States.Format needs a format string")
		}
		switch l := c.args[0].(type) {
		case strLiteral:
			if n := len(l.segs) - 1; n != len(c.args)-1 {
				return fmt.Errorf("States.Format's string has %d {} but %d arguments follow", n, len(c.args)-1)
			}
		case literal:
			return fmt.Errorf("the first argument of States.Format must be a string")
		}
	case "States.StringToJson", "States.JsonToString":
		if len(c.args) != 1 {
			return fmt.Errorf("%s takes exactly one argument", c.name)
		}
	}
	return nil
}

func (p *iparser) arg() (tnode, error) {
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("missing argument in %q", p.s)
	}
	switch ch := p.s[p.i]; {
	case ch == '\'':
		var val, seg strings.Builder
		var segs []string
		p.i++
		for p.i < len(p.s) {
			c := p.s[p.i]
			switch {
			case c == '\\':
				if p.i+1 >= len(p.s) {
					return nil, fmt.Errorf("dangling escape in %q", p.s)
				}
				val.WriteByte(p.s[p.i+1])
				seg.WriteByte(p.s[p.i+1])
				p.i += 2
				continue
			case c == '\'':
				p.i++
				return strLiteral{v: val.String(), segs: append(segs, seg.String())}, nil
			case c == '{' && p.i+1 < len(p.s) && p.s[p.i+1] == '}':
				val.WriteString("{}")
				segs = append(segs, seg.String())
				seg.Reset()
				p.i += 2
				continue
			}
			val.WriteByte(c)
			seg.WriteByte(c)
			p.i++
		}
		return nil, fmt.Errorf("unterminated string in %q", p.s)
	case ch == '$':
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != ')' {
			if p.s[p.i] == '[' {
				end := bracketEnd(p.s[p.i:])
				if end < 0 {
					return nil, fmt.Errorf("unclosed '[' in %q", p.s)
				}
				p.i += end + 1
				continue
			}
			p.i++
		}
		path, err := ParsePath(strings.TrimSpace(p.s[start:p.i]))
		if err != nil {
			return nil, err
		}
		return pathNode{path}, nil
	case strings.HasPrefix(p.s[p.i:], "States."):
		return p.call()
	default:
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != ')' && p.s[p.i] != ' ' {
			p.i++
		}
		tok := p.s[start:p.i]
		switch tok {
		case "true":
			return literal{true}, nil
		case "false":
			return literal{false}, nil
		case "null":
			return literal{nil}, nil
		}
		if _, err := strconv.ParseFloat(tok, 64); err == nil {
			return literal{json.Number(tok)}, nil
		}
		return nil, fmt.Errorf("the argument %q in %q is not a string, number, boolean, null, path or intrinsic function", tok, p.s)
	}
}
