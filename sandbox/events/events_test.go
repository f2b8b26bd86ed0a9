package events

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// fakeInvoker records invokes, throttles a function's first throttles[fn]
// calls (no concurrency free) and fails its next failures[fn] calls.
type fakeInvoker struct {
	mu        sync.Mutex
	calls     map[string][]string
	failures  map[string]int
	throttles map[string]int
}

var _ core.Invoker = (*fakeInvoker)(nil)

func (f *fakeInvoker) Invoke(_ context.Context, fn, qualifier string, payload []byte) (core.InvokeResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string][]string{}
	}
	f.calls[fn] = append(f.calls[fn], string(payload))
	if f.throttles[fn] > 0 {
		f.throttles[fn]--
		return core.InvokeResult{}, core.Errorf("TooManyRequestsException", 429, "Rate Exceeded.")
	}
	if f.failures[fn] > 0 {
		f.failures[fn]--
		return core.InvokeResult{FunctionError: "Unhandled", Payload: []byte(`{"errorType":"boom","errorMessage":"boom"}`)}, nil
	}
	return core.InvokeResult{Payload: []byte(`null`), ExecutedVersion: "$LATEST"}, nil
}

type fakeStarter struct {
	mu     sync.Mutex
	inputs []string
}

var _ core.ExecutionStarter = (*fakeStarter)(nil)

func (f *fakeStarter) StartExecution(_ context.Context, sm, name, input string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, input)
	return strings.Replace(sm, ":stateMachine:", ":execution:", 1) + ":" + name, nil
}

func newTestClient(t *testing.T, svc *Service) *eventbridge.Client {
	t.Helper()
	cfg := servicetest.Config(t, "events", svc)
	t.Cleanup(svc.Close)
	return eventbridge.NewFromConfig(cfg)
}

