package shift

import (
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
)

// TestDecide covers each verdict path on the evidence alone.
func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	need := t0.Add(time.Minute)
	h := config.Health{MaxErrorRate: 0.05, MinInvocations: 20} // latency: TestDecideLatencyRegression
	src := func(name string, fresh time.Time, n, e, sn, se float64) audit.Evidence {
		return audit.Evidence{Source: name, From: t0, To: fresh, FreshThrough: fresh, NewVersion: "5", StableVersion: "4",
			NewInvocations: n, NewErrors: e, StableInvocations: sn, StableErrors: se, SeesHandledErrors: true, SeesCrashes: true}
	}
	blind := func(ev audit.Evidence) audit.Evidence {
		ev.SeesHandledErrors, ev.Blind = false, "health.logRuntime is not set"
		return ev
	}
	covered, partial := need.Add(time.Second), t0.Add(30*time.Second)
	tests := []struct {
		name        string
		sources     []audit.Evidence
		want        audit.Outcome
		by          string
		wantReason  string
		wantCovered bool
	}{
		{name: "no data is never healthy", sources: []audit.Evidence{src("metrics", covered, 0, 0, 0, 0)},
			want: Inconclusive, wantReason: "no invocations of version 5 yet, 20 needed", wantCovered: true},
		{name: "no source read", want: Inconclusive, wantReason: "no evidence read"},
		{name: "1 failure of 1 call is not a verdict", sources: []audit.Evidence{src("logs", covered, 1, 1, 9, 0)},
			want: Inconclusive, wantReason: "1 invocations of version 5 yet", wantCovered: true},
		{name: "too little data: 19 clean calls", sources: []audit.Evidence{src("logs", covered, 19, 0, 200, 0)},
			want: Inconclusive, wantReason: "19 invocations", wantCovered: true},
		{name: "enough calls but too few to bound the rate", sources: []audit.Evidence{src("logs", covered, 40, 1, 400, 0)},
			want: Inconclusive, wantReason: "the rate may still be up to", wantCovered: true},
		{name: "healthy on the fresh signal", sources: []audit.Evidence{src("logs", covered, 300, 1, 2700, 3), src("metrics", partial, 0, 0, 0, 0)},
			want: Healthy, by: "logs", wantReason: "logs: 1 errors / 300 invocations", wantCovered: true},
		{name: "healthy data not covering the exposure waits", sources: []audit.Evidence{src("metrics", partial, 300, 0, 2700, 0)},
			want: Inconclusive, wantReason: "complete only through 12:00:30, the step's exposure runs to 12:01:00"},
		{name: "unhealthy at 20% errors", sources: []audit.Evidence{src("logs", covered, 30, 6, 270, 0)},
			want: Unhealthy, by: "logs", wantReason: "error rate 20% (6 errors / 30 invocations of version 5", wantCovered: true},
		{name: "unhealthy before the exposure is covered", sources: []audit.Evidence{src("metrics", partial, 30, 10, 270, 0)},
			want: Unhealthy, by: "metrics", wantReason: "significantly above the limit 5%"},
		{name: "the stable version's own errors are not the canary's", sources: []audit.Evidence{src("logs", covered, 400, 40, 3600, 360)},
			want: Healthy, by: "logs", wantReason: "within the limit 15%", wantCovered: true},
		{name: "a source blind to handled errors never passes", sources: []audit.Evidence{blind(src("logs", covered, 300, 0, 2700, 0)), src("metrics", partial, 0, 0, 0, 0)},
			want: Inconclusive, wantReason: "logs: 0 errors / 300 invocations, but health.logRuntime is not set, so it can fail the step, never pass it", wantCovered: true},
		{name: "a source blind to handled errors still fails", sources: []audit.Evidence{blind(src("logs", covered, 30, 6, 270, 0))},
			want: Unhealthy, by: "logs", wantReason: "error rate 20%", wantCovered: true},
		{name: "the seeing source passes beside a blind one", sources: []audit.Evidence{blind(src("logs", covered, 300, 0, 2700, 0)), src("metrics", covered, 300, 0, 2700, 0)},
			want: Healthy, by: "metrics", wantReason: "metrics: 0 errors / 300 invocations", wantCovered: true},
		{name: "any source showing harm fails", sources: []audit.Evidence{src("logs", covered, 300, 0, 2700, 0), src("metrics", partial, 60, 20, 540, 0)},
			want: Unhealthy, by: "metrics", wantCovered: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := decide(h, need, tc.sources)
			if d.Outcome != tc.want || d.DecidedBy != tc.by {
				t.Fatalf("verdict %s by %q (%s), want %s by %q", d.Outcome, d.DecidedBy, d.Reason, tc.want, tc.by)
			}
			if !strings.Contains(d.Reason, tc.wantReason) {
				t.Errorf("reason %q does not contain %q", d.Reason, tc.wantReason)
			}
			if len(d.Sources) > 0 && d.Sources[0].Covered != tc.wantCovered {
				t.Errorf("covered = %v, want %v", d.Sources[0].Covered, tc.wantCovered)
			}
			if d.Test == "" || d.MinInvocations != 20 {
				t.Errorf("verdict %+v does not name its test and minimum", d.Verdict)
			}
		})
	}
}

