package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

func TestStatusShowsARunningCanary(t *testing.T) {
	w := newWorld(t)
	s := w.start(t, "2")
	s.Smoke(true).AwaitApproval().Approve("bob@example.com").BeginShift("1").Bake()
	w.now = w.states.Clock.Now().Add(7 * time.Second) // the bake of 30 s began 7 s ago
	w.lambda.SetAlias(t, "hello", "prod", "1", map[string]float64{"2": 0.1})
	w.logs.Audit(
		audit.Record{Event: audit.AliasMoved, Function: "hello", Alias: "stg", FromVersion: "1", ToVersion: "2", Time: clitest.T0},
		audit.Record{Event: audit.TrafficShifted, Function: "hello", Alias: "prod", FromVersion: "1", ToVersion: "2", Weight: audit.Weight(0.1), Time: clitest.T0.Add(12 * time.Second)},
	)
	code, out, errs := w.run(t, "status", "hello")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "status", out, "1 + 2@10%", s.Name(), "baking at 10% (23s left)", "prod")
	if strings.Contains(out, "YES") {
		t.Errorf("status reports drift where the aliases match the audit trail:\n%s", out)
	}

	code, out, errs = w.run(t, "status", "--json")
	wantCode(t, code, cli.ExitOK, out, errs)
	var got struct{ Functions []cli.FunctionStatus }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if len(got.Functions) != 1 || got.Functions[0].Function != "hello" {
		t.Fatalf("functions = %+v; want hello, found from its promotion", got.Functions)
	}
	f := got.Functions[0]
	if len(f.Promotions) != 1 || f.Promotions[0].Weight != 0.1 || f.Promotions[0].State != "Bake" || f.Drift {
		t.Errorf("promotions = %+v, drift %v; want one baking at 0.1 and no drift", f.Promotions, f.Drift)
	}
}

func TestStatusDrift(t *testing.T) {
	cases := []struct {
		name  string
		prod  string
		route map[string]float64
		recs  []audit.Record
		drift bool
	}{
		{"matches a completed promotion", "2", nil, []audit.Record{
			{Event: audit.PromotionCompleted, Alias: "prod", FromVersion: "1", ToVersion: "2"}}, false},
		{"moved by hand after a promotion", "3", nil, []audit.Record{
			{Event: audit.PromotionCompleted, Alias: "prod", FromVersion: "1", ToVersion: "2"}}, true},
		{"weights changed by hand", "1", map[string]float64{"2": 0.5}, []audit.Record{
			{Event: audit.TrafficShifted, Alias: "prod", FromVersion: "1", ToVersion: "2", Weight: audit.Weight(0.1)}}, true},
		{"matches a rollback", "1", nil, []audit.Record{
			{Event: audit.TrafficShifted, Alias: "prod", FromVersion: "1", ToVersion: "2", Weight: audit.Weight(0.1)},
			{Event: audit.AliasMoved, Alias: "prod", FromVersion: "2", ToVersion: "1", Weight: audit.Weight(0)},
			{Event: audit.PromotionRolledBack, Alias: "prod", FromVersion: "2", ToVersion: "1"}}, false},
		{"never moved by aliasflow", "1", nil, nil, false},
		// The alias's stamp answers first (issue 21): aliasflow's write is
		// known before its record is readable in the trail...
		{"stamped by aliasflow ahead of the trail", "2", nil, []audit.Record{
			{Event: audit.TrafficShifted, Alias: "prod", FromVersion: "1", ToVersion: "2", Weight: audit.Weight(0.1)}}, false},
		// ... and a hand move under aliasflow's stamp shows with no trail.
		{"moved by hand under aliasflow's stamp", "3", nil, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.publish(t, 3)
			if strings.Contains(c.name, "stamp") {
				// aliasflow's finalize put prod on 2, stamping it.
				w.lambda.SetAlias(t, "hello", "prod", "2", nil)
				two := alias.Alias{Exists: true, Version: "2"}
				if _, err := w.lambda.Admin.UpdateAlias(context.Background(), &lambda.UpdateAliasInput{FunctionName: aws.String("hello"), Name: aws.String("prod"),
					FunctionVersion: aws.String("2"), Description: aws.String(alias.StampFor("hello-v2-abababab", two))}); err != nil {
					t.Fatal(err)
				}
			}
			w.lambda.SetAlias(t, "hello", "prod", c.prod, c.route)
			for i, r := range c.recs {
				r.Function, r.Time = "hello", clitest.T0.Add(time.Duration(i)*time.Second)
				w.logs.Audit(r)
			}
			code, out, errs := w.run(t, "status", "hello", "--json")
			wantCode(t, code, cli.ExitOK, out, errs)
			var got struct{ Functions []cli.FunctionStatus }
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			if got.Functions[0].Drift != c.drift {
				t.Errorf("drift = %v; want %v\n%s", got.Functions[0].Drift, c.drift, out)
			}
			_, text, _ := w.run(t, "status", "hello")
			if c.drift {
				wantContains(t, "status", text, "moved outside aliasflow", "aliasflow history hello")
			}
		})
	}
}

