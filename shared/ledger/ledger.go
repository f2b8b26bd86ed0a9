// Package ledger is the one reader of aliasflow's audit trail: the records
// shared/audit writes as log lines to the pipeline's CloudWatch Logs group.
// It answers what the CLI, the approval API and the Lambdas ask of the
// trail — a function's records, a promotion's (all attempts of a release),
// where aliasflow last put each alias (drift), and where a rollback goes —
// beside the code that writes the trail rather than in each reader.
package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// Logs is the CloudWatch Logs call the ledger makes.
type Logs interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// DefaultWindow is how far back the ledger reads when a query gives no
// start: long enough for a rollback target and drift, bounded so a read
// stays a few pages.
const DefaultWindow = 90 * 24 * time.Hour

// ErrNoTrail is the error of a read of a log group that does not exist:
// aliasflow is not deployed there, or has written nothing yet.
var ErrNoTrail = errors.New("the audit log group does not exist")

// Ledger reads the trail from one log group. The zero Window is
// DefaultWindow; a nil Now is time.Now.
type Ledger struct {
	Logs   Logs
	Group  string
	Window time.Duration
	Now    func() time.Time
}

// Query selects records; the zero value selects every record in the
// window.
type Query struct {
	// Function selects one function's records; Group a group release's.
	Function string
	Group    string
	// Events selects records of these events only (all when empty).
	Events []audit.Event
	// Since is the earliest record's time (zero: the window).
	Since time.Time
}

// Pattern is the CloudWatch Logs JSON filter pattern that selects q's
// records on the server
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html).
func (q Query) Pattern() string {
	p := "$.audit IS TRUE"
	if q.Function != "" {
		p += fmt.Sprintf(" && $.function = %q", q.Function)
	}
	if q.Group != "" {
		p += fmt.Sprintf(" && $.group = %q", q.Group)
	}
	// One event is selected on the server; several are selected as the
	// records are read: the sandbox's patterns have no || (any of).
	if len(q.Events) == 1 {
		p += fmt.Sprintf(" && $.event = %q", q.Events[0])
	}
	return "{ " + p + " }"
}

// Read returns q's records, newest first. A log group that does not exist
// is ErrNoTrail.
func (l Ledger) Read(ctx context.Context, q Query) (Trail, error) {
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(l.Group), FilterPattern: aws.String(q.Pattern())}
	since := q.Since
	if since.IsZero() {
		now, window := time.Now, l.Window
		if l.Now != nil {
			now = l.Now
		}
		if window == 0 {
			window = DefaultWindow
		}
		since = now().Add(-window)
	}
	in.StartTime = aws.Int64(since.UnixMilli())
	var recs []audit.Record
	p := cloudwatchlogs.NewFilterLogEventsPaginator(l.Logs, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if awserr.Code(err) == awserr.NotFound {
			return nil, fmt.Errorf("read the audit trail in %s: %w", l.Group, ErrNoTrail)
		}
		if err != nil {
			return nil, fmt.Errorf("read the audit trail in %s: %w", l.Group, err)
		}
		for _, ev := range page.Events {
			rec, ok := Parse(aws.ToString(ev.Message))
			// The pattern selects on the server; checking again keeps a
			// looser server (or a line that only mentions the name) out.
			if ok && (q.Function == "" || rec.Function == q.Function) && (q.Group == "" || rec.Group == q.Group) &&
				(len(q.Events) == 0 || contains(q.Events, rec.Event)) {
				recs = append(recs, rec)
			}
		}
	}
	return NewTrail(recs), nil
}

// Function reads fn's records in the window, newest first; a log group
// that does not exist yet holds none.
func (l Ledger) Function(ctx context.Context, fn string) (Trail, error) {
	t, err := l.Read(ctx, Query{Function: fn})
	if errors.Is(err, ErrNoTrail) {
		return nil, nil
	}
	return t, err
}

// Parse reads an audit record from a log line. Lambda may prefix an
// application's line (text log format), so the JSON starts at the first
// '{'; a line that is not an audit record is not ok.
func Parse(line string) (audit.Record, bool) {
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

// Trail is audit records, newest first.
type Trail []audit.Record

// NewTrail orders recs newest first (records of the same moment keep
// their order reversed: the later written first). Records of one AWS event
// (the same audit event and EventID, a redelivery of one CloudTrail
// record) are one: the first written is kept.
func NewTrail(recs []audit.Record) Trail {
	type key struct {
		event audit.Event
		id    string
	}
	seen := map[key]bool{}
	out := make(Trail, 0, len(recs))
	for _, r := range recs {
		if r.EventID != "" {
			k := key{r.Event, r.EventID}
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		out = append(out, r)
	}
	slices.Reverse(out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out
}

// Of is the records of function fn.
func (t Trail) Of(fn string) Trail {
	return t.filter(func(r *audit.Record) bool { return r.Function == fn })
}

// Since is the records at or after since.
func (t Trail) Since(since time.Time) Trail {
	return t.filter(func(r *audit.Record) bool { return !r.Time.Before(since) })
}

// Last is the newest record of one of the events (any event when none is
// given).
func (t Trail) Last(events ...audit.Event) (audit.Record, bool) {
	for _, r := range t {
		if len(events) == 0 || contains(events, r.Event) {
			return r, true
		}
	}
	return audit.Record{}, false
}

func (t Trail) filter(keep func(r *audit.Record) bool) Trail {
	var out Trail
	for i := range t {
		if keep(&t[i]) {
			out = append(out, t[i])
		}
	}
	return out
}

func contains(events []audit.Event, e audit.Event) bool {
	for _, x := range events {
		if x == e {
			return true
		}
	}
	return false
}
