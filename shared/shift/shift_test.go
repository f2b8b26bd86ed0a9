package shift_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift"
	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

var ctx = context.Background()

func TestRestoreStg(t *testing.T) {
	tests := []struct {
		name     string
		stg      string // version stg is on before; "" for no stg
		previous string
		runs     int
		wantStg  string
		want     []string
	}{
		{name: "stg on this release goes back", stg: "5", previous: "4", runs: 1, wantStg: "4", want: []string{"alias.moved stg 5>4"}},
		{name: "repeated restore moves once", stg: "5", previous: "4", runs: 2, wantStg: "4", want: []string{"alias.moved stg 5>4"}},
		{name: "newer release keeps stg", stg: "6", previous: "4", runs: 1, wantStg: "6", want: []string{}},
		{name: "no previous version leaves stg", stg: "5", previous: "", runs: 1, wantStg: "5", want: []string{}},
		{name: "missing stg is left missing", stg: "", previous: "4", runs: 1, wantStg: "-", want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.stg != "" {
				e.lam.SetAlias(e.t, fn, "stg", tc.stg, nil)
			}
			e.lam.SetAlias(e.t, fn, "prod", "4", nil)
			req := load(t, "set-weight.json")
			req.Action, req.TaskToken, req.Promotion.Shift = promotion.ActionRestoreStg, "", nil
			req.Promotion.PreviousStgVersion = tc.previous
			for range tc.runs {
				if out, err := e.run(req); err != nil || out != nil {
					t.Fatalf("Handle = %v, %v; want nil, nil", out, err)
				}
			}
			if got := e.alias("stg"); got != tc.wantStg {
				t.Errorf("stg = %s, want %s", got, tc.wantStg)
			}
			if got := e.alias("prod"); got != "4" {
				t.Errorf("prod = %s, want 4 (untouched)", got)
			}
			recs := wantSummary(t, e, tc.want)
			for _, r := range recs {
				if r.Execution != req.Execution || r.Release == nil || r.Release.Commit != "3f2a9c1" {
					t.Errorf("record %+v lacks execution or release", r)
				}
			}
		})
	}
}

func TestBegin(t *testing.T) {
	linear := request(t, promotion.ActionBegin, 0).Promotion.Steps
	tests := []struct {
		name    string
		stg     string
		prod    string
		routing map[string]float64
		steps   []promotion.Step
		want    *promotion.Shift
		wantErr string // error name; "go error" for a plain error
	}{
		{name: "linear from stable", stg: "5", prod: "4", steps: linear,
			want: &promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 300, Kind: "setWeight", Position: 0}},
		{name: "all at once has no steps", stg: "5", prod: "4", steps: []promotion.Step{},
			want: &promotion.Shift{StableVersion: "4", Weight: 1, Done: true, Kind: "finalize", Position: 0}},
		{name: "first release has no stable", stg: "5", prod: "", steps: linear,
			want: &promotion.Shift{Step: 3, Weight: 1, Done: true, Kind: "finalize", Position: 6}},
		{name: "prod already on the version", stg: "5", prod: "5", steps: linear,
			want: &promotion.Shift{StableVersion: "5", Step: 3, Weight: 1, Done: true, Kind: "finalize", Position: 6}},
		{name: "prod already weighted to this version", stg: "5", prod: "4", routing: map[string]float64{"5": 0.25}, steps: linear,
			want: &promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 300, Kind: "setWeight", Position: 0}},
		{name: "prod mid-shift for another release", stg: "5", prod: "3", routing: map[string]float64{"4": 0.5}, steps: linear,
			wantErr: promotion.ErrProdBusy},
		{name: "superseded by a newer release", stg: "6", prod: "4", steps: linear,
			wantErr: promotion.ErrSuperseded},
		{name: "superseded wins over busy", stg: "6", prod: "3", routing: map[string]float64{"4": 0.5}, steps: linear,
			wantErr: promotion.ErrSuperseded},
		{name: "stg deleted", stg: "", prod: "4", steps: linear, wantErr: promotion.ErrTaskFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.stg != "" {
				e.lam.SetAlias(e.t, fn, "stg", tc.stg, nil)
			}
			if tc.prod != "" {
				e.lam.SetAlias(e.t, fn, "prod", tc.prod, tc.routing)
			}
			prodBefore, stgBefore := e.alias("prod"), e.alias("stg")
			req := request(t, promotion.ActionBegin, 0)
			req.Promotion.Shift = nil
			req.Promotion.Steps = tc.steps
			got, err := e.run(req)
			if tc.wantErr != "" {
				wantErrorName(t, err, tc.wantErr)
			} else if err != nil {
				t.Fatalf("begin: %v", err)
			}
			if want := withProdSeen(t, e, tc.want); want != nil && (got == nil || *got != *want) {
				t.Errorf("shift = %+v, want %+v", got, want)
			}
			if e.alias("prod") != prodBefore || e.alias("stg") != stgBefore {
				t.Errorf("aliases moved: prod %s→%s, stg %s→%s", prodBefore, e.alias("prod"), stgBefore, e.alias("stg"))
			}
			wantSummary(t, e, []string{})
		})
	}
}

