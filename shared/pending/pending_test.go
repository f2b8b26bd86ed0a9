package pending_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/pending"
	"github.com/aliasflow/aliasflow/shared/pending/pendingtest"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

var _ pending.HistoryAPI = (*pendingtest.SFN)(nil)
var _ pending.HistoryAPI = (*sfn.Client)(nil)

var entered = time.Date(2026, 11, 21, 6, 0, 5, 0, time.UTC)

func state() promotion.State {
	return promotion.State{
		Input: promotion.Input{
			Function: "hello", Version: "7",
			Release: promotion.Release{CodeSha256: "Wl7kT1tLGVtT4nQo2rXKGqX5CkSx3vYH9mX8cWm7QxE=", Commit: "9f2c1e4", Source: "codebuild"},
			Target:  config.Target{Function: "hello", Approvers: []string{"alice@example.com"}, ApprovalTimeoutSeconds: 3600},
		},
		Smoke: &promotion.SmokeResult{Passed: true, Checks: []promotion.CheckResult{{Name: "greets", Passed: true, LatencyMs: 41}}},
	}
}

const token = "AQCEAAAAKgAAAAMAAAAAAAAAAfaketoken=="

func TestFind(t *testing.T) {
	arn := pendingtest.ExecutionARN("hello-v7-5a1e0c3d")
	decision := promotion.Decision{Approved: true, Approver: "alice@example.com", Via: "link", DecidedAt: entered.Add(time.Minute)}
	decisionJSON, _ := json.Marshal(decision)
	rejection := decision
	rejection.Approved = false
	rejectionJSON, _ := json.Marshal(rejection)

	tests := []struct {
		name     string
		arn      string
		state    string
		pageSize int
		setup    func(f *pendingtest.SFN)
		// wantKind is "pending", "not-waiting", "not-running" or "missing".
		wantKind    string
		wantToken   string
		wantClosed  types.HistoryEventType
		wantDecided bool
	}{
		{name: "waiting", arn: arn, state: "RequestApproval", wantKind: "pending"},
		{name: "waiting, one event per page", arn: arn, state: "RequestApproval", pageSize: 1, wantKind: "pending"},
		{name: "approved already", arn: arn, state: "RequestApproval", wantKind: "not-waiting", wantClosed: types.HistoryEventTypeTaskSucceeded, wantDecided: true,
			setup: func(f *pendingtest.SFN) {
				f.SendTaskSuccess(context.Background(), &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(string(decisionJSON))})
			}},
		{name: "rejected already", arn: arn, state: "RequestApproval", pageSize: 2, wantKind: "not-waiting", wantClosed: types.HistoryEventTypeTaskFailed, wantDecided: true,
			setup: func(f *pendingtest.SFN) {
				f.SendTaskFailure(context.Background(), &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String(promotion.ErrRejected), Cause: aws.String(string(rejectionJSON))})
			}},
		{name: "timed out", arn: arn, state: "RequestApproval", wantKind: "not-waiting", wantClosed: types.HistoryEventTypeTaskTimedOut,
			setup: func(f *pendingtest.SFN) { f.TimeOut(token, entered.Add(time.Hour)) }},
		{name: "retried after a failed attempt", arn: arn, state: "RequestApproval", wantKind: "pending", wantToken: token + "-retry",
			setup: func(f *pendingtest.SFN) { f.Retry(token, token+"-retry", entered.Add(time.Second)) }},
		{name: "failed attempt awaiting retry", arn: arn, state: "RequestApproval", wantKind: "not-waiting", wantClosed: types.HistoryEventTypeTaskFailed,
			setup: func(f *pendingtest.SFN) {
				f.Retry(token, token+"-retry", entered.Add(time.Second))
				f.SendTaskFailure(context.Background(), &sfn.SendTaskFailureInput{TaskToken: aws.String(token + "-retry"), Error: aws.String("Lambda.Unknown"), Cause: aws.String("boom")})
			}},
		{name: "state never entered", arn: arn, state: "Bake", wantKind: "not-waiting"},
		{name: "stopped while waiting", arn: arn, state: "RequestApproval", wantKind: "not-running",
			setup: func(f *pendingtest.SFN) { f.End(arn, types.ExecutionStatusAborted, entered.Add(time.Minute)) }},
		{name: "ended after approval", arn: arn, state: "RequestApproval", wantKind: "not-running", wantClosed: types.HistoryEventTypeTaskSucceeded, wantDecided: true,
			setup: func(f *pendingtest.SFN) {
				f.SendTaskSuccess(context.Background(), &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(string(decisionJSON))})
				f.End(arn, types.ExecutionStatusSucceeded, entered.Add(time.Hour))
			}},
		{name: "no such execution", arn: pendingtest.ExecutionARN("nope"), state: "RequestApproval", wantKind: "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := pendingtest.New()
			f.PageSize = tc.pageSize
			f.AddWaiting(pendingtest.Waiting{ARN: arn, State: state(), Token: token, EnteredTime: entered, ApprovalURL: "https://x.example/approve"})
			if tc.setup != nil {
				tc.setup(f)
			}
			p, err := pending.Find(context.Background(), f, tc.arn, tc.state)
			var nw *pending.NotWaitingError
			var nr *pending.NotRunningError
			var dne *types.ExecutionDoesNotExist
			switch tc.wantKind {
			case "pending":
				if err != nil {
					t.Fatalf("Find: %v", err)
				}
				wantToken := token
				if tc.wantToken != "" {
					wantToken = tc.wantToken
				}
				if got := p.TaskToken.Reveal(); got != wantToken {
					t.Errorf("token = %q, want %q", got, wantToken)
				}
				if !p.EnteredTime.Equal(entered) {
					t.Errorf("EnteredTime = %v, want %v", p.EnteredTime, entered)
				}
				if got, want := p.ExpiresAt(), entered.Add(time.Hour); !got.Equal(want) {
					t.Errorf("ExpiresAt = %v, want %v", got, want)
				}
				if p.Input.Smoke == nil || len(p.Input.Smoke.Checks) != 1 || p.Input.Version != "7" {
					t.Errorf("Input = %+v, want the state input with version 7 and one smoke check", p.Input)
				}
				if p.Execution.Status != types.ExecutionStatusRunning || p.Execution.Input.Function != "hello" {
					t.Errorf("Execution = %+v, want RUNNING hello", p.Execution)
				}
				if p.ApprovalURL != "https://x.example/approve" {
					t.Errorf("ApprovalURL = %q", p.ApprovalURL)
				}
			case "not-waiting":
				if !errors.As(err, &nw) {
					t.Fatalf("err = %v, want *NotWaitingError", err)
				}
				if nw.Closed != tc.wantClosed || nw.Decided() != tc.wantDecided {
					t.Errorf("Closed, Decided = %q, %v; want %q, %v", nw.Closed, nw.Decided(), tc.wantClosed, tc.wantDecided)
				}
				if tc.wantDecided && (nw.Decision == nil || nw.Decision.Approver != "alice@example.com") {
					t.Errorf("Decision = %+v, want alice's", nw.Decision)
				}
			case "not-running":
				if !errors.As(err, &nr) {
					t.Fatalf("err = %v, want *NotRunningError", err)
				}
				if nr.Closed != tc.wantClosed || nr.Decided() != tc.wantDecided {
					t.Errorf("Closed, Decided = %q, %v; want %q, %v", nr.Closed, nr.Decided(), tc.wantClosed, tc.wantDecided)
				}
			case "missing":
				if !errors.As(err, &dne) {
					t.Fatalf("err = %v, want *types.ExecutionDoesNotExist", err)
				}
			}
			if err != nil && strings.Contains(err.Error(), token) {
				t.Errorf("error %q contains the task token", err)
			}
		})
	}
}

