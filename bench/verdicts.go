package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/infra/statemachine"
	cwsvc "github.com/aliasflow/aliasflow/sandbox/cloudwatch"
	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/states"
	"github.com/aliasflow/aliasflow/sandbox/states/statestest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
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
	// latencyRatio is health.maxP99LatencyRatio in every row; the slow
	// canary's calls take slowFactor times the stable version's.
	latencyRatio = 2
	slowFactor   = 3
	// sampleAlarm is the sample stack's prod alarm (infra/aliasflow
	// target.go): the prod alias's error rate, metric math
	// IF(invocations >= 100, errors / invocations, 0) over 1-minute Sums,
	// ≥ DefaultErrorRateThreshold (5 %) in 1 of 1 datapoints, missing data
	// not breaching.
	sampleAlarm          = "hello-prod-errors"
	sampleAlarmThreshold = config.DefaultMaxErrorRate
	// sampleAlarmMinCalls is infra/aliasflow's ErrorRateMinInvocations.
	sampleAlarmMinCalls = 100
	// fittedAlarmThreshold is the same alarm with the threshold a team
	// would set to catch a 10 % canary failing a fifth of its calls: it
	// moves prod's rate from 0.1 % to about 2.1 %.
	fittedAlarmThreshold = 0.01
)

// failKind is what is wrong with a canary.
type failKind int

const (
	// failHandled: the handler returned an error. The REPORT line has no
	// Status; aws-lambda-go logs the error document (reportFailure).
	failHandled failKind = iota
	// failCrash: the runtime crashed: "Status: error" on the REPORT line.
	failCrash
	// failSlow: no more errors than the stable version, but every call
	// takes slowFactor times as long (p99 included).
	failSlow
	// healthy: as good as the stable version.
	healthy
)

func (k failKind) String() string {
	return [...]string{"handled errors (20 %)", "crashes (20 %)", "latency (p99 3×)", "healthy"}[k]
}

// errRate is the new version's error rate for the kind.
func (k failKind) errRate() float64 {
	if k == failHandled || k == failCrash {
		return brokenErrorRate
	}
	return healthyErrorRate
}

// affected is the share of the canary's calls a user sees go wrong: the
// failed ones, or every call of a slow version.
func (k failKind) affected() float64 {
	if k == failSlow {
		return 1
	}
	return k.errRate()
}

type verdictMode struct {
	name   string
	target config.Target
	rps    int
	// alarmThreshold, when set, is the threshold of the simulated alarm
	// the target names (health.alarms).
	alarmThreshold float64
	// budgeted modes are held to the budgets; the low-traffic row is shown.
	budgeted bool
	// sees says which failure kinds the mode's sources can see: a kind
	// it cannot see is shown, not budgeted.
	sees map[failKind]bool
	// fastHandled: the mode reads a source that sees handled errors at
	// once (probes, the runtime's error line), so a handled-error canary
	// must be rolled back within 60 s of the shift.
	fastHandled bool
	// metricsOnly: held to health.metricDelaySeconds + 60 s.
	metricsOnly bool
}

