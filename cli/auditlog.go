package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// auditPattern selects one function's audit records (a CloudWatch Logs
// JSON filter pattern).
func auditPattern(fn string) string {
	return fmt.Sprintf(`{ $.audit IS TRUE && $.function = %q }`, fn)
}

// readAudit returns fn's audit records since the given time, newest first.
func (a *app) readAudit(ctx context.Context, fn string, since time.Time) ([]audit.Record, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	in := &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName:  aws.String(a.g.logGroup),
		FilterPattern: aws.String(auditPattern(fn)),
	}
	if !since.IsZero() {
		in.StartTime = aws.Int64(since.UnixMilli())
	}
	var recs []audit.Record
	p := cloudwatchlogs.NewFilterLogEventsPaginator(c.Logs, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if awserr.Code(err) == awserr.NotFound {
				return nil, fail(ExitNotFound, "is aliasflow deployed here? pass --log-group, or --endpoint for the sandbox", "audit log group %s not found", a.g.logGroup)
			}
			return nil, fmt.Errorf("read the audit trail in %s: %w", a.g.logGroup, err)
		}
		for _, ev := range page.Events {
			if rec, ok := parseAudit(aws.ToString(ev.Message)); ok && rec.Function == fn {
				recs = append(recs, rec)
			}
		}
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.After(recs[j].Time) })
	return recs, nil
}

// parseAudit reads an audit record from a log line. Lambda may prefix an
// application's line (text log format), so the JSON starts at the first '{'.
func parseAudit(line string) (audit.Record, bool) {
	i := strings.IndexByte(line, '{')
	if i < 0 {
		return audit.Record{}, false
	}
	var rec audit.Record
	if err := json.Unmarshal([]byte(line[i:]), &rec); err != nil || !rec.Audit {
		return audit.Record{}, false
	}
	return rec, true
}
