package approval_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

const carol = "carol@example.com"

// fourEyes is hello needing two of alice, bob and carol, bob also deciding
// as bobARN through the API.
func fourEyes(t *config.Target) {
	t.Approvers = []string{alice, bob, carol}
	t.Approval.Required = 2
	t.Approval.Principals = map[string][]string{bob: {bobARN}}
}

// step is one decision of a scenario: by link (as approver) or through the
// API (as principal).
type step struct {
	approver, principal string
	decision            string
	// settings, when set, changes hello's current settings first.
	settings func(*config.Target)
	// wantCounted is where the count stands after the step ("" when the
	// task was answered or nothing was counted); wantAlready that it was
	// not counted again.
	wantCounted string
	wantAlready bool
}

func (s step) request(t *testing.T) events.APIGatewayProxyRequest {
	if s.principal != "" {
		action := approval.ActionApprove
		if s.decision == "reject" {
			action = approval.ActionReject
		}
		return callerReq(approval.DecidePath, s.principal, approval.CallerRequest{Execution: execARN, Action: action, Comment: "ok by " + s.principal})
	}
	return postReq(link(t, testKey, execARN, s.approver, entered.Add(time.Hour)), s.decision, "ok by "+s.approver)
}

// TestApprovalRequiredCountsDistinctVerifiedApprovers: with
// approval.required 2 the task is answered once, when the second distinct
// approver approves, each approval checked against the current settings;
// one rejection ends the promotion; an approver approving twice counts
// once and is recorded once. Each decision leaves exactly one audit
// record naming the verified identity. On the old code the first approval
// answered the task.
func TestApprovalRequiredCountsDistinctVerifiedApprovers(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		// wantSent is the answer Step Functions got ("" none, "success", "Rejected").
		wantSent string
		// wantFinal is who the sent decision names, wantEarlier the
		// approvals it counts before.
		wantFinal, wantEarlier string
		// wantRecords is the audit trail the decisions left: event by actor.
		wantRecords []string
		// releaser is who requested the release (default dana@example.com).
		releaser string
	}{
		{name: "two approvers by link", steps: []step{
			{approver: alice, decision: "approve", wantCounted: "1 of 2 approvals"},
			{approver: carol, decision: "approve"},
		}, wantSent: "success", wantFinal: carol, wantEarlier: alice,
			wantRecords: []string{"approval.counted by " + alice}},
		{name: "a link and the API", steps: []step{
			{approver: alice, decision: "approve", wantCounted: "1 of 2 approvals"},
			{principal: bobARN, decision: "approve", wantCounted: "2 of 2 approvals"},
		}, wantSent: "success", wantFinal: bob, wantEarlier: alice,
			wantRecords: []string{"approval.counted by " + alice}},
		{name: "the same approver twice counts once", steps: []step{
			{approver: alice, decision: "approve", wantCounted: "1 of 2 approvals"},
			{approver: alice, decision: "approve", wantCounted: "1 of 2 approvals", wantAlready: true},
		}, wantRecords: []string{"approval.counted by " + alice}},
		{name: "the same approver by link and by the API counts once", steps: []step{
			{approver: bob, decision: "approve", wantCounted: "1 of 2 approvals"},
			{principal: bobARN, decision: "approve", wantCounted: "1 of 2 approvals", wantAlready: true},
		}, wantRecords: []string{"approval.counted by " + bob}},
		{name: "one rejection ends it", steps: []step{
			{approver: alice, decision: "approve", wantCounted: "1 of 2 approvals"},
			{approver: carol, decision: "reject"},
		}, wantSent: promotion.ErrRejected, wantRecords: []string{"approval.counted by " + alice}},
		{name: "an approval by an approver removed since does not count", steps: []step{
			{approver: alice, decision: "approve", wantCounted: "1 of 2 approvals"},
			{approver: carol, decision: "approve", wantCounted: "1 of 2 approvals",
				settings: func(t *config.Target) { fourEyes(t); t.Approvers = []string{bob, carol} }},
		}, wantRecords: []string{"approval.counted by " + alice, "approval.counted by " + carol}},
		{name: "the releaser's approval stops counting once separation of duties is on", steps: []step{
			{approver: alice, decision: "approve", wantCounted: "1 of 2 approvals",
				settings: func(t *config.Target) { fourEyes(t); off := false; t.Approval.DistinctFromReleaser = &off }},
			{approver: carol, decision: "approve", wantCounted: "1 of 2 approvals", settings: fourEyes},
		}, releaser: alice, wantRecords: []string{"approval.counted by " + alice, "approval.counted by " + carol}},
		{name: "required lowered to one while an approval waits", steps: []step{
			{approver: alice, decision: "approve", wantCounted: "1 of 2 approvals"},
			{approver: carol, decision: "approve", settings: func(t *config.Target) { fourEyes(t); t.Approval.Required = 1 }},
		}, wantSent: "success", wantFinal: carol, wantRecords: []string{"approval.counted by " + alice}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, func(w *waiting) {
				if tc.releaser != "" {
					w.State.Release.RequestedBy = tc.releaser
				}
			})
			withPrincipals(e, fourEyes)
			ctx := context.Background()
			for i, s := range tc.steps {
				if s.settings != nil {
					cur := testState().Target
					s.settings(&cur)
					e.settings.set(cur)
				}
				resp := e.h.ServeAPIGateway(ctx, s.request(t))
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("step %d: status %d: %s", i, resp.StatusCode, resp.Body)
				}
				if s.wantCounted == "" {
					continue
				}
				if s.principal != "" {
					var got approval.CallerResponse
					if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
						t.Fatal(err)
					}
					if got.Counted != s.wantCounted || got.AlreadyCounted != s.wantAlready {
						t.Errorf("step %d: counted %q already %v, want %q %v", i, got.Counted, got.AlreadyCounted, s.wantCounted, s.wantAlready)
					}
					continue
				}
				if !strings.Contains(resp.Body, s.wantCounted) || strings.Contains(resp.Body, "already approved") != s.wantAlready {
					t.Errorf("step %d: page does not say %q (already %v):\n%s", i, s.wantCounted, s.wantAlready, resp.Body)
				}
			}
			var got []string
			for _, r := range e.bus.Records() {
				got = append(got, fmt.Sprintf("%s by %s", r.Event, r.Actor))
			}
			if strings.Join(got, "; ") != strings.Join(tc.wantRecords, "; ") {
				t.Errorf("audit records:\n got %q\nwant %q", got, tc.wantRecords)
			}
			switch {
			case tc.wantSent == "":
				if len(e.sfn.Sent) != 0 {
					t.Fatalf("sent %+v; want the task unanswered", e.sfn.Sent)
				}
				return
			case len(e.sfn.Sent) != 1:
				t.Fatalf("sent %+v; want one answer", e.sfn.Sent)
			}
			s := e.sfn.Sent[0]
			if tc.wantSent == promotion.ErrRejected {
				if s.Success || s.Error != promotion.ErrRejected {
					t.Errorf("answer %+v; want %s", s, promotion.ErrRejected)
				}
				return
			}
			var d promotion.Decision
			if err := json.Unmarshal([]byte(s.Output), &d); err != nil || !s.Success {
				t.Fatalf("answer %+v (%v); want a success", s, err)
			}
			var earlier []string
			for _, a := range d.Earlier {
				earlier = append(earlier, a.Approver)
			}
			if d.Approver != tc.wantFinal || strings.Join(earlier, ",") != tc.wantEarlier {
				t.Errorf("decision by %s after %q; want by %s after %q", d.Approver, earlier, tc.wantFinal, tc.wantEarlier)
			}
			// The recorded outcome is approval.granted by the last approver,
			// naming both: the one record of the decision that completed the
			// count.
			st := testState()
			fourEyes(&st.Target) // the settings the release read
			st.Input.SettingsVersion = 7
			st.Approval = &d
			before := len(e.bus.Records())
			if _, err := e.h.Task(ctx, promotion.TaskRequest{Action: promotion.ActionGranted, Execution: execARN, Promotion: st}); err != nil {
				t.Fatalf("granted: %v", err)
			}
			recs := e.bus.Records()[before:]
			if len(recs) != 1 || recs[0].Event != audit.ApprovalGranted || recs[0].SettingsVersion != 7 {
				t.Fatalf("records %+v; want one approval.granted under settings version 7", recs)
			}
			if d.Required > 1 && !strings.HasPrefix(recs[0].Reason, "2 of 2 approvals ("+tc.wantEarlier+", "+tc.wantFinal+")") {
				t.Errorf("granted reason %q; want it to name both approvals", recs[0].Reason)
			}
			if votes, err := e.tally.Votes(ctx, execARN); err != nil || len(votes) != 0 {
				t.Errorf("approvals left after the outcome: %+v (%v); want them deleted", votes, err)
			}
		})
	}
}

