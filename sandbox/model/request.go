package model

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// The sandbox reads a request once: Attach decodes it against its
// service's model (operation, input) and carries the result in the
// request's context, where IAM evaluation, validation, the quotas and the
// service itself find it (FromContext) instead of decoding the body again.

type requestKey struct{}

// ErrReadBody is why Attach could not read a request's body (the client
// went away, or sent less than it said).
var ErrReadBody = errors.New("read body")

// WithRequest returns ctx carrying req.
func WithRequest(ctx context.Context, req *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, req)
}

// FromContext returns the request Attach read, if any.
func FromContext(ctx context.Context) (*Request, bool) {
	req, ok := ctx.Value(requestKey{}).(*Request)
	return req, ok
}

// Attach reads r against the model of the SigV4 service name and returns r
// carrying the result, or, when r already carries one, r and that. The
// body is read into Request.Body and put back for handlers that stream it.
// A body that does not decode is reported with the request still
// returned (its OperationName set), so the caller can answer in the
// request's protocol.
func (m *Models) Attach(r *http.Request, service string) (*http.Request, *Request, error) {
	if req, ok := FromContext(r.Context()); ok {
		return r, req, nil
	}
	svc, err := m.Service(service)
	if err != nil {
		return r, nil, err
	}
	var body []byte
	if r.Body != nil {
		body, err = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrReadBody, err)
			req := &Request{Service: svc, OperationName: r.Method + " " + r.URL.Path, Input: map[string]any{}, Err: err}
			return r.WithContext(WithRequest(r.Context(), req)), req, err
		}
	}
	req, err := svc.Read(r, body)
	req.Body = body
	if req.OperationName == "" {
		req.OperationName = r.Method + " " + r.URL.Path
	}
	req.Err = err
	return r.WithContext(WithRequest(r.Context(), req)), req, err
}

// Attach reads r against the Default models (see Models.Attach): for a
// service served on its own, in its tests, without the sandbox's pipeline.
func Attach(r *http.Request, service string) (*http.Request, *Request, error) {
	m, err := Default()
	if err != nil {
		return r, nil, err
	}
	return m.Attach(r, service)
}

// Str is the input member name as a string, "" when absent or not one.
func (req *Request) Str(name string) string {
	s, _ := req.Input[name].(string)
	return s
}

// FromCBOR turns a decoded CBOR value into the generic tree: integers as
// int64, floats as float64, timestamps (tag 1, epoch seconds) as UTC
// time.Time with millisecond precision, blobs as []byte.
func FromCBOR(v cbor.Value) (any, error) {
	switch x := v.(type) {
	case cbor.Uint:
		if uint64(x) > math.MaxInt64 {
			return float64(x), nil
		}
		return int64(x), nil
	case cbor.NegInt:
		if uint64(x) > math.MaxInt64 {
			return nil, fmt.Errorf("negative integer out of range")
		}
		return -1 - int64(x), nil
	case cbor.Float32:
		return float64(x), nil
	case cbor.Float64:
		return float64(x), nil
	case cbor.String:
		return string(x), nil
	case cbor.Slice:
		return []byte(x), nil
	case cbor.Bool:
		return bool(x), nil
	case *cbor.Nil, *cbor.Undefined:
		return nil, nil
	case cbor.List:
		out := make([]any, 0, len(x))
		for _, el := range x {
			g, err := FromCBOR(el)
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, nil
	case cbor.Map:
		out := make(map[string]any, len(x))
		for k, el := range x {
			g, err := FromCBOR(el)
			if err != nil {
				return nil, err
			}
			out[k] = g
		}
		return out, nil
	case *cbor.Tag:
		if x.ID != 1 {
			return nil, fmt.Errorf("unsupported CBOR tag %d", x.ID)
		}
		secs, err := cbor.AsFloat64(x.Value)
		if err != nil {
			return nil, fmt.Errorf("timestamp: %w", err)
		}
		whole, frac := math.Modf(secs)
		return time.Unix(int64(whole), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC(), nil
	}
	return nil, fmt.Errorf("unsupported CBOR value %T", v)
}

// typed converts the scalars of a decoded input to the types of their
// shapes, so an input reads the same whichever protocol carried it
// (awsQuery and the REST URI, query string and headers send every scalar
// as a string; awsJson sends numbers and epoch-second timestamps; CBOR
// tags timestamps): integers and longs as int64, floats and doubles as
// float64, booleans as bool, timestamps as UTC time.Time. A value that
// does not convert is left as it came, for validation or the service to
// refuse by name.
func (s *Service) typed(sh *Shape, v any) any {
	if sh == nil || v == nil {
		return v
	}
	switch sh.Type {
	case "structure":
		if m, ok := v.(map[string]any); ok {
			for name, e := range m {
				if ref, ok := sh.Members[name]; ok {
					m[name] = s.typed(s.Shapes[ref.Shape], e)
				}
			}
		}
	case "list":
		if l, ok := v.([]any); ok && sh.Member != nil {
			for i, e := range l {
				l[i] = s.typed(s.Shapes[sh.Member.Shape], e)
			}
		}
	case "map":
		if m, ok := v.(map[string]any); ok && sh.Value != nil {
			for k, e := range m {
				m[k] = s.typed(s.Shapes[sh.Value.Shape], e)
			}
		}
	case "integer", "long":
		switch x := v.(type) {
		case json.Number:
			if i, err := x.Int64(); err == nil {
				return i
			}
		case string:
			if i, err := strconv.ParseInt(x, 10, 64); err == nil {
				return i
			}
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return int64(x)
			}
		}
	case "float", "double":
		switch x := v.(type) {
		case json.Number:
			if f, err := x.Float64(); err == nil {
				return f
			}
		case string:
			if f, err := strconv.ParseFloat(x, 64); err == nil {
				return f
			}
		case int64:
			return float64(x)
		}
	case "boolean":
		if x, ok := v.(string); ok {
			if b, err := strconv.ParseBool(x); err == nil {
				return b
			}
		}
	case "timestamp":
		if secs, ok := number(v); ok {
			if _, isString := v.(string); !isString {
				whole, frac := math.Modf(secs)
				return time.Unix(int64(whole), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()
			}
		}
		if x, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t.UTC()
			}
		}
	}
	return v
}

// Decode copies the input into v, a struct whose field names are the
// operation's member names (encoding/json's matching), as the service's
// typed input. A member of the wrong type is an error naming it.
func (req *Request) Decode(v any) error {
	b, err := json.Marshal(req.Input)
	if err != nil {
		return fmt.Errorf("input: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return fmt.Errorf("input.%s: cannot use %s as %s", typeErr.Field, typeErr.Value, typeErr.Type)
		}
		return fmt.Errorf("input: %w", err)
	}
	return nil
}
