package shift_test

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift"
	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// TestBeginAlarmFiring: an alarm already in ALARM before any traffic moves
// refuses the shift with its name, unless the target allows it.
func TestBeginAlarmFiring(t *testing.T) {
	tests := []struct {
		name      string
		composite bool
		allow     bool
		wantErr   string
	}{
		{name: "metric alarm firing", wantErr: `alarm "hello-prod-errors" is in ALARM`},
		{name: "composite alarm firing", composite: true, wantErr: `composite alarm "hello-prod-errors" is in ALARM`},
		{name: "allowed by the target", allow: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.cw.alarms["hello-prod-errors"] = fakeAlarm{state: cwtypes.StateValueAlarm, composite: tc.composite, reason: "Threshold Crossed"}
			e.lam.SetAlias(e.t, fn, "stg", "5", nil)
			e.lam.SetAlias(e.t, fn, "prod", "4", nil)
			req := request(t, promotion.ActionBegin, 0)
			req.Promotion.Shift = nil
			req.Promotion.Target.Health.AllowAlarmsFiringAtStart = tc.allow
			got, err := e.run(req)
			if tc.wantErr == "" {
				if err != nil || got == nil || got.StableVersion != "4" {
					t.Fatalf("begin = %+v, %v; want the first step", got, err)
				}
				return
			}
			wantErrorName(t, err, promotion.ErrAlarmFiring)
			wantContains(t, "error", message(err), tc.wantErr)
			wantContains(t, "error", message(err), "health.allowAlarmsFiringAtStart")
			if e.alias("prod") != "4" {
				t.Errorf("prod = %s; nothing may move", e.alias("prod"))
			}
		})
	}
}

// fakeLogs answers FilterLogEvents as CloudWatch Logs does: events of one
// log group in timestamp order, selected by the stream prefix or names,
// the time range (StartTime inclusive, EndTime inclusive) and the quoted
// OR terms of a filter pattern (?"a" ?"b", each a case-sensitive
// substring), in pages of at most Limit (pageSize when set) events.
type fakeLogs struct {
	mu       sync.Mutex
	events   map[string][]logtypes.FilteredLogEvent // by group
	inputs   []*cloudwatchlogs.FilterLogEventsInput
	missing  bool
	pageSize int
	// fail, when set, is every FilterLogEvents call's answer.
	fail error
}

// add writes one event to the default log group of the test function.
func (f *fakeLogs) add(stream string, at time.Time, line string) {
	f.addIn("/aws/lambda/"+fn, stream, at, line)
}

func (f *fakeLogs) addIn(group, stream string, at time.Time, line string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.events == nil {
		f.events = map[string][]logtypes.FilteredLogEvent{}
	}
	evs := f.events[group]
	ev := logtypes.FilteredLogEvent{LogStreamName: aws.String(stream), Timestamp: aws.Int64(at.UnixMilli()), Message: aws.String(line)}
	// Kept in timestamp order, equal stamps in the order written.
	i := sort.Search(len(evs), func(i int) bool { return aws.ToInt64(evs[i].Timestamp) > at.UnixMilli() })
	f.events[group] = slices.Insert(evs, i, ev)
}

// filterTerms reads the ?"term" OR terms of a filter pattern; nil for an
// empty pattern (everything matches).
func filterTerms(p string) []string {
	var terms []string
	for _, part := range strings.Split(p, "?") {
		if part = strings.TrimSpace(part); part != "" {
			terms = append(terms, strings.Trim(part, `"`))
		}
	}
	return terms
}

