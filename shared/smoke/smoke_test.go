package smoke_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/audit/audittest"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/smoke"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
)

var ctx = context.Background()

// reply is one scripted HTTP answer.
type reply struct {
	status int
	body   string
}

// site is a stateful stage endpoint: it answers the scripted replies in
// order, repeating the last, and keeps what it was sent.
type site struct {
	mu       sync.Mutex
	replies  []reply
	requests []string
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Smoke")+" "+string(body))
	rep := s.replies[min(len(s.requests), len(s.replies))-1]
	s.mu.Unlock()
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

// env is a handler over the sandbox's Lambda, a fake clock and a stage
// server.
type env struct {
	t   *testing.T
	lam *sandboxtest.Lambda
	inv *invoker
	// answers is what each version of hello returns to an invoke.
	answers map[string]core.InvokeResult
	clock   *fakeClock
	bus     *audittest.Bus
	site    *site
	srv     *httptest.Server
	logs    bytes.Buffer
	sleeps  []time.Duration
	h       *smoke.Handler
}

func newEnv(t *testing.T, doer smoke.HTTPDoer) *env {
	t.Helper()
	e := &env{t: t, clock: &fakeClock{now: time.Date(2025, 6, 2, 9, 1, 0, 0, time.UTC)}, bus: &audittest.Bus{},
		site: &site{replies: []reply{{200, "Hello from Lambda World"}}}}
	e.answers = map[string]core.InvokeResult{"5": {Payload: read(t, "hello-response.json")}, "4": {Payload: []byte(`{"statusCode":200,"body":"old"}`)}}
	e.lam = sandboxtest.NewLambda(t, sandboxtest.ActiveAtOnce)
	e.lam.AddFunction(t, "hello", 5)
	e.lam.SetAlias(t, "hello", "stg", "5", nil)
	e.lam.SetAlias(t, "hello", "prod", "4", nil)
	e.lam.Code("hello", func(_ context.Context, c sandboxtest.Call) (core.InvokeResult, error) {
		return e.answers[c.Version], nil
	})
	e.inv = &invoker{client: e.lam.Client, clock: e.clock}
	e.srv = httptest.NewServer(e.site)
	t.Cleanup(e.srv.Close)
	if doer == nil {
		doer = e.srv.Client()
	}
	log := slog.New(slog.NewJSONHandler(&e.logs, nil))
	e.h = smoke.New(e.inv, audit.New(log, e.bus, &audit.Options{Now: e.clock.Now}), &smoke.Options{
		HTTP: doer, Log: log, Now: e.clock.Now,
		Sleep: func(_ context.Context, d time.Duration) error { e.sleeps = append(e.sleeps, d); return nil },
	})
	return e
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(data)
}

// request is the testdata payload with checks in place of its own.
func request(t *testing.T, checks ...config.SmokeCheck) promotion.TaskRequest {
	t.Helper()
	var req promotion.TaskRequest
	if err := json.Unmarshal(read(t, "smoke.json"), &req); err != nil {
		t.Fatal(err)
	}
	req.Promotion.Target.SmokeChecks = checks
	return req
}

func (e *env) audits(t *testing.T) []audit.Record {
	t.Helper()
	var out []audit.Record
	sc := bufio.NewScanner(bytes.NewReader(e.logs.Bytes()))
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if r.Audit {
			out = append(out, r)
		}
	}
	return out
}

func invoke(payload string, equals map[string]any, contains string) *config.InvokeCheck {
	c := &config.InvokeCheck{JSONEquals: equals, BodyContains: contains}
	if payload != "" {
		c.Payload = json.RawMessage(payload)
	}
	return c
}

func throttled() *core.APIError {
	return core.Errorf("TooManyRequestsException", http.StatusTooManyRequests, "Rate exceeded")
}

