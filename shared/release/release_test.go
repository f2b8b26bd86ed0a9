package release

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

const (
	smARN   = sandboxtest.MachineARN
	sha1    = "Mr+fzT574LG8lCd0vLvog7fnzlEh7ArheipVwGxDNEY=" // names other functions' promotions
	buildID = "hello-build:8745a7a9-c340-456a-9166-edf953571bEX"
	commit  = "4f1c2e9b7a3d5e6f8091a2b3c4d5e6f708192a3b"
	// eventSha is the code hash the testdata events carry; readFile puts
	// sha2, the hash of the code the world deploys as the build, in its
	// place.
	eventSha = "9a7FMr2BtwI4GK/P4d1j8JPSLYHeV6H55HvtJVGI7T8="
)

// The builds' code: deployment packages, and the CodeSha256 Lambda gives
// them (base64 of their SHA-256).
var (
	codeV2, sha2 = build("hello v2")
	codeV3, sha3 = build("hello v3")
)

func build(greeting string) ([]byte, string) {
	zip, err := lambdasvc.ZipBootstrap([]byte("#!/bin/sh\necho " + greeting + "\n"))
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(zip)
	return zip, base64.StdEncoding.EncodeToString(sum[:])
}

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// world is the AWS the handler sees: the sandbox's Lambda with function
// hello, version 1 on stg and prod and a new build (sha2) in $LATEST, and
// the promotion definition on the sandbox's Step Functions, whose task
// calls wait until a test answers them (run).
type world struct {
	t      *testing.T
	cfg    *config.Config
	calls  *callLog
	lambda *sandboxtest.Lambda
	// clock is the Lambda's: each read moves it on a millisecond, and the
	// handler's sleeps move it on, so a version is Pending for as long as
	// Options.PublishDuration says.
	clock  *tickingClock
	states *sandboxtest.Promotion
	// hook, when set, runs at each AWS call the handler makes, before it
	// goes out.
	hook   func(op string)
	builds *sandboxtest.CodeBuild
	bus    *sandboxtest.Events
	logs   *syncBuffer
	emf    *syncBuffer
	slept  []time.Duration
	h      *Handler
}

// tickingClock moves on a millisecond each time it is read.
type tickingClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *tickingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

func (c *tickingClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func loadConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse(readFile(t, "testdata/config.json"))
	if err != nil {
		t.Fatalf("testdata/config.json: %v", err)
	}
	return cfg
}

// readFile reads a testdata file, with the build's code hash the world
// deploys (sha2) where the events carry theirs (eventSha).
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b, []byte(eventSha), []byte(sha2))
}

// setup is how newWorld makes the world.
type setup struct {
	publishFor time.Duration
	without    map[string]bool
}

// option changes the world newWorld makes.
type option func(*setup)

// pendingFor makes each published version Pending for d of the Lambda's
// clock, which the handler's sleeps move on; by default it is Active at
// the first read after the publish (the sandbox, as AWS, answers
// PublishVersion with the version Pending).
func pendingFor(d time.Duration) option { return func(s *setup) { s.publishFor = d } }

// without leaves hello with no alias name.
func without(name string) option { return func(s *setup) { s.without[name] = true } }

func newWorld(t *testing.T, opts ...option) *world {
	t.Helper()
	set := setup{publishFor: time.Nanosecond, without: map[string]bool{}}
	for _, o := range opts {
		o(&set)
	}
	w := &world{t: t, cfg: loadConfig(t), calls: &callLog{}, logs: &syncBuffer{}, emf: &syncBuffer{}, clock: &tickingClock{now: worldTime}}
	w.lambda = sandboxtest.NewLambda(t, func(o *lambdasvc.Options) { o.Clock, o.PublishDuration = w.clock.Now, set.publishFor })
	w.lambda.AddFunction(t, "hello", 1)
	for _, a := range []string{"stg", "prod"} {
		if !set.without[a] {
			w.lambda.SetAlias(t, "hello", a, "1", nil)
		}
	}
	w.lambda.DeployCode(t, "hello", codeV2)
	w.states = sandboxtest.NewPromotion(t, sandboxtest.Unanswered())
	observe := sandboxtest.Observe(w.observe)
	fns := lambda.New(w.lambda.Client.Options(), func(o *lambda.Options) { o.APIOptions = append(o.APIOptions, observe) })
	sf := sfn.New(w.states.SFN.Options(), func(o *sfn.Options) { o.APIOptions = append(o.APIOptions, observe) })
	w.builds = sandboxtest.NewCodeBuild(t)
	builds := codebuild.New(w.builds.Client.Options(), func(o *codebuild.Options) { o.APIOptions = append(o.APIOptions, observe) })
	w.bus = sandboxtest.NewEvents(t)
	bus := eventbridge.New(w.bus.Client.Options(), func(o *eventbridge.Options) { o.APIOptions = append(o.APIOptions, observe) })
	log := slog.New(slog.NewJSONHandler(w.logs, nil))
	now := func() time.Time { return worldTime }
	w.h = New(w.cfg, smARN, fns, sf, builds, audit.New(log, bus, &audit.Options{Now: now}), metrics.New(w.emf, now),
		&Options{Log: log, Sleep: func(_ context.Context, d time.Duration) error {
			w.slept = append(w.slept, d)
			w.clock.Advance(d)
			return nil
		}})
	return w
}

// observe logs a call the handler makes to Lambda or Step Functions and
// runs the hook.
func (w *world) observe(op string) {
	w.calls.add(op)
	if w.hook != nil {
		w.hook(op)
	}
}

// execution describes the execution of the promotion state machine named
// name; ok is false when there is none.
func (w *world) execution(name string) (ex *sfn.DescribeExecutionOutput, ok bool) {
	w.t.Helper()
	ex, err := w.states.SFN.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(promotion.ExecutionARN(smARN, name))})
	var missing *sfntypes.ExecutionDoesNotExist
	if errors.As(err, &missing) {
		return &sfn.DescribeExecutionOutput{}, false
	}
	if err != nil {
		w.t.Fatalf("DescribeExecution %s: %v", name, err)
	}
	return ex, true
}

// executions is how many executions the promotion state machine has.
func (w *world) executions() int {
	w.t.Helper()
	n := 0
	p := sfn.NewListExecutionsPaginator(w.states.SFN, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smARN)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			w.t.Fatalf("ListExecutions: %v", err)
		}
		n += len(out.Executions)
	}
	return n
}

// versions is how many versions hello has published.
func (w *world) versions() int {
	w.t.Helper()
	out, err := w.lambda.Admin.ListVersionsByFunction(context.Background(), &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("hello")})
	if err != nil {
		w.t.Fatalf("ListVersionsByFunction: %v", err)
	}
	return len(out.Versions) - 1 // less $LATEST
}

// alias is the version alias name of hello points at and its RevisionId
// and Description ("" when it does not exist).
func (w *world) alias(name string) (version string, a *lambda.GetAliasOutput) {
	w.t.Helper()
	a, ok := w.lambda.Alias(w.t, "hello", name)
	if !ok {
		return "", &lambda.GetAliasOutput{}
	}
	return aws.ToString(a.FunctionVersion), a
}

// run drives the execution named name (which the handler started) from
// where it rests, answering its task calls as the pipeline's functions do.
func (w *world) run(name string) *sandboxtest.Run {
	w.t.Helper()
	return w.states.Attach(w.t, promotion.ExecutionARN(smARN, name))
}

