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

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/pending"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

var _ pending.HistoryAPI = (*sfn.Client)(nil)

var entered = sandboxtest.T0

func input() promotion.Input {
	return promotion.Input{
		Function: "hello", Version: "7",
		Release: promotion.Release{CodeSha256: "Wl7kT1tLGVtT4nQo2rXKGqX5CkSx3vYH9mX8cWm7QxE=", Commit: "9f2c1e4", Source: "codebuild"},
		Target:  config.Target{Function: "hello", Approvers: []string{"alice@example.com"}, ApprovalTimeoutSeconds: 3600},
	}
}

// pages caps every history page at size, so Find reads the sandbox's
// pages as a long history would come.
type pages struct {
	pending.HistoryAPI
	size int32
}

func (p pages) GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, opts ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	if p.size > 0 {
		c := *in
		c.MaxResults = p.size
		in = &c
	}
	return p.HistoryAPI.GetExecutionHistory(ctx, in, opts...)
}

// TestFind reads executions of the promotion definition as the sandbox's
// interpreter writes them, each driven into its case through the real API
// (task tokens answered, stopped) or its clock (timeouts, retries).
func TestFind(t *testing.T) {
	ctx := context.Background()
	decision := promotion.Decision{Approved: true, Approver: "alice@example.com", Via: "link", DecidedAt: entered.Add(time.Minute)}
	decisionJSON, _ := json.Marshal(decision)
	rejection := decision
	rejection.Approved = false
	rejectionJSON, _ := json.Marshal(rejection)
	approve := func(t *testing.T, p *sandboxtest.Promotion, token string) {
		t.Helper()
		if _, err := p.SFN.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(string(decisionJSON))}); err != nil {
			t.Fatalf("SendTaskSuccess: %v", err)
		}
	}
	fail := func(t *testing.T, p *sandboxtest.Promotion, token, errName, cause string) {
		t.Helper()
		if _, err := p.SFN.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String(errName), Cause: aws.String(cause)}); err != nil {
			t.Fatalf("SendTaskFailure: %v", err)
		}
	}
	// retry fails the waiting attempt with an error the state retries and
	// returns the token of the next attempt, once it waits.
	retry := func(t *testing.T, p *sandboxtest.Promotion, arn, token string) string {
		t.Helper()
		fail(t, p, token, promotion.ErrTransient, "settings unreadable")
		p.AdvanceUntil(t, "the approval request's retry", time.Second, func() bool {
			return slices.Equal(p.Actions(arn), []string{promotion.ActionSmoke, promotion.ActionRequest, promotion.ActionRequest})
		})
		req := p.Request(t, arn, promotion.ActionRequest, 2)
		p.Until(t, "the retried task to wait", func() bool { return lastEvent(p, arn) == "TaskSubmitted" })
		return req.TaskToken
	}

	tests := []struct {
		name     string
		arn      func(p *sandboxtest.Promotion, arn string) string // default arn
		state    string
		pageSize int32
		// setup drives the waiting execution into the case and returns
		// the token Find must report ("" for the first attempt's).
		setup func(t *testing.T, p *sandboxtest.Promotion, arn, token string) string
		// wantKind is "pending", "not-waiting", "not-running" or "missing".
		wantKind    string
		wantRetried bool
		wantClosed  types.HistoryEventType
		wantDecided bool
	}{
		{name: "waiting", state: "RequestApproval", wantKind: "pending"},
		{name: "waiting, one event per page", state: "RequestApproval", pageSize: 1, wantKind: "pending"},
		{name: "approved already", state: "RequestApproval", wantKind: "not-waiting", wantClosed: types.HistoryEventTypeTaskSucceeded, wantDecided: true,
			setup: func(t *testing.T, p *sandboxtest.Promotion, arn, token string) string {
				approve(t, p, token)
				p.Request(t, arn, promotion.ActionGranted, 1)
				return ""
			}},
		{name: "rejected already", state: "RequestApproval", pageSize: 2, wantKind: "not-waiting", wantClosed: types.HistoryEventTypeTaskFailed, wantDecided: true,
			setup: func(t *testing.T, p *sandboxtest.Promotion, arn, token string) string {
				fail(t, p, token, promotion.ErrRejected, string(rejectionJSON))
				p.Request(t, arn, promotion.ActionRejected, 1)
				return ""
			}},
		{name: "timed out", state: "RequestApproval", wantKind: "not-waiting", wantClosed: types.HistoryEventTypeTaskTimedOut,
			setup: func(t *testing.T, p *sandboxtest.Promotion, arn, token string) string {
				p.Clock.Advance(time.Hour)
				p.Request(t, arn, promotion.ActionExpired, 1)
				return ""
			}},
		{name: "retried after a failed attempt", state: "RequestApproval", wantKind: "pending", wantRetried: true,
			setup: func(t *testing.T, p *sandboxtest.Promotion, arn, token string) string {
				return retry(t, p, arn, token)
			}},
		{name: "failed attempt awaiting retry", state: "RequestApproval", wantKind: "not-waiting", wantClosed: types.HistoryEventTypeTaskFailed,
			setup: func(t *testing.T, p *sandboxtest.Promotion, arn, token string) string {
				next := retry(t, p, arn, token)
				fail(t, p, next, "Lambda.Unknown", "boom")
				p.Until(t, "the second attempt to fail", func() bool { return lastEvent(p, arn) == "TaskFailed" })
				return ""
			}},
		{name: "state never entered", state: "Bake", wantKind: "not-waiting"},
		{name: "stopped while waiting", state: "RequestApproval", wantKind: "not-running",
			setup: func(t *testing.T, p *sandboxtest.Promotion, arn, token string) string {
				if _, err := p.SFN.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(arn)}); err != nil {
					t.Fatalf("StopExecution: %v", err)
				}
				p.WaitStatus(t, arn, "ABORTED")
				return ""
			}},
		{name: "ended after approval", state: "RequestApproval", wantKind: "not-running", wantClosed: types.HistoryEventTypeTaskSucceeded, wantDecided: true,
			setup: func(t *testing.T, p *sandboxtest.Promotion, arn, token string) string {
				p.Handle(promotion.ActionGranted, sandboxtest.Return(map[string]any{}))
				p.Handle(promotion.ActionBegin, sandboxtest.Return(promotion.Shift{StableVersion: "6", Weight: 1, Done: true}))
				p.Handle(promotion.ActionFinalize, sandboxtest.Return(map[string]any{}))
				approve(t, p, token)
				p.WaitStatus(t, arn, "SUCCEEDED")
				return ""
			}},
		{name: "no such execution", state: "RequestApproval", wantKind: "missing",
			arn: func(p *sandboxtest.Promotion, _ string) string { return promotion.ExecutionARN(p.MachineARN, "nope") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sb := sandboxtest.NewPromotion(t)
			arn, req := sb.StartWaiting(t, "hello-v7-5a1e0c3d", input())
			wantToken := req.TaskToken
			if tc.setup != nil {
				if next := tc.setup(t, sb, arn, req.TaskToken); next != "" {
					wantToken = next
				}
			}
			if tc.wantRetried == (wantToken == req.TaskToken) {
				t.Fatalf("retried = %v, want %v", wantToken != req.TaskToken, tc.wantRetried)
			}
			find := arn
			if tc.arn != nil {
				find = tc.arn(sb, arn)
			}
			p, err := pending.Find(ctx, pages{sb.SFN, tc.pageSize}, find, tc.state)
			var nw *pending.NotWaitingError
			var nr *pending.NotRunningError
			var dne *types.ExecutionDoesNotExist
			switch tc.wantKind {
			case "pending":
				if err != nil {
					t.Fatalf("Find: %v", err)
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
				if p.ApprovalURL != sandboxtest.ApprovalURL {
					t.Errorf("ApprovalURL = %q, want %q", p.ApprovalURL, sandboxtest.ApprovalURL)
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
			if err != nil && strings.Contains(err.Error(), wantToken) {
				t.Errorf("error %q contains the task token", err)
			}
		})
	}
}

func lastEvent(p *sandboxtest.Promotion, arn string) string {
	events, _ := p.States.History(arn)
	if len(events) == 0 {
		return ""
	}
	return events[len(events)-1].Type
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
	sb := sandboxtest.NewPromotion(t)
	arn, req := sb.StartWaiting(t, "x", input())
	token := req.TaskToken
	p, err := pending.Find(context.Background(), sb.SFN, arn, "RequestApproval")
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
