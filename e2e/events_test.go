package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/codebuild"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/release"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// TestDuplicateEvents delivers the same build event ten times, as
// EventBridge's at-least-once delivery may: one version is published, one
// promotion runs, and the audit trail has each change once.
func TestDuplicateEvents(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	p := s.deploy(helloV2, "c0ffee2")
	id := s.runBuild(buildOf(p))
	if err := s.world().Sandbox().Events().Redeliver(id, 9); err != nil {
		t.Fatal(err)
	}
	s.waitStarted(p)
	s.approvalEmail(p, approver)
	// Every delivery has been handled once the release Lambda has run ten
	// times; only then is "one of everything" meaningful.
	if err := s.world().Sandbox().Events().Drain(s.ctx); err != nil {
		t.Fatalf("drain EventBridge deliveries: %v", err)
	}
	if got := s.versions(); strings.Join(got, ",") != "$LATEST,1,2" {
		t.Errorf("versions of hello after 10 duplicate events: %v, want $LATEST,1,2", got)
	}
	if got := s.executions(); len(got) != 1 || aws.ToString(got[0].Name) != p.name {
		t.Errorf("executions after 10 duplicate events: %d (%v), want just %s", len(got), names(got), p.name)
	}
	s.approveByLink(p, approver)
	out := s.waitDone(p, stepTimeout)

	s.wantExecution(out, sfntypes.ExecutionStatusSucceeded, "")
	s.wantAliases("2", "2")
	s.wantStates(p, "SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps", "Finalize", "Completed")
	s.wantAudit(
		"release.published →2",
		"alias.moved stg 1→2",
		"smoke.passed stg →2",
		"approval.requested →2",
		"approval.granted →2 by "+approver,
		"alias.moved prod 1→2",
		"promotion.completed prod 1→2",
	)
	if n := len(s.world().Emails()); n != 2 {
		t.Errorf("%d approval e-mails, want 2 (one per approver)", n)
	}
}