func TestSetWeight(t *testing.T) {
	tests := []struct {
		name     string
		step     int
		prod     string
		routing  map[string]float64
		setup    func(e *env)
		want     string
		wantErr  string
		audits   []string
		wantRuns int // UpdateAlias calls that succeeded
	}{
		{name: "first step", step: 0, prod: "4", want: "4 + 5@0.25",
			audits: []string{"traffic.shifted prod 4>5 @0.25"}, wantRuns: 1},
		{name: "next step", step: 1, prod: "4", routing: map[string]float64{"5": 0.25}, want: "4 + 5@0.5",
			audits: []string{"traffic.shifted prod 4>5 @0.5"}, wantRuns: 1},
		{name: "repeat is a no-op", step: 0, prod: "4", routing: map[string]float64{"5": 0.25}, want: "4 + 5@0.25",
			audits: []string{}, wantRuns: 0},
		{name: "stale revision is read again", step: 0, prod: "4", want: "4 + 5@0.25",
			setup: func(e *env) {
				// Someone rewrites prod (same content, new RevisionId) between our read and our write.
				e.lam.Before("UpdateAlias", func() { e.lam.SetAlias(e.t, fn, "prod", "4", nil) })
			},
			audits: []string{"traffic.shifted prod 4>5 @0.25"}, wantRuns: 1},
		{name: "alias that never settles gives up", step: 0, prod: "4", want: "4", wantErr: promotion.ErrTaskFailed,
			setup: func(e *env) {
				for range 4 {
					e.lam.Before("UpdateAlias", func() { e.lam.SetAlias(e.t, fn, "prod", "4", nil) })
				}
			},
			audits: []string{}, wantRuns: 0},
		{name: "prod moved outside the promotion", step: 0, prod: "3", want: "3", wantErr: promotion.ErrTaskFailed,
			audits: []string{}, wantRuns: 0},
		{name: "prod routes to another release", step: 0, prod: "4", routing: map[string]float64{"6": 0.1}, want: "4 + 6@0.1", wantErr: promotion.ErrTaskFailed,
			audits: []string{}, wantRuns: 0},
		{name: "rolled back outside mid-promotion", step: 1, prod: "4", want: "4", wantErr: promotion.ErrTaskFailed,
			audits: []string{}, wantRuns: 0},
		{name: "throttled update surfaces", step: 0, prod: "4", want: "4", wantErr: promotion.ErrTransient,
			setup: func(e *env) {
				e.lam.Fail("UpdateAlias", core.Errorf("TooManyRequestsException", http.StatusTooManyRequests, "Rate exceeded"))
			},
			audits: []string{}, wantRuns: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(e.t, fn, "stg", "5", nil)
			e.lam.SetAlias(e.t, fn, "prod", tc.prod, tc.routing)
			if tc.setup != nil {
				tc.setup(e)
			}
			req := request(t, promotion.ActionSetWeight, tc.step)
			out, err := e.run(req)
			wantErrorName(t, err, tc.wantErr)
			// The shift comes back with prod as the write left it (the
			// next move's precondition); nothing on an error.
			var want *promotion.Shift
			if tc.wantErr == "" {
				want = withProdSeen(t, e, req.Promotion.Shift)
			}
			if out != want && (out == nil || want == nil || *out != *want) {
				t.Errorf("set-weight returned %+v, want %+v", out, want)
			}
			if got := e.alias("prod"); got != tc.want {
				t.Errorf("prod = %s, want %s", got, tc.want)
			}
			if e.lam.Succeeded("UpdateAlias") != tc.wantRuns {
				t.Errorf("UpdateAlias succeeded %d times, want %d", e.lam.Succeeded("UpdateAlias"), tc.wantRuns)
			}
			recs := wantSummary(t, e, tc.audits)
			for _, r := range recs {
				if r.Execution == "" || r.Release == nil {
					t.Errorf("record %+v lacks execution or release", r)
				}
			}
			if tc.name == "throttled update surfaces" && !strings.Contains(fmt.Sprint(err), "TooManyRequestsException") {
				t.Errorf("error %v does not name the TooManyRequestsException", err)
			}
		})
	}
}