func TestStatusNothingToShow(t *testing.T) {
	w := newWorld(t)
	code, out, errs := w.run(t, "status")
	wantCode(t, code, cli.ExitNotFound, out, errs)
	wantContains(t, "stderr", errs, "no targets of pipeline aliasflow and no promotions", "aliasflow status <function>")

	code, out, errs = w.run(t, "status", "nope")
	wantCode(t, code, cli.ExitNotFound, out, errs)
	wantContains(t, "stderr", errs, "function nope not found")

	code, out, errs = w.run(t, "status", "hello", "--state-machine", "missing")
	wantCode(t, code, cli.ExitNotFound, out, errs)
	wantContains(t, "stderr", errs, `state machine "missing" not found`)
}

func TestWatch(t *testing.T) {
	cases := []struct {
		name  string
		end   func(s *sandboxtest.Run)
		code  int
		final string
	}{
		{"completes", func(s *sandboxtest.Run) { s.BakeOver().Finalize() }, cli.ExitOK, "completed: prod on version 2"},
		{"rolls back", func(s *sandboxtest.Run) { s.Unhealthy() }, cli.ExitUnsuccessful, "failed: RolledBack"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			s := w.start(t, "2")
			s.Smoke(true).AwaitApproval()
			w.onSleep = func(n int) {
				switch n {
				case 2:
					s.Approve("bob@example.com").BeginShift("1").Bake()
				case 4:
					c.end(s)
				}
			}
			code, out, errs := w.run(t, "watch", s.Name(), "--interval", "2s")
			wantCode(t, code, c.code, out, errs)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			// Unchanged polls print nothing: one line per gate.
			if len(lines) != 3 {
				t.Fatalf("got %d lines; want 3 (approval, baking, end):\n%s", len(lines), out)
			}
			wantContains(t, "first line", lines[0], "[smoke ✔] [approval ◐] [10% ·] [100% ·]", "awaiting approval")
			wantContains(t, "second line", lines[1], "[10% ◐]", "baking at 10%")
			wantContains(t, "last line", lines[2], c.final)
			// A poll that saw no change doubles the next wait; a change
			// brings it back to --interval: 2s, 4s (no change), 2s, 4s.
			if w.slept != 12*time.Second {
				t.Errorf("slept %s; want 2s+4s+2s+4s", w.slept)
			}
		})
	}
}

func TestWatchJSON(t *testing.T) {
	w := newWorld(t)
	s := w.start(t, "2")
	s.Smoke(true).AwaitApproval().Approve("bob@example.com").BeginShift("1").Bake().BakeOver().Finalize()
	code, out, errs := w.run(t, "watch", s.Name(), "--json")
	wantCode(t, code, cli.ExitOK, out, errs)
	var line struct {
		Status string
		Weight float64
		Stages []struct {
			Label string
			Done  bool
		}
	}
	if err := json.Unmarshal([]byte(out), &line); err != nil {
		t.Fatalf("not one JSON line: %v\n%s", err, out)
	}
	if line.Status != "SUCCEEDED" || line.Weight != 1 || len(line.Stages) != 4 || !line.Stages[3].Done {
		t.Errorf("line = %+v; want SUCCEEDED at weight 1 with 4 stages done", line)
	}
}

