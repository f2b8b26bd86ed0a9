package approval_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

const (
	bobARN     = "arn:aws:iam::000000000000:user/bob"
	opsARN     = "arn:aws:sts::000000000000:assumed-role/oncall/ops"
	malloryARN = "arn:aws:iam::000000000000:user/mallory"
)

// callerReq is a POST to an IAM-authorized resource as API Gateway hands it
// to the Lambda after verifying the caller (requestContext.identity.userArn).
func callerReq(resource, principal string, body any) events.APIGatewayProxyRequest {
	raw, _ := json.Marshal(body)
	r := events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: resource, Path: resource, Body: string(raw),
		Headers: map[string]string{"Content-Type": "application/json"}}
	r.RequestContext.Identity = events.APIGatewayRequestIdentity{UserArn: principal, SourceIP: "203.0.113.9", UserAgent: "aliasflow-cli"}
	return r
}

// withPrincipals maps bob to bobARN in hello's current settings.
func withPrincipals(e *env, tune func(*config.Target)) {
	t := testState().Target
	t.Approval.Principals = map[string][]string{bob: {bobARN}}
	if tune != nil {
		tune(&t)
	}
	e.settings.set(t)
}

// TestCallerDecisions: a decision through the IAM-authorized API counts
// only from a principal API Gateway verified that the target's current
// settings map to one of its approvers, and not from the releaser when
// separation of duties is on; what reaches Step Functions carries the
// verified principal, never a name from the request.
func TestCallerDecisions(t *testing.T) {
	off := false
	tests := []struct {
		name      string
		principal string
		action    string
		tune      func(*config.Target)
		releaser  string
		status    int
		why       string
	}{
		{name: "a mapped approver approves", principal: bobARN, action: approval.ActionApprove, status: http.StatusOK},
		{name: "a mapped approver rejects", principal: bobARN, action: approval.ActionReject, status: http.StatusOK},
		{name: "SendTaskSuccess by a non-approver", principal: malloryARN, action: approval.ActionApprove, status: http.StatusForbidden,
			why: "is not mapped to any approver of hello"},
		{name: "no verified caller", principal: "", action: approval.ActionApprove, status: http.StatusForbidden, why: "no verified IAM caller"},
		{name: "an approver removed since the request", principal: bobARN, action: approval.ActionApprove, status: http.StatusForbidden,
			tune: func(t *config.Target) { t.Approvers = []string{alice}; t.Approval.Principals = nil }, why: "is not mapped"},
		{name: "self-approval with separation of duties", principal: bobARN, action: approval.ActionApprove, releaser: bobARN,
			status: http.StatusForbidden, why: "requested this release and may not approve it"},
		{name: "self-approval by address with separation of duties", principal: bobARN, action: approval.ActionApprove, releaser: "Bob@example.com",
			status: http.StatusForbidden, why: "requested this release"},
		{name: "self-approval with separation of duties off", principal: bobARN, action: approval.ActionApprove, releaser: bobARN,
			tune: func(t *config.Target) { t.Approval.DistinctFromReleaser = &off }, status: http.StatusOK},
		{name: "an override action on the decide resource", principal: bobARN, action: approval.ActionPromoteNow, status: http.StatusBadRequest,
			why: "takes approve or reject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, func(w *waiting) {
				if tc.releaser != "" {
					w.State.Release.RequestedBy = tc.releaser
				}
			})
			withPrincipals(e, tc.tune)
			resp := e.h.ServeAPIGateway(context.Background(), callerReq(approval.DecidePath, tc.principal,
				approval.CallerRequest{Execution: execARN, Action: tc.action, Comment: "looks good"}))
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tc.status, resp.Body)
			}
			var got approval.CallerResponse
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
				t.Fatalf("body %q: %v", resp.Body, err)
			}
			if tc.status != http.StatusOK {
				if !strings.Contains(got.Error, tc.why) {
					t.Errorf("error = %q, want it to contain %q", got.Error, tc.why)
				}
				if len(e.sfn.Sent) != 0 {
					t.Errorf("sent %+v; want nothing sent", e.sfn.Sent)
				}
				return
			}
			if len(e.sfn.Sent) != 1 {
				t.Fatalf("sent %+v; want one answer", e.sfn.Sent)
			}
			s := e.sfn.Sent[0]
			doc := s.Output
			if tc.action == approval.ActionReject {
				doc = s.Cause
				if s.Error != promotion.ErrRejected {
					t.Errorf("error = %q, want %s", s.Error, promotion.ErrRejected)
				}
			}
			var d promotion.Decision
			if err := json.Unmarshal([]byte(doc), &d); err != nil {
				t.Fatalf("decision %q: %v", doc, err)
			}
			if d.Approved != (tc.action == approval.ActionApprove) || d.Approver != bob || d.Principal != tc.principal || d.Via != approval.ViaCLI ||
				d.SourceIP != "203.0.113.9" || d.UserAgent != "aliasflow-cli" || d.Comment != "looks good" {
				t.Errorf("decision = %+v; want %s as %s via cli from 203.0.113.9", d, tc.principal, bob)
			}
			if got.Principal != tc.principal || got.Approver != bob {
				t.Errorf("response = %+v", got)
			}
		})
	}
}

