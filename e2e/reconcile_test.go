package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/reconcile"
	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// reconcileOnce invokes the deployed reconciler as its schedule does (the
// scenarios' worlds hold the schedule unless they ask for it, so that the
// test decides when a run happens) and returns its report. It runs as its
// own role, from the template.
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

// TestScheduledReconcilerReportsAHandMoveOnce (issue 21): the world runs
// the reconciler on its EventBridge Scheduler schedule (shortened to 2 s,
// as Options.Schedules allows; the template says 5 minutes), as the
// schedule's role, all through two promotions: aliasflow's own moves —
// the release's of stg, the shift's canary weight and finalize of prod, a
// rollback of prod — are stamped and never reported. Then stg moved by
// hand is reported by the scheduled runs once — one alias.drifted record,
// one copy on the bus, one metric — and never moved back, however many
// runs follow.
func TestScheduledReconcilerReportsAHandMoveOnce(t *testing.T) {
	t.Parallel()
	s := startScheduledScenario(t, func(tg *config.Target) {
		tg.Strategy = config.StrategyConfig{Type: config.Canary, Percent: 50, BakeSeconds: 3}
	}, "", cdkOut, false, 2*time.Second)
	// Each run writes hello's delivery metrics, deployments a day always.
	runs := func() int { return s.emfLines(metrics.DeploymentsPerDay) }
	waitRuns := func(n int) {
		eventually(t, stepTimeout, func() error {
			if got := runs(); got < n {
				return fmt.Errorf("the reconciler ran %d times on its schedule, want %d (invocations: %v)", got, n, s.world().Fired())
			}
			return nil
		})
	}

	completed := s.merge(helloV2, "c0ffee2")
	s.approveByLink(completed, approver)
	s.wantExecution(s.waitDone(completed, stepTimeout), sfntypes.ExecutionStatusSucceeded, "")
	rolledBack := s.merge(helloV3, "c0ffee3")
	s.approveByLink(rolledBack, approver)
	s.waitWaiting(rolledBack, "Bake")
	eventually(t, stepTimeout, func() error {
		if got := s.alias("prod"); got.weights["3"] != 0.5 {
			return fmt.Errorf("prod during the canary → %s, want 2 + 3@0.5", got)
		}
		return nil
	})
	waitRuns(runs() + 1) // a run sees the canary's weighted prod
	s.setAlarm(prodAlarm, cwtypes.StateValueAlarm, "e2e: users report errors")
	s.wantExecution(s.waitDone(rolledBack, stepTimeout), sfntypes.ExecutionStatusFailed, "RolledBack")
	s.wantAliases("3", "2")
	waitRuns(runs() + 2)
	if drifted := s.recordsOf(audit.AliasDrifted); len(drifted) != 0 {
		t.Fatalf("alias.drifted records after aliasflow's own moves = %+v, want none", drifted)
	}

	if _, err := s.lambda.UpdateAlias(s.ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(fn), Name: aws.String("stg"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatalf("move stg by hand: %v", err)
	}
	s.waitAudit(func(recs []audit.Record) bool {
		return slices.ContainsFunc(recs, func(r audit.Record) bool { return r.Event == audit.AliasDrifted })
	})
	waitRuns(runs() + 3) // three more runs find the same drift
	drifted := s.recordsOf(audit.AliasDrifted)
	if len(drifted) != 1 || drifted[0].Alias != "stg" || drifted[0].ToVersion != "1" || drifted[0].FromVersion != rolledBack.version {
		t.Errorf("alias.drifted records = %+v; want one: stg on 1 where aliasflow left %s", drifted, rolledBack.version)
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
	if fired := s.world().Fired()[deploy.ReconcileSchedule]; fired < 6 {
		t.Errorf("the schedule invoked the reconciler %d times, want at least the 6 runs waited for", fired)
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

// TestReconcilerPrunesAndEmitsDelivery (issue 21): the reconciler,
// invoked as its schedule does and running as its own role, prunes a
// target whose settings set prune.keepLast as `aliasflow prune --yes`
// does — exactly the old versions nothing references: not one an alias
// points or routes at, nor the one a waiting promotion would restore stg
// to, nor the newest 2 — each audited once (CloudTrail's version.deleted,
// no record of its own), and writes the target's delivery metrics as EMF.
func TestReconcilerPrunesAndEmitsDelivery(t *testing.T) {
	t.Parallel()
	s := startScenarioWith(t, func(tg *config.Target) { tg.Prune = &config.Prune{KeepLast: 2} }, "", cdkOut, false)
	ctx := s.ctx
	for v := len(s.published()) + 1; v <= 10; v++ {
		s.publishConfigVersion(fmt.Sprintf("version %d", v))
	}
	if got := len(s.published()); got != 10 {
		t.Fatalf("hello has %d published versions, want 10", got)
	}
	if _, err := s.lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(fn), Name: aws.String("prod"), FunctionVersion: aws.String("4"),
		RoutingConfig: &ltypes.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"5": 0.05}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(fn), Name: aws.String("stg"), FunctionVersion: aws.String("7")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(fn), Name: aws.String("blue"), FunctionVersion: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	p := s.merge(helloV2, "c0ffee1")
	s.waitWaiting(p, promotion.StateRequestApproval)
	if p.version != "11" {
		t.Fatalf("the release published version %s, want 11", p.version)
	}

	rep := s.reconcileOnce(`{}`)
	kept := []string{"2", "4", "5", "7", "10", "11"}
	var want []string
	for v := 1; v <= 11; v++ {
		if !slices.Contains(kept, strconv.Itoa(v)) {
			want = append(want, fn+":"+strconv.Itoa(v))
		}
	}
	if !slices.Equal(rep.Deleted, want) {
		t.Errorf("deleted %v, want exactly %v", rep.Deleted, want)
	}
	if got := s.published(); !slices.Equal(got, kept) {
		t.Errorf("versions left %v, want %v", got, kept)
	}
	if s.alias("prod").version != "4" || s.alias("stg").version != p.version || s.alias("blue").version != "2" {
		t.Errorf("prod on %s, stg on %s, blue on %s: pruning moved an alias", s.alias("prod").version, s.alias("stg").version, s.alias("blue").version)
	}
	if again := s.reconcileOnce(`{}`); len(again.Deleted) != 0 {
		t.Errorf("the next run deleted %v, want nothing", again.Deleted)
	}

	recs := s.waitAudit(func(recs []audit.Record) bool {
		n := 0
		for _, r := range recs {
			if r.Event == audit.VersionDeleted {
				n++
			}
		}
		return n >= len(want)
	})
	count := map[string]int{}
	for _, r := range recs {
		if r.Event == audit.VersionDeleted {
			count[fn+":"+r.FromVersion]++
		}
	}
	for _, v := range want {
		if count[v] != 1 {
			t.Errorf("%s deleted: %d version.deleted records, want exactly 1", v, count[v])
		}
	}
	if len(count) != len(want) {
		t.Errorf("version.deleted records name %d versions, want %d: %v", len(count), len(want), count)
	}

	// Two runs, each the four keys of every target: deployments a day
	// always, the others only with something to measure (none yet).
	for _, m := range []struct {
		name string
		want int
	}{
		{metrics.DeploymentsPerDay, 2 * rep.Targets},
		{metrics.DeliveryLeadTime, 0},
		{metrics.ChangeFailureRate, 0},
		{metrics.TimeToRestore, 0},
	} {
		if n := s.emfLines(m.name); n != m.want {
			t.Errorf("%s metric lines = %d, want %d", m.name, n, m.want)
		}
	}
}
