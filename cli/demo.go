package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	cwsvc "github.com/aliasflow/aliasflow/sandbox/cloudwatch"
	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/cli/progress"
	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/spf13/cobra"
)

// The demo's settings for hello: a short canary so the whole run fits in
// a minute and a half, an HTTP smoke check through the staging stage
// (retried, as a 5xx is transient), and a health check that judges the
// canary on a handful of calls.
const (
	demoBakeSeconds = 8
	demoApprover    = "approver@example.com"
	greetingV1      = "Hello from Lambda"
	greetingV2      = "Hello from Lambda World"
)

func demoTarget(endpoint string) *config.Target {
	t := &config.Target{
		Function:          "hello",
		CodeBuildProjects: []string{local.HelloProject},
		Strategy:          config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: demoBakeSeconds},
		SmokeChecks: []config.SmokeCheck{{
			Name: "staging says hello",
			HTTP: &config.HTTPCheck{URL: endpoint + "/staging/", ExpectStatus: 200, BodyContains: greetingV1},
		}},
		SmokeRetries:           10,
		Approvers:              []string{demoApprover},
		ApprovalTimeoutSeconds: 600,
		Approval:               local.SandboxApproval(demoApprover),
		// The sandbox publishes Lambda metrics minutes late, as AWS does; an
		// 8 s canary is judged on the versions' own log streams, against
		// the stable version, allowing 20 % more errors. Too little
		// evidence after a minute rolls back.
		Health: config.Health{Alarms: []string{local.HelloAlarm}, MaxErrorRate: 0.2, MinInvocations: 10, WindowSeconds: 10,
			FreshSignal: config.FreshSignalLogs, LogRuntime: config.LogRuntimeGo, MaxBakeSeconds: 60},
	}
	t.ApplyDefaults()
	return t
}

// demo is one run of `aliasflow demo`: it keeps the expectations and
// prints the story.
type demo struct {
	a    *app
	w    localWorld
	out  io.Writer
	http interface {
		Do(*http.Request) (*http.Response, error)
	}
	start  time.Time
	failed []string
	held   int
	yes    bool
	// stepTimeout bounds each automated wait; waiting for a person's
	// decision is bounded by the approval request's own expiry.
	stepTimeout time.Duration
	// decidedBy is the evidence of the last health verdict shown, and
	// decider what that source said it can see.
	decidedBy string
	decider   *audit.Evidence
}

// demoStopped ends the demo early and truthfully: the person rejected the
// release, or let the approval request expire.
type demoStopped struct{ short, why string }

func (e *demoStopped) Error() string { return e.short }

func demoCommand(a *app) *cobra.Command {
	var o demoOptions
	c := &cobra.Command{
		Use:   "demo [--yes]",
		Short: "a whole promotion and a rollback on the sandbox, with checks",
		Long: `Demo starts the sandbox, ships two releases of hello through the whole pipeline and checks
each step: the first is smoke tested, approved (on the page, or with Enter here) and shifted
10% → 100%; the second fails half its calls and is rolled back. At a terminal it waits for
your decision as long as the approval request lives; without one it approves through the CLI.`,
		Args: positional(0, 0),
		RunE: func(c *cobra.Command, args []string) error { return runDemo(c.Context(), a, o) },
	}
	c.Flags().BoolVar(&o.yes, "yes", false, "approve through the CLI without asking (the default without a terminal)")
	durationVar(c.Flags(), &o.timeout, "timeout", 2*time.Minute, "fail when a step not waiting for you lasts longer")
	c.Flags().BoolVar(&o.keep, "keep", false, "keep the sandbox running after the demo, until interrupted")
	c.Flags().StringVar(&o.addr, "addr", "127.0.0.1:0", "sandbox address (loopback)")
	c.Flags().StringVar(&o.binDir, "bin-dir", "", "Lambdas built for this machine (default $ALIASFLOW_BIN_DIR, dist/local)")
	return c
}

// demoOptions are demo's flags.
type demoOptions struct {
	yes, keep    bool
	timeout      time.Duration
	addr, binDir string
}

