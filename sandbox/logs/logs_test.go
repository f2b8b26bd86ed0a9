package logssvc

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func newTestClient(t *testing.T, svc *Service) *cloudwatchlogs.Client {
	t.Helper()
	return cloudwatchlogs.NewFromConfig(servicetest.Config(t, "logs", svc))
}

// seeded returns a service whose /aliasflow/pipeline group holds the lines
// of testdata/pipeline.jsonl, one a second from t0, alternating between two
// function instances' streams, as the sandbox's Lambda writes them.
func seeded(t *testing.T) *Service {
	t.Helper()
	svc := New(func() time.Time { return t0.Add(time.Minute) })
	for i, l := range pipelineLines(t) {
		stream := []string{"2026/11/21/aliasflow-release[$LATEST]a", "2026/11/21/aliasflow-shift[$LATEST]b"}[i%2]
		svc.Append("/aliasflow/pipeline", stream, t0.Add(time.Duration(i)*time.Second), l)
	}
	return svc
}

func TestFilterLogEvents(t *testing.T) {
	c := newTestClient(t, seeded(t))
	ctx := context.Background()
	ms := func(d time.Duration) *int64 { return aws.Int64(t0.Add(d).UnixMilli()) }
	tests := []struct {
		name      string
		in        cloudwatchlogs.FilterLogEventsInput
		wantLines []int
	}{
		{"audit of hello", cloudwatchlogs.FilterLogEventsInput{FilterPattern: aws.String(`{ $.audit IS TRUE && $.function = "hello" }`)}, []int{0, 1, 3}},
		{"alias moves", cloudwatchlogs.FilterLogEventsInput{FilterPattern: aws.String(`{ $.event = "alias.moved" }`)}, []int{1, 4}},
		{"time window, end exclusive", cloudwatchlogs.FilterLogEventsInput{StartTime: ms(time.Second), EndTime: ms(3 * time.Second)}, []int{1, 2}},
		{"one stream", cloudwatchlogs.FilterLogEventsInput{LogStreamNames: []string{"2026/11/21/aliasflow-shift[$LATEST]b"}}, []int{1, 3, 5}},
		{"stream prefix", cloudwatchlogs.FilterLogEventsInput{LogStreamNamePrefix: aws.String("2026/11/21/aliasflow-release")}, []int{0, 2, 4}},
		{"term", cloudwatchlogs.FilterLogEventsInput{FilterPattern: aws.String(`ERROR`)}, []int{5}},
	}
	lines := pipelineLines(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.LogGroupName = aws.String("/aliasflow/pipeline")
			out, err := c.FilterLogEvents(ctx, &in)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Events) != len(tt.wantLines) {
				t.Fatalf("got %d events, want %d", len(out.Events), len(tt.wantLines))
			}
			for i, e := range out.Events {
				if got, want := aws.ToString(e.Message), lines[tt.wantLines[i]]; got != want {
					t.Errorf("event %d = %s, want %s", i, got, want)
				}
				if aws.ToInt64(e.Timestamp) != t0.Add(time.Duration(tt.wantLines[i])*time.Second).UnixMilli() || aws.ToString(e.EventId) == "" || aws.ToString(e.LogStreamName) == "" {
					t.Errorf("event %d = %+v", i, e)
				}
			}
		})
	}
}

func TestFilterLogEventsPaginates(t *testing.T) {
	c := newTestClient(t, seeded(t))
	var got []string
	p := cloudwatchlogs.NewFilterLogEventsPaginator(c, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aliasflow/pipeline"), Limit: aws.Int32(4)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range out.Events {
			got = append(got, aws.ToString(e.Message))
		}
	}
	lines := pipelineLines(t)
	if pages != 2 || len(got) != len(lines) {
		t.Fatalf("%d pages, %d events; want 2 pages and %d events", pages, len(got), len(lines))
	}
	for i := range lines {
		if got[i] != lines[i] {
			t.Errorf("event %d = %s, want %s", i, got[i], lines[i])
		}
	}
}