func patternJSON(t *testing.T, p map[string]any) string {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func drain(t *testing.T, svc *Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := svc.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPutEventsRoutesToTargets(t *testing.T) {
	ctx := context.Background()
	inv := &fakeInvoker{failures: map[string]int{}}
	st := &fakeStarter{}
	svc := New(inv, st, &Options{RetryDelays: []time.Duration{0, 0}})
	c := newTestClient(t, svc)

	release := core.FunctionARN("aliasflow-release", "")
	sm := "arn:aws:states:us-east-1:000000000000:stateMachine:audit-sink"
	// Rules and targets are set up through the Go API, as the worlds do
	// (nothing in the project calls PutRule or PutTargets).
	rules := []struct {
		name, pattern string
		targets       []Target
	}{
		{"release-requested", patternJSON(t, eventpatterns.ReleaseRequested()), []Target{{Id: "release", Arn: release}}},
		{"codebuild", patternJSON(t, eventpatterns.CodeBuildSucceeded([]string{"hello-build"})), []Target{{Id: "release", Arn: release}}},
		{"audit", `{"source":["aliasflow"],"detail-type":["Audit Record"]}`, []Target{{Id: "sm", Arn: sm, InputPath: "$.detail"}}},
	}
	for _, r := range rules {
		arn, err := svc.PutRule(RuleInput{Name: r.name, EventPattern: r.pattern})
		if err != nil {
			t.Fatalf("PutRule %s: %v", r.name, err)
		}
		if want := RuleARN(r.name); arn != want {
			t.Errorf("RuleArn = %s, want %s", arn, want)
		}
		if failed, err := svc.PutTargets(r.name, "", r.targets); err != nil || len(failed) != 0 {
			t.Fatalf("PutTargets %s: %v %+v", r.name, err, failed)
		}
	}

	detail, err := os.ReadFile("testdata/release-requested-detail.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		{Source: aws.String("aliasflow"), DetailType: aws.String("Release Requested"), Detail: aws.String(string(detail)), Time: aws.Time(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))},
		{Source: aws.String("aliasflow"), DetailType: aws.String("Audit Record"), Detail: aws.String(`{"audit":true,"event":"alias.moved"}`), EventBusName: aws.String("default")},
		{Source: aws.String("other"), DetailType: aws.String("Nothing"), Detail: aws.String(`{}`)},
	}})
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	if out.FailedEntryCount != 0 || len(out.Entries) != 3 || aws.ToString(out.Entries[0].EventId) == "" {
		t.Fatalf("PutEvents = %+v, want 3 accepted entries", out)
	}
	drain(t, svc)

	calls := inv.calls[release]
	if len(calls) != 1 {
		t.Fatalf("release invoked %d times, want 1", len(calls))
	}
	var ev Event
	if err := json.Unmarshal([]byte(calls[0]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Source != "aliasflow" || ev.DetailType != "Release Requested" || ev.Account != core.Account || ev.Region != core.Region ||
		ev.Version != "0" || ev.Time != "2026-11-21T10:00:00Z" || ev.ID != aws.ToString(out.Entries[0].EventId) || ev.Resources == nil {
		t.Errorf("envelope = %+v", ev)
	}
	if !strings.Contains(string(ev.Detail), `"requestedBy":"alice@example.com"`) {
		t.Errorf("detail = %s", ev.Detail)
	}
	if got, want := st.inputs, []string{`{"audit":true,"event":"alias.moved"}`}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("state machine inputs = %v, want %v (InputPath $.detail)", got, want)
	}
	if got := len(svc.Events()); got != 3 {
		t.Errorf("Events() = %d, want 3", got)
	}
	if got := len(svc.Deliveries()); got != 2 {
		t.Errorf("Deliveries() = %d, want 2", got)
	}
}

func TestLambdaAsyncRetries(t *testing.T) {
	tests := []struct {
		name         string
		failures     int
		throttles    int
		wantAttempts int
		wantErr      bool
	}{
		{"succeeds first time", 0, 0, 1, false},
		{"succeeds on second retry", 2, 0, 3, false},
		{"gives up after two retries", 5, 0, 3, true},
		// Throttled for want of concurrency, the event goes back to the
		// queue, tried again after 1 s, then 2 s…, none of them one of
		// the two retries ("How Lambda handles errors and retries with
		// asynchronous invocation").
		{"throttled back to the queue, then runs", 0, 2, 1, false},
		{"throttled, then fails its three attempts", 3, 2, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := core.FunctionARN("aliasflow-release", "")
			inv := &fakeInvoker{failures: map[string]int{fn: tt.failures}, throttles: map[string]int{fn: tt.throttles}}
			svc := New(inv, nil, &Options{RetryDelays: []time.Duration{0, 0}})
			c := newTestClient(t, svc)
			ctx := context.Background()
			if _, err := svc.PutRule(RuleInput{Name: "r", EventPattern: `{"source":["s"]}`}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.PutTargets("r", "", []Target{{Id: "t", Arn: fn}}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String(`{}`)}}}); err != nil {
				t.Fatal(err)
			}
			drain(t, svc)
			ds := svc.Deliveries()
			if len(ds) != 1 {
				t.Fatalf("deliveries = %+v, want 1", ds)
			}
			if got, want := len(inv.calls[fn]), tt.wantAttempts+tt.throttles; got != want {
				t.Errorf("invokes = %d, want %d (%d throttled)", got, want, tt.throttles)
			}
			if ds[0].Attempts != tt.wantAttempts || (ds[0].Err != "") != tt.wantErr {
				t.Errorf("delivery = attempts %d err %q, want attempts %d failed %v", ds[0].Attempts, ds[0].Err, tt.wantAttempts, tt.wantErr)
			}
		})
	}
}

