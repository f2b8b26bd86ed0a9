package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/sandbox/quota"
	snssvc "github.com/aliasflow/aliasflow/sandbox/sns"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// quotaRun is n promotions released within a window (a burst of merges)
// with the sandbox enforcing AWS's request quotas (sandbox/quota.Default)
// and nothing else changed.
type quotaRun struct {
	n            int
	window       time.Duration
	setupErr     error
	wall         time.Duration
	outcomes     map[string]int // SUCCEEDED, FAILED, …, "lost" (no execution), "stuck" (no end in time)
	errs         []string
	usage        []quota.Usage
	calls        []sandbox.Call
	suspended    []string
	approveTries int
	// running is how many executions run now, peakRunning the most at once.
	running, peakRunning atomic.Int64
}

// bakingTarget is a scale function's settings for the quota run: the
// even-numbered ones a canary of 10 % baked 5 s, then 100 %, the odd ones
// linear in steps of 50 % every 5 s; judged by its alarm, metrics and log
// streams (without traffic inconclusive, and promoted at
// health.maxBakeSeconds).
func bakingTarget(i int) config.Target {
	fn := scaleFunction(i)
	// The CLI's caller in the sandbox (user/test) decides as the approver,
	// as for the scale run's targets: since approvals go through the
	// IAM-authorized approval API, an unmapped caller is refused.
	t := config.Target{Function: fn, Approvers: []string{local.DefaultApprover}, Approval: local.SandboxApproval(local.DefaultApprover),
		Strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 5}}
	if i%2 == 1 {
		t.Strategy = config.StrategyConfig{Type: config.Linear, Percent: 50, IntervalSeconds: 5}
	}
	t.Health.MaxBakeSeconds, t.Health.OnInconclusive = 20, config.OnInconclusivePromote
	// A 5 s step is shorter than the metrics' delay: the versions' own log
	// streams (FilterLogEvents) are the fresh signal.
	t.Health.FreshSignal = config.FreshSignalLogs
	// The scale functions run hello's code (aws-lambda-go): the logs then
	// see handled errors, which the settings require of a step shorter
	// than the metrics' delay.
	t.Health.LogRuntime = config.LogRuntimeGo
	t.ApplyDefaults()
	return t
}

// quotaOptions are the quota section's knobs (bench flags).
type quotaOptions struct {
	// n promotions, their releases spread evenly over window.
	n      int
	window time.Duration
	// control also runs the same promotions without quotas.
	control bool
}

