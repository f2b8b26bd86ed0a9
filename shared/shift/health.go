package shift

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// metricPeriod is the GetMetricData period. Lambda's metrics are standard
// resolution, for which CloudWatch accepts only multiples of 60 seconds; one
// minute keeps the window close to what was asked, and every datapoint
// returned is summed.
const metricPeriod = 60

// describeBatch is the most alarm names DescribeAlarms takes at once.
const describeBatch = 100

// checkHealth judges the new version after a bake (verdict.go) and returns
// the next step, the same step extended while the evidence is
// inconclusive, or a TaskError(ErrHealthCheckFailed) that the definition
// catches to roll back.
func (t *task) checkHealth(ctx context.Context) (*promotion.Shift, error) {
	// Defaults for fields a definition started before they existed lacks.
	target := t.p.Target
	target.ApplyDefaults()
	t.p.Target = target
	fn, n, s, h := t.p.Function, t.p.Version, t.p.Shift, target.Health
	// The analysis that judges this weight, with its own criteria (a
	// preset's are the target's health settings).
	pl := t.p.Rollout()
	at := pl.AnalysisOf(s.Step)
	a := pl.Steps[at].Analysis
	h.MaxErrorRate, h.MinInvocations = a.MaxErrorRate, a.MinInvocations
	skip := t.p.Bake.Skip()
	hold := t.p.Bake != nil && t.p.Bake.Hold
	if hold {
		t.record(ctx, audit.Record{Event: audit.PromotionPaused, Alias: promotion.AliasProd, Actor: t.p.Bake.Actor,
			FromVersion: s.StableVersion, ToVersion: n, Weight: audit.Weight(s.Weight),
			Reason: fmt.Sprintf("paused at %s by %s (aliasflow pause); health checked first, then prod holds until resumed", alias.Percent(s.Weight), t.p.Bake.Actor)})
	}
	if skip != plan.SkipNone {
		// A human override, recorded whatever health says next.
		what := "promote: past this step only, the next step's checks still apply"
		if skip == plan.SkipFull {
			what = "promote --full: every remaining step skipped, an inconclusive verdict accepted"
		}
		t.record(ctx, audit.Record{Event: audit.BakeSkipped, Alias: promotion.AliasProd, Actor: t.p.Bake.Actor,
			FromVersion: s.StableVersion, ToVersion: n, Weight: audit.Weight(s.Weight),
			Reason: fmt.Sprintf("bake at %s ended early by %s (%s); health checked next", alias.Percent(s.Weight), t.p.Bake.Actor, what)})
	}
	now := t.now().UTC()
	// The step's exposure began when its bake did: the bakes of this step
	// so far, counted back from now.
	stepStart := now.Add(-time.Duration(s.BakedSeconds+s.BakeSeconds) * time.Second)
	need := stepStart.Add(time.Duration(a.BakeSeconds) * time.Second)
	d, progress, err := t.judge(ctx, a, stepStart, now, need)
	if err != nil {
		if next := t.unread(ctx, err, now, need); next != nil {
			return next, nil
		}
		return nil, fmt.Errorf("check health: %w", err)
	}
	t.log.InfoContext(ctx, "health verdict", "function", fn, "version", n, "outcome", d.Outcome,
		"decidedBy", d.DecidedBy, "reason", d.Reason)
	rec := audit.Record{Alias: promotion.AliasProd, FromVersion: s.StableVersion, ToVersion: n,
		Weight: audit.Weight(s.Weight), Reason: d.Reason, Verdict: &d.Verdict}
	promoteAnyway := false
	switch d.Outcome {
	case Unhealthy:
		rec.Event = audit.HealthFailed
		t.recordVerdict(ctx, rec)
		return nil, promotion.TaskError(promotion.ErrHealthCheckFailed,
			"%s is unhealthy at %s: %s", t.subject(), alias.Percent(s.Weight), d.Reason)
	case Inconclusive:
		baked := s.BakedSeconds + s.BakeSeconds
		if skip != plan.SkipNone || hold {
			break // an operator ended the bake; they own the call
		}
		// The bakes this step may still take: up to health.maxBakeSeconds,
		// and within the execution history's budget (config.BakeRounds),
		// so an execution never fails on Step Functions' event limit with
		// prod left weighted.
		steps := len(pl.Weights())
		rounds := config.BakeRounds(steps)
		remaining := h.MaxBakeSeconds - baked
		historyLeft := s.Extensions+1 < rounds
		lean := leaning(d.Sources)
		accept := h.OnInconclusive == config.OnInconclusivePromote && lean == ""
		next := plan.Next(pl, at, plan.Facts{Outcome: plan.Inconclusive, Again: remaining > 0 && historyLeft, AcceptInconclusive: accept})
		if next.Again {
			ext := min(remaining, extension(h, need, now))
			rec.Event = audit.HealthInconclusive
			rec.Reason = fmt.Sprintf("inconclusive after %ds, baking %ds more (at most %ds): %s", baked, ext, h.MaxBakeSeconds, d.Reason)
			if !now.Before(need) {
				// A look before the step's bake is over (firstLook) that
				// found no harm is no verdict: the trail records the step's
				// checks from its bake's end on, as before.
				t.recordVerdict(ctx, rec)
			}
			return &promotion.Shift{StableVersion: s.StableVersion, Step: s.Step, Weight: s.Weight,
				BakeSeconds: ext, BakedSeconds: baked, Extend: true, Extensions: s.Extensions + 1,
				Kind: string(next.Kind), Position: next.Position,
				Verdict: waiting(d, h, baked, remaining) + " — " + d.Reason, Logs: progress.logs, Probes: progress.probes}, nil
		}
		limit := fmt.Sprintf("after %ds (health.maxBakeSeconds)", baked)
		if !historyLeft {
			limit = fmt.Sprintf("after %d bakes of this step, all the %d steps allow within Step Functions' %d-event history", s.Extensions+1, steps, config.HistoryLimit)
		}
		if next.Kind == plan.KindRollback {
			d.Outcome, d.DecidedBy = Unhealthy, "health.maxBakeSeconds"
			why := fmt.Sprintf("still inconclusive %s; rolling back", limit)
			if h.OnInconclusive == config.OnInconclusivePromote {
				why = fmt.Sprintf("still inconclusive %s; not promoted although health.onInconclusive is promote, because %s; rolling back", limit, lean)
			}
			rec.Event, rec.Reason = audit.HealthFailed, why+": "+d.Reason
			t.recordVerdict(ctx, rec)
			return nil, promotion.TaskError(promotion.ErrHealthCheckFailed,
				"%s could not be judged at %s %s: %s", t.subject(), alias.Percent(s.Weight), limit, d.Reason)
		}
		promoteAnyway = true
		rec.Reason = fmt.Sprintf("still inconclusive %s; health.onInconclusive is promote: %s", limit, d.Reason)
	}
	rec.Event = audit.HealthPassed
	if promoteAnyway || d.Outcome == Inconclusive {
		rec.Event = audit.HealthInconclusive
	}
	t.recordVerdict(ctx, rec)
	if skip != plan.SkipNone {
		t.log.InfoContext(ctx, "bake ended by an operator", "function", fn, "version", n, "actor", t.p.Bake.Actor, "skip", string(skip))
	}
	if hold {
		// Held at this weight in the Pause state until resumed, at most as
		// long as an approval may wait (then rolled back).
		target := t.p.Target
		target.ApplyDefaults()
		return &promotion.Shift{StableVersion: s.StableVersion, Step: s.Step, Weight: s.Weight, BakeSeconds: target.ApprovalTimeoutSeconds,
			Extensions: s.Extensions, Kind: promotion.ShiftHold, Position: at, Verdict: string(d.Outcome) + ": " + rec.Reason}, nil
	}
	outcome := plan.Passed
	if rec.Event == audit.HealthInconclusive {
		outcome = plan.Inconclusive
	}
	next := plan.Next(pl, at, plan.Facts{Outcome: outcome, AcceptInconclusive: promoteAnyway, Skip: skip})
	return t.shiftTo(ctx, pl, next, promotion.Shift{StableVersion: s.StableVersion, Verdict: string(d.Outcome) + ": " + rec.Reason})
}

