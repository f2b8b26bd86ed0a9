package asl

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := Decode([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func TestPathResolve(t *testing.T) {
	data := `{"a":{"b":[10,{"c":"x"}],"d e":1,"n":null},"list":[[1,2]]}`
	ctx := `{"Execution":{"Id":"arn"}}`
	tests := []struct {
		name    string
		path    string
		want    string
		wantErr bool
	}{
		{"root", "$", data, false},
		{"dotted", "$.a.b", `[10,{"c":"x"}]`, false},
		{"index", "$.a.b[0]", `10`, false},
		{"index then field", "$.a.b[1].c", `"x"`, false},
		{"bracket quoted", "$['a']['d e']", `1`, false},
		{"double quoted", `$["a"].n`, `null`, false},
		{"nested index", "$.list[0][1]", `2`, false},
		{"context", "$$.Execution.Id", `"arn"`, false},
		{"missing field", "$.a.zzz", "", true},
		{"index out of range", "$.a.b[5]", "", true},
		{"field of array", "$.a.b.c", "", true},
		{"index of object", "$.a[0]", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePath(tc.path)
			if err != nil {
				t.Fatalf("ParsePath(%q): %v", tc.path, err)
			}
			got, err := p.Resolve(mustDecode(t, data), mustDecode(t, ctx))
			if tc.wantErr {
				var pe *PathError
				if !errors.As(err, &pe) {
					t.Fatalf("Resolve(%q) = %v, %v; want a PathError", tc.path, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tc.path, err)
			}
			if !reflect.DeepEqual(got, mustDecode(t, tc.want)) {
				t.Errorf("Resolve(%q) = %s, want %s", tc.path, Encode(got), tc.want)
			}
		})
	}
}

func TestParsePathRefusesUnsupported(t *testing.T) {
	for _, p := range []string{"", "a.b", "$.a[*]", "$..a", "$.a[?(@.b)]", "$.a[0:2]", "$.a[-1]", "$.*", "$.a[", "$.", "$.a b", "$['a]"} {
		t.Run(p, func(t *testing.T) {
			if _, err := ParsePath(p); err == nil {
				t.Errorf("ParsePath(%q) succeeded, want an error", p)
			}
		})
	}
}

func TestResultPathSet(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		input   string
		want    string
		wantErr bool
	}{
		{"root replaces", "$", `{"a":1}`, `{"r":true}`, false},
		{"adds a field", "$.r", `{"a":1}`, `{"a":1,"r":{"r":true}}`, false},
		{"replaces a field", "$.a", `{"a":1}`, `{"a":{"r":true}}`, false},
		{"creates intermediate objects", "$.x.y", `{"a":1}`, `{"a":1,"x":{"y":{"r":true}}}`, false},
		{"into an array element", "$.l[1].v", `{"l":[{},{}]}`, `{"l":[{},{"v":{"r":true}}]}`, false},
		{"under a string", "$.a.b", `{"a":"s"}`, "", true},
		{"under null", "$.a.b", `{"a":null}`, "", true},
		{"into a non-object input", "$.a", `[1]`, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := ParsePath(tc.path)
			in := mustDecode(t, tc.input)
			before := Encode(in)
			got, err := p.Set(in, map[string]any{"r": true})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Set = %s, want an error", Encode(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			if !reflect.DeepEqual(got, mustDecode(t, tc.want)) {
				t.Errorf("Set = %s, want %s", Encode(got), tc.want)
			}
			if Encode(in) != before {
				t.Errorf("Set modified its input: %s, was %s", Encode(in), before)
			}
		})
	}
}

