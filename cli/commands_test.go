package cli_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/sandbox/states/statestest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage: aliasflow"},
		{"unknown command", []string{"deploy"}, `unknown command "deploy"`},
		{"approve without promotion", []string{"approve"}, "usage: aliasflow approve"},
		{"reject without comment", []string{"reject", "hello-v2-abababab"}, "say why with --comment"},
		{"promote --now --full", []string{"promote", "hello-v2-abababab", "--now", "--full"}, "--now is the deprecated name of the plain promote"},
		{"abort without promotion", []string{"abort"}, "usage: aliasflow abort"},
		{"status of $LATEST", []string{"status", "hello:$LATEST"}, "$LATEST is never promoted"},
		{"history of an ARN", []string{"history", "arn:aws:lambda:us-east-1:1:function:hello"}, "not an ARN"},
		{"unknown flag", []string{"status", "--frobnicate"}, "unknown flag: --frobnicate"},
		{"unknown help topic", []string{"help", "nope"}, `unknown help topic "nope"`},
		{"misspelt command", []string{"stauts"}, `did you mean "status"?`},
		// Issue 23: flag typos and other tools' verbs get a suggestion.
		{"misspelt flag", []string{"rollback", "hello", "--dryrun"}, "did you mean --dry-run?"},
		{"misspelt global flag", []string{"status", "--jsn"}, "did you mean --json?"},
		{"misspelt flag with a value", []string{"history", "hello", "--limt=3"}, "did you mean --limit?"},
		{"undo", []string{"undo", "hello"}, "`aliasflow rollback <function>` puts prod back on the stable version"},
		{"revert", []string{"revert"}, `did you mean "rollback"?`},
		{"retry", []string{"retry", "hello"}, "`aliasflow release <function> --retry`"},
		{"endpoint without a scheme", []string{"--endpoint", "127.0.0.1:4566", "status"}, "add the scheme: --endpoint http://127.0.0.1:4566"},
		{"rollback --to that is not a version", []string{"rollback", "hello", "--to", "latest"}, "not a published version number"},
		{"rollback --break-glass without --to", []string{"rollback", "hello", "--break-glass"}, "--break-glass needs --to"},
		{"too many arguments", []string{"history", "hello", "extra"}, "usage: aliasflow history <function>"},
		{"promotion with a slash", []string{"watch", "a/b"}, "is not a promotion"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			code, out, errs := w.run(t, c.args...)
			wantCode(t, code, cli.ExitUsage, out, errs)
			wantContains(t, "stderr", errs, c.want)
			if len(w.sent())+len(w.events.Put()) > 0 {
				t.Errorf("a usage error moved something: sent %v, put %v", w.sent(), w.events.Put())
			}
		})
	}
}

func TestHelpListsExitCodes(t *testing.T) {
	code, out, errs := newWorld(t).run(t, "help")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "help", out, "status", "history", "approve", "reject", "rollback", "promote", "release", "watch", "local", "demo",
		"Exit codes", "3  not found", "4  conflict", "5  the watched promotion ended")
}

func TestApprove(t *testing.T) {
	w := newWorld(t)
	s := w.start(t, "2").Smoke(true).AwaitApproval()
	code, out, errs := w.run(t, "approve", s.Name(), "--comment", "looks good")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "stdout", out, "approved "+s.Name()+" as "+clitest.Approver+" ("+clitest.Caller+")", "aliasflow watch "+s.Name())
	if len(w.sent()) != 1 || !w.sent()[0].Success || w.sent()[0].Token != s.Token() {
		t.Fatalf("sent = %+v; want one SendTaskSuccess with the approval's token", w.sent())
	}
	var d promotion.Decision
	if err := json.Unmarshal([]byte(w.sent()[0].Output), &d); err != nil {
		t.Fatal(err)
	}
	// The approval Lambda wrote it: the approver the caller maps to, the
	// principal API Gateway verified, never a name the CLI sent.
	if !d.Approved || d.Approver != clitest.Approver || d.Principal != clitest.Caller || d.Comment != "looks good" || d.Via != "cli" ||
		d.DecidedAt.IsZero() || d.RequestedAt.IsZero() {
		t.Errorf("decision = %+v; want approved as %s by the caller via cli with the comment and both times", d, clitest.Approver)
	}

	// A second decision is refused with the conflict code and says who decided.
	code, out, errs = w.run(t, "reject", s.Name(), "--comment", "too late")
	wantCode(t, code, cli.ExitConflict, out, errs)
	wantContains(t, "stderr", errs, "already approved by "+clitest.Approver+" ("+clitest.Caller+")")
}