// add starts a promotion of another function, named name, awaiting approval.
func (w *world) add(fn, version string) string {
	w.t.Helper()
	target, _ := w.cfg.Lookup("hello")
	t := *target
	t.Function = fn
	r := w.states.Run(w.t, promotion.Input{Function: fn, Version: version, PreviousStgVersion: "1",
		Release: promotion.Release{CodeSha256: sha1, Source: SourceAliasflow}, Target: t, Steps: promotion.Plan(t.Strategy)})
	r.Smoke(true).AwaitApproval()
	return r.Name()
}

// updating is the answer of n PublishVersion calls while $LATEST's code
// update is in progress, as Lambda words it ("Lambda function states":
// calls that modify the function fail with ResourceConflictException while
// LastUpdateStatus is InProgress).
func updating(n int) []*core.APIError {
	errs := make([]*core.APIError, n)
	for i := range errs {
		errs[i] = core.Errorf("ResourceConflictException", http.StatusConflict,
			"The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:000000000000:function:hello")
	}
	return errs
}

// handle runs one event and returns the AWS calls it made.
func (w *world) handle(raw []byte) (Result, []string, error) {
	w.t.Helper()
	start := w.calls.len()
	res, err := w.h.Handle(context.Background(), raw)
	return res, w.calls.since(start), err
}

