package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// aliasState is an alias as GetAlias reports it.
type aliasState struct {
	version string
	weights map[string]float64
}

func (a aliasState) String() string {
	if len(a.weights) == 0 {
		return a.version
	}
	keys := make([]string, 0, len(a.weights))
	for k := range a.weights {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(a.version)
	for _, k := range keys {
		fmt.Fprintf(&b, " + %s@%g", k, a.weights[k])
	}
	return b.String()
}

func (s *scenario) alias(name string) aliasState {
	s.t.Helper()
	out, err := s.lambda.GetAlias(s.ctx, &lambda.GetAliasInput{FunctionName: aws.String(fn), Name: aws.String(name)})
	if err != nil {
		s.t.Fatalf("GetAlias %s:%s: %v", fn, name, err)
	}
	a := aliasState{version: aws.ToString(out.FunctionVersion)}
	if out.RoutingConfig != nil && len(out.RoutingConfig.AdditionalVersionWeights) > 0 {
		a.weights = out.RoutingConfig.AdditionalVersionWeights
	}
	return a
}

// wantAliases checks stg and prod: each on one version with no routing.
func (s *scenario) wantAliases(stg, prod string) {
	s.t.Helper()
	for _, c := range []struct{ name, want string }{{"stg", stg}, {"prod", prod}} {
		if got := s.alias(c.name); got.version != c.want || len(got.weights) != 0 {
			s.t.Errorf("alias %s → %s, want %s with no routing", c.name, got, c.want)
		}
	}
}

// wantExecution checks how p's execution ended.
func (s *scenario) wantExecution(out *sfn.DescribeExecutionOutput, status sfntypes.ExecutionStatus, errName string) {
	s.t.Helper()
	if out.Status != status || aws.ToString(out.Error) != errName {
		s.t.Errorf("execution %s ended %s (error %q: %s), want %s (error %q)",
			aws.ToString(out.Name), out.Status, aws.ToString(out.Error), aws.ToString(out.Cause), status, errName)
	}
}

// enteredStates lists the states an execution entered, in order.
func (s *scenario) enteredStates(arn string) ([]string, error) {
	events, err := s.history(arn)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range events {
		if d := e.StateEnteredEventDetails; d != nil {
			names = append(names, aws.ToString(d.Name))
		}
	}
	return names, nil
}

func (s *scenario) history(arn string) ([]sfntypes.HistoryEvent, error) {
	var out []sfntypes.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(s.sfn, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	for p.HasMorePages() {
		page, err := p.NextPage(s.ctx)
		if err != nil {
			return nil, fmt.Errorf("GetExecutionHistory %s: %w", arn, err)
		}
		out = append(out, page.Events...)
	}
	return out, nil
}

// wantStates checks the states p's execution entered, in order, after
// Mode, which every execution enters first (a promotion, not a manual
// rollback).
func (s *scenario) wantStates(p *promo, want ...string) {
	s.t.Helper()
	want = append([]string{"Mode"}, want...)
	got, err := s.enteredStates(p.arn)
	if err != nil {
		s.t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		s.t.Errorf("execution %s entered\n  %s\nwant\n  %s", p.name, strings.Join(got, " → "), strings.Join(want, " → "))
	}
}

// executions lists the promotion state machine's executions.
func (s *scenario) executions() []sfntypes.ExecutionListItem {
	s.t.Helper()
	var out []sfntypes.ExecutionListItem
	p := sfn.NewListExecutionsPaginator(s.sfn, &sfn.ListExecutionsInput{
		StateMachineArn: aws.String("arn:aws:states:us-east-1:000000000000:stateMachine:" + stateMachine)})
	for p.HasMorePages() {
		page, err := p.NextPage(s.ctx)
		if err != nil {
			s.t.Fatalf("ListExecutions: %v", err)
		}
		out = append(out, page.Executions...)
	}
	return out
}

// auditRecords reads the audit trail from the pipeline's log group, as
// `aliasflow history` does, oldest first.
func (s *scenario) auditRecords() ([]audit.Record, error) {
	var recs []audit.Record
	p := cloudwatchlogs.NewFilterLogEventsPaginator(s.logs, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName:  aws.String(pipelineLogs),
		FilterPattern: aws.String("{ $.audit IS TRUE }"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(s.ctx)
		if err != nil {
			return nil, fmt.Errorf("FilterLogEvents %s: %w", pipelineLogs, err)
		}
		for _, e := range page.Events {
			var r audit.Record
			if err := json.Unmarshal([]byte(aws.ToString(e.Message)), &r); err != nil {
				return nil, fmt.Errorf("audit line is not a record: %v: %s", err, aws.ToString(e.Message))
			}
			if !r.Audit {
				return nil, fmt.Errorf("FilterLogEvents { $.audit IS TRUE } returned a line without audit: %s", aws.ToString(e.Message))
			}
			recs = append(recs, r)
		}
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	return recs, nil
}

// describe is one audit record in the form the scenarios expect:
// "event alias from→to @weight by actor", the parts present.
func describe(r audit.Record) string {
	parts := []string{string(r.Event)}
	if r.Alias != "" {
		parts = append(parts, r.Alias)
	}
	if r.FromVersion != "" || r.ToVersion != "" {
		parts = append(parts, r.FromVersion+"→"+r.ToVersion)
	}
	if r.Weight != nil {
		parts = append(parts, fmt.Sprintf("@%g", *r.Weight))
	}
	switch r.Event {
	case audit.ApprovalGranted, audit.ApprovalRejected, audit.PauseContinued, audit.WindowOverridden, audit.PromotionPaused, audit.BakeSkipped:
		parts = append(parts, "by "+r.Actor)
	}
	return strings.Join(parts, " ")
}

// wantAudit waits until the audit trail is exactly want (in order) and
// returns the records; it also checks that each record belonging to a
// promotion names its execution.
func (s *scenario) wantAudit(want ...string) []audit.Record {
	s.t.Helper()
	var recs []audit.Record
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		recs, err = s.auditRecords()
		if err != nil {
			s.t.Fatal(err)
		}
		got = got[:0]
		for _, r := range recs {
			if verdictOnly(r) {
				continue
			}
			got = append(got, describe(r))
		}
		if slices.Equal(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !slices.Equal(got, want) {
		s.t.Errorf("audit trail:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	s.wantMovesAudited(recs)
	if !s.restarted {
		// The sandbox keeps the events put on the bus in memory only.
		s.wantAuditEvents(got)
	}
	for _, r := range recs {
		if r.Function != fn && r.Event != audit.ReleaseRefused {
			s.t.Errorf("audit record %s names function %q, want %q", describe(r), r.Function, fn)
		}
		if r.Event != audit.ReleaseRefused && !strings.HasPrefix(r.Execution, "arn:aws:states:") {
			s.t.Errorf("audit record %s names execution %q, want an execution ARN", describe(r), r.Execution)
		}
		if r.Time.IsZero() {
			s.t.Errorf("audit record %s has no time", describe(r))
		}
	}
	return recs
}

// forExecution keeps the records of one execution.
func forExecution(recs []audit.Record, arn string) []string {
	var out []string
	for _, r := range recs {
		if r.Execution == arn {
			out = append(out, describe(r))
		}
	}
	return out
}

// dumpPipelineLogs prints the pipeline's log lines, for a failed test.
func (s *scenario) dumpPipelineLogs() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := s.logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(pipelineLogs)})
	if err != nil {
		s.t.Logf("pipeline logs: %v", err)
		return
	}
	var b strings.Builder
	for _, e := range out.Events {
		fmt.Fprintf(&b, "%s %s\n", aws.ToString(e.LogStreamName), strings.TrimSpace(aws.ToString(e.Message)))
	}
	s.t.Logf("pipeline logs (%d lines):\n%s", len(out.Events), b.String())
}

// setAlarm sets an alarm's state through the CloudWatch API, as
// `aws cloudwatch set-alarm-state` does.
func (s *scenario) setAlarm(name string, state cwtypes.StateValue, reason string) {
	s.t.Helper()
	_, err := s.cw.SetAlarmState(s.ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(name), StateValue: state, StateReason: aws.String(reason)})
	if err != nil {
		s.t.Fatalf("SetAlarmState %s %s: %v", name, state, err)
	}
}

// aliasWatch records every change of stg and prod it sees, independently
// of the pipeline, so that the audit trail can be checked against what
// really happened.
type aliasWatch struct {
	s    *scenario
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	last map[string]aliasState
	// moves are the changes seen, in the form describe gives the audit
	// record that must account for each.
	moves []string
}

// watchAliases polls stg and prod every 20 ms through the sandbox's Go API
// (not the HTTP API, so that it neither sees nor consumes injected
// throttling) until the test ends.
func (s *scenario) watchAliases() *aliasWatch {
	aw := &aliasWatch{s: s, stop: make(chan struct{}), done: make(chan struct{}), last: map[string]aliasState{}}
	aw.poll()
	go func() {
		defer close(aw.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-aw.stop:
				return
			case <-tick.C:
				aw.poll()
			}
		}
	}()
	s.t.Cleanup(func() { close(aw.stop); <-aw.done })
	return aw
}

func (aw *aliasWatch) poll() {
	for _, name := range []string{"stg", "prod"} {
		a, err := aw.s.world().Sandbox().Lambda().GetAlias(fn, name)
		if err != nil {
			continue
		}
		cur := aliasState{version: a.FunctionVersion}
		if a.RoutingConfig != nil && len(a.RoutingConfig.AdditionalVersionWeights) > 0 {
			cur.weights = a.RoutingConfig.AdditionalVersionWeights
		}
		aw.mu.Lock()
		if prev, ok := aw.last[name]; ok && prev.String() != cur.String() {
			aw.moves = append(aw.moves, transition(name, prev, cur))
		}
		aw.last[name] = cur
		aw.mu.Unlock()
	}
}

// transition describes a change of an alias as its audit record reads.
func transition(alias string, from, to aliasState) string {
	switch {
	case len(to.weights) > 0:
		for n, w := range to.weights {
			return fmt.Sprintf("traffic.shifted %s %s→%s @%g", alias, to.version, n, w)
		}
	case len(from.weights) > 0 && from.version == to.version:
		// A rollback: the traffic leaves the new version.
		for n := range from.weights {
			return fmt.Sprintf("alias.moved %s %s→%s @0", alias, n, to.version)
		}
	}
	return fmt.Sprintf("alias.moved %s %s→%s", alias, from.version, to.version)
}

// wantMovesAudited checks that every alias change the watcher saw has its
// own audit record.
func (s *scenario) wantMovesAudited(recs []audit.Record) {
	s.t.Helper()
	s.watch.poll()
	s.watch.mu.Lock()
	moves := slices.Clone(s.watch.moves)
	s.watch.mu.Unlock()
	var records []string
	for _, r := range recs {
		if r.Event == audit.AliasMoved || r.Event == audit.TrafficShifted {
			records = append(records, describe(r))
		}
	}
	for _, m := range moves {
		i := slices.Index(records, m)
		if i < 0 {
			s.t.Errorf("alias change %q has no audit record of its own (alias changes seen: %v; records: %v)", m, moves, records)
			continue
		}
		records = slices.Delete(records, i, i+1)
	}
}

// wantAuditEvents checks that the audit records also went to EventBridge
// (source aliasflow, detail-type "Audit Record"), one event per record.
func (s *scenario) wantAuditEvents(trail []string) {
	s.t.Helper()
	want := slices.Clone(trail)
	sort.Strings(want)
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		got = got[:0]
		for _, e := range s.world().Sandbox().Events().Events() {
			if e.Source != audit.Source || e.DetailType != audit.DetailType {
				continue
			}
			var r audit.Record
			if err := json.Unmarshal(e.Detail, &r); err != nil {
				s.t.Errorf("Audit Record event %s: detail is not a record: %v", e.ID, err)
				continue
			}
			if verdictOnly(r) {
				continue
			}
			got = append(got, describe(r))
		}
		sort.Strings(got)
		if slices.Equal(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !slices.Equal(got, want) {
		s.t.Errorf("Audit Record events on EventBridge:\n  %s\nwant one per audit record:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// verdictOnly says a record only explains a health verdict that let the
// shift go on (health.passed, health.inconclusive): how many there are
// depends on the traffic a step saw, so the trails compared leave them out;
// the verdict tests in shared/shift pin them down.
func verdictOnly(r audit.Record) bool {
	return r.Event == audit.HealthPassed || r.Event == audit.HealthInconclusive
}

// wantCanaryOneToTwo checks a promotion of version 2 over version 1 through
// one 50% canary step that ended well, whatever faults it met on the way:
// the aliases, the states entered (a retry stays in its state) and the trail.
func (s *scenario) wantCanaryOneToTwo(p *promo, out *sfn.DescribeExecutionOutput) {
	s.t.Helper()
	s.wantExecution(out, sfntypes.ExecutionStatusSucceeded, "")
	s.wantAliases("2", "2")
	s.wantStates(p, "SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps",
		"SetWeight", "Bake", "CheckHealth", "MoreSteps", "Finalize", "Completed")
	s.wantAudit(
		"release.published →2",
		"alias.moved stg 1→2",
		"smoke.passed stg →2",
		"approval.requested →2",
		"approval.granted →2 by "+approver,
		"traffic.shifted prod 1→2 @0.5",
		"alias.moved prod 1→2",
		"promotion.completed prod 1→2",
	)
}