func TestReject(t *testing.T) {
	w := newWorld(t)
	s := w.start(t, "2").Smoke(true).AwaitApproval()
	code, out, errs := w.run(t, "--json", "reject", s.ARN, "--comment", "not on a Friday")
	wantCode(t, code, cli.ExitOK, out, errs)
	if len(w.sent()) != 1 || w.sent()[0].Success || w.sent()[0].Error != promotion.ErrRejected {
		t.Fatalf("sent = %+v; want one SendTaskFailure %s", w.sent(), promotion.ErrRejected)
	}
	var d promotion.Decision
	if err := json.Unmarshal([]byte(w.sent()[0].Cause), &d); err != nil || d.Approved || d.Principal != clitest.Caller || d.Comment != "not on a Friday" {
		t.Errorf("cause = %s (%v); want a rejecting Decision by the caller", w.sent()[0].Cause, err)
	}
	var got struct {
		Decision promotion.Decision `json:"decision"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Decision.Principal != clitest.Caller || got.Decision.Approver != clitest.Approver {
		t.Errorf("--json output = %s (%v); want the decision", out, err)
	}
}

func TestApproveRefusals(t *testing.T) {
	cases := []struct {
		name  string
		setup func(w *world) string
		code  int
		want  string
	}{
		{"no such promotion", func(w *world) string { return "hello-v9-deadbeef" }, cli.ExitNotFound, "not found"},
		{"still smoke testing", func(w *world) string {
			return w.start(t, "2").Name() // its smoke test in flight
		}, cli.ExitConflict, "is not waiting for approval: it is smoke testing stg"},
		{"ended", func(w *world) string {
			s := w.start(t, "2")
			s.Smoke(true).AwaitApproval().Approve("bob@example.com").BeginShift("1").Bake().BakeOver().Finalize()
			return s.Name()
		}, cli.ExitConflict, "already decided by bob@example.com"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			ref := c.setup(w)
			code, out, errs := w.run(t, "approve", ref)
			wantCode(t, code, c.code, out, errs)
			wantContains(t, "stderr", errs, c.want, "next:")
		})
	}
}

// TestPromote: promote has Argo Rollouts' meaning (issue 20): past the
// current step only, or with --full past every remaining step; it shows
// the plan and asks first like rollback; each answers the Bake task
// through the approval API, once, with the verified caller.
func TestPromote(t *testing.T) {
	linear := clitest.Input("hello", "2", "sha-2")
	linear.Target.Strategy = config.StrategyConfig{Type: config.Linear, Percent: 25, IntervalSeconds: 60}
	linear.Steps = promotion.Plan(linear.Target.Strategy)
	cases := []struct {
		name        string
		in          promotion.Input
		args        []string
		interactive bool
		stdin       string
		code        int
		full        bool // the answer says full; none is sent unless code is ExitOK
		want        []string
	}{
		{name: "one step of a linear promotion", in: linear, args: []string{"--yes"}, code: cli.ExitOK,
			want: []string{"ended the bake at 25%", "then prod goes to 50%, whose own bake and health check still apply"}},
		{name: "one step of a canary is its last", in: clitest.Input("hello", "2", "sha-2"), args: []string{"--yes"}, code: cli.ExitOK,
			want: []string{"ended the bake at 10%", "then prod goes to 100%"}},
		{name: "--full says it accepts an inconclusive verdict", in: linear, args: []string{"--full", "--yes"}, code: cli.ExitOK, full: true,
			want: []string{"ended the bake at 25%", "skipping every remaining step; an inconclusive verdict is accepted"}},
		{name: "asks at a terminal and goes on when confirmed", in: linear, interactive: true, stdin: "y\n", code: cli.ExitOK,
			want: []string{"promote hello-v2-", "(plan: 25% → analysis 1m → 50% → analysis 1m → 75% → analysis 1m → 100%)",
				"then move prod to 50%, whose own bake and health check still apply", "Promote hello-v2-", "to 50%? [y/N]"}},
		{name: "--full at a terminal says what it skips", in: linear, args: []string{"--full"}, interactive: true, stdin: "yes\n", code: cli.ExitOK, full: true,
			want: []string{"SKIPPING EVERY REMAINING STEP and ACCEPTING AN INCONCLUSIVE VERDICT", "to 100%? [y/N]"}},
		{name: "declined at a terminal", in: linear, interactive: true, stdin: "n\n", code: cli.ExitRefused,
			want: []string{"promote not confirmed; nothing changed"}},
		{name: "no terminal and no --yes", in: linear, code: cli.ExitRefused,
			want: []string{"(plan: 25% → analysis 1m", "no terminal can confirm it", "--yes"}},
		{name: "--now is the deprecated one-step promote and does not ask", in: linear, args: []string{"--now"}, code: cli.ExitOK,
			want: []string{"promote --now is deprecated", "then prod goes to 50%"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.interactive, w.stdin = c.interactive, c.stdin
			s := w.startWith(t, c.in)
			s.Smoke(true).AwaitApproval().Approve("bob@example.com").BeginShift("1").Bake()
			token := s.Token()
			code, out, errs := w.run(t, append([]string{"promote", s.Name()}, c.args...)...)
			wantCode(t, code, c.code, out, errs)
			wantContains(t, "output", out+errs, c.want...)
			var bake []sent
			for _, sent := range w.sent() {
				if sent.Token == token {
					bake = append(bake, sent)
				}
			}
			if c.code != cli.ExitOK {
				if len(bake) != 0 {
					t.Errorf("answers to the bake = %+v; want none", bake)
				}
				return
			}
			var b promotion.Bake
			if len(bake) != 1 || json.Unmarshal([]byte(bake[0].Output), &b) != nil || !b.PromoteNow || b.Full != c.full || b.Actor != clitest.Caller {
				t.Errorf("answers to the bake = %+v; want one, promoteNow, full %v, by %s", bake, c.full, clitest.Caller)
			}
		})
	}
}

// TestAbort: abort rolls a shifting promotion back through the approval
// API with the verified caller and the reason; a promotion that has not
// moved prod is not aborted (reject stops it).
func TestAbort(t *testing.T) {
	w := newWorld(t)
	s := w.start(t, "2")
	s.Smoke(true).AwaitApproval().Approve("bob@example.com").BeginShift("1").Bake()
	token := s.Token()
	w.lambda.SetAlias(t, "hello", "prod", "1", map[string]float64{"2": 0.1})
	w.onSleep = func(int) {
		if s.Status() == "RUNNING" {
			// The bake's failure went to Rollback, which moves prod back.
			w.lambda.SetAlias(t, "hello", "prod", "1", nil)
			s.Await(promotion.ActionRollback).Answer(promotion.ActionRollback, sandboxtest.Return(map[string]any{}))
		}
	}
	code, out, errs := w.run(t, "abort", s.Name(), "--yes", "--reason", "p99 doubled")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "stdout", out, "stopped "+s.Name(), "version 2 → 1")
	var bake []sent
	for _, sent := range w.sent() {
		if sent.Token == token {
			bake = append(bake, sent)
		}
	}
	var cause promotion.Override
	if len(bake) != 1 || bake[0].Success || bake[0].Error != cli.ErrOperatorRollback ||
		json.Unmarshal([]byte(bake[0].Cause), &cause) != nil || cause.Actor != clitest.Caller || cause.Reason != "p99 doubled" {
		t.Errorf("answers to the bake = %+v; want one failure %s with the caller and the reason", bake, cli.ErrOperatorRollback)
	}

	w = newWorld(t)
	waiting := w.start(t, "2").Smoke(true).AwaitApproval()
	code, out, errs = w.run(t, "abort", waiting.Name(), "--yes")
	wantCode(t, code, cli.ExitConflict, out, errs)
	wantContains(t, "stderr", errs, "is not shifting prod (awaiting approval", "aliasflow reject "+waiting.Name())
	if len(w.sent()) != 0 {
		t.Errorf("sent = %+v; want nothing", w.sent())
	}
}

func TestPromoteNow(t *testing.T) {
	w := newWorld(t)
	s := w.start(t, "2")
	s.Smoke(true).AwaitApproval().Approve("bob@example.com").BeginShift("1").Bake()
	bake := s.Token()
	code, out, errs := w.run(t, "promote", s.Name(), "--now")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "stdout", out, "ended the bake at 10%")
	if sent := w.sent(); len(sent) != 1 || sent[0].Token != bake {
		t.Fatalf("sent = %+v; want the bake's token answered", sent)
	}
	var b promotion.Bake
	if err := json.Unmarshal([]byte(w.sent()[0].Output), &b); err != nil || !b.PromoteNow || b.Actor != clitest.Caller {
		t.Errorf("output = %s; want promoteNow by the caller", w.sent()[0].Output)
	}
	// Not baking any more: conflict.
	s.Await(promotion.ActionCheckHealth)
	code, out, errs = w.run(t, "promote", s.Name(), "--now")
	wantCode(t, code, cli.ExitConflict, out, errs)
	wantContains(t, "stderr", errs, "is not baking")
}

func TestRelease(t *testing.T) {
	w := newWorld(t)
	code, out, errs := w.run(t, "release", "hello", "--commit", "abc1234", "--request-only")
	wantCode(t, code, cli.ExitOK, out, errs)
	if len(w.events.Put()) != 1 {
		t.Fatalf("put %d events; want 1", len(w.events.Put()))
	}
	e := w.events.Put()[0]
	// On the release bus, the one its rule listens on (issue 18: on the
	// default bus anyone with events:PutEvents could start a release).
	if *e.Source != "aliasflow" || *e.DetailType != "Release Requested" || *e.EventBusName != "aliasflow-releases" {
		t.Errorf("event = %s / %s on %s; want aliasflow / Release Requested on aliasflow-releases", *e.Source, *e.DetailType, *e.EventBusName)
	}
	var d cli.ReleaseRequest
	if err := json.Unmarshal([]byte(*e.Detail), &d); err != nil {
		t.Fatal(err)
	}
	// The caller proof: a presigned GetCallerIdentity that signs the
	// release's binding (package release, ProofHeader).
	proof, err := url.Parse(d.CallerProof)
	if err != nil || proof.Query().Get("Action") != "GetCallerIdentity" || proof.Query().Get("X-Amz-SignedHeaders") != "host;x-aliasflow-release" {
		t.Errorf("callerProof = %q; want a presigned GetCallerIdentity signing host;x-aliasflow-release", d.CallerProof)
	}
	d.CallerProof = ""
	if want := (cli.ReleaseRequest{Function: "hello", CodeSha256: w.sha2, Commit: "abc1234", RequestedBy: clitest.Caller}); d != want {
		t.Errorf("detail = %+v; want %+v", d, want)
	}
	if strings.Contains(out, "X-Amz") {
		t.Errorf("release printed the proof:\n%s", out)
	}
	// $LATEST's code is version 2's: PublishVersion will answer 2.
	wantContains(t, "stdout", out, "aliasflow watch "+promotion.ExecutionName("hello", "2", w.sha2))

	// --build links the CI run; the release Lambda reads it as the
	// release's build (shared/release, ReleaseRequestedFields).
	code, out, errs = w.run(t, "release", "hello", "--commit", "abc1234", "--build", "https://ci.example.com/runs/42", "--request-only")
	wantCode(t, code, cli.ExitOK, out, errs)
	d = cli.ReleaseRequest{}
	if err := json.Unmarshal([]byte(*w.events.Put()[len(w.events.Put())-1].Detail), &d); err != nil || d.Build != "https://ci.example.com/runs/42" || d.Commit != "abc1234" {
		t.Errorf("detail with --build = %+v (%v); want build https://ci.example.com/runs/42", d, err)
	}
	// What the release Lambda would refuse is refused here first, named,
	// and no event is put.
	for _, bad := range []struct {
		name string
		args []string
		want string
	}{
		{"--build too long", []string{"--build", strings.Repeat("x", 2049)}, "--build: 2049 bytes, at most 2048"},
		{"--build with a newline", []string{"--build", "42\nApprove: https://evil.example/"}, `--build: "42\nApprove: https://evil.example/" has a space`},
		{"--commit a branch", []string{"--commit", "main"}, `--commit: "main" is not a commit id`},
		{"--commit too short", []string{"--commit", "abc12"}, `--commit: "abc12" is not a commit id`},
	} {
		t.Run(bad.name, func(t *testing.T) {
			puts := len(w.events.Put())
			code, out, errs := w.run(t, append([]string{"release", "hello"}, bad.args...)...)
			wantCode(t, code, cli.ExitUsage, out, errs)
			wantContains(t, "stderr", errs, bad.want)
			if len(w.events.Put()) != puts {
				t.Errorf("a refused %s put an event", bad.args[0])
			}
		})
	}

	code, out, errs = w.run(t, "release", "nope")
	wantCode(t, code, cli.ExitNotFound, out, errs)

	w.events.Service.Refuse("AccessDeniedException")
	code, out, errs = w.run(t, "release", "hello")
	wantCode(t, code, cli.ExitFailure, out, errs)
	wantContains(t, "stderr", errs, "refused", "AccessDeniedException")
}

func TestHistory(t *testing.T) {
	w := newWorld(t)
	t1 := clitest.T0.Add(time.Minute)
	w.logs.Audit(
		audit.Record{Event: audit.AliasMoved, Function: "hello", Alias: "stg", FromVersion: "1", ToVersion: "2", Actor: "aliasflow", Time: clitest.T0},
		audit.Record{Event: audit.TrafficShifted, Function: "hello", Alias: "prod", FromVersion: "1", ToVersion: "2", Weight: audit.Weight(0.1), Actor: "aliasflow", Time: t1,
			Execution: sandboxtest.ExecutionARN("hello-v2-abababab")},
		audit.Record{Event: audit.AliasMoved, Function: "other", Alias: "prod", ToVersion: "7", Time: t1},
	)
	w.logs.Line(t1, "START RequestId: 1 Version: $LATEST")
	code, out, errs := w.run(t, "history", "hello")
	wantCode(t, code, cli.ExitOK, out, errs)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines; want a header and 2 records:\n%s", len(lines), out)
	}
	wantContains(t, "newest line", lines[1], "traffic.shifted", "prod", "1→2", "10%", "hello-v2-abababab")
	wantContains(t, "oldest line", lines[2], "alias.moved", "stg")
	if got := *w.logs.Filter[0].FilterPattern; got != `{ $.audit IS TRUE && $.function = "hello" }` {
		t.Errorf("filter pattern = %s", got)
	}

	code, out, errs = w.run(t, "history", "hello", "--json", "--limit", "1")
	wantCode(t, code, cli.ExitOK, out, errs)
	var got struct{ Records []audit.Record }
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Records) != 1 || got.Records[0].Event != audit.TrafficShifted {
		t.Errorf("--json --limit 1 = %s (%v); want the newest record", out, err)
	}

	code, out, errs = w.run(t, "history", "hello", "--log-group", "/nope")
	wantCode(t, code, cli.ExitNotFound, out, errs)
}

func TestApproveByFunctionName(t *testing.T) {
	cases := []struct {
		name    string
		waiting int
		code    int
		want    string
	}{
		{"one waiting", 1, cli.ExitOK, "approved hello-v3-"},
		{"none waiting", 0, cli.ExitConflict, "no promotion of hello awaits approval"},
		{"two waiting", 2, cli.ExitUsage, "2 promotions of hello awaits approval"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.start(t, "2") // its smoke test in flight
			for i := 0; i < c.waiting; i++ {
				w.start(t, string(rune('3'+i))).Smoke(true).AwaitApproval()
			}
			code, out, errs := w.run(t, "approve", "hello")
			wantCode(t, code, c.code, out, errs)
			wantContains(t, "output", out+errs, c.want)
		})
	}
}

func TestReleaseWaitsForACodeUpdate(t *testing.T) {
	w := newWorld(t)
	// busy's code update stays InProgress: the Lambda's clock never
	// reaches its end.
	clock := statestest.NewClock(sandboxtest.T0)
	w.lambda = sandboxtest.NewLambda(t, func(o *lambdasvc.Options) { o.Clock, o.UpdateDuration = clock.Now, time.Minute })
	w.lambda.AddFunction(t, "busy", 0)
	clock.Advance(time.Minute)
	w.lambda.Deploy(t, "busy")
	code, out, errs := w.run(t, "release", "busy")
	wantCode(t, code, cli.ExitConflict, out, errs)
	wantContains(t, "stderr", errs, "still being updated after 2m0s")
	if len(w.events.Put()) != 0 || w.slept != 2*time.Minute {
		t.Errorf("put %d events after waiting %s; want none after 2m", len(w.events.Put()), w.slept)
	}
}

// TestHistoryEscapesControlCharacters: an audit record is text a pipeline
// Lambda logged from what it was given; a control character in it must not
// reach the terminal raw — no cleared screen, no forged row, no reordered
// text.
func TestHistoryEscapesControlCharacters(t *testing.T) {
	forged := "\n2026-11-21 10:00:00Z  promotion.completed  prod  1→9  100%  cfo  hello-v9-00000000  approved"
	tests := []struct {
		name string
		rec  audit.Record
		// want is the cell as printed: escaped, quoted.
		want string
	}{
		{"clear screen in the reason", audit.Record{Reason: "ok\x1b[2J\x1b[H"}, `"ok\x1b[2J\x1b[H"`},
		{"forged row in the reason", audit.Record{Reason: "rejected" + forged}, `"rejected\n2026-`},
		{"carriage return in the actor", audit.Record{Actor: "mallory\rcfo@example.com"}, `"mallory\rcfo@example.com"`},
		{"bidi override in the actor", audit.Record{Actor: "\u202emoc.elpmaxe@ofc"}, `"\u202emoc.elpmaxe@ofc"`},
		{"C1 CSI in the reason", audit.Record{Reason: "x\u009b2J"}, `"x\u009b2J"`},
		{"tab in the reason", audit.Record{Reason: "a\tb"}, `"a\tb"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			rec := tt.rec
			rec.Event, rec.Function, rec.Alias, rec.FromVersion, rec.ToVersion, rec.Time = audit.ApprovalRejected, "hello", "prod", "1", "2", clitest.T0
			w.logs.Audit(rec)
			code, out, errs := w.run(t, "history", "hello")
			wantCode(t, code, cli.ExitOK, out, errs)
			if strings.ContainsAny(out, "\x1b\r\t\u009b\u202e") {
				t.Errorf("stdout carries a control character raw: %q", out)
			}
			// A long reason wraps onto lines of its own, indented: none
			// starts like a row.
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			rows := 0
			for _, l := range lines[1:] {
				if !strings.HasPrefix(l, " ") {
					rows++
				}
			}
			if rows != 1 {
				t.Errorf("got %d rows; want one record:\n%s", rows, out)
			}
			wantContains(t, "stdout", out, tt.want)
		})
	}
}

// TestWatchEscapesControlCharacters: watch says who rejected a promotion
// and what a smoke check saw — text from an approver and from the
// function — and the approver on its progress line; none reaches the
// terminal raw.
func TestWatchEscapesControlCharacters(t *testing.T) {
	cases := []struct {
		name string
		run  func(s *sandboxtest.Run)
		want string
	}{
		{"smoke detail", func(s *sandboxtest.Run) {
			s.Answer(promotion.ActionSmoke, sandboxtest.Return(promotion.SmokeResult{Passed: false, Checks: []promotion.CheckResult{
				{Name: "greets", Passed: false, Attempts: 1, Detail: "body \x1b[2J\rall checks passed"}}})).RestoreStg()
		}, `smoke check "greets" failed: "body \x1b[2J\rall checks passed"`},
		{"rejecting approver", func(s *sandboxtest.Run) {
			s.Smoke(true).AwaitApproval().Reject("\u202emoc.elpmaxe@ofc", "no")
		}, `rejected by "\u202emoc.elpmaxe@ofc": "no"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			s := w.start(t, "2")
			c.run(s)
			code, out, errs := w.run(t, "watch", s.Name())
			wantCode(t, code, cli.ExitUnsuccessful, out, errs)
			if strings.ContainsAny(out+errs, "\x1b\r\u202e") {
				t.Errorf("watch printed a control character raw:\nstdout %q\nstderr %q", out, errs)
			}
			wantContains(t, "output", out+errs, c.want)
		})
	}
}

