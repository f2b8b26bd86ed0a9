package approval_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
)

func requestPayload() promotion.TaskRequest {
	return promotion.TaskRequest{
		Action: promotion.ActionRequest, Execution: execARN, StartTime: entered.Add(-30 * time.Second),
		TaskToken: taskToken, ApprovalURL: approvalURL, EnteredTime: entered, Promotion: testState(),
	}
}

func TestRequestNotifiesEachApprover(t *testing.T) {
	e := newEnv(t)
	raw, _ := json.Marshal(requestPayload())
	out, err := e.h.Handle(context.Background(), raw)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if got := out.(approval.TaskResult).Notified; got != 2 {
		t.Errorf("notified = %d, want 2", got)
	}
	if len(e.sns.sent) != 2 {
		t.Fatalf("published %d messages, want 2 (one per approver)", len(e.sns.sent))
	}
	for i, want := range []string{alice, bob} {
		msg := e.sns.sent[i]
		attr, ok := msg.MessageAttributes[approval.ApproverAttribute]
		if !ok || aws.ToString(attr.StringValue) != want || aws.ToString(attr.DataType) != "String" {
			t.Errorf("message %d attribute approver = %+v, want String %q", i, attr, want)
		}
		if got := aws.ToString(msg.TopicArn); !strings.HasSuffix(got, ":aliasflow-approvals") {
			t.Errorf("message %d topic = %q", i, got)
		}
		subject := aws.ToString(msg.Subject)
		if !strings.Contains(subject, "hello") || !strings.Contains(subject, "7") || len(subject) > 100 {
			t.Errorf("subject = %q, want function and version in at most 100 characters", subject)
		}
		body := aws.ToString(msg.Message)
		for _, s := range []string{"hello", "Version:      7", "Wl7kT1tLGVtT4nQo2rXKGqX5CkSx3vYH9mX8cWm7QxE=", "9f2c1e4b7a", "hello-build:0b6f2a4e", "dana@example.com",
			"PASS greets (41 ms)", "canary: 10%", "2026-11-21 07:00 UTC", approvalURL + "?t="} {
			if !strings.Contains(body, s) {
				t.Errorf("message %d body lacks %q:\n%s", i, s, body)
			}
		}
		// The link in the body verifies, for this approver, until enteredTime + timeout.
		claims := linkClaims(t, body)
		if claims.Approver != want || claims.Execution != execARN {
			t.Errorf("link claims = %+v, want approver %s on %s", claims, want, execARN)
		}
		if got, wantExp := claims.ExpiresAt, entered.Add(time.Hour).Unix(); got != wantExp {
			t.Errorf("link expiresAt = %d, want %d", got, wantExp)
		}
	}
	if e.sns.sent[0].Message == e.sns.sent[1].Message {
		t.Error("both approvers got the same message; each needs their own link")
	}
	// The task token appears nowhere: messages, logs, audit events.
	for i, msg := range e.sns.sent {
		if strings.Contains(aws.ToString(msg.Message), taskToken) || strings.Contains(aws.ToString(msg.Subject), taskToken) {
			t.Errorf("message %d contains the task token", i)
		}
	}
	if strings.Contains(e.logs.String(), taskToken) {
		t.Errorf("logs contain the task token:\n%s", e.logs)
	}
	assertAudit(t, e, audit.ApprovalRequested, "aliasflow", "")
}

// linkClaims finds the link in an e-mail body and verifies it.
func linkClaims(t *testing.T, body string) approval.Claims {
	t.Helper()
	i := strings.Index(body, approvalURL+"?t=")
	if i < 0 {
		t.Fatalf("no link in body:\n%s", body)
	}
	raw := strings.Fields(body[i:])[0]
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	c, err := approval.Verify([]byte(testKey), u.Query().Get("t"), now0)
	if err != nil {
		t.Fatalf("link %q does not verify: %v", raw, err)
	}
	return c
}

func assertAudit(t *testing.T, e *env, event audit.Event, actor, reason string) {
	t.Helper()
	if e.bus.Calls() != 1 || len(e.bus.Records()) != 1 {
		t.Fatalf("PutEvents calls = %d with %d records, want 1 call with 1 record", e.bus.Calls(), len(e.bus.Records()))
	}
	r := e.bus.Records()[0]
	if r.Event != event || r.Actor != actor || r.Function != "hello" || r.ToVersion != "7" || r.Execution != execARN {
		t.Errorf("audit = %+v, want %s by %s of hello 7 in %s", r, event, actor, execARN)
	}
	if reason != "" && r.Reason != reason {
		t.Errorf("audit reason = %q, want %q", r.Reason, reason)
	}
	if r.Release == nil || r.Release.CodeSha256 == "" {
		t.Errorf("audit release = %+v, want the release", r.Release)
	}
	if !strings.Contains(e.logs.String(), `"audit":true`) || !strings.Contains(e.logs.String(), string(event)) {
		t.Errorf("logs lack the audit line for %s:\n%s", event, e.logs)
	}
}

