package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/codebuild"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	ssmsvc "github.com/aliasflow/aliasflow/sandbox/ssm"
	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/ledger"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/reconcile"
	"github.com/aliasflow/aliasflow/shared/release"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awscodebuild "github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"
)

const releaseFn = "aliasflow-release"

// world is the reconciler's world on the sandbox's services, served
// in-process: Lambda, CodeBuild, Parameter Store, Step Functions (the
// promotion definition on its interpreter) and CloudWatch Logs, where the
// reconciler's own audit records land so the next run reads them.
type world struct {
	t       *testing.T
	mu      sync.Mutex
	now     time.Time
	lambda  *sandboxtest.Lambda
	invokes *invokes
	builds  *codebuild.Service
	logs    *sandboxtest.Logs
	promo   *sandboxtest.Promotion
	emf     bytes.Buffer
	h       *reconcile.Handler
}

// invokes records the reconciler's Invoke calls (the release function's
// own path is the e2e's to run).
type invokes struct {
	*lambda.Client
	mu    sync.Mutex
	calls []lambda.InvokeInput
	fail  map[string]error // op → the error the reconciler's calls of it get
	// afterListAliases, when set, runs once after the reconciler's next
	// ListAliases: what another Lambda does meanwhile.
	afterListAliases func()
}

func (i *invokes) ListAliases(ctx context.Context, in *lambda.ListAliasesInput, opts ...func(*lambda.Options)) (*lambda.ListAliasesOutput, error) {
	out, err := i.Client.ListAliases(ctx, in, opts...)
	i.mu.Lock()
	after := i.afterListAliases
	i.afterListAliases = nil
	i.mu.Unlock()
	if after != nil {
		after()
	}
	return out, err
}

func (i *invokes) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.calls = append(i.calls, *in)
	return &lambda.InvokeOutput{StatusCode: 202}, nil
}

// logWriter appends each line written to the pipeline's log group, as
// Lambda does with a function's output.
type logWriter struct{ w *world }

func (l logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.w.logs.Service.Append(deploy.PipelineLogGroup, "2026/12/07/[$LATEST]reconcile", l.w.clock(), line)
	}
	return len(p), nil
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
	w.promo.Clock.Advance(d)
}

var target = config.Target{Function: "hello", CodeBuildProjects: []string{"hello-build"}, Approvers: []string{"ana@example.com"},
	Strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 300}, ApprovalTimeoutSeconds: 3600}

func newWorld(t *testing.T) *world { return newWorldOf(t, []string{"hello"}, nil) }

// newWorldOf is a world with a target per function of fns (hello's
// settings, its own build project fn-build for each but hello, whose is
// hello-build); the reconciler's calls go through c when not nil.
func newWorldOf(t *testing.T, fns []string, c *counter) *world { return newWorldWith(t, fns, c, nil) }