// TestRollbackStopsAShift: a rollback during a shift makes the promotion
// roll itself back — its Bake task fails with ErrOperatorRollback (the
// definition's Catch runs Rollback) through the approval API, which names
// the caller it verified — and waits for it to end RolledBack; nothing is
// stopped and no Lambda is invoked by the CLI.
func TestRollbackStopsAShift(t *testing.T) {
	w := newWorld(t)
	s := w.start(t, "2")
	s.Smoke(true).AwaitApproval().Approve("bob@example.com").BeginShift("1").Bake()
	bake := s.Token()
	waiting := w.start(t, "3").Smoke(true).AwaitApproval()
	w.lambda.SetAlias(t, "hello", "prod", "1", map[string]float64{"2": 0.1})
	// The definition catches the failed bake into Rollback; the shift
	// function moves prod back.
	w.onSleep = func(int) {
		if s.Status() == "RUNNING" {
			w.lambda.SetAlias(t, "hello", "prod", "1", nil)
			s.Answer(promotion.ActionRollback, sandboxtest.Return(map[string]any{}))
		}
	}

	code, out, errs := w.run(t, "rollback", "hello", "--yes", "--reason", "canary looks slow")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "stdout", out, "stopped "+s.Name(), "version 2 → 1", "note: "+waiting.Name()+" is still running")
	if d := s.Describe(); d.Status != "FAILED" || aws.ToString(d.Error) != promotion.StateRolledBack {
		t.Errorf("%s ended %s (%s); want FAILED (RolledBack) by its own Rollback, not stopped", s.Name(), d.Status, aws.ToString(d.Error))
	}
	if st := waiting.Status(); st != "RUNNING" {
		t.Errorf("%s is %s; want it RUNNING, untouched", waiting.Name(), st)
	}
	var answers []sent
	for _, a := range w.sent() {
		if a.Token == bake {
			answers = append(answers, a)
		}
	}
	var cause promotion.Override
	if len(answers) != 1 || answers[0].Success || answers[0].Error != cli.ErrOperatorRollback ||
		json.Unmarshal([]byte(answers[0].Cause), &cause) != nil || cause.Actor != clitest.Caller || cause.Reason != "canary looks slow" {
		t.Errorf("answers to the bake = %+v; want one failure %s with the caller and the reason", answers, cli.ErrOperatorRollback)
	}
	if n := w.lambda.Count("Invoke"); n != 0 {
		t.Errorf("invoked %d Lambda functions; want none", n)
	}
}

