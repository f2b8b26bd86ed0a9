package shift_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// A canary judged over whole steps, with traffic written the way AWS
// writes it: the function's log stream and the AWS/Lambda metrics.
//
// What AWS writes for one invocation of a Go function (aws-lambda-go
// v1.55.1 on provided.al2023), text log format:
//
//	START RequestId: <id> Version: <v>
//	<handled error only> 2025/06/02 09:30:01 {"errorMessage":"boom","errorType":"errorString"}
//	END RequestId: <id>
//	REPORT RequestId: <id>	Duration: … ms	…	(no Status for a handled error)
//
// The error line is aws-lambda-go's reportFailure (lambda/invoke_loop.go:
// log.Printf("%s", errorPayload), the standard logger's date and time
// prefix, to stderr, which Lambda sends to the stream). A handled error is
// posted to the Runtime API's /invocation/{id}/error, after which the
// platform reports the invocation done: no Status on REPORT
// (aws-lambda-runtime-interface-emulator, and AWS's answer in
// aws-samples/aws-lambda-extensions#85). Only crashes, timeouts and init
// failures carry "Status: error"/"Status: timeout".

// canaryKind is how a version behaves: ok, handled (half its calls return
// an error), crash (half its calls crash the runtime).
type canaryKind string

const (
	kindOK      canaryKind = "ok"
	kindHandled canaryKind = "handled"
	kindCrash   canaryKind = "crash"
)

// traffic writes the calls of one second at at: per versions' rate, lines
// into the version's stream and datapoints into the metrics.
type traffic struct {
	lg       *fakeLogs
	cw       *fakeCloudWatch
	json     bool // the JSON log format
	group    string
	streamFn string // the function name in a custom group's stream names
	seq      int
}

func (tr *traffic) stream(v string, at time.Time) string {
	return at.UTC().Format("2006/01/02") + "/" + tr.streamFn + "[" + v + "]0123456789abcdef" + v
}

func (tr *traffic) call(v string, at time.Time, failed bool, kind canaryKind) {
	tr.seq++
	id := fmt.Sprintf("r-%06d", tr.seq)
	s := tr.stream(v, at)
	status := ""
	if tr.json {
		tr.lg.addIn(tr.group, s, at, fmt.Sprintf(`{"time":%q,"type":"platform.start","record":{"requestId":%q,"version":%q}}`, at.Format(time.RFC3339Nano), id, v))
	} else {
		tr.lg.addIn(tr.group, s, at, "START RequestId: "+id+" Version: "+v)
	}
	if failed {
		switch kind {
		case kindHandled:
			tr.lg.addIn(tr.group, s, at, at.UTC().Format("2006/01/02 15:04:05")+` {"errorMessage":"boom","errorType":"errorString"}`)
		case kindCrash:
			status = "error"
		}
	}
	if tr.json {
		rec := fmt.Sprintf(`{"time":%q,"type":"platform.report","record":{"requestId":%q,"metrics":{"durationMs":3.5,"billedDurationMs":4,"memorySizeMB":128,"maxMemoryUsedMB":30},"status":%q}}`,
			at.Format(time.RFC3339Nano), id, map[string]string{"": "success", "error": "error"}[status])
		tr.lg.addIn(tr.group, s, at, rec)
	} else {
		tr.lg.addIn(tr.group, s, at, "END RequestId: "+id)
		line := "REPORT RequestId: " + id + "\tDuration: 3.50 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB"
		if status != "" {
			line += "\tStatus: error\tError Type: Runtime.ExitError"
		}
		tr.lg.addIn(tr.group, s, at, line)
	}
	tr.cw.add(fn, v, "Invocations", at, 1)
	if failed {
		tr.cw.add(fn, v, "Errors", at, 1)
	}
}

// second writes one second of prod traffic at weight w to the new version.
func (tr *traffic) second(at time.Time, rate int, w float64, kind canaryKind) {
	newCalls := int(float64(rate)*w + 0.5)
	for i := range newCalls {
		tr.call("5", at.Add(time.Duration(i)*time.Millisecond), kind != kindOK && (tr.seq%2 == 0), kind)
	}
	for i := range rate - newCalls {
		tr.call("4", at.Add(time.Duration(500+i)*time.Millisecond), false, kindOK)
	}
}

// canaryOutcome is how a simulated promotion ended.
type canaryOutcome struct {
	promoted   bool // every step passed (or was promoted anyway)
	rolledBack bool
	checks     int
	at         time.Duration // from the first weight to the end
	verdicts   []string
}