func TestPutEventsEntryErrors(t *testing.T) {
	svc := New(nil, nil, nil)
	c := newTestClient(t, svc)
	tests := []struct {
		name     string
		entry    types.PutEventsRequestEntry
		wantCode string
	}{
		{"valid", types.PutEventsRequestEntry{Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String(`{"a":1}`)}, ""},
		{"missing source", types.PutEventsRequestEntry{DetailType: aws.String("d"), Detail: aws.String(`{}`)}, "InvalidArgument"},
		{"missing detail type", types.PutEventsRequestEntry{Source: aws.String("s"), Detail: aws.String(`{}`)}, "InvalidArgument"},
		{"missing detail", types.PutEventsRequestEntry{Source: aws.String("s"), DetailType: aws.String("d")}, "InvalidArgument"},
		{"detail not json", types.PutEventsRequestEntry{Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String(`{nope`)}, "MalformedDetail"},
		{"detail an array", types.PutEventsRequestEntry{Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String(`[1]`)}, "MalformedDetail"},
		{"unknown bus", types.PutEventsRequestEntry{Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String(`{}`), EventBusName: aws.String("nope")}, "ResourceNotFoundException"},
		// PutEventsResultEntry (EventBridge API Reference): only AWS services
		// emit events with an aws.* source.
		{"aws.codebuild source", types.PutEventsRequestEntry{Source: aws.String("aws.codebuild"), DetailType: aws.String("CodeBuild Build State Change"), Detail: aws.String(`{"build-status":"SUCCEEDED"}`)}, "NotAuthorizedForSourceException"},
		{"aws. prefix of a custom source", types.PutEventsRequestEntry{Source: aws.String("aws.mycompany"), DetailType: aws.String("d"), Detail: aws.String(`{}`)}, "NotAuthorizedForSourceException"},
		{"source merely containing aws.", types.PutEventsRequestEntry{Source: aws.String("myaws.app"), DetailType: aws.String("d"), Detail: aws.String(`{}`)}, ""},
	}
	var entries []types.PutEventsRequestEntry
	wantFailed := int32(0)
	for _, tt := range tests {
		entries = append(entries, tt.entry)
		if tt.wantCode != "" {
			wantFailed++
		}
	}
	// One request with several entries: each answer sits at its entry's index.
	out, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount != wantFailed {
		t.Errorf("FailedEntryCount = %d, want %d", out.FailedEntryCount, wantFailed)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := out.Entries[i]
			if aws.ToString(got.ErrorCode) != tt.wantCode {
				t.Errorf("ErrorCode = %q (%s), want %q", aws.ToString(got.ErrorCode), aws.ToString(got.ErrorMessage), tt.wantCode)
			}
			if (tt.wantCode == "") == (aws.ToString(got.EventId) == "") {
				t.Errorf("EventId = %q with ErrorCode %q", aws.ToString(got.EventId), tt.wantCode)
			}
		})
	}
}

// TestPutEventsOverSizeFailsTheWholeCall: the 256 KB limit is on the
// entries of one call together, measured as "Calculating Amazon
// EventBridge PutEvents event entry size" says (14 bytes for Time, the
// UTF-8 bytes of Source, DetailType, Detail and each resource); over it,
// the call fails as a whole with ValidationException and nothing is put.
func TestPutEventsOverSizeFailsTheWholeCall(t *testing.T) {
	inv := &fakeInvoker{}
	svc := New(inv, nil, &Options{RetryDelays: []time.Duration{}})
	c := newTestClient(t, svc)
	ctx := context.Background()
	if _, err := svc.PutRule(RuleInput{Name: "all", EventPattern: `{"source":["app"]}`}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutTargets("all", "", []Target{{Id: "f", Arn: core.FunctionARN("f", "")}}); err != nil {
		t.Fatal(err)
	}
	// entry builds an entry of exactly n bytes by the documented measure.
	entry := func(n int, withTime bool) types.PutEventsRequestEntry {
		e := types.PutEventsRequestEntry{Source: aws.String("app"), DetailType: aws.String("d"), Resources: []string{"arn:aws:s3:::b"}}
		fixed := len("app") + len("d") + len("arn:aws:s3:::b") + len(`{"x":""}`)
		if withTime {
			e.Time = aws.Time(time.Unix(1_700_000_000, 0))
			fixed += 14
		}
		e.Detail = aws.String(`{"x":"` + strings.Repeat("é", (n-fixed)/2) + strings.Repeat("a", (n-fixed)%2) + `"}`)
		return e
	}
	const limit = 256 * 1024
	tests := []struct {
		name    string
		entries []types.PutEventsRequestEntry
		wantErr bool
	}{
		{"one entry at the limit", []types.PutEventsRequestEntry{entry(limit, false)}, false},
		{"one entry a byte over", []types.PutEventsRequestEntry{entry(limit+1, false)}, true},
		{"one entry at the limit counting Time as 14 bytes", []types.PutEventsRequestEntry{entry(limit, true)}, false},
		// Each entry is under the limit; together they are over it.
		{"three entries over the limit together", []types.PutEventsRequestEntry{entry(100_000, false), entry(100_000, true), entry(62_145, false)}, true},
		{"three entries at the limit together", []types.PutEventsRequestEntry{entry(100_000, false), entry(100_000, true), entry(62_144, false)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(svc.Events())
			out, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: tt.entries})
			var apiErr interface{ ErrorCode() string }
			switch {
			case tt.wantErr && (!errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException"):
				t.Fatalf("PutEvents = %+v, %v; want the call to fail with ValidationException", out, err)
			case tt.wantErr && len(svc.Events()) != before:
				t.Errorf("the failed call put %d events, want none", len(svc.Events())-before)
			case !tt.wantErr && (err != nil || out.FailedEntryCount != 0):
				t.Fatalf("PutEvents = %+v, %v; want every entry accepted", out, err)
			}
		})
	}
}