// healthEnv sets prod at step's weight and the metrics and alarms of kind.
// now is 09:30:20 and the metrics are taken as published a minute late, so
// they are complete through 09:29:00; the step has baked 420 s (its 300 s
// and one 120 s extension), so its exposure (09:23:20–09:28:20) is covered.
func healthEnv(t *testing.T, step int, kind string) (*env, promotion.TaskRequest) {
	t.Helper()
	e := newEnv(t)
	req := load(t, "check-health-timeout.json")
	s := req.Promotion.Steps[step]
	req.Promotion.Target.Health.MetricDelaySeconds = 60
	req.Promotion.Shift = &promotion.Shift{StableVersion: "4", Step: step, Weight: s.Weight, BakeSeconds: 120, BakedSeconds: s.BakeSeconds}
	e.lam.SetAlias(e.t, fn, "stg", "5", nil)
	e.lam.SetAlias(e.t, fn, "prod", "4", map[string]float64{"5": s.Weight})
	at := func(ago time.Duration) time.Time { return e.now.Add(-ago) }
	// Traffic before the step, and not yet published, never counts.
	e.cw.add(fn, "5", "Errors", at(20*time.Minute), 50)
	e.cw.add(fn, "5", "Invocations", at(20*time.Minute), 50)
	e.cw.add(fn, "5", "Errors", at(30*time.Second), 50)
	e.cw.add(fn, "5", "Invocations", at(30*time.Second), 50)
	// The stable version, over the same window.
	e.cw.add(fn, "4", "Invocations", at(3*time.Minute), 1000)
	e.cw.add(fn, "4", "Errors", at(3*time.Minute), 1)
	switch kind {
	case "healthy":
		e.cw.add(fn, "5", "Invocations", at(4*time.Minute), 120)
		e.cw.add(fn, "5", "Invocations", at(2*time.Minute), 80)
		e.cw.add(fn, "5", "Errors", at(2*time.Minute), 1)
	case "alarm":
		e.cw.alarms["hello-prod-errors"] = fakeAlarm{state: cwtypes.StateValueAlarm, reason: "Threshold Crossed: 1 datapoint [3.0] was greater than the threshold (1.0)."}
		e.cw.add(fn, "5", "Invocations", at(2*time.Minute), 200)
	case "composite alarm":
		req.Promotion.Target.Health.Alarms = []string{"hello-prod-health"}
		e.cw.alarms["hello-prod-health"] = fakeAlarm{composite: true, state: cwtypes.StateValueAlarm, reason: "arn:aws:cloudwatch:us-east-1:000000000000:alarm:hello-prod-errors transitioned to ALARM"}
		e.cw.add(fn, "5", "Invocations", at(2*time.Minute), 200)
	case "error rate":
		e.cw.add(fn, "5", "Invocations", at(4*time.Minute), 12)
		e.cw.add(fn, "5", "Invocations", at(2*time.Minute), 8)
		e.cw.add(fn, "5", "Errors", at(3*time.Minute), 6)
		e.cw.add(fn, "5", "Errors", at(2*time.Minute), 2)
	case "below min invocations":
		e.cw.add(fn, "5", "Invocations", at(2*time.Minute), 5)
		e.cw.add(fn, "5", "Errors", at(2*time.Minute), 5)
	case "few clean calls":
		e.cw.add(fn, "5", "Invocations", at(2*time.Minute), 5)
	case "missing alarm":
		req.Promotion.Target.Health.Alarms = append(req.Promotion.Target.Health.Alarms, "hello-prod-p99")
		e.cw.add(fn, "5", "Invocations", at(2*time.Minute), 200)
	case "insufficient data alarm":
		e.cw.alarms["hello-prod-errors"] = fakeAlarm{state: cwtypes.StateValueInsufficientData}
		e.cw.add(fn, "5", "Invocations", at(2*time.Minute), 200)
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	return e, req
}

func TestCheckHealthLinear(t *testing.T) {
	steps := request(t, promotion.ActionCheckHealth, 0).Promotion.Steps
	failures := []struct {
		kind   string
		reason string
	}{
		{"alarm", `alarm "hello-prod-errors" is in ALARM (Threshold Crossed`},
		{"composite alarm", `composite alarm "hello-prod-health" is in ALARM`},
		{"error rate", "metrics: error rate 40% (8 errors / 20 invocations of version 5, 09:23:00–09:29:00) is significantly above the limit 5.1%"},
		{"missing alarm", `alarm "hello-prod-p99" does not exist`},
	}
	for step := range steps {
		for _, f := range failures {
			t.Run(f.kind+" at step "+string(rune('1'+step)), func(t *testing.T) {
				e, req := healthEnv(t, step, f.kind)
				weight := steps[step].Weight
				out, err := e.run(req)
				wantErrorName(t, err, promotion.ErrHealthCheckFailed)
				if out != nil {
					t.Errorf("shift = %+v on failure, want nil", out)
				}
				wantContains(t, "error", message(err), f.reason)
				recs := wantSummary(t, e, []string{"health.failed prod 4>5 @" + trim(weight)})
				wantContains(t, "health.failed reason", recs[0].Reason, f.reason)
				if recs[0].Verdict == nil || recs[0].Verdict.Outcome != "unhealthy" || len(recs[0].Verdict.Sources) == 0 {
					t.Errorf("health.failed verdict = %+v, want the evidence", recs[0].Verdict)
				}

				// The definition's Catch puts the error at $.failure and rolls back.
				req.Action = promotion.ActionRollback
				req.Promotion.Failure = &promotion.Failure{Error: promotion.ErrHealthCheckFailed,
					Cause: `{"errorMessage":` + quote(message(err)) + `,"errorType":"aliasflow.HealthCheckFailed"}`}
				if _, err := e.run(req); err != nil {
					t.Fatalf("rollback: %v", err)
				}
				if got := e.alias("prod"); got != "4" {
					t.Errorf("prod after rollback = %s, want 4", got)
				}
				recs = wantSummary(t, e, []string{"health.failed prod 4>5 @" + trim(weight), "alias.moved prod 5>4 @0", "promotion.rolled_back prod 5>4"})
				wantContains(t, "rolled_back reason", recs[2].Reason, "aliasflow.HealthCheckFailed: version 5 of hello is unhealthy at "+trim(weight*100)+"%: "+f.reason)
				wantFlushed(t, e, 2)
			})
		}
		for _, kind := range []string{"healthy", "insufficient data alarm"} {
			t.Run(kind+" at step "+string(rune('1'+step)), func(t *testing.T) {
				e, req := healthEnv(t, step, kind)
				got, err := e.run(req)
				if err != nil {
					t.Fatalf("check-health: %v", err)
				}
				want := promotion.Shift{StableVersion: "4", Step: step + 1, Weight: 1, Done: true, Kind: "finalize", Position: 2 * len(steps)}
				if step+1 < len(steps) {
					want = promotion.Shift{StableVersion: "4", Step: step + 1, Weight: steps[step+1].Weight, BakeSeconds: steps[step+1].BakeSeconds,
						Kind: "setWeight", Position: 2 * (step + 1)}
				}
				got = withoutVerdict(t, got)
				if got == nil || *got != want {
					t.Errorf("shift = %+v, want %+v", got, want)
				}
				recs := wantSummary(t, e, []string{"health.passed prod 4>5 @" + trim(steps[step].Weight)})
				if v := recs[0].Verdict; v == nil || v.DecidedBy != "metrics" || v.Sources[0].NewInvocations != 200 || v.Sources[0].StableInvocations != 1000 {
					t.Errorf("health.passed verdict = %+v, want decided by the metrics of 200 and 1000 calls", v)
				}
				if e.alias("prod") != "4 + 5@"+trim(steps[step].Weight) {
					t.Errorf("prod = %s; check-health must not move it", e.alias("prod"))
				}
			})
		}
	}
}

// TestCheckHealthInconclusive: too little data keeps the step baking at
// its weight, up to health.maxBakeSeconds; then the default rolls back and
// "promote" goes on.
func TestCheckHealthInconclusive(t *testing.T) {
	tests := []struct {
		name, policy string
		baked        int
		clean        bool // the few calls seen did not fail
		want         *promotion.Shift
		wantErr      string
		wantRecord   string
	}{
		// On the metrics alone, until the next minute is published
		// (now 09:30:20, 240 s late: the minute from 09:26 is readable at 09:31:00).
		{name: "too little data extends the bake", baked: 300,
			want:       &promotion.Shift{StableVersion: "4", Step: 0, Weight: 0.25, BakeSeconds: 41, BakedSeconds: 420, Extend: true, Extensions: 1, Kind: "analysis", Position: 1},
			wantRecord: "health.inconclusive prod 4>5 @0.25"},
		{name: "still inconclusive at the maximum rolls back", baked: 780, wantErr: "could not be judged at 25% after 900s (health.maxBakeSeconds): metrics: 5 invocations of version 5 yet, 10 needed",
			wantRecord: "health.failed prod 4>5 @0.25"},
		{name: "still inconclusive at the maximum, policy promote", policy: "promote", baked: 780, clean: true,
			want:       &promotion.Shift{StableVersion: "4", Step: 1, Weight: 0.5, BakeSeconds: 300, Kind: "setWeight", Position: 2},
			wantRecord: "health.inconclusive prod 4>5 @0.25"},
		{name: "policy promote never goes on against the evidence", policy: "promote", baked: 780,
			wantErr:    "could not be judged at 25% after 900s",
			wantRecord: "health.failed prod 4>5 @0.25"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind := "below min invocations"
			if tc.clean {
				kind = "few clean calls"
			}
			e, req := healthEnv(t, 0, kind)
			req.Promotion.Target.Health.OnInconclusive = tc.policy
			req.Promotion.Target.Health.MaxBakeSeconds = 900
			req.Promotion.Shift.BakedSeconds = tc.baked
			got, err := e.run(req)
			got = withoutVerdict(t, got)
			if tc.wantErr != "" {
				wantErrorName(t, err, promotion.ErrHealthCheckFailed)
				wantContains(t, "error", message(err), tc.wantErr)
			} else if err != nil || got == nil || *got != *tc.want {
				t.Errorf("shift = %+v, %v; want %+v", got, err, tc.want)
			}
			recs := wantSummary(t, e, []string{tc.wantRecord})
			if v := recs[0].Verdict; v == nil || v.Outcome == "healthy" {
				t.Errorf("verdict = %+v; too little data is never healthy", v)
			}
		})
	}
}