func TestRollbackFromTheAuditTrail(t *testing.T) {
	completed := []audit.Record{
		{Event: audit.TrafficShifted, Alias: "prod", FromVersion: "1", ToVersion: "2", Weight: audit.Weight(0.1)},
		{Event: audit.AliasMoved, Alias: "prod", FromVersion: "1", ToVersion: "2"},
		{Event: audit.PromotionCompleted, Alias: "prod", FromVersion: "1", ToVersion: "2"},
	}
	// 1 → 2 → 3 by two promotions, then a rollback 3 → 2 (three records
	// per minute, as the loop below stamps them).
	twoReleasesRolledBack := append(append([]audit.Record(nil), completed...),
		audit.Record{Event: audit.TrafficShifted, Alias: "prod", FromVersion: "2", ToVersion: "3", Weight: audit.Weight(0.1)},
		audit.Record{Event: audit.AliasMoved, Alias: "prod", FromVersion: "2", ToVersion: "3"},
		audit.Record{Event: audit.PromotionCompleted, Alias: "prod", FromVersion: "2", ToVersion: "3"},
		audit.Record{Event: audit.AliasMoved, Alias: "prod", FromVersion: "3", ToVersion: "2", Actor: clitest.Caller},
		audit.Record{Event: audit.PromotionRolledBack, Alias: "prod", FromVersion: "3", ToVersion: "2", Actor: clitest.Caller},
	)
	cases := []struct {
		name    string
		prod    string
		routing map[string]float64
		recs    []audit.Record
		args    []string
		code    int
		want    string // the shift request's version → stable, or the error
	}{
		{"after a completed promotion", "2", nil, completed, nil, cli.ExitOK, "2→1"},
		// The plan is the approval API's decision (ledger.RollbackTarget):
		// the API and the shift refuse a weighted prod, so the plan does.
		{"an interrupted shift left routing", "1", map[string]float64{"2": 0.1}, nil, nil, cli.ExitConflict, "routes between versions"},
		{"nothing before", "1", nil, nil, nil, cli.ExitConflict, "nothing to roll back"},
		{"moved outside aliasflow", "3", nil, completed, nil, cli.ExitConflict, "moved outside aliasflow"},
		{"already rolled back", "1", nil, append(append([]audit.Record(nil), completed...),
			audit.Record{Event: audit.AliasMoved, Alias: "prod", FromVersion: "2", ToVersion: "1"},
			audit.Record{Event: audit.PromotionRolledBack, Alias: "prod", FromVersion: "2", ToVersion: "1"}), nil, cli.ExitConflict, "would step past the last promotion's stable version"},
		// The bug of issue 13: a second rollback went back another release.
		{"a second rollback does not step past the stable version", "2", nil, twoReleasesRolledBack, nil, cli.ExitConflict,
			"prod of hello is on version 2, where a rollback by " + clitest.Caller + " put it"},
		// Version 1 served prod before any promotion completed: the API
		// refuses it without break-glass, so the plan does.
		{"--to a version no promotion completed on", "2", nil, twoReleasesRolledBack, []string{"--to", "1"}, cli.ExitConflict, "never went to prod through an approved promotion"},
		{"--to goes further on purpose, break-glass", "2", nil, twoReleasesRolledBack, []string{"--to", "1", "--break-glass"}, cli.ExitOK, "2→1"},
		{"--to a version that does not exist", "2", nil, twoReleasesRolledBack, []string{"--to", "9"}, cli.ExitNotFound, "has no published version 9"},
		{"--to where prod already is", "2", nil, twoReleasesRolledBack, []string{"--to", "2"}, cli.ExitConflict, "already on version 2"},
		{"--to while routing remains", "1", map[string]float64{"2": 0.1}, nil, []string{"--to", "2"}, cli.ExitConflict, "interrupted shift"},
		{"--to that is not a version", "2", nil, completed, []string{"--to", "$LATEST"}, cli.ExitUsage, "not a published version number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.publish(t, 3)
			w.lambda.SetAlias(t, "hello", "prod", c.prod, c.routing)
			for i, r := range c.recs {
				r.Function, r.Time = "hello", clitest.T0.Add(time.Duration(i/3)*time.Minute) // one promotion's records share a moment
				w.logs.Audit(r)
			}
			// The plan: with no promotion shifting, rollback moves nothing
			// (TestRollbackAsksFirst), but it still says where prod would go.
			code, out, errs := w.run(t, append([]string{"--json", "rollback", "hello", "--dry-run"}, c.args...)...)
			wantCode(t, code, c.code, out, errs)
			if w.lambda.Count("Invoke") != 0 {
				t.Errorf("a Lambda function was invoked by a rollback plan")
			}
			if c.code != cli.ExitOK {
				wantContains(t, "stderr", errs, c.want, `"hint":`)
				return
			}
			var res cli.RollbackResult
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("rollback --json: %v\n%s", err, out)
			}
			if got := res.From + "→" + res.To; got != c.want || res.Actor != clitest.Caller || !res.DryRun {
				t.Errorf("plan = %s %+v; want %s by the caller, a dry run", got, res, c.want)
			}
		})
	}
}

func TestRollbackReportsAShiftFailure(t *testing.T) {
	w := newWorld(t)
	s := w.start(t, "2")
	s.Smoke(true).AwaitApproval().Approve("bob@example.com").BeginShift("1").Bake()
	w.lambda.SetAlias(t, "hello", "prod", "1", map[string]float64{"2": 0.1})
	// The shift function cannot move prod back, through every retry; the
	// definition ends in RollbackFailed.
	w.onSleep = func(int) {
		if s.Status() == "RUNNING" {
			s.Exhaust(promotion.ActionRollback, sandboxtest.FunctionError(promotion.ErrTaskFailed, "rollback: prod of hello is on 7, which serves neither"))
		}
	}
	code, out, errs := w.run(t, "rollback", "hello", "--yes")
	wantCode(t, code, cli.ExitFailure, out, errs)
	wantContains(t, "stderr", errs, "asked "+s.Name()+" to roll back, but it ended FAILED (RollbackFailed: Rolling prod back failed after retries", "aliasflow status hello")
}