// newWorldWith is newWorldOf with each target's settings passed through
// edit first, when not nil, and the reconciler's options through opts.
func newWorldWith(t *testing.T, fns []string, c *counter, edit func(*config.Target), opts ...func(*reconcile.Options)) *world {
	w := &world{t: t, now: sandboxtest.T0}
	w.promo = sandboxtest.NewPromotion(t)
	w.lambda = sandboxtest.NewLambda(t)
	w.invokes = &invokes{Client: w.lambda.Client}
	w.logs = sandboxtest.NewLogs(t, w.clock)
	w.logs.Service.CreateGroup(deploy.PipelineLogGroup)
	w.builds = codebuild.New(nil, &codebuild.Options{Now: w.clock})
	params := ssmsvc.New(w.clock)
	for _, fn := range fns {
		w.lambda.AddFunction(t, fn, 4)
		tgt := target
		tgt.Function = fn
		if fn != "hello" {
			tgt.CodeBuildProjects = []string{fn + "-build"}
		}
		if edit != nil {
			edit(&tgt)
		}
		tgt.ApplyDefaults()
		value, err := settings.Encode(tgt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := params.PutParameter(settings.ParameterName("aliasflow", fn), value, false); err != nil {
			t.Fatal(err)
		}
	}
	var counted []func(*middleware.Stack) error
	if c != nil { // Lambda's calls are counted by sandboxtest (Lambda.Calls)
		counted = append(counted, c.count)
	}
	with := func(o *[]func(*middleware.Stack) error) { *o = append(*o, counted...) }
	ropts := &reconcile.Options{Now: w.clock}
	for _, o := range opts {
		o(ropts)
	}
	rec := audit.New(slog.New(slog.NewJSONHandler(logWriter{w}, nil)), nil, &audit.Options{Now: w.clock})
	w.h = reconcile.New(w.invokes,
		awscodebuild.NewFromConfig(sandboxtest.Config(t, "codebuild", w.builds), func(o *awscodebuild.Options) { with(&o.APIOptions) }),
		sfn.NewFromConfig(sandboxtest.Config(t, "states", w.promo.States), func(o *sfn.Options) { with(&o.APIOptions) }),
		ssm.NewFromConfig(sandboxtest.Config(t, "ssm", params), func(o *ssm.Options) { with(&o.APIOptions) }),
		ledger.Ledger{Logs: cloudwatchlogs.NewFromConfig(sandboxtest.Config(t, "logs", w.logs.Service), func(o *cloudwatchlogs.Options) { with(&o.APIOptions) }),
			Group: deploy.PipelineLogGroup, Now: w.clock}, rec,
		metrics.New(&w.emf, w.clock), settings.Path("aliasflow"), w.promo.MachineARN, releaseFn, ropts)
	return w
}

// audited writes records as aliasflow's Lambdas would have.
func (w *world) audited(recs ...audit.Record) {
	rec := audit.New(slog.New(slog.NewJSONHandler(logWriter{w}, nil)), nil, &audit.Options{Now: w.clock})
	for _, r := range recs {
		r.Function = "hello"
		rec.Log(context.Background(), r)
	}
}

// moved is aliasflow's write of alias name: stamped, and audited.
func (w *world) moved(name, from, to, exec string) {
	w.t.Helper()
	_, err := alias.Mover{Lambda: w.lambda.Admin}.Move(alias.WithStamp(context.Background(), exec), "hello", name,
		func(alias.Alias) (alias.Alias, bool, error) { return alias.Alias{Exists: true, Version: to}, true, nil })
	if err != nil {
		w.t.Fatal(err)
	}
	w.audited(audit.Record{Event: audit.AliasMoved, Alias: name, FromVersion: from, ToVersion: to, Execution: sandboxtest.ExecutionARN(exec)})
}

func (w *world) run() reconcile.Report {
	w.t.Helper()
	rep, err := w.h.Handle(context.Background(), nil)
	if err != nil {
		w.t.Fatalf("reconcile: %v", err)
	}
	return rep
}

func (w *world) records(ev audit.Event) ledger.Trail {
	w.t.Helper()
	tr, err := ledger.Ledger{Logs: w.logs.Client, Group: deploy.PipelineLogGroup, Now: w.clock}.Read(context.Background(), ledger.Query{Events: []audit.Event{ev}})
	if err != nil {
		w.t.Fatal(err)
	}
	return tr
}

// TestDriftIsReportedOnce: an alias moved by hand is reported once, with
// its metric; aliasflow's own stamped writes never are, even before their
// records are readable; a second hand move is a new drift.
func TestDriftIsReportedOnce(t *testing.T) {
	w := newWorld(t)
	w.moved("prod", "", "1", "hello-v1-0a0a0a0a")
	w.moved("stg", "", "2", "hello-v2-0b0b0b0b")
	steps := []struct {
		name   string
		do     func()
		want   []string
		record int // alias.drifted records in the trail after the run
	}{
		{"aliasflow's writes", func() {}, []string{}, 0},
		{"a stamped write ahead of its record", func() {
			_, err := alias.Mover{Lambda: w.lambda.Admin}.Move(alias.WithStamp(context.Background(), "hello-v3-0c0c0c0c"), "hello", "stg",
				func(alias.Alias) (alias.Alias, bool, error) {
					return alias.Alias{Exists: true, Version: "3"}, true, nil
				})
			if err != nil {
				t.Fatal(err)
			}
		}, []string{}, 0},
		{"prod moved by hand", func() { w.lambda.SetAlias(t, "hello", "prod", "4", nil) }, []string{"hello:prod"}, 1},
		{"the same drift again", func() {}, []string{}, 1},
		{"weighted by hand", func() { w.lambda.SetAlias(t, "hello", "prod", "4", map[string]float64{"3": 0.5}) }, []string{"hello:prod"}, 2},
		{"aliasflow moves it again", func() { w.moved("prod", "4", "3", "hello-v3-0c0c0c0c") }, []string{}, 2},
	}
	for _, s := range steps {
		s.do()
		w.advance(5 * time.Minute)
		rep := w.run()
		if !slices.Equal(rep.Drifted, s.want) {
			t.Errorf("%s: drifted = %v, want %v", s.name, rep.Drifted, s.want)
		}
		if n := len(w.records(audit.AliasDrifted)); n != s.record {
			t.Errorf("%s: %d alias.drifted records, want %d", s.name, n, s.record)
		}
	}
	if got := strings.Count(w.emf.String(), `"`+metrics.AliasesDrifted+`":1`); got != 2 {
		t.Errorf("%s metrics = %d, want 2", metrics.AliasesDrifted, got)
	}
	if n := w.lambda.Count("UpdateAlias") + w.lambda.Count("CreateAlias"); n != 0 {
		t.Errorf("the reconciler wrote %d aliases; it never moves one", n)
	}
	d := w.records(audit.AliasDrifted)[0]
	if d.Alias != "prod" || d.ToVersion != "4" || len(d.Changes) != 1 || d.Changes[0].To != "4 + 3@50%" || !strings.Contains(d.Reason, "moved outside aliasflow") {
		t.Errorf("newest alias.drifted = %+v", d)
	}
}

// TestNoDriftFromAMoveDuringTheRun: aliasflow moving an alias between the
// run's ListAliases and its read of the trail (a release's stamped stg
// move, then its alias.moved record) is no drift: the run judges an
// alias it finds unstamped by a read of it made after the trail's.
func TestNoDriftFromAMoveDuringTheRun(t *testing.T) {
	cases := []struct {
		name   string
		before func(w *world) // the aliases as the run begins
		during func(w *world) // between the run's ListAliases and its trail read
		want   []string
	}{
		{"a release moves stg, created unstamped, during the run", func(w *world) { w.lambda.SetAlias(t, "hello", "stg", "1", nil) },
			func(w *world) { w.moved("stg", "1", "2", "hello-v2-0b0b0b0b") }, []string{}},
		{"a promotion moves prod, moved by hand before, during the run", func(w *world) {
			w.moved("prod", "", "1", "hello-v1-0a0a0a0a")
			w.lambda.SetAlias(t, "hello", "prod", "3", nil)
		}, func(w *world) { w.moved("prod", "3", "2", "hello-v2-0b0b0b0b") }, []string{}},
		{"a hand move stays a drift however the reads fall", func(w *world) {
			w.moved("prod", "", "1", "hello-v1-0a0a0a0a")
			w.lambda.SetAlias(t, "hello", "prod", "3", nil)
		}, func(*world) {}, []string{"hello:prod"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			c.before(w)
			w.advance(time.Minute)
			w.invokes.afterListAliases = func() { c.during(w) }
			rep := w.run()
			if !slices.Equal(rep.Drifted, c.want) {
				t.Errorf("drifted = %v, want %v", rep.Drifted, c.want)
			}
			if n := len(w.records(audit.AliasDrifted)); n != len(c.want) {
				t.Errorf("%d alias.drifted records, want %d", n, len(c.want))
			}
		})
	}
}

// TestSweepReleasesAMissedBuildOnce: a successful build whose event never
// came is handed to the release function once, as the CodeBuild event the
// release parses; builds released, failed, too fresh or too old are not.
func TestSweepReleasesAMissedBuildOnce(t *testing.T) {
	w := newWorld(t)
	exported := []codebuild.EnvironmentVariable{{Name: release.VarFunction, Value: "hello"},
		{Name: release.VarCodeSha256, Value: "9a7FMr2BtwI4GK/P4d1j8JPSLYHeV6H55HvtJVGI7T8="}, {Name: release.VarCommit, Value: "4f1c2e9"}}
	run := func(in codebuild.RunInput) string {
		in.Project, in.Exported = "hello-build", exported
		b, _, err := w.builds.RunBuild(in)
		if err != nil {
			t.Fatal(err)
		}
		return b.ID
	}
	old := run(codebuild.RunInput{})
	w.advance(25 * time.Hour)
	missed := run(codebuild.RunInput{SourceVersion: "4f1c2e9"})
	released := run(codebuild.RunInput{})
	w.audited(audit.Record{Event: audit.ReleasePublished, Alias: "stg", ToVersion: "2", Release: &promotion.Release{Build: released}})
	run(codebuild.RunInput{Status: "FAILED"})
	other, _, err := w.builds.RunBuild(codebuild.RunInput{Project: "not-a-target"})
	if err != nil {
		t.Fatal(err)
	}
	w.advance(10 * time.Minute)
	fresh := run(codebuild.RunInput{})
	steps := []struct {
		name string
		want []string
	}{
		{"the first run", []string{"hello:" + missed}},
		{"the next run", []string{}},
	}
	for _, s := range steps {
		rep := w.run()
		if !slices.Equal(rep.Swept, s.want) {
			t.Errorf("%s: swept = %v, want %v (old %s, fresh %s, other %s)", s.name, rep.Swept, s.want, old, fresh, other.ID)
		}
		w.advance(time.Minute)
	}
	if len(w.invokes.calls) != 1 {
		t.Fatalf("Invoke calls = %d, want 1", len(w.invokes.calls))
	}
	call := w.invokes.calls[0]
	if aws.ToString(call.FunctionName) != releaseFn || call.InvocationType != "Event" {
		t.Errorf("Invoke %s %s; want %s, asynchronously as EventBridge does", aws.ToString(call.FunctionName), call.InvocationType, releaseFn)
	}
	// The release parses it as the CodeBuild event it missed, and reads
	// the build's variables itself (BatchGetBuilds).
	parsed, err := release.ParseEvent(context.Background(), call.Payload, &config.Config{Targets: []config.Target{target}})
	if err != nil || parsed.Lookup != missed {
		t.Errorf("ParseEvent(the swept event) = %+v, %v; want a lookup of %s\n%s", parsed, err, missed, call.Payload)
	}
	swept := w.records(audit.ReleaseSwept)
	if len(swept) != 1 || swept[0].Release == nil || swept[0].Release.Build != missed || swept[0].Release.Commit != "4f1c2e9" ||
		!strings.Contains(swept[0].Reason, "found by the sweep") {
		t.Errorf("release.swept records = %+v; want one of %s", swept, missed)
	}
	if got := strings.Count(w.emf.String(), `"`+metrics.ReleasesSwept+`":1`); got != 1 {
		t.Errorf("%s metrics = %d, want 1", metrics.ReleasesSwept, got)
	}
}

// TestStuckPromotionIsReportedOnce: a promotion running past the longest
// its target allows is reported once.
func TestStuckPromotionIsReportedOnce(t *testing.T) {
	w := newWorld(t)
	name := promotion.ExecutionName("hello", "2", "9a7FMr2BtwI4GK/P4d1j8JPSLYHeV6H55HvtJVGI7T8=")
	w.promo.StartWaiting(t, name, promotion.Input{Function: "hello", Version: "2", Target: target, Steps: []promotion.Step{}})
	tgt := target
	tgt.ApplyDefaults()
	longest := reconcile.Longest(tgt) + reconcile.DefaultStuckGrace
	steps := []struct {
		name    string
		advance time.Duration
		want    []string
	}{
		{"awaiting approval", time.Hour, []string{}},
		{"just before its deadline", longest - time.Hour - time.Minute, []string{}},
		{"past it", 2 * time.Minute, []string{name}},
		{"still past it", time.Hour, []string{}},
	}
	for _, s := range steps {
		w.mu.Lock()
		w.now = w.now.Add(s.advance)
		w.mu.Unlock()
		rep := w.run()
		if !slices.Equal(rep.Stuck, s.want) {
			t.Errorf("%s: stuck = %v, want %v", s.name, rep.Stuck, s.want)
		}
	}
	stuck := w.records(audit.PromotionStuck)
	if len(stuck) != 1 || promotion.ExecutionNameOf(stuck[0].Execution) != name {
		b, _ := json.Marshal(stuck)
		t.Errorf("promotion.stuck records = %s; want one of %s", b, name)
	}
}

// TestInput: the schedule sends no input; an operator may shorten the
// sweep's grace; anything else is refused, naming it.
func TestInput(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
		swept             int
	}{
		{"the schedule's empty payload", `{}`, "", 0},
		{"no payload", ``, "", 0},
		{"no grace", `{"sweepGraceSeconds":0}`, "", 1},
		{"a negative grace", `{"sweepGraceSeconds":-1}`, "must not be negative", 0},
		{"an unknown field", `{"sweep":true}`, "unknown field", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if _, _, err := w.builds.RunBuild(codebuild.RunInput{Project: "hello-build", Exported: []codebuild.EnvironmentVariable{{Name: release.VarFunction, Value: "hello"}}}); err != nil {
				t.Fatal(err)
			}
			rep, err := w.h.Handle(context.Background(), json.RawMessage(tc.in))
			if (err != nil) != (tc.wantErr != "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Handle(%s) = %v, want error %q", tc.in, err, tc.wantErr)
			}
			if len(rep.Swept) != tc.swept {
				t.Errorf("swept = %v, want %d (a build that just ended)", rep.Swept, tc.swept)
			}
		})
	}
}