func runDemo(ctx context.Context, a *app, o demoOptions) error {
	if o.timeout <= 0 {
		return usageError("demo: --timeout must be positive")
	}
	d := &demo{a: a, out: a.env.Stdout, http: awsenv.LoopbackOnlyClient(), yes: o.yes || !a.env.Interactive, stepTimeout: o.timeout}
	// SDK warnings would land in the middle of the story and the prompt:
	// they are held and printed after it.
	var sdkLog strings.Builder
	a.sdkLog = &sdkLog
	defer func() {
		a.sdkLog = nil
		if sdkLog.Len() > 0 {
			fmt.Fprintf(a.env.Stderr, "AWS SDK messages during the demo:\n%s", sdkLog.String())
		}
	}()
	d.step("build", "hello version 2 (%q) and version 3 (fails half its calls), for this machine", greetingV2)
	dir, err := os.MkdirTemp("", "aliasflow-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	v2, err := buildHello(ctx, "", dir, "v2", greetingV2, "0")
	if err != nil {
		return interruptedOr(ctx, err)
	}
	v3, err := buildHello(ctx, "", dir, "v3", greetingV2, "0.5")
	if err != nil {
		return interruptedOr(ctx, err)
	}

	d.start = a.env.Now()
	startCtx, cancel := context.WithTimeout(ctx, o.timeout)
	w, err := a.startLocal(startCtx, worldOptions{Addr: o.addr, BinDir: o.binDir, Log: io.Discard, Hello: demoTarget})
	cancel()
	if err != nil {
		return interruptedOr(ctx, err)
	}
	defer w.Close()
	d.w = w
	d.step("sandbox", "%s — the pipeline's four Lambdas, the promotion state machine, hello with prod on version 1", w.Endpoint())
	d.step("point", "export AWS_ENDPOINT_URL=%s to use the CLI against it", w.Endpoint())
	d.step("delay", "Lambda metrics are readable %s after their minute ends, as on AWS; the %d s canary is judged on the versions' own log streams, against the stable version", cwsvc.DefaultMetricDelay, demoBakeSeconds)
	// SNS delivers nothing to an e-mail subscription until its recipient
	// confirms it: the approver follows the link SNS mailed.
	confirmed, err := w.ConfirmSubscriptions(ctx)
	detail := fmt.Sprintf("%s followed the confirmation link SNS mailed", demoApprover)
	if err != nil {
		detail = err.Error()
	}
	d.expect(err == nil && slices.Contains(confirmed, demoApprover), "the approver's subscription is confirmed", "%s", detail)

	err = d.run(ctx, v2, v3)
	if ctx.Err() != nil {
		// What failed after Ctrl-C failed because of it.
		return interruptedOr(ctx, err)
	}
	var stopped *demoStopped
	switch {
	case errors.As(err, &stopped):
		fmt.Fprintf(d.out, "\n%s", wrap(stopped.why, maxWidth, ""))
		return &Error{Code: ExitRefused, Err: fmt.Errorf("demo stopped: %s", stopped.short),
			Hint: "run `aliasflow demo` again and approve on the page or with Enter"}
	case err != nil:
		d.fail("the run finished", err.Error())
	}
	elapsed := a.env.Now().Sub(d.start).Round(100 * time.Millisecond)
	fmt.Fprintln(d.out)
	if len(d.failed) > 0 {
		return fail(ExitFailure, "see the ✘ lines above; `aliasflow demo --keep` leaves the sandbox up to look around",
			"demo: %d of %d expectations failed after %s: %s", len(d.failed), d.held+len(d.failed), elapsed, strings.Join(d.failed, "; "))
	}
	fmt.Fprintf(d.out, "all %d expectations held, %s after the build\n", d.held, elapsed)
	if o.keep {
		fmt.Fprintf(d.out, "the sandbox keeps running at %s; Ctrl-C stops it\n", w.Endpoint())
		<-ctx.Done()
	}
	return nil
}

// interruptedOr is err, or the interruption when ctx was cancelled (Ctrl-C
// or SIGTERM: main's signal.NotifyContext), which is not a failure of the
// demo: it exits ExitInterrupted and lists no failed expectations.
func interruptedOr(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	return &Error{Code: ExitInterrupted, Err: errors.New("demo interrupted; the sandbox is stopped"),
		Hint: "run `aliasflow demo` again to see it through"}
}

func (d *demo) run(ctx context.Context, v2, v3 string) error {
	fn := "hello"
	ans, err := d.get(ctx, "/production/")
	if err != nil {
		return err
	}
	d.expect(ans.Message == greetingV1 && ans.Version == "1", "prod answers version 1",
		"/production/ → %q (version %s)", ans.Message, ans.Version)

	// Release 1: version 2, approved, canary 10% → 100%.
	fmt.Fprintf(d.out, "\n── release 1: %q ──\n", greetingV2)
	p, err := d.release(ctx, fn, v2, "c0ffee2")
	if err != nil {
		return err
	}
	if err := d.approve(ctx, p); err != nil {
		return err
	}
	if p, err = d.followTo(ctx, p.Execution, promotion.StateBake); err != nil {
		return err
	}
	if p.Running() && p.State == promotion.StateBake {
		split := d.traffic(ctx, "/production/", 400)
		d.expect(split["1"] > 0 && split[p.Version] > 0 && split["1"] > split[p.Version], "prod splits traffic between versions 1 and 2",
			"/production/ × 400 during the bake at %s → %s", alias.Percent(p.Weight), describeSplit(split))
		stg := d.traffic(ctx, "/staging/", 10)
		d.expect(stg[p.Version] == 10, "staging serves only version 2", "/staging/ × 10 → %s", describeSplit(stg))
	} else {
		d.fail("the canary bakes", "the promotion is "+p.Gate)
	}
	if p, err = d.followTo(ctx, p.Execution, ""); err != nil {
		return err
	}
	d.expect(p.Status == string(sfntypes.ExecutionStatusSucceeded), "the promotion completes", "%s", p.Gate)
	ans, err = d.get(ctx, "/production/")
	if err != nil {
		return err
	}
	d.expect(ans.Message == greetingV2 && ans.Version == p.Version, "prod answers version 2",
		"/production/ → %q (version %s)", ans.Message, ans.Version)
	d.auditTrail(ctx, fn, p, []audit.Event{audit.ReleasePublished, audit.AliasMoved, audit.SmokePassed, audit.ApprovalGranted, audit.TrafficShifted, audit.HealthPassed, audit.PromotionCompleted})
	stable := p.Version

	// Release 2: a version that fails half its calls is rolled back.
	fmt.Fprintf(d.out, "\n── release 2: a version that fails half its calls ──\n")
	if p, err = d.release(ctx, fn, v3, "badc0de"); err != nil {
		return err
	}
	if err := d.approve(ctx, p); err != nil {
		return err
	}
	if p, err = d.followTo(ctx, p.Execution, promotion.StateBake); err != nil {
		return err
	}
	if p.Running() && p.State == promotion.StateBake {
		split := d.traffic(ctx, "/production/", 600)
		d.step("traffic", "/production/ × 600 during the bake → %s", describeSplit(split))
	}
	if p, err = d.followTo(ctx, p.Execution, ""); err != nil {
		return err
	}
	d.expect(p.Status == string(sfntypes.ExecutionStatusFailed) && p.Error == promotion.StateRolledBack, "the unhealthy canary is rolled back", "%s", p.Gate)
	ans, err = d.get(ctx, "/production/")
	if err != nil {
		return err
	}
	d.expect(ans.Version == stable, "prod is back on version "+stable, "/production/ → %q (version %s)", ans.Message, ans.Version)
	aliases, err := d.a.aliases(ctx, fn)
	if err != nil {
		return err
	}
	for _, al := range aliases {
		if aws.ToString(al.Name) == promotion.AliasProd {
			s := aliasStatus(al)
			d.expect(s.Version == stable && len(s.Routing) == 0, "prod carries no routing", "prod → %s", describeAlias(s.Version, s.Routing))
		}
	}
	d.auditTrail(ctx, fn, p, []audit.Event{audit.TrafficShifted, audit.HealthFailed, audit.PromotionRolledBack})
	// On Lambda a handled error leaves no Status on the REPORT line (the
	// sandbox's REPORT lines are AWS's Runtime Interface Emulator's): the
	// logs see version 3's failures only by aws-lambda-go's own error line,
	// so the rollback must rest on a source that sees handled errors.
	sees := d.decider != nil && d.decider.SeesHandledErrors
	d.expect(d.decidedBy == "logs" && sees, "the fresh signal decided, on evidence AWS would show",
		"the rollback rested on %q evidence that sees handled errors (%v): aws-lambda-go's error line in version 3's log stream — its REPORT lines carry no Status, as on AWS; Lambda's metrics are published minutes late",
		d.decidedBy, sees)
	return nil
}

// release deploys a bootstrap as hello's $LATEST, simulates its merge,
// and waits for the promotion it starts.
func (d *demo) release(ctx context.Context, fn, bootstrap, commit string) (*progress.Progress, error) {
	sha, err := d.w.DeployHello(ctx, bootstrap)
	if err != nil {
		return nil, fmt.Errorf("deploy hello's $LATEST: %w", err)
	}
	version, err := d.a.nextVersion(ctx, fn, sha)
	if err != nil {
		return nil, err
	}
	if err := d.w.Merge(ctx, sha, commit); err != nil {
		return nil, fmt.Errorf("run the CodeBuild build: %w", err)
	}
	d.step("merge", "commit %s built: $LATEST code %s; the sandbox CodeBuild's build SUCCEEDED and emitted its \"Build State Change\" on EventBridge", commit, sha)
	name := promotion.ExecutionName(fn, version, sha)
	arn, err := d.a.executionARN(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := d.waitFor(ctx, "the promotion "+name+" to start", func() (bool, error) {
		c, err := d.a.aws(ctx)
		if err != nil {
			return false, err
		}
		_, err = c.States.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if awserr.Code(err) == awserr.NotFound {
			return false, nil
		}
		return err == nil, err
	}); err != nil {
		return nil, err
	}
	aliases, err := d.a.aliases(ctx, fn)
	if err != nil {
		return nil, err
	}
	for _, al := range aliases {
		if aws.ToString(al.Name) == promotion.AliasStg {
			d.expect(aws.ToString(al.FunctionVersion) == version, "stg moved to version "+version, "release published version %s; stg → %s; promotion %s started", version, aws.ToString(al.FunctionVersion), name)
		}
	}
	p, err := d.followTo(ctx, arn, promotion.StateRequestApproval)
	if err != nil {
		return nil, err
	}
	if p.Smoke != nil {
		for _, c := range p.Smoke.Checks {
			d.step("smoke", "%s %s: %s (%d attempt(s), %d ms)", mark(c.Passed), c.Name, c.Detail, c.Attempts, c.LatencyMs)
		}
	}
	d.expect(p.Smoke != nil && p.Smoke.Passed, "the smoke tests pass", "%s", p.Gate)
	return p, nil
}

// approve shows the approval link from the e-mail and approves through the
// CLI's own path (or waits for a click or a key when a person is there).
func (d *demo) approve(ctx context.Context, p *progress.Progress) error {
	if !p.Running() || p.State != promotion.StateRequestApproval {
		d.fail("the promotion waits for approval", p.Gate)
		return nil
	}
	var link string
	_ = d.waitFor(ctx, "the approval e-mail", func() (bool, error) {
		for _, m := range d.w.Emails() {
			if strings.Contains(m.Body, p.Name) || strings.Contains(m.Subject, p.Name) || strings.Contains(m.Subject, "version "+p.Version) {
				link = approvalLink.FindString(m.Body)
				if link != "" {
					return true, nil
				}
			}
		}
		return false, nil
	})
	d.expect(link != "", "an approval link is e-mailed", "to %s; open it to decide on the page:", demoApprover)
	if link != "" {
		// The whole link, plain, on a line of its own: cut short or kept
		// only inside an OSC 8 hyperlink it cannot be opened from tmux
		// before 3.4, Terminal.app or piped output (issue 23).
		fmt.Fprintf(d.out, "      %s\n", link)
	}
	if !d.yes {
		until := "until the request expires"
		if !p.NextAt.IsZero() {
			until = fmt.Sprintf("the request expires at %s", p.NextAt.Local().Format("15:04:05"))
		}
		fmt.Fprintf(d.out, "  decide on the page (%s), or press Enter to approve here … ", until)
		outcome, err := d.waitForDecision(ctx, p)
		if err != nil {
			fmt.Fprintln(d.out)
			return err
		}
		switch outcome.kind {
		case decidedKey:
			fmt.Fprintln(d.out)
		case decidedApproved:
			fmt.Fprintf(d.out, "approved by %s\n", outcome.who)
			d.expect(true, "approved by a person", "by %s", outcome.who)
			return nil
		case decidedRejected:
			fmt.Fprintf(d.out, "rejected by %s\n", outcome.who)
			why := fmt.Sprintf("%s rejected %s", outcome.who, p.Name)
			if outcome.comment != "" {
				why += fmt.Sprintf(" (%q)", outcome.comment)
			}
			why += ": the promotion ended rejected and prod did not move. The demo needs an approval to go on."
			return &demoStopped{short: p.Name + " was rejected", why: why}
		case decidedExpired:
			fmt.Fprintln(d.out, "the approval request expired")
			return &demoStopped{short: "the approval request of " + p.Name + " expired",
				why: fmt.Sprintf("Nobody decided %s before its approval request expired: the promotion ended and prod did not move.", p.Name)}
		}
	}
	dec, _, err := d.a.decide(ctx, p.Execution, true, "approved by aliasflow demo")
	if err != nil {
		return err
	}
	d.expect(dec.Approved, "approved through the CLI", "aliasflow approve %s → as %s", p.Name, dec.Approver)
	return nil
}

// How a person answered the demo's approval prompt.
type decidedKind int

const (
	decidedKey      decidedKind = iota // Enter: approve through the CLI
	decidedApproved                    // approved on the page (or by another CLI)
	decidedRejected                    // rejected on the page (or by another CLI)
	decidedExpired                     // nobody decided before the request expired
)

type decision struct {
	kind         decidedKind
	who, comment string
}

// waitForDecision waits, as long as the approval request lives, for Enter
// at the terminal or a decision on the page, and says which came.
func (d *demo) waitForDecision(ctx context.Context, p *progress.Progress) (decision, error) {
	key := make(chan struct{}, 1)
	go func() {
		if _, err := bufio.NewReader(d.a.env.Stdin).ReadString('\n'); err == nil {
			key <- struct{}{}
		}
	}()
	for {
		select {
		case <-key:
			return decision{kind: decidedKey}, nil
		default:
		}
		cur, err := d.a.readProgress(ctx, p.Execution)
		if err != nil {
			return decision{}, err
		}
		if dec, ok := decisionOf(cur); ok {
			return dec, nil
		}
		if err := d.a.env.Sleep(ctx, 500*time.Millisecond); err != nil {
			return decision{}, fmt.Errorf("waiting for the decision on %s: %w", p.Name, err)
		}
	}
}

// decisionOf reads what became of a promotion that waited for approval;
// false while it still waits (or is between states).
func decisionOf(p *progress.Progress) (decision, bool) {
	who, comment := "an approver", ""
	if d := rejection(p); d != nil {
		who, comment = d.Approver, d.Comment
	} else if p.Approval != nil {
		who, comment = p.Approval.Approver, p.Approval.Comment
	}
	switch {
	case p.State == promotion.StateRequestApproval && p.Running():
		return decision{}, false
	case p.State == promotion.StateRecordExpiry || p.State == promotion.StateApprovalExpired || p.Error == promotion.StateApprovalExpired:
		return decision{kind: decidedExpired}, true
	case p.State == promotion.StateRecordRejection || p.State == promotion.StateRejected || p.Error == promotion.StateRejected:
		return decision{kind: decidedRejected, who: who, comment: comment}, true
	case p.Approval != nil && p.Approval.Approved:
		return decision{kind: decidedApproved, who: who, comment: comment}, true
	case !p.Running():
		return decision{kind: decidedExpired}, true
	}
	return decision{}, false
}

// followTo follows a promotion (printing it as `watch` does) until it is
// waiting in state, or until it ends when state is "".
func (d *demo) followTo(ctx context.Context, arn, state string) (*progress.Progress, error) {
	ctx, cancel := d.bounded(ctx)
	defer cancel()
	return d.a.follow(ctx, arn, 250*time.Millisecond, func(p *progress.Progress) bool {
		if state == "" {
			return false
		}
		if p.State != state {
			return false
		}
		// A waitForTaskToken state is ready once its task is open.
		_, err := d.a.findWaiting(ctx, arn, state)
		return err == nil
	})
}

// auditTrail prints the promotion's audit records and checks the events.
func (d *demo) auditTrail(ctx context.Context, fn string, p *progress.Progress, want []audit.Event) {
	var recs []audit.Record
	missing := want
	_ = d.waitFor(ctx, "the audit records", func() (bool, error) {
		all, err := d.a.readAudit(ctx, fn, p.StartTime.Add(-time.Minute))
		if err != nil {
			return false, err
		}
		recs = recs[:0]
		seen := map[audit.Event]bool{}
		for _, r := range all {
			if r.Execution == p.Execution || (r.Event == audit.ReleasePublished || r.Event == audit.AliasMoved) && r.ToVersion == p.Version {
				recs = append(recs, r)
				seen[r.Event] = true
			}
		}
		missing = nil
		for _, e := range want {
			if !seen[e] {
				missing = append(missing, e)
			}
		}
		return len(missing) == 0, nil
	})
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	for _, r := range recs {
		if v := r.Verdict; v != nil && (r.Event == audit.HealthPassed || r.Event == audit.HealthFailed) {
			// Which evidence decided, and what it showed.
			d.decidedBy, d.decider = v.DecidedBy, nil
			for i := range v.Sources {
				if v.Sources[i].Source == v.DecidedBy {
					d.decider = &v.Sources[i]
				}
			}
			d.step("verdict", "%s, decided by %s (%s): %s", v.Outcome, v.DecidedBy, v.Test, r.Reason)
		}
	}
	fmt.Fprintf(d.out, "  audit trail of %s (aliasflow history %s):\n", p.Name, fn)
	var b strings.Builder
	printAudit(&b, collapseInconclusive(recs, false), maxWidth-4) // indented by 4 below
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		fmt.Fprintf(d.out, "%s\n", cut("    "+line, maxWidth))
	}
	if len(missing) > 0 {
		d.fail("the audit trail records the promotion", fmt.Sprintf("missing: %v", missing))
		return
	}
	d.expect(true, "the audit trail records the promotion", "%d records, with %v", len(recs), want)
}

// answer is hello's JSON body.
type answer struct {
	Message string `json:"message"`
	Version string `json:"version"`
	Status  int    `json:"-"`
}

func (d *demo) get(ctx context.Context, path string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.w.Endpoint()+path, nil)
	if err != nil {
		return answer{}, err
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var a answer
	a.Status = resp.StatusCode
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &a); err != nil {
			return answer{}, fmt.Errorf("GET %s: not hello's answer: %s", path, body)
		}
	}
	return a, nil
}