func (f *fakeLogs) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	if f.fail != nil {
		return nil, f.fail
	}
	evs, ok := f.events[aws.ToString(in.LogGroupName)]
	if f.missing || (!ok && len(f.events) > 0) {
		return nil, &logtypes.ResourceNotFoundException{Message: aws.String("The specified log group does not exist.")}
	}
	if in.LogStreamNamePrefix != nil && len(in.LogStreamNames) > 0 {
		return nil, &logtypes.InvalidParameterException{Message: aws.String("logStreamNames and logStreamNamePrefix are mutually exclusive")}
	}
	terms := filterTerms(aws.ToString(in.FilterPattern))
	limit := int(aws.ToInt32(in.Limit))
	if limit == 0 || limit > 10000 {
		limit = 10000
	}
	if f.pageSize > 0 {
		limit = min(limit, f.pageSize)
	}
	offset := 0
	if in.NextToken != nil {
		offset, _ = strconv.Atoi(aws.ToString(in.NextToken))
	}
	var match []logtypes.FilteredLogEvent
	first := sort.Search(len(evs), func(i int) bool { return aws.ToInt64(evs[i].Timestamp) >= aws.ToInt64(in.StartTime) })
	for _, ev := range evs[first:] {
		ts, msg, stream := aws.ToInt64(ev.Timestamp), aws.ToString(ev.Message), aws.ToString(ev.LogStreamName)
		if in.StartTime != nil && ts < aws.ToInt64(in.StartTime) || in.EndTime != nil && ts > aws.ToInt64(in.EndTime) {
			continue
		}
		if !strings.HasPrefix(stream, aws.ToString(in.LogStreamNamePrefix)) {
			continue
		}
		if len(in.LogStreamNames) > 0 && !slices.Contains(in.LogStreamNames, stream) {
			continue
		}
		if len(terms) > 0 && !slices.ContainsFunc(terms, func(t string) bool { return strings.Contains(msg, t) }) {
			continue
		}
		match = append(match, ev)
	}
	out := &cloudwatchlogs.FilterLogEventsOutput{}
	if offset < len(match) {
		out.Events = match[offset:min(len(match), offset+limit)]
	}
	if offset+limit < len(match) {
		out.NextToken = aws.String(strconv.Itoa(offset + limit))
	}
	return out, nil
}

// logsEnv is healthEnv's step 0 with a 30 s canary bake judged on the
// fresh signal: the metrics (a minute late) hold nothing of the step yet.
func logsEnv(t *testing.T) (*env, *fakeLogs, promotion.TaskRequest) {
	t.Helper()
	e, req := healthEnv(t, 0, "insufficient data alarm")
	e.cw = newFakeCloudWatch()
	e.cw.alarms["hello-prod-errors"] = fakeAlarm{state: cwtypes.StateValueOk}
	lg := &fakeLogs{}
	clock := func() time.Time { return e.now }
	log := slog.New(slog.NewJSONHandler(&e.logs, nil))
	e.h = shift.New(e.lam.Client, e.cw, e.sf, audit.New(log, e.bus, &audit.Options{Now: clock}), metrics.New(&e.emf, clock),
		&shift.Options{Log: log, Now: clock, Logs: lg})
	req.Promotion.Target.Health.FreshSignal = "logs"
	req.Promotion.Target.Health.LogRuntime = "aws-lambda-go"
	req.Promotion.Target.Health.MetricDelaySeconds = 240
	// A 20 s canary bake, extended once: the logs are read up to 10 s
	// before now (logSettle), which covers the 20 s.
	req.Promotion.Steps = []promotion.Step{{Weight: 0.1, BakeSeconds: 20}}
	req.Promotion.Shift = &promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.1, BakeSeconds: 15, BakedSeconds: 15}
	return e, lg, req
}

// report writes n REPORT lines, failed of them with Status: error, into a
// stream of version v named as Lambda names it (YYYY/MM/DD/[v]id), 11 to
// 29 s before now: within the step, and settled.
func report(lg *fakeLogs, now time.Time, v string, n, failed int) {
	stream := now.UTC().Format("2006/01/02") + "/[" + v + "]0123456789abcdef"
	for i := range n {
		line := "REPORT RequestId: r\tDuration: 3.00 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\tMax Memory Used: 32 MB"
		if i < failed {
			line += "\tStatus: error\tError Type: Runtime.ExitError"
		}
		at := now.Add(-time.Duration(11+i%19) * time.Second)
		lg.add(stream, at, "START RequestId: r Version: "+v)
		lg.add(stream, at, line)
	}
}

