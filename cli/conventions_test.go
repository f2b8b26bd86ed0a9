package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// Every flag a command takes is listed by `help <command>` (issue 13: help
// hid --comment, --now, --commit, --since, --limit, --interval, --timeout, --keep).
func TestHelpListsEveryFlag(t *testing.T) {
	cases := []struct {
		command string
		flags   []string
	}{
		{"approve", []string{"--comment"}},
		{"reject", []string{"--comment"}},
		{"promote", []string{"--now"}},
		{"release", []string{"--commit"}},
		{"history", []string{"--since", "--limit", "--output", "--all"}},
		{"watch", []string{"--interval", "--timeout"}},
		{"demo", []string{"--yes", "--timeout", "--keep", "--addr", "--bin-dir"}},
		{"local", []string{"--addr", "--state-dir", "--bin-dir"}},
		{"rollback", []string{"--to", "--reason", "--dry-run", "--yes"}},
		{"status", nil},
	}
	global := []string{"--json", "--endpoint", "--region", "--state-machine", "--log-group", "--event-bus"}
	for _, c := range cases {
		t.Run(c.command, func(t *testing.T) {
			for _, args := range [][]string{{"help", c.command}, {c.command, "--help"}} {
				code, out, errs := newWorld(t).run(t, args...)
				wantCode(t, code, cli.ExitOK, out, errs)
				wantContains(t, strings.Join(args, " "), out, append(append([]string{"Usage:", "aliasflow " + c.command}, c.flags...), global...)...)
				for _, line := range strings.Split(out, "\n") {
					if n := len([]rune(line)); n > 100 {
						t.Errorf("help line of %d columns (> 100): %q", n, line)
					}
				}
			}
		})
	}
}

func TestVersionAndCompletion(t *testing.T) {
	code, out, errs := newWorld(t).run(t, "--version")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "--version", out, "aliasflow "+cli.Version())
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, errs := newWorld(t).run(t, "completion", shell)
		wantCode(t, code, cli.ExitOK, out, errs)
		wantContains(t, "completion "+shell, out, "aliasflow")
	}
	// The completion of commands is served by the binary itself.
	code, out, errs = newWorld(t).run(t, "__complete", "ro")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "__complete ro", out, "rollback")
}

// One exit code per meaning, whatever the command (issue 13: approve nope
// gave 4, status nope 3, history nope 0 with an empty table).
func TestExitCodesAgree(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"status of an unknown function", []string{"status", "nope"}, cli.ExitNotFound},
		{"history of an unknown function", []string{"history", "nope"}, cli.ExitNotFound},
		{"approve an unknown function", []string{"approve", "nope"}, cli.ExitNotFound},
		{"reject an unknown function", []string{"reject", "nope", "--comment", "x"}, cli.ExitNotFound},
		{"promote an unknown function", []string{"promote", "nope", "--now"}, cli.ExitNotFound},
		{"rollback an unknown function", []string{"rollback", "nope", "--yes"}, cli.ExitNotFound},
		{"watch an unknown promotion", []string{"watch", "nope-v2-abababab"}, cli.ExitNotFound},
		{"approve with nothing waiting", []string{"approve", "hello"}, cli.ExitConflict},
		{"promote with nothing baking", []string{"promote", "hello", "--now"}, cli.ExitConflict},
		{"rollback with nothing to roll back to", []string{"rollback", "hello", "--yes"}, cli.ExitConflict},
		{"unknown command", []string{"nope"}, cli.ExitUsage},
		{"unknown help topic", []string{"help", "nope"}, cli.ExitUsage},
		{"unknown flag", []string{"approve", "hello", "--nope"}, cli.ExitUsage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := newWorld(t).run(t, c.args...)
			wantCode(t, code, c.code, out, errs)
		})
	}
}

