package cli_test

// End-to-end tests: every command against the sandbox world that
// `aliasflow local` runs (sandbox/local), with the real pipeline Lambdas
// built for this machine (ALIASFLOW_BIN_DIR, `make build-local`).

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/progress"
	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
)

func binDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("ALIASFLOW_BIN_DIR"); d != "" {
		return d
	}
	d := filepath.Join(repoRoot(), "dist", "local")
	if _, err := os.Stat(filepath.Join(d, "release", "bootstrap")); err != nil {
		t.Skipf("the Lambdas built for this machine are missing: run `make build-local` or set ALIASFLOW_BIN_DIR (looked in %s)", d)
	}
	return d
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

// sandboxEnv fences the SDK to dummy credentials and loopback.
func sandboxEnv(t *testing.T) {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "", "AWS_REGION": "us-east-1",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_EC2_METADATA_DISABLED": "true", "ALIASFLOW_LOOPBACK_ONLY": "1",
	} {
		t.Setenv(k, v)
	}
}

type e2e struct {
	t   *testing.T
	w   *local.World
	dir string
}

// run runs the CLI against the world as an operator would (--endpoint).
func (e *e2e) run(args ...string) (int, string, string) {
	e.t.Helper()
	var out, errb bytes.Buffer
	args = append([]string{"--endpoint", e.w.Endpoint()}, args...)
	code := cli.Main(context.Background(), args, cli.Env{Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

func (e *e2e) must(args ...string) string {
	e.t.Helper()
	code, out, errs := e.run(args...)
	wantCode(e.t, code, cli.ExitOK, out, errs)
	return out
}

// deploy builds hello with greeting, makes it $LATEST and returns its hash.
func (e *e2e) deploy(name, greeting string) string {
	e.t.Helper()
	bin, err := cli.BuildHello(context.Background(), repoRoot(), e.dir, name, greeting, "0")
	if err != nil {
		e.t.Fatal(err)
	}
	sha, err := e.w.DeployHello(context.Background(), bin)
	if err != nil {
		e.t.Fatal(err)
	}
	return sha
}

// status returns hello's status.
func (e *e2e) status() cli.FunctionStatus {
	e.t.Helper()
	out := e.must("status", "hello", "--json")
	var st struct{ Functions []cli.FunctionStatus }
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Functions) != 1 {
		e.t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st.Functions[0]
}

// waitState polls status until a running promotion is in state.
func (e *e2e) waitState(state string) *progress.Progress {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range e.status().Promotions {
			if p.State == state {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("no promotion of hello reached %s:\n%s", state, e.must("status", "hello"))
	return nil
}

func (e *e2e) alias(name string) string {
	e.t.Helper()
	for _, a := range e.status().Aliases {
		if a.Name == name {
			return describe(a)
		}
	}
	e.t.Fatalf("hello has no alias %s", name)
	return ""
}

func describe(a cli.AliasStatus) string {
	out := a.Version
	for v, w := range a.Routing {
		out += " + " + v + "@" + alias.Percent(w)
	}
	return out
}

func (e *e2e) history() []audit.Record {
	e.t.Helper()
	var h struct{ Records []audit.Record }
	if err := json.Unmarshal([]byte(e.must("history", "hello", "--json", "--limit", "0")), &h); err != nil {
		e.t.Fatal(err)
	}
	return h.Records
}

func TestSandboxEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end against the sandbox")
	}
	bins := binDir(t)
	sandboxEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w, err := local.Start(ctx, local.Options{BinDir: bins, WorkDir: t.TempDir(), Hello: func(endpoint string) *config.Target {
		t := local.DefaultHello(endpoint)
		t.Strategy.BakeSeconds = 600 // only promote --now ends a bake here
		return t
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.ConfirmSubscriptions(ctx); err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, w: w, dir: t.TempDir()}

	// Nothing has happened yet: status lists the target from its settings.
	code, out, errs := e.run("status")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "status on a fresh install", out, "hello", "no running promotion")
	code, out, errs = e.run("rollback", "hello", "--yes")
	wantCode(t, code, cli.ExitConflict, out, errs)
	wantContains(t, "rollback with no history", errs, "nothing to roll back")

	// release → approve (by function name) → promote --now → watch to the end.
	sha := e.deploy("v2", "Hello from Lambda World")
	out = e.must("release", "hello", "--commit", "feedf00d")
	wantContains(t, "release", out, "release of hello requested (code "+sha)
	p := e.waitState("RequestApproval")
	if p.Version != "2" || p.Smoke == nil || !p.Smoke.Passed {
		t.Fatalf("promotion = %+v; want version 2 with passed smoke tests", p)
	}
	// The release Lambda asked STS who signed the CLI's caller proof: the
	// trail names the caller as verified.
	var trail struct{ Records []audit.Record }
	if err := json.Unmarshal([]byte(e.must("history", "hello", "--json")), &trail); err != nil {
		t.Fatal(err)
	}
	verified := false
	for _, r := range trail.Records {
		if r.Event == audit.ReleasePublished && r.ToVersion == "2" && r.Release != nil {
			verified = strings.HasPrefix(r.Release.VerifiedBy, "arn:aws:iam::000000000000:user/") && r.Release.VerifiedBy == r.Release.RequestedBy && r.Actor == r.Release.VerifiedBy
			if !verified {
				t.Errorf("release.published of version 2: actor %q, release %+v; want the CLI's caller, verified by STS", r.Actor, *r.Release)
			}
		}
	}
	if !verified {
		t.Errorf("no release.published of version 2 names its caller as verified:\n%+v", trail.Records)
	}
	if got := e.alias("stg"); got != "2" {
		t.Errorf("stg = %s; want 2", got)
	}
	out = e.must("approve", "hello", "--comment", "e2e")
	wantContains(t, "approve", out, "approved "+p.Name+" as "+local.DefaultApprover+" ("+local.SandboxUserARN+")")
	code, out, errs = e.run("approve", p.Name)
	wantCode(t, code, cli.ExitConflict, out, errs)

	p = e.waitState("Bake")
	if got := e.alias("prod"); got != "1 + 2@10%" {
		t.Errorf("prod while baking = %s; want 1 + 2@10%%", got)
	}
	if !p.Shifting || p.StableVersion != "1" || p.NextAt.IsZero() {
		t.Errorf("baking promotion = %+v; want shifting from stable 1 with a next step time", p)
	}
	out = e.must("promote", p.Name, "--now")
	wantContains(t, "promote", out, "ended the bake at 10%")
	out = e.must("watch", p.Name, "--interval", "200ms", "--timeout", "60s")
	wantContains(t, "watch", out, "completed: prod on version 2", "[100% ✔]")
	// No false failure mark on the way after promote --now (issue 13).
	if strings.Contains(out, "✘") {
		t.Errorf("watch after promote --now shows a failure mark:\n%s", out)
	}
	st := e.status()
	if got := e.alias("prod"); got != "2" || st.Drift {
		t.Errorf("prod = %s, drift %v; want 2 with no drift", got, st.Drift)
	}

	recs := e.history()
	events := map[audit.Event]audit.Record{}
	for _, r := range recs {
		if _, seen := events[r.Event]; !seen {
			events[r.Event] = r // newest of each
		}
	}
	for _, ev := range []audit.Event{audit.ReleasePublished, audit.ApprovalGranted, audit.TrafficShifted, audit.PromotionCompleted} {
		if _, ok := events[ev]; !ok {
			t.Errorf("history lacks %s: %+v", ev, recs)
		}
	}
	if g := events[audit.ApprovalGranted]; !strings.HasPrefix(g.Actor, "arn:aws:") {
		t.Errorf("approval.granted actor = %q; want the CLI caller's ARN", g.Actor)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Time.After(recs[i-1].Time) {
			t.Errorf("history is not newest first at %d: %s after %s", i, recs[i].Time, recs[i-1].Time)
		}
	}

	// rollback with no promotion running, planned: it says where prod
	// would go (1, from the audit trail) and how, and moves nothing (the
	// e2e tests carry a manual rollback out).
	code, out, errs = e.run("rollback", "hello", "--dry-run")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "rollback with no promotion", out, "version 2 to version 1", "through a rollback execution the approval API starts")
	if got := e.alias("prod"); got != "2" {
		t.Errorf("prod after a planned rollback = %s; want 2", got)
	}

	// reject: the promotion fails, prod is untouched, watch exits 5.
	e.deploy("v3", "Hello from Lambda, third")
	e.must("release", "hello")
	p = e.waitState("RequestApproval")
	code, out, errs = e.run("reject", p.Name)
	wantCode(t, code, cli.ExitUsage, out, errs)
	e.must("reject", p.Name, "--comment", "not today")
	code, out, errs = e.run("watch", p.Name, "--interval", "200ms", "--timeout", "60s")
	wantCode(t, code, cli.ExitUnsuccessful, out, errs)
	wantContains(t, "watch a rejected promotion", out, "Rejected")
	if got := e.alias("prod"); got != "2" {
		t.Errorf("prod after a rejection = %s; want 2", got)
	}
	if r := e.history()[0]; r.Event != audit.ApprovalRejected && r.Event != audit.PromotionAborted {
		t.Logf("newest record after the rejection: %+v", r)
	}

	// rollback of a running shift: the promotion rolls itself back, prod is
	// on its stable version.
	// Rehearsal in one command: build, UpdateFunctionCode, wait, and the
	// smoke expectations printed.
	out = e.must("local", "deploy-code", "hello", filepath.Join(repoRoot(), "examples", "hello"),
		"--ldflags", "-X 'main.greeting=Hello from Lambda, fourth'")
	wantContains(t, "deploy-code", out, "made it hello's $LATEST (code ", "/dev/\n", "smoke checks", "invoke-stg", "aliasflow release hello", "aliasflow watch hello-v4-",
		"the verdict needs calls of the new version", "/production/ >/dev/null")
	e.must("release", "hello")
	e.waitState("RequestApproval")
	e.must("approve", "hello")
	p = e.waitState("Bake")
	out = e.must("rollback", "hello", "--yes", "--reason", "v4 greets wrongly")
	wantContains(t, "rollback of a shift", out, "stopped "+p.Name, "version "+p.Version+" → 2")
	if got := e.alias("prod"); got != "2" {
		t.Errorf("prod after rolling back a shift = %s; want 2", got)
	}
	code, out, errs = e.run("watch", p.Name, "--timeout", "10s")
	wantCode(t, code, cli.ExitUnsuccessful, out, errs)
	wantContains(t, "watch a rolled back promotion", out+errs, "RolledBack", "rolled back by arn:aws:", "v4 greets wrongly")
	if strings.Contains(out+errs, `{"actor"`) {
		t.Errorf("watch shows the raw override cause:\n%s%s", out, errs)
	}
	rb := e.history()
	found := false
	for _, r := range rb {
		// The promotion's own Rollback task wrote it, naming the caller the
		// approval API verified.
		if r.Event == audit.PromotionRolledBack && r.FromVersion == p.Version && r.Actor == local.SandboxUserARN &&
			strings.Contains(r.Reason, "v4 greets wrongly") {
			found = true
		}
	}
	if !found {
		t.Errorf("no promotion.rolled_back of version %s by the operator with the reason in the history: %+v", p.Version, rb)
	}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo builds hello twice and runs two promotions")
	}
	bins := binDir(t)
	sandboxEnv(t)
	var out, errb bytes.Buffer
	wd, _ := os.Getwd()
	if err := os.Chdir(repoRoot()); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd) //nolint:errcheck // back where the test started
	code := cli.Main(context.Background(), []string{"demo", "--bin-dir", bins}, cli.Env{Stdout: &out, Stderr: &errb})
	wantCode(t, code, cli.ExitOK, out.String(), errb.String())
	wantContains(t, "demo", out.String(), "the approver's subscription is confirmed", "prod splits traffic between versions 1 and 2", "the unhealthy canary is rolled back", "expectations held")
	if strings.Contains(out.String(), "  ✘ ") { // a failed expectation, not the rolled-back bar
		t.Errorf("the demo printed a failed expectation:\n%s", out.String())
	}
	// The approval link is printed whole and plain on a line of its own
	// (issue 23: cut to 60 characters, with the URL only inside an OSC 8
	// escape, it could not be opened from tmux < 3.4, Terminal.app or a
	// pipe); that line alone may be wider than the terminal.
	var links []string
	for _, line := range strings.Split(out.String(), "\n") {
		if l := strings.TrimSpace(line); cli.ApprovalLink.MatchString(l) && cli.ApprovalLink.FindString(l) == l {
			links = append(links, l)
			continue
		}
		if n := len([]rune(line)); n > 100 {
			t.Errorf("the demo printed a line of %d columns (> 100): %q", n, line)
		}
	}
	if len(links) == 0 {
		t.Errorf("the demo printed no approval link whole on a line of its own:\n%s", out.String())
	}
	for _, l := range links {
		u, err := url.Parse(l)
		if err != nil || u.Query().Get("t") == "" || strings.ContainsAny(l, "…\x1b") {
			t.Errorf("the printed approval link %q is not a whole link (%v)", l, err)
		}
	}
}
