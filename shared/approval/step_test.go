package approval_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// secondApproval is a canary with an approval step before 100 %: 10 %
// judged for 5 minutes, then bob approves (issue 20).
func secondApproval() config.StrategyConfig {
	return config.StrategyConfig{Type: config.Steps, Steps: []plan.Step{
		{SetWeight: &plan.SetWeight{Weight: 0.1}}, {Analysis: &plan.Analysis{BakeSeconds: 300}},
		{Approval: &plan.Approval{Approvers: []string{bob}}}}}
}

// atStep is the RequestStepApproval task's payload: the promotion at the
// plan's approval step, as Continue or CheckHealth left it (no task token:
// Pause waits for it after).
func atStep() promotion.TaskRequest {
	req := requestPayload()
	req.TaskToken = ""
	st := &req.Promotion
	st.Target.Strategy = secondApproval()
	st.Steps = promotion.Plan(st.Target.Strategy)
	st.Shift = &promotion.Shift{StableVersion: "6", Weight: 0.1, Kind: string(plan.KindApproval), Position: 2,
		BakeSeconds: 1800, Verdict: "healthy: 0 errors in 412 invocations"}
	return req
}

// TestStepRequestEmailsTheStepsApprovers: an approval step of the plan is
// asked through the same request code as the approval at the start: each
// of the step's approvers (and nobody else) gets their own signed link,
// valid as long as the step waits, in an e-mail that names the step, the
// plan and the health so far.
func TestStepRequestEmailsTheStepsApprovers(t *testing.T) {
	tests := []struct {
		name        string
		req         func() promotion.TaskRequest
		approvers   []string
		subject     string
		body        []string
		expiresIn   time.Duration
		noneOfThese []string
	}{
		{name: "approval step before 100 %", req: atStep, approvers: []string{bob},
			subject: "Second approval of hello version 7",
			body: []string{"second approval before 100 % — prod at 10 % for 5 minutes", "Plan:", "10% → analysis 5m → approval by " + bob + " → 100%",
				"Health so far: healthy: 0 errors in 412 invocations", approvalURL + "?t=", "aliasflow approve hello"},
			expiresIn: 30 * time.Minute, noneOfThese: []string{alice}},
		{name: "approval at the start", req: requestPayload, approvers: []string{alice, bob},
			subject: "Approve hello version 7 for prod?", body: []string{"approve a release of hello for production", approvalURL + "?t="},
			expiresIn: time.Hour, noneOfThese: []string{"second approval"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			raw, _ := json.Marshal(tc.req())
			if _, err := e.h.Handle(context.Background(), raw); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(e.sns.sent) != len(tc.approvers) {
				t.Fatalf("published %d messages, want %d (one per approver of %v)", len(e.sns.sent), len(tc.approvers), tc.approvers)
			}
			for i, want := range tc.approvers {
				msg := e.sns.sent[i]
				if got := aws.ToString(msg.MessageAttributes[approval.ApproverAttribute].StringValue); got != want {
					t.Errorf("message %d is for %q, want %q", i, got, want)
				}
				if got := aws.ToString(msg.Subject); !strings.Contains(got, tc.subject) {
					t.Errorf("subject = %q, want it to contain %q", got, tc.subject)
				}
				body := aws.ToString(msg.Message)
				for _, s := range tc.body {
					if !strings.Contains(body, s) {
						t.Errorf("body lacks %q:\n%s", s, body)
					}
				}
				for _, s := range tc.noneOfThese {
					if strings.Contains(body, s) {
						t.Errorf("body contains %q:\n%s", s, body)
					}
				}
				c := linkClaims(t, body)
				if c.Approver != want || c.Execution != execARN || c.ExpiresAt != entered.Add(tc.expiresIn).Unix() {
					t.Errorf("link claims = %+v; want %s on %s until %s", c, want, execARN, entered.Add(tc.expiresIn))
				}
			}
		})
	}
}