func TestAPIErrors(t *testing.T) {
	ctx := context.Background()
	svc := New(nil, nil, nil)
	c := newTestClient(t, svc)
	if _, err := svc.PutRule(RuleInput{Name: "has-target", EventPattern: `{"source":["s"]}`}); err != nil {
		t.Fatal(err)
	}
	fn := core.FunctionARN("f", "")
	elevenEntries := make([]types.PutEventsRequestEntry, 11)
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"bad pattern", func() error {
			_, err := svc.PutRule(RuleInput{Name: "r", EventPattern: `{"source":"x"}`})
			return err
		}, "InvalidEventPatternException"},
		{"targets of missing rule", func() error {
			_, err := svc.PutTargets("nope", "", []Target{{Id: "t", Arn: fn}})
			return err
		}, "ResourceNotFoundException"},
		{"unknown bus on PutRule", func() error {
			_, err := svc.PutRule(RuleInput{Name: "r", EventPattern: `{"source":["x"]}`, EventBusName: "custom"})
			return err
		}, "ResourceNotFoundException"},
		{"bad target id", func() error {
			_, err := svc.PutTargets("has-target", "", []Target{{Id: "has space", Arn: fn}})
			return err
		}, "ValidationException"},
		{"Input and InputPath", func() error {
			_, err := svc.PutTargets("has-target", "", []Target{{Id: "t", Arn: fn, Input: `{}`, InputPath: "$.detail"}})
			return err
		}, "ValidationException"},
		{"no targets", func() error {
			_, err := svc.PutTargets("has-target", "", nil)
			return err
		}, "ValidationException"},
		{"too many entries", func() error {
			_, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: elevenEntries})
			return err
		}, "ValidationException"},
		{"unknown operation", func() error {
			_, err := c.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{})
			return err
		}, "UnknownOperationException"},
		// Set up through the Go API only: nothing in the project calls them.
		{"PutRule not served", func() error {
			_, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["x"]}`)})
			return err
		}, "UnknownOperationException"},
		{"PutTargets not served", func() error {
			_, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("has-target"), Targets: []types.Target{{Id: aws.String("t"), Arn: aws.String(fn)}}})
			return err
		}, "UnknownOperationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			servicetest.WantError(t, tt.call(), tt.code, http.StatusBadRequest)
		})
	}
	if _, err := c.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{}); err == nil || !strings.Contains(err.Error(), "AWSEvents.ListEventBuses") {
		t.Errorf("unknown operation error = %v, want it to name the operation", err)
	}
}

// TestRulesSurviveSnapshot: rules and their targets (an SQS target refused
// as a failed entry) come back from a snapshot and route events.
func TestRulesSurviveSnapshot(t *testing.T) {
	svc := New(nil, nil, nil)
	fn := core.FunctionARN("aliasflow-release", "")
	for _, name := range []string{"b-rule", "a-rule"} {
		if _, err := svc.PutRule(RuleInput{Name: name, EventPattern: `{"source":["s"]}`, Description: name}); err != nil {
			t.Fatal(err)
		}
	}
	failed, err := svc.PutTargets("a-rule", "", []Target{{Id: "t1", Arn: fn}, {Id: "bad", Arn: "arn:aws:sqs:us-east-1:000000000000:q"}})
	if err != nil || len(failed) != 1 || failed[0].TargetId != "bad" {
		t.Fatalf("PutTargets = %+v, %v; want the sqs target failed", failed, err)
	}
	snap, err := svc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	inv := &fakeInvoker{}
	restored := New(inv, nil, nil)
	t.Cleanup(restored.Close)
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if _, err := restored.PutEvent("s", "x", `{}`, nil); err != nil {
		t.Fatal(err)
	}
	drain(t, restored)
	if n := len(inv.calls[fn]); n != 1 {
		t.Errorf("the restored rule invoked %s %d times, want 1", fn, n)
	}
}

// TestServiceEventsOnlyFromAWSServices: the Go API a client uses
// (PutEvent) refuses an aws.* source like PutEvents does; a service of the
// sandbox (CodeBuild) emits its events through EmitServiceEvent, which
// takes only aws.* sources, and they are routed like any other.
func TestServiceEventsOnlyFromAWSServices(t *testing.T) {
	inv := &fakeInvoker{}
	svc := New(inv, nil, &Options{RetryDelays: []time.Duration{}})
	t.Cleanup(svc.Close)
	release := core.FunctionARN("aliasflow-release", "")
	arn, err := svc.PutRule(RuleInput{Name: "codebuild-succeeded", EventPattern: patternJSON(t, eventpatterns.CodeBuildSucceeded([]string{"hello-build"}))})
	if err != nil || arn != RuleARN("codebuild-succeeded") {
		t.Fatalf("PutRule = %s, %v", arn, err)
	}
	if failed, err := svc.PutTargets("codebuild-succeeded", "", []Target{{Id: "release", Arn: release}}); err != nil || len(failed) != 0 {
		t.Fatalf("PutTargets = %v, %v", failed, err)
	}
	detail := `{"build-status":"SUCCEEDED","project-name":"hello-build","build-id":"arn:aws:codebuild:us-east-1:000000000000:build/hello-build:1"}`
	resources := []string{"arn:aws:codebuild:us-east-1:000000000000:build/hello-build:1"}
	var apiErr *core.APIError
	if _, err := svc.PutEvent(eventpatterns.CodeBuildSource, eventpatterns.CodeBuildDetailType, detail, resources); !errors.As(err, &apiErr) || apiErr.Code != "NotAuthorizedForSourceException" {
		t.Errorf("PutEvent of an aws.codebuild event = %v, want NotAuthorizedForSourceException", err)
	}
	if _, err := svc.EmitServiceEvent("aliasflow", "Release Requested", `{}`, nil); err == nil {
		t.Error("EmitServiceEvent with a custom source: want an error")
	}
	if _, err := svc.EmitServiceEvent(eventpatterns.CodeBuildSource, eventpatterns.CodeBuildDetailType, `not json`, nil); err == nil {
		t.Error("EmitServiceEvent with a malformed detail: want an error")
	}
	id, err := svc.EmitServiceEvent(eventpatterns.CodeBuildSource, eventpatterns.CodeBuildDetailType, detail, resources)
	if err != nil {
		t.Fatal(err)
	}
	drain(t, svc)
	if got := inv.calls[release]; len(got) != 1 || !strings.Contains(got[0], `"id":"`+id+`"`) || !strings.Contains(got[0], `"resources":["arn:aws:codebuild`) {
		t.Fatalf("release invoked with %v, want the event %s", got, id)
	}
	// At-least-once delivery: the same event (same id) again.
	if err := svc.Redeliver(id, 2); err != nil {
		t.Fatal(err)
	}
	drain(t, svc)
	if got := inv.calls[release]; len(got) != 3 || got[2] != got[0] {
		t.Errorf("after two redeliveries release was invoked %d times (%v), want 3 with the same event", len(got), got)
	}
	if err := svc.Redeliver("no-such-event", 1); err == nil {
		t.Error("Redeliver of an unknown event: want an error")
	}
}