func TestChecks(t *testing.T) {
	tests := []struct {
		name         string
		check        config.SmokeCheck
		setup        func(e *env)
		doer         func(e *env) smoke.HTTPDoer
		wantPassed   bool
		wantAttempts int
		wantDetail   string
		wantSleeps   []time.Duration
		wantLatency  int64
	}{
		{name: "status code equals", check: config.SmokeCheck{Invoke: invoke("", map[string]any{"statusCode": 200}, "")},
			wantPassed: true, wantAttempts: 1, wantDetail: "invoke: ok (version 5)", wantLatency: 25},
		{name: "path into the proxy body", check: config.SmokeCheck{Invoke: invoke("", map[string]any{"body.message": "Hello from Lambda World", "body.version": "5"}, "")},
			wantPassed: true, wantAttempts: 1, wantDetail: "invoke: ok (version 5)", wantLatency: 25},
		{name: "header names ignore case", check: config.SmokeCheck{Invoke: invoke("", map[string]any{"headers.content-type": "application/json"}, "")},
			wantPassed: true, wantAttempts: 1, wantDetail: "invoke: ok (version 5)", wantLatency: 25},
		{name: "value differs", check: config.SmokeCheck{Invoke: invoke("", map[string]any{"statusCode": 201, "body.message": "Hello from Lambda"}, "")},
			wantAttempts: 1, wantDetail: `invoke: body.message = "Hello from Lambda World", want "Hello from Lambda"; statusCode = 200, want 201`, wantLatency: 25},
		{name: "path missing", check: config.SmokeCheck{Invoke: invoke("", map[string]any{"body.greeting": "hi"}, "")},
			wantAttempts: 1, wantDetail: "invoke: body.greeting is missing", wantLatency: 25},
		{name: "text in the decoded body", check: config.SmokeCheck{Invoke: invoke("", nil, `"message":"Hello from Lambda World"`)},
			wantPassed: true, wantAttempts: 1, wantDetail: "invoke: ok (version 5)", wantLatency: 25},
		{name: "text absent", check: config.SmokeCheck{Invoke: invoke("", nil, "Goodbye")},
			wantAttempts: 1, wantDetail: `invoke: body does not contain "Goodbye"`, wantLatency: 25},
		{name: "plain string answer", check: config.SmokeCheck{Invoke: invoke(`"ping"`, nil, "pong")},
			setup:      func(e *env) { e.answers["5"] = core.InvokeResult{Payload: []byte(`"pong from 5"`)} },
			wantPassed: true, wantAttempts: 1, wantDetail: "invoke: ok (version 5)", wantLatency: 25},
		{name: "answer is not JSON", check: config.SmokeCheck{Invoke: invoke("", map[string]any{"statusCode": 200}, "")},
			setup:        func(e *env) { e.answers["5"] = core.InvokeResult{Payload: []byte(`Hello`)} },
			wantAttempts: 1, wantDetail: "invoke: response is not JSON", wantLatency: 25},
		{name: "function error is not retried", check: config.SmokeCheck{Invoke: invoke("", nil, "Hello")},
			setup: func(e *env) {
				e.answers["5"] = core.InvokeResult{Payload: read(t, "hello-error.json"), FunctionError: "Unhandled"}
			},
			wantAttempts: 1, wantDetail: "invoke: function error (Unhandled) errorString: hello 5: injected failure (failure rate 1.00)", wantLatency: 25},
		{name: "stg moved to another version", check: config.SmokeCheck{Invoke: invoke("", nil, "Hello")},
			setup:        func(e *env) { e.lam.SetAlias(e.t, "hello", "stg", "4", nil) },
			wantAttempts: 1, wantDetail: "invoke: stg answered with version 4, not 5", wantLatency: 25},
		{name: "throttled then passes", check: config.SmokeCheck{Invoke: invoke("", nil, "Hello")},
			setup:      func(e *env) { e.lam.Fail("Invoke", throttled()) },
			wantPassed: true, wantAttempts: 2, wantDetail: "invoke: ok (version 5)", wantSleeps: []time.Duration{500 * time.Millisecond}, wantLatency: 25},
		{name: "service fault then passes", check: config.SmokeCheck{Invoke: invoke("", nil, "Hello")},
			setup: func(e *env) {
				internal := core.Errorf("ServiceException", http.StatusInternalServerError, "internal")
				e.lam.Fail("Invoke", internal, internal)
			},
			wantPassed: true, wantAttempts: 3, wantDetail: "invoke: ok (version 5)", wantSleeps: []time.Duration{500 * time.Millisecond, time.Second}, wantLatency: 25},
		{name: "timeout then passes", check: config.SmokeCheck{Invoke: invoke("", nil, "Hello"), TimeoutSeconds: 1},
			setup: func(e *env) {
				// The first invoke never answers: the check's timeout ends it.
				parked := false
				e.lam.Code("hello", func(ctx context.Context, c sandboxtest.Call) (core.InvokeResult, error) {
					if !parked {
						parked = true
						return sandboxtest.Park(ctx, c)
					}
					return e.answers[c.Version], nil
				})
			},
			wantPassed: true, wantAttempts: 2, wantDetail: "invoke: ok (version 5)", wantSleeps: []time.Duration{500 * time.Millisecond}, wantLatency: 25},
		// Lambda function states: a version is not invoked while Pending;
		// Lambda answers ResourceConflictException, and a SnapStart version
		// SnapStartNotReadyException, until it is Active.
		{name: "version Pending then passes", check: config.SmokeCheck{Invoke: invoke("", nil, "Hello")},
			setup: func(e *env) {
				e.lam.Fail("Invoke", core.Errorf("ResourceConflictException", http.StatusConflict, "The operation cannot be performed at this time. The function is currently in the following state: Pending"))
			},
			wantPassed: true, wantAttempts: 2, wantDetail: "invoke: ok (version 5)", wantSleeps: []time.Duration{500 * time.Millisecond}, wantLatency: 25},
		{name: "SnapStart not ready then passes", check: config.SmokeCheck{Invoke: invoke("", nil, "Hello")},
			setup: func(e *env) {
				e.lam.Fail("Invoke", core.Errorf("SnapStartNotReadyException", http.StatusConflict, "Lambda is initializing your function. It will be ready to invoke once your function state becomes ACTIVE."))
			},
			wantPassed: true, wantAttempts: 2, wantDetail: "invoke: ok (version 5)", wantSleeps: []time.Duration{500 * time.Millisecond}, wantLatency: 25},
		{name: "retries exhausted", check: config.SmokeCheck{Invoke: invoke("", nil, "Hello")},
			setup:        func(e *env) { e.lam.Fail("Invoke", throttled(), throttled(), throttled(), throttled()) },
			wantAttempts: 3, wantDetail: "invoke: TooManyRequestsException: Rate exceeded (after 3 attempts)",
			wantSleeps: []time.Duration{500 * time.Millisecond, time.Second}, wantLatency: 25},
		{name: "missing alias is not retried", check: config.SmokeCheck{Invoke: invoke("", nil, "Hello")},
			// The sandbox serves no DeleteAlias: Lambda's answer to an
			// invoke of a deleted alias is injected.
			setup: func(e *env) {
				e.lam.Fail("Invoke", core.Errorf("ResourceNotFoundException", http.StatusNotFound, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello:stg"))
			},
			wantAttempts: 1, wantDetail: "invoke: ResourceNotFoundException: Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello:stg", wantLatency: 25},
		{name: "http status and body", check: config.SmokeCheck{HTTP: &config.HTTPCheck{BodyContains: "World"}},
			wantPassed: true, wantAttempts: 1, wantDetail: "http: ok (200)"},
		{name: "http post with headers and body", check: config.SmokeCheck{HTTP: &config.HTTPCheck{Method: "POST", Headers: map[string]string{"X-Smoke": "yes"}, Body: `{"name":"World"}`, ExpectStatus: 201}},
			setup:      func(e *env) { e.site.replies = []reply{{201, "created"}} },
			wantPassed: true, wantAttempts: 1, wantDetail: "http: ok (201)"},
		{name: "http wrong status is not retried", check: config.SmokeCheck{HTTP: &config.HTTPCheck{}},
			setup:        func(e *env) { e.site.replies = []reply{{404, "no route"}} },
			wantAttempts: 1, wantDetail: "http: status 404, want 200"},
		{name: "http 503 then passes", check: config.SmokeCheck{HTTP: &config.HTTPCheck{BodyContains: "Hello"}},
			setup:      func(e *env) { e.site.replies = []reply{{503, "busy"}, {200, "Hello"}} },
			wantPassed: true, wantAttempts: 2, wantDetail: "http: ok (200)", wantSleeps: []time.Duration{500 * time.Millisecond}},
		{name: "http 503 exhausts retries", check: config.SmokeCheck{HTTP: &config.HTTPCheck{}},
			setup:        func(e *env) { e.site.replies = []reply{{503, "busy"}} },
			wantAttempts: 3, wantDetail: "http: status 503, want 200 (after 3 attempts)", wantSleeps: []time.Duration{500 * time.Millisecond, time.Second}},
		{name: "http expected 503", check: config.SmokeCheck{HTTP: &config.HTTPCheck{ExpectStatus: 503}},
			setup:      func(e *env) { e.site.replies = []reply{{503, "maintenance"}} },
			wantPassed: true, wantAttempts: 1, wantDetail: "http: ok (503)"},
		{name: "http body lacks text", check: config.SmokeCheck{HTTP: &config.HTTPCheck{BodyContains: "Goodbye"}},
			wantAttempts: 1, wantDetail: `http: body does not contain "Goodbye"`},
		{name: "http connection refused", check: config.SmokeCheck{HTTP: &config.HTTPCheck{}},
			setup:        func(e *env) { e.srv.Close() },
			wantAttempts: 3, wantDetail: "http: connection failed: connection refused (after 3 attempts)",
			wantSleeps: []time.Duration{500 * time.Millisecond, time.Second}},
		{name: "http timeout then passes", check: config.SmokeCheck{HTTP: &config.HTTPCheck{}, TimeoutSeconds: 2},
			doer: func(e *env) smoke.HTTPDoer {
				first := true
				return doerFunc(func(r *http.Request) (*http.Response, error) {
					if first {
						first = false
						return nil, &url.Error{Op: "Get", URL: r.URL.String(), Err: context.DeadlineExceeded}
					}
					return e.srv.Client().Do(r)
				})
			},
			wantPassed: true, wantAttempts: 2, wantDetail: "http: ok (200)", wantSleeps: []time.Duration{500 * time.Millisecond}},
		{name: "invoke and http both count", check: config.SmokeCheck{Invoke: invoke("", nil, "Hello"), HTTP: &config.HTTPCheck{}},
			setup:        func(e *env) { e.site.replies = []reply{{403, "forbidden"}} },
			wantAttempts: 2, wantDetail: "invoke: ok (version 5); http: status 403, want 200", wantLatency: 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			if tc.doer != nil {
				newEnvWith(t, e, tc.doer(e))
			}
			c := tc.check
			c.Name = "check"
			if c.TimeoutSeconds == 0 {
				c.TimeoutSeconds = 10
			}
			if c.HTTP != nil {
				c.HTTP.URL = e.srv.URL + "/stg/"
			}
			if tc.setup != nil {
				tc.setup(e)
			}
			res, err := e.h.Handle(ctx, request(t, c))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(res.Checks) != 1 {
				t.Fatalf("checks = %+v, want one", res.Checks)
			}
			got := res.Checks[0]
			if got.Passed != tc.wantPassed || res.Passed != tc.wantPassed {
				t.Errorf("passed = %v (result %v), want %v; detail %q", got.Passed, res.Passed, tc.wantPassed, got.Detail)
			}
			if got.Attempts != tc.wantAttempts {
				t.Errorf("attempts = %d, want %d", got.Attempts, tc.wantAttempts)
			}
			if got.Detail != tc.wantDetail {
				t.Errorf("detail = %q, want %q", got.Detail, tc.wantDetail)
			}
			if !slices.Equal(e.sleeps, tc.wantSleeps) {
				t.Errorf("sleeps = %v, want %v", e.sleeps, tc.wantSleeps)
			}
			if got.LatencyMs != tc.wantLatency {
				t.Errorf("latencyMs = %d, want %d", got.LatencyMs, tc.wantLatency)
			}
			for _, in := range e.inv.invoked() {
				if aws.ToString(in.FunctionName) != "hello" || aws.ToString(in.Qualifier) != "stg" {
					t.Errorf("invoked %s:%s, want hello:stg", aws.ToString(in.FunctionName), aws.ToString(in.Qualifier))
				}
			}
			if strings.Contains(got.Detail, e.srv.URL) {
				t.Errorf("detail %q shows the URL", got.Detail)
			}
			recs := e.audits(t)
			wantEvent := audit.SmokeFailed
			if tc.wantPassed {
				wantEvent = audit.SmokePassed
			}
			if len(recs) != 1 || recs[0].Event != wantEvent {
				t.Fatalf("audit = %+v, want one %s", recs, wantEvent)
			}
		})
	}
}

// newEnvWith rebuilds e's handler with another HTTP doer, keeping its fakes.
func newEnvWith(t *testing.T, e *env, doer smoke.HTTPDoer) {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(&e.logs, nil))
	e.h = smoke.New(e.inv, audit.New(log, e.bus, &audit.Options{Now: e.clock.Now}), &smoke.Options{
		HTTP: doer, Log: log, Now: e.clock.Now,
		Sleep: func(_ context.Context, d time.Duration) error { e.sleeps = append(e.sleeps, d); return nil },
	})
}