// audits parses the audit records out of the captured log.
func (w *world) audits() []audit.Record {
	w.t.Helper()
	var out []audit.Record
	sc := bufio.NewScanner(strings.NewReader(w.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var probe struct {
			Audit bool `json:"audit"`
		}
		if err := json.Unmarshal(sc.Bytes(), &probe); err != nil {
			w.t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		if !probe.Audit {
			continue
		}
		var rec audit.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			w.t.Fatalf("audit line: %v: %s", err, sc.Text())
		}
		out = append(out, rec)
	}
	return out
}

func auditEvents(recs []audit.Record) []audit.Event {
	out := make([]audit.Event, len(recs))
	for i, r := range recs {
		out[i] = r.Event
	}
	return out
}

func countOf(calls []string, op string) int {
	n := 0
	for _, c := range calls {
		if c == op {
			n++
		}
	}
	return n
}

func mutating(calls []string) []string {
	var out []string
	for _, c := range calls {
		if mutatingOps[c] {
			out = append(out, c)
		}
	}
	return out
}

// wantInput is the execution input the first attempt of a release builds:
// it announces the records of the stg move, as logged (the world's clock
// stands still), for the smoke test task to put on EventBridge
// (promotion.Input.Announce).
func wantInput(t *testing.T, w *world, version, prev string, rel promotion.Release) string {
	t.Helper()
	exec := promotion.ExecutionARN(smARN, promotion.ExecutionName("hello", version, rel.CodeSha256))
	var announce []json.RawMessage
	for _, rec := range []map[string]any{
		{"audit": true, "event": "release.published", "function": "hello", "toVersion": version, "release": rel, "actor": rel.Requester(), "execution": exec, "time": worldTime},
		{"audit": true, "event": "alias.moved", "function": "hello", "alias": "stg", "fromVersion": prev, "toVersion": version, "release": rel, "actor": rel.Requester(), "execution": exec, "time": worldTime},
	} {
		if prev == "" {
			delete(rec, "fromVersion")
		}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		announce = append(announce, b)
	}
	return marshalInput(t, w, version, prev, rel, announce)
}

// wantRetryInput is the input of a promotion a retry or a duplicate
// started, which announces nothing: a retry puts its records on
// EventBridge itself, and a duplicate records none.
func wantRetryInput(t *testing.T, w *world, version, prev string, rel promotion.Release) string {
	t.Helper()
	return marshalInput(t, w, version, prev, rel, nil)
}

// marshalInput is a promotion input as the release writes it, with the
// RevisionId stg has now (the one the release's move gave it).
func marshalInput(t *testing.T, w *world, version, prev string, rel promotion.Release, announce []json.RawMessage) string {
	t.Helper()
	target, _ := w.cfg.Lookup("hello")
	_, stg := w.alias("stg")
	if aws.ToString(stg.RevisionId) == "" {
		t.Fatal("stg has no RevisionId")
	}
	b, err := json.Marshal(promotion.Input{
		Function: "hello", Version: version, PreviousStgVersion: prev, Release: rel,
		Target: *target, Steps: promotion.Plan(target.Strategy), Announce: announce, StgRevision: aws.ToString(stg.RevisionId),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Compared as compact JSON, whatever the key order.
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(v)
	return string(b)
}

// worldTime is the world's clock, which stands still.
var worldTime = time.Date(2026, 3, 2, 16, 20, 0, 0, time.UTC)

var (
	codeBuildRelease = promotion.Release{Commit: commit, Build: buildID, CodeSha256: sha2, RequestedBy: "ana@example.com", VerifiedBy: "codebuild-webhook", Source: SourceCodeBuild}
	requestedRelease = promotion.Release{Commit: commit, CodeSha256: sha2, RequestedBy: "ben@example.com", Source: SourceAliasflow}
)

func TestHandleFreshRelease(t *testing.T) {
	// stg and prod both serve version 1: no promotion can be running before
	// BeginShift, so none is listed. One ListAliases reads stg and prod. No
	// PutEvents: the promotion announces the release on EventBridge. The
	// sandbox's Lambda, as AWS does not promise otherwise, answers
	// PublishVersion with the version Pending: one read after a second
	// finds it Active.
	settledCalls := []string{"PublishVersion", "ListAliases", "GetFunctionConfiguration", "UpdateAlias", "StartExecution"}
	tests := []struct {
		name    string
		event   string
		release promotion.Release
		// pending is how long the new version is Pending: reads come at
		// once (PublishVersion's answer), then after sleeps of 1 s, 2 s, 4 s.
		pending   time.Duration
		wantCalls []string
		wantSlept []time.Duration
	}{
		{name: "CodeBuild build state change", event: "testdata/codebuild-succeeded.json", release: codeBuildRelease, wantCalls: settledCalls, wantSlept: []time.Duration{time.Second}},
		{name: "Release Requested", event: "testdata/release-requested.json", release: requestedRelease, wantCalls: settledCalls, wantSlept: []time.Duration{time.Second}},
		{
			// Lambda function states: a published version may be Pending;
			// stg moves only once GetFunctionConfiguration says Active. The
			// budget of 6 calls holds, with the settings read on a cold cache.
			name: "version Pending for two reads", event: "testdata/codebuild-succeeded.json", release: codeBuildRelease, pending: 2 * time.Second,
			wantCalls: []string{"PublishVersion", "ListAliases", "GetFunctionConfiguration", "GetFunctionConfiguration", "UpdateAlias", "StartExecution"},
			wantSlept: []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name: "version Pending for three reads", event: "testdata/codebuild-succeeded.json", release: codeBuildRelease, pending: 5 * time.Second,
			wantCalls: []string{"PublishVersion", "ListAliases", "GetFunctionConfiguration", "GetFunctionConfiguration", "GetFunctionConfiguration", "UpdateAlias", "StartExecution"},
			wantSlept: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, pendingFor(tt.pending))
			res, calls, err := w.handle(readFile(t, tt.event))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			name := promotion.ExecutionName("hello", "2", sha2)
			want := Result{Outcome: Started, Function: "hello", Version: "2", Execution: promotion.ExecutionARN(smARN, name)}
			if res != want {
				t.Errorf("result = %+v, want %+v", res, want)
			}
			if !slices.Equal(calls, tt.wantCalls) {
				t.Errorf("calls = %v, want %v", calls, tt.wantCalls)
			}
			if !slices.Equal(w.slept, tt.wantSlept) {
				t.Errorf("slept %v, want %v", w.slept, tt.wantSlept)
			}
			if stg, _ := w.alias("stg"); stg != "2" {
				t.Errorf("stg = %s, want 2", stg)
			}
			if prod, _ := w.alias("prod"); prod != "1" {
				t.Errorf("prod = %s, want 1 (a release never moves prod)", prod)
			}
			ex, ok := w.execution(name)
			if !ok {
				t.Fatalf("no execution %s", name)
			}
			if got, want := canonical(t, aws.ToString(ex.Input)), wantInput(t, w, "2", "1", tt.release); got != want {
				t.Errorf("execution input\n got %s\nwant %s", got, want)
			}
			recs := w.audits()
			if got, want := auditEvents(recs), []audit.Event{audit.ReleasePublished, audit.AliasMoved}; !slices.Equal(got, want) {
				t.Fatalf("audit events = %v, want %v", got, want)
			}
			moved := recs[1]
			if moved.Alias != "stg" || moved.FromVersion != "1" || moved.ToVersion != "2" || moved.Function != "hello" {
				t.Errorf("alias.moved = %+v, want stg 1 → 2 of hello", moved)
			}
			if recs[0].ToVersion != "2" || recs[0].Release == nil || *recs[0].Release != tt.release {
				t.Errorf("release.published = %+v, want version 2 of %+v", recs[0], tt.release)
			}
			// The trail's records are the ones the promotion announces:
			// one record in two places.
			if got := len(w.bus.Details()); got != 0 {
				t.Errorf("the release put %d audit entries on EventBridge, want 0 (its promotion announces them)", got)
			}
			var in promotion.Input
			if err := json.Unmarshal([]byte(aws.ToString(ex.Input)), &in); err != nil || len(in.Announce) != 2 {
				t.Fatalf("input announces %d records (%v), want 2", len(in.Announce), err)
			}
			for i, raw := range in.Announce {
				var rec audit.Record
				if err := json.Unmarshal(raw, &rec); err != nil {
					t.Fatal(err)
				}
				if got, want := jsonOf(t, recs[i]), jsonOf(t, rec); got != want {
					t.Errorf("logged record %d\n got %s\nwant %s (the announced one)", i, got, want)
				}
			}
			if !strings.Contains(w.emf.String(), `"PromotionsStarted":1`) {
				t.Errorf("no PromotionsStarted metric in %q", w.emf.String())
			}
		})
	}
}

func TestHandleCreatesMissingStg(t *testing.T) {
	w := newWorld(t, without("stg"))
	res, calls, err := w.handle(readFile(t, "testdata/release-requested.json"))
	if err != nil || res.Outcome != Started {
		t.Fatalf("Handle = %+v, %v; want started", res, err)
	}
	if got := mutating(calls); !slices.Equal(got, []string{"PublishVersion", "CreateAlias", "StartExecution"}) {
		t.Errorf("mutating calls = %v, want PublishVersion, CreateAlias, StartExecution", got)
	}
	if stg, _ := w.alias("stg"); stg != "2" {
		t.Errorf("stg = %q, want version 2", stg)
	}
	ex, _ := w.execution(promotion.ExecutionName("hello", "2", sha2))
	if want := wantInput(t, w, "2", "", requestedRelease); canonical(t, aws.ToString(ex.Input)) != want {
		t.Errorf("input = %s, want %s", aws.ToString(ex.Input), want)
	}
	// A duplicate after the creation reproduces the same input.
	res, calls, err = w.handle(readFile(t, "testdata/release-requested.json"))
	if err != nil || res.Outcome != Duplicate || len(calls) > 3 {
		t.Errorf("duplicate = %+v, %v, calls %v; want duplicate in ≤ 3 calls", res, err, calls)
	}
}

func TestHandleLooksUpBuildVariables(t *testing.T) {
	exported := map[string]string{
		VarFunction: "hello", VarCodeSha256: sha2, VarCommit: commit, VarRequestedBy: "ana@example.com",
	}
	tests := []struct {
		name string
		// exported is what the build of the event exported; nil: CodeBuild
		// has no such build.
		exported map[string]string
		fail     *core.APIError
		// initiator is who BatchGetBuilds says started the build: the
		// release's verified requester and its audit actor.
		initiator   string
		wantOutcome Outcome
		wantErr     bool
		wantReason  string
	}{
		{name: "exported variables from BatchGetBuilds", exported: exported, wantOutcome: Started},
		{name: "initiator from BatchGetBuilds", exported: exported, initiator: "codepipeline/hello-pipeline", wantOutcome: Started},
		{name: "initiator with a control character", exported: exported, initiator: "ops\n\nApprove: https://evil.example/",
			wantOutcome: Refused, wantReason: "initiator: "},
		{name: "build exported no code hash", exported: map[string]string{VarFunction: "hello"}, wantOutcome: Refused, wantReason: VarCodeSha256},
		{name: "build unknown to CodeBuild", wantOutcome: Refused, wantReason: "no build " + buildID},
		{name: "BatchGetBuilds throttled", exported: exported, fail: throttled("BatchGetBuilds"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			event, id := readFile(t, "testdata/codebuild-succeeded-no-exported.json"), buildID
			if tt.exported != nil {
				id = w.build("hello-build", tt.initiator, tt.exported)
				event = bytes.ReplaceAll(event, []byte(buildID), []byte(id))
			}
			if tt.fail != nil {
				w.builds.Fail("BatchGetBuilds", tt.fail)
			}
			res, calls, err := w.handle(event)
			if asked := w.builds.Asked(); len(asked) != 1 || !slices.Equal(asked[0], []string{id}) {
				t.Errorf("BatchGetBuilds asked for %v, want [[%s]]", asked, id)
			}
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Handle = %+v, want an error for a transient failure", res)
				}
				if got := mutating(calls); len(got) != 0 {
					t.Errorf("mutating calls = %v, want none", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Outcome != tt.wantOutcome || !strings.Contains(res.Reason, tt.wantReason) {
				t.Errorf("result = %+v, want outcome %s with reason containing %q", res, tt.wantOutcome, tt.wantReason)
			}
			switch tt.wantOutcome {
			case Started:
				ex, _ := w.execution(promotion.ExecutionName("hello", "2", sha2))
				rel := codeBuildRelease
				rel.Build = id
				if tt.initiator != "" {
					rel.VerifiedBy = tt.initiator
				}
				if want := wantInput(t, w, "2", "1", rel); canonical(t, aws.ToString(ex.Input)) != want {
					t.Errorf("input = %s, want %s", aws.ToString(ex.Input), want)
				}
			case Refused:
				if got := mutating(calls); len(got) != 0 {
					t.Errorf("mutating calls = %v, want none", got)
				}
				if got := auditEvents(w.audits()); !slices.Equal(got, []audit.Event{audit.ReleaseRefused}) {
					t.Errorf("audit = %v, want one release.refused", got)
				}
			}
		})
	}
}

func TestHandleIgnoresUnsuccessfulBuilds(t *testing.T) {
	for _, f := range []string{"codebuild-failed.json", "codebuild-in-progress.json", "codebuild-stopped.json"} {
		t.Run(f, func(t *testing.T) {
			w := newWorld(t)
			res, calls, err := w.handle(readFile(t, filepath.Join("testdata", f)))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Outcome != Ignored || res.Reason == "" {
				t.Errorf("result = %+v, want ignored with a reason", res)
			}
			if len(calls) != 0 {
				t.Errorf("calls = %v, want none", calls)
			}
			if recs := w.audits(); len(recs) != 0 {
				t.Errorf("audit = %v, want none for an ignored build", auditEvents(recs))
			}
		})
	}
}

func TestHandleRetriesWhenStgChangesUnderneath(t *testing.T) {
	tests := []struct {
		name      string
		conflicts int // UpdateAlias calls preceded by another writer
		wantErr   bool
	}{
		{name: "one concurrent writer, then success", conflicts: 1},
		{name: "two concurrent writers, then success", conflicts: 2},
		{name: "stg keeps changing: bounded", conflicts: 10, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			left := tt.conflicts
			for range left {
				w.lambda.Before("UpdateAlias", func() {
					w.lambda.SetAlias(t, "hello", "stg", "1", nil) // same version, new RevisionId
				})
			}
			res, calls, err := w.handle(readFile(t, "testdata/release-requested.json"))
			updates := countOf(calls, "UpdateAlias")
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Handle = %+v, want an error after %d attempts", res, DefaultAliasAttempts)
				}
				if updates != DefaultAliasAttempts {
					t.Errorf("UpdateAlias called %d times, want %d", updates, DefaultAliasAttempts)
				}
				if stg, _ := w.alias("stg"); stg != "1" {
					t.Errorf("stg = %s, want 1 (unmoved)", stg)
				}
				if w.executions() != 0 {
					t.Errorf("%d executions started, want 0", w.executions())
				}
				return
			}
			if err != nil || res.Outcome != Started {
				t.Fatalf("Handle = %+v, %v; want started", res, err)
			}
			if updates != tt.conflicts+1 {
				t.Errorf("UpdateAlias called %d times, want %d", updates, tt.conflicts+1)
			}
			if stg, _ := w.alias("stg"); stg != "2" {
				t.Errorf("stg = %s, want 2", stg)
			}
			if got := auditEvents(w.audits()); !slices.Equal(got, []audit.Event{audit.ReleasePublished, audit.AliasMoved}) {
				t.Errorf("audit = %v, want one release.published and one alias.moved", got)
			}
		})
	}
}

