// Package wire serves the fakes of shared/fakes over HTTP the way AWS
// serves the real APIs, so that the real aws-sdk-go-v2 clients can call
// them: restJson1 (Lambda: members as named, errors in X-Amzn-Errortype)
// and awsJson1.0 (Step Functions: members in camelCase, errors in __type),
// timestamps as epoch seconds. It encodes the SDK's own output structs by
// reflection, so a fake returns exactly what it returns in-process.
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/aws/smithy-go"
)

// Style is how member names are spelled on the wire.
type Style int

// The two JSON protocols of the fakes.
const (
	// RestJSON keeps member names as the SDK spells them (Lambda).
	RestJSON Style = iota
	// AWSJSON spells them in camelCase (Step Functions).
	AWSJSON
)

var timeType = reflect.TypeOf(time.Time{})

// Value turns an SDK struct into the JSON document the service would send.
func Value(v any, style Style) any { return value(reflect.ValueOf(v), style) }

func value(v reflect.Value, style Style) any {
	switch v.Kind() {
	case reflect.Invalid:
		return nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return value(v.Elem(), style)
	case reflect.Struct:
		if v.Type() == timeType {
			t := v.Interface().(time.Time)
			return json.Number(fmt.Sprintf("%.3f", float64(t.UnixMilli())/1000))
		}
		out := map[string]any{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Name == "ResultMetadata" {
				continue
			}
			fv := v.Field(i)
			if (fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Map || fv.Kind() == reflect.Slice || fv.Kind() == reflect.Interface) && fv.IsNil() {
				continue
			}
			if fv.Kind() == reflect.String && fv.Len() == 0 {
				continue // an unset enum
			}
			name := f.Name
			if style == AWSJSON {
				r := []rune(name)
				r[0] = unicode.ToLower(r[0])
				name = string(r)
			}
			out[name] = value(fv, style)
		}
		return out
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Bytes() // base64, as blobs are sent
		}
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = value(v.Index(i), style)
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		for _, k := range v.MapKeys() {
			out[fmt.Sprint(k.Interface())] = value(v.MapIndex(k), style)
		}
		return out
	}
	return v.Interface()
}

// Write answers 200 (or status) with v encoded in style.
func Write(w http.ResponseWriter, status int, v any, style Style) {
	body, err := json.Marshal(Value(v, style))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if style == AWSJSON {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// WriteError answers an error the way the protocol carries it: its code
// from smithy.APIError (InternalFailure for anything else) with status.
func WriteError(w http.ResponseWriter, err error, style Style, status func(code string) int) {
	code, msg := "InternalFailure", err.Error()
	var api smithy.APIError
	if errors.As(err, &api) {
		code, msg = api.ErrorCode(), api.ErrorMessage()
	}
	st := http.StatusInternalServerError
	if code != "InternalFailure" {
		st = status(code)
	}
	body := map[string]any{"message": msg}
	if style == AWSJSON {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		body["__type"] = code
	} else {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Errortype", code)
		body["Type"] = "User"
		body["Message"] = msg
	}
	b, _ := json.Marshal(body)
	w.WriteHeader(st)
	_, _ = w.Write(b)
}

// Decode decodes a request body into an SDK input struct: encoding/json
// matches member names case-insensitively, which covers both styles. An
// empty body decodes as {}.
func Decode(body []byte, v any) error {
	if strings.TrimSpace(string(body)) == "" {
		return nil
	}
	return json.Unmarshal(body, v)
}