// runCanary drives a promotion through check-health, from the first
// weight to a rollback or past the last step, writing rate calls a second
// of prod traffic while each step bakes.
func runCanary(t *testing.T, target config.Target, kind canaryKind, rate int, format string) canaryOutcome {
	t.Helper()
	e := newEnv(t)
	e.cw = newFakeCloudWatch()
	e.cw.alarms["hello-prod-errors"] = fakeAlarm{state: cwtypes.StateValueOk}
	lg := &fakeLogs{}
	clock := func() time.Time { return e.now }
	log := slog.New(slog.NewJSONHandler(&e.logs, nil))
	e.h = shift.New(e.lam.Client, e.cw, e.sf, audit.New(log, e.bus, &audit.Options{Now: clock}), metrics.New(&e.emf, clock),
		&shift.Options{Log: log, Now: clock, Logs: lg})
	e.lam.SetAlias(e.t, fn, "stg", "5", nil)
	// Probes (health.probes) invoke the versions directly: the new one
	// fails every other call unless it is healthy.
	calls := 0
	e.lam.Code(fn, func(ctx context.Context, call sandboxtest.Call) (core.InvokeResult, error) {
		calls++
		if call.Version == "5" && kind != kindOK && calls%2 == 0 {
			return sandboxtest.FunctionError("errorString", "boom")(ctx, call)
		}
		return sandboxtest.Return("ok")(ctx, call)
	})
	tr := &traffic{lg: lg, cw: e.cw, json: format == "json", group: "/aws/lambda/" + fn}
	steps := promotion.Plan(target.Strategy)
	req := load(t, "check-health-timeout.json")
	req.Promotion.Target = target
	req.Promotion.Steps = steps
	req.Promotion.Bake = nil
	start := e.now
	s := &promotion.Shift{StableVersion: "4", Step: 0, Weight: steps[0].Weight, BakeSeconds: steps[0].BakeSeconds}
	var out canaryOutcome
	for out.checks = 1; out.checks <= 2000; out.checks++ {
		e.lam.SetAlias(e.t, fn, "prod", "4", map[string]float64{"5": s.Weight})
		for range s.BakeSeconds {
			tr.second(e.now, rate, s.Weight, kind)
			e.now = e.now.Add(time.Second)
		}
		req.Promotion.Shift = s
		next, err := e.run(req)
		out.at = e.now.Sub(start)
		if err != nil {
			if errorName(err) != promotion.ErrHealthCheckFailed {
				t.Fatalf("check %d: %v", out.checks, err)
			}
			out.rolledBack = true
			out.verdicts = append(out.verdicts, message(err))
			return out
		}
		out.verdicts = append(out.verdicts, next.Verdict)
		if next.Done {
			out.promoted = true
			return out
		}
		s = next
	}
	t.Fatalf("no end after %d checks: %v", out.checks, out.verdicts[len(out.verdicts)-1])
	return out
}