func TestTemplate(t *testing.T) {
	input := `{"name":"hello","n":3,"obj":{"k":"v"},"json":"{\"a\":[1,2]}","flag":true}`
	ctx := `{"Execution":{"Id":"arn:x"},"Task":{"Token":"tok"}}`
	tests := []struct {
		name    string
		tmpl    string
		want    string
		wantErr string
	}{
		{"literals pass through", `{"a":1,"b":"$.name","c":[1,{"d":null}]}`, `{"a":1,"b":"$.name","c":[1,{"d":null}]}`, ""},
		{"paths", `{"n.$":"$.n","o.$":"$.obj","all.$":"$"}`, `{"n":3,"o":{"k":"v"},"all":` + input + `}`, ""},
		{"context", `{"id.$":"$$.Execution.Id","token.$":"$$.Task.Token"}`, `{"id":"arn:x","token":"tok"}`, ""},
		{"nested objects and arrays", `{"p":{"x.$":"$.n","l":[{"y.$":"$.name"}]}}`, `{"p":{"x":3,"l":[{"y":"hello"}]}}`, ""},
		{"States.Format", `{"s.$":"States.Format('Hi {}, n={} f={} o={}', $.name, $.n, $.flag, null)"}`, `{"s":"Hi hello, n=3 f=true o=null"}`, ""},
		{"States.Format escapes", `{"s.$":"States.Format('\\{\\} {} it\\'s', $.name)"}`, `{"s":"{} hello it's"}`, ""},
		{"States.StringToJson", `{"v.$":"States.StringToJson($.json)"}`, `{"v":{"a":[1,2]}}`, ""},
		{"States.JsonToString", `{"v.$":"States.JsonToString($.obj)"}`, `{"v":"{\"k\":\"v\"}"}`, ""},
		{"States.Array", `{"v.$":"States.Array($.n, 'x', States.Array(1, 2.5))"}`, `{"v":[3,"x",[1,2.5]]}`, ""},
		{"missing path", `{"v.$":"$.nope"}`, "", "path"},
		{"StringToJson of non-JSON", `{"v.$":"States.StringToJson($.name)"}`, "", "intrinsic"},
		{"Format of an object", `{"v.$":"States.Format('{}', $.obj)"}`, "", "intrinsic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := CompileTemplate(mustDecode(t, tc.tmpl), "/Parameters")
			if err != nil {
				t.Fatalf("CompileTemplate: %v", err)
			}
			got, err := tmpl.Eval(mustDecode(t, input), mustDecode(t, ctx))
			switch tc.wantErr {
			case "":
				if err != nil {
					t.Fatalf("Eval: %v", err)
				}
				if !reflect.DeepEqual(got, mustDecode(t, tc.want)) {
					t.Errorf("Eval = %s, want %s", Encode(got), tc.want)
				}
			case "path":
				var pe *PathError
				if !errors.As(err, &pe) {
					t.Errorf("Eval err = %v, want a PathError", err)
				}
			case "intrinsic":
				var ie *IntrinsicError
				if !errors.As(err, &ie) {
					t.Errorf("Eval err = %v, want an IntrinsicError", err)
				}
			}
		})
	}
}

func TestCompileTemplateRefuses(t *testing.T) {
	tests := map[string]string{
		"unsupported intrinsic":    `{"v.$":"States.UUID()"}`,
		"unknown function":         `{"v.$":"States.Nope($.a)"}`,
		"not a path":               `{"v.$":"name"}`,
		"non-string .$ value":      `{"v.$":3}`,
		"both forms of a field":    `{"v":1,"v.$":"$.a"}`,
		"Format arity mismatch":    `{"v.$":"States.Format('{} {}', $.a)"}`,
		"unterminated string":      `{"v.$":"States.Format('abc)"}`,
		"trailing garbage":         `{"v.$":"States.Array(1) x"}`,
		"JsonToString two args":    `{"v.$":"States.JsonToString($.a, $.b)"}`,
		"bad argument":             `{"v.$":"States.Array(foo)"}`,
		"wildcard path in a value": `{"v.$":"$.a[*]"}`,
	}
	for name, tmpl := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := CompileTemplate(mustDecode(t, tmpl), "/Parameters"); err == nil {
				t.Errorf("CompileTemplate(%s) succeeded, want an error", tmpl)
			}
		})
	}
}

func choiceState(t *testing.T, rules string) *State {
	t.Helper()
	def := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":` + rules + `,"Default":"D"},"D":{"Type":"Succeed"},"Y":{"Type":"Succeed"}}}`
	d, err := Load([]byte(def))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return d.States["C"]
}