func TestCheckHealthQuery(t *testing.T) {
	tests := []struct {
		name       string
		pageSize   int
		wantStart  time.Time
		wantEnd    time.Time
		wantFailed bool
	}{
		// now is 09:30:20; the step began 420 s ago, the metrics are
		// complete through 09:29:00, and the window runs to the end of the
		// last minute that has ended (09:30:00), whose datapoints count
		// once CloudWatch publishes them.
		{name: "the step's exposure is the window", wantStart: time.Date(2025, 6, 2, 9, 23, 0, 0, time.UTC), wantEnd: time.Date(2025, 6, 2, 9, 30, 0, 0, time.UTC), wantFailed: true},
		{name: "datapoints over several pages are summed", pageSize: 1, wantStart: time.Date(2025, 6, 2, 9, 23, 0, 0, time.UTC), wantEnd: time.Date(2025, 6, 2, 9, 30, 0, 0, time.UTC), wantFailed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, req := healthEnv(t, 0, "error rate")
			e.cw.pageSize = tc.pageSize
			_, err := e.run(req)
			if got := errorName(err) == promotion.ErrHealthCheckFailed; got != tc.wantFailed {
				t.Fatalf("failed = %v (%v), want %v", got, err, tc.wantFailed)
			}
			if len(e.cw.inputs) == 0 {
				t.Fatal("GetMetricData was not called")
			}
			in := e.cw.inputs[0]
			if !aws.ToTime(in.StartTime).Equal(tc.wantStart) || !aws.ToTime(in.EndTime).Equal(tc.wantEnd) {
				t.Errorf("window = %s–%s, want %s–%s", aws.ToTime(in.StartTime), aws.ToTime(in.EndTime), tc.wantStart, tc.wantEnd)
			}
			for _, q := range in.MetricDataQueries {
				ms := q.MetricStat
				dims := map[string]string{}
				for _, d := range ms.Metric.Dimensions {
					dims[aws.ToString(d.Name)] = aws.ToString(d.Value)
				}
				wantVersion := "5"
				if strings.HasPrefix(aws.ToString(q.Id), "stable") {
					wantVersion = "4"
				}
				if aws.ToInt32(ms.Period) != 60 || aws.ToString(ms.Stat) != "Sum" || aws.ToString(ms.Metric.Namespace) != "AWS/Lambda" ||
					dims["FunctionName"] != "hello" || dims["Resource"] != "hello:prod" || dims["ExecutedVersion"] != wantVersion || len(dims) != 3 {
					t.Errorf("query %s = period %d stat %s namespace %s dims %v", aws.ToString(q.Id), aws.ToInt32(ms.Period), aws.ToString(ms.Stat), aws.ToString(ms.Metric.Namespace), dims)
				}
			}
			if tc.pageSize > 0 && len(e.cw.inputs) < 2 {
				t.Errorf("GetMetricData called %d times, want the pages followed", len(e.cw.inputs))
			}
		})
	}
}

// TestMetricsPublishedEarly: CloudWatch often publishes a minute sooner
// than the health.metricDelaySeconds a target assumes. A published minute
// showing harm fails the step at once (the metrics-only rollback within
// the delay + 60 s); datapoints younger than the delay may be incomplete,
// so they never make a step pass before the complete minutes cover it.
func TestMetricsPublishedEarly(t *testing.T) {
	tests := []struct {
		name string
		kind string
		// delay is how late CloudWatch publishes; delaySeconds the target's
		// health.metricDelaySeconds.
		delay        time.Duration
		delaySeconds int
		wantFailed   string
		wantWaits    string
	}{
		{name: "a failing minute published sooner than the delay rolls back", kind: "below min invocations", delay: 10 * time.Second, delaySeconds: 60,
			wantFailed: "metrics: error rate 100% (55 errors / 55 invocations of version 5, 09:23:00–09:30:00) is significantly above the limit"},
		{name: "a failing minute not yet published waits", kind: "below min invocations", delay: 30 * time.Second, delaySeconds: 60,
			wantWaits: "metrics: 5 invocations of version 5 yet"},
		{name: "clean early minutes never pass a step the complete ones do not cover", kind: "healthy", delay: 30 * time.Second, delaySeconds: 180,
			wantWaits: "metrics: complete only through 09:27:00, the step's exposure runs to 09:28:20"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, req := healthEnv(t, 0, tc.kind)
			e.cw.delay = tc.delay
			req.Promotion.Target.Health.MetricDelaySeconds = tc.delaySeconds
			req.Promotion.Target.Health.MaxBakeSeconds = 900
			got, err := e.run(req)
			if tc.wantFailed != "" {
				wantErrorName(t, err, promotion.ErrHealthCheckFailed)
				wantContains(t, "error", message(err), tc.wantFailed)
				return
			}
			if err != nil || got == nil || !got.Extend {
				t.Fatalf("shift = %+v, %v; want the step baking again", got, err)
			}
			wantContains(t, "verdict", got.Verdict, tc.wantWaits)
		})
	}
}

