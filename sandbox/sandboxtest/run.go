package sandboxtest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Run is one execution of the definition, driven gate by gate: each method
// answers the task calls of one gate as the pipeline's functions would and
// returns once the execution has settled at the next (a call in flight, a
// task waiting for its token, or the end). Each leaves the history exactly
// as the interpreter wrote it.
type Run struct {
	P   *Promotion
	ARN string
	In  promotion.Input
	t   testing.TB
	// token is the callback task's token while one waits.
	token string
	shift promotion.Shift
}

// Run starts an execution of in, named as the release Lambda names it, and
// returns once the smoke test's call is in flight. A Run answers every
// call itself: Run drops the Promotion's default answers (and handlers
// set with Handle).
func (p *Promotion) Run(t testing.TB, in promotion.Input) *Run {
	t.Helper()
	p.mu.Lock()
	clear(p.handlers)
	p.mu.Unlock()
	r := &Run{P: p, In: in, t: t}
	r.ARN = p.Start(t, promotion.ExecutionName(in.Function, in.Version, in.Release.CodeSha256), in)
	r.settle(0)
	return r
}

// Attach drives the execution arn, which the code under test started,
// from where it rests; as Run, it answers every call itself (deploy with
// Unanswered so that no default answer moved it first).
func (p *Promotion) Attach(t testing.TB, arn string) *Run {
	t.Helper()
	out, err := p.SFN.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("sandboxtest: attach to %s: %v", arn, err)
	}
	r := &Run{P: p, ARN: arn, t: t}
	if err := json.Unmarshal([]byte(aws.ToString(out.Input)), &r.In); err != nil {
		t.Fatalf("sandboxtest: the input of %s is not a promotion.Input: %v", arn, err)
	}
	p.mu.Lock()
	clear(p.handlers)
	p.mu.Unlock()
	r.settle(0)
	return r
}

// events is the length of the history now.
func (r *Run) events() int {
	ev, _ := r.P.States.History(r.ARN)
	return len(ev)
}

// settle waits until the history has grown past before and the execution
// rests: closed, a call in flight, or a callback task waiting.
func (r *Run) settle(before int) {
	r.t.Helper()
	r.P.Until(r.t, r.ARN+" to settle", func() bool {
		ev, _ := r.P.States.History(r.ARN)
		if len(ev) <= before {
			return false
		}
		if st, _ := r.P.States.ExecutionStatus(r.ARN); st != "RUNNING" {
			return true
		}
		return r.P.inFlight(r.ARN, "") || ev[len(ev)-1].Type == "TaskSubmitted"
	})
}

// answer answers the call with action in flight and settles.
func (r *Run) answer(action string, h Handler) promotion.TaskRequest {
	r.t.Helper()
	n := r.events()
	req := r.P.Answer(r.t, r.ARN, action, h)
	r.settle(n)
	return req
}

// Answer answers the call with action in flight with h and returns once
// the execution has settled at its next gate.
func (r *Run) Answer(action string, h Handler) *Run {
	r.t.Helper()
	r.answer(action, h)
	return r
}

// Name is the execution's name.
func (r *Run) Name() string { return r.ARN[strings.LastIndex(r.ARN, ":")+1:] }

// Status is the execution's status now (RUNNING, SUCCEEDED, FAILED, …).
func (r *Run) Status() string {
	st, _ := r.P.States.ExecutionStatus(r.ARN)
	return st
}

// Smoke answers the smoke test, passing or failing one check.
func (r *Run) Smoke(passed bool) *Run {
	r.answer(promotion.ActionSmoke, Return(promotion.SmokeResult{Passed: passed,
		Checks: []promotion.CheckResult{{Name: "greets", Passed: passed, Attempts: 1}}}))
	return r
}

// RestoreStg answers the failed smoke test's RestoreStg task.
func (r *Run) RestoreStg() *Run {
	r.answer(promotion.ActionRestoreStg, Return(map[string]any{}))
	return r
}

// AwaitApproval answers the approval request (the e-mails sent), leaving
// RequestApproval waiting for its token.
func (r *Run) AwaitApproval() *Run {
	r.token = r.answer(promotion.ActionRequest, Return(map[string]any{})).TaskToken
	return r
}

// Token is the token of the callback task waiting now.
func (r *Run) Token() string { return r.token }

// Approve answers the waiting approval as approver did on the page, and
// the RecordApproval task.
func (r *Run) Approve(approver string) *Run {
	r.t.Helper()
	r.SendApproval(approver)
	r.answer(promotion.ActionGranted, Return(map[string]any{}))
	return r
}

// SendApproval answers the waiting approval as approver did on the page,
// leaving the RecordApproval task's call in flight.
func (r *Run) SendApproval(approver string) *Run {
	r.t.Helper()
	r.sendSuccess(promotion.Decision{Approved: true, Approver: approver, Via: "link", DecidedAt: r.P.Clock.Now()})
	return r
}