func TestChoiceRules(t *testing.T) {
	input := `{"s":"hello","n":5,"f":2.5,"b":true,"t":"2026-11-21T09:00:00Z","t2":"2026-11-22T00:00:00+01:00","nil":null,"other":"hello","m":7}`
	tests := []struct {
		name string
		rule string
		want string // "Y", "D" or "error"
	}{
		{"StringEquals", `{"Variable":"$.s","StringEquals":"hello"}`, "Y"},
		{"StringEquals mismatch", `{"Variable":"$.s","StringEquals":"bye"}`, "D"},
		{"StringEquals on a number is false", `{"Variable":"$.n","StringEquals":"5"}`, "D"},
		{"StringEqualsPath", `{"Variable":"$.s","StringEqualsPath":"$.other"}`, "Y"},
		{"StringLessThan", `{"Variable":"$.s","StringLessThan":"world"}`, "Y"},
		{"StringGreaterThan", `{"Variable":"$.s","StringGreaterThan":"world"}`, "D"},
		{"StringLessThanEquals", `{"Variable":"$.s","StringLessThanEquals":"hello"}`, "Y"},
		{"StringGreaterThanEquals", `{"Variable":"$.s","StringGreaterThanEquals":"hello"}`, "Y"},
		{"StringMatches", `{"Variable":"$.s","StringMatches":"h*o"}`, "Y"},
		{"StringMatches escaped star", `{"Variable":"$.s","StringMatches":"h\\*o"}`, "D"},
		{"NumericEquals", `{"Variable":"$.n","NumericEquals":5.0}`, "Y"},
		{"NumericLessThan", `{"Variable":"$.f","NumericLessThan":3}`, "Y"},
		{"NumericGreaterThan", `{"Variable":"$.n","NumericGreaterThan":5}`, "D"},
		{"NumericLessThanEquals", `{"Variable":"$.n","NumericLessThanEquals":5}`, "Y"},
		{"NumericGreaterThanEquals", `{"Variable":"$.n","NumericGreaterThanEquals":6}`, "D"},
		{"NumericLessThanPath", `{"Variable":"$.n","NumericLessThanPath":"$.m"}`, "Y"},
		{"NumericEquals on a string is false", `{"Variable":"$.s","NumericEquals":5}`, "D"},
		{"BooleanEquals", `{"Variable":"$.b","BooleanEquals":true}`, "Y"},
		{"BooleanEqualsPath", `{"Variable":"$.b","BooleanEqualsPath":"$.b"}`, "Y"},
		{"TimestampEquals across zones", `{"Variable":"$.t2","TimestampEquals":"2026-11-21T23:00:00Z"}`, "Y"},
		{"TimestampLessThan", `{"Variable":"$.t","TimestampLessThan":"2026-11-21T09:00:01Z"}`, "Y"},
		{"TimestampGreaterThanPath", `{"Variable":"$.t2","TimestampGreaterThanPath":"$.t"}`, "Y"},
		{"TimestampLessThanEquals", `{"Variable":"$.t","TimestampLessThanEquals":"2026-11-21T09:00:00Z"}`, "Y"},
		{"TimestampGreaterThanEquals", `{"Variable":"$.t","TimestampGreaterThanEquals":"2026-11-22T09:00:00Z"}`, "D"},
		{"Timestamp on a non-timestamp is false", `{"Variable":"$.s","TimestampEquals":"2026-11-21T09:00:00Z"}`, "D"},
		{"IsPresent true", `{"Variable":"$.s","IsPresent":true}`, "Y"},
		{"IsPresent on a missing path", `{"Variable":"$.zzz","IsPresent":false}`, "Y"},
		{"IsNull", `{"Variable":"$.nil","IsNull":true}`, "Y"},
		{"IsString", `{"Variable":"$.n","IsString":true}`, "D"},
		{"IsNumeric", `{"Variable":"$.f","IsNumeric":true}`, "Y"},
		{"IsBoolean", `{"Variable":"$.b","IsBoolean":true}`, "Y"},
		{"IsTimestamp", `{"Variable":"$.t","IsTimestamp":true}`, "Y"},
		{"And", `{"And":[{"Variable":"$.s","StringEquals":"hello"},{"Variable":"$.n","NumericEquals":5}]}`, "Y"},
		{"Or", `{"Or":[{"Variable":"$.s","StringEquals":"x"},{"Variable":"$.n","NumericEquals":5}]}`, "Y"},
		{"Not", `{"Not":{"Variable":"$.s","StringEquals":"hello"}}`, "D"},
		{"missing Variable is a runtime error", `{"Variable":"$.zzz","StringEquals":"x"}`, "error"},
		{"missing *Path value is a runtime error", `{"Variable":"$.s","StringEqualsPath":"$.zzz"}`, "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rule map[string]any
			if err := json.Unmarshal([]byte(tc.rule), &rule); err != nil {
				t.Fatal(err)
			}
			rule["Next"] = "Y"
			st := choiceState(t, "["+Encode(rule)+"]")
			got, err := st.Choose(mustDecode(t, input), map[string]any{})
			if tc.want == "error" {
				if err == nil || err.Name != ErrRuntime {
					t.Errorf("Choose = %q, %v; want a %s error", got, err, ErrRuntime)
				}
				return
			}
			if err != nil {
				t.Fatalf("Choose: %v", err)
			}
			if got != tc.want {
				t.Errorf("Choose = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestChooseNoMatchWithoutDefault(t *testing.T) {
	d, err := Load([]byte(`{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"Next":"Y"}]},"Y":{"Type":"Succeed"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, cerr := d.States["C"].Choose(map[string]any{}, nil)
	if cerr == nil || cerr.Name != ErrNoChoiceMatched {
		t.Errorf("Choose = %v, want %s", cerr, ErrNoChoiceMatched)
	}
}

func TestRetrierDelay(t *testing.T) {
	tests := []struct {
		name    string
		r       Retrier
		attempt int
		random  float64
		want    time.Duration
	}{
		{"first retry is the interval", Retrier{IntervalSeconds: 2, BackoffRate: 2}, 0, 1, 2 * time.Second},
		{"backoff grows", Retrier{IntervalSeconds: 2, BackoffRate: 2}, 3, 1, 16 * time.Second},
		{"fractional rate", Retrier{IntervalSeconds: 30, BackoffRate: 1.5}, 2, 1, 67500 * time.Millisecond},
		{"capped by MaxDelaySeconds", Retrier{IntervalSeconds: 1, BackoffRate: 2, MaxDelaySeconds: 20}, 10, 1, 20 * time.Second},
		{"FULL jitter scales", Retrier{IntervalSeconds: 4, BackoffRate: 2, JitterStrategy: "FULL"}, 1, 0.25, 2 * time.Second},
		{"NONE jitter ignores random", Retrier{IntervalSeconds: 4, BackoffRate: 2, JitterStrategy: "NONE"}, 1, 0.25, 8 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Delay(tc.attempt, func() float64 { return tc.random }); got != tc.want {
				t.Errorf("Delay(%d) = %v, want %v", tc.attempt, got, tc.want)
			}
		})
	}
}

func TestMatchesError(t *testing.T) {
	tests := []struct {
		equals []string
		name   string
		want   bool
	}{
		{[]string{"States.ALL"}, "anything", true},
		{[]string{"States.ALL"}, ErrRuntime, false},
		{[]string{ErrRuntime}, ErrRuntime, false},
		{[]string{"States.TaskFailed"}, "Lambda.ServiceException", true},
		{[]string{"States.TaskFailed"}, ErrTimeout, false},
		{[]string{"a", "b"}, "b", true},
		{[]string{"a"}, "A", false},
	}
	for _, tc := range tests {
		if got := MatchesError(tc.equals, tc.name); got != tc.want {
			t.Errorf("MatchesError(%v, %q) = %v, want %v", tc.equals, tc.name, got, tc.want)
		}
	}
}

func TestRetryUsesFirstMatchingRetrierOnly(t *testing.T) {
	retriers := []Retrier{{ErrorEquals: []string{"X"}, MaxAttempts: 1}, {ErrorEquals: []string{"States.ALL"}, MaxAttempts: 5}}
	if i, ok := Retry(retriers, []int{0, 0}, "X"); i != 0 || !ok {
		t.Errorf("Retry(X, fresh) = %d,%v; want 0,true", i, ok)
	}
	if i, ok := Retry(retriers, []int{1, 0}, "X"); i != 0 || ok {
		t.Errorf("Retry(X, exhausted) = %d,%v; want 0,false (no fall-through to States.ALL)", i, ok)
	}
	if i, ok := Retry(retriers, []int{1, 0}, "Y"); i != 1 || !ok {
		t.Errorf("Retry(Y) = %d,%v; want 1,true", i, ok)
	}
}

func TestLoadPromotionDefinition(t *testing.T) {
	b, err := os.ReadFile("../../../infra/statemachine/promotion.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(b)
	if err != nil {
		t.Fatalf("Load(promotion.asl.json): %v", err)
	}
	// 27, and the plan's Pause and Continue, Warm and WarmWait, and
	// RequestStepApproval before an approval step's Pause (issue 20).
	if d.StartAt != "Mode" || len(d.States) != 32 {
		t.Errorf("StartAt %q with %d states, want Mode with 32", d.StartAt, len(d.States))
	}
	if w := d.States["WarmWait"]; w.SecondsPath.String() != "$.shift.bakeSeconds" || w.Next != "Warm" {
		t.Errorf("WarmWait loaded as %+v", w)
	}
	if p := d.States["Pause"]; p.Integration != LambdaInvokeWait || p.TimeoutSecondsPath.String() != "$.shift.bakeSeconds" || len(p.Catch) != 2 {
		t.Errorf("Pause loaded as %+v", p)
	}
	rq := d.States["RequestApproval"]
	if rq.Integration != LambdaInvokeWait || rq.TimeoutSecondsPath.String() != "$.target.approvalTimeoutSeconds" || len(rq.Catch) != 3 {
		t.Errorf("RequestApproval loaded as %+v", rq)
	}
	if r := d.States["BeginShift"].Retry[0]; r.IntervalSeconds != 30 || r.MaxAttempts != 20 || r.BackoffRate != 1.5 || r.MaxDelaySeconds != 300 || r.JitterStrategy != "NONE" {
		t.Errorf("BeginShift's first retrier = %+v", r)
	}
}

func TestLoadRefuses(t *testing.T) {
	const ok = `{"Type":"Succeed"}`
	task := func(extra string) string {
		return `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"},"End":true` + extra + `}}}`
	}
	tests := []struct {
		name string
		def  string
		want string // a substring of the error
	}{
		{"not JSON", `{`, "INVALID_JSON_DESCRIPTION"},
		{"not an object", `[]`, "must be a JSON object"},
		{"no StartAt", `{"States":{"A":` + ok + `}}`, `"StartAt" is required`},
		{"StartAt names no state", `{"StartAt":"B","States":{"A":` + ok + `}}`, "Missing 'Next' target: B at /StartAt"},
		{"no States", `{"StartAt":"A"}`, `"States" is required`},
		{"unknown top-level field", `{"StartAt":"A","Foo":1,"States":{"A":` + ok + `}}`, `"Foo"`},
		{"JSONata", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":` + ok + `}}`, "JSONata"},
		{"Parallel", `{"StartAt":"A","States":{"A":{"Type":"Parallel","Branches":[],"End":true}}}`, `"Parallel" is not supported`},
		{"Map", `{"StartAt":"A","States":{"A":{"Type":"Map","End":true}}}`, `"Map" is not supported`},
		{"unknown type", `{"StartAt":"A","States":{"A":{"Type":"Nope"}}}`, "not a valid state type"},
		{"unknown state field", `{"StartAt":"A","States":{"A":{"Type":"Succeed","Bogus":1}}}`, `"Bogus"`},
		{"field of another type", `{"StartAt":"A","States":{"A":{"Type":"Succeed","Next":"A"}}}`, `"Next" is not a valid Succeed state field`},
		{"unsupported field", task(`,"Credentials":{}`), `"Credentials" is not supported`},
		{"Assign", task(`,"Assign":{"x":1}`), `"Assign" is not supported`},
		{"Next to nowhere", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`, "Missing 'Next' target: B at /States/A/Next"},
		{"both Next and End", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"A","End":true}}}`, "exactly one of Next"},
		{"neither Next nor End", `{"StartAt":"A","States":{"A":{"Type":"Pass"}}}`, "exactly one of Next"},
		{"unreachable state", `{"StartAt":"A","States":{"A":` + ok + `,"B":` + ok + `}}`, `State "B" is not reachable.`},
		{"no terminal state", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","Next":"A"}}}`, "MISSING_END_STATE"},
		{"unsupported resource", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","End":true}}}`, "sqs:sendMessage"},
		{"invoke without Parameters", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true}}}`, `"Parameters" is required`},
		{"invoke without FunctionName", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"Payload":{}},"End":true}}}`, "FunctionName"},
		{"unsupported invoke parameter", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","LogType":"Tail"},"End":true}}}`, `"LogType"`},
		{"async invoke", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","InvocationType":"Event"},"End":true}}}`, "RequestResponse"},
		{"waitForTaskToken without the token", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"FunctionName":"f"},"End":true}}}`, "$$.Task.Token"},
		{"TimeoutSeconds and TimeoutSecondsPath", task(`,"TimeoutSeconds":5,"TimeoutSecondsPath":"$.t"`), "both TimeoutSeconds and TimeoutSecondsPath"},
		{"zero TimeoutSeconds", task(`,"TimeoutSeconds":0`), "TimeoutSeconds"},
		{"heartbeat not below timeout", task(`,"TimeoutSeconds":5,"HeartbeatSeconds":5`), "HeartbeatSeconds must be smaller"},
		{"bad ResultPath", task(`,"ResultPath":"$.a[*]"`), "not supported"},
		{"ResultPath into the context", task(`,"ResultPath":"$$.a"`), "context object"},
		{"empty ErrorEquals", task(`,"Retry":[{"ErrorEquals":[]}]`), "ErrorEquals"},
		{"States.ALL not alone", task(`,"Retry":[{"ErrorEquals":["States.ALL","X"]}]`), "States.ALL must appear alone"},
		{"States.ALL not last", task(`,"Catch":[{"ErrorEquals":["States.ALL"],"Next":"T"},{"ErrorEquals":["X"],"Next":"T"}]`), "States.ALL must appear alone"},
		{"BackoffRate below 1", task(`,"Retry":[{"ErrorEquals":["X"],"BackoffRate":0.5}]`), "BackoffRate"},
		{"bad JitterStrategy", task(`,"Retry":[{"ErrorEquals":["X"],"JitterStrategy":"HALF"}]`), "JitterStrategy"},
		{"unknown retrier field", task(`,"Retry":[{"ErrorEquals":["X"],"Foo":1}]`), `"Foo"`},
		{"catcher without Next", task(`,"Catch":[{"ErrorEquals":["X"]}]`), `"Next" is required`},
		{"unsupported intrinsic", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"u.$":"States.UUID()"},"End":true}}}`, "States.UUID"},
		{"Choice without Choices", `{"StartAt":"C","States":{"C":{"Type":"Choice","Default":"C"}}}`, "Choices"},
		{"Choice rule without Next", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true}],"Default":"C"}}}`, `"Next" is required`},
		{"Choice rule with two operators", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"IsNull":true,"Next":"C"}]}}}`, "exactly one comparison"},
		{"Choice unknown operator", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","StringContains":"x","Next":"C"}]}}}`, `"StringContains"`},
		{"Choice value of the wrong type", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","NumericEquals":"1","Next":"C"}]}}}`, "must be a number"},
		{"Choice bad timestamp", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","TimestampEquals":"yesterday","Next":"C"}]}}}`, "RFC 3339"},
		{"nested rule with Next", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Not":{"Variable":"$.a","IsPresent":true,"Next":"C"},"Next":"C"}]}}}`, "nested Choice rule must not have Next"},
		{"Wait with two durations", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"SecondsPath":"$.s","End":true}}}`, "exactly one of Seconds"},
		{"Wait without duration", `{"StartAt":"W","States":{"W":{"Type":"Wait","End":true}}}`, "exactly one of Seconds"},
		{"Wait bad timestamp", `{"StartAt":"W","States":{"W":{"Type":"Wait","Timestamp":"2026-11-21 09:00","End":true}}}`, "RFC 3339"},
		{"Fail with Error and ErrorPath", `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","ErrorPath":"$.e"}}}`, "both Error and ErrorPath"},
		{"Fail with End", `{"StartAt":"F","States":{"F":{"Type":"Fail","End":true}}}`, `"End" is not a valid Fail state field`},
		{"Parameters not an object", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":[1],"End":true}}}`, "must be a JSON object"},
		{"InputPath not a string", `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":3,"End":true}}}`, "must be a string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Load([]byte(tc.def))
			if err == nil {
				t.Fatalf("Load succeeded (%d states), want an error containing %q", len(d.States), tc.want)
			}
			var de *DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("Load error %T, want *DefinitionError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadAccepts(t *testing.T) {
	defs := map[string]string{
		"legacy function ARN":    `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:f:prod","End":true}}}`,
		"every Wait form":        `{"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":0,"Next":"B"},"B":{"Type":"Wait","SecondsPath":"$.s","Next":"C"},"C":{"Type":"Wait","Timestamp":"2026-11-21T09:00:00Z","Next":"D"},"D":{"Type":"Wait","TimestampPath":"$.t","End":true}}}`,
		"null paths":             `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":null,"OutputPath":null,"ResultPath":null,"End":true}}}`,
		"comments everywhere":    `{"Comment":"c","Version":"1.0","TimeoutSeconds":60,"StartAt":"C","States":{"C":{"Type":"Choice","Comment":"c","Choices":[{"Comment":"r","Variable":"$.a","IsPresent":true,"Next":"F"}],"Default":"F"},"F":{"Type":"Fail","Comment":"c","ErrorPath":"$.e","CausePath":"States.Format('x {}', $.c)"}}}`,
		"QueryLanguage JSONPath": `{"QueryLanguage":"JSONPath","StartAt":"S","States":{"S":{"Type":"Succeed"}}}`,
	}
	for name, def := range defs {
		t.Run(name, func(t *testing.T) {
			if _, err := Load([]byte(def)); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
}

// FuzzLoadDefinition: the loader never panics, and what it accepts is
// internally consistent (every transition names a state).
func FuzzLoadDefinition(f *testing.F) {
	if b, err := os.ReadFile("../../../infra/statemachine/promotion.asl.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"x.$":"States.Format('{}', $.a)"},"Next":"B"},"B":{"Type":"Choice","Choices":[{"And":[{"Variable":"$.x","StringMatches":"*"}],"Next":"A"}],"Default":"C"},"C":{"Type":"Succeed"}}}`))
	f.Add([]byte(`{"StartAt":"W","States":{"W":{"Type":"Wait","TimestampPath":"$['t'][0]","End":true}}}`))
	f.Add([]byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"FunctionName":"f","Payload":{"t.$":"$$.Task.Token"}},"Retry":[{"ErrorEquals":["States.ALL"]}],"Catch":[{"ErrorEquals":["States.ALL"],"Next":"T"}],"End":true}}}`))
	f.Add([]byte(`{"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"States.JsonToString(States.Array(1,'a'))"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Load(b)
		if err != nil {
			var de *DefinitionError
			if !errors.As(err, &de) || len(de.Problems) == 0 {
				t.Fatalf("Load error %v is not a DefinitionError with problems", err)
			}
			return
		}
		if d.States[d.StartAt] == nil {
			t.Fatalf("accepted a definition whose StartAt %q is not a state", d.StartAt)
		}
		for name, s := range d.States {
			for _, next := range append([]string{s.Next, s.Default}, catchNexts(s)...) {
				if next != "" && d.States[next] == nil {
					t.Fatalf("accepted state %s whose transition %q names no state", name, next)
				}
			}
			if (s.Type == TypeTask || s.Type == TypePass || s.Type == TypeWait) && (s.Next == "") == !s.End {
				t.Fatalf("accepted state %s with Next %q and End %v", name, s.Next, s.End)
			}
		}
	})
}

func catchNexts(s *State) []string {
	var out []string
	for _, c := range s.Catch {
		out = append(out, c.Next)
	}
	for _, r := range s.Choices {
		out = append(out, r.Next)
	}
	return out
}