func TestCheckHealthFreshSignal(t *testing.T) {
	tests := []struct {
		name               string
		newN, newFailed    int
		stableN            int
		wantErr, wantEvent string
		wantExtend         bool
	}{
		{name: "broken canary rolled back within its 30 s bake", newN: 30, newFailed: 6, stableN: 270,
			wantErr: "logs: error rate 20% (6 errors / 30 invocations of version 5", wantEvent: "health.failed"},
		{name: "healthy canary passes on its log streams", newN: 150, stableN: 1350, wantEvent: "health.passed"},
		{name: "too few calls yet: bake again", newN: 8, stableN: 80, wantEvent: "health.inconclusive", wantExtend: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, lg, req := logsEnv(t)
			report(lg, e.now, "5", tc.newN, tc.newFailed)
			report(lg, e.now, "4", tc.stableN, 0)
			// Lines before the step never count.
			report(lg, e.now.Add(-time.Hour), "5", 50, 50)
			got, err := e.run(req)
			if tc.wantErr != "" {
				wantErrorName(t, err, promotion.ErrHealthCheckFailed)
				wantContains(t, "error", message(err), tc.wantErr)
			} else if err != nil {
				t.Fatalf("check-health: %v", err)
			} else if got.Extend != tc.wantExtend {
				t.Errorf("shift = %+v, want extend %v", got, tc.wantExtend)
			}
			recs := e.audits(t)
			if len(recs) != 1 || string(recs[0].Event) != tc.wantEvent || recs[0].Verdict == nil {
				t.Fatalf("records %q, want one %s with its verdict", summary(recs), tc.wantEvent)
			}
			ev := recs[0].Verdict.Sources[0]
			if ev.Source != "logs" || ev.NewInvocations != float64(tc.newN) || ev.StableInvocations != float64(tc.stableN) {
				t.Errorf("evidence %+v, want logs with %d and %d calls", ev, tc.newN, tc.stableN)
			}
			// One read of the group, both versions told apart by stream name.
			if len(lg.inputs) != 1 || aws.ToString(lg.inputs[0].LogGroupName) != "/aws/lambda/hello" {
				t.Errorf("%d FilterLogEvents calls, want 1 of /aws/lambda/hello", len(lg.inputs))
			}
		})
	}
}

// TestCheckHealthFreshSignalMissingGroup: Lambda creates a function's log
// group when it first logs, so a group that does not exist yet holds no
// line: the step is inconclusive and bakes again, not rolled back.
func TestCheckHealthFreshSignalMissingGroup(t *testing.T) {
	e, lg, req := logsEnv(t)
	lg.missing = true
	got, err := e.run(req)
	if err != nil {
		t.Fatalf("err = %v, want the step baking again", err)
	}
	if !got.Extend {
		t.Errorf("shift = %+v, want it extended", got)
	}
	wantSummary(t, e, []string{"health.inconclusive prod 4>5 @0.1"})
}

// TestThrottledEvidenceIsNeverAVerdict (issue 19): a health check whose
// evidence could not be read because AWS throttled the read bakes the step
// again, spread per promotion, prod untouched and one record saying so —
// where it used to fail the task as transient, which the definition
// retried for ~15 s and then rolled back. Once the step's bakes are spent
// the task fails as before.
func TestThrottledEvidenceIsNeverAVerdict(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env, lg *fakeLogs)
	}{
		{"DescribeAlarms", func(e *env, _ *fakeLogs) {
			e.cw.fail("DescribeAlarms", &cwtypes.LimitExceededFault{Message: aws.String("Rate exceeded")})
		}},
		{"GetMetricData", func(e *env, _ *fakeLogs) {
			e.cw.fail("GetMetricData", &cwtypes.LimitExceededException{Message: aws.String("Rate exceeded")})
		}},
		{"FilterLogEvents", func(_ *env, lg *fakeLogs) {
			lg.fail = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, lg, req := logsEnv(t)
			e.lam.SetAlias(e.t, fn, "prod", "4", map[string]float64{"5": 0.1})
			// Five minutes into the step: its first minutes' metrics are
			// published, so GetMetricData is called.
			req.Promotion.Shift.BakedSeconds = 300
			tc.setup(e, lg)
			got, err := e.run(req)
			if err != nil {
				t.Fatalf("err = %v, want the step baking again", err)
			}
			// Spaced by the quota: 200 promotions checking their log
			// streams every 50 s use 80 % of FilterLogEvents' 5/s (plus
			// a spread per promotion of up to a quarter).
			if !got.Extend || got.BakeSeconds < 50 || got.BakeSeconds >= 63 || got.Extensions != 1 {
				t.Errorf("shift = %+v, want extended by 50–62 s, one extension", got)
			}
			if p := e.alias("prod"); p != "4 + 5@0.1" {
				t.Errorf("prod = %s, want it untouched", p)
			}
			recs := wantSummary(t, e, []string{"health.inconclusive prod 4>5 @0.1"})
			if !strings.Contains(recs[0].Reason, "evidence not read") || !strings.Contains(recs[0].Reason, "Rate exceeded") {
				t.Errorf("reason %q, want the unread evidence and AWS's message", recs[0].Reason)
			}

			// The step's bakes spent: the task fails as before.
			e.logs.Reset()
			req.Promotion.Shift.BakedSeconds = 86400
			tc.setup(e, lg)
			_, err = e.run(req)
			wantErrorName(t, err, promotion.ErrTransient)
		})
	}
}

