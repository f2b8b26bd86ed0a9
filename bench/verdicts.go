package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	cwsvc "github.com/aliasflow/aliasflow/sandbox/cloudwatch"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/fakes/sfnfake"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The verdicts section: how fast and how rightly a 10 % canary is judged
// under the AWS-like metric delay, with the metrics alone and with the
// fresh signal (the versions' log streams).
//
// It is a simulation on a virtual clock driving the real verdict code: the
// shift package's Handler answers each check-health exactly as the Lambda
// does, reading a CloudWatch and a CloudWatch Logs that hold the simulated
// traffic. Traffic is steady (50 requests a second to prod, each routed to
// the canary with probability 0.10, as a weighted alias routes at random;
// a low-traffic row at 10 requests a second shows the price of fewer calls);
// each request fails with its version's error rate. A Lambda datapoint is
// readable once its minute ended and cwsvc.DefaultMetricDelay passed (the
// sandbox's rule); a REPORT line at once. The state machine's loop is
// replayed: bake, check-health, and while inconclusive bake again for the
// extension the verdict asks for. Time from shift to verdict is the
// virtual time of the deciding check-health; state transitions and Lambda
// latency (well under a second each) are not added.

const (
	verdictRPS        = 50
	lowTrafficRPS     = 10
	verdictWeight     = 0.10
	healthyErrorRate  = 0.001
	brokenErrorRate   = 0.20
	stableErrorRate   = 0.001
	freshRollbackBudg = 60 * time.Second
)

type verdictMode struct {
	name   string
	target config.Target
	rps    int
	// budgeted modes are held to the budgets; the low-traffic row is shown.
	budgeted bool
}

func verdictModes() []verdictMode {
	metricsOnly := config.Target{Function: "hello", Approvers: []string{"a@example.com"},
		Strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: config.DefaultMetricDelaySeconds}}
	fresh := config.Target{Function: "hello", Approvers: []string{"a@example.com"},
		Strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 30},
		Health:   config.Health{FreshSignal: config.FreshSignalLogs, LogRuntime: config.LogRuntimeGo}}
	// The log streams without the runtime's error line see crashes only:
	// they may fail a step, and the metrics must pass it.
	blind := fresh
	blind.Health.LogRuntime = ""
	// Probes alone: 20 synthetic calls of each version a check (the most), the logs
	// unread.
	probes := config.Target{Function: "hello", Approvers: []string{"a@example.com"},
		Strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 30},
		Health:   config.Health{Probes: config.MaxProbes, ProbePayload: []byte(`{}`)}}
	return []verdictMode{{"metrics only", metricsOnly, verdictRPS, true},
		{"probes (20 of each version a check)", probes, verdictRPS, true},
		{"log streams with aws-lambda-go's error line", fresh, verdictRPS, true},
		{"log streams without the runtime's error line (metrics pass)", blind, verdictRPS, true},
		{"log streams with the error line, low traffic (10 req/s, 1 to the canary)", fresh, lowTrafficRPS, false}}
}

// trialResult is one simulated canary's end.
type trialResult struct {
	promoted bool
	after    time.Duration
	checks   int
	decided  string
}

