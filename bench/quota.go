package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/sandbox/core"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/local"
	logssvc "github.com/aliasflow/aliasflow/sandbox/logs"
	"github.com/aliasflow/aliasflow/sandbox/quota"
	snssvc "github.com/aliasflow/aliasflow/sandbox/sns"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/reconcile"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
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
	// running is how many executions run now, peakRunning the most at once;
	// baking how many prod aliases route to the new version now (a step
	// baking), peakBaking the most at once.
	running, peakRunning atomic.Int64
	baking, peakBaking   atomic.Int64
	// bake is each step's bake (and health.maxBakeSeconds).
	bake time.Duration
	// causes counts the failed promotions by the first task failure's
	// error name; denied the calls the sandbox's IAM refused, by principal
	// and action.
	causes map[string]int
	denied map[string]int
	// releaseStarts is when the release Lambda started the first and the
	// last execution (StartExecution answered).
	releaseStarts [2]time.Time
	// weighted are the functions whose prod still routes to two versions
	// at the end; unaudited the alias moves without exactly one audit
	// record, "function:alias moves/records".
	weighted, unaudited []string
	// reconcileRuns is how many times the reconciler's schedule invoked
	// it, reconcileErrs the invocations the sandbox refused.
	reconcileRuns int
	reconcileErrs []string
}

// bakingTarget is a scale function's settings for the quota run: the
// even-numbered ones a canary of 10 % baked for bake, then 100 %, the odd
// ones linear in steps of 50 % every bake; judged by its alarm, metrics and
// log streams (without traffic inconclusive, and promoted at
// health.maxBakeSeconds, bake).
func bakingTarget(i int, bake time.Duration) config.Target {
	fn := scaleFunction(i)
	secs := int(bake / time.Second)
	// The CLI's caller in the sandbox (user/test) decides as the approver,
	// as for the scale run's targets: since approvals go through the
	// IAM-authorized approval API, an unmapped caller is refused.
	t := config.Target{Function: fn, Approvers: []string{local.DefaultApprover}, Approval: local.SandboxApproval(local.DefaultApprover),
		Strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: secs}}
	if i%2 == 1 {
		t.Strategy = config.StrategyConfig{Type: config.Linear, Percent: 50, IntervalSeconds: secs}
	}
	t.Health.MaxBakeSeconds, t.Health.OnInconclusive = secs, config.OnInconclusivePromote
	// The versions' own log streams (FilterLogEvents) are the fresh
	// signal, as for a step shorter than the metrics' delay.
	t.Health.FreshSignal = config.FreshSignalLogs
	// The scale functions run hello's code (aws-lambda-go): the logs then
	// see handled errors, which the settings require of a step shorter
	// than the metrics' delay.
	t.Health.LogRuntime = config.LogRuntimeGo
	t.ApplyDefaults()
	return t
}

// releaseDrain is how long the release Lambda takes to start n promotions
// however fast they are merged: its deploy.ReleaseConcurrency environments
// pace their control-plane requests at deploy.ReleaseControlPlaneRate
// each, deploy.ReleaseControlPlaneCalls a release — and an event that finds all
// of them busy is throttled back onto Lambda's asynchronous queue, retried
// with a backoff that grows to minutes, so a burst drains slower than the
// pacing alone: 200 releases started over 19m24s (about 6 s each, twice
// the pacing's 2 s) in the quota run of 2026-12-07.
func releaseDrain(n int) time.Duration {
	return 3 * time.Duration(float64(n)/deploy.ReleaseAdmissionRate()*float64(time.Second))
}

// quotaBake is the bake that keeps every one of n promotions baking at
// once: longer than the release Lambda takes to start them all, and a
// minute for the smoke checks and the approvals.
func quotaBake(n int) time.Duration {
	return (releaseDrain(n) + time.Minute).Round(time.Second)
}