func TestInvokePayload(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    string
	}{
		{"configured payload", `{"httpMethod":"GET","path":"/"}`, `{"httpMethod":"GET","path":"/"}`},
		{"no payload sends an empty object", "", `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			if _, err := e.h.Handle(ctx, request(t, config.SmokeCheck{Name: "c", Invoke: invoke(tc.payload, nil, ""), TimeoutSeconds: 5})); err != nil {
				t.Fatal(err)
			}
			if len(e.inv.invoked()) != 1 || string(e.inv.invoked()[0].Payload) != tc.want {
				t.Fatalf("invokes = %d, payload %q; want one with %q", len(e.inv.invoked()), e.inv.invoked()[0].Payload, tc.want)
			}
		})
	}
}

func TestHTTPRequestSent(t *testing.T) {
	e := newEnv(t, nil)
	e.site.replies = []reply{{201, "created"}}
	c := config.SmokeCheck{Name: "post", TimeoutSeconds: 5, HTTP: &config.HTTPCheck{URL: e.srv.URL + "/stg/greet", Method: "POST",
		Headers: map[string]string{"X-Smoke": "yes"}, Body: `{"name":"World"}`, ExpectStatus: 201}}
	if _, err := e.h.Handle(ctx, request(t, c)); err != nil {
		t.Fatal(err)
	}
	want := []string{`POST /stg/greet yes {"name":"World"}`}
	if !slices.Equal(e.site.requests, want) {
		t.Errorf("requests = %q, want %q", e.site.requests, want)
	}
}

func TestResultAndAudit(t *testing.T) {
	tests := []struct {
		name       string
		checks     func(e *env) []config.SmokeCheck
		wantPassed bool
		wantNames  []string
		wantEvent  audit.Event
		wantReason string
	}{
		{name: "testdata checks pass", checks: func(e *env) []config.SmokeCheck {
			var req promotion.TaskRequest
			if err := json.Unmarshal(read(t, "smoke.json"), &req); err != nil {
				t.Fatal(err)
			}
			cs := req.Promotion.Target.SmokeChecks
			cs[1].HTTP.URL = e.srv.URL + "/stg/"
			return cs
		}, wantPassed: true, wantNames: []string{"greets", "stage answers"}, wantEvent: audit.SmokePassed, wantReason: "2 of 2 checks passed"},
		{name: "one failing check fails the release", checks: func(e *env) []config.SmokeCheck {
			return []config.SmokeCheck{
				{Name: "greets", TimeoutSeconds: 5, Invoke: invoke("", nil, "Hello")},
				{Name: "says goodbye", TimeoutSeconds: 5, Invoke: invoke("", nil, "Goodbye")},
			}
		}, wantPassed: false, wantNames: []string{"greets", "says goodbye"}, wantEvent: audit.SmokeFailed,
			wantReason: `1 of 2 checks failed: says goodbye (invoke: body does not contain "Goodbye")`},
		{name: "no checks configured", checks: func(e *env) []config.SmokeCheck { return nil },
			wantPassed: true, wantNames: []string{}, wantEvent: audit.SmokePassed, wantReason: "no smoke checks configured"},
		{name: "check with nothing to run", checks: func(e *env) []config.SmokeCheck {
			return []config.SmokeCheck{{Name: "empty", TimeoutSeconds: 5}}
		}, wantPassed: false, wantNames: []string{"empty"}, wantEvent: audit.SmokeFailed,
			wantReason: "1 of 1 checks failed: empty (the check has neither invoke nor http)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			req := request(t, tc.checks(e)...)
			res, err := e.h.Handle(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Passed != tc.wantPassed {
				t.Errorf("passed = %v, want %v (%+v)", res.Passed, tc.wantPassed, res.Checks)
			}
			names := []string{}
			for _, c := range res.Checks {
				names = append(names, c.Name)
			}
			if !slices.Equal(names, tc.wantNames) {
				t.Errorf("checks = %q, want %q", names, tc.wantNames)
			}
			// The definition's ResultSelector reads $.Payload.checks: a list, never null.
			data, _ := json.Marshal(res)
			if !strings.Contains(string(data), `"checks":[`) {
				t.Errorf("result JSON %s has no checks list", data)
			}
			recs := e.audits(t)
			if len(recs) != 1 {
				t.Fatalf("audit records = %+v, want exactly one", recs)
			}
			r := recs[0]
			if r.Event != tc.wantEvent || r.Reason != tc.wantReason || r.Alias != "stg" || r.ToVersion != "5" ||
				r.Function != "hello" || r.Execution != req.Execution || r.Release == nil || r.Release.Commit != "3f2a9c1" || r.Actor != "aliasflow" {
				t.Errorf("audit = %+v, want %s %q for stg v5 with execution and release", r, tc.wantEvent, tc.wantReason)
			}
			if e.bus.Calls() != 1 || len(e.bus.Records()) != 1 {
				t.Errorf("PutEvents calls = %d entries = %d, want one call with one entry", e.bus.Calls(), len(e.bus.Records()))
			}
		})
	}
}

// The release logs the records of its stg move and leaves their EventBridge
// copy to the promotion (promotion.Input.Announce): the smoke test task puts
// them there, stamped with the execution's start, in the one PutEvents call
// it makes for its own record — and logs none of them a second time.
func TestAnnouncedRecordsGoOutWithTheTasksOwn(t *testing.T) {
	e := newEnv(t, nil)
	req := request(t, config.SmokeCheck{Name: "greets", TimeoutSeconds: 5, Invoke: invoke("", nil, "Hello")})
	req.StartTime = time.Date(2025, 6, 2, 9, 0, 30, 0, time.UTC)
	moved := audit.Record{Audit: true, Event: audit.AliasMoved, Function: "hello", Alias: "stg", FromVersion: "4", ToVersion: "5",
		Release: &req.Promotion.Release, Execution: req.Execution, Actor: "ana@example.com"}
	published := moved
	published.Event, published.Alias, published.FromVersion = audit.ReleasePublished, "", ""
	for _, rec := range []audit.Record{published, moved} {
		raw, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		req.Promotion.Announce = append(req.Promotion.Announce, raw)
	}
	req.Promotion.Announce = append(req.Promotion.Announce, json.RawMessage(`{"not":"a record"}`))
	if _, err := e.h.Handle(ctx, req); err != nil {
		t.Fatal(err)
	}
	if e.bus.Calls() != 1 {
		t.Fatalf("PutEvents calls = %d, want 1", e.bus.Calls())
	}
	got := e.bus.Records()
	var events []audit.Event
	for _, r := range got {
		events = append(events, r.Event)
	}
	if want := []audit.Event{audit.ReleasePublished, audit.AliasMoved, audit.SmokePassed}; !slices.Equal(events, want) {
		t.Fatalf("EventBridge records = %v, want %v", events, want)
	}
	for i, want := range []audit.Record{published, moved} {
		want.Time = req.StartTime
		if g, w := jsonString(t, got[i]), jsonString(t, want); g != w {
			t.Errorf("EventBridge record %d\n got %s\nwant %s", i, g, w)
		}
	}
	if recs := e.audits(t); len(recs) != 1 || recs[0].Event != audit.SmokePassed {
		t.Errorf("logged audit records = %+v, want only smoke.passed (the release logged its own)", recs)
	}
	if !strings.Contains(e.logs.String(), "announced audit record skipped") {
		t.Errorf("the record that does not decode was not reported in the log:\n%s", e.logs.String())
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInvalidInput(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *promotion.TaskRequest)
		want   string
	}{
		{"wrong action", func(r *promotion.TaskRequest) { r.Action = "begin" }, `unknown action "begin"`},
		{"missing function", func(r *promotion.TaskRequest) { r.Promotion.Function = "" }, "function name is empty"},
		{"qualified function", func(r *promotion.TaskRequest) { r.Promotion.Function = "hello:stg" }, "without a qualifier"},
		{"missing version", func(r *promotion.TaskRequest) { r.Promotion.Version = "" }, "promotion.version"},
		{"$LATEST version", func(r *promotion.TaskRequest) { r.Promotion.Version = "$LATEST" }, "not a published version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			req := request(t, config.SmokeCheck{Name: "c", TimeoutSeconds: 5, Invoke: invoke("", nil, "Hello")})
			tc.mutate(&req)
			_, err := e.h.Handle(ctx, req)
			ive, ok := err.(messages.InvokeResponse_Error)
			if !ok || ive.Type != promotion.ErrInvalidInput {
				t.Fatalf("error = %#v, want an unwrapped %s", err, promotion.ErrInvalidInput)
			}
			if !strings.Contains(ive.Message, tc.want) {
				t.Errorf("message = %q, want it to contain %q", ive.Message, tc.want)
			}
			if len(e.inv.invoked()) != 0 || len(e.audits(t)) != 0 {
				t.Errorf("bad input invoked %d times and audited %d records; want nothing", len(e.inv.invoked()), len(e.audits(t)))
			}
		})
	}
}