// TestFindRealClient runs Find through the real SDK client against a
// loopback server answering with payloads shaped as Step Functions sends
// them, so the wire decoding of TaskScheduled parameters is covered.
func TestFindRealClient(t *testing.T) {
	history, err := os.ReadFile("testdata/get-execution-history.json")
	if err != nil {
		t.Fatal(err)
	}
	describe, err := os.ReadFile("testdata/describe-execution.json")
	if err != nil {
		t.Fatal(err)
	}
	wantToken, err := os.ReadFile("testdata/token.txt")
	if err != nil {
		t.Fatal(err)
	}
	var pages int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		switch r.Header.Get("X-Amz-Target") {
		case "AWSStepFunctions.DescribeExecution":
			w.Write(describe)
		case "AWSStepFunctions.GetExecutionHistory":
			pages++
			var in struct {
				ReverseOrder bool `json:"reverseOrder"`
			}
			json.Unmarshal(body, &in)
			var doc struct {
				Events []json.RawMessage `json:"events"`
			}
			json.Unmarshal(history, &doc)
			if in.ReverseOrder {
				slices.Reverse(doc.Events)
			}
			json.NewEncoder(w).Encode(doc)
		default:
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"__type":"UnknownOperationException"}`)
		}
	}))
	defer srv.Close()
	client := sfn.New(sfn.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		}),
	})
	arn := "arn:aws:states:us-east-1:123456789012:execution:aliasflow-promotion:hello-v7-5a1e0c3d"
	p, err := pending.Find(context.Background(), client, arn, "RequestApproval")
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if got, want := p.TaskToken.Reveal(), strings.TrimSpace(string(wantToken)); got != want {
		t.Errorf("token = %q, want %q", got, want)
	}
	if got, want := p.EnteredTime, time.Date(2026, 11, 21, 6, 0, 5, 456e6, time.UTC); !got.Equal(want) {
		t.Errorf("EnteredTime = %v, want %v", got, want)
	}
	if p.TimeoutSeconds != 86400 {
		t.Errorf("TimeoutSeconds = %d, want 86400", p.TimeoutSeconds)
	}
	if got := p.Input.Target.Approvers; len(got) != 2 || got[0] != "alice@example.com" {
		t.Errorf("approvers = %v", got)
	}
	if p.Input.Smoke == nil || p.Input.Smoke.Checks[0].Name != "greets" {
		t.Errorf("smoke = %+v, want the greets check", p.Input.Smoke)
	}
	if p.Input.Release.RequestedBy != "dana@example.com" {
		t.Errorf("requestedBy = %q", p.Input.Release.RequestedBy)
	}
	if pages != 1 {
		t.Errorf("history pages read = %d, want 1", pages)
	}
}

// TestTokenRedacted: a Pending printed, logged or marshalled never shows
// the task token.
func TestTokenRedacted(t *testing.T) {
	f := pendingtest.New()
	arn := pendingtest.ExecutionARN("x")
	f.AddWaiting(pendingtest.Waiting{ARN: arn, State: state(), Token: token, EnteredTime: entered})
	p, err := pending.Find(context.Background(), f, arn, "RequestApproval")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("found", "pending", p, "token", p.TaskToken)
	js, _ := json.Marshal(p)
	outputs := map[string]string{
		"%v":  fmt.Sprintf("%v", p),
		"%+v": fmt.Sprintf("%+v", *p),
		"%#v": fmt.Sprintf("%#v", *p),
		//lint:ignore S1025 the test is of what each fmt verb prints, %s included
		"%s":   fmt.Sprintf("%s", p.TaskToken),
		"%q":   fmt.Sprintf("%q", p.TaskToken),
		"%x":   fmt.Sprintf("%x", p.TaskToken),
		"slog": logs.String(),
		"json": string(js),
	}
	for name, out := range outputs {
		if strings.Contains(out, token) || strings.Contains(out, fmt.Sprintf("%x", token)) {
			t.Errorf("%s output shows the token: %s", name, out)
		}
	}
}
