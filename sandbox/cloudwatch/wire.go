package cwsvc

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// CloudWatch speaks three protocols here: rpcv2Cbor (the Go SDK), awsQuery
// (the AWS CLI 2.9) and awsJson1_0 (recent botocore). The sandbox reads
// each against AWS's model into one generic tree (model.Request.Input:
// map[string]any, []any, string, json.Number, float64, int64, bool,
// time.Time, []byte) which assign copies into an operation's typed input,
// so each operation is written once. Outputs are typed structs: XML-encoded for query (their xml
// tags say how), or turned into CBOR values by toCBOR using the same names
// (and from there into JSON, timestamps as epoch seconds).

// memberName is the wire name of a struct field: the first element of its
// xml tag's path, or the field name.
func memberName(f reflect.StructField) (name string, omitEmpty bool) {
	tag := f.Tag.Get("xml")
	if tag == "-" {
		return "", false
	}
	name, opts, _ := strings.Cut(tag, ",")
	name, _, _ = strings.Cut(name, ">")
	if name == "" {
		name = f.Name
	}
	return name, strings.Contains(opts, "omitempty")
}

var timeType = reflect.TypeOf(time.Time{})

// assign copies a generic value into dst, converting leniently between the
// two protocols' representations (query sends every scalar as a string).
func assign(dst reflect.Value, src any, path string) error {
	if src == nil {
		return nil
	}
	if n, ok := src.(json.Number); ok {
		// awsJson numbers, as the model's reader keeps them.
		if i, err := n.Int64(); err == nil {
			src = i
		} else if f, err := n.Float64(); err == nil {
			src = f
		} else {
			return fmt.Errorf("%s: %q is not a number", path, n)
		}
	}
	if dst.Kind() == reflect.Pointer {
		v := reflect.New(dst.Type().Elem())
		if err := assign(v.Elem(), src, path); err != nil {
			return err
		}
		dst.Set(v)
		return nil
	}
	bad := func() error { return fmt.Errorf("%s: cannot use %T as %s", path, src, dst.Type()) }
	if dst.Type() == timeType {
		switch x := src.(type) {
		case time.Time:
			dst.Set(reflect.ValueOf(x))
		case string:
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return fmt.Errorf("%s: %q is not an ISO 8601 timestamp", path, x)
			}
			dst.Set(reflect.ValueOf(t.UTC()))
		case int64:
			dst.Set(reflect.ValueOf(time.Unix(x, 0).UTC()))
		case float64:
			dst.Set(reflect.ValueOf(time.UnixMilli(int64(x * 1000)).UTC()))
		default:
			return bad()
		}
		return nil
	}
	switch dst.Kind() {
	case reflect.Interface:
		dst.Set(reflect.ValueOf(src))
	case reflect.Struct:
		m, ok := src.(map[string]any)
		if !ok {
			return bad()
		}
		t := dst.Type()
		for i := 0; i < t.NumField(); i++ {
			name, _ := memberName(t.Field(i))
			if v, ok := m[name]; ok && name != "" {
				if err := assign(dst.Field(i), v, path+"."+name); err != nil {
					return err
				}
			}
		}
	case reflect.Slice:
		if s, ok := src.(string); ok && s == "" {
			return nil // query's way of sending an empty list
		}
		l, ok := src.([]any)
		if !ok {
			return bad()
		}
		out := reflect.MakeSlice(dst.Type(), len(l), len(l))
		for i, el := range l {
			if err := assign(out.Index(i), el, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		dst.Set(out)
	case reflect.String:
		switch x := src.(type) {
		case string:
			dst.SetString(x)
		default:
			return bad()
		}
	case reflect.Bool:
		switch x := src.(type) {
		case bool:
			dst.SetBool(x)
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return fmt.Errorf("%s: %q is not a boolean", path, x)
			}
			dst.SetBool(b)
		default:
			return bad()
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		var n int64
		switch x := src.(type) {
		case int64:
			n = x
		case float64:
			if x != math.Trunc(x) {
				return fmt.Errorf("%s: %v is not an integer", path, x)
			}
			n = int64(x)
		case string:
			var err error
			if n, err = strconv.ParseInt(x, 10, 64); err != nil {
				return fmt.Errorf("%s: %q is not an integer", path, x)
			}
		default:
			return bad()
		}
		if dst.OverflowInt(n) {
			return fmt.Errorf("%s: %d is out of range", path, n)
		}
		dst.SetInt(n)
	case reflect.Float64:
		switch x := src.(type) {
		case int64:
			dst.SetFloat(float64(x))
		case float64:
			dst.SetFloat(x)
		case string:
			f, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return fmt.Errorf("%s: %q is not a number", path, x)
			}
			dst.SetFloat(f)
		default:
			return bad()
		}
	default:
		return fmt.Errorf("%s: unsupported field type %s", path, dst.Type())
	}
	return nil
}

// toCBOR encodes a typed output for rpcv2Cbor: struct fields by member
// name, timestamps as tag 1 with epoch seconds, nil pointers and slices left out.
func toCBOR(v reflect.Value) (cbor.Value, bool) {
	if v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil, false
		}
		return toCBOR(v.Elem())
	}
	if v.Type() == timeType {
		t := v.Interface().(time.Time)
		return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(t.UnixMilli()) / 1000)}, true
	}
	switch v.Kind() {
	case reflect.Struct:
		m := cbor.Map{}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			name, omitEmpty := memberName(f)
			if name == "" || (omitEmpty && v.Field(i).IsZero()) {
				continue
			}
			if c, ok := toCBOR(v.Field(i)); ok {
				m[name] = c
			}
		}
		return m, true
	case reflect.Slice:
		if v.IsNil() {
			return nil, false
		}
		l := make(cbor.List, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			if c, ok := toCBOR(v.Index(i)); ok {
				l = append(l, c)
			}
		}
		return l, true
	case reflect.String:
		return cbor.String(v.String()), true
	case reflect.Bool:
		return cbor.Bool(v.Bool()), true
	case reflect.Int, reflect.Int32, reflect.Int64:
		if n := v.Int(); n < 0 {
			return cbor.NegInt(uint64(-(n + 1))), true
		} else {
			return cbor.Uint(uint64(n)), true
		}
	case reflect.Float64, reflect.Float32:
		return cbor.Float64(v.Float()), true
	}
	return nil, false
}

// cborToJSON turns an encoded-to-be CBOR value into what encoding/json
// writes for awsJson1_0: timestamps (tag 1) become epoch seconds.
func cborToJSON(v cbor.Value) any {
	switch x := v.(type) {
	case cbor.Map:
		m := make(map[string]any, len(x))
		for k, el := range x {
			m[k] = cborToJSON(el)
		}
		return m
	case cbor.List:
		l := make([]any, len(x))
		for i, el := range x {
			l[i] = cborToJSON(el)
		}
		return l
	case *cbor.Tag:
		return cborToJSON(x.Value)
	case cbor.String:
		return string(x)
	case cbor.Bool:
		return bool(x)
	case cbor.Uint:
		return uint64(x)
	case cbor.NegInt:
		return -1 - int64(x)
	case cbor.Float64:
		return float64(x)
	case cbor.Float32:
		return float64(x)
	}
	return nil
}