func TestHandleWaitsForLatestUpdate(t *testing.T) {
	tests := []struct {
		name      string
		updating  int   // PublishVersion calls that meet the update
		wantSlept []int // seconds
		wantErr   bool
	}{
		// Then the version is Pending for its first read.
		{name: "three conflicts, then published", updating: 3, wantSlept: []int{1, 2, 4, 1}},
		// 55 s waited; the next 8 s would pass the 60 s bound.
		{name: "still updating after the bound", updating: 20, wantSlept: []int{1, 2, 4, 8, 8, 8, 8, 8, 8}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.lambda.Fail("PublishVersion", updating(tt.updating)...)
			res, calls, err := w.handle(readFile(t, "testdata/release-requested.json"))
			want := make([]time.Duration, len(tt.wantSlept))
			for i, s := range tt.wantSlept {
				want[i] = time.Duration(s) * time.Second
			}
			if !slices.Equal(w.slept, want) {
				t.Errorf("slept %v, want %v", w.slept, want)
			}
			var total time.Duration
			for _, d := range w.slept {
				total += d
			}
			if total > DefaultPublishWait {
				t.Errorf("waited %s in all, more than the %s bound", total, DefaultPublishWait)
			}
			if !tt.wantErr {
				if err != nil || res.Outcome != Started || res.Version != "2" {
					t.Fatalf("Handle = %+v, %v; want version 2 started", res, err)
				}
				return
			}
			var conflict *lambdatypes.ResourceConflictException
			if !errors.As(err, &conflict) {
				t.Fatalf("Handle error = %v, want the ResourceConflictException (so Lambda retries)", err)
			}
			if got := mutating(calls); slices.ContainsFunc(got, func(c string) bool { return c != "PublishVersion" }) {
				t.Errorf("mutating calls = %v, want only the refused PublishVersion attempts", got)
			}
			if w.versions() != 1 || w.executions() != 0 {
				t.Errorf("versions %d, executions %d; want 1 and 0 (nothing moved)", w.versions(), w.executions())
			}
			if recs := w.audits(); len(recs) != 0 {
				t.Errorf("audit = %v, want none for a transient failure", auditEvents(recs))
			}
			// Lambda's retry, once $LATEST settled, completes the release.
			w.lambda.Heal("PublishVersion")
			res, _, err = w.handle(readFile(t, "testdata/release-requested.json"))
			if err != nil || res.Outcome != Started {
				t.Errorf("retry = %+v, %v; want started", res, err)
			}
		})
	}
}

func TestHandleRefusesChangedLatest(t *testing.T) {
	w := newWorld(t)
	w.lambda.DeployCode(t, "hello", codeV3) // a newer build replaced $LATEST after this one
	res, calls, err := w.handle(readFile(t, "testdata/codebuild-succeeded.json"))
	if err != nil {
		t.Fatalf("Handle: %v (a mismatch is final, not retried)", err)
	}
	if res.Outcome != Refused || !strings.Contains(res.Reason, "$LATEST changed since the build") {
		t.Errorf("result = %+v, want refused: $LATEST changed since the build", res)
	}
	if got := mutating(calls); !slices.Equal(got, []string{"PublishVersion"}) {
		t.Errorf("mutating calls = %v, want only the refused PublishVersion", got)
	}
	if w.versions() != 1 || w.executions() != 0 {
		t.Errorf("versions %d, executions %d; want 1 and 0", w.versions(), w.executions())
	}
	if stg, _ := w.alias("stg"); stg != "1" {
		t.Errorf("stg = %s, want 1", stg)
	}
	recs := w.audits()
	if len(recs) != 1 || recs[0].Event != audit.ReleaseRefused || recs[0].Function != "hello" || recs[0].Release == nil || recs[0].Release.CodeSha256 != sha2 {
		t.Errorf("audit = %+v, want one release.refused for hello naming the build's code", recs)
	}
}