// judgeOne judges this function's new version over the step so far: its
// alarms, then the evidence of each source (decide), h carrying the
// analysis's criteria.
func (t *task) judgeOne(ctx context.Context, h config.Health, stepStart, now, need time.Time) (decision, progress, error) {
	alarmReasons, err := t.alarmReasons(ctx, stepStart)
	if err != nil {
		return decision{}, progress{}, err
	}
	sources, pg, err := t.evidence(ctx, stepStart, now)
	if err != nil {
		return decision{}, pg, err
	}
	d := decide(h, need, sources)
	if len(alarmReasons) > 0 {
		d.Outcome, d.DecidedBy = Unhealthy, "alarms"
		d.Reason = strings.Join(append(alarmReasons, d.Reason), "; ")
	}
	return d, pg, nil
}

// unread is the step baking again because its evidence could not be read
// for a reason that passes — a throttled or timed-out read (AWS's request
// quotas: FilterLogEvents 5 TPS, DescribeAlarms 9 TPS per account and
// Region, shared by every baking promotion): throttling is never a
// verdict. The step checks again after a pause spaced by the quota
// (spacedByQuota: at least the floor 200 baking promotions need) and spread
// per promotion, within
// the same bounds as an inconclusive verdict (health.maxBakeSeconds and
// the history's rounds); nil when those are spent or err does not pass,
// and the task fails as before.
func (t *task) unread(ctx context.Context, err error, now, need time.Time) *promotion.Shift {
	s, h := t.p.Shift, t.p.Target.Health
	if !promotion.IsTransient(err) || t.p.Bake.Skip() != plan.SkipNone {
		return nil
	}
	baked := s.BakedSeconds + s.BakeSeconds
	remaining := h.MaxBakeSeconds - baked
	if remaining <= 0 || s.Extensions+1 >= config.BakeRounds(len(t.p.Rollout().Weights())) {
		return nil
	}
	// 15–29 s, the same for a promotion's every round and spread across
	// promotions, so throttled checks do not come back together.
	jitter := int(crc32.ChecksumIEEE([]byte(t.req.Execution)) % minExtension)
	ext := spacedByQuota(h, t.req.Execution, max(extension(h, need, now), minExtension+jitter), remaining)
	reason := fmt.Sprintf("evidence not read (%s); checking again in %ds (at most %ds of baking, %ds left)",
		clip(errorMessage(err), 200), ext, h.MaxBakeSeconds, remaining)
	t.log.WarnContext(ctx, "health evidence not read; baking again", "function", t.p.Function, "version", t.p.Version, "error", err)
	t.record(ctx, audit.Record{Event: audit.HealthInconclusive, Alias: promotion.AliasProd, FromVersion: s.StableVersion,
		ToVersion: t.p.Version, Weight: audit.Weight(s.Weight), Reason: reason})
	return &promotion.Shift{StableVersion: s.StableVersion, Step: s.Step, Weight: s.Weight,
		BakeSeconds: ext, BakedSeconds: baked, Extend: true, Extensions: s.Extensions + 1,
		Kind: string(plan.KindAnalysis), Position: t.p.Rollout().AnalysisOf(s.Step),
		Verdict: string(Inconclusive) + ": " + reason, Logs: s.Logs, Probes: s.Probes}
}