// quotaFigures measures the quota section.
func quotaFigures(r *report, root string, o quotaOptions) {
	binDir := os.Getenv("ALIASFLOW_BIN_DIR")
	if binDir == "" {
		binDir = filepath.Join(root, "dist", "local")
	}
	hello, err := os.ReadFile(filepath.Join(binDir, "hello", "bootstrap"))
	if err != nil {
		r.section("11. AWS quotas", "not measured: "+err.Error()+" (run `make build-local`)")
		r.missed = append(r.missed, "11. AWS quotas: not measured")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	var control *quotaRun
	if o.control {
		fmt.Printf("… %d baking promotions released within %s without quotas (the control)\n", o.n, o.window)
		control = runQuota(ctx, binDir, hello, o, nil)
	}
	fmt.Printf("… %d baking promotions released within %s with AWS's request quotas on\n", o.n, o.window)
	quotaSection(r, control, runQuota(ctx, binDir, hello, o, quota.Default()))
}

func runQuota(ctx context.Context, binDir string, hello []byte, o quotaOptions, limits quota.Limits) *quotaRun {
	n := o.n
	run := &quotaRun{n: n, window: o.window, outcomes: map[string]int{}}
	log := &syncBuffer{}
	w, err := local.Start(ctx, local.Options{BinDir: binDir, Log: log, Hello: allAtOnce, Quotas: limits})
	if err != nil {
		run.setupErr = fmt.Errorf("start the world: %w", err)
		return run
	}
	defer w.Close()
	if _, err := w.ConfirmSubscriptionsProtected(ctx); err != nil {
		run.setupErr = err
		return run
	}
	b := &world{w: w, sb: w.Sandbox(), hello: hello, log: log}
	shas, err := b.setupScale(ctx, n)
	if err != nil {
		run.setupErr = err
		return run
	}
	for i := range n {
		// The functions served version 1 before: Lambda created their log
		// groups then (a function never invoked has none, and the health
		// check's FilterLogEvents would fail on it, quotas or not).
		now := time.Now().UTC()
		b.sb.Logs().Append("/aws/lambda/"+scaleFunction(i), now.Format("2006/01/02")+"/[1]0123456789abcdef", now, "START RequestId: 00000000-0000-0000-0000-000000000000 Version: 1")
		doc, err := settings.Encode(bakingTarget(i))
		if err == nil {
			_, err = b.sb.SSM().PutParameter(settings.ParameterName(settings.DefaultPipeline, scaleFunction(i)), doc, true)
		}
		if err != nil {
			run.setupErr = fmt.Errorf("settings: %w", err)
			return run
		}
	}
	began := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A burst of merges: the releases spread evenly over the window.
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(i) * o.window / time.Duration(n)):
			}
			fn := scaleFunction(i)
			outcome, tries, err := b.promoteUnderQuotas(ctx, fn, shas[i], fmt.Sprintf("9007a%03d", i), i%4 == 0, run)
			mu.Lock()
			defer mu.Unlock()
			kind := outcome
			if strings.HasPrefix(outcome, "FAILED (rolled back") {
				kind = "rolled back"
			} else if strings.HasPrefix(outcome, "FAILED") {
				kind = "FAILED"
			}
			run.outcomes[kind]++
			run.approveTries += tries
			if err != nil && len(run.errs) < 5 {
				run.errs = append(run.errs, fn+": "+err.Error())
			}
		}()
	}
	wg.Wait()
	run.wall = time.Since(began)
	if len(run.errs) > 0 {
		run.errs = append(run.errs, "world log: "+log.tail(5))
	}
	run.usage = b.sb.Quotas()
	run.calls = b.sb.Calls()
	run.suspended = b.sb.SNS().Suspended()
	return run
}

