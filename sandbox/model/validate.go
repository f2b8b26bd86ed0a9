package model

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/smithy-go/encoding/cbor"
)

// Wire protocols a request may arrive in.
const (
	ProtoJSON  = "json"
	ProtoREST  = "rest-json"
	ProtoQuery = "query"
	ProtoCBOR  = "smithy-rpc-v2-cbor"
)

// Request is a request read against its service's model.
type Request struct {
	Service  *Service
	Protocol string
	// Operation is nil when the request names none the model knows;
	// OperationName then says what it named.
	Operation     *Operation
	OperationName string
	// Input is the request's input as a generic tree: maps, lists, strings,
	// json.Number / float64 / int64, bool, []byte, time.Time.
	Input map[string]any
	// Body is the request's body as received (Attach).
	Body []byte
	// Err is why the body did not decode (Attach), nil when it did.
	Err error
}

// Read decodes r (whose body has been read into body) against the model:
// which operation it is, in which protocol, with which input, its scalars
// typed by their shapes (typed).
func (s *Service) Read(r *http.Request, body []byte) (*Request, error) {
	req, err := s.read(r, body)
	if op := req.Operation; op != nil && op.Input != nil {
		s.typed(s.Shapes[op.Input.Shape], req.Input)
	}
	return req, err
}

func (s *Service) read(r *http.Request, body []byte) (*Request, error) {
	req := &Request{Service: s, Input: map[string]any{}}
	switch {
	case r.Header.Get("X-Amz-Target") != "":
		req.Protocol = ProtoJSON
		t := r.Header.Get("X-Amz-Target")
		req.OperationName = t[strings.LastIndex(t, ".")+1:]
		if p, ok := strings.CutSuffix(t, "."+req.OperationName); !ok || p != s.TargetPrefix {
			// Another service's target: named, but no operation of this one.
			return req, nil
		}
	case strings.HasPrefix(r.URL.Path, "/service/") && strings.Contains(r.URL.Path, "/operation/"):
		req.Protocol = ProtoCBOR
		svc, op, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/service/"), "/operation/")
		req.OperationName = op
		if svc != s.TargetPrefix {
			return req, nil
		}
	case s.Protocol == ProtoREST:
		req.Protocol = ProtoREST
		op, labels := s.route(r.Method, r.URL.Path, r.URL.Query())
		if op == nil {
			req.OperationName = r.Method + " " + r.URL.Path
			return req, nil
		}
		req.Operation, req.OperationName = op, op.Name
		in, err := s.restInput(op, labels, r, body)
		req.Input = in // the labels, query and headers even when the body is malformed
		return req, err
	default:
		req.Protocol = ProtoQuery
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return req, fmt.Errorf("malformed form body: %w", err)
		}
		for k, v := range r.URL.Query() {
			form[k] = append(form[k], v...)
		}
		req.OperationName = form.Get("Action")
		req.Operation = s.Operations[req.OperationName]
		if op := req.Operation; op != nil && op.Input != nil {
			if in, ok := s.fromForm(s.Shapes[op.Input.Shape], form, "").(map[string]any); ok {
				req.Input = in
			}
		}
		return req, nil
	}
	req.Operation = s.Operations[req.OperationName]
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	var v any
	if req.Protocol == ProtoCBOR {
		cv, err := cbor.Decode(body)
		if err == nil {
			v, err = FromCBOR(cv)
		}
		if err != nil {
			return req, fmt.Errorf("malformed CBOR body: %w", err)
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return req, fmt.Errorf("malformed JSON body: %w", err)
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return req, fmt.Errorf("the request body is not an object")
	}
	req.Input = m
	return req, nil
}

