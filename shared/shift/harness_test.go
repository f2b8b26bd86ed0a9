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
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/audit/audittest"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

const fn = "hello"

// env is one handler over the sandbox's Lambda (sandboxtest.Lambda) and a
// CloudWatch fake, its callers verified against the promotion definition
// on the sandbox's interpreter, with its log and metric output.
type env struct {
	t   *testing.T
	lam *sandboxtest.Lambda
	// lambda is the handler's Lambda client: lam's unless a test wraps it.
	lambda shift.Lambda
	cw     *fakeCloudWatch
	sf     *executions
	bus    *audittest.Bus
	logs   bytes.Buffer
	emf    bytes.Buffer
	now    time.Time
	// slept is each wait the handler asked for (none really happens).
	slept []time.Duration
	h     *shift.Handler
	// verifyOn rebuilds h to verify its callers with sf.
	verifyOn func(sf shift.Executions)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		t:   t,
		lam: sandboxtest.NewLambda(t, sandboxtest.ActiveAtOnce),
		cw:  newFakeCloudWatch(),
		sf:  &executions{t: t},
		bus: &audittest.Bus{},
		now: time.Date(2025, 6, 2, 9, 30, 20, 0, time.UTC),
	}
	clock := func() time.Time { return e.now }
	log := slog.New(slog.NewJSONHandler(&e.logs, nil))
	rec := audit.New(log, e.bus, &audit.Options{Now: clock})
	e.lambda = e.lam.Client
	e.verifyOn = func(sf shift.Executions) {
		e.h = shift.New(e.lambda, e.cw, sf, rec, metrics.New(&e.emf, clock), &shift.Options{Log: log, Now: clock,
			Sleep: func(_ context.Context, d time.Duration) error { e.slept = append(e.slept, d); return nil }})
	}
	e.verifyOn(e.sf)
	e.lam.AddFunction(t, fn, 6)
	e.cw.alarms["hello-prod-errors"] = fakeAlarm{state: cwtypes.StateValueOk}
	// A minute's datapoints are published a minute after it ends (the
	// requests' health.metricDelaySeconds in healthEnv).
	e.cw.now, e.cw.delay = clock, time.Minute
	return e
}

// executions is the handler's Step Functions: the promotion definition on
// the sandbox's interpreter that schedule last ran a request to (a fresh
// one each time, its clock at the request's start), through a real SDK
// client. It logs the operations called.
type executions struct {
	t     *testing.T
	p     *sandboxtest.Promotion
	sfn   *sfn.Client
	mu    sync.Mutex
	calls []string
}

func (x *executions) client() *sfn.Client {
	if x.sfn == nil { // nothing scheduled yet: a definition with no executions
		x.use(sandboxtest.NewPromotion(x.t, sandboxtest.Unanswered()))
	}
	return x.sfn
}

func (x *executions) use(p *sandboxtest.Promotion) {
	x.p = p
	x.sfn = sfn.New(p.SFN.Options(), func(o *sfn.Options) {
		o.APIOptions = append(o.APIOptions, sandboxtest.Observe(func(op string) {
			x.mu.Lock()
			defer x.mu.Unlock()
			x.calls = append(x.calls, op)
		}))
	})
}

func (x *executions) DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	return x.client().DescribeExecution(ctx, in, opts...)
}

func (x *executions) GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, opts ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	return x.client().GetExecutionHistory(ctx, in, opts...)
}

// Calls lists the operations the handler called, in order.
func (x *executions) Calls() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.calls)
}

// Fail makes the next calls of op answer errs (sandboxtest.Promotion.Fail).
func (x *executions) Fail(op string, errs ...*core.APIError) {
	x.client()
	x.p.Fail(op, errs...)
}

// publish deploys new code to hello and publishes it, as a build and a
// release would, and returns the new version.
func (e *env) publish() string {
	e.t.Helper()
	e.lam.Deploy(e.t, fn)
	out, err := e.lam.Admin.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(fn)})
	if err != nil {
		e.t.Fatalf("publish %s: %v", fn, err)
	}
	return aws.ToString(out.Version)
}

// run invokes the handler as the promotion state machine does: the
// execution the request names is running and has just scheduled the
// request's task, with the request as its payload.
func (e *env) run(req promotion.TaskRequest) (*promotion.Shift, error) {
	e.t.Helper()
	schedule(e.t, e.sf, req)
	return e.h.Handle(ctx, req)
}