// TestCustomBus: a custom bus's rules see only the events put on that bus,
// and the default bus's only the default bus's ("Event buses in Amazon
// EventBridge", EventBridge User Guide); a rule there is named
// rule/<bus>/<name>; a bus that does not exist fails its entries with
// ResourceNotFoundException; the bus and its rules survive a snapshot.
func TestCustomBus(t *testing.T) {
	ctx := context.Background()
	inv := &fakeInvoker{failures: map[string]int{}}
	svc := New(inv, nil, &Options{RetryDelays: []time.Duration{0, 0}})
	c := newTestClient(t, svc)
	const bus = "aliasflow-releases"
	busARN, err := svc.CreateEventBus(bus)
	if err != nil || busARN != "arn:aws:events:us-east-1:000000000000:event-bus/"+bus {
		t.Fatalf("CreateEventBus = %s, %v", busARN, err)
	}
	if _, err := svc.CreateEventBus(bus); err == nil || !strings.Contains(err.Error(), "ResourceAlreadyExistsException") {
		t.Errorf("second CreateEventBus = %v, want ResourceAlreadyExistsException", err)
	}
	onBus, onDefault := core.FunctionARN("on-bus", ""), core.FunctionARN("on-default", "")
	for _, r := range []struct{ bus, target, wantARN string }{
		{bus, onBus, "arn:aws:events:us-east-1:000000000000:rule/aliasflow-releases/release-requested"},
		{"", onDefault, "arn:aws:events:us-east-1:000000000000:rule/release-requested"},
	} {
		arn, err := svc.PutRule(RuleInput{Name: "release-requested", EventBusName: r.bus, EventPattern: patternJSON(t, eventpatterns.ReleaseRequested())})
		if err != nil || arn != r.wantARN {
			t.Fatalf("PutRule on %q = %s, %v; want %s", r.bus, arn, err, r.wantARN)
		}
		if failed, err := svc.PutTargets("release-requested", r.bus, []Target{{Id: "t", Arn: r.target}}); err != nil || len(failed) != 0 {
			t.Fatalf("PutTargets on %q: %v %+v", r.bus, err, failed)
		}
	}
	snap, err := svc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := New(inv, nil, &Options{RetryDelays: []time.Duration{0, 0}})
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	c2 := newTestClient(t, restored)
	entry := func(bus string) types.PutEventsRequestEntry {
		return types.PutEventsRequestEntry{Source: aws.String("aliasflow"), DetailType: aws.String("Release Requested"), Detail: aws.String(`{"function":"hello"}`), EventBusName: aws.String(bus)}
	}
	tests := []struct {
		name       string
		client     *eventbridge.Client
		svc        *Service
		bus        string
		wantTarget string
		wantError  string
	}{
		{name: "on the custom bus by name", client: c, svc: svc, bus: bus, wantTarget: onBus},
		{name: "on the custom bus by ARN", client: c, svc: svc, bus: busARN, wantTarget: onBus},
		{name: "on the default bus", client: c, svc: svc, bus: "default", wantTarget: onDefault},
		{name: "on a bus that does not exist", client: c, svc: svc, bus: "nope", wantError: "ResourceNotFoundException"},
		{name: "on the custom bus after a restore", client: c2, svc: restored, bus: bus, wantTarget: onBus},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv.mu.Lock()
			inv.calls = nil
			inv.mu.Unlock()
			out, err := tc.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry(tc.bus)}})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(out.Entries[0].ErrorCode); got != tc.wantError {
				t.Fatalf("entry error %q, want %q", got, tc.wantError)
			}
			drain(t, tc.svc)
			inv.mu.Lock()
			defer inv.mu.Unlock()
			var got []string
			for fn := range inv.calls {
				got = append(got, fn)
			}
			if want := tc.wantTarget; (want == "" && len(got) != 0) || (want != "" && (len(got) != 1 || got[0] != want)) {
				t.Errorf("delivered to %v, want %q", got, want)
			}
		})
	}
}