// TestCallerOverrides: promote-now and rollback of a baking promotion go
// through the IAM-authorized override resource and carry the verified
// caller; the Bake task's answer is the approval Lambda's.
func TestCallerOverrides(t *testing.T) {
	tests := []struct {
		name   string
		action string
		// bakeOnly: refused (409, nothing sent) when the promotion is
		// already held in a Pause.
		bakeOnly bool
		check    func(t *testing.T, s sent)
	}{
		{name: "promote now", action: approval.ActionPromoteNow, check: func(t *testing.T, s sent) {
			var b promotion.Bake
			if err := json.Unmarshal([]byte(s.Output), &b); err != nil || !s.Success || !b.PromoteNow || b.Actor != opsARN {
				t.Errorf("answer = %+v (%v); want promoteNow by %s", s, err, opsARN)
			}
		}},
		{name: "promote full", action: approval.ActionPromoteFull, check: func(t *testing.T, s sent) {
			var b promotion.Bake
			if err := json.Unmarshal([]byte(s.Output), &b); err != nil || !s.Success || !b.PromoteNow || !b.Full || b.Actor != opsARN {
				t.Errorf("answer = %+v (%v); want promoteNow and full by %s", s, err, opsARN)
			}
		}},
		{name: "pause", action: approval.ActionPause, bakeOnly: true, check: func(t *testing.T, s sent) {
			var b promotion.Bake
			if err := json.Unmarshal([]byte(s.Output), &b); err != nil || !s.Success || !b.Hold || b.PromoteNow || b.Actor != opsARN {
				t.Errorf("answer = %+v (%v); want hold by %s", s, err, opsARN)
			}
		}},
		{name: "rollback", action: approval.ActionRollback, check: func(t *testing.T, s sent) {
			var o promotion.Override
			if err := json.Unmarshal([]byte(s.Cause), &o); err != nil || s.Success || s.Error != promotion.ErrOperatorRollback ||
				o.Actor != opsARN || o.Reason != "5xx after v7" {
				t.Errorf("answer = %+v (%v); want %s by %s with the reason", s, err, promotion.ErrOperatorRollback, opsARN)
			}
		}},
	}
	for _, tc := range tests {
		// A pause of the plan (issue 20) takes the same overrides.
		for _, state := range []string{promotion.StateBake, promotion.StatePause} {
			t.Run(tc.name+" in "+state, func(t *testing.T) {
				e := newEnvWith(t, func(w *waiting) { w.StateName = state })
				resp := e.h.ServeAPIGateway(context.Background(), callerReq(approval.OverridePath, opsARN,
					approval.CallerRequest{Execution: execARN, Action: tc.action, Comment: "5xx after v7"}))
				if tc.bakeOnly && state == promotion.StatePause {
					if resp.StatusCode != http.StatusConflict || len(e.sfn.Sent) != 0 {
						t.Errorf("status = %d (%s), sent %+v; want 409 and nothing sent", resp.StatusCode, resp.Body, e.sfn.Sent)
					}
					return
				}
				if resp.StatusCode != http.StatusOK || len(e.sfn.Sent) != 1 {
					t.Fatalf("status = %d (%s), sent %+v; want 200 and one answer", resp.StatusCode, resp.Body, e.sfn.Sent)
				}
				tc.check(t, e.sfn.Sent[0])
			})
		}
	}
	t.Run("nothing baking", func(t *testing.T) {
		e := newEnv(t) // waiting for approval, not baking
		resp := e.h.ServeAPIGateway(context.Background(), callerReq(approval.OverridePath, opsARN,
			approval.CallerRequest{Execution: execARN, Action: approval.ActionRollback}))
		if resp.StatusCode != http.StatusConflict || len(e.sfn.Sent) != 0 {
			t.Errorf("status = %d (%s), sent %+v; want 409 and nothing sent", resp.StatusCode, resp.Body, e.sfn.Sent)
		}
	})
}