// route finds the rest-json operation whose method and URI template match,
// preferring the template with the most literal segments. A template's
// literal query ("?List=ALL", ListProvisionedConcurrencyConfigs beside
// GetProvisionedConcurrencyConfig on the same path) must be in the
// request and counts as a literal, so such pairs route by it, never by
// the map's order.
func (s *Service) route(method, path string, query url.Values) (*Operation, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var best *Operation
	var bestLabels map[string]string
	bestLiterals := -1
	for _, op := range s.Operations {
		if op.HTTP.Method != method {
			continue
		}
		tpl, tquery, _ := strings.Cut(op.HTTP.RequestURI, "?")
		tsegs := strings.Split(strings.Trim(tpl, "/"), "/")
		if len(tsegs) != len(segs) {
			continue
		}
		labels, literals := map[string]string{}, 0
		for _, kv := range strings.Split(tquery, "&") {
			if k, v, _ := strings.Cut(kv, "="); k != "" {
				if !slices.Contains(query[k], v) {
					labels = nil
					break
				}
				literals++
			}
		}
		for i := 0; labels != nil && i < len(tsegs); i++ {
			t := tsegs[i]
			if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
				v, err := url.PathUnescape(segs[i])
				if err != nil || v == "" {
					labels = nil
					break
				}
				labels[strings.TrimSuffix(strings.Trim(t, "{}"), "+")] = v
				continue
			}
			if t != segs[i] {
				labels = nil
				break
			}
			literals++
		}
		if labels != nil && literals > bestLiterals {
			best, bestLabels, bestLiterals = op, labels, literals
		}
	}
	return best, bestLabels
}

// restInput gathers a rest-json input from the URI labels, the query string,
// the headers and the JSON body (or the raw payload member).
func (s *Service) restInput(op *Operation, labels map[string]string, r *http.Request, body []byte) (map[string]any, error) {
	in := map[string]any{}
	if op.Input == nil {
		return in, nil
	}
	sh := s.Shapes[op.Input.Shape]
	bodyMembers := false
	for name, ref := range sh.Members {
		wire := ref.LocationName
		if wire == "" {
			wire = name
		}
		switch ref.Location {
		case "uri":
			if v, ok := labels[wire]; ok {
				in[name] = v
			}
		case "querystring":
			if vs, ok := r.URL.Query()[wire]; ok {
				if s.Shapes[ref.Shape].Type == "list" {
					l := make([]any, len(vs))
					for i, v := range vs {
						l[i] = v
					}
					in[name] = l
				} else {
					in[name] = vs[0]
				}
			}
		case "header":
			if v := r.Header.Get(wire); v != "" {
				in[name] = v
			}
		default:
			if ref.Payload {
				if len(body) > 0 {
					in[name] = body
				}
			} else {
				bodyMembers = true
			}
		}
	}
	if bodyMembers && len(bytes.TrimSpace(body)) > 0 {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return in, fmt.Errorf("malformed JSON body: %w", err)
		}
		for k, v := range m {
			if ref, ok := sh.Members[k]; ok && ref.Location == "" {
				in[k] = v
			}
		}
	}
	return in, nil
}

// fromForm reads an awsQuery input shape out of the form: "A.B" nests,
// lists are "L.member.N" (or "L.N" when flattened), maps "M.entry.N.key".
func (s *Service) fromForm(sh *Shape, form url.Values, key string) any {
	if sh == nil {
		return nil
	}
	has := func(k string) bool {
		for f := range form {
			if f == k || strings.HasPrefix(f, k+".") {
				return true
			}
		}
		return false
	}
	switch sh.Type {
	case "structure":
		out := map[string]any{}
		for name, ref := range sh.Members {
			wire := name
			if ref.LocationName != "" {
				wire = ref.LocationName
			}
			k := wire
			if key != "" {
				k = key + "." + wire
			}
			if !has(k) {
				continue
			}
			if v := s.fromForm(s.Shapes[ref.Shape], form, k); v != nil {
				out[name] = v
			}
		}
		return out
	case "list":
		prefix := key + ".member."
		if sh.Flattened {
			prefix = key + "."
		}
		var out []any
		for i := 1; has(prefix + strconv.Itoa(i)); i++ {
			out = append(out, s.fromForm(s.Shapes[sh.Member.Shape], form, prefix+strconv.Itoa(i)))
		}
		if out == nil && form.Has(key) {
			out = []any{}
		}
		return out
	case "map":
		prefix := key + ".entry."
		if sh.Flattened {
			prefix = key + "."
		}
		kn, vn := "key", "value"
		if sh.Key.LocationName != "" {
			kn = sh.Key.LocationName
		}
		if sh.Value.LocationName != "" {
			vn = sh.Value.LocationName
		}
		out := map[string]any{}
		for i := 1; has(prefix + strconv.Itoa(i)); i++ {
			e := prefix + strconv.Itoa(i) + "."
			out[form.Get(e+kn)] = s.fromForm(s.Shapes[sh.Value.Shape], form, e+vn)
		}
		return out
	default:
		if !form.Has(key) {
			return nil
		}
		return form.Get(key)
	}
}