// Refuse fails every entry with the code given, the call succeeding, as
// EventBridge reports an entry it did not ingest; Refuse("") stops it and
// nothing refused was kept.
func TestRefuse(t *testing.T) {
	tests := []struct {
		name     string
		refuse   string
		wantCode string
		wantKept int
	}{
		{name: "no fault", wantKept: 1},
		{name: "access denied", refuse: "AccessDeniedException", wantCode: "AccessDeniedException"},
		{name: "throttled", refuse: "ThrottlingException", wantCode: "ThrottlingException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := New(nil, nil, nil)
			c := newTestClient(t, svc)
			svc.Refuse(tt.refuse)
			out, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
				{Source: aws.String("aliasflow"), DetailType: aws.String("t"), Detail: aws.String(`{}`)}}})
			if err != nil {
				t.Fatalf("PutEvents: %v", err)
			}
			if got := aws.ToString(out.Entries[0].ErrorCode); got != tt.wantCode {
				t.Errorf("entry error code = %q, want %q", got, tt.wantCode)
			}
			if got := len(svc.Events()); got != tt.wantKept {
				t.Errorf("events kept = %d, want %d", got, tt.wantKept)
			}
			svc.Refuse("")
			if out, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
				{Source: aws.String("aliasflow"), DetailType: aws.String("t"), Detail: aws.String(`{}`)}}}); err != nil || out.FailedEntryCount != 0 {
				t.Errorf("after Refuse(\"\"): %+v, %v; want the entry ingested", out, err)
			}
		})
	}
}