// configuredLambda answers GetFunctionConfiguration with a runtime and a
// logging configuration, as Lambda does for a version.
type configuredLambda struct {
	shift.Lambda
	runtime lambdatypes.Runtime
	logging *lambdatypes.LoggingConfig
}

func (c configuredLambda) GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error) {
	out, err := c.Lambda.GetFunctionConfiguration(ctx, in, opts...)
	if err == nil {
		out.Runtime, out.LoggingConfig = c.runtime, c.logging
	}
	return out, err
}

// TestLogSourceReadsWhatAWSWrites: the logs source in the function's own
// log group (custom ones too, shared with other functions), told apart by
// stream name, and blind — saying why — when the version's runtime is not
// the one whose error line it reads.
func TestLogSourceReadsWhatAWSWrites(t *testing.T) {
	tests := []struct {
		name       string
		runtime    lambdatypes.Runtime
		logging    *lambdatypes.LoggingConfig
		group      string // where the lines are
		streamFn   string // the function name in the stream names
		wantErr    string
		wantBlind  string
		wantNew    float64
		wantErrors float64
	}{
		{name: "default group, provided.al2023", runtime: lambdatypes.RuntimeProvidedal2023, group: "/aws/lambda/hello",
			wantErr: "logs: error rate 50% (10 errors / 20 invocations of version 5", wantNew: 20, wantErrors: 10},
		{name: "custom log group shared with another function", runtime: lambdatypes.RuntimeProvidedal2023,
			logging: &lambdatypes.LoggingConfig{LogGroup: aws.String("/acme/shared"), LogFormat: lambdatypes.LogFormatText},
			group:   "/acme/shared", streamFn: "hello",
			wantErr: "logs: error rate 50% (10 errors / 20 invocations of version 5", wantNew: 20, wantErrors: 10},
		{name: "the version runs Node.js, the target says aws-lambda-go", runtime: lambdatypes.RuntimeNodejs22x, group: "/aws/lambda/hello",
			wantBlind: "health.logRuntime is aws-lambda-go but version 5 runs nodejs22.x", wantNew: 20},
		{name: "JSON format with SystemLogLevel WARN has no report records", runtime: lambdatypes.RuntimeProvidedal2023,
			logging: &lambdatypes.LoggingConfig{LogFormat: lambdatypes.LogFormatJson, SystemLogLevel: lambdatypes.SystemLogLevelWarn},
			group:   "/aws/lambda/hello", wantBlind: "SystemLogLevel WARN drops the platform.report records", wantNew: 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, lg, req := logsEnv(t)
			clock := func() time.Time { return e.now }
			log := slog.New(slog.NewJSONHandler(&e.logs, nil))
			e.h = shift.New(configuredLambda{Lambda: e.lam.Client, runtime: tc.runtime, logging: tc.logging}, e.cw, e.sf,
				audit.New(log, e.bus, &audit.Options{Now: clock}), metrics.New(&e.emf, clock), &shift.Options{Log: log, Now: clock, Logs: lg})
			tr := &traffic{lg: lg, cw: newFakeCloudWatch(), group: tc.group, streamFn: tc.streamFn}
			other := &traffic{lg: lg, cw: newFakeCloudWatch(), group: tc.group, streamFn: "other"}
			for i := range 20 {
				at := e.now.Add(-time.Duration(11+i%15) * time.Second)
				tr.call("5", at, i%2 == 0, kindHandled)
				tr.call("4", at, false, kindOK)
				// Another function's failures in a shared group never count.
				other.call("5", at, true, kindHandled)
			}
			_, err := e.run(req)
			if tc.wantErr != "" {
				wantErrorName(t, err, promotion.ErrHealthCheckFailed)
				wantContains(t, "error", message(err), tc.wantErr)
			} else if err != nil {
				t.Fatalf("check-health: %v", err)
			}
			recs := e.audits(t)
			if len(recs) != 1 || recs[0].Verdict == nil {
				t.Fatalf("records %q, want one with its verdict", summary(recs))
			}
			ev := recs[0].Verdict.Sources[0]
			if tc.wantBlind != "" {
				if ev.SeesHandledErrors || !strings.Contains(ev.Blind, tc.wantBlind) {
					t.Errorf("evidence sees handled errors %v, blind %q; want blind: %s", ev.SeesHandledErrors, ev.Blind, tc.wantBlind)
				}
				if recs[0].Event == "health.passed" {
					t.Errorf("a blind source passed the step")
				}
			}
			if ev.NewInvocations != tc.wantNew && tc.logging == nil || ev.NewErrors != tc.wantErrors {
				t.Errorf("evidence %s errors / %s calls, want %v / %v", trim(ev.NewErrors), trim(ev.NewInvocations), tc.wantErrors, tc.wantNew)
			}
			for _, in := range lg.inputs {
				if got := aws.ToString(in.LogGroupName); got != tc.group {
					t.Errorf("read log group %s, want %s", got, tc.group)
				}
			}
		})
	}
}