func verdictModes() []verdictMode {
	base := config.Target{Function: "hello", Approvers: []string{"a@example.com"},
		Strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 30},
		Health:   config.Health{MaxP99LatencyRatio: latencyRatio}}
	metricsOnly := base
	metricsOnly.Strategy.BakeSeconds = config.DefaultMetricDelaySeconds
	fresh := base
	fresh.Health.FreshSignal, fresh.Health.LogRuntime = config.FreshSignalLogs, config.LogRuntimeGo
	// The log streams without the runtime's error line see crashes and
	// latency only: they may fail a step, and the metrics must pass it.
	blind := fresh
	blind.Health.LogRuntime = ""
	// Probes: 20 synthetic calls of each version before the first weight
	// and at each check (the most), the logs unread.
	probes := base
	probes.Health.Probes, probes.Health.ProbePayload = config.MaxProbes, []byte(`{}`)
	probes15 := probes
	probes15.Strategy.BakeSeconds = 15
	// Alarms: the metrics-only target naming the prod Errors alarm.
	alarms := metricsOnly
	alarms.Health.Alarms = []string{sampleAlarm}
	all := map[failKind]bool{failHandled: true, failCrash: true, failSlow: true}
	return []verdictMode{
		{name: "metrics only", target: metricsOnly, rps: verdictRPS, budgeted: true, sees: all, metricsOnly: true},
		{name: "log stream with aws-lambda-go's error line", target: fresh, rps: verdictRPS, budgeted: true, sees: all, fastHandled: true},
		{name: "log stream without the runtime's error line (metrics pass)", target: blind, rps: verdictRPS, budgeted: true, sees: all},
		// Probes count FunctionError only: blind to latency (the metrics
		// read beside them see it, but only after their delay).
		{name: "probes (20 of each version at 0 % and a check)", target: probes, rps: verdictRPS, budgeted: true,
			sees: map[failKind]bool{failHandled: true, failCrash: true}, fastHandled: true},
		// The same with the shortest bake the validator takes, so the
		// probes look every 15 s from the shift on.
		{name: "probes, 15 s bake", target: probes15, rps: verdictRPS, budgeted: true,
			sees: map[failKind]bool{failHandled: true, failCrash: true}, fastHandled: true},
		// The alarm reads Errors: blind to latency, which the metrics read
		// beside it see.
		{name: fmt.Sprintf("alarms: the sample's prod error-rate alarm (≥ %.0f %% of ≥ %d calls a minute), metrics beside", sampleAlarmThreshold*100, sampleAlarmMinCalls), target: alarms, rps: verdictRPS,
			alarmThreshold: sampleAlarmThreshold, budgeted: true, sees: all},
		{name: fmt.Sprintf("alarms: the same alarm at ≥ %.0f %%, metrics beside", fittedAlarmThreshold*100), target: alarms, rps: verdictRPS,
			alarmThreshold: fittedAlarmThreshold, budgeted: true, sees: all},
		{name: "log stream with the error line, low traffic (10 req/s, 1 to the canary)", target: fresh, rps: lowTrafficRPS, sees: all}}
}

// trialResult is one simulated canary's end.
type trialResult struct {
	promoted bool
	// atZero: stopped before the first weight (probes at 0 %, or an alarm
	// firing at the start); no user request reached the canary.
	atZero  bool
	after   time.Duration
	checks  int
	decided string
	// logCalls is how many FilterLogEvents calls the shift made.
	logCalls int
}

// codeDeployExposure is how long, in seconds weighted by the share of
// traffic, a broken version serves users under CodeDeploy's
// CodeDeployDefault.LambdaCanary10Percent5Minutes stopped by a CloudWatch
// alarm that fires at after: 10 % of the traffic for the first 5 minutes,
// then 100 % ("Working with deployment configurations in CodeDeploy",
// predefined configurations for the Lambda compute platform,
// https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html;
// TimeBasedCanary's canaryInterval is "the number of minutes between the
// first and second traffic shifts",
// https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_TimeBasedCanary.html),
// until the alarm stops it: "If any of the specified alarms are
// activated, the deployment stops" ("Monitoring deployments with
// CloudWatch alarms in CodeDeploy",
// https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-create-alarms.html),
// and rolls back with DEPLOYMENT_STOP_ON_ALARM (AutoRollbackConfiguration).
// How often CodeDeploy polls its alarms is not documented; it is taken as
// instant, which favours CodeDeploy.
func codeDeployExposure(after time.Duration) float64 {
	t := after.Seconds()
	return 0.10*min(t, 300) + max(0, t-300)
}

// codeDeployAlarmAt is when a 1-minute, 1-datapoint alarm on the
// canary's metric can fire after a shift at offset into its minute: the
// datapoint of the minute the shift falls in is published delay after the
// minute ends (the sandbox's rule), so at 60 s − offset + delay.
func codeDeployAlarmAt(offset, delay time.Duration) time.Duration {
	return time.Minute - offset + delay
}

