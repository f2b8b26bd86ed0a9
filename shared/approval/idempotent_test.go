package approval_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/pending/pendingtest"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// invokeRequest runs the RequestApproval task with token, as Step Functions
// invokes the approval Lambda.
func invokeRequest(t *testing.T, e *env, token string) error {
	t.Helper()
	p := requestPayload()
	p.TaskToken = token
	raw, _ := json.Marshal(p)
	_, err := e.h.Handle(context.Background(), raw)
	return err
}

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

// Step Functions runs a Task state's task again when a Retry matches its
// error ("Handling errors in Step Functions workflows"); the sandbox does the
// same for a call in flight when it stopped. The retry of a request that had
// e-mailed everyone (its Lambda call returned: TaskSubmitted) sends nothing
// and records nothing.
func TestRequestReinvokedAfterItReturnedSendsNothing(t *testing.T) {
	e := newEnv(t)
	if err := invokeRequest(t, e, taskToken); err != nil {
		t.Fatalf("first attempt: %v", err)
	}
	// The attempt returned (TaskSubmitted is in the history); then the task
	// fails as a Lambda service error and Step Functions schedules it again.
	e.sfn.Retry(taskToken, "token-2", entered.Add(2*time.Second))
	if err := invokeRequest(t, e, "token-2"); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
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
	e := newEnvWith(t, func(w *pendingtest.Waiting) { w.InFlight = true })
	e.sns.failFrom = 1 // alice's goes out, bob's fails
	err := invokeRequest(t, e, taskToken)
	var ive messages.InvokeResponse_Error
	if !errors.As(err, &ive) {
		t.Fatalf("first attempt: %v, want a task error", err)
	}
	if n := requested(e); n != 0 {
		t.Errorf("a failed request recorded approval.requested %d times", n)
	}
	// The TaskFailed cause is the function's error payload, as Lambda
	// returns it to Step Functions.
	cause, _ := json.Marshal(map[string]string{"errorMessage": ive.Message, "errorType": ive.Type})
	e.sfn.RetryAfter(taskToken, "token-2", entered.Add(2*time.Second), ive.Type, string(cause))
	e.sns.failFrom = 0
	if err := invokeRequest(t, e, "token-2"); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if got := recipients(e); len(got) != 2 || got[0] != alice || got[1] != bob {
		t.Errorf("e-mails sent over both attempts to %v, want [%s %s]", got, alice, bob)
	}
	if n := requested(e); n != 1 {
		t.Errorf("approval.requested recorded %d times, want once", n)
	}
}

// An attempt cut off without a trace (no TaskSubmitted, no failure) may not
// have e-mailed anyone: its retry e-mails everyone.
func TestRequestRetriedAfterASilentFailureSendsAgain(t *testing.T) {
	e := newEnvWith(t, func(w *pendingtest.Waiting) { w.InFlight = true })
	e.sfn.RetryAfter(taskToken, "token-2", entered.Add(2*time.Second), "Lambda.Unknown", "The cause could not be determined because Lambda did not return an error type.")
	if err := invokeRequest(t, e, "token-2"); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := recipients(e); len(got) != 2 {
		t.Errorf("e-mails sent to %v, want alice and bob", got)
	}
	if n := requested(e); n != 1 {
		t.Errorf("approval.requested recorded %d times, want once", n)
	}
}
