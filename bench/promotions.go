package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/sandbox/codebuild"
	"github.com/aliasflow/aliasflow/sandbox/core"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/local"
	snssvc "github.com/aliasflow/aliasflow/sandbox/sns"
	"github.com/aliasflow/aliasflow/sandbox/states"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/release"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// operator is the access key id the CLI signs with under `make bench`
// (TEST_ENV): the calls of `aliasflow approve`.
const operator = "test"

// pipeline lists the callers whose calls a promotion costs, in the order
// the report shows them.
var pipeline = []string{local.ReleaseFunction, local.SmokeTestFunction, local.ApprovalFunction, local.ShiftFunction}

// canaryRuns is how many two-step canary promotions are counted.
const canaryRuns = 3

// promotionFigures measures through the sandbox world `aliasflow local`
// stands up: AWS calls and state transitions per promotion, latency
// percentiles and the scale run.
func promotionFigures(r *report, root string, promotions, concurrent int) {
	binDir := os.Getenv("ALIASFLOW_BIN_DIR")
	if binDir == "" {
		binDir = filepath.Join(root, "dist", "local")
	}
	hello, err := os.ReadFile(filepath.Join(binDir, "hello", "bootstrap"))
	if err != nil {
		for _, s := range []string{"3. AWS API calls per promotion", "4. State transitions per promotion", "5. Sandbox latency", "6. Scale"} {
			r.section(s, "not measured: "+err.Error()+" (run `make build-local`)")
			r.missed = append(r.missed, s+": not measured")
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()

	fmt.Printf("\n… %d sequential all-at-once promotions of hello\n", promotions)
	seq := runSequential(ctx, binDir, hello, allAtOnce, promotions, true)
	fmt.Printf("… %d two-step canary promotions of hello\n", canaryRuns)
	can := runSequential(ctx, binDir, hello, canary, canaryRuns, false)
	callsSection(r, seq, can)
	transitionsSection(r, seq, can)
	latencySection(r, seq)
	fmt.Printf("… %d concurrent promotions of %d functions\n", concurrent, concurrent)
	scaleSection(r, runScale(ctx, binDir, hello, concurrent))
}

// ---- the worlds -------------------------------------------------------------------

// allAtOnce is hello as the world deploys it (an invoke of stg and a GET
// of the staging stage as smoke checks, one approver, the prod alarm)
// with prod moved all at once.
func allAtOnce(endpoint string) *config.Target {
	t := local.DefaultHello(endpoint)
	t.Strategy = config.StrategyConfig{Type: config.AllAtOnce}
	return t
}

// canary is the same with a two-step canary: 10% baked for 1 s, then 100%.
func canary(endpoint string) *config.Target {
	t := local.DefaultHello(endpoint)
	t.Strategy = config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 1}
	// The benchmark sends no traffic, so the step's evidence is
	// inconclusive: judged once, at the end of its bake, and let through,
	// so the calls of one check-health are counted, not a wait.
	t.Health.MaxBakeSeconds, t.Health.OnInconclusive = 1, config.OnInconclusivePromote
	return t
}

// world is a running local world and what the benchmark drives it with.
type world struct {
	w     *local.World
	sb    *sandbox.Sandbox
	hello []byte
	log   *syncBuffer
}

func startWorld(ctx context.Context, binDir string, hello []byte, target func(string) *config.Target) (*world, error) {
	log := &syncBuffer{}
	w, err := local.Start(ctx, local.Options{BinDir: binDir, Log: log, Hello: target})
	if err != nil {
		return nil, err
	}
	// The approvers follow the confirmation links SNS mailed them.
	if _, err := w.ConfirmSubscriptions(ctx); err != nil {
		_ = w.Close()
		return nil, err
	}
	return &world{w: w, sb: w.Sandbox(), hello: hello, log: log}, nil
}

// code is hello's bootstrap with a marker appended (an ELF executable
// ignores trailing bytes): a new build with a new CodeSha256 per release,
// without a compile per release.
func (b *world) code(tag string) ([]byte, error) {
	return lambdasvc.ZipBootstrap(slices.Concat(b.hello, []byte("\naliasflow-bench "+tag+"\n")))
}

// settle waits until a function's $LATEST is not being created or updated.
func (b *world) settle(ctx context.Context, fn string) error {
	return poll(ctx, 20*time.Millisecond, func() (bool, error) {
		c, err := b.sb.Lambda().GetFunctionConfiguration(fn, "")
		if err != nil {
			return false, err
		}
		return c.State == "Active" && c.LastUpdateStatus == "Successful", nil
	})
}

// deploy makes new code fn's $LATEST, as a CI build does with
// UpdateFunctionCode, waits until the update settled (as `aws lambda wait
// function-updated` does) and returns the CodeSha256.
func (b *world) deploy(ctx context.Context, fn, tag string) (string, error) {
	zip, err := b.code(fn + " " + tag)
	if err != nil {
		return "", err
	}
	if err := b.settle(ctx, fn); err != nil {
		return "", err
	}
	c, err := b.sb.Lambda().UpdateFunctionCode(fn, lambdasvc.UpdateFunctionCodeInput{ZipFile: zip})
	if err != nil {
		return "", fmt.Errorf("update %s: %w", fn, err)
	}
	return c.CodeSha256, b.settle(ctx, fn)
}

// event is how one release event reaches the bus: put puts it and
// returns its id.
type event struct {
	put func() (string, error)
}

// codeBuildEvent is the "Build State Change" of a SUCCEEDED build of hello
// that exported the code hash: the sandbox CodeBuild runs the build and
// emits it (only CodeBuild may put an aws.codebuild event).
func (b *world) codeBuildEvent(fn, sha, commit string) event {
	return event{put: func() (string, error) {
		_, id, err := b.sb.CodeBuild().RunBuild(codebuild.RunInput{
			Project: local.HelloProject, SourceVersion: commit, Initiator: "developer@example.com",
			Exported: []codebuild.EnvironmentVariable{
				{Name: release.VarFunction, Value: fn}, {Name: release.VarCodeSha256, Value: sha},
				{Name: release.VarCommit, Value: commit}, {Name: release.VarRequestedBy, Value: "developer@example.com"},
			},
		})
		return id, err
	}}
}

// releaseRequested is the "Release Requested" event any CI can put.
func (b *world) releaseRequested(fn, sha, commit string) event {
	detail, _ := json.Marshal(map[string]string{"function": fn, "codeSha256": sha, "commit": commit, "requestedBy": "developer@example.com"})
	return event{put: func() (string, error) {
		return b.sb.Events().PutBusEvent(deploy.ReleaseEventBus, eventpatterns.ReleaseSource, eventpatterns.ReleaseDetailType, string(detail), nil)
	}}
}

// result is one promotion, measured.
type result struct {
	fn, version, name, arn string
	err                    error
	status                 string
	// calls are the AWS calls of this promotion (sequential runs only).
	calls []sandbox.Call
	// freshRelease and dupRelease are the release Lambda's calls for the
	// first event and, when dup says the event was put twice and both were
	// handled, for the second.
	freshRelease, dupRelease []sandbox.Call
	dup                      bool
	transitions              int
	states                   []string
	// put, stgMoved, approved, prodFinal, succeeded are the moments of the
	// promotion (see latencySection for where each comes from).
	put, stgMoved, approved, prodFinal, succeeded time.Time
	approveAttempts                               int
}

// promote releases fn's new code (sha, published as version) by putting
// ev, approves the promotion through the CLI once its approval e-mail is
// out, and waits for it to end. dup puts ev a second time once the release
// Lambda has handled the first.
func (b *world) promote(ctx context.Context, fn, version, sha string, ev event, dup bool) *result {
	// A burst queues in the release Lambda's buffer (4 reserved
	// environments, paced control-plane calls; a throttled event is retried
	// by Lambda with a backoff growing to 5 minutes): 50 merges at once
	// take longer than 3 minutes to drain (24 of 50 within 3 minutes in
	// the run that found it), so a promotion is given 10.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	res := &result{fn: fn, version: version, name: promotion.ExecutionName(fn, version, sha)}
	res.arn = fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", core.Region, core.Account, local.StateMachineName, res.name)
	fail := func(format string, args ...any) *result {
		res.err = fmt.Errorf("%s: "+format, append([]any{res.name}, args...)...)
		return res
	}
	mailFrom := len(b.sb.SNS().Outbox())
	res.put = time.Now()
	id, err := ev.put()
	if err != nil {
		return fail("put the release event: %v", err)
	}
	if dup {
		if err := b.delivered(ctx, id, 1); err != nil {
			return fail("first event: %v", err)
		}
		res.freshRelease = callsBy(b.sb.Calls(), local.ReleaseFunction)
		// EventBridge delivers at least once: the same event again.
		if err := b.sb.Events().Redeliver(id, 1); err != nil {
			return fail("deliver the event again: %v", err)
		}
		if err := b.delivered(ctx, id, 2); err != nil {
			return fail("duplicate event: %v", err)
		}
		res.dupRelease = callsBy(b.sb.Calls(), local.ReleaseFunction)[len(res.freshRelease):]
		res.dup = true
	}
	subject := fmt.Sprintf("Approve %s version %s for prod? (aliasflow)", fn, version)
	if _, _, err := b.sb.SNS().Wait(ctx, mailFrom, func(m snssvc.Message) bool {
		return m.Endpoint == local.DefaultApprover && m.Subject == subject
	}); err != nil {
		status, _ := b.sb.States().ExecutionStatus(res.arn)
		return fail("no approval e-mail %q (execution %s): %v", subject, status, err)
	}
	if err := b.approve(ctx, res); err != nil {
		return fail("%v", err)
	}
	if err := poll(ctx, 20*time.Millisecond, func() (bool, error) {
		s, err := b.sb.States().ExecutionStatus(res.arn)
		res.status = s
		return err == nil && s != "RUNNING", err
	}); err != nil {
		return fail("wait for the end (%s): %v", res.status, err)
	}
	if res.status != "SUCCEEDED" {
		return fail("ended %s", res.status)
	}
	return res
}

// approve runs `aliasflow approve <promotion>`, as an operator does; it
// tries again briefly when the approval task is not open yet.
func (b *world) approve(ctx context.Context, res *result) error {
	var stderr bytes.Buffer
	for res.approveAttempts = 1; ; res.approveAttempts++ {
		stderr.Reset()
		code := cli.Main(ctx, []string{"--endpoint", b.w.Endpoint(), "--region", core.Region, "approve", res.name, "--comment", "make bench"},
			cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr})
		if code == 0 {
			return nil
		}
		if res.approveAttempts >= 20 || ctx.Err() != nil {
			return fmt.Errorf("aliasflow approve exited %d: %s", code, strings.TrimSpace(stderr.String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// delivered waits until EventBridge has finished delivering event id to
// the release Lambda (its invocation returned).
func (b *world) delivered(ctx context.Context, id string, n int) error {
	return poll(ctx, 10*time.Millisecond, func() (bool, error) {
		got := 0
		for _, d := range b.sb.Events().Deliveries() {
			if d.EventID == id {
				if d.Err != "" {
					return false, fmt.Errorf("delivery to %s failed: %s", d.Arn, d.Err)
				}
				got++
			}
		}
		return got >= n, nil
	})
}

// measure fills in what the sandbox recorded about a finished promotion:
// its calls, transitions, states and moments.
func (b *world) measure(res *result, calls []sandbox.Call) {
	res.calls = calls
	stgPath := "/functions/" + res.fn + "/aliases/" + promotion.AliasStg
	prodPath := "/functions/" + res.fn + "/aliases/" + promotion.AliasProd
	for _, c := range calls {
		if c.Operation != "UpdateAlias" || c.Status != 200 {
			continue
		}
		switch {
		case c.Caller == local.ReleaseFunction && strings.HasSuffix(c.Path, stgPath) && res.stgMoved.IsZero():
			res.stgMoved = c.At
		case c.Caller == local.ShiftFunction && strings.HasSuffix(c.Path, prodPath):
			res.prodFinal = c.At // the last move of prod is the final one
		}
	}
	res.transitions, _ = b.sb.States().Transitions(res.arn)
	events, err := b.sb.States().History(res.arn)
	if err != nil {
		return
	}
	state := ""
	for _, e := range events {
		switch {
		case e.StateEnteredEventDetails != nil:
			state = e.StateEnteredEventDetails.Name
			res.states = append(res.states, state)
		case e.Type == states.EventTaskSucceeded && state == promotion.StateRequestApproval && res.approved.IsZero():
			res.approved = e.Timestamp.Time()
		case e.Type == states.EventExecutionSucceeded:
			res.succeeded = e.Timestamp.Time()
		}
	}
}

func callsBy(calls []sandbox.Call, caller string) []sandbox.Call {
	var out []sandbox.Call
	for _, c := range calls {
		if c.Caller == caller {
			out = append(out, c)
		}
	}
	return out
}

// runSequential starts a world with hello's settings from target and runs
// n promotions of hello one after another; dupFirst puts the first
// promotion's event twice.
func runSequential(ctx context.Context, binDir string, hello []byte, target func(string) *config.Target, n int, dupFirst bool) []*result {
	b, err := startWorld(ctx, binDir, hello, target)
	if err != nil {
		return []*result{{err: fmt.Errorf("start the world: %w", err)}}
	}
	defer b.w.Close()
	var out []*result
	failures := 0
	for i := 1; i <= n && failures < 3 && ctx.Err() == nil; i++ {
		version := fmt.Sprint(i + 1) // hello starts on version 1
		sha, err := b.deploy(ctx, local.HelloFunction, "release "+version)
		if err != nil {
			out = append(out, &result{fn: local.HelloFunction, version: version, err: err})
			failures++
			continue
		}
		b.sb.ResetCalls()
		res := b.promote(ctx, local.HelloFunction, version, sha, b.codeBuildEvent(local.HelloFunction, sha, fmt.Sprintf("c0ffee%04d", i)), dupFirst && i == 1)
		b.measure(res, b.sb.Calls())
		if res.err != nil {
			failures++
			fmt.Fprintf(os.Stderr, "bench: %v\n%s", res.err, b.log.tail(20))
		} else {
			failures = 0
		}
		out = append(out, res)
		if i%10 == 0 {
			fmt.Printf("  %d/%d\n", i, n)
		}
	}
	return out
}

// ---- scale ------------------------------------------------------------------------

// scaleRun is the outcome of the concurrent run.
type scaleRun struct {
	n             int
	setupErr      error
	results       []*result
	wall          time.Duration
	hwmKB         int // this process's peak RSS during the run
	hwmReset      bool
	procs, procKB int // the function processes' peak count and total RSS
	calls         []sandbox.Call
}

// scaleSettings writes the settings parameter of each of the n functions:
// the smallest valid target each (all at once, no smoke checks, one
// approver, whom the sandbox's user decides as), as the target construct
// writes them on AWS.
func (b *world) scaleSettings(n int) error {
	for i := range n {
		// The CLI approves as the sandbox's user, mapped to the approver.
		t := config.Target{Function: scaleFunction(i), Approvers: []string{local.DefaultApprover}, Approval: local.SandboxApproval(local.DefaultApprover)}
		t.ApplyDefaults()
		doc, err := settings.Encode(t)
		if err != nil {
			return err
		}
		if _, err := b.sb.SSM().PutParameter(settings.ParameterName(settings.DefaultPipeline, t.Function), doc, true); err != nil {
			return fmt.Errorf("settings of %s: %w", t.Function, err)
		}
	}
	return nil
}

func scaleFunction(i int) string { return fmt.Sprintf("fn%02d", i+1) }

// runScale deploys n functions fn01… (hello's code, version 1 on stg and
// prod) into one world, makes them the release Lambda's targets, then
// releases all of them at once, approves each through the CLI and waits
// for every promotion to end.
func runScale(ctx context.Context, binDir string, hello []byte, n int) *scaleRun {
	run := &scaleRun{n: n}
	b, err := startWorld(ctx, binDir, hello, allAtOnce)
	if err != nil {
		run.setupErr = fmt.Errorf("start the world: %w", err)
		return run
	}
	defer b.w.Close()
	shas, err := b.setupScale(ctx, n)
	if err != nil {
		run.setupErr = err
		return run
	}

	runtimeGC()
	run.hwmReset = resetPeakRSS()
	sampler := sampleChildren(250 * time.Millisecond)
	b.sb.ResetCalls()
	began := time.Now()
	run.results = make([]*result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn := scaleFunction(i)
			run.results[i] = b.promote(ctx, fn, "2", shas[i], b.releaseRequested(fn, shas[i], fmt.Sprintf("5ca1e%03d", i)), false)
		}()
	}
	wg.Wait()
	run.wall = time.Since(began)
	run.procs, run.procKB = sampler.Stop()
	run.hwmKB = statusKB("self", "VmHWM")
	run.calls = b.sb.Calls()
	for _, res := range run.results {
		var mine []sandbox.Call
		for _, c := range run.calls {
			if strings.Contains(c.Path, "/functions/"+res.fn+"/") {
				mine = append(mine, c)
			}
		}
		b.measure(res, mine)
	}
	return run
}

// setupScale creates the n functions with version 1 on stg and prod, makes
// them the release Lambda's targets, and deploys new code to each; it
// returns the new CodeSha256s.
func (b *world) setupScale(ctx context.Context, n int) ([]string, error) {
	lam := b.sb.Lambda()
	timeout := 10
	for i := range n {
		fn := scaleFunction(i)
		zip, err := b.code(fn + " v1")
		if err != nil {
			return nil, err
		}
		if _, err := lam.CreateFunction(lambdasvc.CreateFunctionInput{
			FunctionName: fn, Runtime: "provided.al2023", Handler: "bootstrap",
			Role: "arn:aws:iam::" + core.Account + ":role/aliasflow-bench", Code: lambdasvc.FunctionCode{ZipFile: zip}, Timeout: &timeout,
			// Tagged as the target construct tags a target: the pipeline's
			// roles act on the pipeline's functions only.
			Tags: map[string]string{local.PipelineTag: local.PipelineName},
		}); err != nil {
			return nil, fmt.Errorf("create %s: %w", fn, err)
		}
	}
	for i := range n {
		fn := scaleFunction(i)
		if err := b.settle(ctx, fn); err != nil {
			return nil, err
		}
		v, err := lam.PublishVersion(fn, lambdasvc.PublishVersionInput{Description: "v1"})
		if err != nil {
			return nil, fmt.Errorf("publish %s: %w", fn, err)
		}
		for _, alias := range []string{promotion.AliasStg, promotion.AliasProd} {
			if _, err := lam.CreateAlias(fn, lambdasvc.CreateAliasInput{Name: alias, FunctionVersion: v.Version}); err != nil {
				return nil, fmt.Errorf("alias %s:%s: %w", fn, alias, err)
			}
		}
	}
	if err := b.scaleSettings(n); err != nil {
		return nil, fmt.Errorf("scale settings: %w", err)
	}
	shas := make([]string, n)
	for i := range n {
		fn := scaleFunction(i)
		zip, err := b.code(fn + " v2")
		if err != nil {
			return nil, err
		}
		out, err := lam.UpdateFunctionCode(fn, lambdasvc.UpdateFunctionCodeInput{ZipFile: zip})
		if err != nil {
			return nil, fmt.Errorf("update %s: %w", fn, err)
		}
		shas[i] = out.CodeSha256
	}
	for i := range n {
		if err := b.settle(ctx, scaleFunction(i)); err != nil {
			return nil, err
		}
	}
	return shas, nil
}

// ---- helpers ------------------------------------------------------------------------

// poll calls cond every interval until it is true, fails, or ctx ends.
func poll(ctx context.Context, every time.Duration, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// syncBuffer keeps the world's diagnostics for a failure report.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// tail is the last n lines written.
func (s *syncBuffer) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := lastLines(s.buf.String(), n)
	if out == "" {
		return ""
	}
	return "  world log: " + out + "\n"
}

var errNoSamples = errors.New("no successful promotion to measure")
