package shift_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/audit/audittest"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/fakes/lambdafake"
	"github.com/aliasflow/aliasflow/shared/fakes/sfnfake"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift"
	"github.com/aws/aws-lambda-go/lambda/messages"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

const fn = "hello"

// env is one handler over fresh fakes, with its log and metric output.
type env struct {
	lam  *lambdafake.Fake
	cw   *fakeCloudWatch
	sf   *sfnfake.Fake
	bus  *audittest.Bus
	logs bytes.Buffer
	emf  bytes.Buffer
	now  time.Time
	// slept is each wait the handler asked for (none really happens).
	slept []time.Duration
	h     *shift.Handler
	// verifyOn rebuilds h to verify its callers with sf.
	verifyOn func(sf shift.Executions)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		lam: lambdafake.New(),
		cw:  newFakeCloudWatch(),
		sf:  sfnfake.New(),
		bus: &audittest.Bus{},
		now: time.Date(2025, 6, 2, 9, 30, 20, 0, time.UTC),
	}
	clock := func() time.Time { return e.now }
	log := slog.New(slog.NewJSONHandler(&e.logs, nil))
	rec := audit.New(log, e.bus, &audit.Options{Now: clock})
	e.sf.AddStateMachine(deploy.StateMachine)
	e.verifyOn = func(sf shift.Executions) {
		e.h = shift.New(e.lam, e.cw, sf, rec, metrics.New(&e.emf, clock), &shift.Options{Log: log, Now: clock,
			Sleep: func(_ context.Context, d time.Duration) error { e.slept = append(e.slept, d); return nil }})
	}
	e.verifyOn(e.sf)
	e.lam.AddFunction(fn, "c2hhLW9mLWhlbGxv", 6)
	e.cw.alarms["hello-prod-errors"] = fakeAlarm{state: cwtypes.StateValueOk}
	// A minute's datapoints are published a minute after it ends (the
	// requests' health.metricDelaySeconds in healthEnv).
	e.cw.now, e.cw.delay = clock, time.Minute
	return e
}

// shiftARN is the shift Lambda's ARN as the definition names it.
const shiftARN = "arn:aws:lambda:us-east-1:000000000000:function:" + deploy.ShiftFunction

// run invokes the handler as the promotion state machine does: the
// execution the request names is running and has just scheduled the
// request's task, with the request as its payload.
func (e *env) run(req promotion.TaskRequest) (*promotion.Shift, error) {
	schedule(e.sf, req)
	return e.h.Handle(ctx, req)
}

// schedule puts req's task on its execution in sf, starting the execution
// first when sf has none by that ARN.
func schedule(sf *sfnfake.Fake, req promotion.TaskRequest) {
	state := ""
	for s, a := range promotion.TaskActions {
		if a == req.Action {
			state = s
		}
	}
	if state == "" {
		return // an unknown action: nothing schedules it
	}
	if _, ok := sf.Execution(req.Execution); !ok {
		name := req.Execution[strings.LastIndex(req.Execution, ":")+1:]
		sf.Start(sfnfake.StateMachineARN(deploy.StateMachine), name, "{}")
	}
	payload, err := json.Marshal(req)
	if err != nil {
		panic(err)
	}
	params, _ := json.Marshal(map[string]any{"FunctionName": shiftARN, "Payload": json.RawMessage(payload)})
	sf.Schedule(req.Execution, state, string(params))
}

// load reads a task payload from testdata.
func load(t *testing.T, name string) promotion.TaskRequest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var req promotion.TaskRequest
	if err := json.Unmarshal(data, &req); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return req
}

// request is the testdata set-weight payload turned into action, at step.
func request(t *testing.T, action string, step int) promotion.TaskRequest {
	t.Helper()
	req := load(t, "set-weight.json")
	req.Action = action
	if action != promotion.ActionSetWeight {
		req.TaskToken = ""
	}
	s := req.Promotion.Steps[step]
	req.Promotion.Shift = &promotion.Shift{StableVersion: "4", Step: step, Weight: s.Weight, BakeSeconds: s.BakeSeconds}
	return req
}

// audits parses the audit records out of the JSON log lines.
func (e *env) audits(t *testing.T) []audit.Record {
	t.Helper()
	var out []audit.Record
	sc := bufio.NewScanner(bytes.NewReader(e.logs.Bytes()))
	for sc.Scan() {
		var probe struct {
			Audit bool `json:"audit"`
		}
		if err := json.Unmarshal(sc.Bytes(), &probe); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", sc.Text(), err)
		}
		if !probe.Audit {
			continue
		}
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// summary renders records as "event alias from>to @weight" for comparison.
func summary(recs []audit.Record) []string {
	out := []string{}
	for _, r := range recs {
		s := fmt.Sprintf("%s %s %s>%s", r.Event, r.Alias, r.FromVersion, r.ToVersion)
		if r.Weight != nil {
			s += " @" + strconv.FormatFloat(*r.Weight, 'f', -1, 64)
		}
		out = append(out, s)
	}
	return out
}

// metricsOut sums the EMF values written, by metric name.
func (e *env) metricsOut(t *testing.T) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(e.emf.Bytes()))
	for sc.Scan() {
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatalf("EMF line %q: %v", sc.Text(), err)
		}
		for _, name := range []string{metrics.PromotionsCompleted, metrics.PromotionsRolledBack, metrics.LeadTime} {
			if v, ok := doc[name].(float64); ok {
				out[name] += v
			}
		}
	}
	return out
}

// alias renders a stored alias as "4", "4 + 5@0.25" or "-" when missing.
func (e *env) alias(name string) string {
	a, ok := e.lam.Alias(fn, name)
	if !ok {
		return "-"
	}
	s := a.Version
	for _, v := range slices.Sorted(maps.Keys(a.Weights)) {
		s += " + " + v + "@" + strconv.FormatFloat(a.Weights[v], 'f', -1, 64)
	}
	return s
}

// errorName is the error type the Lambda runtime would report for err: a
// TaskError's name only when it is returned unwrapped.
func errorName(err error) string {
	if err == nil {
		return ""
	}
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		return ive.Type
	}
	return "go error"
}

// message is what the runtime reports as errorMessage: a TaskError's
// Message (its Error method prints Go syntax), else err.Error().
func message(err error) string {
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		return ive.Message
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

func wantErrorName(t *testing.T, err error, want string) {
	t.Helper()
	if got := errorName(err); got != want {
		t.Fatalf("error = %v (%s), want %s", err, got, want)
	}
}

func wantContains(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("%s = %q, want it to contain %q", what, got, want)
	}
}

func wantSummary(t *testing.T, e *env, want []string) []audit.Record {
	t.Helper()
	recs := e.audits(t)
	if got := summary(recs); !slices.Equal(got, want) {
		t.Errorf("audit records:\n got %q\nwant %q", got, want)
	}
	for _, r := range recs {
		if r.Function != fn || r.Time.IsZero() || r.Actor == "" {
			t.Errorf("audit record %+v lacks function, time or actor", r)
		}
	}
	return recs
}

// wantFlushed checks that each invocation that recorded something put its
// records on EventBridge in one call.
func wantFlushed(t *testing.T, e *env, calls int) {
	t.Helper()
	if e.bus.Calls() != calls || len(e.bus.Records()) != len(e.audits(t)) {
		t.Errorf("PutEvents calls = %d with %d entries, want %d calls with %d entries", e.bus.Calls(), len(e.bus.Records()), calls, len(e.audits(t)))
	}
}

// trim prints a float as the audit JSON does.
func trim(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// quote JSON-encodes s.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