// leaning says why the evidence, though inconclusive, leans towards harm
// ("" when it does not): a source showing the new version's error rate
// above its limit so far. health.onInconclusive promote lets a step
// through for want of evidence, never against it.
func leaning(sources []audit.Evidence) string {
	for _, ev := range sources {
		if ev.NewInvocations > 0 && ev.NewErrors/ev.NewInvocations > ev.ErrorRateLimit {
			return fmt.Sprintf("%s shows %s errors / %s calls of version %s, above the limit %s",
				ev.Source, num(ev.NewErrors), num(ev.NewInvocations), ev.NewVersion, alias.Percent(ev.ErrorRateLimit))
		}
	}
	return ""
}

// waiting says in words why a step bakes again: how many of the calls the
// test needs a source that sees handled errors has read, how long the step
// may still bake and what happens then — e.g. "inconclusive: 12 of ≈90
// error-free calls of version 5 so far (logs); baking up to 15m (3m left),
// then rollback".
func waiting(d decision, h config.Health, baked, remaining int) string {
	var best *audit.Evidence
	for i := range d.Sources {
		ev := &d.Sources[i]
		if ev.SeesHandledErrors && (best == nil || ev.NewInvocations > best.NewInvocations) {
			best = ev
		}
	}
	var b strings.Builder
	b.WriteString(string(Inconclusive) + ": ")
	switch {
	case best == nil:
		b.WriteString("no source that sees handled errors has been read")
	case best.CallsNeeded == 0:
		fmt.Fprintf(&b, "%s calls of version %s so far (%s); no number of calls passes a limit of 0", num(best.NewInvocations), best.NewVersion, best.Source)
	default:
		fmt.Fprintf(&b, "%s of ≈%d error-free calls of version %s so far (%s", num(best.NewInvocations), best.CallsNeeded, best.NewVersion, best.Source)
		if best.NewErrors > 0 {
			fmt.Fprintf(&b, ", %s failed", num(best.NewErrors))
		}
		if !best.Covered {
			fmt.Fprintf(&b, ", complete through %s", clock(best.FreshThrough))
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, "; baking up to %s (%s left), then %s", span(h.MaxBakeSeconds), span(max(0, remaining)), h.OnInconclusive)
	return b.String()
}

// span prints seconds as "15m", "90s", "1h30m".
func span(sec int) string {
	d := time.Duration(sec) * time.Second
	switch {
	case sec < 120:
		return fmt.Sprintf("%ds", sec)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", sec/3600)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", sec/3600, (sec%3600)/60)
	}
	return fmt.Sprintf("%dm", (sec+30)/60)
}