// TestConcurrentApprovalsAnswerOnce: two approvers clicking at the same
// moment on two execution environments (here: goroutines sharing only
// Parameter Store) answer the task exactly once, naming both.
func TestConcurrentApprovalsAnswerOnce(t *testing.T) {
	for round := range 10 {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			e := newEnv(t)
			withPrincipals(e, fourEyes)
			var wg sync.WaitGroup
			for _, who := range []step{{approver: alice, decision: "approve"}, {principal: bobARN, decision: "approve"}} {
				req := who.request(t)
				wg.Go(func() {
					if resp := e.h.ServeAPIGateway(context.Background(), req); resp.StatusCode != http.StatusOK {
						t.Errorf("status %d: %s", resp.StatusCode, resp.Body)
					}
				})
			}
			wg.Wait()
			if len(e.sfn.Sent) != 1 {
				t.Fatalf("sent %d answers %+v; want exactly one", len(e.sfn.Sent), e.sfn.Sent)
			}
			var d promotion.Decision
			if err := json.Unmarshal([]byte(e.sfn.Sent[0].Output), &d); err != nil || len(d.Earlier) != 1 || strings.EqualFold(d.Earlier[0].Approver, d.Approver) {
				t.Errorf("decision %+v (%v); want two distinct approvers", d, err)
			}
			if recs := e.bus.Records(); len(recs) != 1 || recs[0].Event != audit.ApprovalCounted {
				t.Errorf("records %+v; want one approval.counted (the other approval completes the count)", recs)
			}
		})
	}
}