// TestSupersede releases two builds one second apart: the older promotion
// is stopped before it moves prod, stg serves the newer one, and the newer
// one is promoted.
func TestSupersede(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	older := s.deploy(helloV2, "c0ffee2")
	first := time.Now()
	s.runBuild(buildOf(older))
	s.waitStarted(older)
	time.Sleep(time.Until(first.Add(time.Second)))
	newer := s.merge(helloV3, "c0ffee3")

	out := s.waitDone(older, stepTimeout)
	s.wantExecution(out, sfntypes.ExecutionStatusAborted, "aliasflow.Superseded")
	s.wantAliases("3", "1")
	// The older promotion's approval link, if it was e-mailed, decides nothing.
	for _, m := range s.world().Emails() {
		if strings.Contains(m.Subject, "version "+older.version) {
			if status, body := s.decideByLink(linkPattern.FindString(m.Body), "approve", ""); status == 200 {
				t.Errorf("approving the superseded promotion: status 200, want a refusal:\n%s", body)
			}
		}
	}
	s.approveByLink(newer, approver)
	out = s.waitDone(newer, stepTimeout)
	s.wantExecution(out, sfntypes.ExecutionStatusSucceeded, "")
	s.wantAliases("3", "3")
	s.wantStates(newer, "SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps", "Finalize", "Completed")

	// The older promotion was stopped before it could move prod.
	entered, err := s.enteredStates(older.arn)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range entered {
		if st != "Mode" && st != "SmokeTest" && st != "SmokePassed" && st != "RequestApproval" {
			t.Errorf("the superseded promotion entered %s (%v); it must stop before the shift", st, entered)
		}
	}
	if events, err := s.history(older.arn); err != nil || len(events) == 0 || events[len(events)-1].Type != sfntypes.HistoryEventTypeExecutionAborted {
		t.Errorf("history of the superseded promotion does not end with ExecutionAborted (%v)", err)
	}

	recs := s.waitAudit(func(recs []audit.Record) bool { return find(recs, audit.PromotionCompleted) != nil })
	s.wantMovesAudited(recs)
	// How far the older promotion got before it was stopped depends on
	// timing: its smoke test may have passed and approval been asked for.
	got := forExecution(recs, older.arn)
	if len(got) < 3 || got[0] != "release.published →2" || got[1] != "alias.moved stg 1→2" || got[len(got)-1] != "promotion.superseded 2→3" {
		t.Errorf("audit trail of the older promotion:\n  %s\nwant release.published, alias.moved stg, …, promotion.superseded 2→3", strings.Join(got, "\n  "))
	}
	for _, r := range got[2 : len(got)-1] {
		if r != "smoke.passed stg →2" && r != "approval.requested →2" {
			t.Errorf("audit trail of the older promotion has %q; only a smoke pass and an approval request may precede the stop", r)
		}
	}
	if got, want := forExecution(recs, newer.arn), []string{
		"release.published →3",
		"alias.moved stg 2→3",
		"smoke.passed stg →3",
		"approval.requested →3",
		"approval.granted →3 by " + approver,
		"alias.moved prod 1→3",
		"promotion.completed prod 1→3",
	}; !slices.Equal(got, want) {
		t.Errorf("audit trail of the newer promotion:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if n := len(recs) - len(forExecution(recs, older.arn)) - len(forExecution(recs, newer.arn)); n != 0 {
		t.Errorf("%d audit records belong to neither promotion", n)
	}
}

// malformedOutcome is what becomes of one malformed event.
type malformedOutcome int

const (
	// putRefused: EventBridge's PutEvents refuses the entry.
	putRefused malformedOutcome = iota
	// unmatched: no rule matches, so nothing runs.
	unmatched
	// releaseRefused: the release Lambda refuses it with an audit record
	// whose reason contains the expected text.
	releaseRefused
)

// TestMalformedEvents puts a corpus of malformed and hostile events on the
// bus: each is refused (by EventBridge, by the rules' patterns or by the
// release Lambda, which audits why) and nothing moves.
func TestMalformedEvents(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		outcome malformedOutcome
		reason  string
	}{
		"function-latest.json":          {releaseRefused, `function: "$LATEST": $LATEST is never promoted`},
		"function-qualified.json":       {releaseRefused, `"hello:prod": give the function name without a qualifier`},
		"function-arn.json":             {releaseRefused, "give the function name, not an ARN"},
		"function-version-number.json":  {releaseRefused, `"2" looks like a version number`},
		"function-unknown.json":         {releaseRefused, `"goodbye" is not configured`},
		"function-missing.json":         {releaseRefused, "function name is empty"},
		"function-number.json":          {releaseRefused, "function must be a string"},
		"function-padded.json":          {releaseRefused, `" hello"`},
		"codesha256-hex.json":           {releaseRefused, "codeSha256: \"f5aec532"},
		"codesha256-short.json":         {releaseRefused, `codeSha256: "AAAA"`},
		"codesha256-missing.json":       {releaseRefused, "codeSha256: missing"},
		"codesha256-of-other-code.json": {releaseRefused, "$LATEST changed since the build"},
		"detail-not-json.json":          {putRefused, "MalformedDetail"},
		"detail-array.json":             {putRefused, "MalformedDetail"},
		"detail-type-misspelt.json":     {unmatched, ""},
		// What a release says of itself is checked before anyone is shown it
		// (issue 18): no control character, a commit that is one.
		"requestedby-injected.json": {releaseRefused, `requestedBy: "mallory@example.com\n\nSmoke tests passed\nApprove: https://evil.example/" has the control character U+000A`},
		"commit-branch.json":        {releaseRefused, `commit: "main" is not a commit id`},
		// Only CodeBuild emits aws.codebuild events: a forged one is refused
		// per entry, as AWS does (PutEventsResultEntry, EventBridge API
		// Reference). What CodeBuild itself can say wrongly is in builds below.
		"codebuild-exported-function-latest.json":    {putRefused, "NotAuthorizedForSourceException"},
		"codebuild-exported-codesha256-invalid.json": {putRefused, "NotAuthorizedForSourceException"},
		"codebuild-bad-build-id.json":                {putRefused, "NotAuthorizedForSourceException"},
		"codebuild-failed.json":                      {putRefused, "NotAuthorizedForSourceException"},
		"codebuild-unknown-project.json":             {putRefused, "NotAuthorizedForSourceException"},
	}
	// Builds the sandbox CodeBuild runs, each emitting its own event.
	exported := func(function, sha string) []codebuild.EnvironmentVariable {
		return []codebuild.EnvironmentVariable{
			{Name: release.VarFunction, Value: function}, {Name: release.VarCodeSha256, Value: sha},
			{Name: release.VarCommit, Value: "4f1c2e9"}, {Name: release.VarRequestedBy, Value: "mallory@example.com"},
		}
	}
	validSha := "9a7FMr2BtwI4GK/P4d1j8JPSLYHeV6H55HvtJVGI7T8="
	builds := map[string]struct {
		in      codebuild.RunInput
		outcome malformedOutcome
		reason  string
	}{
		"build exporting $LATEST": {codebuild.RunInput{Project: buildProject, Exported: exported("$LATEST", validSha)},
			releaseRefused, `function: "$LATEST": $LATEST is never promoted`},
		"build exporting a code hash that is not base64": {codebuild.RunInput{Project: buildProject, Exported: exported(fn, "not-a-sha")},
			releaseRefused, `"not-a-sha" is not base64`},
		"build exporting $LATEST, event without the variables": {codebuild.RunInput{Project: buildProject, Exported: exported("$LATEST", validSha), EventWithoutExported: true},
			releaseRefused, `function: "$LATEST": $LATEST is never promoted`},
		"build exporting a requester with an ANSI escape": {codebuild.RunInput{Project: buildProject, Exported: append(exported(fn, validSha)[:3],
			codebuild.EnvironmentVariable{Name: release.VarRequestedBy, Value: "mallory\x1b[2J"})},
			releaseRefused, `ALIASFLOW_REQUESTED_BY: "mallory\x1b[2J" has the control character U+001B`},
		"failed build":             {codebuild.RunInput{Project: buildProject, Status: "FAILED", Exported: exported(fn, validSha)}, unmatched, ""},
		"build of another project": {codebuild.RunInput{Project: "payments-build", Exported: exported(fn, validSha)}, unmatched, ""},
	}
	files, err := filepath.Glob("testdata/malformed/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := cases[filepath.Base(f)]; !ok {
			t.Errorf("%s has no expected outcome in TestMalformedEvents", f)
		}
	}
	if len(files) != len(cases) {
		t.Fatalf("testdata/malformed holds %d events, the test expects %d", len(files), len(cases))
	}

	s := newScenario(t, nil)
	latest, err := s.lambda.GetFunctionConfiguration(s.ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn)})
	if err != nil {
		t.Fatal(err)
	}
	wantRefusals := map[string]string{} // reason text → file
	for _, f := range files {
		name := filepath.Base(f)
		want := cases[name]
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		raw = []byte(strings.ReplaceAll(string(raw), "${LATEST_SHA}", aws.ToString(latest.CodeSha256)))
		var entries []ebtypes.PutEventsRequestEntry
		if err := json.Unmarshal(raw, &entries); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i := range entries {
			// A release request goes to the release bus, the one its rule
			// listens on (issue 18); forged aws.* events to the default bus.
			if aws.ToString(entries[i].Source) == "aliasflow" && entries[i].EventBusName == nil {
				entries[i].EventBusName = aws.String(deploy.ReleaseEventBus)
			}
		}
		out, err := s.events.PutEvents(s.ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			t.Fatalf("%s: PutEvents: %v", name, err)
		}
		code := aws.ToString(out.Entries[0].ErrorCode)
		switch {
		case want.outcome == putRefused && code != want.reason:
			t.Errorf("%s: PutEvents entry error %q, want %q", name, code, want.reason)
		case want.outcome != putRefused && code != "":
			t.Errorf("%s: PutEvents refused the entry (%s: %s), want it accepted", name, code, aws.ToString(out.Entries[0].ErrorMessage))
		case want.outcome == releaseRefused:
			wantRefusals[name] = want.reason
		}
	}
	for name, b := range builds {
		s.runBuild(b.in)
		if b.outcome == releaseRefused {
			wantRefusals[name] = b.reason
		}
	}
	drain, cancel := context.WithTimeout(s.ctx, stepTimeout)
	defer cancel()
	if err := s.world().Sandbox().Events().Drain(drain); err != nil {
		t.Fatalf("drain EventBridge deliveries: %v", err)
	}

	recs := s.waitAudit(func(recs []audit.Record) bool { return len(recs) >= len(wantRefusals) })
	s.wantMovesAudited(recs)
	var reasons []string
	for _, r := range recs {
		if r.Event != audit.ReleaseRefused {
			t.Errorf("audit record %s: only release.refused records were expected", describe(r))
			continue
		}
		reasons = append(reasons, r.Reason)
	}
	if len(reasons) != len(wantRefusals) {
		t.Errorf("%d release.refused records, want %d (one per event the release Lambda received):\n  %s", len(reasons), len(wantRefusals), strings.Join(reasons, "\n  "))
	}
	// Each refused event has a record naming what is wrong with it; the
	// records are matched to the events by their reasons.
	files = files[:0]
	for name := range wantRefusals {
		files = append(files, name)
	}
	sort.Strings(files)
	unclaimed := slices.Clone(reasons)
	for _, name := range files {
		i := slices.IndexFunc(unclaimed, func(r string) bool { return strings.Contains(r, wantRefusals[name]) })
		if i < 0 {
			t.Errorf("%s: no release.refused record mentions %q", name, wantRefusals[name])
			continue
		}
		unclaimed = slices.Delete(unclaimed, i, i+1)
	}

	// Nothing moved.
	s.wantAliases("1", "1")
	if got := s.versions(); strings.Join(got, ",") != "$LATEST,1" {
		t.Errorf("versions of hello: %v, want $LATEST,1", got)
	}
	if got := s.executions(); len(got) != 0 {
		t.Errorf("executions: %v, want none", names(got))
	}
	if n := len(s.world().Emails()); n != 0 {
		t.Errorf("%d e-mails sent, want none", n)
	}
}