func verdictFigures(r *report, trials int) {
	began := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "A canary at 10 %% of steady traffic (%d requests/s to prod, so about %d/s to the canary), %d trials each of a healthy version (%.1f %% errors) and a broken one (%.0f %% errors: half the trials handled errors, half crashes) against a stable version at %.1f %% errors, under the AWS-like metric delay (a minute's Lambda datapoints readable %s after the minute ends, the sandbox's default). "+
		"Simulated on a virtual clock driving the real verdict code (shared/shift's Handler answering check-health, with the state machine's bake / check-health / bake-again loop replayed); see bench/verdicts.go.\n\n",
		verdictRPS, verdictRPS/10, trials, healthyErrorRate*100, brokenErrorRate*100, stableErrorRate*100, cwsvc.DefaultMetricDelay)
	b.WriteString("| mode | bake | healthy: shift → verdict p50 / p95 | broken: shift → rollback p50 / p95 | false alarms | misses | decided by |\n|---|---:|---:|---:|---:|---:|---|\n")
	rng := rand.New(rand.NewPCG(10, 10))
	for _, m := range verdictModes() {
		t := m.target
		t.ApplyDefaults()
		if err := t.Validate("bench"); err != nil {
			r.section("10. Health verdicts", "not measured: "+err.Error())
			return
		}
		var healthy, broken []trialResult
		for i := range trials {
			healthy = append(healthy, runTrial(t, m.rps, healthyErrorRate, failHandled, rng))
			// Half the broken canaries fail with handled errors (no Status
			// on REPORT, the runtime's line instead), half crash.
			kind := failHandled
			if i%2 == 1 {
				kind = failCrash
			}
			broken = append(broken, runTrial(t, m.rps, brokenErrorRate, kind, rng))
		}
		falseAlarms, misses := 0, 0
		var hTimes, bTimes []time.Duration
		by := map[string]int{}
		for _, h := range healthy {
			if !h.promoted {
				falseAlarms++
			}
			hTimes = append(hTimes, h.after)
			by[h.decided]++
		}
		for _, x := range broken {
			if x.promoted {
				misses++
			}
			bTimes = append(bTimes, x.after)
			by[x.decided]++
		}
		var decided []string
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range by {
				if !yield(k) {
					return
				}
			}
		}) {
			decided = append(decided, fmt.Sprintf("%s %d", k, by[k]))
		}
		fa := float64(falseAlarms) / float64(trials)
		faText, missText := fmt.Sprintf("%.0f %%", fa*100), "shown, not budgeted"
		if m.budgeted {
			faText = r.budget(m.name+" false alarms", fa <= 0.02, fmt.Sprintf("%.0f %% ≤ 2 %%", fa*100))
			missText = r.budget(m.name+" misses", misses == 0, "0 allowed")
		}
		fmt.Fprintf(&b, "| %s | %d s | %s / %s | %s / %s (worst %s) | %d of %d (%s) | %d of %d (%s) | %s |\n", m.name, t.Strategy.BakeSeconds,
			secs(pctl(hTimes, 0.5)), secs(pctl(hTimes, 0.95)), secs(pctl(bTimes, 0.5)), secs(pctl(bTimes, 0.95)), secs(slices.Max(bTimes)),
			falseAlarms, trials, faText, misses, trials, missText, strings.Join(decided, ", "))
		if t.Health.SeesHandledErrorsFresh() && m.budgeted {
			worst := slices.Max(bTimes)
			fmt.Fprintf(&b, "| ↳ every broken canary rolled back within 60 s of the shift | | | | | | %s |\n",
				r.budget("fresh-signal rollback time", worst <= freshRollbackBudg, fmt.Sprintf("worst %s ≤ 60 s", secs(worst))))
		}
	}
	b.WriteString("\nAt 1 call a second to the canary, 60 s hold about 60 calls; a test that keeps false alarms near 1 % cannot also catch a 20 % error rate every time on so few, which the low-traffic row shows: the budgets are met at 5 calls a second.\n")
	b.WriteString("\nAnchor: CodeDeploy's floor for Lambda is a 1-minute step (TimeBasedCanary/TimeBasedLinear intervals are whole minutes, AWS::CodeDeploy::DeploymentConfig) judged by CloudWatch alarms, which see the same Lambda metrics only after their publication delay: a broken canary is caught a few minutes after the shift at best, the metrics-only row's order. The fresh signal reads the new version's own log streams (YYYY/MM/DD/[version]…): REPORT lines show crashes and timeouts only — a handled error (a Go handler's returned error) completes the invocation with no Status — so the logs pass a step only when they also read the runtime's error line (health.logRuntime; aws-lambda-go's reportFailure line here); without it they fail crashing canaries fast and leave handled errors to the metrics.\n")
	fmt.Fprintf(&b, "\nTests: exact one-sided binomial test against the stable version's rate + 5 %% allowance to fail (1 %% level), Clopper–Pearson 99 %% upper bound within it and ≥ 20 invocations to pass; inconclusive bakes again (15 s with the fresh signal, up to a minute on metrics alone). Simulated in %s of wall time.\n", time.Since(began).Round(time.Millisecond))
	r.section("10. Health verdicts", b.String())
}

func secs(d time.Duration) string { return fmt.Sprintf("%.0f s", d.Seconds()) }