// quotaOptions are the quota section's knobs (bench flags).
type quotaOptions struct {
	// n promotions, their releases spread evenly over window.
	n      int
	window time.Duration
	// control also runs the same promotions without quotas.
	control bool
	// bake is each step's bake; quotaBake(n) when 0.
	bake time.Duration
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
	if o.bake == 0 {
		o.bake = quotaBake(o.n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	fmt.Printf("… synthesizing the CDK app with the %d bench functions as its targets\n", o.n)
	templates, err := synthTargets(ctx, root, binDir, quotaTargets(o))
	if err != nil {
		r.section("11. AWS quotas", "not measured: "+err.Error())
		r.missed = append(r.missed, "11. AWS quotas: not measured")
		return
	}
	defer os.RemoveAll(templates)
	var control *quotaRun
	if o.control {
		fmt.Printf("… %d baking promotions released within %s without quotas (the control)\n", o.n, o.window)
		control = runQuota(ctx, binDir, templates, hello, o, nil)
	}
	fmt.Printf("… %d baking promotions released within %s with AWS's request quotas on\n", o.n, o.window)
	quotaSection(r, control, runQuota(ctx, binDir, templates, hello, o, quota.Default()))
}

// quotaTargets are the quota run's n targets.
func quotaTargets(o quotaOptions) []config.Target {
	targets := make([]config.Target, o.n)
	for i := range o.n {
		targets[i] = bakingTarget(i, o.bake)
	}
	return targets
}

// synthTargets synthesizes the CDK app as `make build-local` does for the
// world, with targets as its targets file (-c targetsFile, the pipeline
// stack imports each function by name): the shift's and the release's
// roles then grant what a deployed pipeline grants on them, their log
// groups and aliases. It returns a temporary directory holding the
// templates (its parent to remove).
func synthTargets(ctx context.Context, root, binDir string, targets []config.Target) (string, error) {
	dir, err := os.MkdirTemp("", "aliasflow-bench-app-")
	if err != nil {
		return "", err
	}
	doc, err := json.MarshalIndent(config.Config{Targets: targets}, "", "  ")
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, "targets.json")
	if err := os.WriteFile(file, doc, 0o644); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(binDir)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "templates")
	cmd := exec.CommandContext(ctx, filepath.Join(root, "node_modules", ".bin", "cdk"), "synth", "--no-notices", "--quiet", "--no-staging",
		"-o", out, "-c", "assetDir="+abs, "-c", "githubRepository=acme/shop", "-c", "targetsFile="+file)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20", "CDK_DISABLE_CLI_TELEMETRY=true", "AWS_EC2_METADATA_DISABLED=true")
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("cdk synth with %d targets: %v\n%s", len(targets), err, lastLines(string(msg), 10))
	}
	return out, nil
}

func runQuota(ctx context.Context, binDir, templates string, hello []byte, o quotaOptions, limits quota.Limits) *quotaRun {
	n := o.n
	run := &quotaRun{n: n, window: o.window, bake: o.bake, outcomes: map[string]int{}, causes: map[string]int{}, denied: map[string]int{}}
	log := &syncBuffer{}
	b := &world{hello: hello, log: log}
	w, err := local.Start(ctx, local.Options{BinDir: binDir, Log: log, Hello: allAtOnce, Quotas: limits, Templates: templates,
		// The functions exist before the pipeline is deployed (another
		// tool deployed them): the targets' stacks publish their first
		// version and create stg and prod on it.
		Existing: func(ctx context.Context, sb *sandbox.Sandbox) error {
			b.sb = sb
			return b.createTargets(n)
		}})
	if err != nil {
		run.setupErr = fmt.Errorf("start the world: %w", err)
		return run
	}
	defer w.Close()
	b.w, b.sb = w, w.Sandbox()
	if _, err := w.ConfirmSubscriptionsProtected(ctx); err != nil {
		run.setupErr = err
		return run
	}
	shas := make([]string, n)
	for i := range n {
		fn := scaleFunction(i)
		// The functions served version 1 before: Lambda created their log
		// groups then (a function never invoked has none).
		now := time.Now().UTC()
		b.sb.Logs().Append("/aws/lambda/"+fn, now.Format("2006/01/02")+"/[1]0123456789abcdef", now, "START RequestId: 00000000-0000-0000-0000-000000000000 Version: 1")
		if shas[i], err = b.deploy(ctx, fn, "v2"); err != nil {
			run.setupErr = err
			return run
		}
	}
	b.sb.ResetCalls()
	began := time.Now()
	// The reconciler runs on its schedule through the burst and the bakes.
	schedCtx, stopSchedule := context.WithCancel(ctx)
	scheduled := make(chan int, 1)
	go func() { scheduled <- b.reconcileOnSchedule(schedCtx, run) }()
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
			if kind != "SUCCEEDED" {
				run.causes[b.firstFailure(fn, shas[i])]++
			}
			if err != nil && len(run.errs) < 5 {
				run.errs = append(run.errs, fn+": "+err.Error())
			}
		}()
	}
	wg.Wait()
	run.wall = time.Since(began)
	stopSchedule()
	run.reconcileRuns = <-scheduled
	if len(run.errs) > 0 {
		run.errs = append(run.errs, "world log: "+log.tail(5))
	}
	run.usage = b.sb.Quotas()
	run.calls = b.sb.Calls()
	run.suspended = b.sb.SNS().Suspended()
	for _, d := range b.sb.IAMDecisions() {
		if !d.Allowed {
			run.denied[d.Principal+" "+d.Request.Action]++
		}
	}
	run.releaseStarts = releaseStarts(run.calls)
	run.weighted, run.unaudited = b.aliasesAfter(n, run.calls)
	return run
}