// schedule runs the promotion definition on a fresh sandbox interpreter,
// an execution named as req's with req's promotion input started at req's
// start time, answering its tasks with what req's promotion state holds
// (smoke, approval, shift, bake, failure), until the call of req's action
// is in flight: the history the handler reads is the interpreter's. A
// state the definition cannot reach is not scheduled: the wait for the
// call fails the test.
func schedule(t *testing.T, x *executions, req promotion.TaskRequest) {
	t.Helper()
	state := ""
	for s, a := range promotion.TaskActions {
		if a == req.Action {
			state = s
		}
	}
	if state == "" {
		return // an unknown action: nothing schedules it
	}
	p := sandboxtest.NewPromotion(t, sandboxtest.At(req.StartTime), sandboxtest.Unanswered())
	x.use(p)
	st := req.Promotion
	r := p.Attach(t, p.Start(t, promotion.ExecutionNameOf(req.Execution), st.Input))
	defer r.Await(req.Action)
	ok := sandboxtest.Return(map[string]any{})
	if req.Action == promotion.ActionRestoreStg {
		r.Answer(promotion.ActionSmoke, sandboxtest.Return(promotion.SmokeResult{Passed: false}))
		return
	}
	smoke := promotion.SmokeResult{Passed: true}
	if st.Smoke != nil {
		smoke = *st.Smoke
	}
	r.Answer(promotion.ActionSmoke, sandboxtest.Return(smoke)).AwaitApproval()
	failure := promotion.Failure{Error: promotion.ErrHealthCheckFailed, Cause: "error rate 100% > 5%"}
	if st.Failure != nil {
		failure = *st.Failure
	}
	if req.Action == promotion.ActionAbort {
		// The approval's task fails with the failure as it is, through
		// its Retry, until the Catch (as BeginShift's) aborts.
		for {
			n := len(p.Actions(r.ARN))
			if _, err := p.SFN.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(r.Token()),
				Error: aws.String(failure.Error), Cause: aws.String(failure.Cause)}); err != nil {
				t.Fatalf("fail the approval: %v", err)
			}
			p.AdvanceUntil(t, "the approval's retry or catch", time.Second, func() bool { return len(p.Actions(r.ARN)) > n })
			if acts := p.Actions(r.ARN); acts[len(acts)-1] != promotion.ActionRequest {
				return
			}
			r.AwaitApproval()
		}
	}
	decision := promotion.Decision{Approved: true, Approver: "lead@example.com", Via: "link"}
	if st.Approval != nil {
		decision = *st.Approval
	}
	r.Succeed(decision)
	r.Answer(promotion.ActionGranted, ok)
	if req.Action == promotion.ActionBegin {
		return
	}
	var shifted any = map[string]any{} // the shift function answered no shift
	if st.Shift != nil {
		shifted = *st.Shift
	}
	if req.Action == promotion.ActionFinalize {
		done := promotion.Shift{Done: true}
		if st.Shift != nil {
			done = *st.Shift
			done.Done = true // BeginShift's HasSteps goes on to Finalize
		}
		r.Answer(promotion.ActionBegin, sandboxtest.Return(done))
		return
	}
	if req.Action == promotion.ActionWarm && st.Shift != nil {
		// A warm step before the first weight: BeginShift's HasSteps goes
		// to Warm (a warm still warming carries its waits in the shift).
		first := *st.Shift
		first.Kind = string(plan.KindWarm)
		r.Answer(promotion.ActionBegin, sandboxtest.Return(first))
		return
	}
	// The Pause state waits on the shift a step went to: a closed window
	// at once (BeginShift's HasSteps), or after the step's bake the pause,
	// hold or approval step check-health answered (MoreSteps).
	pausing := req.Action == promotion.ActionPause || req.Action == promotion.ActionContinue
	if pausing && st.Shift != nil && st.Shift.Kind == string(plan.KindWindow) {
		r.Answer(promotion.ActionBegin, sandboxtest.Return(*st.Shift))
	} else {
		if pausing && st.Shift != nil {
			step := *st.Shift
			step.Kind = "" // the step's weight and bake before it
			shifted = step
		}
		r.Answer(promotion.ActionBegin, sandboxtest.Return(shifted))
		if req.Action == promotion.ActionSetWeight {
			return
		}
		// Set-weight returns the shift with prod as its write left it
		// (ResultPath $.shift): the definition's ResultSelector needs
		// every field.
		r.Answer(promotion.ActionSetWeight, sandboxtest.Return(shifted))
		if req.Action == promotion.ActionBake {
			return
		}
		r.AwaitBake()
		if pausing {
			r.TimeOut(time.Duration(st.Shift.BakeSeconds) * time.Second)
			r.Answer(promotion.ActionCheckHealth, sandboxtest.Return(*st.Shift))
			if st.Shift.Kind == string(plan.KindApproval) {
				// RequestStepApproval: the approval Lambda e-mails the
				// step's approvers before Pause waits.
				r.Answer(promotion.ActionRequest, ok)
			}
		}
	}
	if req.Action == promotion.ActionPause {
		return
	}
	if pausing {
		r.AwaitPause()
	}
	switch {
	case req.Action == promotion.ActionRollback:
		r.FailWaiting(failure.Error, failure.Cause)
	case st.Bake != nil && st.Bake.Error == "":
		r.Succeed(*st.Bake)
	default:
		r.TimeOut(time.Duration(st.Shift.BakeSeconds) * time.Second)
	}
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
	e.t.Helper()
	a, ok := e.lam.Alias(e.t, fn, name)
	if !ok {
		return "-"
	}
	s := aws.ToString(a.FunctionVersion)
	if a.RoutingConfig != nil {
		w := a.RoutingConfig.AdditionalVersionWeights
		for _, v := range slices.Sorted(maps.Keys(w)) {
			s += " + " + v + "@" + strconv.FormatFloat(w[v], 'f', -1, 64)
		}
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
