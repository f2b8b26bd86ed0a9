package smoke

import (
	"encoding/json"
	"testing"

	"github.com/aliasflow/aliasflow/shared/config"
)

func TestAssertInvoke(t *testing.T) {
	const proxy = `{"statusCode":200,"headers":{"Content-Type":"application/json","content-type":"text/plain","X-Hello-Version":"5"},` +
		`"body":"{\"message\":\"Hello from Lambda World\",\"items\":[{\"id\":1},{\"id\":2}],\"meta\":{\"ok\":true}}"}`
	tests := []struct {
		name     string
		payload  string
		equals   map[string]any
		contains string
		want     string
	}{
		{name: "number equals whatever its spelling", payload: proxy, equals: map[string]any{"statusCode": 200.0}},
		{name: "array index inside the body", payload: proxy, equals: map[string]any{"body.items.1.id": 2}},
		{name: "object compared by content", payload: proxy, equals: map[string]any{"body.meta": map[string]any{"ok": true}}},
		{name: "exact key wins over case folding", payload: proxy, equals: map[string]any{"headers.content-type": "text/plain"}},
		{name: "ambiguous folded key is missing", payload: proxy, equals: map[string]any{"headers.CONTENT-TYPE": "application/json"},
			want: "headers.CONTENT-TYPE is missing"},
		{name: "folded key when unique", payload: proxy, equals: map[string]any{"headers.x-hello-version": "5"}},
		{name: "index out of range", payload: proxy, equals: map[string]any{"body.items.2.id": 3}, want: "body.items.2.id is missing"},
		{name: "index on an object", payload: proxy, equals: map[string]any{"body.meta.0": 3}, want: "body.meta.0 is missing"},
		{name: "path through a non-JSON string", payload: `{"body":"plain text"}`, equals: map[string]any{"body.message": "x"}, want: "body.message is missing"},
		{name: "type differs", payload: proxy, equals: map[string]any{"statusCode": "200"}, want: `statusCode = 200, want "200"`},
		{name: "null expected", payload: `{"error":null}`, equals: map[string]any{"error": nil}},
		{name: "contains in a JSON string answer", payload: `"Hello \"quoted\""`, contains: `Hello "quoted"`},
		{name: "contains in raw payload", payload: `{"greeting":"Hello"}`, contains: `"greeting"`},
		{name: "contains nowhere", payload: `{"statusCode":200,"body":42}`, contains: "Hello", want: `body does not contain "Hello"`},
		{name: "both failures reported", payload: proxy, equals: map[string]any{"statusCode": 500}, contains: "Goodbye",
			want: `statusCode = 200, want 500; body does not contain "Goodbye"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := assertInvoke([]byte(tc.payload), &config.InvokeCheck{JSONEquals: tc.equals, BodyContains: tc.contains})
			if got != tc.want {
				t.Errorf("assertInvoke = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzAssertInvoke: no payload or path makes the assertions panic, and a
// path read from a payload always finds the value it was built from.
func FuzzAssertInvoke(f *testing.F) {
	f.Add([]byte(`{"statusCode":200,"body":"{\"message\":\"hi\"}"}`), "body.message", "hi")
	f.Add([]byte(`[1,2,{"a":"b"}]`), "2.a", "b")
	f.Add([]byte(`"text"`), "x", "t")
	f.Fuzz(func(t *testing.T, payload []byte, path, contains string) {
		_ = assertInvoke(payload, &config.InvokeCheck{JSONEquals: map[string]any{path: "x"}, BodyContains: contains})
		var doc any
		if json.Unmarshal(payload, &doc) != nil {
			return
		}
		if v, ok := lookup(doc, path); ok {
			if detail := assertInvoke(payload, &config.InvokeCheck{JSONEquals: map[string]any{path: v}}); detail != "" {
				t.Errorf("path %q found %v but asserting it says %q", path, v, detail)
			}
		}
	})
}