// traffic calls a stage n times and counts the answers by version ("error"
// for a failed call).
func (d *demo) traffic(ctx context.Context, path string, n int) map[string]int {
	split := map[string]int{}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		a, err := d.get(ctx, path)
		switch {
		case err != nil || a.Status != http.StatusOK:
			split["error"]++
		default:
			split[a.Version]++
		}
	}
	return split
}

func describeSplit(split map[string]int) string {
	keys := make([]string, 0, len(split))
	for k := range split {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return versionLess(keys[i], keys[j]) })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		label := "version " + k
		if k == "error" {
			label = "errors"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", label, split[k]))
	}
	return strings.Join(parts, ", ")
}

// waitFor polls cond every 100 ms until it holds or ctx ends.
func (d *demo) waitFor(ctx context.Context, what string, cond func() (bool, error)) error {
	ctx, cancel := d.bounded(ctx)
	defer cancel()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if err := d.a.env.Sleep(ctx, 100*time.Millisecond); err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s did not come within %s (--timeout)", what, d.stepTimeout)
			}
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
	}
}

// bounded limits one automated wait to the step timeout.
func (d *demo) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if d.stepTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d.stepTimeout)
}

func (d *demo) step(what, format string, args ...any) {
	fmt.Fprint(d.out, wrap(fmt.Sprintf("%-9s %s", what, fmt.Sprintf(format, args...)), maxWidth, "          "))
}

func (d *demo) expect(ok bool, name, format string, args ...any) {
	fmt.Fprint(d.out, wrap(fmt.Sprintf("  %s %s — %s", mark(ok), name, fmt.Sprintf(format, args...)), maxWidth, "      "))
	if ok {
		d.held++
		return
	}
	d.failed = append(d.failed, name)
}

func (d *demo) fail(name, detail string) { d.expect(false, name, "%s", detail) }

func mark(ok bool) string {
	if ok {
		return "✔"
	}
	return "✘"
}

// buildHello builds examples/hello for this machine with its greeting and
// failure rate set at link time.
// It runs in root, the repository's top ("" for the working directory).
func buildHello(ctx context.Context, root, dir, name, greeting, failureRate string) (string, error) {
	out := filepath.Join(dir, name, "bootstrap")
	ldflags := fmt.Sprintf("-s -w -X 'main.greeting=%s' -X main.failureRate=%s", greeting, failureRate)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", ldflags, "-o", out, "./examples/hello")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", &Error{Code: ExitFailure, Err: fmt.Errorf("build hello %s: %v\n%s", name, err, msg),
			Hint: "run the demo from the repository root (`make demo`), with Go installed"}
	}
	return out, nil
}