// TestLogSourceReadsIncrementally: each check reads only what arrived
// since the last, at most a few pages, and carries its counts in the
// shift state; a read left unfinished continues from its token, and the
// evidence is complete only through where it got.
func TestLogSourceReadsIncrementally(t *testing.T) {
	e, lg, req := logsEnv(t)
	lg.pageSize = 10
	tr := &traffic{lg: lg, cw: newFakeCloudWatch(), group: "/aws/lambda/hello"}
	start := e.now.Add(-30 * time.Second)
	for i := range 60 { // 60 × (START, REPORT) of each version: 4 lines, 2 counted
		tr.call("5", start.Add(time.Duration(i)*200*time.Millisecond), false, kindOK)
		tr.call("4", start.Add(time.Duration(i)*200*time.Millisecond), false, kindOK)
	}
	type look struct{ calls, newCalls int }
	var looks []look
	var first *promotion.Shift
	for range 4 {
		before := len(lg.inputs)
		got, err := e.run(req)
		if err != nil {
			t.Fatalf("check-health: %v", err)
		}
		recs := e.audits(t)
		ev := recs[len(recs)-1].Verdict.Sources[0]
		looks = append(looks, look{len(lg.inputs) - before, int(ev.NewInvocations)})
		if !got.Extend {
			break
		}
		// The next check, 15 s later, with the state this one returned.
		e.now = e.now.Add(time.Duration(got.BakeSeconds) * time.Second)
		if first == nil {
			first = got
		}
		req.Promotion.Shift = got
	}
	// 120 counted lines of 10 a page, 4 pages a check: 40, 80, then 120.
	want := []look{{4, 20}, {4, 40}, {4, 60}}
	if len(looks) < 3 || looks[0] != want[0] || looks[1] != want[1] || looks[2].newCalls != 60 {
		t.Fatalf("looks (FilterLogEvents calls, new version's calls) = %v, want %v", looks, want)
	}
	if first == nil || !strings.Contains(first.Logs, `"token"`) {
		t.Errorf("an unfinished read carries no token: %+v", first)
	}
	for i, in := range lg.inputs[1:] {
		if in.NextToken == nil && aws.ToInt64(in.StartTime) < start.UnixMilli() {
			t.Errorf("call %d re-reads from %d, before the step", i+1, aws.ToInt64(in.StartTime))
		}
	}
}

// TestLogSourceCountsLateLinesOnce: lines of the last seconds are counted
// provisionally and read again by the next check, so a line that reaches
// CloudWatch Logs late is counted, and no line twice.
func TestLogSourceCountsLateLinesOnce(t *testing.T) {
	e, lg, req := logsEnv(t)
	tr := &traffic{lg: lg, cw: newFakeCloudWatch(), group: "/aws/lambda/hello"}
	for i := range 10 {
		tr.call("5", e.now.Add(-20*time.Second+time.Duration(i)*time.Millisecond), false, kindOK) // settled
		tr.call("5", e.now.Add(-3*time.Second+time.Duration(i)*time.Millisecond), false, kindOK)  // provisional
	}
	newCalls := func() float64 {
		recs := e.audits(t)
		return recs[len(recs)-1].Verdict.Sources[0].NewInvocations
	}
	got, err := e.run(req)
	if err != nil || !got.Extend {
		t.Fatalf("first check = %+v, %v; want a wait (too few calls)", got, err)
	}
	if n := newCalls(); n != 20 {
		t.Fatalf("first check counted %v calls of version 5, want 20", n)
	}
	// Five lines stamped before the first check arrive only now.
	for i := range 5 {
		tr.call("5", e.now.Add(-2*time.Second+time.Duration(i)*time.Millisecond), true, kindHandled)
	}
	e.now = e.now.Add(15 * time.Second)
	req.Promotion.Shift = got
	if _, err := e.run(req); err == nil || !strings.Contains(message(err), "(5 errors / 25 invocations of version 5") {
		t.Fatalf("second check: %v; want the late lines counted once: 5 errors / 25 invocations", err)
	}
}