// TestLinkDecisionsUseTheCurrentSettings: a signed link is checked against
// the approvers as they are when it is used: a removed approver's link
// stops working, and the releaser's own link cannot approve with
// separation of duties on.
func TestLinkDecisionsUseTheCurrentSettings(t *testing.T) {
	tests := []struct {
		name     string
		tune     func(*config.Target)
		releaser string
	}{
		{name: "a removed approver's link", tune: func(t *config.Target) { t.Approvers = []string{bob} }},
		{name: "the releaser's own link", releaser: alice},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, func(w *waiting) {
				if tc.releaser != "" {
					w.State.Release.RequestedBy = tc.releaser
				}
			})
			if tc.tune != nil {
				cur := testState().Target
				tc.tune(&cur)
				e.settings.set(cur)
			}
			resp := e.h.ServeAPIGateway(context.Background(), postReq(link(t, testKey, execARN, alice, entered.Add(time.Hour)), "approve", ""))
			if kind := pageKind(resp.Body); kind != "wrong-approver" || len(e.sfn.Sent) != 0 {
				t.Errorf("page %q, sent %+v; want wrong-approver and nothing sent", kind, e.sfn.Sent)
			}
		})
	}
}

// TestGrantedRecordsOnlyAVerifiedDecision: RecordApproval does not record
// as granted what a person could have written as the task output
// (issue 18: {"approved":false,"approver":"cfo@example.com"} promoted v3
// and was audited as granted by the cfo).
func TestGrantedRecordsOnlyAVerifiedDecision(t *testing.T) {
	tests := []struct {
		name      string
		decision  promotion.Decision
		wantErr   string
		wantActor string
	}{
		{name: "approved false", decision: promotion.Decision{Approved: false, Approver: "cfo@example.com", Via: "cli"}, wantErr: "approved=false"},
		{name: "a name that is no approver", decision: promotion.Decision{Approved: true, Approver: "cfo@example.com", Via: approval.ViaLink}, wantErr: "not among the approvers"},
		{name: "cli without a verified principal", decision: promotion.Decision{Approved: true, Approver: bob, Via: approval.ViaCLI}, wantErr: "no verified principal"},
		{name: "a link decision", decision: promotion.Decision{Approved: true, Approver: alice, Via: approval.ViaLink}, wantActor: alice},
		{name: "a cli decision names the principal", decision: promotion.Decision{Approved: true, Approver: bob, Principal: bobARN, Via: approval.ViaCLI}, wantActor: bobARN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			st := testState()
			st.Approval = &tc.decision
			_, err := e.h.Task(context.Background(), promotion.TaskRequest{Action: promotion.ActionGranted, Execution: execARN, Promotion: st})
			recs := e.bus.Records()
			if tc.wantErr != "" {
				var te messages.InvokeResponse_Error
				if !errors.As(err, &te) || te.Type != promotion.ErrInvalidInput || !strings.Contains(te.Message, tc.wantErr) {
					t.Fatalf("err = %v, want %s containing %q", err, promotion.ErrInvalidInput, tc.wantErr)
				}
				if len(recs) != 0 {
					t.Errorf("records = %+v; want none", recs)
				}
				return
			}
			if err != nil {
				t.Fatalf("granted: %v", err)
			}
			if len(recs) != 1 || recs[0].Event != audit.ApprovalGranted || recs[0].Actor != tc.wantActor {
				t.Errorf("records = %+v; want one approval.granted by %s", recs, tc.wantActor)
			}
		})
	}
}