func TestDecideLatencyRegression(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ev := audit.Evidence{Source: "logs", FreshThrough: t0, NewVersion: "5", StableVersion: "4", SeesHandledErrors: true, SeesLatency: true,
		NewInvocations: 300, StableInvocations: 2700, NewP99Ms: 900, StableP99Ms: 300}
	h := config.Health{MaxErrorRate: 0.05, MinInvocations: 20, MaxP99LatencyRatio: 1.5}
	if d := decide(h, t0, []audit.Evidence{ev}); d.Outcome != Unhealthy || d.DecidedBy != "latency" || !strings.Contains(d.Reason, "p99 duration 900 ms") {
		t.Errorf("verdict %s by %s: %s; want unhealthy by latency", d.Outcome, d.DecidedBy, d.Reason)
	}
	ev.NewP99Ms = 400
	if d := decide(h, t0, []audit.Evidence{ev}); d.Outcome != Healthy {
		t.Errorf("p99 400 ms vs 300 ms under a 1.5× guard: %s (%s), want healthy", d.Outcome, d.Reason)
	}
	// Probes see errors, not durations: with a latency guard they cannot
	// pass a step alone, however clean (50 of 50 slow canaries were
	// promoted on probes before; bench verdicts).
	probes := audit.Evidence{Source: "probes", FreshThrough: t0, NewVersion: "5", StableVersion: "4", SeesHandledErrors: true, SeesCrashes: true,
		NewInvocations: 200, StableInvocations: 200}
	if d := decide(h, t0, []audit.Evidence{probes}); d.Outcome != Inconclusive || !strings.Contains(d.Reason, "no source read sees latency") {
		t.Errorf("probes alone under a latency guard: %s (%s), want inconclusive for want of latency", d.Outcome, d.Reason)
	}
	ev.NewP99Ms = 400
	if d := decide(h, t0, []audit.Evidence{probes, ev}); d.Outcome != Healthy {
		t.Errorf("probes with logs that compared latency: %s (%s), want healthy", d.Outcome, d.Reason)
	}
	h.MaxP99LatencyRatio = 0
	ev.NewP99Ms = 9000
	if d := decide(h, t0, []audit.Evidence{ev}); d.Outcome != Healthy {
		t.Errorf("without a latency guard: %s, want healthy", d.Outcome)
	}
}

// TestStats checks the tests against values computed by hand.
func TestStats(t *testing.T) {
	near := func(got, want float64) bool { return got > want-1e-4 && got < want+1e-4 }
	if got := binomTailAtLeast(1, 1, 0.05); !near(got, 0.05) {
		t.Errorf("P(X>=1 | 1, 0.05) = %v, want 0.05", got)
	}
	if got := binomTailAtLeast(2, 3, 0.5); !near(got, 0.5) {
		t.Errorf("P(X>=2 | 3, 0.5) = %v, want 0.5", got)
	}
	// Zero successes: the bound solves (1-p)^n = alpha.
	if got := upperBound(0, 100, 0.01); !near(got, 0.045007) {
		t.Errorf("upper bound 0/100 at 99%% = %v, want 0.0450", got)
	}
	if got := upperBound(5, 5, 0.01); got != 1 {
		t.Errorf("upper bound 5/5 = %v, want 1", got)
	}
}