// stepLink signs approver's link to the approval step at position step
// (nil: the approval at the start).
func stepLink(t *testing.T, approver string, step *int) string {
	t.Helper()
	l, err := approval.Sign([]byte(testKey), approval.Claims{Execution: execARN, Approver: approver, IssuedAt: entered.Unix(),
		ExpiresAt: entered.Add(time.Hour).Unix(), Nonce: "bm9uY2Utbm9uY2Utbm9uY2U", Step: step})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestStepLinkDecides: the link of an approval step opens the same page
// and decides the same way as the approval at the start, for the step's
// own approvers only and only while the promotion waits at that step: an
// approval continues the plan naming the approver the link verified, a
// rejection fails the Pause task with the decision (the definition rolls
// back).
func TestStepLinkDecides(t *testing.T) {
	at0, at2 := 0, 2
	steps := config.StrategyConfig{Type: config.Steps, Steps: []plan.Step{
		{Approval: &plan.Approval{Approvers: []string{bob}}},
		{SetWeight: &plan.SetWeight{Weight: 0.1}}, {Analysis: &plan.Analysis{BakeSeconds: 300}}}}
	tests := []struct {
		name     string
		approver string
		step     *int
		decision string // "" shows the page
		status   int
		kind     string // the problem page's data-kind; "" when none
		page     []string
		check    func(t *testing.T, s sent)
	}{
		{name: "its approver sees the step's page", approver: bob, step: &at0, status: 200,
			page: []string{"second approval before 10 %", "Health so far", "Second approval of hello version 7"}},
		{name: "its approver approves", approver: bob, step: &at0, decision: "approve", status: 200,
			check: func(t *testing.T, s sent) {
				var b promotion.Bake
				if err := json.Unmarshal([]byte(s.Output), &b); err != nil || !s.Success || !b.PromoteNow || b.Approver != bob || b.Actor != bob {
					t.Errorf("answer = %+v (%v); want the step approved by %s", s, err, bob)
				}
			}},
		{name: "its approver rejects", approver: bob, step: &at0, decision: "reject", status: 200,
			check: func(t *testing.T, s sent) {
				var d promotion.Decision
				if err := json.Unmarshal([]byte(s.Cause), &d); err != nil || s.Success || s.Error != promotion.ErrRejected || d.Approver != bob || d.Via != approval.ViaLink {
					t.Errorf("answer = %+v (%v); want %s by %s through the link", s, err, promotion.ErrRejected, bob)
				}
			}},
		{name: "an approver of the release who is not the step's", approver: alice, step: &at0, decision: "approve", status: 403, kind: "wrong-approver"},
		{name: "a link to another step", approver: bob, step: &at2, decision: "approve", status: 409, kind: "not-waiting"},
		{name: "the link of the approval at the start", approver: bob, decision: "approve", status: 409, kind: "decided"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, func(w *waiting) {
				w.StateName, w.Step = promotion.StatePause, "approval"
				w.State.Target.Strategy = steps
				w.State.Steps = promotion.Plan(steps)
			})
			e.settings.set(func() config.Target { tg := testState().Target; tg.Strategy = steps; return tg }())
			l := stepLink(t, tc.approver, tc.step)
			req := getReq(l)
			if tc.decision != "" {
				req = postReq(l, tc.decision, "latency is fine")
			}
			resp := e.h.ServeAPIGateway(context.Background(), req)
			if resp.StatusCode != tc.status || pageKind(resp.Body) != tc.kind {
				t.Fatalf("status = %d, page kind %q; want %d, %q\n%s", resp.StatusCode, pageKind(resp.Body), tc.status, tc.kind, resp.Body)
			}
			for _, s := range tc.page {
				if !strings.Contains(resp.Body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			if tc.check == nil {
				if len(e.sfn.Sent) != 0 {
					t.Errorf("sent %+v; want nothing", e.sfn.Sent)
				}
				return
			}
			if len(e.sfn.Sent) != 1 {
				t.Fatalf("sent %+v; want one answer", e.sfn.Sent)
			}
			tc.check(t, e.sfn.Sent[0])
		})
	}
}