// TestPromoteNow: an operator's promote has Argo Rollouts' meaning. Plain
// `promote` goes past the current step only — the next weight is set and
// its analysis still judges it; `promote --full` skips every remaining
// step, accepting an inconclusive verdict. Neither lets an unhealthy
// version through.
func TestPromoteNow(t *testing.T) {
	tests := []struct {
		name    string
		kind    string
		step    int
		full    bool
		want    *promotion.Shift
		wantErr string
		audits  []string
	}{
		{name: "promote goes to the next step only", kind: "healthy", want: &promotion.Shift{StableVersion: "4", Step: 1, Weight: 0.5, BakeSeconds: 300, Kind: "setWeight", Position: 2},
			audits: []string{"bake.skipped prod 4>5 @0.25", "health.passed prod 4>5 @0.25"}},
		{name: "promote on inconclusive evidence goes to the next step only", kind: "few clean calls", want: &promotion.Shift{StableVersion: "4", Step: 1, Weight: 0.5, BakeSeconds: 300, Kind: "setWeight", Position: 2},
			audits: []string{"bake.skipped prod 4>5 @0.25", "health.inconclusive prod 4>5 @0.25"}},
		{name: "promote on the last step finalizes", kind: "healthy", step: 2, want: &promotion.Shift{StableVersion: "4", Step: 3, Weight: 1, Done: true, Kind: "finalize", Position: 6},
			audits: []string{"bake.skipped prod 4>5 @0.75", "health.passed prod 4>5 @0.75"}},
		{name: "promote --full skips the remaining steps", kind: "healthy", full: true, want: &promotion.Shift{StableVersion: "4", Step: 3, Weight: 1, Done: true, Kind: "finalize", Position: 6},
			audits: []string{"bake.skipped prod 4>5 @0.25", "health.passed prod 4>5 @0.25"}},
		{name: "promote --full accepts an inconclusive verdict", kind: "few clean calls", full: true, want: &promotion.Shift{StableVersion: "4", Step: 3, Weight: 1, Done: true, Kind: "finalize", Position: 6},
			audits: []string{"bake.skipped prod 4>5 @0.25", "health.inconclusive prod 4>5 @0.25"}},
		{name: "unhealthy still rolls back", kind: "alarm", wantErr: promotion.ErrHealthCheckFailed,
			audits: []string{"bake.skipped prod 4>5 @0.25", "health.failed prod 4>5 @0.25"}},
		{name: "unhealthy still rolls back under --full", kind: "alarm", full: true, wantErr: promotion.ErrHealthCheckFailed,
			audits: []string{"bake.skipped prod 4>5 @0.25", "health.failed prod 4>5 @0.25"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, req := healthEnv(t, tc.step, tc.kind)
			req.Promotion.Bake = &promotion.Bake{PromoteNow: true, Full: tc.full, Actor: "alice@example.com"}
			got, err := e.run(req)
			wantErrorName(t, err, tc.wantErr)
			got = withoutVerdict(t, got)
			if tc.want != nil && (got == nil || *got != *tc.want) {
				t.Errorf("shift = %+v, want %+v", got, tc.want)
			}
			// promote --now is a human override: audited with who did it.
			recs := wantSummary(t, e, tc.audits)
			if len(recs) == 0 || recs[0].Actor != "alice@example.com" {
				t.Errorf("bake.skipped record = %+v; want alice@example.com as actor", recs)
			}
			says := "past this step only"
			if tc.full {
				says = "every remaining step skipped, an inconclusive verdict accepted"
			}
			if len(recs) > 0 {
				wantContains(t, "bake.skipped reason", recs[0].Reason, says)
			}
		})
	}
}

func TestFinalize(t *testing.T) {
	tests := []struct {
		name    string
		stable  string
		prod    string
		routing map[string]float64
		steps   []promotion.Step
		race    bool
		want    string
		wantErr string
		audits  []string
	}{
		{name: "clears routing after the last step", stable: "4", prod: "4", routing: map[string]float64{"5": 0.75}, want: "5",
			audits: []string{"alias.moved prod 4>5", "promotion.completed prod 4>5"}},
		{name: "all at once", stable: "4", prod: "4", steps: []promotion.Step{}, want: "5",
			audits: []string{"alias.moved prod 4>5", "promotion.completed prod 4>5"}},
		{name: "first release creates prod", stable: "", prod: "", want: "5",
			audits: []string{"alias.moved prod >5", "promotion.completed prod >5"}},
		{name: "already on the version", stable: "5", prod: "5", want: "5",
			audits: []string{"promotion.completed prod 5>5"}},
		{name: "stale revision is read again", stable: "4", prod: "4", routing: map[string]float64{"5": 0.5}, race: true, want: "5",
			audits: []string{"alias.moved prod 4>5", "promotion.completed prod 4>5"}},
		{name: "prod moved outside the promotion", stable: "4", prod: "6", want: "6", wantErr: promotion.ErrTaskFailed, audits: []string{}},
		{name: "rolled back outside mid-promotion", stable: "4", prod: "4", want: "4", wantErr: promotion.ErrTaskFailed, audits: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(e.t, fn, "stg", "5", nil)
			if tc.prod != "" {
				e.lam.SetAlias(e.t, fn, "prod", tc.prod, tc.routing)
			}
			if tc.race {
				e.lam.Before("UpdateAlias", func() { e.lam.SetAlias(e.t, fn, "prod", tc.prod, tc.routing) })
			}
			req := request(t, promotion.ActionFinalize, 2)
			req.Promotion.Shift = &promotion.Shift{StableVersion: tc.stable, Step: 3, Weight: 1, Done: true}
			if tc.steps != nil {
				req.Promotion.Steps = tc.steps
			}
			e.now = req.StartTime.Add(47 * time.Minute)
			_, err := e.run(req)
			wantErrorName(t, err, tc.wantErr)
			if got := e.alias("prod"); got != tc.want {
				t.Errorf("prod = %s, want %s", got, tc.want)
			}
			wantSummary(t, e, tc.audits)
			m := e.metricsOut(t)
			if tc.wantErr == "" && (m[metrics.PromotionsCompleted] != 1 || m[metrics.LeadTime] != 47*60) {
				t.Errorf("metrics = %v, want 1 completed with lead time 2820 s", m)
			}
			if tc.wantErr != "" && len(m) != 0 {
				t.Errorf("metrics = %v on failure, want none", m)
			}
		})
	}
}

