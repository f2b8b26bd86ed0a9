package e2e

import (
	"encoding/json"
	"fmt"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"strings"
	"testing"

	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// TestRoleChangeStopsCanaryBeforeProdMoves: the new version runs as
// another execution role, so Lambda would refuse prod routing between it
// and the stable version ("Both versions must have the same execution
// role", Lambda aliases). BeginShift says so and the promotion aborts with
// prod untouched — not a SetWeight failure rolled back for a misleading
// reason.
func TestRoleChangeStopsCanaryBeforeProdMoves(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(tg *config.Target) {
		tg.Strategy = config.StrategyConfig{Type: config.Canary, Percent: 25, BakeSeconds: 2}
	})
	// The change is the world's setup (as a deploy of hello's new role
	// would be), made through the sandbox's own API.
	if _, err := s.world().Sandbox().Lambda().UpdateFunctionConfiguration(fn, lambdasvc.UpdateFunctionConfigurationInput{
		Role: aws.String("arn:aws:iam::000000000000:role/hello-v2-role")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, stepTimeout, func() error {
		c, err := s.lambda.GetFunctionConfiguration(s.ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn)})
		if err != nil || c.LastUpdateStatus != lambdatypes.LastUpdateStatusSuccessful {
			return fmt.Errorf("configuration update of %s not finished: %v", fn, err)
		}
		return nil
	})
	p := s.merge(helloV2, "c0ffee2")
	s.approveByLink(p, approver)
	out := s.waitDone(p, stepTimeout)

	s.wantExecution(out, sfntypes.ExecutionStatusFailed, "Aborted")
	s.wantAliases("2", "1")
	s.wantStates(p, "SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "Abort", "Aborted")
	recs := s.wantAudit(
		"release.published →2",
		"alias.moved stg 1→2",
		"smoke.passed stg →2",
		"approval.requested →2",
		"approval.granted →2 by "+approver,
		"promotion.aborted prod →2",
	)
	if r := recs[len(recs)-1]; !strings.Contains(r.Reason, "execution roles differ") {
		t.Errorf("promotion.aborted reason %q, want it to name the execution roles", r.Reason)
	}
}

// TestRetryAfterRejection: the same build released again after its
// promotion was rejected starts nothing; asked with retry it gets a fresh
// promotion (the release's second attempt), audited with who asked, one
// approval e-mail per approver for it; once that completes, releasing the
// code prod serves is refused as nothing to release.
func TestRetryAfterRejection(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	p := s.merge(helloV2, "c0ffee2")
	s.decide(p, oncall, "reject", "not today")
	out := s.waitDone(p, stepTimeout)
	s.wantExecution(out, sfntypes.ExecutionStatusFailed, "Rejected")

	put := func(retry bool, by string) {
		t.Helper()
		d := map[string]any{"function": fn, "codeSha256": p.sha, "commit": p.commit, "requestedBy": by}
		if retry {
			d["retry"] = true
		}
		detail, _ := json.Marshal(d)
		res, err := s.events.PutEvents(s.ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			Source: aws.String("aliasflow"), DetailType: aws.String("Release Requested"), Detail: aws.String(string(detail)),
			EventBusName: aws.String(deploy.ReleaseEventBus)}}})
		if err != nil || res.FailedEntryCount != 0 {
			t.Fatalf("PutEvents: %v %+v", err, res)
		}
	}
	retried := &promo{build: p.build, sha: p.sha, commit: p.commit, version: p.version,
		name: promotion.AttemptName(fn, p.version, p.sha, 2)}
	retried.arn = strings.TrimSuffix(p.arn, p.name) + retried.name

	put(false, requester) // a duplicate of the rejected release: nothing new
	put(true, "carla@example.com")
	s.waitStarted(retried)
	s.approveByLink(retried, approver)
	out = s.waitDone(retried, stepTimeout)
	s.wantExecution(out, sfntypes.ExecutionStatusSucceeded, "")
	s.wantAliases("2", "2")
	if n := len(s.executions()); n != 2 {
		t.Errorf("%d executions, want 2: the rejected one and its retry", n)
	}
	recs := s.waitAudit(func(recs []audit.Record) bool {
		return len(recs) > 0 && recs[len(recs)-1].Event == audit.PromotionCompleted
	})
	var retries, requested int
	for _, r := range recs {
		switch {
		case r.Event == audit.ReleaseRetried:
			retries++
			if r.Actor != "carla@example.com" || r.Execution != retried.arn || !strings.Contains(r.Reason, p.name) {
				t.Errorf("release.retried = %+v, want carla@example.com retrying %s as %s", r, p.name, retried.name)
			}
		case r.Event == audit.ApprovalRequested && r.Execution == retried.arn:
			requested++
		}
	}
	if retries != 1 || requested != 1 {
		t.Errorf("release.retried %d times, approval.requested %d times for the retry; want 1 and 1", retries, requested)
	}

	// prod now serves the code: nothing to release, even as a retry.
	before := len(recs)
	put(true, "carla@example.com")
	recs = s.waitAudit(func(recs []audit.Record) bool { return len(recs) > before })
	if r := recs[len(recs)-1]; r.Event != audit.ReleaseRefused || !strings.Contains(r.Reason, "nothing to release") {
		t.Errorf("newest record %+v, want release.refused: nothing to release", r)
	}
	if n := len(s.executions()); n != 2 {
		t.Errorf("%d executions after releasing what prod serves, want still 2", n)
	}
}