func TestGroupsStreamsAndEvents(t *testing.T) {
	ctx := context.Background()
	svc := New(func() time.Time { return t0.Add(time.Minute) })
	c := newTestClient(t, svc)
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/aws/lambda/hello")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/aws/lambda/hello"), LogStreamName: aws.String("s1")}); err != nil {
		t.Fatal(err)
	}
	var events []types.InputLogEvent
	for i := range 5 {
		events = append(events, types.InputLogEvent{Timestamp: aws.Int64(t0.Add(time.Duration(i) * time.Second).UnixMilli()), Message: aws.String("line " + string(rune('0'+i)))})
	}
	events = append(events, types.InputLogEvent{Timestamp: aws.Int64(t0.Add(5 * time.Hour).UnixMilli()), Message: aws.String("from the future")})
	put, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("/aws/lambda/hello"), LogStreamName: aws.String("s1"), LogEvents: events})
	if err != nil {
		t.Fatal(err)
	}
	if put.RejectedLogEventsInfo == nil || aws.ToInt32(put.RejectedLogEventsInfo.TooNewLogEventStartIndex) != 5 {
		t.Errorf("RejectedLogEventsInfo = %+v, want tooNewLogEventStartIndex 5", put.RejectedLogEventsInfo)
	}

	head, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/aws/lambda/hello"), LogStreamName: aws.String("s1"), StartFromHead: aws.Bool(true), Limit: aws.Int32(2)})
	if err != nil || len(head.Events) != 2 || aws.ToString(head.Events[0].Message) != "line 0" {
		t.Fatalf("GetLogEvents from head = %+v, %v", head, err)
	}
	next, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/aws/lambda/hello"), LogStreamName: aws.String("s1"), NextToken: head.NextForwardToken, Limit: aws.Int32(2)})
	if err != nil || len(next.Events) != 2 || aws.ToString(next.Events[0].Message) != "line 2" {
		t.Fatalf("GetLogEvents next = %+v, %v", next, err)
	}
	tail, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/aws/lambda/hello"), LogStreamName: aws.String("s1"), Limit: aws.Int32(1)})
	if err != nil || len(tail.Events) != 1 || aws.ToString(tail.Events[0].Message) != "line 4" {
		t.Fatalf("GetLogEvents newest = %+v, %v", tail, err)
	}

	svc.Append("/aws/lambda/hello", "s0", t0.Add(10*time.Second), "newer stream")
	groups, err := c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/lambda/")})
	if err != nil || len(groups.LogGroups) != 1 || aws.ToString(groups.LogGroups[0].LogGroupName) != "/aws/lambda/hello" ||
		aws.ToString(groups.LogGroups[0].LogGroupArn) != "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/hello" {
		t.Fatalf("DescribeLogGroups = %+v, %v", groups, err)
	}
	streams, err := c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/aws/lambda/hello"), OrderBy: types.OrderByLastEventTime, Descending: aws.Bool(true)})
	if err != nil || len(streams.LogStreams) != 2 || aws.ToString(streams.LogStreams[0].LogStreamName) != "s0" ||
		aws.ToInt64(streams.LogStreams[1].LastEventTimestamp) != t0.Add(4*time.Second).UnixMilli() {
		t.Fatalf("DescribeLogStreams = %+v, %v", streams, err)
	}

	snap, err := svc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := New(nil)
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	got, err := restored.Filter(FilterQuery{Group: "/aws/lambda/hello", FilterPattern: `"line 3"`})
	if err != nil || len(got) != 1 || got[0].Stream != "s1" {
		t.Errorf("restored Filter = %+v, %v", got, err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	svc := seeded(t)
	c := newTestClient(t, svc)
	group := aws.String("/aliasflow/pipeline")
	notFound := func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) }
	invalid := func(err error) bool { var e *types.InvalidParameterException; return errors.As(err, &e) }
	exists := func(err error) bool { var e *types.ResourceAlreadyExistsException; return errors.As(err, &e) }
	tests := []struct {
		name  string
		call  func() error
		check func(error) bool
	}{
		{"unsupported filter pattern", func() error {
			_, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, FilterPattern: aws.String(`{ $.a = %x% }`)})
			return err
		}, invalid},
		{"malformed filter pattern", func() error {
			_, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, FilterPattern: aws.String(`{ $.audit IS TRUE`)})
			return err
		}, invalid},
		{"filter missing group", func() error {
			_, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/nope")})
			return err
		}, notFound},
		{"filter missing stream", func() error {
			_, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, LogStreamNames: []string{"nope"}})
			return err
		}, notFound},
		{"create existing group", func() error {
			_, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: group})
			return err
		}, exists},
		{"stream in missing group", func() error {
			_, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/nope"), LogStreamName: aws.String("s")})
			return err
		}, notFound},
		{"put to missing stream", func() error {
			_, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: aws.String("nope"),
				LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(t0.UnixMilli()), Message: aws.String("m")}}})
			return err
		}, notFound},
		{"events out of order", func() error {
			_, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: aws.String("2026/11/21/aliasflow-release[$LATEST]a"),
				LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(t0.UnixMilli() + 5), Message: aws.String("b")}, {Timestamp: aws.Int64(t0.UnixMilli()), Message: aws.String("a")}}})
			return err
		}, invalid},
		{"unknown operation", func() error {
			_, err := c.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: group})
			return err
		}, func(err error) bool { return strings.Contains(err.Error(), "Logs_20140328.DeleteLogGroup") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !tt.check(err) {
				t.Fatalf("err = %v, not the expected error", err)
			}
			servicetest.WantStatus(t, err, http.StatusBadRequest)
		})
	}
}
