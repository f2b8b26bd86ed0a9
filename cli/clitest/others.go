package clitest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
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

// Events is a fake EventBridge recording what was put.
type Events struct {
	mu  sync.Mutex
	Put []ebtypes.PutEventsRequestEntry
	// Refuse makes every entry fail with this error code.
	Refuse string
}

// PutEvents records the entries.
func (e *Events) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := &eventbridge.PutEventsOutput{}
	for i, en := range in.Entries {
		if e.Refuse != "" {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{ErrorCode: aws.String(e.Refuse), ErrorMessage: aws.String("refused")})
			continue
		}
		e.Put = append(e.Put, en)
		out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{EventId: aws.String(fmt.Sprintf("event-%d", len(e.Put)+i))})
	}
	return out, nil
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