func verdictFigures(r *report, trials int) {
	began := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "A canary at 10 %% of steady traffic (%d requests/s to prod, so about %d/s to the canary), %d trials per source of a healthy version (%.1f %% errors) and of each broken kind — handled errors (%.0f %%: no Status on REPORT, aws-lambda-go's error line instead), crashes (%.0f %%: Status: error), latency (every call %d× slower, health.maxP99LatencyRatio %d in every row) — against a stable version at %.1f %% errors, under the AWS-like metric delay (a minute's Lambda datapoints readable %s after the minute ends, the sandbox's default). "+
		"Simulated on a virtual clock driving the real shift code (shared/shift's Handler answering begin — probes at 0 %% and alarms at the start — then check-health, with the state machine's bake / check-health / bake-again loop replayed); see bench/verdicts.go.\n\n",
		verdictRPS, verdictRPS/10, trials, healthyErrorRate*100, brokenErrorRate*100, brokenErrorRate*100, slowFactor, latencyRatio, stableErrorRate*100, cwsvc.DefaultMetricDelay)
	b.WriteString("| source | canary | shift → verdict p50 / p95 (worst) | stopped at 0 % | false alarms | misses | decided by |\n|---|---|---:|---:|---:|---:|---|\n")
	var blast, reads strings.Builder
	reads.WriteString("| source | canary | FilterLogEvents calls per promotion: mean (most) | per promotion-minute (calls ÷ minutes from shift to verdict, over all trials) | checks per promotion: mean |\n|---|---|---:|---:|---:|\n")
	blast.WriteString("| source | canary | failed (slow) user requests per 1,000 req/s of prod: mean / worst | CodeDeploy Canary10Percent5Minutes + alarm: mean / worst | ratio (mean) | ≤ 1 % of CodeDeploy's? |\n|---|---|---:|---:|---:|---|\n")
	rng := rand.New(rand.NewPCG(10, 10))
	// CodeDeploy's alarm, on the same traffic: the shift falls uniformly
	// in its minute (as the trials' starts do).
	var cdMean, cdWorst float64
	for i := range 600 {
		cdMean += codeDeployExposure(codeDeployAlarmAt(time.Duration(i)*100*time.Millisecond, cwsvc.DefaultMetricDelay)) / 600
	}
	cdWorst = codeDeployExposure(codeDeployAlarmAt(0, cwsvc.DefaultMetricDelay))
	for _, m := range verdictModes() {
		t := m.target
		t.ApplyDefaults()
		if err := t.Validate("bench"); err != nil {
			r.section("10. Health verdicts", "not measured: "+m.name+": "+err.Error())
			return
		}
		falseAlarms := 0.0 // the healthy trials run first
		for _, kind := range []failKind{healthy, failHandled, failCrash, failSlow} {
			var res []trialResult
			for range trials {
				res = append(res, runTrial(t, m, kind, rng))
			}
			wrong, atZero := 0, 0
			var times []time.Duration
			var exposure, worstExposure float64
			by := map[string]int{}
			for _, x := range res {
				if x.promoted == (kind != healthy) {
					wrong++
				}
				if x.atZero {
					atZero++
				}
				times = append(times, x.after)
				by[x.decided]++
				if kind != healthy && !x.promoted {
					e := verdictWeight * x.after.Seconds()
					if x.atZero {
						e = 0
					}
					exposure += e / float64(trials)
					worstExposure = max(worstExposure, e)
				}
			}
			var decided []string
			for _, k := range slices.Sorted(maps.Keys(by)) {
				decided = append(decided, fmt.Sprintf("%s %d", k, by[k]))
			}
			// Misses are budgeted for every failure kind: a configuration the
			// validator accepts must stop every broken canary, whichever of
			// its sources sees it (probes do not see latency; the metrics
			// beside them do).
			budgeted := m.budgeted
			faText, missText := "", ""
			rate := float64(wrong) / float64(trials)
			label := m.name + " / " + kind.String()
			switch {
			case kind == healthy && budgeted:
				falseAlarms = rate
				faText = fmt.Sprintf("%d of %d, %s", wrong, trials, r.budget(label+" false alarms", rate <= 0.02, fmt.Sprintf("%.0f %% ≤ 2 %%", rate*100)))
			case kind == healthy:
				falseAlarms = rate
				faText = fmt.Sprintf("%d of %d (%.0f %%)", wrong, trials, rate*100)
			case budgeted:
				missText = fmt.Sprintf("%d of %d, %s", wrong, trials, r.budget(label+" misses", wrong == 0, "0 allowed"))
			case !m.sees[kind]:
				missText = fmt.Sprintf("%d of %d (the source cannot see it: shown, not budgeted)", wrong, trials)
			default:
				missText = fmt.Sprintf("%d of %d (shown, not budgeted)", wrong, trials)
			}
			worst := slices.Max(times)
			if m.target.Health.FreshSignal == config.FreshSignalLogs {
				calls, most, checks, minutes := 0, 0, 0, 0.0
				for _, x := range res {
					calls, most, checks, minutes = calls+x.logCalls, max(most, x.logCalls), checks+x.checks, minutes+x.after.Minutes()
				}
				fmt.Fprintf(&reads, "| %s | %s | %.1f (%d) | %.1f | %.1f |\n", m.name, kind, float64(calls)/float64(trials), most, float64(calls)/minutes, float64(checks)/float64(trials))
			}
			fmt.Fprintf(&b, "| %s | %s | %s / %s (%s) | %d | %s | %s | %s |\n", m.name, kind, secs(pctl(times, 0.5)), secs(pctl(times, 0.95)), secs(worst),
				atZero, faText, missText, strings.Join(decided, ", "))
			switch {
			case kind == failHandled && m.fastHandled && m.budgeted:
				fmt.Fprintf(&b, "| ↳ every handled-error canary rolled back within 60 s of the shift | | | | | | %s |\n",
					r.budget(m.name+" handled-error rollback time", worst <= freshRollbackBudg, fmt.Sprintf("worst %s ≤ 60 s", secs(worst))))
			case kind != healthy && m.metricsOnly && m.budgeted && m.sees[kind]:
				limit := time.Duration(t.Health.MetricDelaySeconds)*time.Second + time.Minute
				fmt.Fprintf(&b, "| ↳ every %s canary rolled back within health.metricDelaySeconds + 60 s | | | | | | %s |\n", kind,
					r.budget(m.name+" "+kind.String()+" rollback time", worst <= limit, fmt.Sprintf("worst %s ≤ %s", secs(worst), secs(limit))))
			}
			if kind == healthy {
				continue
			}
			// Per 1,000 requests/s of prod traffic.
			ours, oursWorst := exposure*kind.affected()*1000, worstExposure*kind.affected()*1000
			cd, cdw := cdMean*kind.affected()*1000, cdWorst*kind.affected()*1000
			ratio := ours / cd
			meets := "no"
			if ratio <= 0.01 {
				meets = "yes"
			}
			switch {
			case wrong > 0:
				meets = fmt.Sprintf("no: %d of %d promoted, serving it to all traffic", wrong, trials)
			case falseAlarms > 0.02:
				meets += fmt.Sprintf(", but only as it refuses healthy versions too (%.0f %% false alarms)", falseAlarms*100)
			}
			fmt.Fprintf(&blast, "| %s | %s | %.0f / %.0f | %.0f / %.0f | %.1f %% | %s |\n", m.name, kind, ours, oursWorst, cd, cdw, ratio*100, meets)
		}
	}
	b.WriteString("\nAt 1 call a second to the canary, 60 s hold about 60 calls; a test that keeps false alarms near 1 % cannot also catch a 20 % error rate every time on so few, which the low-traffic row shows: the budgets are met at 5 calls a second.\n")
	b.WriteString("\nSources: the metrics (Errors/Invocations and p99 Duration by ExecutedVersion) see everything, minutes late. The log stream (YYYY/MM/DD/[version]…) shows crashes and timeouts on REPORT lines and latency in their Duration; a handled error (a Go handler's returned error) completes the invocation with no Status, so the logs see it only through the runtime's error line (health.logRuntime; aws-lambda-go's reportFailure line here) and without it leave handled errors to the metrics. Probes (Invoke of each version, FunctionError counted) see handled errors and crashes at once, for the inputs they send, and nothing of latency. An alarm on the error rate sees what the metrics see, as late; the sample stack's alarm counts the stable version's calls and errors too (it watches the prod alias, every version behind it), so a 10 % canary failing a fifth of its calls moves it only to about 2.1 %: at its default 5 % it guards prod as a whole and leaves the canary to the metrics beside it.\n")
	fmt.Fprintf(&b, "\n**Blast radius**: the user requests each broken canary failed (for the latency kind: served slowly) before rollback, per 1,000 requests/s of prod traffic: canary weight (10 %%) × the canary's failed share × time at weight, mean over the trials and the worst; a canary stopped by probes at 0 %% served none, a promoted one is a miss. "+
		"Beside it CodeDeploy's CodeDeployDefault.LambdaCanary10Percent5Minutes (10 %% for 5 minutes, then 100 %%: https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html) stopped by a CloudWatch alarm on the canary's errors (\"If any of the specified alarms are activated, the deployment stops\": https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-create-alarms.html; rolled back with DEPLOYMENT_STOP_ON_ALARM): a 1-minute period, 1-datapoint alarm fires once the datapoint of the minute the shift falls in is published, %s after that minute ends, so %s–%s after the shift (mean %s), with CodeDeploy taken to react at once. The goal is at most 1 %% of CodeDeploy's figure.\n\n",
		cwsvc.DefaultMetricDelay, secs(cwsvc.DefaultMetricDelay), secs(cwsvc.DefaultMetricDelay+time.Minute), secs(cwsvc.DefaultMetricDelay+30*time.Second))
	b.WriteString(blast.String())
	b.WriteString("\nThe log source's reads (CloudWatch Logs allows FilterLogEvents 5 times a second per account and Region, shared by every baking promotion); the shift reads each step's log group from where the last check stopped, one page here:\n\n")
	b.WriteString(reads.String())
	fmt.Fprintf(&b, "\nTests: exact one-sided binomial test against the stable version's rate + 5 %% allowance to fail (1 %% level), Clopper–Pearson 99 %% upper bound within it and ≥ 20 invocations to pass, p99 duration above %d× the stable version's to fail; the log stream is first read 15 s after the shift, then at the end of the bake; inconclusive bakes again (15 s with the runtime's error line or probes, until the next minute is published when only the metrics can pass a step). Simulated in %s of wall time.\n", latencyRatio, time.Since(began).Round(time.Millisecond))
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

