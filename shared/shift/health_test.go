package shift_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift"
	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
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
			e.lam.SetAlias(fn, "stg", "5", nil)
			e.lam.SetAlias(fn, "prod", "4", nil)
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

// fakeLogs answers FilterLogEvents from events per stream, honouring the
// stream prefix, the time range and the two terms of the REPORT filter.
type fakeLogs struct {
	mu      sync.Mutex
	events  map[string][]logtypes.FilteredLogEvent // by stream
	inputs  []*cloudwatchlogs.FilterLogEventsInput
	missing bool
}

func (f *fakeLogs) add(stream string, at time.Time, line string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.events == nil {
		f.events = map[string][]logtypes.FilteredLogEvent{}
	}
	f.events[stream] = append(f.events[stream], logtypes.FilteredLogEvent{LogStreamName: aws.String(stream), Timestamp: aws.Int64(at.UnixMilli()), Message: aws.String(line)})
}

func (f *fakeLogs) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	if f.missing {
		return nil, &logtypes.ResourceNotFoundException{Message: aws.String("The specified log group does not exist.")}
	}
	out := &cloudwatchlogs.FilterLogEventsOutput{}
	for stream, evs := range f.events {
		if !strings.HasPrefix(stream, aws.ToString(in.LogStreamNamePrefix)) {
			continue
		}
		for _, ev := range evs {
			ts, msg := aws.ToInt64(ev.Timestamp), aws.ToString(ev.Message)
			if ts < aws.ToInt64(in.StartTime) || ts > aws.ToInt64(in.EndTime) {
				continue
			}
			if !strings.Contains(msg, "REPORT RequestId") && !strings.Contains(msg, "platform.report") {
				continue
			}
			out.Events = append(out.Events, ev)
		}
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
	e.h = shift.New(e.lam, e.cw, e.sf, audit.New(log, e.bus, &audit.Options{Now: clock}), metrics.New(&e.emf, clock),
		&shift.Options{Log: log, Now: clock, Logs: lg})
	req.Promotion.Target.Health.FreshSignal = "logs"
	req.Promotion.Target.Health.MetricDelaySeconds = 240
	req.Promotion.Steps = []promotion.Step{{Weight: 0.1, BakeSeconds: 30}}
	req.Promotion.Shift = &promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.1, BakeSeconds: 30}
	return e, lg, req
}

// report writes n REPORT lines, failed of them with Status: error, into a
// stream of version v named as Lambda names it (YYYY/MM/DD/[v]id).
func report(lg *fakeLogs, now time.Time, v string, n, failed int) {
	stream := now.UTC().Format("2006/01/02") + "/[" + v + "]0123456789abcdef"
	for i := range n {
		line := "REPORT RequestId: r\tDuration: 3.00 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\tMax Memory Used: 32 MB"
		if i < failed {
			line += "\tStatus: error\tError Type: Runtime.ExitError"
		}
		lg.add(stream, now.Add(-time.Duration(1+i%25)*time.Second), "START RequestId: r Version: "+v)
		lg.add(stream, now.Add(-time.Duration(1+i%25)*time.Second), line)
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
			var prefixes []string
			for _, in := range lg.inputs {
				if aws.ToString(in.LogGroupName) != "/aws/lambda/hello" {
					t.Errorf("log group %s, want /aws/lambda/hello", aws.ToString(in.LogGroupName))
				}
				prefixes = append(prefixes, aws.ToString(in.LogStreamNamePrefix))
			}
			if want := "2025/06/02/[5]"; !strings.Contains(strings.Join(prefixes, " "), want) {
				t.Errorf("stream prefixes %q, want %q among them", prefixes, want)
			}
		})
	}
}

func TestCheckHealthFreshSignalMissingGroup(t *testing.T) {
	e, lg, req := logsEnv(t)
	lg.missing = true
	_, err := e.run(req)
	if err == nil || !strings.Contains(message(err), "read the log streams of version") {
		t.Fatalf("err = %v, want one naming the log streams", err)
	}
}
