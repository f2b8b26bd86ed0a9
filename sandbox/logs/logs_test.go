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

// TestGroupsStreamsAndSnapshot: groups and streams are made by the
// functions' output (Append), events kept in timestamp order per stream,
// and they survive a snapshot.
func TestGroupsStreamsAndSnapshot(t *testing.T) {
	svc := New(func() time.Time { return t0.Add(time.Minute) })
	for i := range 5 {
		svc.Append("/aws/lambda/hello", "s1", t0.Add(time.Duration(4-i)*time.Second), "line "+string(rune('0'+4-i)))
	}
	svc.Append("/aws/lambda/hello", "s0", t0.Add(10*time.Second), "newer stream")
	got, err := svc.Filter(FilterQuery{Group: "/aws/lambda/hello", Streams: []string{"s1"}})
	if err != nil || len(got) != 5 || got[0].Message != "line 0" || got[4].Message != "line 4" {
		t.Fatalf("Filter s1 = %+v, %v; want line 0 … line 4 in timestamp order", got, err)
	}
	snap, err := svc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := New(nil)
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	got, err = restored.Filter(FilterQuery{Group: "/aws/lambda/hello", FilterPattern: `"line 3"`})
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
		// Groups and streams come from the functions' output: nothing in
		// the project calls these, so they are refused, named.
		{"CreateLogGroup not served", func() error {
			_, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: group})
			return err
		}, func(err error) bool { return strings.Contains(err.Error(), "Logs_20140328.CreateLogGroup") }},
		{"PutLogEvents not served", func() error {
			_, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: aws.String("s"),
				LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(t0.UnixMilli()), Message: aws.String("m")}}})
			return err
		}, func(err error) bool { return strings.Contains(err.Error(), "Logs_20140328.PutLogEvents") }},
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
