package smoke

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/aliasflow/aliasflow/shared/config"
)

// assertInvoke checks an invoke's response payload against the check's
// assertions and returns what failed, or "".
//
// jsonEquals paths are dotted: each segment is an object key (matched
// exactly, else case-insensitively when exactly one key matches, so
// "headers.content-type" finds "Content-Type") or an array index. When a
// segment lands on a string that holds JSON and more segments follow, the
// string is decoded and the path goes on inside it: "body.message" reads
// the message of an API Gateway proxy response's JSON body. Values are
// compared as decoded JSON, so 200 equals 200.0 and objects compare by
// content. Keys that contain dots cannot be addressed.
//
// bodyContains passes when the text is in the raw payload, in the payload
// when it is a JSON string, or in its "body" field (an API Gateway proxy
// response).
func assertInvoke(payload []byte, c *config.InvokeCheck) string {
	var doc any
	decodeErr := json.Unmarshal(payload, &doc)
	var failed []string
	for _, path := range slices.Sorted(maps.Keys(c.JSONEquals)) {
		if decodeErr != nil {
			return "response is not JSON"
		}
		want := normalize(c.JSONEquals[path])
		got, ok := lookup(doc, path)
		switch {
		case !ok:
			failed = append(failed, path+" is missing")
		case !reflect.DeepEqual(got, want):
			failed = append(failed, fmt.Sprintf("%s = %s, want %s", path, show(got), show(want)))
		}
	}
	if s := c.BodyContains; s != "" && !bodyContains(payload, doc, s) {
		failed = append(failed, fmt.Sprintf("body does not contain %q", clip(s, 80)))
	}
	return strings.Join(failed, "; ")
}

func bodyContains(payload []byte, doc any, s string) bool {
	if strings.Contains(string(payload), s) {
		return true
	}
	switch v := doc.(type) {
	case string:
		return strings.Contains(v, s)
	case map[string]any:
		body, ok := v["body"].(string)
		return ok && strings.Contains(body, s)
	}
	return false
}

// lookup resolves a dotted path in a decoded JSON document.
func lookup(doc any, path string) (any, bool) {
	cur := doc
	for _, seg := range strings.Split(path, ".") {
		if s, ok := cur.(string); ok {
			var inner any
			if json.Unmarshal([]byte(s), &inner) != nil {
				return nil, false
			}
			cur = inner
		}
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[seg]
			if !ok {
				next, ok = foldKey(v, seg)
			}
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// foldKey finds the one key equal to seg ignoring case.
func foldKey(m map[string]any, seg string) (any, bool) {
	var found any
	n := 0
	for k, v := range m {
		if strings.EqualFold(k, seg) {
			found, n = v, n+1
		}
	}
	return found, n == 1
}

// normalize gives a configured value the shape json.Unmarshal gives a
// response value (float64 numbers, map[string]any objects).
func normalize(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(data, &out) != nil {
		return v
	}
	return out
}

// show prints a value as short JSON for a check's detail.
func show(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return clip(string(data), 60)
}