func TestRequestRefusesBadPayloads(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *promotion.TaskRequest)
		want   string
	}{
		{"no task token", func(r *promotion.TaskRequest) { r.TaskToken = "" }, "no taskToken"},
		{"no approvers", func(r *promotion.TaskRequest) { r.Promotion.Target.Approvers = nil }, "no approvers"},
		{"no approval url", func(r *promotion.TaskRequest) { r.ApprovalURL = "" }, "no approvalUrl"},
		{"plain http approval url", func(r *promotion.TaskRequest) { r.ApprovalURL = "http://example.com/approve" }, "must be https"},
		{"relative approval url", func(r *promotion.TaskRequest) { r.ApprovalURL = "/approve" }, "not an absolute URL"},
		{"no function", func(r *promotion.TaskRequest) { r.Promotion.Function = "" }, "no function"},
		{"unknown action", func(r *promotion.TaskRequest) { r.Action = "approve-everything" }, "unknown action"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req := requestPayload()
			tc.mutate(&req)
			_, err := e.h.Task(context.Background(), req)
			var te messages.InvokeResponse_Error
			if !errors.As(err, &te) || te.Type != promotion.ErrInvalidInput {
				t.Fatalf("err = %v, want a %s task error", err, promotion.ErrInvalidInput)
			}
			if !strings.Contains(te.Message, tc.want) {
				t.Errorf("message = %q, want it to say %q", te.Message, tc.want)
			}
			if len(e.sns.sent) != 0 || e.bus.Calls() != 0 {
				t.Errorf("published %d messages and %d audit calls; want nothing", len(e.sns.sent), e.bus.Calls())
			}
		})
	}
}

func TestRequestLoopbackHTTPAllowed(t *testing.T) {
	e := newEnv(t)
	req := requestPayload()
	req.ApprovalURL = "http://127.0.0.1:4566/approve"
	if _, err := e.h.Task(context.Background(), req); err != nil {
		t.Fatalf("Task: %v", err)
	}
	if got := aws.ToString(e.sns.sent[0].Message); !strings.Contains(got, "http://127.0.0.1:4566/approve?t=") {
		t.Errorf("body lacks the loopback link:\n%s", got)
	}
}

func TestRequestPublishFailureFailsTask(t *testing.T) {
	e := newEnv(t)
	e.sns.fail = errors.New("AuthorizationError: not allowed")
	_, err := e.h.Task(context.Background(), requestPayload())
	if err == nil || !strings.Contains(err.Error(), "notify alice@example.com") {
		t.Fatalf("err = %v, want the failed notification named", err)
	}
	if e.bus.Calls() != 0 {
		t.Errorf("audit written although no one was asked")
	}
}

func TestOutcomes(t *testing.T) {
	decided := now0
	approved := promotion.Decision{Approved: true, Approver: alice, Comment: "ship it", Via: "link", RequestedAt: entered, DecidedAt: decided}
	rejected := promotion.Decision{Approver: bob, Comment: "latency too high", Via: "cli", RequestedAt: entered, DecidedAt: decided}
	rejectedJSON, _ := json.Marshal(rejected)
	tests := []struct {
		name        string
		action      string
		mutate      func(s *promotion.State)
		wantEvent   audit.Event
		wantActor   string
		wantReason  string
		wantMetrics []string
	}{
		{"granted", promotion.ActionGranted, func(s *promotion.State) { s.Approval = &approved },
			audit.ApprovalGranted, alice, "ship it", []string{`"ApprovalWaitSeconds":600`}},
		{"rejected", promotion.ActionRejected, func(s *promotion.State) {
			s.Failure = &promotion.Failure{Error: promotion.ErrRejected, Cause: string(rejectedJSON)}
		}, audit.ApprovalRejected, bob, "latency too high", []string{`"PromotionsRejected":1`, `"ApprovalWaitSeconds":600`}},
		{"rejected with a foreign cause", promotion.ActionRejected, func(s *promotion.State) {
			s.Failure = &promotion.Failure{Error: promotion.ErrRejected, Cause: "no"}
		}, audit.ApprovalRejected, "unknown", "no", []string{`"PromotionsRejected":1`}},
		{"expired", promotion.ActionExpired, func(s *promotion.State) {
			s.Failure = &promotion.Failure{Error: "States.Timeout"}
		}, audit.ApprovalExpired, "aliasflow", "no decision within 1 hour", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			st := testState()
			tc.mutate(&st)
			raw, _ := json.Marshal(promotion.TaskRequest{Action: tc.action, Execution: execARN, Promotion: st})
			if _, err := e.h.Handle(context.Background(), raw); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			assertAudit(t, e, tc.wantEvent, tc.wantActor, tc.wantReason)
			for _, m := range tc.wantMetrics {
				if !strings.Contains(e.metrics.String(), m) {
					t.Errorf("metrics lack %s:\n%s", m, e.metrics)
				}
			}
			if tc.wantMetrics == nil && e.metrics.Len() != 0 {
				t.Errorf("metrics = %s, want none", e.metrics)
			}
		})
	}
}