func TestRollback(t *testing.T) {
	tests := []struct {
		name      string
		payload   string
		stable    *string // overrides shift.stableVersion when set
		prod      string
		routing   map[string]float64
		runs      int
		want      string
		wantErr   string
		audits    []string
		actor     string
		reason    string
		rolledBak float64
	}{
		{name: "from a weighted prod", payload: "rollback-after-health.json", prod: "4", routing: map[string]float64{"5": 0.5}, runs: 1, want: "4",
			audits: []string{"alias.moved prod 5>4 @0", "promotion.rolled_back prod 5>4"}, actor: "aliasflow",
			reason: `aliasflow.HealthCheckFailed: version 5 of hello is unhealthy at 50%: alarm "hello-prod-errors" is in ALARM`, rolledBak: 1},
		{name: "after a failed finalize", payload: "rollback-after-health.json", prod: "5", runs: 1, want: "4",
			audits: []string{"alias.moved prod 5>4", "promotion.rolled_back prod 5>4"}, actor: "aliasflow", rolledBak: 1},
		{name: "repeated rollback moves once", payload: "rollback-after-health.json", prod: "4", routing: map[string]float64{"5": 0.25}, runs: 2, want: "4",
			audits: []string{"alias.moved prod 5>4 @0", "promotion.rolled_back prod 5>4", "promotion.rolled_back prod 5>4"}, actor: "aliasflow", rolledBak: 2},
		{name: "first release only loses routing", payload: "rollback-after-health.json", stable: aws.String(""), prod: "3", routing: map[string]float64{"5": 0.1}, runs: 1, want: "3",
			audits: []string{"alias.moved prod 5>3 @0", "promotion.rolled_back prod 5>3"}, actor: "aliasflow", rolledBak: 1},
		{name: "no prod at all", payload: "rollback-after-health.json", prod: "", runs: 1, want: "-",
			audits: []string{"promotion.rolled_back prod 5>4"}, actor: "aliasflow", rolledBak: 1},
		{name: "foreign prod is left alone", payload: "rollback-after-health.json", prod: "6", runs: 1, want: "6", wantErr: promotion.ErrTaskFailed,
			audits: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(e.t, fn, "stg", "5", nil)
			if tc.prod != "" {
				e.lam.SetAlias(e.t, fn, "prod", tc.prod, tc.routing)
			}
			req := load(t, tc.payload)
			if tc.stable != nil {
				req.Promotion.Shift.StableVersion = *tc.stable
			}
			var err error
			for range tc.runs {
				_, err = e.run(req)
			}
			wantErrorName(t, err, tc.wantErr)
			if got := e.alias("prod"); got != tc.want {
				t.Errorf("prod = %s, want %s", got, tc.want)
			}
			recs := wantSummary(t, e, tc.audits)
			for _, r := range recs {
				if r.Actor != tc.actor {
					t.Errorf("%s actor = %q, want %q", r.Event, r.Actor, tc.actor)
				}
				if r.Event == audit.PromotionRolledBack && tc.reason != "" && r.Reason != tc.reason {
					t.Errorf("reason = %q, want %q", r.Reason, tc.reason)
				}
			}
			if got := e.metricsOut(t)[metrics.PromotionsRolledBack]; got != tc.rolledBak {
				t.Errorf("PromotionsRolledBack = %v, want %v", got, tc.rolledBak)
			}
			wantFlushed(t, e, map[bool]int{true: tc.runs, false: 0}[len(tc.audits) > 0])
		})
	}
}

func TestAbort(t *testing.T) {
	tests := []struct {
		name    string
		failure *promotion.Failure
		want    []string
		reason  string
	}{
		{name: "superseded", failure: &promotion.Failure{Error: promotion.ErrSuperseded,
			Cause: `{"errorMessage":"stg of hello is on version 6, not 5: a newer release superseded this one","errorType":"aliasflow.Superseded"}`},
			want: []string{"promotion.superseded prod >5"}, reason: "aliasflow.Superseded: stg of hello is on version 6, not 5: a newer release superseded this one"},
		{name: "approval task failed", failure: &promotion.Failure{Error: "Lambda.Unknown", Cause: "The cause could not be determined because Lambda did not return an error type."},
			want: []string{"promotion.aborted prod >5"}, reason: "Lambda.Unknown: The cause could not be determined because Lambda did not return an error type."},
		// "No failure recorded" cannot be scheduled: the definition reaches
		// Abort only through a Catch, which always records $.failure.
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(e.t, fn, "stg", "6", nil)
			e.lam.SetAlias(e.t, fn, "prod", "3", map[string]float64{"4": 0.5})
			req := request(t, promotion.ActionAbort, 0)
			req.Promotion.Shift, req.Promotion.Failure = nil, tc.failure
			if _, err := e.run(req); err != nil {
				t.Fatalf("abort: %v", err)
			}
			if n := e.lam.Count("GetAlias"); n != 0 {
				t.Errorf("abort read aliases %d times, want none", n)
			}
			if got := e.alias("prod"); got != "3 + 4@0.5" {
				t.Errorf("prod = %s, want it untouched", got)
			}
			recs := wantSummary(t, e, tc.want)
			if len(recs) == 1 && recs[0].Reason != tc.reason {
				t.Errorf("reason = %q, want %q", recs[0].Reason, tc.reason)
			}
			wantFlushed(t, e, 1)
		})
	}
}