// runTrial begins a shift of 10 % of prod to a version of the given kind
// and replays the definition until the verdict: BeginShift (probes at
// 0 %, alarms at the start), then bake / check-health / bake again.
func runTrial(t config.Target, m verdictMode, kind failKind, rng *rand.Rand) trialResult {
	return runTrialAt(t, m, kind, rng, time.Duration(rng.IntN(60_000))*time.Millisecond)
}

// runTrialAt is runTrial with the shift offset into its minute.
func runTrialAt(t config.Target, m verdictMode, kind failKind, rng *rand.Rand, offset time.Duration) trialResult {
	// Just after midnight would cross a day; the streams' day prefix is
	// covered by the check reading the day before too.
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC).Add(offset)
	w := &simWorld{now: start, delay: cwsvc.DefaultMetricDelay, rng: rng, rps: m.rps, kind: kind, alarmThreshold: m.alarmThreshold,
		minutes: map[string]map[time.Time]*simCounts{}, reports: map[string][]simReport{}}
	// Steady traffic before the shift: the stable version only.
	w.serve(start.Add(-5*time.Minute), start, 0)
	clock := func() time.Time { return w.now }
	rec := audit.New(slog.New(slog.DiscardHandler), nil, &audit.Options{Now: clock})
	// The promotion definition runs on the sandbox's interpreter: the shift
	// runs only what the execution scheduled, and each answer takes the
	// definition where the Lambda's would (extend: bake again).
	pm, err := newTrialMachine(start)
	if err != nil {
		return trialResult{decided: "could not be judged: " + err.Error()}
	}
	defer pm.close()
	pm.h = shift.New(simLambda{w: w}, w, pm.sfn, rec, metrics.New(io.Discard, clock), &shift.Options{Now: clock, Logs: w})
	steps := []promotion.Step{{Weight: verdictWeight, BakeSeconds: t.Strategy.BakeSeconds}}
	if err := pm.start(promotion.Input{Function: "hello", Version: "2", PreviousStgVersion: "1", Target: t, Steps: steps}); err != nil {
		return trialResult{decided: "could not be judged: " + err.Error()}
	}
	v, ok := within(pm.verdicts) // BeginShift
	if !ok {
		return trialResult{decided: "could not be judged: the execution never began the shift"}
	}
	if v.err != nil {
		return trialResult{atZero: true, decided: decidedBy(v.err.Error())}
	}
	s := v.shift
	checks := 0
	for {
		// The Bake waits for its token until its timeout: the bake's
		// traffic runs, then the interpreter's clock passes the timeout.
		if _, ok := within(pm.baking); !ok {
			return trialResult{after: w.now.Sub(start), checks: checks, decided: "could not be judged: the execution never baked", logCalls: w.logCalls}
		}
		w.serve(w.now, w.now.Add(time.Duration(s.BakeSeconds)*time.Second), verdictWeight)
		checks++
		v, ok := pm.timeOut(time.Duration(s.BakeSeconds) * time.Second)
		switch {
		case !ok:
			return trialResult{after: w.now.Sub(start), checks: checks, decided: "could not be judged: no health check after the bake", logCalls: w.logCalls}
		case v.err != nil:
			return trialResult{after: w.now.Sub(start), checks: checks, decided: decidedBy(v.err.Error()), logCalls: w.logCalls}
		case v.shift.Extend:
			s = v.shift
		default:
			return trialResult{promoted: true, after: w.now.Sub(start), checks: checks, decided: decidedBy(v.shift.Verdict), logCalls: w.logCalls}
		}
	}
}