func TestWatchLineEscapesTheApprover(t *testing.T) {
	w := newWorld(t)
	s := w.start(t, "2")
	s.Smoke(true).AwaitApproval().SendApproval("bob\x1b[2J")
	w.onSleep = func(n int) {
		if n == 1 {
			s.Answer(promotion.ActionGranted, sandboxtest.Return(map[string]any{})).BeginShift("1").Bake().BakeOver().Finalize()
		}
	}
	code, out, errs := w.run(t, "watch", s.Name(), "--interval", "5s")
	wantCode(t, code, cli.ExitOK, out, errs)
	if strings.ContainsAny(out, "\x1b") {
		t.Errorf("watch printed a control character raw: %q", out)
	}
	wantContains(t, "watch", out, `approved by "bob\x1b[2J"`)
}

// TestDecisionsOnlyByAMappedApprover (issue 18): approve and reject go
// through the approval API, which answers the task only for a caller the
// target's current settings map to one of its approvers; anyone else is
// refused and nothing is sent.
func TestDecisionsOnlyByAMappedApprover(t *testing.T) {
	for _, args := range [][]string{{"approve"}, {"reject", "--comment", "no"}} {
		t.Run(args[0], func(t *testing.T) {
			w := newWorld(t)
			s := w.start(t, "2").Smoke(true).AwaitApproval()
			w.approvalsFor(w.states.SFN).Caller = "arn:aws:iam::000000000000:user/mallory"
			code, out, errs := w.run(t, append([]string{args[0], s.Name()}, args[1:]...)...)
			wantCode(t, code, cli.ExitRefused, out, errs)
			wantContains(t, "stderr", errs, "user/mallory is not mapped to any approver of hello")
			if len(w.sent()) != 0 {
				t.Errorf("sent %+v; want nothing", w.sent())
			}
		})
	}
}