func pctl(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	i := int(float64(len(s))*q+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// failKind is how a failing call shows in the log stream.
type failKind int

const (
	// failHandled: the handler returned an error. The REPORT line has no
	// Status; aws-lambda-go logs the error document (reportFailure).
	failHandled failKind = iota
	// failCrash: the runtime crashed: "Status: error" on the REPORT line.
	failCrash
)

// runTrial shifts 10 % of prod to a version failing at errRate and replays
// the definition until the verdict.
func runTrial(t config.Target, rps int, errRate float64, kind failKind, rng *rand.Rand) trialResult {
	// Just after midnight would cross a day; the streams' day prefix is
	// covered by the check reading the day before too.
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(60_000)) * time.Millisecond)
	w := &simWorld{now: start, delay: cwsvc.DefaultMetricDelay, rng: rng, rps: rps, kind: kind,
		minutes: map[string]map[time.Time]*simCounts{}, reports: map[string][]simReport{}}
	// Steady traffic before the shift: the stable version only.
	w.serve(start.Add(-5*time.Minute), start, 0, errRate)
	clock := func() time.Time { return w.now }
	rec := audit.New(slog.New(slog.DiscardHandler), nil, &audit.Options{Now: clock})
	// The shift runs only what a running promotion scheduled: the trial's
	// execution schedules each CheckHealth as the definition would.
	sf := sfnfake.New()
	execARN := sf.Start(sf.AddStateMachine(deploy.StateMachine), "bench", "{}")
	h := shift.New(simLambda{w: w, errRate: errRate}, w, sf, rec, metrics.New(io.Discard, clock), &shift.Options{Now: clock, Logs: w})
	steps := []promotion.Step{{Weight: verdictWeight, BakeSeconds: t.Strategy.BakeSeconds}}
	s := &promotion.Shift{StableVersion: "1", Step: 0, Weight: verdictWeight, BakeSeconds: t.Strategy.BakeSeconds}
	checks := 0
	for {
		w.serve(w.now, w.now.Add(time.Duration(s.BakeSeconds)*time.Second), verdictWeight, errRate)
		checks++
		req := promotion.TaskRequest{Action: promotion.ActionCheckHealth, Execution: execARN,
			Promotion: promotion.State{Input: promotion.Input{Function: "hello", Version: "2", Target: t, Steps: steps},
				Shift: s, Bake: &promotion.Bake{Error: "States.Timeout"}}}
		payload, _ := json.Marshal(req)
		params, _ := json.Marshal(map[string]any{"FunctionName": deploy.ShiftFunction, "Payload": json.RawMessage(payload)})
		sf.Schedule(execARN, promotion.StateCheckHealth, string(params))
		out, err := h.Handle(context.Background(), req)
		switch {
		case err != nil:
			return trialResult{after: w.now.Sub(start), checks: checks, decided: decidedBy(err.Error())}
		case out.Extend:
			s = out
		default:
			return trialResult{promoted: true, after: w.now.Sub(start), checks: checks, decided: decidedBy(out.Verdict)}
		}
	}
}

// decidedBy names the evidence a verdict line starts with after its outcome.
func decidedBy(line string) string {
	for _, src := range []string{"probes:", "logs:", "metrics:", "still inconclusive", "could not be judged"} {
		if strings.Contains(line, src) {
			return strings.TrimSuffix(src, ":")
		}
	}
	return "other"
}

type simCounts struct{ invocations, errors float64 }

type simReport struct {
	at     time.Time
	failed bool
}

// simWorld is the simulated prod traffic, as CloudWatch and CloudWatch Logs
// serve it to the shift's health check.
type simWorld struct {
	now     time.Time
	delay   time.Duration
	rps     int
	kind    failKind
	mu      sync.Mutex // the probes of both versions run at once
	rng     *rand.Rand
	minutes map[string]map[time.Time]*simCounts // version → minute → counts
	reports map[string][]simReport              // version → REPORT lines
}

// serve runs steady traffic from from to to and moves the clock to to.
func (w *simWorld) serve(from, to time.Time, weight, errRate float64) {
	for at := from; at.Before(to); at = at.Add(time.Second / time.Duration(w.rps)) {
		v, rate := "1", stableErrorRate
		if w.rng.Float64() < weight {
			v, rate = "2", errRate
		}
		failed := w.rng.Float64() < rate
		m := w.minutes[v]
		if m == nil {
			m = map[time.Time]*simCounts{}
			w.minutes[v] = m
		}
		c := m[at.Truncate(time.Minute)]
		if c == nil {
			c = &simCounts{}
			m[at.Truncate(time.Minute)] = c
		}
		c.invocations++
		if failed {
			c.errors++
		}
		w.reports[v] = append(w.reports[v], simReport{at, failed})
	}
	w.now = to
}

func (w *simWorld) DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	return &cloudwatch.DescribeAlarmsOutput{}, nil
}