// trialMachine is the promotion state machine of one trial, deployed on
// the sandbox's Step Functions with a manual clock. Its task calls are
// answered as the pipeline's functions would: the smoke test passes, the
// approval is granted at once, the shift's begin and check-health run the
// shift Handler h (their answers also go to verdicts), and its other
// actions (set-weight, bake, finalize, rollback, abort) only succeed — the
// simulation moves no alias.
type trialMachine struct {
	clock *statestest.Clock
	svc   *states.Service
	srv   *httptest.Server
	sfn   *sfn.Client
	arn   string
	h     *shift.Handler
	// baking receives each Bake's token once its task waits.
	baking   chan string
	verdicts chan trialVerdict
}

// trialVerdict is the shift Handler's answer to begin or check-health.
type trialVerdict struct {
	shift *promotion.Shift
	err   error
}

func newTrialMachine(start time.Time) (*trialMachine, error) {
	m := &trialMachine{clock: statestest.NewClock(start), baking: make(chan string, 1), verdicts: make(chan trialVerdict, 1)}
	m.svc = states.New(m, &states.Options{Now: m.clock.Now, AfterFunc: m.clock.AfterFunc, Random: func() float64 { return 0.5 },
		Logger: slog.New(slog.DiscardHandler)})
	m.srv = httptest.NewServer(m.svc)
	m.sfn = sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.srv.URL), HTTPClient: awsenv.LoopbackOnlyClient(),
		Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", "")})
	def := statemachine.Definition
	for k, v := range map[string]string{
		statemachine.SmokeTestFunctionArn: deploy.SmokeTestFunction, statemachine.ApprovalFunctionArn: deploy.ApprovalFunction,
		statemachine.ShiftFunctionArn: deploy.ShiftFunction, statemachine.ApprovalURL: "http://127.0.0.1/approve",
	} {
		if k != statemachine.ApprovalURL {
			v = "arn:aws:lambda:us-east-1:000000000000:function:" + v
		}
		def = strings.ReplaceAll(def, "${"+k+"}", v)
	}
	arn, err := m.svc.CreateStateMachine(deploy.StateMachine, def, "arn:aws:iam::000000000000:role/bench")
	if err != nil {
		m.close()
		return nil, fmt.Errorf("deploy the promotion definition: %w", err)
	}
	m.arn = arn
	return m, nil
}