// A transient failure at any step returns an error; the retry of the same
// event completes the release and the end state equals a run without the
// failure: one version, stg on it, one execution with the same input.
func TestHandleThrottledThenRetried(t *testing.T) {
	ops := []string{"PublishVersion", "ListAliases", "GetFunctionConfiguration", "ListExecutions", "UpdateAlias", "StartExecution"}
	for _, op := range ops {
		t.Run(op, func(t *testing.T) {
			// Make every call happen: the version is Pending at first, and
			// with no prod alias running promotions are listed.
			w := newWorld(t, pendingFor(500*time.Millisecond), without("prod"))
			if strings.HasSuffix(op, "Execution") || op == "ListExecutions" {
				w.states.Fail(op, core.Errorf("ThrottlingException", http.StatusBadRequest, "Rate exceeded"))
			} else {
				w.lambda.Fail(op, core.Errorf("TooManyRequestsException", http.StatusTooManyRequests, "%s: Rate exceeded", op))
			}
			event := readFile(t, "testdata/codebuild-succeeded.json")
			if res, _, err := w.handle(event); err == nil {
				t.Fatalf("Handle = %+v, want an error so Lambda retries", res)
			}
			res, _, err := w.handle(event)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if res.Execution != promotion.ExecutionARN(smARN, promotion.ExecutionName("hello", "2", sha2)) || res.Version != "2" {
				t.Errorf("retry result = %+v", res)
			}
			if w.versions() != 2 || w.executions() != 1 {
				t.Errorf("versions %d, executions %d; want 2 and 1", w.versions(), w.executions())
			}
			if stg, _ := w.alias("stg"); stg != "2" {
				t.Errorf("stg = %s, want 2", stg)
			}
			ex, _ := w.execution(promotion.ExecutionName("hello", "2", sha2))
			want := wantInput(t, w, "2", "1", codeBuildRelease)
			if op == "StartExecution" {
				// The retry found stg moved and started the promotion as a
				// duplicate does, announcing nothing.
				want = wantRetryInput(t, w, "2", "1", codeBuildRelease)
			}
			if canonical(t, aws.ToString(ex.Input)) != want {
				t.Errorf("input after the retry\n got %s\nwant %s", aws.ToString(ex.Input), want)
			}
			if got := auditEvents(w.audits()); !slices.Equal(got, []audit.Event{audit.ReleasePublished, audit.AliasMoved}) {
				t.Errorf("audit over both attempts = %v, want one release.published and one alias.moved", got)
			}
			// A start that failed after stg moved leaves no promotion to
			// announce the move: that attempt puts its records on
			// EventBridge itself, and the retry adds none. Otherwise the
			// promotion alone announces them.
			wantEntries := 0
			if op == "StartExecution" {
				wantEntries = 2
			}
			if got := len(w.bus.Details()); got != wantEntries {
				t.Errorf("the release put %d audit entries on EventBridge, want %d", got, wantEntries)
			}
		})
	}
}

func TestHandleTenDuplicates(t *testing.T) {
	for _, event := range []string{"testdata/codebuild-succeeded.json", "testdata/release-requested.json"} {
		t.Run(filepath.Base(event), func(t *testing.T) {
			w := newWorld(t)
			raw := readFile(t, event)
			name := promotion.ExecutionName("hello", "2", sha2)
			for i := range 10 {
				res, calls, err := w.handle(raw)
				if err != nil {
					t.Fatalf("event %d: %v", i+1, err)
				}
				want := Duplicate
				if i == 0 {
					want = Started
				}
				if res.Outcome != want || res.Execution != promotion.ExecutionARN(smARN, name) {
					t.Errorf("event %d: result = %+v, want %s of %s", i+1, res, want, name)
				}
				if i > 0 {
					if wantCalls := []string{"PublishVersion", "ListAliases", "StartExecution"}; !slices.Equal(calls, wantCalls) {
						t.Errorf("event %d: calls = %v, want %v", i+1, calls, wantCalls)
					}
				}
			}
			if w.versions() != 2 {
				t.Errorf("%d versions, want 2 (one published by the release)", w.versions())
			}
			if w.executions() != 1 {
				t.Errorf("%d executions, want 1", w.executions())
			}
			if got := auditEvents(w.audits()); !slices.Equal(got, []audit.Event{audit.ReleasePublished, audit.AliasMoved}) {
				t.Errorf("audit = %v, want one release.published and one alias.moved", got)
			}
			if got := strings.Count(w.emf.String(), "PromotionsStarted"); got != 2 { // name in the metric list and as the value key
				t.Errorf("PromotionsStarted written %d/2 times, want once", got)
			}
		})
	}
}

// Code prod already serves is nothing to release: refused, audited, and no
// promotion starts (it would end "prod N→N" and e-mail approvers for
// nothing) — after a completed promotion (a late duplicate, or the same
// build released again) and when $LATEST never changed at all.
func TestHandleCodeProdServes(t *testing.T) {
	t.Run("after the promotion completed", func(t *testing.T) {
		w := newWorld(t)
		raw := readFile(t, "testdata/release-requested.json")
		if _, _, err := w.handle(raw); err != nil {
			t.Fatal(err)
		}
		name := promotion.ExecutionName("hello", "2", sha2)
		w.run(name).Smoke(true).AwaitApproval().Approve("ana@example.com").BeginShift("1").Bake().BakeOver().Finalize()
		w.lambda.SetAlias(t, "hello", "prod", "2", nil)
		before := len(w.audits())
		res, calls, err := w.handle(raw)
		if err != nil || res.Outcome != Refused || !strings.Contains(res.Reason, "nothing to release: prod already serves version 2") {
			t.Fatalf("Handle = %+v, %v; want refused: nothing to release", res, err)
		}
		if want := []string{"PublishVersion", "ListAliases", "PutEvents"}; !slices.Equal(calls, want) || w.executions() != 1 {
			t.Errorf("calls = %v, executions %d; want %v and still one execution", calls, w.executions(), want)
		}
		recs := w.audits()[before:]
		if len(recs) != 1 || recs[0].Event != audit.ReleaseRefused || recs[0].Actor != "ben@example.com" {
			t.Errorf("audit = %+v, want one release.refused by ben@example.com", recs)
		}
	})
	t.Run("$LATEST unchanged since the version prod serves", func(t *testing.T) {
		w := newWorld(t)
		// Lambda had already published the build's code as 2, and prod
		// serves it.
		if _, err := w.lambda.Admin.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String("hello")}); err != nil {
			t.Fatal(err)
		}
		w.lambda.SetAlias(t, "hello", "prod", "2", nil)
		res, calls, err := w.handle(readFile(t, "testdata/release-requested.json"))
		if err != nil || res.Outcome != Refused || !strings.Contains(res.Reason, "prod already serves version 2") {
			t.Fatalf("Handle = %+v, %v; want refused: nothing to release", res, err)
		}
		if got := mutating(calls); !slices.Equal(got, []string{"PublishVersion"}) || w.executions() != 0 {
			t.Errorf("mutating calls %v, executions %d; want only PublishVersion (which published nothing) and none", got, w.executions())
		}
		if stg, _ := w.alias("stg"); stg != "1" {
			t.Errorf("stg = %s, want 1 (nothing moves)", stg)
		}
	})
}

// A duplicate that arrives after the promotion failed its smoke tests (and
// put stg back) must not leave stg on the failed version.
func TestHandleLateDuplicateAfterFailedPromotion(t *testing.T) {
	w := newWorld(t)
	raw := readFile(t, "testdata/release-requested.json")
	if _, _, err := w.handle(raw); err != nil {
		t.Fatal(err)
	}
	name := promotion.ExecutionName("hello", "2", sha2)
	w.run(name).Smoke(false).RestoreStg()
	w.lambda.SetAlias(t, "hello", "stg", "1", nil) // what RestoreStg does
	before := len(w.audits())

	res, _, err := w.handle(raw)
	if err != nil || res.Outcome != Duplicate {
		t.Fatalf("Handle = %+v, %v; want duplicate", res, err)
	}
	if stg, _ := w.alias("stg"); stg != "1" {
		t.Errorf("stg = %s, want 1 (put back)", stg)
	}
	if w.executions() != 1 || w.versions() != 2 {
		t.Errorf("executions %d, versions %d; want 1 and 2", w.executions(), w.versions())
	}
	var moves [][2]string
	recs := w.audits()[before:]
	for _, r := range recs {
		if r.Event == audit.AliasMoved {
			moves = append(moves, [2]string{r.FromVersion, r.ToVersion})
		}
	}
	if want := [][2]string{{"1", "2"}, {"2", "1"}}; !slices.Equal(moves, want) || len(recs) != 2 {
		t.Errorf("audit = %v with stg moves %v, want exactly the moves %v (no second release.published)", auditEvents(recs), moves, want)
	}
	if !strings.Contains(res.Reason, "stg put back on 1") {
		t.Errorf("reason = %q, want it to say stg was put back on 1", res.Reason)
	}
}