// TestResume: a promotion its plan holds at a pause until continued goes
// on with resume or promote (Argo Rollouts' promote on a pause), through
// the approval API with the verified caller; resume refuses a bake.
func TestResume(t *testing.T) {
	paused := clitest.Input("hello", "2", "sha-2")
	paused.Target.Strategy = config.StrategyConfig{Type: config.Steps,
		Steps: []plan.Step{{SetWeight: &plan.SetWeight{Weight: 0.1}}, {Analysis: &plan.Analysis{BakeSeconds: 30}}, {Pause: &plan.Pause{}}}}
	paused.Steps = promotion.Plan(paused.Target.Strategy)
	cases := []struct {
		name  string
		args  []string
		pause bool
		code  int
		want  []string
	}{
		{"resume continues the pause", []string{"resume"}, true, cli.ExitOK,
			[]string{"continued the pause at 10% of", "then prod goes to 100%"}},
		{"promote continues the pause", []string{"promote"}, true, cli.ExitOK,
			[]string{"continued the pause at 10% of"}},
		{"resume refuses a bake", []string{"resume"}, false, cli.ExitConflict,
			[]string{"is not paused: it is baking at 10%", "`aliasflow promote"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			s := w.startWith(t, paused)
			s.Smoke(true).AwaitApproval().Approve("bob@example.com").BeginShift("1").Bake()
			if c.pause {
				// The analysis passed: check-health goes to the plan's pause.
				s.HealthTo(promotion.Shift{StableVersion: "1", Step: 0, Weight: 0.1, BakeSeconds: 3600, Kind: "pause", Position: 2}).AwaitPause()
			}
			token := s.Token()
			code, out, errs := w.run(t, append(c.args, s.Name(), "--yes")...)
			wantCode(t, code, c.code, out, errs)
			wantContains(t, "output", out+errs, c.want...)
			var answers []sent
			for _, sent := range w.sent() {
				if sent.Token == token {
					answers = append(answers, sent)
				}
			}
			if c.code != cli.ExitOK {
				if len(answers) != 0 {
					t.Errorf("answers = %+v; want none", answers)
				}
				return
			}
			var b promotion.Bake
			if len(answers) != 1 || json.Unmarshal([]byte(answers[0].Output), &b) != nil || !b.PromoteNow || b.Full || b.Actor != clitest.Caller {
				t.Errorf("answers to the pause = %+v; want one promoteNow by %s", answers, clitest.Caller)
			}
		})
	}
}