// reconcileOnSchedule invokes the reconciler as its EventBridge Scheduler
// schedule does (infra/aliasflow: rate of reconcile.RunPeriod, its target
// the function, no input): asynchronously (InvocationType Event, "Invoke a
// Lambda function on a schedule",
// https://docs.aws.amazon.com/lambda/latest/dg/with-eventbridge-scheduler.html),
// through the sandbox's Lambda API, at once and every RunPeriod until ctx
// ends. The reconciler then runs as its deployed role, paced within its
// share (deploy.ControlPlaneShares). It returns the invocations accepted.
func (b *world) reconcileOnSchedule(ctx context.Context, run *quotaRun) int {
	// The sandbox's IAM evaluates the templates' functions, state machines
	// and people, not the schedule's role (its one grant,
	// lambda:InvokeFunction on the reconciler, is infra/aliasflow's):
	// the request is signed as the scheduler.
	client := awslambda.NewFromConfig(aws.Config{Region: core.Region, BaseEndpoint: aws.String(b.w.Endpoint()), HTTPClient: awsenv.LoopbackOnlyClient(),
		Credentials: credentials.NewStaticCredentialsProvider("scheduler", "test", "")})
	runs := 0
	for {
		_, err := client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(deploy.ReconcileFunction),
			InvocationType: lambdatypes.InvocationTypeEvent, Payload: []byte(`{}`)})
		switch {
		case err == nil:
			runs++
		case ctx.Err() == nil && len(run.reconcileErrs) < 3:
			run.reconcileErrs = append(run.reconcileErrs, err.Error())
		}
		select {
		case <-ctx.Done():
			return runs
		case <-time.After(reconcile.RunPeriod):
		}
	}
}

// createTargets creates the n scale functions with hello's code, tagged
// with the pipeline as the target construct tags a target (the pipeline's
// roles act on the pipeline's functions only).
func (b *world) createTargets(n int) error {
	timeout := 10
	for i := range n {
		fn := scaleFunction(i)
		zip, err := b.code(fn + " v1")
		if err != nil {
			return err
		}
		if _, err := b.sb.Lambda().CreateFunction(lambdasvc.CreateFunctionInput{
			FunctionName: fn, Runtime: "provided.al2023", Handler: "bootstrap",
			Role: "arn:aws:iam::" + core.Account + ":role/aliasflow-bench", Code: lambdasvc.FunctionCode{ZipFile: zip}, Timeout: &timeout,
			Tags: map[string]string{local.PipelineTag: local.PipelineName},
		}); err != nil {
			return fmt.Errorf("create %s: %w", fn, err)
		}
	}
	return nil
}

// firstFailure is the error name of the first task failure in the history
// of fn's promotion of version 2 ("no execution" when none started).
func (b *world) firstFailure(fn, sha string) string {
	arn := fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", core.Region, core.Account, local.StateMachineName, promotion.ExecutionName(fn, "2", sha))
	events, err := b.sb.States().History(arn)
	if err != nil {
		return "no execution"
	}
	for _, e := range events {
		if d := e.TaskFailedEventDetails; d != nil {
			return d.Error
		}
		if d := e.ExecutionFailedEventDetails; d != nil {
			return d.Error
		}
	}
	return "no task failed"
}

// releaseStarts is when the release Lambda's first and last StartExecution
// were answered.
func releaseStarts(calls []sandbox.Call) [2]time.Time {
	var out [2]time.Time
	for _, c := range calls {
		if c.Service != "states" || c.Operation != "StartExecution" || c.Caller != local.ReleaseFunction || c.Status != 200 {
			continue
		}
		if out[0].IsZero() || c.At.Before(out[0]) {
			out[0] = c.At
		}
		if c.At.After(out[1]) {
			out[1] = c.At
		}
	}
	return out
}