// GetMetricData sums per minute the published minutes of each query's
// version (Sum of Errors or Invocations, 60 s periods).
func (w *simWorld) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	out := &cloudwatch.GetMetricDataOutput{}
	cut := w.now.Add(-w.delay).Truncate(time.Minute)
	for _, q := range in.MetricDataQueries {
		version := ""
		for _, d := range q.MetricStat.Metric.Dimensions {
			if aws.ToString(d.Name) == "ExecutedVersion" {
				version = aws.ToString(d.Value)
			}
		}
		res := cwtypes.MetricDataResult{Id: q.Id, StatusCode: cwtypes.StatusCodeComplete}
		for minute, c := range w.minutes[version] {
			if minute.Before(aws.ToTime(in.StartTime)) || !minute.Before(aws.ToTime(in.EndTime)) || !minute.Before(cut) {
				continue
			}
			v := c.invocations
			if aws.ToString(q.MetricStat.Metric.MetricName) == "Errors" {
				v = c.errors
			}
			res.Timestamps, res.Values = append(res.Timestamps, minute), append(res.Values, v)
		}
		out.MetricDataResults = append(out.MetricDataResults, res)
	}
	return out, nil
}

// FilterLogEvents answers, in one page, the counted lines of every
// version within the time range, as Lambda writes them to the default log
// group: a REPORT line per call ("Status: error" for a crash), preceded by
// aws-lambda-go's error line for a handled error.
func (w *simWorld) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	out := &cloudwatchlogs.FilterLogEventsOutput{}
	for _, version := range slices.Sorted(maps.Keys(w.reports)) {
		for _, rp := range w.reports[version] {
			ms := rp.at.UnixMilli()
			if ms < aws.ToInt64(in.StartTime) || ms > aws.ToInt64(in.EndTime) {
				continue
			}
			stream := aws.String(rp.at.Format("2006/01/02") + "/[" + version + "]sim")
			line := "REPORT RequestId: r\tDuration: 3.00 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\tMax Memory Used: 32 MB"
			switch {
			case rp.failed && w.kind == failCrash:
				line += "\tStatus: error\tError Type: Runtime.ExitError"
			case rp.failed:
				out.Events = append(out.Events, logtypes.FilteredLogEvent{Timestamp: aws.Int64(ms), LogStreamName: stream,
					Message: aws.String(rp.at.Format("2006/01/02 15:04:05") + ` {"errorMessage":"boom","errorType":"errorString"}`)})
			}
			out.Events = append(out.Events, logtypes.FilteredLogEvent{Timestamp: aws.Int64(ms), Message: aws.String(line), LogStreamName: stream})
		}
	}
	return out, nil
}

// simLambda: check-health reads the versions' configuration (the logs
// source) and invokes them (probes); it never moves an alias.
type simLambda struct {
	w       *simWorld
	errRate float64 // the new version's
}

func (simLambda) GetAlias(context.Context, *lambda.GetAliasInput, ...func(*lambda.Options)) (*lambda.GetAliasOutput, error) {
	return nil, fmt.Errorf("bench: check-health called GetAlias")
}

func (simLambda) UpdateAlias(context.Context, *lambda.UpdateAliasInput, ...func(*lambda.Options)) (*lambda.UpdateAliasOutput, error) {
	return nil, fmt.Errorf("bench: check-health called UpdateAlias")
}

func (simLambda) CreateAlias(context.Context, *lambda.CreateAliasInput, ...func(*lambda.Options)) (*lambda.CreateAliasOutput, error) {
	return nil, fmt.Errorf("bench: check-health called CreateAlias")
}

// GetFunctionConfiguration: the logs source reads each version's runtime
// and logging configuration once a step; hello is a Go function on
// provided.al2023 logging to its default group.
func (simLambda) GetFunctionConfiguration(_ context.Context, in *lambda.GetFunctionConfigurationInput, _ ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error) {
	return &lambda.GetFunctionConfigurationOutput{FunctionName: in.FunctionName, Version: in.Qualifier, Runtime: lambdatypes.RuntimeProvidedal2023}, nil
}

// Invoke answers a probe of a version, failing at the version's rate
// (check-health probes the versions one after the other, so the shared
// random source is used in a fixed order).
func (l simLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	rate := stableErrorRate
	if aws.ToString(in.Qualifier) == "2" {
		rate = l.errRate
	}
	l.w.mu.Lock()
	failed := l.w.rng.Float64() < rate
	l.w.mu.Unlock()
	out := &lambda.InvokeOutput{StatusCode: 200, ExecutedVersion: in.Qualifier, Payload: []byte(`"ok"`)}
	if failed {
		out.FunctionError, out.Payload = aws.String("Unhandled"), []byte(`{"errorMessage":"boom","errorType":"errorString"}`)
	}
	return out, nil
}