func TestInvalidInput(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *promotion.TaskRequest)
		want   string
	}{
		{"unknown action", func(r *promotion.TaskRequest) { r.Action = "promote" }, `unknown action "promote"`},
		{"missing action", func(r *promotion.TaskRequest) { r.Action = "" }, "action is missing"},
		{"missing function", func(r *promotion.TaskRequest) { r.Promotion.Function = "" }, "promotion.function"},
		{"function ARN", func(r *promotion.TaskRequest) {
			r.Promotion.Function = "arn:aws:lambda:us-east-1:000000000000:function:hello"
		}, "not an ARN"},
		{"missing version", func(r *promotion.TaskRequest) { r.Promotion.Version = "" }, "promotion.version"},
		{"$LATEST version", func(r *promotion.TaskRequest) { r.Promotion.Version = "$LATEST" }, "promotion.version"},
		{"stable $LATEST", func(r *promotion.TaskRequest) { r.Promotion.Shift.StableVersion = "$LATEST" }, "stableVersion"},
		// "Missing shift" cannot be scheduled: BeginShift's ResultSelector
		// fails the execution (States.Runtime) when the shift function
		// answers no shift, so SetWeight never runs without one.
		{"step out of range", func(r *promotion.TaskRequest) { r.Promotion.Shift.Step = 3 }, "outside the 3 steps"},
		{"full weight", func(r *promotion.TaskRequest) { r.Promotion.Shift.Weight = 1 }, "between 0 and 1"},
		{"stable is the new version", func(r *promotion.TaskRequest) { r.Promotion.Shift.StableVersion = "5" }, "nothing to shift"},
		{"bad step weight", func(r *promotion.TaskRequest) { r.Promotion.Steps[1].Weight = 25 }, "setWeight.weight 25 must be between 0 and 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(e.t, fn, "stg", "5", nil)
			e.lam.SetAlias(e.t, fn, "prod", "4", nil)
			req := request(t, promotion.ActionSetWeight, 0)
			tc.mutate(&req)
			_, err := e.run(req)
			wantErrorName(t, err, promotion.ErrInvalidInput)
			wantContains(t, "error", message(err), tc.want)
			if e.alias("prod") != "4" || e.alias("stg") != "5" {
				t.Errorf("aliases moved on bad input: prod %s stg %s", e.alias("prod"), e.alias("stg"))
			}
			wantSummary(t, e, []string{})
		})
	}
}

func TestServiceErrorsSurface(t *testing.T) {
	throttled := func() *core.APIError {
		return core.Errorf("TooManyRequestsException", http.StatusTooManyRequests, "Rate exceeded")
	}
	tests := []struct {
		name   string
		action string
		setup  func(e *env)
	}{
		{"begin reading stg", promotion.ActionBegin, func(e *env) { e.lam.Fail("GetAlias", throttled()) }},
		{"restore-stg reading stg", promotion.ActionRestoreStg, func(e *env) { e.lam.Fail("GetAlias", throttled()) }},
		{"finalize writing prod", promotion.ActionFinalize, func(e *env) { e.lam.Fail("UpdateAlias", throttled()) }},
		{"rollback writing prod", promotion.ActionRollback, func(e *env) { e.lam.Fail("UpdateAlias", throttled()) }},
		// A throttled check-health bakes again instead while the step may:
		// TestThrottledEvidenceIsNeverAVerdict.
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.lam.SetAlias(e.t, fn, "stg", "5", nil)
			e.lam.SetAlias(e.t, fn, "prod", "4", map[string]float64{"5": 0.25})
			tc.setup(e)
			req := request(t, tc.action, 0)
			_, err := e.run(req)
			// Named transient so the definition retries the task; not a
			// health failure, not bad input.
			wantErrorName(t, err, promotion.ErrTransient)
			if got := e.alias("prod"); got != "4 + 5@0.25" {
				t.Errorf("prod = %s, want it untouched", got)
			}
			wantSummary(t, e, []string{})
		})
	}
}

// TestLinearPromotion walks a whole linear promotion the way the definition
// does: begin, then set-weight, bakes and check-health per step (a step
// whose metrics are not yet published bakes again at the same weight, as
// MoreSteps' extend branch does), then finalize. The clock moves with the
// bakes and the new version serves 200 calls a minute.
func TestLinearPromotion(t *testing.T) {
	e, _ := healthEnv(t, 0, "healthy")
	e.lam.SetAlias(e.t, fn, "prod", "4", nil)
	state := request(t, promotion.ActionBegin, 0).Promotion
	state.Target.Health.MetricDelaySeconds = 60
	state.Shift = nil
	run := func(action string) *promotion.Shift {
		t.Helper()
		out, err := e.run(promotion.TaskRequest{Action: action, Execution: "arn:aws:states:us-east-1:000000000000:execution:aliasflow-promotion:hello-v5-9f86d081", Promotion: state})
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		return out
	}
	bake := func(seconds int) {
		for range seconds / 60 {
			e.now = e.now.Add(time.Minute)
			e.cw.add(fn, "5", "Invocations", e.now, 200)
		}
		e.now = e.now.Add(time.Duration(seconds%60) * time.Second)
	}
	state.Shift = run(promotion.ActionBegin)
	var seen []string
	extensions := 0
	for !state.Shift.Done {
		if state.Shift.Extend {
			extensions++
		} else {
			run(promotion.ActionSetWeight)
			seen = append(seen, e.alias("prod"))
		}
		bake(state.Shift.BakeSeconds)
		state.Bake = &promotion.Bake{Error: "States.Timeout"}
		state.Shift = run(promotion.ActionCheckHealth)
	}
	run(promotion.ActionFinalize)
	if want := []string{"4 + 5@0.25", "4 + 5@0.5", "4 + 5@0.75"}; !slices.Equal(seen, want) {
		t.Errorf("prod passed through %q, want %q", seen, want)
	}
	if extensions != 6 {
		// Each step ends at :20 past a minute; that minute is published a
		// minute after it ends, 100 s later: a 60 s and a 41 s extension.
		t.Errorf("%d extensions, want two per step (the last minute of each step is published a minute late)", extensions)
	}
	if got := e.alias("prod"); got != "5" {
		t.Errorf("prod = %s, want 5", got)
	}
	var moves []string
	for _, line := range summary(e.audits(t)) {
		if !strings.HasPrefix(line, "health.") {
			moves = append(moves, line)
		}
	}
	if want := []string{"traffic.shifted prod 4>5 @0.25", "traffic.shifted prod 4>5 @0.5", "traffic.shifted prod 4>5 @0.75",
		"alias.moved prod 4>5", "promotion.completed prod 4>5"}; !slices.Equal(moves, want) {
		t.Errorf("alias records %q, want %q", moves, want)
	}
}