// TestPause: pause holds a baking promotion through the approval API with
// the verified caller, after asking; resume then continues it.
func TestPause(t *testing.T) {
	cases := []struct {
		name        string
		args        []string
		held        bool // the promotion is already held in the Pause state
		interactive bool
		stdin       string
		code        int
		want        []string
		wantHold    bool // one hold sent to the bake
		wantResume  bool // one promoteNow sent to the pause
	}{
		{name: "pause a bake", args: []string{"pause", "--yes"}, code: cli.ExitOK, wantHold: true,
			want: []string{"paused hello-v2-", "at 10%", "until `aliasflow resume"}},
		{name: "pause asks at a terminal", args: []string{"pause"}, interactive: true, stdin: "y\n", code: cli.ExitOK, wantHold: true,
			want: []string{"then hold prod at 10% until `aliasflow resume", "audited once (promotion.paused)", "at 10%? [y/N]"}},
		{name: "pause without a terminal needs --yes", args: []string{"pause"}, code: cli.ExitRefused,
			want: []string{"no terminal can confirm it"}},
		{name: "pause what is held", args: []string{"pause", "--yes"}, held: true, code: cli.ExitConflict,
			want: []string{"is already held (Pause)", "aliasflow resume"}},
		{name: "resume what an operator paused", args: []string{"resume", "--yes"}, held: true, code: cli.ExitOK, wantResume: true,
			want: []string{"resumed at 10% of", "the step bakes again"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.interactive, w.stdin = c.interactive, c.stdin
			s := w.start(t, "2")
			s.Smoke(true).AwaitApproval().Approve("bob@example.com").BeginShift("1").Bake()
			bake, pause := s.Token(), ""
			if c.held {
				// The bake ended (here as its timeout) and check-health
				// held the promotion, as after an operator's pause.
				s.HealthTo(promotion.Shift{StableVersion: "1", Step: 0, Weight: 0.1, BakeSeconds: 3600, Kind: promotion.ShiftHold, Position: 1}).AwaitPause()
				pause = s.Token()
			}
			args := append([]string{c.args[0], s.Name()}, c.args[1:]...)
			code, out, errs := w.run(t, args...)
			wantCode(t, code, c.code, out, errs)
			wantContains(t, "output", out+errs, c.want...)
			var hold, resume int
			for _, sent := range w.sent() {
				var b promotion.Bake
				_ = json.Unmarshal([]byte(sent.Output), &b)
				switch {
				case sent.Token == bake && b.Hold && b.Actor == clitest.Caller:
					hold++
				case pause != "" && sent.Token == pause && b.PromoteNow && b.Actor == clitest.Caller:
					resume++
				case sent.Token == bake || sent.Token == pause:
					t.Errorf("unexpected answer %+v", sent)
				}
			}
			if (hold == 1) != c.wantHold || (resume == 1) != c.wantResume || hold > 1 || resume > 1 {
				t.Errorf("holds sent %d, resumes sent %d; want hold %v, resume %v", hold, resume, c.wantHold, c.wantResume)
			}
		})
	}
}