// TestStatusEscapesControlCharacters: status shows what the audit trail
// and the versions' descriptions say; a control character there is shown
// escaped, never sent to the terminal.
func TestStatusEscapesControlCharacters(t *testing.T) {
	w := newWorld(t)
	w.logs.Audit(
		audit.Record{Event: audit.ReleasePublished, Function: "hello", ToVersion: "2", Time: clitest.T0,
			Release: &promotion.Release{Commit: "\x1b[2J\x1b[H", CodeSha256: "sha-2"}},
		audit.Record{Event: audit.AliasMoved, Function: "hello", Alias: "stg", FromVersion: "1", ToVersion: "2\r  prod  9", Time: clitest.T0},
	)
	code, out, errs := w.run(t, "status", "hello")
	wantCode(t, code, cli.ExitOK, out, errs)
	if strings.ContainsAny(out, "\x1b\r") {
		t.Errorf("status carries a control character raw: %q", out)
	}
	wantContains(t, "status", out, `"\x1b[2J\x1b[H"`, `"2\r  prod  9"`)
}

// TestStatusSaysWhereItLooked: status names the account, region and
// endpoint it shows (issue 23: the same function in the sandbox, a
// staging account and production looked alike), in text and in --json.
func TestStatusSaysWhereItLooked(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"AWS", []string{"status", "hello", "--region", "us-east-1"},
			[]string{"account 000000000000", "region us-east-1", "AWS's endpoints"}},
		{"the sandbox", []string{"status", "hello", "--region", "us-east-1", "--endpoint", cli.DefaultLocalEndpoint},
			[]string{"account 000000000000", "region us-east-1", "endpoint " + cli.DefaultLocalEndpoint}},
		{"--json", []string{"status", "hello", "--region", "us-east-1", "--json"},
			[]string{`"account":"000000000000"`, `"region":"us-east-1"`, `"endpoint":""`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := newWorld(t).run(t, c.args...)
			wantCode(t, code, cli.ExitOK, out, errs)
			wantContains(t, "status", strings.ReplaceAll(out, `": "`, `":"`), c.want...)
		})
	}
}

// TestStatusShowsTheLastRefusedRelease: status says when and why the
// function's last release request was refused, read from the trail (issue
// 21 item 5), so a CI job's refused request is seen without reading logs.
func TestStatusShowsTheLastRefusedRelease(t *testing.T) {
	refused := func(at time.Time, reason string) audit.Record {
		return audit.Record{Event: audit.ReleaseRefused, Function: "hello", Actor: "arn:aws:iam::1:user/ci", Reason: reason, Time: at}
	}
	tests := []struct {
		name string
		recs []audit.Record
		// want is in the text; wantReason the --json lastRefused reason
		// ("": none, and the text says nothing of a refusal).
		want       []string
		wantReason string
	}{
		{"none refused", []audit.Record{{Event: audit.AliasMoved, Function: "hello", Alias: "stg", FromVersion: "1", ToVersion: "2", Time: clitest.T0}}, nil, ""},
		{"the newest of two", []audit.Record{refused(clitest.T0, "code unchanged"), refused(clitest.T0.Add(time.Minute), "a promotion of hello is in flight")},
			[]string{"last refused release: 2026-11-21 12:01:00Z by user/ci: a promotion of hello is in flight"}, "a promotion of hello is in flight"},
		{"no requester known", []audit.Record{{Event: audit.ReleaseRefused, Function: "hello", Reason: "malformed request", Time: clitest.T0}},
			[]string{"last refused release: 2026-11-21 12:00:00Z: malformed request"}, "malformed request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.logs.Audit(tt.recs...)
			code, out, errs := w.run(t, "status", "hello")
			wantCode(t, code, cli.ExitOK, out, errs)
			wantContains(t, "status", out, tt.want...)
			if tt.wantReason == "" && strings.Contains(out, "refused") {
				t.Errorf("status speaks of a refusal where there is none:\n%s", out)
			}
			code, out, errs = w.run(t, "status", "hello", "--json")
			wantCode(t, code, cli.ExitOK, out, errs)
			var got struct{ Functions []cli.FunctionStatus }
			if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Functions) != 1 {
				t.Fatalf("--json: %v\n%s", err, out)
			}
			reason := ""
			if r := got.Functions[0].LastRefused; r != nil {
				reason = r.Reason
			}
			if reason != tt.wantReason {
				t.Errorf("lastRefused reason = %q; want %q", reason, tt.wantReason)
			}
		})
	}
}