// Await waits until the execution's call with action is in flight.
func (r *Run) Await(action string) *Run {
	r.t.Helper()
	r.P.Until(r.t, "a "+action+" call from "+r.ARN, func() bool { return r.P.inFlight(r.ARN, action) })
	return r
}

// Reject fails the waiting approval with aliasflow.Rejected and the
// decision as its cause, as the approval Lambda does for a rejection
// (pending.Decide), and answers the RecordRejection task: the execution
// fails Rejected.
func (r *Run) Reject(approver, comment string) *Run {
	r.t.Helper()
	cause, err := jsonString(promotion.Decision{Approved: false, Approver: approver, Comment: comment, Via: "link", DecidedAt: r.P.Clock.Now()})
	if err != nil {
		r.t.Fatalf("sandboxtest: %v", err)
	}
	r.FailWaiting(promotion.ErrRejected, cause)
	r.answer(promotion.ActionRejected, Return(map[string]any{}))
	return r
}

// Expire lets the approval's timeout pass with nobody deciding and
// answers the RecordExpiry task: the execution fails ApprovalExpired.
func (r *Run) Expire() *Run {
	r.t.Helper()
	r.timeOut(time.Duration(r.In.Target.ApprovalTimeoutSeconds) * time.Second)
	r.answer(promotion.ActionExpired, Return(map[string]any{}))
	return r
}

// Exhaust answers every attempt of the call with action with h, moving
// the clock through the state's Retry backoff, until the retries are
// spent and the execution has moved on (its Catch, or its end).
func (r *Run) Exhaust(action string, h Handler) *Run {
	r.t.Helper()
	for {
		n := r.events()
		r.P.Answer(r.t, r.ARN, action, h)
		r.P.AdvanceUntil(r.t, "the retry or the catch of "+action, time.Second, func() bool {
			return r.Status() != "RUNNING" || r.P.inFlight(r.ARN, "") || r.P.lastEvent(r.ARN) == "TaskSubmitted"
		})
		if !r.P.inFlight(r.ARN, action) {
			r.settle(n)
			return r
		}
	}
}

// Succeed answers the waiting task (approval or bake) with v as its
// output, as SendTaskSuccess does, and settles.
func (r *Run) Succeed(v any) *Run {
	r.t.Helper()
	r.sendSuccess(v)
	return r
}

// FailWaiting fails the waiting task (approval or bake) with errName and
// cause, as SendTaskFailure does, and settles: the state's Catch decides.
func (r *Run) FailWaiting(errName, cause string) *Run {
	r.t.Helper()
	n := r.events()
	if _, err := r.P.SFN.SendTaskFailure(context.Background(), &sfn.SendTaskFailureInput{TaskToken: aws.String(r.token),
		Error: aws.String(errName), Cause: aws.String(cause)}); err != nil {
		r.t.Fatalf("sandboxtest: SendTaskFailure: %v", err)
	}
	r.token = ""
	r.settle(n)
	return r
}

// TimeOut lets d pass on the clock with the waiting task unanswered, past
// its timeout: the state's Catch of States.Timeout decides.
func (r *Run) TimeOut(d time.Duration) *Run {
	r.t.Helper()
	r.timeOut(d)
	r.token = ""
	return r
}

func (r *Run) sendSuccess(v any) {
	r.t.Helper()
	out, err := jsonString(v)
	if err != nil {
		r.t.Fatalf("sandboxtest: %v", err)
	}
	n := r.events()
	if _, err := r.P.SFN.SendTaskSuccess(context.Background(), &sfn.SendTaskSuccessInput{TaskToken: aws.String(r.token), Output: aws.String(out)}); err != nil {
		r.t.Fatalf("sandboxtest: SendTaskSuccess: %v", err)
	}
	r.token = ""
	r.settle(n)
}

// BeginShift answers BeginShift: stable is prod's version, the shift at the
// plan's first step.
func (r *Run) BeginShift(stable string) *Run {
	first := r.In.Steps[0]
	r.shift = promotion.Shift{StableVersion: stable, Step: 0, Weight: first.Weight, BakeSeconds: first.BakeSeconds}
	r.answer(promotion.ActionBegin, Return(r.shift))
	return r
}

// SetWeight answers the step's SetWeight task: prod has the weight, and
// the shift comes back as the shift function returns it.
func (r *Run) SetWeight() *Run {
	r.answer(promotion.ActionSetWeight, Return(r.shift))
	return r
}

// Bake sets the step's weight and answers the Bake task, leaving it
// waiting for its token until the bake times it out.
func (r *Run) Bake() *Run {
	return r.SetWeight().AwaitBake()
}

// AwaitBake answers the Bake task in flight, leaving it waiting for its
// token until the bake times it out.
func (r *Run) AwaitBake() *Run {
	r.token = r.answer(promotion.ActionBake, Return(map[string]any{})).TaskToken
	return r
}