// promoteUnderQuotas releases fn and approves it as a person does: once,
// when the approval e-mail for it arrives, a few seconds after (people read
// their mail), through the CLI (`aliasflow approve`); a throttled or failed
// attempt is tried again after a backoff (2 s, doubling to 30 s), as a
// person tries again later, never in a loop every second. With traffic, the
// prod alias is invoked every 3 s until the promotion ends. The outcome is
// the execution's status.
func (b *world) promoteUnderQuotas(ctx context.Context, fn, sha, commit string, traffic bool, run *quotaRun) (string, int, error) {
	// The releases queue in the release Lambda's asynchronous queue
	// (reserved concurrency, deploy.ReleaseConcurrency): a burst takes
	// minutes to drain, never lost within Lambda's 6 hours.
	ctx, cancel := context.WithTimeout(ctx, 40*time.Minute)
	defer cancel()
	name := promotion.ExecutionName(fn, "2", sha)
	arn := fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", core.Region, core.Account, local.StateMachineName, name)
	if _, err := b.releaseRequested(fn, sha, commit).put(); err != nil {
		return "lost", 0, err
	}
	if traffic {
		go b.trafficTo(ctx, fn)
	}
	approvals := make(chan int, 1)
	go func() { approvals <- b.approveWhenMailed(ctx, fn, name) }()
	tries := 0
	put := time.Now()
	counted := false
	defer func() {
		if counted {
			run.running.Add(-1)
		}
	}()
	for {
		status, err := b.sb.States().ExecutionStatus(arn)
		if err == nil && status == "RUNNING" && !counted {
			counted = true
			n := run.running.Add(1)
			for p := run.peakRunning.Load(); n > p && !run.peakRunning.CompareAndSwap(p, n); p = run.peakRunning.Load() {
			}
		}
		if err == nil && status != "RUNNING" {
			select {
			case tries = <-approvals:
			case <-time.After(time.Second):
			}
			if status == "SUCCEEDED" {
				return status, tries, nil
			}
			return b.why(arn, status), tries, fmt.Errorf("ended %s", b.why(arn, status))
		}
		if err != nil && time.Since(put) > 30*time.Minute {
			return "lost", tries, fmt.Errorf("no execution 30 min after the release event: %w", err)
		}
		if ctx.Err() != nil {
			if err != nil {
				return "lost", tries, err
			}
			return "stuck", tries, fmt.Errorf("still %s", status)
		}
		// The bench's own look at the outcome, through the sandbox's Go
		// API: no AWS request, no quota drawn.
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// approveWhenMailed waits for fn's approval e-mail to the approver, then
// approves the promotion through the CLI, trying again with backoff while
// an attempt fails; it returns the attempts made.
func (b *world) approveWhenMailed(ctx context.Context, fn, name string) int {
	subject := approval.Subject(promotion.Input{Function: fn, Version: "2"})
	if _, _, err := b.sb.SNS().Wait(ctx, 0, func(m snssvc.Message) bool {
		return m.Endpoint == local.DefaultApprover && m.Subject == subject
	}); err != nil {
		return 0
	}
	// Reading the mail takes a person a few seconds.
	wait := time.Duration(2+rand.IntN(8)) * time.Second
	var stderr bytes.Buffer
	for tries := 1; ; tries++ {
		select {
		case <-ctx.Done():
			return tries - 1
		case <-time.After(wait):
		}
		stderr.Reset()
		code := cli.Main(ctx, []string{"--endpoint", b.w.Endpoint(), "--region", core.Region, "approve", name, "--comment", "make bench"},
			cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr})
		if code == cli.ExitOK || code == cli.ExitConflict || code == cli.ExitNotFound || tries >= 8 {
			// Decided, or nothing left to decide (ended, rolled back).
			return tries
		}
		wait = min(2*time.Second<<(tries-1), 30*time.Second)
	}
}

// trafficTo invokes fn's prod alias every 3 s until ctx ends: the light,
// steady traffic of a function in use, which the health checks then judge.
func (b *world) trafficTo(ctx context.Context, fn string) {
	payload := []byte(`{"httpMethod":"GET","path":"/","requestContext":{"stage":"production"}}`)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
		_, _ = b.sb.Lambda().Invoke(ctx, fn, promotion.AliasProd, payload)
	}
}

// why names how a promotion that did not succeed ended: rolled back (its
// Rollback state was entered) or not, with the execution's error and the
// cause's start.
func (b *world) why(arn, status string) string {
	events, err := b.sb.States().History(arn)
	if err != nil {
		return status
	}
	rolledBack, failure, state, lastTaskFailure := false, "", "", ""
	for _, e := range events {
		if d := e.StateEnteredEventDetails; d != nil {
			if d.Name == "Rollback" && !rolledBack {
				rolledBack = true
				status += " (rolled back after " + state + ": " + lastTaskFailure + ")"
			}
			state = d.Name
		}
		if d := e.TaskFailedEventDetails; d != nil {
			lastTaskFailure = d.Error + " " + clipTo(d.Cause, 200)
		}
		if d := e.ExecutionFailedEventDetails; d != nil && !rolledBack {
			failure = d.Error + ": " + clipTo(d.Cause, 160)
		}
	}
	if failure != "" {
		status += " " + failure
	}
	return status
}