// TestBakeMovesNothing: the Bake state's task only waits on its token; a
// late or repeated call must not touch prod or write an audit record.
func TestBakeMovesNothing(t *testing.T) {
	e := newEnv(t)
	e.lam.SetAlias(e.t, fn, "stg", "5", nil)
	e.lam.SetAlias(e.t, fn, "prod", "4", map[string]float64{"5": 0.25})
	for i := 0; i < 2; i++ {
		out, err := e.run(request(t, promotion.ActionBake, 0))
		if err != nil || out != nil {
			t.Fatalf("bake = %v, %v; want nil, nil", out, err)
		}
	}
	if got := e.alias("prod"); got != "4 + 5@0.25" {
		t.Errorf("prod = %s, want it untouched", got)
	}
	if e.lam.Succeeded("UpdateAlias") != 0 {
		t.Errorf("bake updated an alias %d times", e.lam.Succeeded("UpdateAlias"))
	}
	wantSummary(t, e, []string{})
}

// TestBeginRefusesVersionsThatCannotShareAWeightedAlias: "Both versions
// must have the same execution role … the same dead-letter queue
// configuration" (Lambda aliases). Begin refuses a gradual shift between
// such versions before any traffic moves, with a reason that names the
// difference — or, with strategy.fallbackAllAtOnce, goes straight to
// Finalize. All-at-once never needs the check.
func TestBeginRefusesVersionsThatCannotShareAWeightedAlias(t *testing.T) {
	const otherRole = "arn:aws:iam::000000000000:role/hello-v2"
	// helloRole is the role sandboxtest.Lambda.AddFunction gives hello.
	const helloRole = "arn:aws:iam::000000000000:role/" + fn
	const dlq = "arn:aws:sqs:us-east-1:000000000000:hello-dlq"
	tests := []struct {
		name      string
		role, dlq string
		fallback  bool
		allAtOnce bool
		wantErr   string
		wantWhy   string
		want      *promotion.Shift
	}{
		{name: "same role and no DLQ", role: helloRole, want: &promotion.Shift{StableVersion: "4", Weight: 0.25, BakeSeconds: 300, Kind: "setWeight"}},
		{name: "execution role changed", role: otherRole, wantErr: promotion.ErrCannotWeight, wantWhy: "execution roles differ"},
		{name: "dead-letter queue added", role: helloRole, dlq: dlq, wantErr: promotion.ErrCannotWeight, wantWhy: "dead-letter queues differ"},
		{name: "role changed, fallback to all at once", role: otherRole, fallback: true, want: &promotion.Shift{StableVersion: "4", Step: 3, Weight: 1, Done: true, Kind: "finalize", Position: 6}},
		{name: "role changed, all at once anyway", role: otherRole, allAtOnce: true, want: &promotion.Shift{StableVersion: "4", Weight: 1, Done: true, Kind: "finalize"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			n := e.publish() // 7
			// The sandbox's Lambda has no UpdateFunctionConfiguration: the
			// new version's configuration is answered as Lambda would
			// after one.
			e.lambda = versionConfig{Lambda: e.lam.Client, version: n, role: tc.role, dlq: tc.dlq}
			e.verifyOn(e.sf)
			e.lam.SetAlias(e.t, fn, "stg", n, nil)
			e.lam.SetAlias(e.t, fn, "prod", "4", nil)
			req := request(t, promotion.ActionBegin, 0)
			req.Promotion.Shift = nil
			req.Promotion.Version = n
			req.Promotion.Target.Strategy.FallbackAllAtOnce = tc.fallback
			if tc.allAtOnce {
				req.Promotion.Steps = []promotion.Step{}
			}
			got, err := e.run(req)
			if tc.wantErr != "" {
				wantErrorName(t, err, tc.wantErr)
				wantContains(t, "error", message(err), tc.wantWhy)
			} else if err != nil {
				t.Fatalf("begin: %v", err)
			}
			if want := withProdSeen(t, e, tc.want); want != nil && (got == nil || *got != *want) {
				t.Errorf("shift = %+v, want %+v", got, want)
			}
			if e.alias("prod") != "4" || e.alias("stg") != n {
				t.Errorf("aliases moved: prod %s, stg %s", e.alias("prod"), e.alias("stg"))
			}
			wantSummary(t, e, []string{})
		})
	}
}

// withProdSeen is want with Shift.Prod as the fake's prod is now (its
// routing and RevisionId), as begin and set-weight return it; nil for nil.
func withProdSeen(t *testing.T, e *env, want *promotion.Shift) *promotion.Shift {
	t.Helper()
	if want == nil {
		return nil
	}
	w := *want
	if a, ok := e.lam.Alias(t, fn, "prod"); ok {
		var weights map[string]float64
		if a.RoutingConfig != nil && len(a.RoutingConfig.AdditionalVersionWeights) > 0 {
			weights = a.RoutingConfig.AdditionalVersionWeights
		}
		b, err := json.Marshal(struct {
			Version  string             `json:"version"`
			Weights  map[string]float64 `json:"weights,omitempty"`
			Revision string             `json:"revision"`
		}{aws.ToString(a.FunctionVersion), weights, aws.ToString(a.RevisionId)})
		if err != nil {
			t.Fatal(err)
		}
		w.Prod = string(b)
	}
	return &w
}

// withoutVerdict checks a check-health result explains itself and returns
// it without the explanation, for comparing the rest.
func withoutVerdict(t *testing.T, got *promotion.Shift) *promotion.Shift {
	t.Helper()
	if got == nil {
		return nil
	}
	if !strings.Contains(got.Verdict, ": ") {
		t.Errorf("shift verdict = %q, want the outcome and its evidence", got.Verdict)
	}
	c := *got
	c.Verdict = ""
	return &c
}

// versionConfig answers GetFunctionConfiguration of one version with an
// execution role and a dead-letter queue, as Lambda does for a version
// published after UpdateFunctionConfiguration set them.
type versionConfig struct {
	shift.Lambda
	version, role, dlq string
}

func (c versionConfig) GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error) {
	out, err := c.Lambda.GetFunctionConfiguration(ctx, in, opts...)
	if err == nil && aws.ToString(in.Qualifier) == c.version {
		out.Role = aws.String(c.role)
		if c.dlq != "" {
			out.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String(c.dlq)}
		}
	}
	return out, err
}
