package main

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// TestCodeDeployExposure: Canary10Percent5Minutes serves 10 % for five
// minutes, then everything, until its alarm fires; the alarm fires once
// the shift's minute is published.
func TestCodeDeployExposure(t *testing.T) {
	tests := []struct {
		name          string
		offset, delay time.Duration
		want          float64 // traffic-weighted seconds
	}{
		{name: "shift at the minute's start, 3 min delay: 240 s at 10 %", delay: 3 * time.Minute, want: 24},
		{name: "shift late in the minute: 181 s at 10 %", offset: 59 * time.Second, delay: 3 * time.Minute, want: 18.1},
		{name: "a delay past the 5-minute canary: 100 % after it", delay: 6 * time.Minute, want: 30 + 120},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := codeDeployExposure(codeDeployAlarmAt(tc.offset, tc.delay)); got < tc.want-1e-9 || got > tc.want+1e-9 {
				t.Errorf("exposure = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSimAlarmAndP99: the simulated alarm is the error rate of every
// version in the last published minute (0 below 100 calls); the p99
// Duration is the minute's.
func TestSimAlarmAndP99(t *testing.T) {
	minute := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	durations := make([]float64, 100)
	for i := range durations {
		durations[i] = float64(100 - i)
	}
	tests := []struct {
		name      string
		now       time.Time
		errors    float64
		threshold float64
		calls     float64 // of version 1; 100 when 0
		want      cwtypes.StateValue
	}{
		// 110 calls a minute (100 of version 1, 10 of version 2).
		{name: "rate at the threshold, published", now: minute.Add(4 * time.Minute), errors: 11, threshold: 0.1, want: cwtypes.StateValueAlarm},
		{name: "below the threshold", now: minute.Add(4 * time.Minute), errors: 5, threshold: 0.05, want: cwtypes.StateValueOk},
		{name: "not yet published", now: minute.Add(4*time.Minute - time.Second), errors: 50, threshold: 0.05, want: cwtypes.StateValueOk},
		{name: "too few calls to judge", now: minute.Add(4 * time.Minute), errors: 11, threshold: 0.05, calls: 80, want: cwtypes.StateValueOk},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &simWorld{now: tc.now, delay: 3 * time.Minute, alarmThreshold: tc.threshold,
				minutes: map[string]map[time.Time]*simCounts{
					"1": {minute: {invocations: cmp.Or(tc.calls, 100), errors: tc.errors - 1, durations: durations}},
					"2": {minute: {invocations: 10, errors: 1, durations: []float64{7}}},
				}}
			out, err := w.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{sampleAlarm}})
			if err != nil || len(out.MetricAlarms) != 1 {
				t.Fatalf("DescribeAlarms = %+v, %v", out, err)
			}
			if got := out.MetricAlarms[0].StateValue; got != tc.want {
				t.Errorf("state = %s, want %s (%s)", got, tc.want, aws.ToString(out.MetricAlarms[0].StateReason))
			}
			md, err := w.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{StartTime: aws.Time(minute), EndTime: aws.Time(minute.Add(time.Hour)),
				MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("p99"), MetricStat: &cwtypes.MetricStat{Stat: aws.String("p99"),
					Metric: &cwtypes.Metric{MetricName: aws.String("Duration"), Dimensions: []cwtypes.Dimension{{Name: aws.String("ExecutedVersion"), Value: aws.String("1")}}}}}}})
			if err != nil {
				t.Fatal(err)
			}
			want := []float64{99}
			if tc.name == "not yet published" {
				want = nil // the minute is not readable yet
			}
			if got := md.MetricDataResults[0].Values; !slices.Equal(got, want) {
				t.Errorf("p99 Duration = %v, want %v", got, want)
			}
		})
	}
}