// TestCallerDecisionLosesTheRace: when the task closes between reading the
// history and answering (another decider won), the API answers 409, never
// 200 for an answer Step Functions refused.
func TestCallerDecisionLosesTheRace(t *testing.T) {
	for _, action := range []string{approval.ActionApprove, approval.ActionReject} {
		t.Run(action, func(t *testing.T) {
			e := newEnv(t)
			withPrincipals(e, nil)
			e.sfn.stale = true // the first answer closes the task; the history still shows it open
			req := callerReq(approval.DecidePath, bobARN, approval.CallerRequest{Execution: execARN, Action: action, Comment: "checked"})
			if first := e.h.ServeAPIGateway(context.Background(), req); first.StatusCode != http.StatusOK {
				t.Fatalf("first answer: status = %d, want 200: %s", first.StatusCode, first.Body)
			}
			second := e.h.ServeAPIGateway(context.Background(), req)
			if second.StatusCode != http.StatusConflict || !strings.Contains(second.Body, "moved on") {
				t.Errorf("second answer: status = %d (%s), want 409: the task had closed", second.StatusCode, second.Body)
			}
		})
	}
}

// TestApprovalStepDecisions: an approval step of the plan (issue 20) waits
// in the Pause state for its own approvers, deciding through the decide
// resource as IAM principals the settings map to them; operators may roll
// it back but not promote past it.
func TestApprovalStepDecisions(t *testing.T) {
	steps := config.StrategyConfig{Type: config.Steps, Steps: []plan.Step{
		{Approval: &plan.Approval{Approvers: []string{bob}}},
		{SetWeight: &plan.SetWeight{Weight: 0.1}}, {Analysis: &plan.Analysis{BakeSeconds: 300}}}}
	tests := []struct {
		name      string
		resource  string
		principal string
		action    string
		tune      func(*config.Target)
		status    int
		check     func(t *testing.T, s sent)
	}{
		{name: "its approver approves", resource: approval.DecidePath, principal: bobARN, action: approval.ActionApprove, status: http.StatusOK,
			check: func(t *testing.T, s sent) {
				var b promotion.Bake
				if err := json.Unmarshal([]byte(s.Output), &b); err != nil || !s.Success || !b.PromoteNow || b.Approver != bob || b.Actor != bobARN {
					t.Errorf("answer = %+v (%v); want an approval by %s as %s", s, err, bob, bobARN)
				}
			}},
		{name: "its approver rejects", resource: approval.DecidePath, principal: bobARN, action: approval.ActionReject, status: http.StatusOK,
			check: func(t *testing.T, s sent) {
				var d promotion.Decision
				if err := json.Unmarshal([]byte(s.Cause), &d); err != nil || s.Success || s.Error != promotion.ErrRejected || d.Principal != bobARN {
					t.Errorf("answer = %+v (%v); want %s by %s", s, err, promotion.ErrRejected, bobARN)
				}
			}},
		{name: "an approver of the release who is not the step's", resource: approval.DecidePath, principal: "arn:aws:iam::000000000000:user/alice",
			action: approval.ActionApprove, status: http.StatusForbidden,
			tune: func(t *config.Target) {
				t.Approval.Principals[alice] = []string{"arn:aws:iam::000000000000:user/alice"}
			}},
		{name: "an operator cannot promote past it", resource: approval.OverridePath, principal: opsARN, action: approval.ActionPromoteNow, status: http.StatusConflict},
		{name: "an operator can roll it back", resource: approval.OverridePath, principal: opsARN, action: approval.ActionRollback, status: http.StatusOK,
			check: func(t *testing.T, s sent) {
				if s.Success || s.Error != promotion.ErrOperatorRollback {
					t.Errorf("answer = %+v; want %s", s, promotion.ErrOperatorRollback)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, func(w *waiting) {
				w.StateName, w.Step = promotion.StatePause, "approval"
				w.State.Target.Strategy = steps
				w.State.Steps = promotion.Plan(steps)
			})
			withPrincipals(e, func(t *config.Target) {
				t.Strategy = steps
				if tc.tune != nil {
					tc.tune(t)
				}
			})
			resp := e.h.ServeAPIGateway(context.Background(), callerReq(tc.resource, tc.principal,
				approval.CallerRequest{Execution: execARN, Action: tc.action, Comment: "looks good"}))
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, resp.Body, tc.status)
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