func TestParseReport(t *testing.T) {
	tests := []struct {
		line       string
		ok, failed bool
		ms         float64
	}{
		{"REPORT RequestId: 3f5c\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 32 MB", true, false, 12.5},
		{"REPORT RequestId: 3f5c\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 32 MB\tStatus: timeout", true, true, 3000},
		{"REPORT RequestId: 3f5c\tDuration: 2.00 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 32 MB\tStatus: error\tError Type: Runtime.ExitError", true, true, 2},
		{`{"time":"2026-11-26T12:00:00Z","type":"platform.report","record":{"requestId":"3f5c","metrics":{"durationMs":7.5},"status":"success"}}`, true, false, 7.5},
		{`{"time":"2026-11-26T12:00:00Z","type":"platform.report","record":{"requestId":"3f5c","metrics":{"durationMs":7.5},"status":"error","errorType":"Unhandled"}}`, true, true, 7.5},
		{"START RequestId: 3f5c Version: 5", false, false, 0},
		{`{"level":"INFO","msg":"REPORT"}`, false, false, 0},
	}
	for _, tc := range tests {
		ok, failed, ms := parseReport(tc.line)
		if ok != tc.ok || failed != tc.failed || ms != tc.ms {
			t.Errorf("parseReport(%q) = %v %v %v, want %v %v %v", tc.line, ok, failed, ms, tc.ok, tc.failed, tc.ms)
		}
	}
}

// TestRuntimeErrorLine: the lines the runtimes write for a handled error,
// as their sources write them (aws-lambda-go v1.55.1 reportFailure;
// aws-lambda-ric 4.0.2 LifecycleManager.fail, text and JSON formats), and
// lines that are not one.
func TestRuntimeErrorLine(t *testing.T) {
	tests := []struct {
		name, line string
		want       bool
	}{
		{"aws-lambda-go returned error", `2026/12/07 15:41:33 {"errorMessage":"boom","errorType":"errorString"}`, true},
		{"aws-lambda-go with microseconds", `2026/12/07 15:41:33.123456 {"errorMessage":"boom","errorType":"errorString"}`, true},
		{"aws-lambda-go, log flags cleared", `{"errorMessage":"boom","errorType":"errorString"}`, true},
		{"aws-lambda-go panic", `2026/12/07 15:41:33 {"errorMessage":"kaboom","errorType":"string","stackTrace":[{"path":"x.go","line":3,"label":"f"}]}`, true},
		{"Node.js text format", "2026-12-07T15:41:33.123Z\t6f1c\tERROR\tInvoke Error \t{\"errorType\":\"Error\",\"errorMessage\":\"boom\",\"stack\":[\"Error: boom\",\"    at Runtime.handler (/var/task/index.js:2:9)\"]}", true},
		{"Node.js JSON format", `{"timestamp":"2026-12-07T15:41:33.123Z","level":"ERROR","requestId":"6f1c","message":{"errorType":"Error","errorMessage":"boom","stackTrace":["Error: boom"]}}`, true},
		{"a Go line inside a JSON record", `{"timestamp":"2026-12-07T15:41:33.123Z","message":"2026/12/07 15:41:33 {\"errorMessage\":\"boom\",\"errorType\":\"errorString\"}"}`, true},
		{"Node.js INFO record", `{"timestamp":"2026-12-07T15:41:33.123Z","level":"INFO","requestId":"6f1c","message":{"errorType":"Error","errorMessage":"boom"}}`, false},
		{"an application log mentioning errorMessage", `2026/12/07 15:41:33 retrying: errorMessage was empty`, false},
		{"Node.js console.error of a string", "2026-12-07T15:41:33.123Z\t6f1c\tERROR\tsomething failed", false},
		{"REPORT line", "REPORT RequestId: 6f1c\tDuration: 2.00 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 32 MB", false},
		{"JSON without errorType", `{"errorMessage":"boom"}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := runtimeErrorLine(tc.line); got != tc.want {
				t.Errorf("runtimeErrorLine(%q) = %v, want %v", tc.line, got, tc.want)
			}
		})
	}
}

// TestCallsNeeded: the calls the exact test needs, from stats.go's bound.
func TestCallsNeeded(t *testing.T) {
	tests := []struct {
		limit float64
		min   int
		want  int
	}{
		{limit: 0.05, min: 20, want: 90},
		{limit: 0.01, min: 20, want: 459},
		{limit: 0.5, min: 20, want: 20},
		{limit: 0.5, min: 0, want: 7},
		{limit: 0, min: 20, want: 0},
	}
	for _, tc := range tests {
		got := callsNeeded(config.Health{MinInvocations: tc.min}, tc.limit)
		if got != tc.want {
			t.Errorf("callsNeeded(limit %v, min %d) = %d, want %d", tc.limit, tc.min, got, tc.want)
		}
		if got > 0 && got > tc.min && (upperBound(0, got, alpha) > tc.limit || upperBound(0, got-1, alpha) <= tc.limit) {
			t.Errorf("limit %v: %d is not the smallest n whose bound is within it", tc.limit, got)
		}
	}
}