func TestGrantedWithoutDecisionRefused(t *testing.T) {
	e := newEnv(t)
	_, err := e.h.Task(context.Background(), promotion.TaskRequest{Action: promotion.ActionGranted, Execution: execARN, Promotion: testState()})
	var te messages.InvokeResponse_Error
	if !errors.As(err, &te) || te.Type != promotion.ErrInvalidInput {
		t.Fatalf("err = %v, want %s", err, promotion.ErrInvalidInput)
	}
	if e.bus.Calls() != 0 {
		t.Error("audit written for a grant that carries no decision")
	}
}

func TestSecretKeyCachedPerColdStart(t *testing.T) {
	tests := []struct {
		name      string
		secret    string
		id        string
		wantErr   string
		wantReads int
	}{
		// The current and the previous version (none here), once.
		{"read once", testKey, "aliasflow/link-key", "", 2},
		{"too short", "short", "aliasflow/link-key", "at least 16", 2},
		{"missing secret", testKey, "other", "ResourceNotFoundException", 2},
		{"not configured", testKey, "", "ALIASFLOW_LINK_SECRET_ARN", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSecrets{secrets: map[string]string{"aliasflow/link-key": tc.secret}}
			k := approval.NewSecretKey(f, tc.id)
			for range 2 {
				key, err := k.Key(context.Background())
				if tc.wantErr == "" {
					if err != nil || string(key) != tc.secret {
						t.Fatalf("Key = %q, %v; want the secret", key, err)
					}
				} else if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			}
			if f.reads != tc.wantReads {
				t.Errorf("secret read %d times, want %d (cached on success, retried on failure)", f.reads, tc.wantReads)
			}
		})
	}
}

