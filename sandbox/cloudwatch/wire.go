package cwsvc

import (
	"reflect"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// CloudWatch speaks three protocols here: rpcv2Cbor (the Go SDK), awsQuery
// (the AWS CLI 2.9) and awsJson1_0 (recent botocore). The sandbox reads
// each against AWS's model into one tree typed by the model's shapes
// (model.Request.Input), which model.Request.Decode copies into an
// operation's typed input, so each operation is written once. Outputs are
// typed structs: XML-encoded for query (their xml tags say how), or turned
// into CBOR values by toCBOR using the same names (and from there into
// JSON, timestamps as epoch seconds).

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
