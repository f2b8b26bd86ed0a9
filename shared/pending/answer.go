package pending

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// AnswerAPI is the Step Functions calls Send makes.
type AnswerAPI interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, opts ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, opts ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
}

// Answer is what a waiting task is told: the definition's contract for
// each answer is written here once. Make one with Decide, PromoteNow,
// PromoteFull or RollBack.
type Answer struct {
	// fail: SendTaskFailure with Error and doc as its Cause; else
	// SendTaskSuccess with doc as its output.
	fail  bool
	error string
	doc   any
}

// Decide is an approver's decision for the RequestApproval task: approved,
// the task succeeds with the decision as its output; rejected, it fails
// with ErrRejected and the decision as its Cause (the definition records
// either).
func Decide(d promotion.Decision) Answer {
	if d.Approved {
		return Answer{doc: d}
	}
	return Answer{fail: true, error: promotion.ErrRejected, doc: d}
}

// PromoteNow ends the Bake task's wait at once: its output says so and who
// asked, which the health check records in bake.skipped. The promotion
// goes past the current step only (`aliasflow promote`).
func PromoteNow(actor string) Answer {
	return Answer{doc: promotion.Bake{PromoteNow: true, Actor: actor}}
}

// PromoteFull ends the Bake task's wait and skips every remaining step,
// accepting an inconclusive verdict (`aliasflow promote --full`).
func PromoteFull(actor string) Answer {
	return Answer{doc: promotion.Bake{PromoteNow: true, Full: true, Actor: actor}}
}

// ApproveStep answers an approval step of the plan (held in the Pause
// state) for approver, whom the approval API verified as principal.
func ApproveStep(principal, approver string) Answer {
	return Answer{doc: promotion.Bake{PromoteNow: true, Actor: principal, Approver: approver}}
}

// Hold ends the Bake task's wait to hold prod at its weight (`aliasflow
// pause`); the health check judges what the bake saw, then the promotion
// waits for `aliasflow resume`.
func Hold(actor string) Answer {
	return Answer{doc: promotion.Bake{Hold: true, Actor: actor}}
}

// RollBack fails the Bake task with ErrOperatorRollback, which the
// definition catches into Rollback; the Cause says who asked and why.
func RollBack(actor, reason string) Answer {
	return Answer{fail: true, error: promotion.ErrOperatorRollback, doc: promotion.Override{Actor: actor, Reason: reason}}
}

// Send answers the task p waits in. Step Functions enforces "once": when
// the task closed meanwhile (another answer, its timeout, the execution's
// end) the error's awserr.Code is Closed. The error may hold the token:
// redact it before logging.
func (p *Pending) Send(ctx context.Context, api AnswerAPI, a Answer) error {
	doc, err := json.Marshal(a.doc)
	if err != nil {
		return fmt.Errorf("encode the answer to %s: %w", p.State, err)
	}
	token := aws.String(p.TaskToken.Reveal())
	if a.fail {
		_, err = api.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: token, Error: aws.String(a.error), Cause: aws.String(string(doc))})
	} else {
		_, err = api.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: token, Output: aws.String(string(doc))})
	}
	if err != nil {
		return fmt.Errorf("answer %s of %s: %w", p.State, p.Execution.ARN, err)
	}
	return nil
}