// rollback says what it will do and asks (issue 13: it moved prod at
// once); with no promotion shifting prod the plan says the approval API
// will start a rollback execution (issue 18: prod moves only inside an
// execution of the promotion state machine). Unconfirmed, nothing moves;
// the e2e tests carry a confirmed one out.
func TestRollbackAsksFirst(t *testing.T) {
	completed := []audit.Record{
		{Event: audit.AliasMoved, Function: "hello", Alias: "prod", FromVersion: "1", ToVersion: "2", Time: clitest.T0},
		{Event: audit.PromotionCompleted, Function: "hello", Alias: "prod", FromVersion: "1", ToVersion: "2", Time: clitest.T0,
			Execution: sandboxtest.ExecutionARN("hello-v2-abababab")},
	}
	cases := []struct {
		name        string
		args        []string
		interactive bool
		stdin       string
		code        int
		want        string
	}{
		{"no terminal and no --yes", nil, false, "", cli.ExitRefused, "no terminal can confirm it"},
		{"at a terminal, declined", nil, true, "no\n", cli.ExitRefused, "rollback not confirmed; nothing changed"},
		{"--dry-run", []string{"--dry-run"}, false, "", cli.ExitOK, "through a rollback execution the approval API starts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.interactive, w.stdin = c.interactive, c.stdin
			w.lambda.SetAlias(t, "hello", "prod", "2", nil)
			w.logs.Audit(completed...)
			code, out, errs := w.run(t, append([]string{"rollback", "hello", "--reason", "errors after v2"}, c.args...)...)
			wantCode(t, code, c.code, out, errs)
			wantContains(t, "output", out+errs, c.want)
			// What would move, to which version and why, as whom and why.
			wantContains(t, "plan", out+errs, "version 2", "1 (the version hello-v2-abababab replaced)",
				clitest.Caller+", reason: errors after v2")
			if n := w.lambda.Count("Invoke"); n != 0 {
				t.Errorf("invoked %d Lambda functions; want none", n)
			}
			if got, _ := w.lambda.Alias(t, "hello", "prod"); aws.ToString(got.FunctionVersion) != "2" {
				t.Errorf("prod = %s; want 2, untouched", aws.ToString(got.FunctionVersion))
			}
		})
	}
}

// rollback and status agree about what is running (issue 13: rollback said
// "no promotion of hello is running" while one awaited approval).
func TestRollbackNamesWhatIsRunning(t *testing.T) {
	w := newWorld(t)
	s := w.start(t, "2").Smoke(true).AwaitApproval()
	code, out, errs := w.run(t, "rollback", "hello", "--yes")
	wantCode(t, code, cli.ExitConflict, out, errs)
	wantContains(t, "stderr", errs, "no promotion is shifting prod of hello", s.Name()+" (awaiting approval")
	code, out, errs = w.run(t, "status", "hello")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "status", out, s.Name(), "awaiting approval")
}

func TestNoCredentialsIsNotANetworkProblem(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "us-east-1")
	var out, errs strings.Builder
	code := cli.Main(t.Context(), []string{"--endpoint", "http://127.0.0.1:9", "status", "hello"}, cli.Env{Stdout: &out, Stderr: &errs})
	wantCode(t, code, cli.ExitFailure, out.String(), errs.String())
	wantContains(t, "stderr", errs.String(), "no AWS credentials found")
	if strings.Contains(errs.String(), "start the sandbox") {
		t.Errorf("the hint blames the sandbox for missing credentials:\n%s", errs.String())
	}
}

// At a terminal watch redraws its line at each poll, so the countdown to
// the end of the bake moves (issue 13: it never moved).
func TestWatchCountsDown(t *testing.T) {
	w := newWorld(t)
	w.terminal = true
	s := w.start(t, "2")
	s.Smoke(true).AwaitApproval().Approve("bob@example.com").BeginShift("1").Bake()
	w.now = w.states.Clock.Now().Add(time.Second) // the bake of 30 s began a second ago
	w.onSleep = func(n int) {
		if n == 3 {
			s.BakeOver().Finalize()
		}
	}
	code, out, errs := w.run(t, "watch", s.Name(), "--interval", "5s")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "watch", out, "baking at 10% (29s left)", "(24s left)", "(19s left)", "\r\x1b[K", "completed: prod on version 2")
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("watch left its last line open: %q", out)
	}
}