// TestBrokenCanaryNeverPromoted: a canary failing half its calls — with
// handled errors, written as AWS writes them, or with crashes — is never
// promoted, whatever configuration the validator accepts judges it: a grid
// over the strategy, the fresh signal, the runtime's error line, the
// metric delay, the longest bake and the inconclusive policy, in both log
// formats. Refused configurations are skipped (and counted).
func TestBrokenCanaryNeverPromoted(t *testing.T) {
	strategies := []config.StrategyConfig{
		{Type: config.Canary, Percent: 10, BakeSeconds: 30},
		{Type: config.Canary, Percent: 10, BakeSeconds: 300},
		{Type: config.Linear, Percent: 25, IntervalSeconds: 20},
	}
	accepted, refused, ran := 0, 0, 0
	for _, st := range strategies {
		for _, probes := range []int{0, 10} {
			for _, fresh := range []string{"", config.FreshSignalLogs} {
				for _, rt := range []string{"", config.LogRuntimeGo} {
					for _, delay := range []int{60, 240} {
						for _, maxBake := range []int{0, 60, 600} {
							for _, policy := range []string{config.OnInconclusiveRollback, config.OnInconclusivePromote} {
								target := config.Target{Function: fn, Approvers: []string{"lead@example.com"}, Strategy: st,
									Health: config.Health{FreshSignal: fresh, LogRuntime: rt, MetricDelaySeconds: delay,
										MaxBakeSeconds: maxBake, OnInconclusive: policy, Probes: probes}}
								if probes > 0 {
									target.Health.ProbePayload = []byte(`{"path":"/"}`)
								}
								target.ApplyDefaults()
								if target.Validate("target") != nil {
									refused++
									continue
								}
								accepted++
								formats := []string{"text"}
								if fresh != "" {
									formats = append(formats, "json")
								}
								for _, kind := range []canaryKind{kindHandled, kindCrash} {
									for _, format := range formats {
										name := fmt.Sprintf("%s/%s %d%% %ds/probes=%d fresh=%q runtime=%q delay=%d maxBake=%d %s/%s",
											kind, st.Type, st.Percent, st.BakeSeconds+st.IntervalSeconds, probes, fresh, rt, delay, target.Health.MaxBakeSeconds, policy, format)
										ran++
										t.Run(name, func(t *testing.T) {
											got := runCanary(t, target, kind, 20, format)
											if got.promoted || !got.rolledBack {
												t.Fatalf("a canary failing half its calls was promoted after %d checks (%s): %q", got.checks, got.at, got.verdicts)
											}
										})
									}
								}
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d configurations accepted (%d runs), %d refused", accepted, ran, refused)
	if accepted < 20 || refused == 0 {
		t.Errorf("%d accepted, %d refused: the grid no longer spans the validator", accepted, refused)
	}
}

// TestHealthyCanaryPasses: the simulation is not vacuous — the same
// canary without failures is promoted, on the logs within seconds of its
// bake when they read the runtime's error line, on the metrics after
// their delay otherwise.
func TestHealthyCanaryPasses(t *testing.T) {
	tests := []struct {
		name    string
		health  config.Health
		format  string
		maxTime time.Duration
	}{
		{name: "logs with aws-lambda-go's line", health: config.Health{FreshSignal: config.FreshSignalLogs, LogRuntime: config.LogRuntimeGo, MetricDelaySeconds: 240}, maxTime: 60 * time.Second},
		{name: "logs with aws-lambda-go's line, JSON format", health: config.Health{FreshSignal: config.FreshSignalLogs, LogRuntime: config.LogRuntimeGo, MetricDelaySeconds: 240}, format: "json", maxTime: 60 * time.Second},
		{name: "logs blind to handled errors wait for the metrics", health: config.Health{FreshSignal: config.FreshSignalLogs, MetricDelaySeconds: 240}, maxTime: 7 * time.Minute},
		{name: "probes alone", health: config.Health{Probes: 20, ProbePayload: []byte(`{}`), MetricDelaySeconds: 240}, maxTime: 2 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := config.Target{Function: fn, Approvers: []string{"lead@example.com"},
				Strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 30}, Health: tc.health}
			target.ApplyDefaults()
			if err := target.Validate("target"); err != nil {
				t.Fatal(err)
			}
			got := runCanary(t, target, kindOK, 20, tc.format)
			if !got.promoted || got.at > tc.maxTime {
				t.Fatalf("healthy canary: promoted %v after %s (want within %s): %q", got.promoted, got.at, tc.maxTime, got.verdicts)
			}
		})
	}
}

// TestBakeRoundsWithinHistory: an execution never runs into Step
// Functions' 25,000-event history limit, however long the bakes may last:
// linear 1 % steps (99 of them) with health.maxBakeSeconds 86,400 and no
// traffic at all bake each step only as often as the history allows, then
// apply health.onInconclusive.
func TestBakeRoundsWithinHistory(t *testing.T) {
	tests := []struct {
		policy       string
		wantPromoted bool
		wantChecks   int
	}{
		{policy: config.OnInconclusivePromote, wantPromoted: true, wantChecks: 99 * config.BakeRounds(99)},
		{policy: config.OnInconclusiveRollback, wantChecks: config.BakeRounds(99)},
	}
	for _, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			target := config.Target{Function: fn, Approvers: []string{"lead@example.com"},
				Strategy: config.StrategyConfig{Type: config.Linear, Percent: 1, IntervalSeconds: 60},
				Health: config.Health{FreshSignal: config.FreshSignalLogs, LogRuntime: config.LogRuntimeGo,
					MaxBakeSeconds: 86400, OnInconclusive: tc.policy}}
			target.ApplyDefaults()
			if err := target.Validate("target"); err != nil {
				t.Fatal(err)
			}
			got := runCanary(t, target, kindOK, 0, "text")
			if got.promoted != tc.wantPromoted || got.checks != tc.wantChecks {
				t.Fatalf("promoted %v after %d checks, want %v after %d: %q", got.promoted, got.checks, tc.wantPromoted, tc.wantChecks, got.verdicts[len(got.verdicts)-1])
			}
			// Worst case: every check one bake round, every step a SetWeight.
			if events := got.checks*config.EventsPerBake + 99*config.EventsPerStep; events > config.HistoryLimit-config.HistoryReserve {
				t.Errorf("%d checks make about %d history events, beyond the budget of %d", got.checks, events, config.HistoryLimit-config.HistoryReserve)
			}
			if !tc.wantPromoted {
				wantContains(t, "reason", got.verdicts[len(got.verdicts)-1], "within Step Functions' 25000-event history")
			}
		})
	}
}