// aliasesAfter checks the n functions' aliases at the end: the functions
// whose prod still routes to two versions, and every alias whose moves
// (the pipeline's answered UpdateAlias and CreateAlias requests) do not
// have exactly one audit record each (alias.moved or traffic.shifted in
// the pipeline's log group), as "function:alias moves/records".
func (b *world) aliasesAfter(n int, calls []sandbox.Call) (weighted, unaudited []string) {
	moves, records := map[string]int{}, map[string]int{}
	for _, c := range calls {
		if c.Service != "lambda" || c.Status != 200 && c.Status != 201 || c.Operation != "UpdateAlias" && c.Operation != "CreateAlias" {
			continue
		}
		if c.Caller != local.ReleaseFunction && c.Caller != local.ShiftFunction {
			continue
		}
		// /2015-03-31/functions/<fn>/aliases/<alias> (UpdateAlias) or
		// /2015-03-31/functions/<fn>/aliases (CreateAlias: the name is in
		// the body; the pipeline creates none here).
		parts := strings.Split(strings.Trim(c.Path, "/"), "/")
		if len(parts) == 5 {
			moves[parts[2]+":"+parts[4]]++
		}
	}
	// The audit trail in the pipeline's log group (the sandbox keeps only
	// the last 1,000 EventBridge events, fewer than a run puts).
	lines, err := b.sb.Logs().Filter(logssvc.FilterQuery{Group: deploy.PipelineLogGroup, FilterPattern: "{ $.audit IS TRUE }"})
	if err != nil {
		return nil, []string{"the audit trail: " + err.Error()}
	}
	for _, l := range lines {
		var rec audit.Record
		if json.Unmarshal([]byte(l.Message), &rec) != nil || rec.Event != audit.AliasMoved && rec.Event != audit.TrafficShifted {
			continue
		}
		records[rec.Function+":"+rec.Alias]++
	}
	for i := range n {
		fn := scaleFunction(i)
		if a, err := b.sb.Lambda().GetAlias(fn, promotion.AliasProd); err != nil || a.RoutingConfig != nil && len(a.RoutingConfig.AdditionalVersionWeights) > 0 {
			weighted = append(weighted, fn)
		}
		for _, name := range []string{promotion.AliasStg, promotion.AliasProd} {
			k := fn + ":" + name
			if moves[k] != records[k] {
				unaudited = append(unaudited, fmt.Sprintf("%s %d/%d", k, moves[k], records[k]))
			}
		}
	}
	return weighted, unaudited
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
	ctx, cancel := context.WithTimeout(ctx, promotionDeadline(run.n, run.bake))
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
	counted, baking := false, false
	defer func() {
		if counted {
			run.running.Add(-1)
		}
		if baking {
			run.baking.Add(-1)
		}
	}()
	for {
		status, err := b.sb.States().ExecutionStatus(arn)
		if err == nil && status == "RUNNING" && !counted {
			counted = true
			up(&run.running, &run.peakRunning)
		}
		// Baking: prod sends a share of its traffic to the new version.
		if a, aerr := b.sb.Lambda().GetAlias(fn, promotion.AliasProd); aerr == nil {
			weighted := a.RoutingConfig != nil && a.RoutingConfig.AdditionalVersionWeights["2"] > 0
			if weighted && !baking {
				up(&run.baking, &run.peakBaking)
			} else if !weighted && baking {
				run.baking.Add(-1)
			}
			baking = weighted
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
		if wait := 2 * releaseDrain(run.n); err != nil && time.Since(put) > wait {
			return "lost", tries, fmt.Errorf("no execution %s after the release event: %w", wait, err)
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

// promotionDeadline is how long the bench waits for one of n promotions
// released in a burst to end before calling it stuck: the release Lambda's
// drain (half as long again as releaseDrain's estimate: the quota run of
// 2026-12-08 at 200 drained in 24m10s where it estimated 20 minutes, and
// its fixed 40 minutes cut 2 promotions short), the linear strategy's two
// bakes, and 5 minutes for the smoke checks, the approval and the last
// moves.
func promotionDeadline(n int, bake time.Duration) time.Duration {
	return 3*releaseDrain(n)/2 + 2*bake + 5*time.Minute
}

// up counts one more in cur and raises peak to it.
func up(cur, peak *atomic.Int64) {
	n := cur.Add(1)
	for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
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
	bake := int(run.bake / time.Second)
	fmt.Fprintf(&b, "A burst of %d merges within %s (a Release Requested event each, spread evenly) to %d targets of the CDK app "+
		"(synthesized with them in its targets file, as `make build-local` synthesizes the world, so the pipeline's roles grant on them what AWS would): "+
		"the even-numbered functions a canary of 10 %% baked %d s then 100 %%, the odd ones linear in steps of 50 %% every %d s; "+
		"every fourth function serves light traffic (its prod alias invoked every 3 s), the others none; judged on their alarm, "+
		"metrics and log streams (without traffic inconclusive, promoted at health.maxBakeSeconds %d s). "+
		"The bake is longer than the release Lambda takes to start them all (%s expected, below), so that they bake at once. "+
		"The approvers behave like people: each approves once, when the approval e-mail for the promotion arrives and 2–9 s after, "+
		"through the CLI (`aliasflow approve`), and tries again only if that fails (throttled), after 2 s, doubling to 30 s; no polling loop. "+
		"Approvers confirmed with AuthenticateOnUnsubscribe; the sandbox enforces "+
		"AWS's default request quotas (`sandbox/quota.Default`, us-east-1's buckets) and SNS's e-mail rate, nothing else changed. "+
		"Wall time %s.\n\n", run.n, run.window, run.n, bake, bake, bake, releaseDrain(run.n).Round(time.Second), run.wall.Round(time.Second))
	if control != nil {
		fmt.Fprintf(&b, "The control, the same run without quotas: %s in %s, at most %d baking at once.\n\n",
			formatOutcomes(control.outcomes), control.wall.Round(time.Second), control.peakBaking.Load())
		for _, e := range control.errs {
			b.WriteString("- control: " + e + "\n")
		}
	}
	wrong := run.n - run.outcomes["SUCCEEDED"] + len(run.weighted) + len(run.unaudited)
	if s := run.releaseStarts; !s[0].IsZero() {
		fmt.Fprintf(&b, "The release Lambda started the %d executions over %s (first to last StartExecution; the merges took %s): "+
			"its %d environments pace their Lambda control-plane requests at %g/s each (`deploy.ReleaseControlPlaneRate`), %d requests a release, "+
			"so it starts at most %.1f promotions a second whatever the burst, and the events that find all of them busy wait on Lambda's asynchronous queue with a growing backoff.\n\n",
			run.n, s[1].Sub(s[0]).Round(time.Second), run.window, deploy.ReleaseConcurrency, deploy.ReleaseControlPlaneRate, deploy.ReleaseControlPlaneCalls,
			deploy.ReleaseAdmissionRate())
	}
	b.WriteString(reconcilerRuns(run))
	fmt.Fprintf(&b, "At most at once: **%d baking** (prod routing a share to the new version), %d executions running.\n\n", run.peakBaking.Load(), run.peakRunning.Load())
	fmt.Fprintf(&b, "Outcomes: %s. CLI approve attempts: %d. Every release is healthy, so a wrong outcome is a promotion that did not succeed "+
		"(rolled back, failed, lost), a prod left weighted (%d), or an alias whose moves do not have exactly one audit record each (%d); wrong outcomes: **%d** of %d.\n\n",
		formatOutcomes(run.outcomes), run.approveTries, len(run.weighted), len(run.unaudited), wrong, run.n)
	if len(run.causes) > 0 {
		b.WriteString("Promotions that did not succeed, by their first task failure: " + formatCounts(run.causes) + ".\n\n")
	}
	if len(run.denied) > 0 {
		b.WriteString("AccessDenied (the sandbox's IAM, as AWS would answer), by principal and action: " + formatCounts(run.denied) + ".\n\n")
	} else {
		b.WriteString("AccessDenied: none (the sandbox's IAM refused no call).\n\n")
	}
	if len(run.weighted) > 0 {
		b.WriteString("Prod left weighted: " + strings.Join(run.weighted, ", ") + ".\n\n")
	}
	if len(run.unaudited) > 0 {
		b.WriteString("Alias moves/audit records that differ: " + strings.Join(run.unaudited, ", ") + ".\n\n")
	}
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
	b.WriteString(controlPlaneShares(run.calls))
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
		case controlPlane(c),
			c.Service == "states" && (c.Operation == "DescribeExecution" || c.Operation == "GetExecutionHistory" || strings.HasPrefix(c.Operation, "List")),
			c.Service == "logs", c.Service == "monitoring", c.Service == "ssm":
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

// reconcilerRuns says how often the reconciler ran during the run and
// what it called.
func reconcilerRuns(run *quotaRun) string {
	ops := map[string]int{}
	for _, c := range run.calls {
		if c.Caller == deploy.ReconcileFunction {
			ops[c.Service+" "+c.Operation]++
		}
	}
	out := fmt.Sprintf("The reconciler ran on its schedule through the run: %d invocations, one every %s from the first merge, asynchronous as EventBridge Scheduler invokes it; "+
		"its requests: %s.", run.reconcileRuns, reconcile.RunPeriod, formatCounts(ops))
	if len(ops) == 0 {
		out = fmt.Sprintf("The reconciler was invoked %d times on its schedule and made no request.", run.reconcileRuns)
	}
	if len(run.reconcileErrs) > 0 {
		out += " Invocations refused: " + strings.Join(run.reconcileErrs, "; ") + "."
	}
	return out + "\n\n"
}

// controlPlane reports whether c is a Lambda control-plane request: every
// Lambda API but invocation, GetFunction and GetPolicy ("Lambda quotas",
// API requests; sandbox/quota.Default's "lambda control plane").
func controlPlane(c sandbox.Call) bool {
	return c.Service == "lambda" && !strings.HasPrefix(c.Operation, "Invoke") && c.Operation != "GetFunction" && c.Operation != "GetPolicy"
}

// secondPeaks is the most requests in one second among calls, counted as
// the sandbox's quota meter counts them (a window opens at the first
// request a second or more after the last window opened): peak is the
// busiest window's, busiest its requests by caller, and byCaller each
// caller's own peak counted the same way.
func secondPeaks(calls []sandbox.Call) (peak int, busiest, byCaller map[string]int) {
	sorted := slices.Clone(calls)
	slices.SortStableFunc(sorted, func(a, b sandbox.Call) int { return a.At.Compare(b.At) })
	type window struct {
		start time.Time
		n     int
	}
	var cur window
	curBy := map[string]int{}
	own := map[string]*window{}
	byCaller = map[string]int{}
	for _, c := range sorted {
		if cur.n == 0 || c.At.Sub(cur.start) >= time.Second {
			cur, curBy = window{start: c.At}, map[string]int{}
		}
		cur.n++
		curBy[c.Caller]++
		if cur.n > peak {
			peak, busiest = cur.n, maps.Clone(curBy)
		}
		w := own[c.Caller]
		if w == nil || c.At.Sub(w.start) >= time.Second {
			w = &window{start: c.At}
			own[c.Caller] = w
		}
		w.n++
		byCaller[c.Caller] = max(byCaller[c.Caller], w.n)
	}
	return peak, busiest, byCaller
}

// controlPlaneShares is the Lambda control plane by caller: each one's
// requests and peak in one second beside its share's planned peak
// (deploy.ControlPlaneShares), and the busiest second's mix.
func controlPlaneShares(calls []sandbox.Call) string {
	var cp []sandbox.Call
	requests := map[string]int{}
	for _, c := range calls {
		if controlPlane(c) {
			cp = append(cp, c)
			requests[c.Caller]++
		}
	}
	peak, busiest, byCaller := secondPeaks(cp)
	var b strings.Builder
	fmt.Fprintf(&b, "\nThe Lambda control plane by caller, beside each one's share of %.0f %% of %g/s (`deploy.ControlPlaneShares`: environments × their own pacing; the shift's environments are a plan, not reserved). "+
		"Counted on the times the sandbox logs the answers (a request's latency can move it into the next second, so a caller's figure can exceed its pacing by one); the table above counts arrivals:\n\n",
		100*deploy.ControlPlaneBudget, deploy.LambdaControlPlaneRate)
	b.WriteString("| caller | requests | peak / s | share's peak / s |\n|---|---:|---:|---:|\n")
	shown := map[string]bool{}
	for _, s := range deploy.ControlPlaneShares {
		shown[s.Function] = true
		fmt.Fprintf(&b, "| %s | %d | %d | %d (%d × %g/s, burst %d) |\n", s.Function, requests[s.Function], byCaller[s.Function], s.PeakPerSecond(), s.Environments, s.Rate, s.Burst)
	}
	for _, k := range slices.Sorted(maps.Keys(requests)) {
		if !shown[k] {
			fmt.Fprintf(&b, "| %s | %d | %d | none |\n", k, requests[k], byCaller[k])
		}
	}
	if peak > 0 {
		fmt.Fprintf(&b, "\nThe busiest second: %d requests (%s).\n", peak, formatCounts(busiest))
	}
	return b.String()
}

// formatCounts is "key n" for each, the largest first.
func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
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