// TestStatusListsDriftUntilAliasflowMovesTheAlias: the reconciler's
// alias.drifted records (an alias moved outside aliasflow) show in status —
// when, which alias, from → to as the record says — until aliasflow moves
// that alias again.
func TestStatusListsDriftUntilAliasflowMovesTheAlias(t *testing.T) {
	at := func(m int) time.Time { return clitest.T0.Add(time.Duration(m) * time.Minute) }
	completed := func(m int, from, to string) audit.Record {
		return audit.Record{Event: audit.PromotionCompleted, Function: "hello", Alias: "prod", FromVersion: from, ToVersion: to, Time: at(m)}
	}
	drifted := func(m int, name, from, to string) audit.Record {
		return audit.Record{Event: audit.AliasDrifted, Function: "hello", Alias: name, FromVersion: from, ToVersion: to, Actor: "aliasflow", Time: at(m),
			Reason: name + " of hello is on " + to + ", not on " + from + ": it moved outside aliasflow", Changes: []audit.Change{{Field: name, From: from, To: to}}}
	}
	tests := []struct {
		name string
		recs []audit.Record
		// want are the text's drift rows; wantJSON the drifted records'
		// "alias from→to", newest first.
		want     []string
		wantJSON []string
	}{
		{"no drift", []audit.Record{completed(0, "1", "2")}, nil, nil},
		{"a drift found", []audit.Record{completed(0, "1", "2"), drifted(5, "prod", "2", "3")},
			[]string{"2026-11-21 12:05:00Z  prod   2 → 3"}, []string{"prod 2→3"}},
		{"aliasflow moved the alias since", []audit.Record{completed(0, "1", "2"), drifted(5, "prod", "2", "3"), completed(9, "3", "4")}, nil, nil},
		{"two hand moves, newest first", []audit.Record{completed(0, "1", "2"), drifted(5, "prod", "2", "3"), drifted(7, "prod", "2", "1 + 3@50%")},
			[]string{"2026-11-21 12:07:00Z  prod   2 → 1 + 3@50%", "2026-11-21 12:05:00Z  prod   2 → 3"}, []string{"prod 2→1 + 3@50%", "prod 2→3"}},
		{"a move of prod leaves stg's drift", []audit.Record{drifted(5, "stg", "2", "1"), completed(9, "2", "3")},
			[]string{"2026-11-21 12:05:00Z  stg    2 → 1"}, []string{"stg 2→1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.logs.Audit(tt.recs...)
			code, out, errs := w.run(t, "status", "hello")
			wantCode(t, code, cli.ExitOK, out, errs)
			wantContains(t, "status", out, tt.want...)
			if tt.want == nil && strings.Contains(out, "found by the reconciler") {
				t.Errorf("status lists drift where aliasflow moved the alias since:\n%s", out)
			}
			code, out, errs = w.run(t, "status", "hello", "--json")
			wantCode(t, code, cli.ExitOK, out, errs)
			var got struct {
				Functions []struct{ Drifted []audit.Record }
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Functions) != 1 {
				t.Fatalf("--json: %v\n%s", err, out)
			}
			var gotJSON []string
			for _, r := range got.Functions[0].Drifted {
				gotJSON = append(gotJSON, r.Alias+" "+r.Changes[0].From+"→"+r.Changes[0].To)
			}
			if strings.Join(gotJSON, "|") != strings.Join(tt.wantJSON, "|") {
				t.Errorf("drifted = %q; want %q", gotJSON, tt.wantJSON)
			}
		})
	}
}
