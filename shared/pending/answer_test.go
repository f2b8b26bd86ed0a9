package pending_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/pending"
	"github.com/aliasflow/aliasflow/shared/pending/pendingtest"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

var _ pending.AnswerAPI = (*sfn.Client)(nil)

// TestSend: each answer reaches the waiting task as the definition reads
// it, once; a second answer is refused as Closed.
func TestSend(t *testing.T) {
	approved := promotion.Decision{Approved: true, Approver: "alice@example.com", Via: "link", DecidedAt: entered}
	rejected := approved
	rejected.Approved = false
	jsonOf := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name   string
		answer pending.Answer
		want   pendingtest.Sent
	}{
		{"approved", pending.Decide(approved), pendingtest.Sent{Token: token, Success: true, Output: jsonOf(approved)}},
		{"rejected", pending.Decide(rejected), pendingtest.Sent{Token: token, Error: promotion.ErrRejected, Cause: jsonOf(rejected)}},
		{"promote now", pending.PromoteNow("arn:aws:iam::000000000000:user/bob"),
			pendingtest.Sent{Token: token, Success: true, Output: `{"promoteNow":true,"actor":"arn:aws:iam::000000000000:user/bob"}`}},
		{"roll back", pending.RollBack("arn:aws:iam::000000000000:user/bob", "errors up"),
			pendingtest.Sent{Token: token, Error: promotion.ErrOperatorRollback, Cause: `{"actor":"arn:aws:iam::000000000000:user/bob","reason":"errors up"}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			arn := pendingtest.ExecutionARN("hello-v7-5a1e0c3d")
			f := pendingtest.New()
			f.AddWaiting(pendingtest.Waiting{ARN: arn, State: state(), Token: token, EnteredTime: entered})
			p, err := pending.Find(context.Background(), f, arn, promotion.StateRequestApproval)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Send(context.Background(), f, tc.answer); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if len(f.Sent) != 1 || f.Sent[0] != tc.want {
				t.Errorf("sent %+v, want [%+v]", f.Sent, tc.want)
			}
			if err := p.Send(context.Background(), f, tc.answer); awserr.Code(err) != awserr.Closed {
				t.Errorf("second Send = %v (%v), want a Closed error", err, awserr.Code(err))
			}
		})
	}
}