// counter counts the operations called through the clients it is an
// APIOption of.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) count(s *middleware.Stack) error {
	return s.Initialize.Add(middleware.InitializeMiddlewareFunc("reconcile_test.count",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.n[middleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// TestCallsAtScale (issue 19's quotas): one run at 200 targets, their
// aliases stamped by aliasflow, a day of builds all released but one, a
// few promotions running, makes one ListAliases a target and a handful of
// other calls — the trail is read once, not per target. Pruning on every
// target adds, for the reconciler.DefaultPruneTargets whose turn it is,
// their versions and aliases (read again before deleting when there is
// anything to delete), the running promotions' input and the Region's code
// storage, and one more read of the trail for a pass that deletes.
func TestCallsAtScale(t *testing.T) {
	const n = 200
	const k = reconcile.DefaultPruneTargets
	off := map[string]int{
		"ListAliases":         n,      // one a target: drift is one ListAliases away
		"Invoke":              1,      // the one missed build
		"GetParametersByPath": n / 10, // 10 parameters a page
		"FilterLogEvents":     1,      // the trail once: every alias is stamped
		"ListBuilds":          1,
		"BatchGetBuilds":      1,
		"ListExecutions":      1,
	}
	with := func(more map[string]int) map[string]int {
		out := maps.Clone(off)
		for op, x := range more {
			out[op] += x
		}
		return out
	}
	tests := []struct {
		name     string
		keepLast int // 0: no policy
		want     map[string]int
		deleted  int
		// unstamped: stg and prod as the targets' stacks create them,
		// before any promotion stamped them (the trail is then read once
		// for all of them, not once a target).
		unstamped bool
	}{
		{"pruning off", 0, off, 0, false},
		{"aliases not yet stamped", 0, with(map[string]int{"FilterLogEvents": 1}), 0, true},
		{"pruning on, nothing to delete", 4, with(map[string]int{
			"ListAliases": k, "ListVersionsByFunction": k, "GetAccountSettings": 1, "ListExecutions": 1, "DescribeExecution": 3, // 3 running
		}), 0, false},
		{"pruning on, an old version of each target", 2, with(map[string]int{
			"ListAliases": 2 * k, "ListVersionsByFunction": 2 * k, // the plan's and the fresh read's
			"DeleteFunction": k, "GetAccountSettings": 2, // before and after
			"ListExecutions": 2, "DescribeExecution": 2 * 3,
			"FilterLogEvents": 1, // the fresh read of the trail
		}), k, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fns := make([]string, n)
			for i := range fns {
				fns[i] = fmt.Sprintf("fn%03d", i)
			}
			c := &counter{n: map[string]int{}}
			w := newWorldWith(t, fns, c, func(tgt *config.Target) {
				if tc.keepLast > 0 {
					tgt.Prune = &config.Prune{KeepLast: tc.keepLast}
				}
			})
			for i, fn := range fns {
				for _, name := range []string{"stg", "prod"} {
					ctx := alias.WithStamp(context.Background(), fn+"-v2-0a0a0a0a")
					if tc.unstamped {
						ctx = context.Background()
					}
					_, err := alias.Mover{Lambda: w.lambda.Admin}.Move(ctx, fn, name,
						func(alias.Alias) (alias.Alias, bool, error) {
							return alias.Alias{Exists: true, Version: "2"}, true, nil
						})
					if err != nil {
						t.Fatal(err)
					}
				}
				if i%20 == 0 { // a build of every tenth target today, released
					b, _, err := w.builds.RunBuild(codebuild.RunInput{Project: fn + "-build"})
					if err != nil {
						t.Fatal(err)
					}
					r := audit.Record{Event: audit.ReleasePublished, Function: fn, Alias: "stg", ToVersion: "2", Release: &promotion.Release{Build: b.ID}}
					audit.New(slog.New(slog.NewJSONHandler(logWriter{w}, nil)), nil, &audit.Options{Now: w.clock}).Log(context.Background(), r)
				}
			}
			missed, _, err := w.builds.RunBuild(codebuild.RunInput{Project: "fn199-build"})
			if err != nil {
				t.Fatal(err)
			}
			for _, fn := range fns[:3] {
				w.promo.StartWaiting(t, promotion.ExecutionName(fn, "3", "9a7FMr2BtwI4GK/P4d1j8JPSLYHeV6H55HvtJVGI7T8="),
					promotion.Input{Function: fn, Version: "3", Target: target, Steps: []promotion.Step{}})
			}
			w.advance(10 * time.Minute)
			before := len(w.lambda.Calls())
			rep := w.run()
			if rep.Targets != n || len(rep.Drifted) != 0 || !slices.Equal(rep.Swept, []string{"fn199:" + missed.ID}) || len(rep.Stuck) != 0 || len(rep.Deleted) != tc.deleted {
				t.Fatalf("report = %d targets, drifted %v, swept %v, stuck %v, %d deleted; want %d, none, %s, none, %d",
					rep.Targets, rep.Drifted, rep.Swept, rep.Stuck, len(rep.Deleted), n, missed.ID, tc.deleted)
			}
			for _, op := range w.lambda.Calls()[before:] {
				c.n[op]++
			}
			c.n["Invoke"] += len(w.invokes.calls) // answered by the test's invokes
			total := 0
			for op, got := range c.n {
				total += got
				if got != tc.want[op] {
					t.Errorf("%s calls = %d, want %d", op, got, tc.want[op])
				}
			}
			for op, x := range tc.want {
				if c.n[op] != x {
					t.Errorf("%s calls = %d, want %d", op, c.n[op], x)
				}
			}
			t.Logf("one run at %d targets: %d calls %v (and one PutEvents when it found anything)", n, total, c.n)
		})
	}
}

// TestStuckGroupPromotionIsReported: a group's execution (<group>-g<tag>)
// names no function; its deadline is its members' (the settings validator
// makes a group's members agree on strategy, approval and health), and
// the record names the group and a member.
func TestStuckGroupPromotionIsReported(t *testing.T) {
	w := newWorldWith(t, []string{"hello", "orders"}, nil, func(tg *config.Target) { tg.Group = "api" })
	members := []promotion.Member{{Function: "hello", Version: "2", Release: promotion.Release{CodeSha256: "c2hhLWhlbGxv"}},
		{Function: "orders", Version: "5", Release: promotion.Release{CodeSha256: "c2hhLW9yZGVycw=="}}}
	name := promotion.GroupExecutionName("api", members)
	w.promo.StartWaiting(t, name, promotion.Input{Function: "hello", Version: "2", Group: "api", Members: members, Target: target, Steps: []promotion.Step{}})
	tgt := target
	tgt.ApplyDefaults()
	w.mu.Lock()
	w.now = w.now.Add(reconcile.Longest(tgt) + reconcile.DefaultStuckGrace + time.Minute)
	w.mu.Unlock()
	if rep := w.run(); !slices.Equal(rep.Stuck, []string{name}) {
		t.Errorf("stuck = %v, want [%s]", rep.Stuck, name)
	}
	stuck := w.records(audit.PromotionStuck)
	if len(stuck) != 1 || stuck[0].Group != "api" || stuck[0].Function != "hello" {
		b, _ := json.Marshal(stuck)
		t.Errorf("promotion.stuck records = %s; want one, of group api, naming member hello", b)
	}
}