func TestHandleSupersedesOlderPromotions(t *testing.T) {
	approved := func(r *sandboxtest.Run) *sandboxtest.Run {
		return r.Smoke(true).AwaitApproval().Approve("ana@example.com")
	}
	tests := []struct {
		name string
		// older drives the older promotion to where it rests.
		older       func(r *sandboxtest.Run)
		aborting    bool
		wantStopped bool
	}{
		{"awaiting approval", func(r *sandboxtest.Run) { r.Smoke(true).AwaitApproval() }, false, true},
		// The definition enters SmokeTest as it starts: "just started" is
		// smoke testing.
		{"smoke testing", func(*sandboxtest.Run) {}, false, true},
		{"approved, not shifting yet", func(r *sandboxtest.Run) { r.Smoke(true).AwaitApproval().SendApproval("ana@example.com") }, false, true},
		{"in BeginShift", func(r *sandboxtest.Run) { approved(r) }, false, false},
		{"baking a canary", func(r *sandboxtest.Run) { approved(r).BeginShift("1") }, false, false},
		{"aborting after BeginShift", func(r *sandboxtest.Run) {
			approved(r).Fail(promotion.ActionBegin, promotion.ErrTaskFailed, "prod moved by hand")
		}, true, false},
		{"rolling back", func(r *sandboxtest.Run) {
			approved(r).BeginShift("1").Bake().CheckHealth().Fail(promotion.ActionCheckHealth, promotion.ErrHealthCheckFailed, "error rate 100% > 5%")
		}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			// Other functions' promotions, one named like hello's, are not touched.
			others := []string{w.add("hello-v2", "1"), w.add("orders", "7")}
			if _, _, err := w.handle(readFile(t, "testdata/release-requested.json")); err != nil {
				t.Fatal(err)
			}
			older := promotion.ExecutionName("hello", "2", sha2)
			tt.older(w.run(older))
			before := len(w.audits())

			w.lambda.DeployCode(t, "hello", codeV3)
			raw := strings.Replace(string(readFile(t, "testdata/release-requested.json")), sha2, sha3, 1)
			res, calls, err := w.handle([]byte(raw))
			if err != nil || res.Outcome != Started || res.Version != "3" {
				t.Fatalf("Handle = %+v, %v; want version 3 started", res, err)
			}
			newer := promotion.ExecutionName("hello", "3", sha3)
			ex, _ := w.execution(older)
			recs := w.audits()[before:]
			superseded := slices.IndexFunc(recs, func(r audit.Record) bool { return r.Event == audit.PromotionSuperseded })
			if tt.wantStopped {
				if ex.Status != sfntypes.ExecutionStatusAborted || aws.ToString(ex.Error) != promotion.ErrSuperseded || !strings.Contains(aws.ToString(ex.Cause), newer) {
					t.Errorf("older = %s (%s: %s), want aborted with %s naming %s", ex.Status, aws.ToString(ex.Error), aws.ToString(ex.Cause), promotion.ErrSuperseded, newer)
				}
				if superseded < 0 || recs[superseded].Execution != aws.ToString(ex.ExecutionArn) || recs[superseded].FromVersion != "2" || recs[superseded].ToVersion != "3" {
					t.Errorf("audit = %+v, want promotion.superseded of %s (2 → 3)", recs, aws.ToString(ex.ExecutionArn))
				}
			} else {
				if ex.Status != sfntypes.ExecutionStatusRunning {
					t.Errorf("older = %s, want left running: it already moves prod", ex.Status)
				}
				if superseded >= 0 {
					t.Errorf("audit has %+v, want no promotion.superseded", recs[superseded])
				}
			}
			// Newest first, the history shows where the promotion is: one
			// page decides unless the newest state is Abort.
			if !tt.aborting {
				if got := countOf(calls, "GetExecutionHistory"); got != 1 {
					t.Errorf("GetExecutionHistory called %d times, want 1", got)
				}
			}
			for _, other := range others {
				if e, _ := w.execution(other); e.Status != sfntypes.ExecutionStatusRunning {
					t.Errorf("%s = %s, want running (another function)", other, e.Status)
				}
			}
			if stg, _ := w.alias("stg"); stg != "3" {
				t.Errorf("stg = %s, want 3", stg)
			}
			nx, _ := w.execution(newer)
			var in promotion.Input
			if err := json.Unmarshal([]byte(aws.ToString(nx.Input)), &in); err != nil || in.PreviousStgVersion != "2" {
				t.Errorf("newer input previousStgVersion = %q (%v), want 2", in.PreviousStgVersion, err)
			}
		})
	}
}

func TestHandleRefusesBadEvents(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.json")
	if err != nil || len(files) < 20 {
		t.Fatalf("bad corpus: %d files, %v", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			w := newWorld(t)
			res, calls, err := w.handle(readFile(t, f))
			if err != nil {
				t.Fatalf("Handle error %v, want a refused result and no error", err)
			}
			if res.Outcome != Refused || res.Reason == "" {
				t.Errorf("result = %+v, want refused with a reason", res)
			}
			if got := mutating(calls); len(got) != 0 {
				t.Errorf("mutating calls = %v, want none", got)
			}
			if !slices.Equal(calls, []string{"PutEvents"}) {
				t.Errorf("calls = %v, want only the audit's PutEvents", calls)
			}
			recs := w.audits()
			if len(recs) != 1 || recs[0].Event != audit.ReleaseRefused || recs[0].Reason != res.Reason {
				t.Errorf("audit = %+v, want one release.refused with the reason %q", recs, res.Reason)
			}
		})
	}
}

func TestStgDescriptionRoundTrip(t *testing.T) {
	name := promotion.ExecutionName("hello", "2", sha2)
	tests := []struct {
		name     string
		desc     string
		wantPrev string
		wantOK   bool
	}{
		{"previous version", stgDescription(name, "2", "1"), "1", true},
		{"created by the release", stgDescription(name, "2", ""), "", true},
		{"another release's move", stgDescription(promotion.ExecutionName("hello", "2", sha3), "2", "1"), "", false},
		// Written before stamps (issue 21): still read back.
		{"a description from before stamps", "aliasflow: " + name + " previous=1", "1", true},
		{"a stamp without a previous version", alias.StampFor(name, alias.Alias{Exists: true, Version: "2"}), "", false},
		{"moved by a human", "staging", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev, ok := previousFor(alias.Alias{Description: tt.desc}, name)
			if prev != tt.wantPrev || ok != tt.wantOK {
				t.Errorf("previousFor(%q) = %q, %v; want %q, %v", tt.desc, prev, ok, tt.wantPrev, tt.wantOK)
			}
		})
	}
}