// TestGrantedNeedsTheRequiredApprovals: RecordApproval does not record as
// granted a decision that says two approvals were required but names
// fewer distinct approvers, or one that is no approver.
func TestGrantedNeedsTheRequiredApprovals(t *testing.T) {
	at := now0
	tests := []struct {
		name    string
		earlier []promotion.Approval
		wantErr string
	}{
		{name: "no earlier approval", wantErr: "1 distinct approvers approved, 2 required"},
		{name: "the same approver twice", earlier: []promotion.Approval{{Approver: "Alice@example.com", Via: approval.ViaLink, DecidedAt: at}},
			wantErr: "1 distinct approvers approved, 2 required"},
		{name: "an earlier approval by no approver", earlier: []promotion.Approval{{Approver: "cfo@example.com", Via: approval.ViaLink, DecidedAt: at}},
			wantErr: `"cfo@example.com" is not among the approvers`},
		{name: "an earlier cli approval without a principal", earlier: []promotion.Approval{{Approver: bob, Via: approval.ViaCLI, DecidedAt: at}},
			wantErr: "names no verified principal"},
		{name: "two distinct approvers", earlier: []promotion.Approval{{Approver: bob, Principal: bobARN, Via: approval.ViaCLI, DecidedAt: at}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			st := testState()
			st.Approval = &promotion.Decision{Approved: true, Approver: alice, Via: approval.ViaLink, DecidedAt: at, Required: 2, Earlier: tc.earlier}
			_, err := e.h.Task(context.Background(), promotion.TaskRequest{Action: promotion.ActionGranted, Execution: execARN, Promotion: st})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("granted: %v", err)
				}
				return
			}
			var te messages.InvokeResponse_Error
			if !errors.As(err, &te) || !strings.Contains(te.Message, tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if recs := e.bus.Records(); len(recs) != 0 {
				t.Errorf("records %+v; want none", recs)
			}
		})
	}
}

// TestApprovalPageShowsTheCount: the page of a target needing two
// approvals says how many so far and by whom, and the settings version
// the promotion runs under (on the old code the page said neither).
func TestApprovalPageShowsTheCount(t *testing.T) {
	e := newEnvWith(t, func(w *waiting) { w.State.Input.SettingsVersion = 7 })
	withPrincipals(e, fourEyes)
	ctx := context.Background()
	if resp := e.h.ServeAPIGateway(ctx, postReq(link(t, testKey, execARN, alice, entered.Add(time.Hour)), "approve", "")); resp.StatusCode != http.StatusOK {
		t.Fatalf("approve: %d %s", resp.StatusCode, resp.Body)
	}
	get := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/",
		QueryStringParameters: map[string]string{"t": link(t, testKey, execARN, carol, entered.Add(time.Hour))}}
	resp := e.h.ServeAPIGateway(ctx, get)
	for _, want := range []string{`<p id="approvals">1 of 2 approvals so far: alice@example.com.</p>`, "One rejection ends the promotion.", `<span id="settings-version">version 7</span>`} {
		if !strings.Contains(resp.Body, want) {
			t.Errorf("page lacks %q:\n%s", want, resp.Body)
		}
	}
}
