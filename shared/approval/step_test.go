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