func (m *trialMachine) close() {
	m.svc.Close()
	m.srv.Close()
}

// start starts the trial's execution of in.
func (m *trialMachine) start(in promotion.Input) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	_, err = m.svc.StartExecution(context.Background(), m.arn, "bench", string(raw))
	return err
}

// stuck bounds each wait for the interpreter: far more than a trial's
// execution needs, so that a definition that goes elsewhere fails the
// trial rather than hanging the bench.
const stuck = 30 * time.Second

// within receives from c, or reports false after stuck.
func within[T any](c <-chan T) (T, bool) {
	select {
	case v := <-c:
		return v, true
	case <-time.After(stuck):
		var zero T
		return zero, false
	}
}

// timeOut moves the interpreter's clock past the waiting Bake's timeout d,
// and on a second at a time until the health check has answered (the
// interpreter sets the timer from its own goroutine, maybe after the
// first move).
func (m *trialMachine) timeOut(d time.Duration) (trialVerdict, bool) {
	m.clock.Advance(d)
	limit := time.After(stuck)
	for {
		select {
		case v := <-m.verdicts:
			return v, true
		case <-limit:
			return trialVerdict{}, false
		case <-time.After(time.Millisecond):
			m.clock.Advance(time.Second)
		}
	}
}

// Invoke implements core.Invoker: it answers the definition's task calls.
func (m *trialMachine) Invoke(ctx context.Context, _, _ string, payload []byte) (core.InvokeResult, error) {
	var req promotion.TaskRequest
	if err := json.Unmarshal(payload, &req); err != nil {
		return core.InvokeResult{}, fmt.Errorf("bench: the payload is not a promotion.TaskRequest: %w", err)
	}
	var out any = map[string]any{}
	switch req.Action {
	case promotion.ActionSmoke:
		out = promotion.SmokeResult{Passed: true, Checks: []promotion.CheckResult{{Name: "greets", Passed: true, Attempts: 1}}}
	case promotion.ActionRequest:
		// The approver decides at once.
		decision, _ := json.Marshal(promotion.Decision{Approved: true, Approver: "bench@example.com", Via: "link", DecidedAt: m.clock.Now()})
		go func() { _ = m.svc.SendTaskSuccess(context.Background(), req.TaskToken, string(decision)) }()
	case promotion.ActionSetWeight:
		// The shift function returns the shift with prod as its write left
		// it (SetWeight's ResultSelector reads every field); no alias here.
		out = req.Promotion.Shift
	case promotion.ActionBake:
		m.baking <- req.TaskToken
	case promotion.ActionBegin, promotion.ActionCheckHealth:
		s, err := m.h.Handle(ctx, req)
		m.verdicts <- trialVerdict{s, err}
		if err != nil {
			return functionError(err), nil
		}
		out = s
	}
	b, err := json.Marshal(out)
	if err != nil {
		return core.InvokeResult{}, err
	}
	return core.InvokeResult{Payload: b, ExecutedVersion: "$LATEST"}, nil
}