// extension is how much longer an inconclusive step bakes: when the
// verdict wants its next evidence. On the log streams, after their first
// look (firstLook), until the step's bake is over (need), when it can
// first pass. Then, when only the metrics can pass the step (no probes,
// and no log stream read with the runtime's error line), until the next
// minute is published (a minute's datapoints are readable
// health.metricDelaySeconds after it ends), so each check reads one more
// minute the moment it can — a published minute showing harm is read at
// once, rather than up to a minute later — and the logs are not read four
// times a minute for nothing. Else minExtension.
func extension(h config.Health, need, now time.Time) int {
	if h.FreshSignal == config.FreshSignalLogs && now.Before(need) {
		return max(minExtension, int(math.Ceil(need.Sub(now).Seconds())))
	}
	if !h.SeesHandledErrorsFresh() {
		delay := time.Duration(h.MetricDelaySeconds) * time.Second
		next := now.Add(-delay).Truncate(time.Minute).Add(time.Minute + delay)
		return min(60, max(minExtension, int(next.Sub(now).Seconds())+1))
	}
	return minExtension
}

// firstLook is how long a step bakes before its first health check. The
// log streams show a broken version's first failed calls within seconds
// (a failure rate far above the limit is significant after a few dozen
// calls), so with them a step of at least twice minExtension is first
// checked after minExtension — the failed calls a broken canary serves
// end there — and then at the end of its bake (extension), when it can
// pass. Checks stay minExtension apart at least, as when a step bakes
// again. Other sources look at the end of the bake: the metrics have
// nothing to show sooner, and probes stop a broken version at 0 %.
func firstLook(h config.Health, bake int) int {
	if h.FreshSignal == config.FreshSignalLogs && bake >= 2*minExtension {
		return minExtension
	}
	return bake
}

// minExtension is the shortest extra bake, in seconds.
const minExtension = 15

// alarmState is one alarm as DescribeAlarms reports it.
type alarmState struct {
	value, reason string
	since         time.Time
	composite     bool
}

