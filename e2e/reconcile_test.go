package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/reconcile"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// reconcileOnce invokes the deployed reconciler as its schedule does (the
// sandbox runs no schedules: its clock is the test's) and returns its
// report. It runs as its own role, from the template.
func (s *scenario) reconcileOnce(input string) reconcile.Report {
	s.t.Helper()
	out, err := s.lambda.Invoke(s.ctx, &lambda.InvokeInput{FunctionName: aws.String(deploy.ReconcileFunction), Payload: []byte(input)})
	if err != nil {
		s.t.Fatalf("invoke %s: %v", deploy.ReconcileFunction, err)
	}
	if out.FunctionError != nil {
		s.t.Fatalf("%s failed: %s", deploy.ReconcileFunction, out.Payload)
	}
	var rep reconcile.Report
	if err := json.Unmarshal(out.Payload, &rep); err != nil {
		s.t.Fatalf("%s answered %s: %v", deploy.ReconcileFunction, out.Payload, err)
	}
	return rep
}

// recordsOf is the trail's records of event ev.
func (s *scenario) recordsOf(ev audit.Event) []audit.Record {
	s.t.Helper()
	recs, err := s.auditRecords()
	if err != nil {
		s.t.Fatal(err)
	}
	return slices.DeleteFunc(recs, func(r audit.Record) bool { return r.Event != ev })
}

// busCopies counts the audit records of event ev put on the release bus.
func (s *scenario) busCopies(ev audit.Event) int {
	n := 0
	for _, e := range s.world().Sandbox().Events().Events() {
		var r audit.Record
		if e.Source == audit.Source && e.DetailType == audit.DetailType && json.Unmarshal(e.Detail, &r) == nil && r.Event == ev {
			n++
		}
	}
	return n
}

// emfLines counts the reconciler's EMF lines of metric name.
func (s *scenario) emfLines(name string) int {
	s.t.Helper()
	out, err := s.logs.FilterLogEvents(s.ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(pipelineLogs), FilterPattern: aws.String(`"` + name + `"`)})
	if err != nil {
		s.t.Fatal(err)
	}
	n := 0
	for _, e := range out.Events {
		if strings.Contains(aws.ToString(e.Message), `"_aws"`) {
			n++
		}
	}
	return n
}

// TestReconcilerReportsAHandMoveOnce (issue 21): aliasflow's own moves are
// stamped and never reported; stg moved by hand is reported once — one
// alias.drifted record, its EventBridge copy on the release bus, one
// metric — however often the reconciler runs, and never moved back.
func TestReconcilerReportsAHandMoveOnce(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	p := s.merge(helloV2, "c0ffee2")
	s.approvalEmail(p, approver) // the release's moves are done and audited
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"after aliasflow's release", func() {}, []string{}},
		{"stg moved by hand", func() {
			if _, err := s.lambda.UpdateAlias(s.ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(fn), Name: aws.String("stg"), FunctionVersion: aws.String("1")}); err != nil {
				t.Fatalf("move stg by hand: %v", err)
			}
		}, []string{fn + ":stg"}},
		{"the next run", func() {}, []string{}},
		{"and the next", func() {}, []string{}},
	}
	for _, st := range steps {
		st.do()
		if rep := s.reconcileOnce(`{}`); !slices.Equal(rep.Drifted, st.want) {
			t.Errorf("%s: drifted = %v, want %v", st.name, rep.Drifted, st.want)
		}
	}
	drifted := s.recordsOf(audit.AliasDrifted)
	if len(drifted) != 1 || drifted[0].Alias != "stg" || drifted[0].ToVersion != "1" || drifted[0].FromVersion != p.version {
		t.Errorf("alias.drifted records = %+v; want one: stg on 1 where aliasflow left %s", drifted, p.version)
	}
	if n := s.busCopies(audit.AliasDrifted); n != 1 {
		t.Errorf("alias.drifted events on the bus = %d, want 1", n)
	}
	if n := s.emfLines("AliasesDrifted"); n != 1 {
		t.Errorf("AliasesDrifted metric lines = %d, want 1", n)
	}
	if got := s.alias("stg"); got.String() != "1" {
		t.Errorf("stg = %s; the reconciler never moves an alias back", got)
	}
}

// TestSweepReleasesADroppedBuildOnce (issue 21): a build whose event was
// dropped (CodeBuild's events are best effort) is released by the sweep
// through the release function's own path, exactly once — even when the
// late event then arrives, and however often the sweep runs.
func TestSweepReleasesADroppedBuildOnce(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	p := s.deploy(helloV2, "c0ffee2")
	in := buildOf(p)
	in.NoEvent = true
	b, _, err := s.world().Sandbox().CodeBuild().RunBuild(in)
	if err != nil {
		t.Fatal(err)
	}
	if rep := s.reconcileOnce(`{"sweepGraceSeconds":0}`); !slices.Equal(rep.Swept, []string{fn + ":" + b.ID}) {
		t.Fatalf("swept = %v, want %s", rep.Swept, b.ID)
	}
	s.waitStarted(p)
	s.approvalEmail(p, approver)
	// The late event, then the sweep again.
	if _, err := s.world().Sandbox().CodeBuild().EmitEvent(b.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.world().Sandbox().Events().Drain(s.ctx); err != nil {
		t.Fatalf("drain EventBridge deliveries: %v", err)
	}
	if rep := s.reconcileOnce(`{"sweepGraceSeconds":0}`); len(rep.Swept) != 0 {
		t.Errorf("the second sweep: swept = %v, want none", rep.Swept)
	}
	if got := s.versions(); strings.Join(got, ",") != "$LATEST,1,2" {
		t.Errorf("versions = %v, want $LATEST,1,2 (one release)", got)
	}
	if got := s.executions(); len(got) != 1 || aws.ToString(got[0].Name) != p.name {
		t.Errorf("executions = %v, want just %s", names(got), p.name)
	}
	swept := s.recordsOf(audit.ReleaseSwept)
	if len(swept) != 1 || swept[0].Release == nil || swept[0].Release.Build != b.ID || !strings.Contains(swept[0].Reason, "found by the sweep") {
		t.Errorf("release.swept records = %+v; want one of %s", swept, b.ID)
	}
	if pub := s.recordsOf(audit.ReleasePublished); len(pub) != 1 || pub[0].Release == nil || pub[0].Release.Build != b.ID {
		t.Errorf("release.published records = %+v; want one, of %s", pub, b.ID)
	}
	if n := s.busCopies(audit.ReleaseSwept); n != 1 {
		t.Errorf("release.swept events on the bus = %d, want 1", n)
	}
}