// functionError is the function error aws-lambda-go reports for err
// (lambda/errors.go: an InvokeResponse_Error as it is, any other error
// typed by its Go type's name).
func functionError(err error) core.InvokeResult {
	ive, ok := err.(messages.InvokeResponse_Error)
	if !ok {
		typ := reflect.TypeOf(err)
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		ive = messages.InvokeResponse_Error{Message: err.Error(), Type: typ.Name()}
	}
	b, _ := json.Marshal(map[string]string{"errorType": ive.Type, "errorMessage": ive.Message})
	return core.InvokeResult{Payload: b, FunctionError: "Unhandled", ExecutedVersion: "$LATEST"}
}

// decidedBy names the evidence a verdict line starts with after its outcome.
func decidedBy(line string) string {
	for _, src := range []struct{ in, name string }{
		{"before any traffic moved", "alarm firing at the start"},
		{"no traffic moved", "probes at 0 %"},
		{"is in ALARM", "alarms"},
		{"p99 duration", "latency"},
		{"probes:", "probes"}, {"logs:", "logs"}, {"metrics:", "metrics"},
		{"still inconclusive", "still inconclusive"}, {"could not be judged", "could not be judged"},
	} {
		if strings.Contains(line, src.in) {
			return src.name
		}
	}
	return "other"
}

type simCounts struct {
	invocations, errors float64
	durations           []float64 // ms
}

type simReport struct {
	at       time.Time
	failed   bool
	duration float64 // ms
}

// simWorld is the simulated prod traffic, as CloudWatch and CloudWatch Logs
// serve it to the shift's health check.
type simWorld struct {
	now   time.Time
	delay time.Duration
	rps   int
	kind  failKind // the new version's
	// alarmThreshold is the simulated error-rate alarm's (0: no alarm).
	alarmThreshold float64
	mu             sync.Mutex // the probes of both versions run at once
	rng            *rand.Rand
	minutes        map[string]map[time.Time]*simCounts // version → minute → counts
	reports        map[string][]simReport              // version → REPORT lines
	logCalls       int                                 // FilterLogEvents calls answered
}

// duration draws a call's duration: about 20 ms with a spread, slowFactor
// times that for a slow version.
func (w *simWorld) duration(v string) float64 {
	d := 20 * math.Exp(0.25*w.rng.NormFloat64())
	if v == "2" && w.kind == failSlow {
		d *= slowFactor
	}
	return d
}