func TestResultJSON(t *testing.T) {
	b, err := json.Marshal(Result{Outcome: Refused, Function: "hello", Reason: "why"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"outcome":"refused","function":"hello","reason":"why"}`; got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
}

func TestHandleStopsWaitingBeforeTheDeadline(t *testing.T) {
	w := newWorld(t)
	w.lambda.Fail("PublishVersion", updating(20)...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // less than the margin
	defer cancel()
	res, err := w.h.Handle(ctx, readFile(t, "testdata/release-requested.json"))
	if err == nil {
		t.Fatalf("Handle = %+v, want an error while $LATEST is still updating", res)
	}
	if len(w.slept) != 0 {
		t.Errorf("slept %v, want no wait that would run past the deadline", w.slept)
	}
}

// TestConcurrentDuplicateMovesStgOnce: two deliveries of one event race; the
// one that loses the stg move finds stg already on the version and takes
// the duplicate path — no second alias.moved, no second execution. (Seen in
// the end-to-end run: a loser moved stg "2→2" and audited it.)
func TestConcurrentDuplicateMovesStgOnce(t *testing.T) {
	w := newWorld(t)
	event := readFile(t, "testdata/release-requested.json")
	var winner Result
	w.lambda.Before("UpdateAlias", func() {
		// The other delivery runs to completion between our read of stg
		// and our update.
		var err error
		if winner, err = w.h.Handle(context.Background(), event); err != nil || winner.Outcome != Started {
			t.Fatalf("concurrent delivery = %+v, %v; want started", winner, err)
		}
	})
	res, _, err := w.handle(event)
	if err != nil || res.Outcome != Duplicate {
		t.Fatalf("Handle = %+v, %v; want duplicate", res, err)
	}
	if res.Execution != winner.Execution {
		t.Errorf("execution = %s, want the winner's %s", res.Execution, winner.Execution)
	}
	if stg, _ := w.alias("stg"); stg != "2" {
		t.Errorf("stg = %s, want 2", stg)
	}
	if w.executions() != 1 {
		t.Errorf("%d executions, want 1", w.executions())
	}
	if got := auditEvents(w.audits()); !slices.Equal(got, []audit.Event{audit.ReleasePublished, audit.AliasMoved}) {
		t.Errorf("audit = %v, want one release.published and one alias.moved", got)
	}
}

// A release whose promotion ended without prod on it can be released again
// with retry: a fresh execution (the release's next attempt name), stg on
// the version, the retry audited with who asked. Without retry the same
// event stays a duplicate of the closed promotion.
func TestHandleRetry(t *testing.T) {
	first := promotion.ExecutionName("hello", "2", sha2)
	tests := []struct {
		name string
		// end closes the first promotion as the workflow would.
		end       func(w *world)
		wantStg   string // stg before the retry
		wantMoved bool   // the retry moves stg (audits alias.moved)
	}{
		{"after smoke tests failed (stg put back)", func(w *world) {
			w.run(first).Smoke(false).RestoreStg()
			w.lambda.SetAlias(w.t, "hello", "stg", "1", nil)
		}, "1", true},
		{"after a rejection (stg stays on the version)", func(w *world) {
			w.run(first).Smoke(true).AwaitApproval().Reject("ana@example.com", "no")
		}, "2", false},
		{"after the approval expired", func(w *world) {
			w.run(first).Smoke(true).AwaitApproval().Expire()
		}, "2", false},
		{"after a rollback", func(w *world) {
			w.run(first).Smoke(true).AwaitApproval().Approve("ana@example.com").BeginShift("1").Bake().Unhealthy()
		}, "2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if _, _, err := w.handle(readFile(t, "testdata/release-requested.json")); err != nil {
				t.Fatal(err)
			}
			tt.end(w)
			// Without retry: still the closed promotion, nothing new.
			res, _, err := w.handle(readFile(t, "testdata/release-requested.json"))
			if err != nil || res.Outcome != Duplicate || w.executions() != 1 {
				t.Fatalf("plain release again = %+v, %v, %d executions; want a duplicate and one execution", res, err, w.executions())
			}
			if stg, _ := w.alias("stg"); stg != tt.wantStg {
				t.Fatalf("stg = %s before the retry, want %s", stg, tt.wantStg)
			}
			before := len(w.audits())

			res, _, err = w.handle(readFile(t, "testdata/release-requested-retry.json"))
			retry := promotion.AttemptName("hello", "2", sha2, 2)
			if err != nil || res.Outcome != Started || res.Execution != promotion.ExecutionARN(smARN, retry) {
				t.Fatalf("retry = %+v, %v; want %s started", res, err, retry)
			}
			ex, ok := w.execution(retry)
			if !ok || ex.Status != sfntypes.ExecutionStatusRunning {
				t.Fatalf("execution %s: %+v, %v; want running", retry, ex, ok)
			}
			rel := requestedRelease
			rel.RequestedBy = "carla@example.com"
			if want := wantRetryInput(t, w, "2", "1", rel); canonical(t, aws.ToString(ex.Input)) != want {
				t.Errorf("retry input\n got %s\nwant %s (previousStgVersion is the one before the first attempt)", aws.ToString(ex.Input), want)
			}
			stg, stgAlias := w.alias("stg")
			if stg != "2" || !strings.Contains(aws.ToString(stgAlias.Description), retry) {
				t.Errorf("stg = %s (%q), want version 2 described as moved for %s", stg, aws.ToString(stgAlias.Description), retry)
			}
			recs := w.audits()[before:]
			want := []audit.Event{audit.ReleaseRetried}
			if tt.wantMoved {
				want = []audit.Event{audit.AliasMoved, audit.ReleaseRetried}
			}
			if got := auditEvents(recs); !slices.Equal(got, want) {
				t.Fatalf("audit = %v, want %v", got, want)
			}
			r := recs[len(recs)-1]
			if r.Actor != "carla@example.com" || !strings.Contains(r.Reason, first) || r.Execution != promotion.ExecutionARN(smARN, retry) {
				t.Errorf("release.retried = %+v, want actor carla@example.com, the retried %s named, execution %s", r, first, retry)
			}

			// The retry request delivered again while the retry runs: nothing new.
			res, _, err = w.handle(readFile(t, "testdata/release-requested-retry.json"))
			if err != nil || res.Outcome != Duplicate || res.Execution != promotion.ExecutionARN(smARN, retry) || w.executions() != 2 {
				t.Errorf("retry again = %+v, %v, %d executions; want a duplicate of %s", res, err, w.executions(), retry)
			}
			// Once it failed too, a third attempt.
			w.run(retry).Smoke(false).RestoreStg()
			res, _, err = w.handle(readFile(t, "testdata/release-requested-retry.json"))
			if third := promotion.AttemptName("hello", "2", sha2, 3); err != nil || res.Execution != promotion.ExecutionARN(smARN, third) {
				t.Errorf("second retry = %+v, %v; want %s", res, err, third)
			}
		})
	}
}

// A version Lambda reports Failed is refused before stg moves; one still
// Pending when the wait runs out is an error, so Lambda retries the event.
func TestHandleVersionNotActive(t *testing.T) {
	t.Run("Pending past the bound", func(t *testing.T) {
		w := newWorld(t, pendingFor(time.Hour))
		w.h.ActiveWait = 3 * time.Second
		res, _, err := w.handle(readFile(t, "testdata/codebuild-succeeded.json"))
		if err == nil || !strings.Contains(err.Error(), "still Pending") {
			t.Fatalf("Handle = %+v, %v; want an error: still Pending", res, err)
		}
		if stg, _ := w.alias("stg"); stg != "1" || w.executions() != 0 {
			t.Errorf("stg = %s, executions %d; want stg on 1 and no promotion", stg, w.executions())
		}
		if got := auditEvents(w.audits()); len(got) != 0 {
			t.Errorf("audit = %v, want none (nothing moved; the retry will)", got)
		}
	})
}

// canonical is a JSON document with its object keys sorted, as
// marshalInput writes them.
func canonical(t *testing.T, doc string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, doc)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConcurrentDuplicateStartsFirst: two deliveries of one event race the
// other way round — the one that moved stg is overtaken between its move and
// its start by the other, which finds stg on the version and starts the
// promotion (announcing nothing). The mover's StartExecution then meets
// ExecutionAlreadyExists (its input announces the move, so it differs); the
// promotion is its own, started after its move, so stg stays and the mover
// puts the move's records on EventBridge itself. (Seen in a CI run of
// e2e TestDuplicateEvents: the mover took it for a late duplicate and put stg
// back under the running promotion, which then never e-mailed approvers.)
func TestConcurrentDuplicateStartsFirst(t *testing.T) {
	w := newWorld(t)
	event := readFile(t, "testdata/release-requested.json")
	other := overtake(t, w, event)
	res, calls, err := w.handle(event)
	if err != nil || res.Outcome != Started {
		t.Fatalf("Handle = %+v, %v; want started", res, err)
	}
	name := promotion.ExecutionName("hello", "2", sha2)
	if res.Execution != promotion.ExecutionARN(smARN, name) || other.Execution != res.Execution {
		t.Errorf("executions = %s and %s, want both %s", res.Execution, other.Execution, name)
	}
	if stg, _ := w.alias("stg"); stg != "2" {
		t.Errorf("stg = %s, want 2: the running promotion smoke-tests stg", stg)
	}
	if ex, _ := w.execution(name); w.executions() != 1 || ex.Status != sfntypes.ExecutionStatusRunning {
		st := ex.Status
		t.Errorf("%d executions, status %s; want one, running", w.executions(), st)
	}
	if got := auditEvents(w.audits()); !slices.Equal(got, []audit.Event{audit.ReleasePublished, audit.AliasMoved}) {
		t.Errorf("audit = %v, want one release.published and one alias.moved", got)
	}
	// The promotion announces nothing, so the mover puts the records on
	// EventBridge: each once.
	if got := busEvents(w.bus); !slices.Equal(got, []string{"release.published", "alias.moved"}) {
		t.Errorf("EventBridge got %v, want release.published and alias.moved once", got)
	}
	if got := strings.Count(w.emf.String(), "PromotionsStarted"); got != 2 { // name in the metric list and as the value key
		t.Errorf("PromotionsStarted written %d/2 times, want once", got)
	}
	if n := countOf(calls, "DescribeExecution"); n != 1 {
		t.Errorf("calls = %v, want one DescribeExecution (to tell its own promotion from an older one)", calls)
	}
}

// overtake makes a delivery of event run to completion when the next
// StartExecution is called (the first delivery's), and returns its result.
func overtake(t *testing.T, w *world, event []byte) *Result {
	t.Helper()
	var other Result
	overtaken := false
	w.hook = func(op string) {
		if op != "StartExecution" || overtaken {
			return
		}
		overtaken = true
		var err error
		if other, err = w.h.Handle(context.Background(), event); err != nil || other.Outcome != Duplicate {
			t.Errorf("overtaking delivery = %+v, %v; want duplicate", other, err)
		}
	}
	return &other
}

// The overtaking duplicate's promotion may even have ended before the
// mover's start (a smoke test that failed at once, putting stg back): it is
// still the mover's own, so the mover neither takes itself for a late
// duplicate nor moves stg again, and the trail has its move once.
func TestConcurrentDuplicateStartsFirstAndEnds(t *testing.T) {
	w := newWorld(t)
	event := readFile(t, "testdata/release-requested.json")
	name := promotion.ExecutionName("hello", "2", sha2)
	other := overtake(t, w, event)
	w.hook = func(prev func(string)) func(string) {
		return func(op string) {
			prev(op)
			if ex, _ := w.execution(name); op == "StartExecution" && other.Execution != "" && ex.Status == sfntypes.ExecutionStatusRunning {
				// The overtaking promotion fails its smoke test at once,
				// and RestoreStg puts stg back.
				r := w.run(name).Smoke(false)
				w.lambda.SetAlias(t, "hello", "stg", "1", nil)
				r.RestoreStg()
			}
		}
	}(w.hook)
	res, _, err := w.handle(event)
	if err != nil || res.Outcome != Started || res.Execution != promotion.ExecutionARN(smARN, name) {
		t.Fatalf("Handle = %+v, %v; want started %s", res, err, name)
	}
	if stg, _ := w.alias("stg"); stg != "1" {
		t.Errorf("stg = %s, want 1 (as the promotion's RestoreStg left it)", stg)
	}
	if got := auditEvents(w.audits()); !slices.Equal(got, []audit.Event{audit.ReleasePublished, audit.AliasMoved}) {
		t.Errorf("audit = %v, want one release.published and one alias.moved (no late-duplicate move)", got)
	}
	if got := busEvents(w.bus); !slices.Equal(got, []string{"release.published", "alias.moved"}) {
		t.Errorf("EventBridge got %v, want release.published and alias.moved once", got)
	}
}

// When the existing execution cannot be described, the mover cannot tell a
// concurrent duplicate's promotion from an older one: it leaves stg where
// the running promotion needs it, keeps its records (logged and put once),
// and fails so that the event is retried, which takes the duplicate path.
func TestConcurrentDuplicateStartsFirstUndescribed(t *testing.T) {
	w := newWorld(t)
	event := readFile(t, "testdata/release-requested.json")
	other := overtake(t, w, event)
	w.states.Fail("DescribeExecution", core.Errorf("ServiceUnavailable", http.StatusServiceUnavailable, "try later"))
	if _, _, err := w.handle(event); err == nil || !strings.Contains(err.Error(), "describe the existing promotion") {
		t.Fatalf("Handle error = %v, want one naming the describe that failed", err)
	}
	if stg, _ := w.alias("stg"); stg != "2" {
		t.Errorf("stg = %s, want 2 (left under the running promotion)", stg)
	}
	res, _, err := w.handle(event) // Lambda's retry of the event
	if err != nil || res.Outcome != Duplicate || res.Execution != other.Execution {
		t.Fatalf("retry = %+v, %v; want a duplicate of %s", res, err, other.Execution)
	}
	if got := auditEvents(w.audits()); !slices.Equal(got, []audit.Event{audit.ReleasePublished, audit.AliasMoved}) {
		t.Errorf("audit = %v, want one release.published and one alias.moved", got)
	}
	if got := busEvents(w.bus); !slices.Equal(got, []string{"release.published", "alias.moved"}) {
		t.Errorf("EventBridge got %v, want release.published and alias.moved once", got)
	}
}