// TestTrialVerdicts: the simulation drives the real shift code to the
// outcomes each source can reach — including probes, blind to latency,
// leaving a slow version to the metrics, and probes stopping a broken
// version at 0 %.
func TestTrialVerdicts(t *testing.T) {
	tests := []struct {
		mode         string
		kind         failKind
		wantPromoted bool
		wantDecided  []string
	}{
		{mode: "metrics only", kind: healthy, wantPromoted: true, wantDecided: []string{"metrics"}},
		{mode: "log stream with aws-lambda-go's error line", kind: failHandled, wantDecided: []string{"logs"}},
		{mode: "log stream without the runtime's error line", kind: failSlow, wantDecided: []string{"latency"}},
		{mode: "probes (20", kind: failCrash, wantDecided: []string{"probes", "probes at 0 %"}},
		// Probes cannot see latency, so with a latency guard they cannot pass
		// a step: the metrics beside them judge it.
		{mode: "probes (20", kind: failSlow, wantDecided: []string{"latency"}},
		// The sample's error-rate alarm stays quiet at the stable version's
		// 0.1 %: the count alarm it replaced (≥ 1 error a minute) refused
		// every healthy version at the start.
		{mode: "alarms: the sample's", kind: healthy, wantPromoted: true, wantDecided: []string{"metrics"}},
		{mode: "alarms: the same alarm at", kind: failHandled, wantDecided: []string{"alarms", "metrics"}},
	}
	for _, tc := range tests {
		t.Run(tc.mode+"/"+tc.kind.String(), func(t *testing.T) {
			i := slices.IndexFunc(verdictModes(), func(m verdictMode) bool { return strings.HasPrefix(m.name, tc.mode) })
			if i < 0 {
				t.Fatalf("no mode named %q…", tc.mode)
			}
			m := verdictModes()[i]
			target := m.target
			target.ApplyDefaults()
			if err := target.Validate("bench"); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range 3 {
				got := runTrial(target, m, tc.kind, rng)
				if got.promoted != tc.wantPromoted || !slices.Contains(tc.wantDecided, got.decided) {
					t.Errorf("trial %d: promoted %v decided by %q after %s, want promoted %v decided by one of %q",
						i, got.promoted, got.decided, got.after, tc.wantPromoted, tc.wantDecided)
				}
			}
		})
	}
}

// TestMetricsOnlyRollbackWithinBudget: on the metrics alone a broken
// canary is rolled back within health.metricDelaySeconds + 60 s of the
// shift wherever in its minute the shift falls — late in the minute too,
// when the shift's own minute holds too few calls to decide and the next
// minute's datapoint decides.
func TestMetricsOnlyRollbackWithinBudget(t *testing.T) {
	m := verdictModes()[slices.IndexFunc(verdictModes(), func(m verdictMode) bool { return m.metricsOnly })]
	target := m.target
	target.ApplyDefaults()
	if err := target.Validate("bench"); err != nil {
		t.Fatal(err)
	}
	budget := time.Duration(target.Health.MetricDelaySeconds)*time.Second + time.Minute
	for _, kind := range []failKind{failHandled, failCrash, failSlow} {
		for _, offset := range []time.Duration{0, 500 * time.Millisecond, 30 * time.Second, 50 * time.Second, 55 * time.Second, 57 * time.Second, 59 * time.Second, 59900 * time.Millisecond} {
			t.Run(fmt.Sprintf("%s/shift %s into its minute", kind, offset), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(offset), 7))
				for i := range 3 {
					got := runTrialAt(target, m, kind, rng, offset)
					if got.promoted || got.after > budget {
						t.Errorf("trial %d: promoted %v, decided by %q after %s, want a rollback within %s", i, got.promoted, got.decided, got.after, budget)
					}
				}
			})
		}
	}
}

// TestLogSourceLooks: the log stream looks at a step 15 s after its weight
// (shift's first look), so a broken canary judged on it is mostly rolled
// back then rather than at the end of its 30 s bake; and a log stream
// blind to handled errors, which cannot pass a step, is read at the
// metrics' pace once the bake is over rather than four times a minute.
func TestLogSourceLooks(t *testing.T) {
	tests := []struct {
		mode string
		kind failKind
		// most of the trials end within within; each reads the logs at
		// most maxCalls times on average.
		within   time.Duration
		maxCalls float64
	}{
		{mode: "log stream with aws-lambda-go's error line", kind: failHandled, within: 15 * time.Second, maxCalls: 2},
		{mode: "log stream with aws-lambda-go's error line", kind: failCrash, within: 15 * time.Second, maxCalls: 2},
		{mode: "log stream with aws-lambda-go's error line", kind: healthy, within: 30 * time.Second, maxCalls: 2.5},
		{mode: "log stream without the runtime's error line", kind: healthy, within: 6 * time.Minute, maxCalls: 10},
	}
	for _, tc := range tests {
		t.Run(tc.mode+"/"+tc.kind.String(), func(t *testing.T) {
			m := verdictModes()[slices.IndexFunc(verdictModes(), func(m verdictMode) bool { return strings.HasPrefix(m.name, tc.mode) })]
			target := m.target
			target.ApplyDefaults()
			rng := rand.New(rand.NewPCG(3, 4))
			const trials = 10
			in, calls := 0, 0
			for range trials {
				got := runTrial(target, m, tc.kind, rng)
				if got.promoted != (tc.kind == healthy) {
					t.Fatalf("promoted %v after %s, decided by %q", got.promoted, got.after, got.decided)
				}
				if got.after <= tc.within {
					in++
				}
				calls += got.logCalls
			}
			if in < trials*8/10 {
				t.Errorf("%d of %d trials ended within %s, want at least 8", in, trials, tc.within)
			}
			if got := float64(calls) / trials; got > tc.maxCalls {
				t.Errorf("FilterLogEvents calls per promotion = %.1f, want at most %.1f", got, tc.maxCalls)
			}
		})
	}
}
