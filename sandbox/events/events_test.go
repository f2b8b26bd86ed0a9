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

// fakeInvoker records invokes and fails a function's first failures[fn] calls.
type fakeInvoker struct {
	mu       sync.Mutex
	calls    map[string][]string
	failures map[string]int
}

var _ core.Invoker = (*fakeInvoker)(nil)

func (f *fakeInvoker) Invoke(_ context.Context, fn, qualifier string, payload []byte) (core.InvokeResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string][]string{}
	}
	f.calls[fn] = append(f.calls[fn], string(payload))
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
	rules := []struct {
		name, pattern string
		targets       []types.Target
	}{
		{"release-requested", patternJSON(t, eventpatterns.ReleaseRequested()), []types.Target{{Id: aws.String("release"), Arn: aws.String(release)}}},
		{"codebuild", patternJSON(t, eventpatterns.CodeBuildSucceeded([]string{"hello-build"})), []types.Target{{Id: aws.String("release"), Arn: aws.String(release)}}},
		{"audit", `{"source":["aliasflow"],"detail-type":["Audit Record"]}`, []types.Target{{Id: aws.String("sm"), Arn: aws.String(sm), InputPath: aws.String("$.detail")}}},
	}
	for _, r := range rules {
		out, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(r.name), EventPattern: aws.String(r.pattern)})
		if err != nil {
			t.Fatalf("PutRule %s: %v", r.name, err)
		}
		if got, want := aws.ToString(out.RuleArn), RuleARN(r.name); got != want {
			t.Errorf("RuleArn = %s, want %s", got, want)
		}
		pt, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(r.name), Targets: r.targets})
		if err != nil || pt.FailedEntryCount != 0 {
			t.Fatalf("PutTargets %s: %v %+v", r.name, err, pt)
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
		wantAttempts int
		wantErr      bool
	}{
		{"succeeds first time", 0, 1, false},
		{"succeeds on second retry", 2, 3, false},
		{"gives up after two retries", 5, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := core.FunctionARN("aliasflow-release", "")
			inv := &fakeInvoker{failures: map[string]int{fn: tt.failures}}
			svc := New(inv, nil, &Options{RetryDelays: []time.Duration{0, 0}})
			c := newTestClient(t, svc)
			ctx := context.Background()
			if _, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["s"]}`)}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []types.Target{{Id: aws.String("t"), Arn: aws.String(fn)}}}); err != nil {
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
	if _, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("has-target"), EventPattern: aws.String(`{"source":["s"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("has-target"), Targets: []types.Target{{Id: aws.String("t"), Arn: aws.String(core.FunctionARN("f", ""))}}}); err != nil {
		t.Fatal(err)
	}
	elevenEntries := make([]types.PutEventsRequestEntry, 11)
	tests := []struct {
		name string
		call func() error
		want any
	}{
		{"describe missing rule", func() error {
			_, err := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("nope")})
			return err
		}, &types.ResourceNotFoundException{}},
		{"bad pattern", func() error {
			_, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":"x"}`)})
			return err
		}, &types.InvalidEventPatternException{}},
		{"targets of missing rule", func() error {
			_, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("nope"), Targets: []types.Target{{Id: aws.String("t"), Arn: aws.String(core.FunctionARN("f", ""))}}})
			return err
		}, &types.ResourceNotFoundException{}},
		{"delete rule with targets", func() error {
			_, err := c.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("has-target")})
			return err
		}, nil},
		{"too many entries", func() error {
			_, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: elevenEntries})
			return err
		}, nil},
		{"unknown bus on PutRule", func() error {
			_, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["x"]}`), EventBusName: aws.String("custom")})
			return err
		}, &types.ResourceNotFoundException{}},
		{"input transformer refused", func() error {
			_, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("has-target"), Targets: []types.Target{{Id: aws.String("x"), Arn: aws.String(core.FunctionARN("f", "")),
				InputTransformer: &types.InputTransformer{InputTemplate: aws.String(`"x"`)}}}})
			return err
		}, nil},
		{"unknown operation", func() error {
			_, err := c.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{})
			return err
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("got no error")
			}
			switch want := tt.want.(type) {
			case *types.ResourceNotFoundException:
				if !errors.As(err, &want) {
					t.Errorf("err = %v, want ResourceNotFoundException", err)
				}
			case *types.InvalidEventPatternException:
				if !errors.As(err, &want) {
					t.Errorf("err = %v, want InvalidEventPatternException", err)
				}
			}
			servicetest.WantStatus(t, err, http.StatusBadRequest)
		})
	}
	if _, err := c.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{}); err == nil || !strings.Contains(err.Error(), "AWSEvents.ListEventBuses") {
		t.Errorf("unknown operation error = %v, want it to name the operation", err)
	}
}

func TestRuleLifecycleAndSnapshot(t *testing.T) {
	ctx := context.Background()
	svc := New(nil, nil, nil)
	c := newTestClient(t, svc)
	fn := core.FunctionARN("aliasflow-release", "")
	for _, name := range []string{"b-rule", "a-rule"} {
		if _, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(`{"source":["s"]}`), Description: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("a-rule"), Targets: []types.Target{{Id: aws.String("t1"), Arn: aws.String(fn)}, {Id: aws.String("bad"), Arn: aws.String("arn:aws:sqs:us-east-1:000000000000:q")}}}); err != nil {
		t.Fatal(err)
	}
	lr, err := c.ListRules(ctx, &eventbridge.ListRulesInput{Limit: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(lr.Rules) != 1 || aws.ToString(lr.Rules[0].Name) != "a-rule" || aws.ToString(lr.NextToken) == "" {
		t.Fatalf("ListRules page 1 = %+v", lr)
	}
	lr2, err := c.ListRules(ctx, &eventbridge.ListRulesInput{NextToken: lr.NextToken})
	if err != nil || len(lr2.Rules) != 1 || aws.ToString(lr2.Rules[0].Name) != "b-rule" {
		t.Fatalf("ListRules page 2 = %+v, %v", lr2, err)
	}
	dr, err := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("a-rule")})
	if err != nil || dr.State != types.RuleStateEnabled || aws.ToString(dr.EventPattern) != `{"source":["s"]}` || aws.ToString(dr.EventBusName) != "default" {
		t.Fatalf("DescribeRule = %+v, %v", dr, err)
	}

	snap, err := svc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := New(nil, nil, nil)
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	rc := newTestClient(t, restored)
	lt, err := rc.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("a-rule")})
	if err != nil || len(lt.Targets) != 1 || aws.ToString(lt.Targets[0].Arn) != fn {
		t.Fatalf("restored ListTargetsByRule = %+v, %v (the sqs target must have been refused)", lt, err)
	}

	rt, err := c.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String("a-rule"), Ids: []string{"t1", "ghost"}})
	if err != nil || rt.FailedEntryCount != 1 || aws.ToString(rt.FailedEntries[0].TargetId) != "ghost" {
		t.Fatalf("RemoveTargets = %+v, %v", rt, err)
	}
	if _, err := c.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("a-rule")}); err != nil {
		t.Fatalf("DeleteRule: %v", err)
	}
	var nf *types.ResourceNotFoundException
	if _, err := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("a-rule")}); !errors.As(err, &nf) {
		t.Errorf("DescribeRule after delete: %v, want ResourceNotFoundException", err)
	}
}

func TestTestEventPattern(t *testing.T) {
	c := newTestClient(t, New(nil, nil, nil))
	out, err := c.TestEventPattern(context.Background(), &eventbridge.TestEventPatternInput{
		EventPattern: aws.String(`{"source":["aliasflow"]}`),
		Event:        aws.String(`{"id":"1","source":"aliasflow","detail-type":"x","account":"000000000000","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{}}`),
	})
	if err != nil || !out.Result {
		t.Errorf("TestEventPattern = %+v, %v; want true", out, err)
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
