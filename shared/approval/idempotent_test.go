package approval_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

func recipients(e *env) []string {
	var who []string
	for _, m := range e.sns.sent {
		who = append(who, aws.ToString(m.MessageAttributes[approval.ApproverAttribute].StringValue))
	}
	return who
}

func requested(e *env) int {
	n := 0
	for _, r := range e.bus.Records() {
		if r.Event == audit.ApprovalRequested {
			n++
		}
	}
	return n
}

// approvalFunction runs the env's handler as the approval function the
// RequestApproval task calls.
func approvalFunction(e *env) sandboxtest.Handler {
	return sandboxtest.Function(func(ctx context.Context, payload []byte) (any, error) { return e.h.Handle(ctx, payload) })
}

// retried waits until the request's attempt n (from 1) has failed, moves
// the clock through the Retry's backoff until attempt n+1 is called, and
// waits until that attempt has returned (TaskSubmitted).
func retried(t *testing.T, e *env, n int) {
	t.Helper()
	e.sb.Until(t, fmt.Sprintf("attempt %d to fail", n), func() bool { return count(e, "TaskFailed") == n })
	e.sb.AdvanceUntil(t, fmt.Sprintf("attempt %d", n+1), time.Second, func() bool { return count(e, "TaskScheduled") == n+2 })
	e.sb.Request(t, execARN, promotion.ActionRequest, n+1)
	e.sb.Until(t, fmt.Sprintf("attempt %d to return", n+1), func() bool { return count(e, "TaskSubmitted") > 0 && last(e) == "TaskSubmitted" })
}

// count counts execARN's history events of type typ.
func count(e *env, typ string) int {
	events, _ := e.sb.States.History(execARN)
	n := 0
	for _, ev := range events {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

func last(e *env) string {
	events, _ := e.sb.States.History(execARN)
	if len(events) == 0 {
		return ""
	}
	return events[len(events)-1].Type
}

// Step Functions runs a Task state's task again when a Retry matches its
// error ("Handling errors in Step Functions workflows",
// https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html);
// the sandbox does the same for a call in flight when it stopped. The
// retry of a request that had e-mailed everyone (its Lambda call returned:
// TaskSubmitted) sends nothing and records nothing.
func TestRequestReinvokedAfterItReturnedSendsNothing(t *testing.T) {
	e := newEnvWith(t, func(w *waiting) { w.Request = approvalFunction })
	if got := recipients(e); len(got) != 2 {
		t.Fatalf("first attempt e-mailed %v, want alice and bob", got)
	}
	// The attempt returned (TaskSubmitted is in the history); then the task
	// fails with an error its Retry matches and Step Functions runs it again.
	if _, err := e.sb.SFN.SendTaskFailure(context.Background(), &sfn.SendTaskFailureInput{TaskToken: aws.String(e.token),
		Error: aws.String(promotion.ErrTransient), Cause: aws.String("settings unreadable")}); err != nil {
		t.Fatal(err)
	}
	retried(t, e, 1)
	if got := recipients(e); len(got) != 2 {
		t.Errorf("e-mails sent over both attempts to %v, want alice and bob once each", got)
	}
	if n := requested(e); n != 1 {
		t.Errorf("approval.requested recorded %d times, want once", n)
	}
}

// A request that failed half way names in its error the approvers it had
// e-mailed; its retry e-mails only the others and records the request once.
func TestRequestRetriedAfterAPartialFailureSendsTheRest(t *testing.T) {
	e := newEnvWith(t, func(w *waiting) {
		w.InFlight = true
		w.Request = func(e *env) sandboxtest.Handler {
			e.sns.failFrom = 1 // alice's goes out, bob's fails
			return approvalFunction(e)
		}
	})
	e.sb.Until(t, "the first attempt to fail", func() bool { return count(e, "TaskFailed") == 1 })
	if n := requested(e); n != 0 {
		t.Errorf("a failed request recorded approval.requested %d times", n)
	}
	e.sns.mu.Lock()
	e.sns.failFrom = 0
	e.sns.mu.Unlock()
	retried(t, e, 1)
	if got := recipients(e); len(got) != 2 || got[0] != alice || got[1] != bob {
		t.Errorf("e-mails sent over both attempts to %v, want [%s %s]", got, alice, bob)
	}
	if n := requested(e); n != 1 {
		t.Errorf("approval.requested recorded %d times, want once", n)
	}
}

// An attempt cut off without a trace (no TaskSubmitted, no failure of its
// own: the runtime exited) may not have e-mailed anyone: its retry
// e-mails everyone.
func TestRequestRetriedAfterASilentFailureSendsAgain(t *testing.T) {
	var attempts atomic.Int32
	e := newEnvWith(t, func(w *waiting) {
		w.InFlight = true
		w.Request = func(e *env) sandboxtest.Handler {
			real := approvalFunction(e)
			return func(ctx context.Context, c sandboxtest.Call) (core.InvokeResult, error) {
				if attempts.Add(1) == 1 {
					return sandboxtest.FunctionError("Runtime.ExitError", "Runtime exited with error: exit status 2")(ctx, c)
				}
				return real(ctx, c)
			}
		}
	})
	retried(t, e, 1)
	if got := recipients(e); len(got) != 2 {
		t.Errorf("e-mails sent to %v, want alice and bob", got)
	}
	if n := requested(e); n != 1 {
		t.Errorf("approval.requested recorded %d times, want once", n)
	}
}