// A failed promotion says what failed: the smoke check and its detail, or
// who rejected it and why (issue 13).
func TestWatchSaysWhy(t *testing.T) {
	cases := []struct {
		name string
		run  func(s *sandboxtest.Run)
		want string
	}{
		{"smoke check failed", func(s *sandboxtest.Run) {
			s.Answer(promotion.ActionSmoke, sandboxtest.Return(promotion.SmokeResult{Passed: false, Checks: []promotion.CheckResult{
				{Name: "greets", Passed: true, Attempts: 1},
				{Name: "staging-http", Passed: false, Attempts: 3, Detail: "GET /staging/: status 502, want 200"}}})).RestoreStg()
		}, `smoke check "staging-http" failed: GET /staging/: status 502, want 200`},
		{"rejected", func(s *sandboxtest.Run) {
			s.Smoke(true).AwaitApproval().Reject("carol@example.com", "not on a Friday")
		}, `rejected by carol@example.com: "not on a Friday"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			s := w.start(t, "2")
			c.run(s)
			code, out, errs := w.run(t, "watch", s.Name())
			wantCode(t, code, cli.ExitUnsuccessful, out, errs)
			wantContains(t, "stderr", errs, c.want)
		})
	}
}

// status fits 100 columns and names the commit of each version (issue 13).
func TestStatusFitsAndShowsCommits(t *testing.T) {
	w := newWorld(t)
	s := w.start(t, "2")
	s.Smoke(true).AwaitApproval().Approve("bob@example.com").BeginShift("1").Bake()
	t0 := w.states.Clock.Now()
	w2 := w.start(t, "3").Smoke(true).AwaitApproval() // a second later
	w.now = t0.Add(7 * time.Second)
	w.lambda.SetAlias(t, "hello", "prod", "1", map[string]float64{"2": 0.1})
	w.logs.Audit(
		audit.Record{Event: audit.ReleasePublished, Function: "hello", Alias: "stg", ToVersion: "2", Time: clitest.T0,
			Release: &promotion.Release{Commit: "0123456789abcdef0123456789abcdef01234567", CodeSha256: "sha-2", Source: "codebuild"}},
		audit.Record{Event: audit.AliasMoved, Function: "hello", Alias: "stg", FromVersion: "1", ToVersion: "2", Time: clitest.T0},
		audit.Record{Event: audit.TrafficShifted, Function: "hello", Alias: "prod", FromVersion: "1", ToVersion: "2", Weight: audit.Weight(0.1), Time: clitest.T0.Add(12 * time.Second)},
	)
	code, out, errs := w.run(t, "status", "hello")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "status", out, "0123456789ab…", s.Name(), w2.Name(), "baking at 10% (23s left)", "awaiting approval (59m54s left)")
	for _, line := range strings.Split(out, "\n") {
		if n := len([]rune(line)); n > 100 {
			t.Errorf("line of %d columns (> 100): %q", n, line)
		}
	}
	code, out, errs = w.run(t, "status", "hello", "--json")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "status --json", out, `"commit": "0123456789abcdef0123456789abcdef01234567"`)
}

// Tables fit 100 columns; --json keeps every value whole (issue 13: lines
// ran to 490 characters).
func TestHistoryFits(t *testing.T) {
	w := newWorld(t)
	long := strings.Repeat("error rate 74.29% (26 errors / 35 invocations over 120s) is above the 5% allowed; ", 3)
	w.logs.Audit(audit.Record{Event: audit.HealthFailed, Function: "hello", Alias: "prod", FromVersion: "2", ToVersion: "3",
		Weight: audit.Weight(0.1), Actor: "arn:aws:sts::123456789012:assumed-role/aliasflow-shift-role/aliasflow-shift", Reason: long,
		Execution: sandboxtest.ExecutionARN("hello-v3-abababab"), Time: clitest.T0})
	code, out, errs := w.run(t, "history", "hello")
	wantCode(t, code, cli.ExitOK, out, errs)
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if n := len([]rune(line)); n > 100 {
			t.Errorf("line of %d columns (> 100): %q", n, line)
		}
	}
	wantContains(t, "history", out, "health.failed", "…")
	code, out, errs = w.run(t, "history", "hello", "--json")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "history --json", out, strings.TrimSpace(long))
}

// approve and promote by function name say what is running when nothing
// waits where they act, as status does.
func TestByNameSaysWhatIsRunning(t *testing.T) {
	w := newWorld(t)
	s := w.start(t, "2").Smoke(true).AwaitApproval()
	code, out, errs := w.run(t, "promote", "hello", "--now")
	wantCode(t, code, cli.ExitConflict, out, errs)
	wantContains(t, "stderr", errs, "no promotion of hello is baking or paused; running: "+s.Name()+" (awaiting approval")
	w2 := newWorld(t)
	code, out, errs = w2.run(t, "approve", "hello")
	wantCode(t, code, cli.ExitConflict, out, errs)
	wantContains(t, "stderr", errs, "no promotion of hello awaits approval; none is running")
}

// status lists the targets on a fresh install, before any promotion, from
// their settings parameters (issue 13: "no promotions found", exit 3).
func TestStatusListsTargetsOnAFreshInstall(t *testing.T) {
	w := newWorld(t)
	w.params = map[string]string{"/aliasflow/aliasflow/targets/hello": `{"function":"hello"}`,
		"/aliasflow/other/targets/billing": `{"function":"billing"}`}
	code, out, errs := w.run(t, "status")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "status", out, "hello", "no running promotion")
	if strings.Contains(out, "billing") {
		t.Errorf("status lists another pipeline's target:\n%s", out)
	}
	code, out, errs = newWorld(t).run(t, "status")
	wantCode(t, code, cli.ExitNotFound, out, errs)
	wantContains(t, "stderr", errs, "no targets of pipeline aliasflow", "/aliasflow/aliasflow/targets/")
}
