package shift

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
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

// checkHealth judges the new version after a bake and returns the next
// step, or a TaskError(ErrHealthCheckFailed) that the definition catches to
// roll back.
func (t *task) checkHealth(ctx context.Context) (*promotion.Shift, error) {
	fn, n, s := t.p.Function, t.p.Version, t.p.Shift
	if b := t.p.Bake; b != nil && b.PromoteNow {
		// The override is recorded whatever health says next.
		t.record(ctx, audit.Record{Event: audit.BakeSkipped, Alias: promotion.AliasProd, Actor: b.Actor,
			FromVersion: s.StableVersion, ToVersion: n, Weight: audit.Weight(s.Weight),
			Reason: fmt.Sprintf("bake at %s ended early by %s (promote --now); health checked next", alias.Percent(s.Weight), b.Actor)})
	}
	var reasons []string
	alarmReasons, err := t.alarmReasons(ctx)
	if err != nil {
		return nil, fmt.Errorf("check health: %w", err)
	}
	reasons = append(reasons, alarmReasons...)
	rateReason, err := t.errorRateReason(ctx)
	if err != nil {
		return nil, fmt.Errorf("check health: %w", err)
	}
	if rateReason != "" {
		reasons = append(reasons, rateReason)
	}
	if len(reasons) > 0 {
		reason := strings.Join(reasons, "; ")
		t.record(ctx, audit.Record{Event: audit.HealthFailed, Alias: promotion.AliasProd,
			FromVersion: s.StableVersion, ToVersion: n, Weight: audit.Weight(s.Weight), Reason: reason})
		return nil, promotion.TaskError(promotion.ErrHealthCheckFailed,
			"version %s of %s is unhealthy at %s: %s", n, fn, alias.Percent(s.Weight), reason)
	}
	next := &promotion.Shift{StableVersion: s.StableVersion, Step: s.Step + 1}
	promoteNow := t.p.Bake != nil && t.p.Bake.PromoteNow
	if promoteNow || next.Step >= len(t.p.Steps) {
		// Done: everything goes to the new version at Finalize.
		next.Weight, next.Done = 1, true
		if promoteNow {
			t.log.InfoContext(ctx, "remaining bake skipped by an operator", "function", fn, "version", n, "actor", t.p.Bake.Actor)
		}
		return next, nil
	}
	step := t.p.Steps[next.Step]
	next.Weight, next.BakeSeconds = step.Weight, step.BakeSeconds
	return next, nil
}

// alarmReasons lists the configured alarms that are in ALARM or that do not
// exist: a misspelt alarm name must not pass silently. INSUFFICIENT_DATA
// passes; a new alarm starts there.
func (t *task) alarmReasons(ctx context.Context) ([]string, error) {
	names := t.p.Target.Health.Alarms
	if len(names) == 0 {
		return nil, nil
	}
	type state struct{ value, reason string }
	found := map[string]state{}
	for start := 0; start < len(names); start += describeBatch {
		in := &cloudwatch.DescribeAlarmsInput{
			AlarmNames: names[start:min(start+describeBatch, len(names))],
			// Without AlarmTypes only metric alarms are returned.
			AlarmTypes: []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm},
		}
		for {
			out, err := t.cw.DescribeAlarms(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("describe alarms: %w", err)
			}
			for _, a := range out.MetricAlarms {
				found[aws.ToString(a.AlarmName)] = state{string(a.StateValue), aws.ToString(a.StateReason)}
			}
			for _, a := range out.CompositeAlarms {
				found[aws.ToString(a.AlarmName)] = state{string(a.StateValue), aws.ToString(a.StateReason)}
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	var reasons []string
	for _, name := range names {
		st, ok := found[name]
		switch {
		case !ok:
			reasons = append(reasons, fmt.Sprintf("alarm %q does not exist", name))
		case st.value == string(types.StateValueAlarm):
			r := fmt.Sprintf("alarm %q is in ALARM", name)
			if st.reason != "" {
				r += " (" + clip(st.reason, 160) + ")"
			}
			reasons = append(reasons, r)
		}
	}
	return reasons, nil
}

// errorRateReason reads the new version's Errors and Invocations behind the
// prod alias over the window and says why the rate is too high, or "".
func (t *task) errorRateReason(ctx context.Context) (string, error) {
	fn, n, h := t.p.Function, t.p.Version, t.p.Target.Health
	window := max(t.p.Shift.BakeSeconds, h.WindowSeconds, metricPeriod)
	now := t.now().UTC()
	// Whole minutes, so every period is a complete CloudWatch minute; the
	// end is rounded up so the current, partial minute is included.
	end := now.Truncate(time.Minute)
	if !end.Equal(now) {
		end = end.Add(time.Minute)
	}
	start := now.Add(-time.Duration(window) * time.Second).Truncate(time.Minute)
	dims := []types.Dimension{
		{Name: aws.String("FunctionName"), Value: aws.String(fn)},
		{Name: aws.String("Resource"), Value: aws.String(fn + ":" + promotion.AliasProd)},
		{Name: aws.String("ExecutedVersion"), Value: aws.String(n)},
	}
	query := func(id, metric string) types.MetricDataQuery {
		return types.MetricDataQuery{
			Id: aws.String(id),
			MetricStat: &types.MetricStat{
				Metric: &types.Metric{Namespace: aws.String("AWS/Lambda"), MetricName: aws.String(metric), Dimensions: dims},
				Period: aws.Int32(metricPeriod),
				Stat:   aws.String("Sum"),
			},
			ReturnData: aws.Bool(true),
		}
	}
	in := &cloudwatch.GetMetricDataInput{
		StartTime:         aws.Time(start),
		EndTime:           aws.Time(end),
		MetricDataQueries: []types.MetricDataQuery{query("errors", "Errors"), query("invocations", "Invocations")},
	}
	sums := map[string]float64{}
	for {
		out, err := t.cw.GetMetricData(ctx, in)
		if err != nil {
			return "", fmt.Errorf("get metric data: %w", err)
		}
		for _, r := range out.MetricDataResults {
			for _, v := range r.Values {
				sums[aws.ToString(r.Id)] += v
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	errs, invocations := sums["errors"], sums["invocations"]
	t.log.InfoContext(ctx, "health figures", "function", fn, "version", n,
		"errors", errs, "invocations", invocations, "windowSeconds", int(end.Sub(start).Seconds()))
	if invocations < float64(h.MinInvocations) || invocations == 0 {
		return "", nil // too little traffic to judge
	}
	rate := errs / invocations
	if rate <= h.MaxErrorRate {
		return "", nil
	}
	return fmt.Sprintf("error rate %s (%s errors / %s invocations over %ds) is above the %s allowed",
		alias.Percent(rate), num(errs), num(invocations), int(end.Sub(start).Seconds()), alias.Percent(h.MaxErrorRate)), nil
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