// Retry answers the call with action in flight with h, an error the
// state's Retry matches, and moves the clock through the backoff until
// the retry's call is in flight.
func (r *Run) Retry(action string, h Handler) *Run {
	r.t.Helper()
	r.P.Answer(r.t, r.ARN, action, h)
	r.P.AdvanceUntil(r.t, "the retry of "+action, time.Second, func() bool { return r.P.inFlight(r.ARN, action) })
	return r
}

// Fail answers the call with action in flight with the function error
// errName, which the definition does not retry: its Catch decides.
func (r *Run) Fail(action, errName, cause string) *Run {
	r.answer(action, FunctionError(errName, cause))
	return r
}

// BakeOver lets the bake time pass; the health check finds the canary
// healthy and answers the next step's shift, or done at 100 % after the
// last, as the shift function does.
func (r *Run) BakeOver() *Run {
	r.t.Helper()
	r.timeOutBake()
	next := promotion.Shift{StableVersion: r.shift.StableVersion, Step: r.shift.Step + 1}
	if next.Step >= len(r.In.Steps) {
		next.Weight, next.Done = 1, true
	} else {
		next.Weight, next.BakeSeconds = r.In.Steps[next.Step].Weight, r.In.Steps[next.Step].BakeSeconds
	}
	r.shift = next
	r.answer(promotion.ActionCheckHealth, Return(next))
	return r
}

// timeOutBake moves the clock past the waiting bake's timeout, and on by a
// second at a time while the Bake still waits: the interpreter reads the
// clock and sets its timer in two steps (states.Service.timerAt), so a
// timer it sets while the clock moves can land past the move.
func (r *Run) timeOutBake() {
	r.t.Helper()
	r.timeOut(time.Duration(r.shift.BakeSeconds) * time.Second)
}

// timeOut moves the clock past the waiting task's timeout d, as
// timeOutBake does, until the history moves on.
func (r *Run) timeOut(d time.Duration) {
	r.t.Helper()
	n := r.events()
	grown := func() bool {
		ev, _ := r.P.States.History(r.ARN)
		return len(ev) > n
	}
	r.P.Clock.Advance(d)
	// Move on a second at a time only while the interpreter stays idle, so
	// that the timeout is written at the time it came due.
	deadline := time.Now().Add(waitLimit)
	for !within(20*time.Millisecond, grown) {
		if time.Now().After(deadline) {
			r.t.Fatalf("sandboxtest: timed out after %v waiting for the waiting task of %s to time out", waitLimit, r.ARN)
		}
		r.P.Clock.Advance(time.Second)
	}
	r.token = ""
	r.settle(n)
}

// HealthTo lets the bake time pass and answers the health check with
// next, as the shift function does for a plan's next step (a pause, a
// hold, an approval step, …); the definition's MoreSteps routes on it.
func (r *Run) HealthTo(next promotion.Shift) *Run {
	r.t.Helper()
	r.timeOutBake()
	r.shift = next
	r.answer(promotion.ActionCheckHealth, Return(next))
	return r
}

// AwaitPause answers the Pause task in flight, leaving it waiting for its
// token (Token) until an operator continues it or its time runs out.
func (r *Run) AwaitPause() *Run {
	r.t.Helper()
	r.token = r.answer(promotion.ActionPause, Return(map[string]any{})).TaskToken
	return r
}

// Continue answers the Continue task in flight with next, as the shift
// function does after a pause: the definition's MoreSteps routes on it.
func (r *Run) Continue(next promotion.Shift) *Run {
	r.t.Helper()
	r.shift = next
	r.answer(promotion.ActionContinue, Return(next))
	return r
}

// CheckHealth lets the bake time pass and leaves the health check in flight.
func (r *Run) CheckHealth() *Run {
	r.timeOutBake()
	return r
}

// Finalize answers Finalize: the execution succeeds.
func (r *Run) Finalize() *Run {
	r.answer(promotion.ActionFinalize, Return(map[string]any{}))
	return r
}

// Unhealthy lets the bake time pass, fails the health check and answers
// the rollback: the execution fails RolledBack.
func (r *Run) Unhealthy() *Run {
	r.timeOutBake()
	r.Fail(promotion.ActionCheckHealth, promotion.ErrHealthCheckFailed, "error rate 100% > 5%")
	r.answer(promotion.ActionRollback, Return(map[string]any{}))
	return r
}

// Describe is DescribeExecution's answer for the run.
func (r *Run) Describe() *sfn.DescribeExecutionOutput {
	r.t.Helper()
	out, err := r.P.SFN.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(r.ARN)})
	if err != nil {
		r.t.Fatalf("sandboxtest: DescribeExecution: %v", err)
	}
	return out
}

// Events is the run's history, oldest first, as GetExecutionHistory pages it.
func (r *Run) Events() []types.HistoryEvent {
	r.t.Helper()
	ev, err := promotion.ReadHistory(context.Background(), r.P.SFN, r.ARN)
	if err != nil {
		r.t.Fatalf("sandboxtest: history: %v", err)
	}
	return ev
}