// describeAlarms reads the target's alarms, metric and composite, by name.
// DescribeAlarms returns only metric alarms unless AlarmTypes asks for
// composite ones too, and needs cloudwatch:DescribeAlarms on "*" to return
// them (DescribeAlarms, CloudWatch API reference).
func (t *task) describeAlarms(ctx context.Context) (map[string]alarmState, error) {
	names := t.p.Target.Health.Alarms
	found := map[string]alarmState{}
	for start := 0; start < len(names); start += describeBatch {
		in := &cloudwatch.DescribeAlarmsInput{
			AlarmNames: names[start:min(start+describeBatch, len(names))],
			AlarmTypes: []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm},
		}
		for {
			out, err := t.cw.DescribeAlarms(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("describe alarms: %w", err)
			}
			for _, a := range out.MetricAlarms {
				found[aws.ToString(a.AlarmName)] = alarmState{string(a.StateValue), aws.ToString(a.StateReason), aws.ToTime(a.StateUpdatedTimestamp), false}
			}
			for _, a := range out.CompositeAlarms {
				since := aws.ToTime(a.StateTransitionedTimestamp)
				if since.IsZero() {
					since = aws.ToTime(a.StateUpdatedTimestamp)
				}
				found[aws.ToString(a.AlarmName)] = alarmState{string(a.StateValue), aws.ToString(a.StateReason), since, true}
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	return found, nil
}

// alarmReasons lists the configured alarms that are in ALARM or that do not
// exist: a misspelt alarm name must not pass silently. INSUFFICIENT_DATA
// passes; a new alarm starts there. When the target allows alarms firing at
// the start, one in ALARM since before stepStart is not the new version's
// doing and is only logged.
func (t *task) alarmReasons(ctx context.Context, stepStart time.Time) ([]string, error) {
	names := t.p.Target.Health.Alarms
	if len(names) == 0 {
		return nil, nil
	}
	found, err := t.describeAlarms(ctx)
	if err != nil {
		return nil, err
	}
	var reasons []string
	for _, name := range names {
		st, ok := found[name]
		switch {
		case !ok:
			reasons = append(reasons, fmt.Sprintf("alarm %q does not exist", name))
		case st.value == string(types.StateValueAlarm):
			if t.p.Target.Health.AllowAlarmsFiringAtStart && !st.since.IsZero() && st.since.Before(stepStart) {
				t.log.InfoContext(ctx, "alarm in ALARM since before the step; not held against the new version",
					"alarm", name, "since", st.since)
				continue
			}
			reasons = append(reasons, alarmLine(name, st))
		}
	}
	return reasons, nil
}

func alarmLine(name string, st alarmState) string {
	kind := "alarm"
	if st.composite {
		kind = "composite alarm"
	}
	r := fmt.Sprintf("%s %q is in ALARM", kind, name)
	if st.reason != "" {
		r += " (" + clip(st.reason, 160) + ")"
	}
	return r
}

// alarmsAtStart refuses a shift while one of the target's alarms is
// already in ALARM: the canary would be blamed for it. The target may
// allow it (health.allowAlarmsFiringAtStart).
func (t *task) alarmsAtStart(ctx context.Context) error {
	h := t.p.Target.Health
	if len(h.Alarms) == 0 || h.AllowAlarmsFiringAtStart {
		return nil
	}
	found, err := t.describeAlarms(ctx)
	if err != nil {
		return err
	}
	var firing []string
	for _, name := range h.Alarms {
		if st, ok := found[name]; ok && st.value == string(types.StateValueAlarm) {
			firing = append(firing, alarmLine(name, st))
		}
	}
	if len(firing) == 0 {
		return nil
	}
	return promotion.TaskError(promotion.ErrAlarmFiring,
		"not shifting prod of %s to version %s: %s before any traffic moved, so the new version would be blamed for it; fix it first, or set health.allowAlarmsFiringAtStart",
		t.p.Function, t.p.Version, strings.Join(firing, "; "))
}

// progress is what the sources that read incrementally carry from one
// check of a step to the next (promotion.Shift.Logs and .Probes).
type progress struct{ logs, probes string }

// evidence reads what each configured source shows for the new and the
// stable version since the step began: the probes when health.probes is
// set, the versions' log streams when health.freshSignal is "logs", and
// CloudWatch metrics always.
func (t *task) evidence(ctx context.Context, stepStart, now time.Time) ([]audit.Evidence, progress, error) {
	var out []audit.Evidence
	var pg progress
	h := t.p.Target.Health
	if h.Probes > 0 {
		ev, pr, err := t.probeEvidence(ctx, stepStart, now)
		if err != nil {
			return nil, pg, err
		}
		out, pg.probes = append(out, ev), pr
	}
	if h.FreshSignal == config.FreshSignalLogs {
		ev, pr, err := t.logEvidence(ctx, stepStart, now)
		if err != nil {
			return nil, pg, err
		}
		b, err := json.Marshal(pr)
		if err != nil {
			return nil, pg, fmt.Errorf("encode the log progress: %w", err)
		}
		out, pg.logs = append(out, ev), string(b)
	}
	ev, err := t.metricEvidence(ctx, stepStart, now)
	if err != nil {
		return nil, pg, err
	}
	return append(out, ev), pg, nil
}

// metricEvidence reads Errors and Invocations (and p99 Duration when a
// latency guard is set) of the new and the stable version behind the prod
// alias, by ExecutedVersion, over the whole minutes from the step's start
// to the last minute that has ended. The minutes up to the last one taken
// as published (health.metricDelaySeconds) are complete (FreshThrough);
// the later ones count whatever datapoints CloudWatch already holds, which
// AWS publishes as they come and often sooner than the delay a target
// assumes: a published minute that shows harm fails the step at once,
// and a step passes only once the complete minutes cover it (decide).
func (t *task) metricEvidence(ctx context.Context, stepStart, now time.Time) (audit.Evidence, error) {
	fn, n, h := t.p.Function, t.p.Version, t.p.Target.Health
	stable := t.p.Shift.StableVersion
	start := stepStart.Truncate(time.Minute)
	fresh := now.Add(-time.Duration(h.MetricDelaySeconds) * time.Second).Truncate(time.Minute)
	ended := now.Truncate(time.Minute)
	// Errors counts every invocation that results in a function error:
	// "exceptions that your code throws and exceptions that the Lambda
	// runtime throws" ("Types of metrics for Lambda functions", Lambda
	// developer guide,
	// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html):
	// handled errors, crashes and timeouts alike.
	ev := audit.Evidence{Source: "metrics", From: start, To: fresh, FreshThrough: fresh,
		NewVersion: n, StableVersion: stable, SeesHandledErrors: true, SeesCrashes: true, SeesLatency: h.MaxP99LatencyRatio > 0}
	if !ended.After(start) {
		ev.To = start
		return ev, nil // no minute of the step has ended yet
	}
	query := func(id, version, metric, stat string) types.MetricDataQuery {
		return types.MetricDataQuery{
			Id: aws.String(id),
			MetricStat: &types.MetricStat{
				Metric: &types.Metric{Namespace: aws.String("AWS/Lambda"), MetricName: aws.String(metric), Dimensions: []types.Dimension{
					{Name: aws.String("FunctionName"), Value: aws.String(fn)},
					{Name: aws.String("Resource"), Value: aws.String(fn + ":" + promotion.AliasProd)},
					{Name: aws.String("ExecutedVersion"), Value: aws.String(version)},
				}},
				Period: aws.Int32(metricPeriod),
				Stat:   aws.String(stat),
			},
			ReturnData: aws.Bool(true),
		}
	}
	queries := []types.MetricDataQuery{
		query("newErrors", n, "Errors", "Sum"), query("newInvocations", n, "Invocations", "Sum"),
		query("stableErrors", stable, "Errors", "Sum"), query("stableInvocations", stable, "Invocations", "Sum"),
	}
	if h.MaxP99LatencyRatio > 0 {
		queries = append(queries, query("newP99", n, "Duration", "p99"), query("stableP99", stable, "Duration", "p99"))
	}
	in := &cloudwatch.GetMetricDataInput{StartTime: aws.Time(start), EndTime: aws.Time(ended), MetricDataQueries: queries}
	sums, worst := map[string]float64{}, map[string]float64{}
	for {
		out, err := t.cw.GetMetricData(ctx, in)
		if err != nil {
			return ev, fmt.Errorf("get metric data: %w", err)
		}
		for _, r := range out.MetricDataResults {
			id := aws.ToString(r.Id)
			for i, v := range r.Values {
				sums[id] += v
				// The p99 over the window is bounded by the worst minute's.
				worst[id] = max(worst[id], v)
				if i < len(r.Timestamps) && r.Timestamps[i].Add(metricPeriod*time.Second).After(ev.To) {
					ev.To = r.Timestamps[i].Add(metricPeriod * time.Second)
				}
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	ev.NewErrors, ev.NewInvocations = sums["newErrors"], sums["newInvocations"]
	ev.StableErrors, ev.StableInvocations = sums["stableErrors"], sums["stableInvocations"]
	ev.NewP99Ms, ev.StableP99Ms = worst["newP99"], worst["stableP99"]
	return ev, nil
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