// TestFirstLook: with the log streams, the first check of a step comes
// minExtension (15 s) after its weight, not at the end of its bake — a
// broken canary's failed calls end there — and the next at the end of the
// bake, when the step can pass; other sources look at the end of the bake.
func TestFirstLook(t *testing.T) {
	logs := config.Health{FreshSignal: config.FreshSignalLogs, LogRuntime: config.LogRuntimeGo}
	blind := config.Health{FreshSignal: config.FreshSignalLogs}
	tests := []struct {
		name      string
		health    config.Health
		bake      int
		wantBegin int // begin's BakeSeconds
		// wantNext is the next bake after an inconclusive first look at
		// wantBegin seconds (0: not checked).
		wantNext int
	}{
		{name: "logs with the runtime's line, 30 s step", health: logs, bake: 30, wantBegin: 15, wantNext: 15},
		{name: "logs with the runtime's line, 300 s step", health: logs, bake: 300, wantBegin: 15, wantNext: 285},
		{name: "logs blind to handled errors still fail early", health: blind, bake: 300, wantBegin: 15, wantNext: 285},
		{name: "a step shorter than two looks", health: logs, bake: 20, wantBegin: 20},
		{name: "metrics only", health: config.Health{}, bake: 300, wantBegin: 300},
		{name: "probes stop a broken version at 0 %", health: config.Health{Probes: 10, ProbePayload: []byte(`{}`)}, bake: 30, wantBegin: 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, lg, req := logsEnv(t)
			e.lam.SetAlias(e.t, fn, "prod", "4", nil)
			e.lam.Code(fn, sandboxtest.Return("ok"))
			req.Promotion.Target.Health = tc.health
			req.Promotion.Target.ApplyDefaults()
			req.Promotion.Steps = []promotion.Step{{Weight: 0.1, BakeSeconds: tc.bake}}
			begin := req
			begin.Action, begin.Promotion.Shift, begin.Promotion.Bake = promotion.ActionBegin, nil, nil
			got, err := e.run(begin)
			if err != nil || got == nil {
				t.Fatalf("begin = %+v, %v", got, err)
			}
			if got.BakeSeconds != tc.wantBegin {
				t.Fatalf("begin's bake = %d s, want %d s", got.BakeSeconds, tc.wantBegin)
			}
			if tc.wantNext == 0 {
				return
			}
			// A few clean calls by the first look: inconclusive.
			e.lam.SetAlias(e.t, fn, "prod", "4", map[string]float64{"5": 0.1})
			e.now = e.now.Add(time.Duration(got.BakeSeconds) * time.Second)
			report(lg, e.now.Add(-time.Second), "5", 3, 0)
			report(lg, e.now.Add(-time.Second), "4", 30, 0)
			check := req
			check.Promotion.Shift = got
			next, err := e.run(check)
			if err != nil || next == nil || !next.Extend {
				t.Fatalf("first look = %+v, %v; want the step baking on", next, err)
			}
			if next.BakeSeconds != tc.wantNext {
				t.Errorf("bake after the first look = %d s, want %d s (to the end of the step's %d s)", next.BakeSeconds, tc.wantNext, tc.bake)
			}
			// A look before the bake is over that found no harm is no
			// verdict: nothing in the trail.
			wantSummary(t, e, []string{})
		})
	}
}

// TestVersionSettingsReadOncePerEnvironment (issue 19): a published
// version's settings do not change, and each GetFunctionConfiguration is a
// Lambda control-plane request (15 a second for the account); a handler
// reads each version's once, however many checks and steps ask.
func TestVersionSettingsReadOncePerEnvironment(t *testing.T) {
	tests := []struct {
		name   string
		checks int
	}{
		{name: "one check", checks: 1},
		{name: "three checks of new steps", checks: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, lg, req := logsEnv(t)
			report(lg, e.now, "5", 8, 0)
			for i := range tc.checks {
				if _, err := e.run(req); err != nil {
					t.Fatalf("check %d: %v", i+1, err)
				}
			}
			// Versions 5 and 4, once each.
			if got := e.lam.Count("GetFunctionConfiguration"); got != 2 {
				t.Errorf("GetFunctionConfiguration calls = %d after %d checks, want 2", got, tc.checks)
			}
		})
	}
}