// serve runs steady traffic from from to to and moves the clock to to.
func (w *simWorld) serve(from, to time.Time, weight float64) {
	for at := from; at.Before(to); at = at.Add(time.Second / time.Duration(w.rps)) {
		v, rate := "1", stableErrorRate
		if w.rng.Float64() < weight {
			v, rate = "2", w.kind.errRate()
		}
		failed := w.rng.Float64() < rate
		dur := w.duration(v)
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
		c.durations = append(c.durations, dur)
		if failed {
			c.errors++
		}
		w.reports[v] = append(w.reports[v], simReport{at, failed, dur})
	}
	w.now = to
}

// published is the first minute whose datapoints are not readable yet.
func (w *simWorld) published() time.Time { return w.now.Add(-w.delay).Truncate(time.Minute) }

// DescribeAlarms answers the target's alarm as CloudWatch evaluates the
// sample stack's: the error rate of the prod alias (every version behind
// it) in the last published minute, 0 for a minute of fewer than
// sampleAlarmMinCalls calls, ALARM at ≥ the threshold, missing data not
// breaching.
func (w *simWorld) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	out := &cloudwatch.DescribeAlarmsOutput{}
	if w.alarmThreshold == 0 || !slices.Contains(in.AlarmNames, sampleAlarm) {
		return out, nil
	}
	last := w.published().Add(-time.Minute)
	errs, calls := 0.0, 0.0
	for _, m := range w.minutes {
		if c := m[last]; c != nil {
			errs, calls = errs+c.errors, calls+c.invocations
		}
	}
	rate := 0.0
	if calls >= sampleAlarmMinCalls {
		rate = errs / calls
	}
	state, reason := cwtypes.StateValueOk, fmt.Sprintf("Threshold Crossed: 1 datapoint [%.4g] was not greater than or equal to the threshold (%.4g).", rate, w.alarmThreshold)
	if rate >= w.alarmThreshold {
		state, reason = cwtypes.StateValueAlarm, fmt.Sprintf("Threshold Crossed: 1 datapoint [%.4g] was greater than or equal to the threshold (%.4g).", rate, w.alarmThreshold)
	}
	out.MetricAlarms = []cwtypes.MetricAlarm{{AlarmName: aws.String(sampleAlarm), StateValue: state, StateReason: aws.String(reason),
		StateUpdatedTimestamp: aws.Time(last.Add(time.Minute + w.delay))}}
	return out, nil
}

// GetMetricData answers per minute the published minutes of each query's
// version (Sum of Errors or Invocations, p99 of Duration; 60 s periods).
func (w *simWorld) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	out := &cloudwatch.GetMetricDataOutput{}
	cut := w.published()
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
			var v float64
			switch aws.ToString(q.MetricStat.Metric.MetricName) {
			case "Errors":
				v = c.errors
			case "Invocations":
				v = c.invocations
			case "Duration":
				d := slices.Sorted(slices.Values(c.durations))
				v = d[max(0, int(math.Ceil(0.99*float64(len(d))))-1)]
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
	w.logCalls++
	for _, version := range slices.Sorted(maps.Keys(w.reports)) {
		for _, rp := range w.reports[version] {
			ms := rp.at.UnixMilli()
			if ms < aws.ToInt64(in.StartTime) || ms > aws.ToInt64(in.EndTime) {
				continue
			}
			stream := aws.String(rp.at.Format("2006/01/02") + "/[" + version + "]sim")
			line := fmt.Sprintf("REPORT RequestId: r\tDuration: %.2f ms\tBilled Duration: %.0f ms\tMemory Size: 128 MB\tMax Memory Used: 32 MB", rp.duration, math.Ceil(rp.duration))
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
	w *simWorld
	// Provisioned is nil: the simulated plans have no warm step.
	shift.Provisioned
}

// GetAlias: begin reads stg (the new version 2) and prod (the stable 1).
func (simLambda) GetAlias(_ context.Context, in *lambda.GetAliasInput, _ ...func(*lambda.Options)) (*lambda.GetAliasOutput, error) {
	v := "1"
	if aws.ToString(in.Name) == promotion.AliasStg {
		v = "2"
	}
	return &lambda.GetAliasOutput{Name: in.Name, FunctionVersion: aws.String(v),
		AliasArn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:hello:" + aws.ToString(in.Name))}, nil
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
		rate = l.w.kind.errRate()
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
