package clitest

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Logs is a fake CloudWatch Logs holding audit lines in one log group. It
// applies no filter pattern (it records it): the CLI filters again itself.
type Logs struct {
	mu     sync.Mutex
	Group  string
	lines  []logtypes.FilteredLogEvent
	Filter []cloudwatchlogs.FilterLogEventsInput
}

// NewLogs returns a fake with an empty group.
func NewLogs(group string) *Logs { return &Logs{Group: group} }

// Audit appends audit records as the pipeline's slog JSON lines.
func (l *Logs) Audit(recs ...audit.Record) {
	for _, r := range recs {
		r.Audit = true
		b, _ := json.Marshal(r)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		m["level"], m["msg"] = "INFO", "audit "+string(r.Event)
		line, _ := json.Marshal(m)
		l.Line(r.Time, string(line))
	}
}

// Line appends a raw log line.
func (l *Logs) Line(at time.Time, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, logtypes.FilteredLogEvent{Message: aws.String(msg), Timestamp: aws.Int64(at.UnixMilli()),
		LogStreamName: aws.String("2026/11/21/[$LATEST]abc"), EventId: aws.String(strconv.Itoa(len(l.lines)))})
}

// FilterLogEvents pages the group's lines from StartTime, two per page.
func (l *Logs) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Filter = append(l.Filter, *in)
	if aws.ToString(in.LogGroupName) != l.Group {
		return nil, &logtypes.ResourceNotFoundException{Message: aws.String("The specified log group does not exist.")}
	}
	var evs []logtypes.FilteredLogEvent
	for _, e := range l.lines {
		if in.StartTime == nil || *e.Timestamp >= *in.StartTime {
			evs = append(evs, e)
		}
	}
	off, _ := strconv.Atoi(aws.ToString(in.NextToken))
	end := min(off+2, len(evs))
	out := &cloudwatchlogs.FilterLogEventsOutput{Events: evs[off:end]}
	if end < len(evs) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

// Events is the sandbox's EventBridge with the release bus the CLI puts
// on (deploy.ReleaseEventBus) created.
type Events struct{ *sandboxtest.Events }

// NewEvents serves the sandbox's EventBridge until the test ends.
func NewEvents(t testing.TB) *Events {
	t.Helper()
	e := &Events{sandboxtest.NewEvents(t)}
	if _, err := e.Service.CreateEventBus(deploy.ReleaseEventBus); err != nil {
		t.Fatalf("CreateEventBus %s: %v", deploy.ReleaseEventBus, err)
	}
	return e
}

// Put is the entries EventBridge accepted so far, oldest first, as they
// were put.
func (e *Events) Put() []ebtypes.PutEventsRequestEntry {
	var out []ebtypes.PutEventsRequestEntry
	for _, ev := range e.Service.Events() {
		out = append(out, ebtypes.PutEventsRequestEntry{Source: aws.String(ev.Source), DetailType: aws.String(ev.DetailType),
			Detail: aws.String(string(ev.Detail)), EventBusName: aws.String(ev.Bus())})
	}
	return out
}

// Identity is the sandbox's STS, called as the operator whose ARN is
// Caller: GetCallerIdentity names Caller.
func Identity(t testing.TB) *sts.Client {
	t.Helper()
	return sandboxtest.NewSTS(t, strings.TrimPrefix(Caller, "arn:aws:iam::"+core.Account+":user/"))
}

// Proofs presigns caller proofs as the CLI does on AWS: AWS's SDK
// presigner, with the test credentials, for us-east-1's STS (no request is
// sent).
func Proofs() *sts.PresignClient {
	return sts.NewPresignClient(sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String("https://sts.us-east-1.amazonaws.com"),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "test", "")}))
}
