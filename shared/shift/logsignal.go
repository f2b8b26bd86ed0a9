package shift

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// Logs is the part of the CloudWatch Logs API the fresh signal calls.
type Logs interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// The fresh signal: each version's own log streams.
//
// Lambda writes START, END and REPORT lines for every invocation to the
// function's log group /aws/lambda/<function>, one stream per execution
// environment named YYYY/MM/DD/[<version>]<environment id> ("How
// CloudWatch structures logs", Lambda operator guide; "Sending Lambda
// function logs to CloudWatch Logs", Lambda developer guide). A
// logStreamNamePrefix of the day and version therefore selects exactly that
// version's invocations, whichever alias routed them, seconds after they
// end — where the AWS/Lambda metrics are minutes late. A REPORT line (or,
// in the JSON log format, a platform.report record) counts one invocation;
// one marked "Status: error"/"Status: timeout" (JSON: a status other than
// "success") counts one error too.

// reportFilter selects the REPORT lines of both log formats (a
// CloudWatch Logs filter pattern with OR terms).
const reportFilter = `?"REPORT RequestId" ?"platform.report"`

var (
	reportStatusRE   = regexp.MustCompile(`\tStatus: ([a-z]+)`)
	reportDurationRE = regexp.MustCompile(`\tDuration: ([0-9.]+) ms`)
)

// logEvidence counts the invocations and errors of the new and the stable
// version in their log streams since the step began.
func (t *task) logEvidence(ctx context.Context, stepStart, now time.Time) (audit.Evidence, error) {
	// Lines reach CloudWatch Logs seconds after they are written; the data
	// is taken as current, the last seconds' lines at worst arriving at the
	// next look.
	fresh := now
	ev := audit.Evidence{Source: "logs", From: stepStart, To: fresh, FreshThrough: fresh,
		NewVersion: t.p.Version, StableVersion: t.p.Shift.StableVersion}
	if t.logs == nil {
		return ev, fmt.Errorf("health.freshSignal is %q but the shift task has no CloudWatch Logs client", "logs")
	}
	var err error
	var newMs, stableMs []float64
	ev.NewInvocations, ev.NewErrors, newMs, err = t.countReports(ctx, t.p.Version, stepStart, fresh)
	if err != nil {
		return ev, err
	}
	ev.StableInvocations, ev.StableErrors, stableMs, err = t.countReports(ctx, ev.StableVersion, stepStart, fresh)
	if err != nil {
		return ev, err
	}
	if t.p.Target.Health.MaxP99LatencyRatio > 0 {
		ev.NewP99Ms, ev.StableP99Ms = nanToZero(percentile(newMs, 0.99)), nanToZero(percentile(stableMs, 0.99))
	}
	return ev, nil
}

// countReports reads one version's REPORT lines in [from, to). An
// environment's stream is named by the day it started, so the days from
// one before the window to its end are each read with their own prefix.
func (t *task) countReports(ctx context.Context, version string, from, to time.Time) (invocations, errs float64, durations []float64, err error) {
	group := "/aws/lambda/" + t.p.Function
	for day := from.UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour); !day.After(to); day = day.Add(24 * time.Hour) {
		in := &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName:        aws.String(group),
			LogStreamNamePrefix: aws.String(day.Format("2006/01/02") + "/[" + version + "]"),
			FilterPattern:       aws.String(reportFilter),
			StartTime:           aws.Int64(from.UnixMilli()),
			EndTime:             aws.Int64(to.UnixMilli()),
		}
		p := cloudwatchlogs.NewFilterLogEventsPaginator(t.logs, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return 0, 0, nil, fmt.Errorf("read the log streams of version %s in %s: %w", version, group, err)
			}
			for _, e := range page.Events {
				ok, failed, ms := parseReport(aws.ToString(e.Message))
				if !ok {
					continue
				}
				invocations++
				if failed {
					errs++
				}
				durations = append(durations, ms)
			}
		}
	}
	return invocations, errs, durations, nil
}

// parseReport reads one REPORT line, text or JSON: whether it is one, whether
// the invocation failed, and its duration in milliseconds.
func parseReport(line string) (ok, failed bool, ms float64) {
	if strings.HasPrefix(line, "REPORT RequestId:") {
		if m := reportDurationRE.FindStringSubmatch(line); m != nil {
			ms, _ = strconv.ParseFloat(m[1], 64)
		}
		st := reportStatusRE.FindStringSubmatch(line)
		return true, st != nil && st[1] != "success", ms
	}
	var rec struct {
		Type   string `json:"type"`
		Record struct {
			Status  string `json:"status"`
			Metrics struct {
				DurationMs float64 `json:"durationMs"`
			} `json:"metrics"`
		} `json:"record"`
	}
	if json.Unmarshal([]byte(line), &rec) != nil || rec.Type != "platform.report" {
		return false, false, 0
	}
	return true, rec.Record.Status != "" && rec.Record.Status != "success", rec.Record.Metrics.DurationMs
}

func nanToZero(f float64) float64 {
	if f != f {
		return 0
	}
	return f
}
