package pending_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/pending"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

var _ pending.AnswerAPI = (*sfn.Client)(nil)

// TestSend: each answer reaches the waiting task of an execution of the
// real definition (the sandbox's interpreter) as the definition reads it,
// once; a second answer is refused as Closed.
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
	// closed is what the history says closed the task: its output, or its
	// error and cause.
	type closed struct{ Output, Error, Cause string }
	tests := []struct {
		name   string
		answer pending.Answer
		want   closed
	}{
		{"approved", pending.Decide(approved), closed{Output: jsonOf(approved)}},
		{"rejected", pending.Decide(rejected), closed{Error: promotion.ErrRejected, Cause: jsonOf(rejected)}},
		{"promote now", pending.PromoteNow("arn:aws:iam::000000000000:user/bob"),
			closed{Output: `{"promoteNow":true,"actor":"arn:aws:iam::000000000000:user/bob"}`}},
		{"promote full", pending.PromoteFull("arn:aws:iam::000000000000:user/bob"),
			closed{Output: `{"promoteNow":true,"full":true,"actor":"arn:aws:iam::000000000000:user/bob"}`}},
		{"hold", pending.Hold("arn:aws:iam::000000000000:user/bob"),
			closed{Output: `{"hold":true,"actor":"arn:aws:iam::000000000000:user/bob"}`}},
		{"roll back", pending.RollBack("arn:aws:iam::000000000000:user/bob", "errors up"),
			closed{Error: promotion.ErrOperatorRollback, Cause: `{"actor":"arn:aws:iam::000000000000:user/bob","reason":"errors up"}`}},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sb := sandboxtest.NewPromotion(t)
			arn, _ := sb.StartWaiting(t, "hello-v7-5a1e0c3d", input())
			p, err := pending.Find(ctx, sb.SFN, arn, promotion.StateRequestApproval)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Send(ctx, sb.SFN, tc.answer); err != nil {
				t.Fatalf("Send: %v", err)
			}
			h, err := sb.SFN.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
			if err != nil {
				t.Fatal(err)
			}
			// The smoke test's task closed first; the approval's is the last.
			var got []closed
			for _, ev := range h.Events {
				switch ev.Type {
				case types.HistoryEventTypeTaskSucceeded:
					got = append(got, closed{Output: aws.ToString(ev.TaskSucceededEventDetails.Output)})
				case types.HistoryEventTypeTaskFailed:
					got = append(got, closed{Error: aws.ToString(ev.TaskFailedEventDetails.Error), Cause: aws.ToString(ev.TaskFailedEventDetails.Cause)})
				}
			}
			if len(got) != 2 || got[1] != tc.want {
				t.Errorf("the tasks closed with %+v, want the smoke test's then %+v", got, tc.want)
			}
			if err := p.Send(ctx, sb.SFN, tc.answer); awserr.Code(err) != awserr.Closed {
				t.Errorf("second Send = %v (%v), want a Closed error", err, awserr.Code(err))
			}
		})
	}
}