func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func quotaSection(r *report, control, run *quotaRun) {
	const title = "11. AWS quotas"
	for _, x := range []*quotaRun{control, run} {
		if x != nil && x.setupErr != nil {
			r.section(title, "not measured: "+x.setupErr.Error())
			r.missed = append(r.missed, title+": not measured")
			return
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "A burst of %d merges within %s (a Release Requested event each, spread evenly), so that the promotions bake at once: "+
		"the even-numbered functions a canary of 10 %% baked 5 s then 100 %%, the odd ones linear in steps of 50 %% every 5 s; "+
		"every fourth function serves light traffic (its prod alias invoked every 3 s), the others none; judged on their alarm, "+
		"metrics and log streams (without traffic inconclusive, promoted at health.maxBakeSeconds 20 s). "+
		"The approvers behave like people: each approves once, when the approval e-mail for the promotion arrives and 2–9 s after, "+
		"through the CLI (`aliasflow approve`), and tries again only if that fails (throttled), after 2 s, doubling to 30 s; no polling loop. "+
		"Approvers confirmed with AuthenticateOnUnsubscribe; the sandbox enforces "+
		"AWS's default request quotas (`sandbox/quota.Default`, us-east-1's buckets) and SNS's e-mail rate, nothing else changed. "+
		"Wall time %s.\n\n", run.n, run.window, run.wall.Round(time.Second))
	if control != nil {
		fmt.Fprintf(&b, "The control, the same run without quotas: %s in %s.\n\n", formatOutcomes(control.outcomes), control.wall.Round(time.Second))
		for _, e := range control.errs {
			b.WriteString("- control: " + e + "\n")
		}
	}
	wrong := run.n - run.outcomes["SUCCEEDED"]
	fmt.Fprintf(&b, "Promotions running at once at most: %d (the release Lambda's queue spreads the burst's starts).\n\n", run.peakRunning.Load())
	fmt.Fprintf(&b, "Outcomes: %s; wrong outcomes (a healthy release not promoted, or lost): **%d** of %d. CLI approve attempts: %d.\n\n",
		formatOutcomes(run.outcomes), wrong, run.n, run.approveTries)
	if len(run.suspended) > 0 {
		fmt.Fprintf(&b, "SNS suspended the e-mail subscription of %s (more than 10 approval mails a second to one address).\n\n", strings.Join(run.suspended, ", "))
	}
	b.WriteString("| quota | requests | throttled | peak / s | peak share of rate | bucket drawn to | source |\n|---|---:|---:|---:|---:|---:|---|\n")
	worst := 0.0
	for _, u := range run.usage {
		fmt.Fprintf(&b, "| %s (%g/s, bucket %g) | %d | %d | %d | %.0f %% | %.0f %% | %s |\n", u.Rule, u.Rate, u.Burst, u.Requests, u.Throttled,
			u.PeakPerSecond, 100*u.PeakShare, 100*u.Depth, strings.SplitN(u.Source, " (", 2)[0])
		worst = max(worst, u.PeakShare)
	}
	b.WriteString(callers(run.calls))
	fmt.Fprintf(&b, "\nBudget (issue 19): peak ≤ 80 %% of every quota's rate and 0 wrong outcomes: %s\n",
		r.budget("11. AWS quotas", worst <= 0.8 && wrong == 0, fmt.Sprintf("worst peak %.0f %% of its rate, %d wrong outcomes", 100*worst, wrong)))
	for _, e := range run.errs {
		b.WriteString("\n- " + e)
	}
	r.section(title, b.String())
}

// callers is who made the metered requests, per quota: the requests of the
// Lambda control plane, Step Functions' reads, CloudWatch Logs' and
// CloudWatch's by caller (a Lambda by its name, else the access key) and
// operation, the largest first.
func callers(calls []sandbox.Call) string {
	type key struct{ service, op, caller string }
	n := map[key]int{}
	for _, c := range calls {
		switch {
		case c.Service == "lambda" && !strings.HasPrefix(c.Operation, "Invoke") && c.Operation != "GetFunction" && c.Operation != "GetPolicy",
			c.Service == "states" && (c.Operation == "DescribeExecution" || c.Operation == "GetExecutionHistory" || strings.HasPrefix(c.Operation, "List")),
			c.Service == "logs", c.Service == "monitoring":
			n[key{c.Service, c.Operation, c.Caller}]++
		}
	}
	keys := make([]key, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].service != keys[j].service {
			return keys[i].service < keys[j].service
		}
		return n[keys[i]] > n[keys[j]]
	})
	var b strings.Builder
	b.WriteString("\nWho made them (answered and throttled requests):\n\n| service | operation | caller | requests |\n|---|---|---|---:|\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "| %s | %s | %s | %d |\n", k.service, k.op, k.caller, n[k])
	}
	return b.String()
}

func formatOutcomes(m map[string]int) string {
	var parts []string
	for _, k := range []string{"SUCCEEDED", "rolled back", "FAILED", "ABORTED", "TIMED_OUT", "stuck", "lost"} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}