// waitAudit waits until done holds for the audit trail, and returns it.
func (s *scenario) waitAudit(done func([]audit.Record) bool) []audit.Record {
	s.t.Helper()
	var recs []audit.Record
	// Records arrive through asynchronous invocations (EventBridge → the
	// release Lambda for CloudTrail's records): a loaded machine needs a
	// step's time, not a fixed 10 s; a passing wait ends at once.
	eventually(s.t, stepTimeout, func() error {
		var err error
		if recs, err = s.auditRecords(); err != nil {
			return err
		}
		if !done(recs) {
			var got []string
			for _, r := range recs {
				got = append(got, describe(r))
			}
			return fmt.Errorf("the audit trail is not complete yet:\n  %s", strings.Join(got, "\n  "))
		}
		return nil
	})
	return recs
}

func names(execs []sfntypes.ExecutionListItem) []string {
	var out []string
	for _, e := range execs {
		out = append(out, aws.ToString(e.Name)+" "+string(e.Status))
	}
	return out
}

// TestBuildEventWithoutExportedVariables: CodeBuild's event comes in the
// shape of the documented sample (AWS CodeBuild User Guide, "Build
// notifications input format reference"), without the exported
// variables; the release Lambda reads them with BatchGetBuilds from the
// sandbox CodeBuild and the promotion runs as with a complete event.
func TestBuildEventWithoutExportedVariables(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	p := s.deploy(helloV2, "c0ffee2")
	in := buildOf(p)
	in.EventWithoutExported = true
	id := s.runBuild(in)
	s.waitStarted(p)
	for _, ev := range s.world().Sandbox().Events().Events() {
		if ev.ID == id && strings.Contains(string(ev.Detail), "exported-environment-variables") {
			t.Fatalf("the build's event carries the exported variables; this test needs one without:\n%s", ev.Detail)
		}
	}
	var lookups []string
	for _, c := range s.world().Sandbox().Calls() {
		if c.Service == "codebuild" {
			lookups = append(lookups, fmt.Sprintf("%s by %s: %d", c.Operation, c.Caller, c.Status))
		}
	}
	if want := []string{"BatchGetBuilds by aliasflow-release: 200"}; !slices.Equal(lookups, want) {
		t.Errorf("CodeBuild calls: %v, want %v (the release Lambda reads the exported variables)", lookups, want)
	}
	s.approveByLink(p, approver)
	out := s.waitDone(p, stepTimeout)
	s.wantExecution(out, sfntypes.ExecutionStatusSucceeded, "")
	s.wantAliases("2", "2")
	recs := s.wantAudit(
		"release.published →2",
		"alias.moved stg 1→2",
		"smoke.passed stg →2",
		"approval.requested →2",
		"approval.granted →2 by "+approver,
		"alias.moved prod 1→2",
		"promotion.completed prod 1→2",
	)
	if r := find(recs, audit.ReleasePublished); r == nil || r.Release == nil || r.Release.Commit != p.commit || r.Release.RequestedBy != requester {
		t.Errorf("release.published record %+v: want the commit %s and requester %s read from BatchGetBuilds", r, p.commit, requester)
	}
}