// Violation is one constraint the input breaks, worded as AWS words it.
type Violation struct {
	Path       string // member path, lowerCamel as AWS prints it
	Constraint string // "length", "pattern", "enum", "range", "required", "size"
	Message    string
}

// Validate checks the input against the operation's input shape and returns
// every constraint it breaks.
func (req *Request) Validate() []Violation {
	if req.Operation == nil || req.Operation.Input == nil {
		return nil
	}
	var out []Violation
	req.Service.check(req.Service.Shapes[req.Operation.Input.Shape], req.Input, "", &out)
	return out
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToLower(string(r)) + s[n:]
}

func (s *Service) check(sh *Shape, v any, path string, out *[]Violation) {
	if sh == nil || v == nil {
		return
	}
	add := func(constraint, value, msg string) {
		*out = append(*out, Violation{Path: path, Constraint: constraint,
			Message: fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", value, path, msg)})
	}
	bound := func(n float64, unit string) {
		if sh.Min != nil && n < *sh.Min {
			add(unit, quote(v), fmt.Sprintf("Member must have %s greater than or equal to %s", unitWord(unit), num(*sh.Min)))
		}
		if sh.Max != nil && n > *sh.Max {
			add(unit, quote(v), fmt.Sprintf("Member must have %s less than or equal to %s", unitWord(unit), num(*sh.Max)))
		}
	}
	switch sh.Type {
	case "structure":
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for _, name := range sh.Required {
			if e, ok := m[name]; !ok || e == nil {
				p := join(path, name)
				*out = append(*out, Violation{Path: p, Constraint: "required",
					Message: fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", p)})
			}
		}
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if ref, ok := sh.Members[name]; ok {
				s.check(s.Shapes[ref.Shape], m[name], join(path, name), out)
			}
		}
	case "list":
		l, ok := v.([]any)
		if !ok {
			return
		}
		bound(float64(len(l)), "size")
		for i, e := range l {
			s.check(s.Shapes[sh.Member.Shape], e, fmt.Sprintf("%s.%d.member", path, i+1), out)
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		bound(float64(len(m)), "size")
		for k, e := range m {
			s.check(s.Shapes[sh.Key.Shape], k, path+".key", out)
			s.check(s.Shapes[sh.Value.Shape], e, path+"."+k+".value", out)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return
		}
		bound(float64(utf8.RuneCountInString(str)), "length")
		if len(sh.Enum) > 0 && !slices.Contains(sh.Enum, str) {
			add("enum", quote(v), "Member must satisfy enum value set: ["+strings.Join(sh.Enum, ", ")+"]")
		}
		if !sh.MatchesPattern(str) {
			add("pattern", quote(v), "Member must satisfy regular expression pattern: "+sh.Pattern)
		}
	case "blob":
		switch b := v.(type) {
		case []byte:
			bound(float64(len(b)), "length")
		case string:
			if d, err := base64.StdEncoding.DecodeString(b); err == nil {
				bound(float64(len(d)), "length")
			}
		}
	case "integer", "long", "float", "double":
		if n, ok := number(v); ok {
			bound(n, "range")
		}
	}
}

func unitWord(unit string) string {
	switch unit {
	case "range":
		return "value"
	case "size":
		return "length"
	}
	return "length"
}

func join(path, name string) string {
	if path == "" {
		return lowerFirst(name)
	}
	return path + "." + lowerFirst(name)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return 0, false
}

func num(f float64) string {
	if f == math.Trunc(f) {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func quote(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return "'" + s + "'"
}