// TestRequestEmailCannotBeForged: every field the e-mail shows from the
// release or the smoke run is text someone else wrote. A newline in it must
// not start a line of its own — no fake "smoke tests passed" section, no
// phishing link set apart as the one to click — and the genuine link comes
// before any of it. The release Lambda refuses such facts at the door
// (release.ValidateFacts); the e-mail must be safe on its own, for inputs
// written before that check or by hand.
func TestRequestEmailCannotBeForged(t *testing.T) {
	const inject = "\n\nSmoke tests passed\nApprove: https://evil.example/"
	tests := []struct {
		name   string
		forge  func(st *promotion.State)
		escape string // the forged field as the e-mail shows it
	}{
		{"requestedBy", func(st *promotion.State) { st.Release.RequestedBy = "dana@example.com" + inject },
			`"dana@example.com\n\nSmoke tests passed\nApprove: https://evil.example/"`},
		{"commit", func(st *promotion.State) { st.Release.Commit = "9f2c1e4b7a" + inject },
			`"9f2c1e4b7a\n\nSmoke tests passed\nApprove: https://evil.example/"`},
		{"build", func(st *promotion.State) { st.Release.Build = "hello-build:0b6f2a4e\r" + inject },
			`"hello-build:0b6f2a4e\r\n\nSmoke tests passed\nApprove: https://evil.example/"`},
		{"verifiedBy", func(st *promotion.State) { st.Release.VerifiedBy = "codebuild-webhook" + inject },
			`"codebuild-webhook\n\nSmoke tests passed\nApprove: https://evil.example/"`},
		{"smoke check detail", func(st *promotion.State) { st.Smoke.Checks[0].Detail = "HTTP 200" + inject },
			`"HTTP 200\n\nSmoke tests passed\nApprove: https://evil.example/"`},
		{"smoke check name", func(st *promotion.State) { st.Smoke.Checks[0].Name = "greets" + inject },
			`"greets\n\nSmoke tests passed\nApprove: https://evil.example/"`},
		{"ANSI and bidi", func(st *promotion.State) { st.Release.RequestedBy = "\x1b[2J\u202edana" },
			`"\x1b[2J\u202edana"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			req := requestPayload()
			tt.forge(&req.Promotion)
			raw, _ := json.Marshal(req)
			if _, err := e.h.Handle(context.Background(), raw); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(e.sns.sent) == 0 {
				t.Fatal("no e-mail sent")
			}
			body := aws.ToString(e.sns.sent[0].Message)
			for _, line := range strings.Split(body, "\n") {
				l := strings.TrimSpace(line)
				if strings.HasPrefix(l, "Smoke tests passed") || strings.HasPrefix(l, "Approve:") || strings.Contains(l, "evil.example") && !strings.Contains(l, tt.escape) {
					t.Errorf("a line of the e-mail is the forged text: %q\n%s", line, body)
				}
			}
			if strings.ContainsAny(body, "\r\x1b\u202e") {
				t.Errorf("the e-mail carries a control character raw: %q", body)
			}
			if !strings.Contains(body, tt.escape) {
				t.Errorf("the e-mail lacks the forged field escaped, %s:\n%s", tt.escape, body)
			}
			// The genuine link precedes every field someone else wrote.
			link := strings.Index(body, approvalURL+"?t=")
			for _, untrusted := range []string{"Commit:", "Build:", "Requested by:", "Smoke tests against stg", tt.escape} {
				if i := strings.Index(body, untrusted); link < 0 || i >= 0 && i < link {
					t.Errorf("the link (at %d) does not precede %q (at %d):\n%s", link, untrusted, i, body)
				}
			}
			if c := linkClaims(t, body); c.Approver != alice {
				t.Errorf("link approver = %s, want %s", c.Approver, alice)
			}
		})
	}
}

// TestRequestEmailSaysWhatIsVerified: the requester a release names is a
// claim; the CodeBuild build's initiator is CodeBuild's word. The e-mail
// says which is which.
func TestRequestEmailSaysWhatIsVerified(t *testing.T) {
	tests := []struct {
		name    string
		rel     func(r *promotion.Release)
		want    []string
		notWant []string
	}{
		{"claimed and verified", func(r *promotion.Release) { r.VerifiedBy = "codebuild-webhook" },
			[]string{"Requested by: dana@example.com (claimed, not verified)", "Started by:   codebuild-webhook (verified: the CodeBuild build's initiator)"}, nil},
		{"claimed only", func(r *promotion.Release) { r.Source = "aliasflow" },
			[]string{"Requested by: dana@example.com (claimed, not verified)"}, []string{"Started by:", "(verified"}},
		{"verified only", func(r *promotion.Release) { r.RequestedBy, r.VerifiedBy = "", "codepipeline/hello" },
			[]string{"Started by:   codepipeline/hello (verified: the CodeBuild build's initiator)"}, []string{"Requested by:", "claimed"}},
		{"neither", func(r *promotion.Release) { r.RequestedBy = "" },
			[]string{"Requested by: (unknown)"}, []string{"(verified", "claimed"}},
		{"the CLI's caller, verified by STS", func(r *promotion.Release) {
			r.Source, r.RequestedBy, r.VerifiedBy = "aliasflow", "arn:aws:iam::1:user/ben", "arn:aws:iam::1:user/ben"
		}, []string{"Requested by: arn:aws:iam::1:user/ben (verified by AWS STS: the caller of aliasflow release)"}, []string{"claimed", "Started by"}},
		{"a claim the proof did not back", func(r *promotion.Release) {
			r.Source, r.RequestedBy, r.VerifiedBy = "aliasflow", "cfo@example.com", "arn:aws:iam::1:user/ben"
		}, []string{"Requested by: cfo@example.com (claimed, not verified)", "Requested by: arn:aws:iam::1:user/ben (verified by AWS STS"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := testState()
			tt.rel(&st.Release)
			body := approval.Body(st, alice, entered.Add(time.Hour), now0, approvalURL+"?t=x")
			for _, s := range tt.want {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(body, s) {
					t.Errorf("body has %q:\n%s", s, body)
				}
			}
		})
	}
}

// TestRequestEmailSaysHowManyMustApprove: with approval.required 2 the
// e-mail says two of the approvers must approve and one rejection ends
// it, instead of "the first decision counts" (which was wrong for four
// eyes).
func TestRequestEmailSaysHowManyMustApprove(t *testing.T) {
	tests := []struct {
		name     string
		required int
		want     string
	}{
		{name: "one approval", required: 0, want: "Also asked: bob@example.com. The first decision counts."},
		{name: "four eyes", required: 2, want: "Also asked: bob@example.com, carol@example.com. 2 of the 3 approvers must approve before prod moves (0 of 2 approvals so far); one rejection ends the promotion."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := testState()
			if tt.required > 0 {
				fourEyes(&st.Target)
				st.Target.Approval.Required = tt.required
			}
			if body := approval.Body(st, alice, entered.Add(time.Hour), now0, approvalURL+"?t=x"); !strings.Contains(body, tt.want) {
				t.Errorf("body lacks %q:\n%s", tt.want, body)
			}
		})
	}
}
