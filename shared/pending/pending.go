// Package pending finds the task a promotion is waiting on — the open
// `.waitForTaskToken` task of one state — from the execution's history, so a
// decider (the approval page, the CLI) can answer it without the task token
// ever travelling in a link, an e-mail or a log line.
package pending

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// HistoryAPI is the Step Functions calls Find makes.
type HistoryAPI interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, opts ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

// Token is a task token. It is a bearer credential for the waiting task, so
// it prints, logs and marshals as "[redacted]"; Reveal gives the value for
// the one call that needs it (SendTaskSuccess / SendTaskFailure).
type Token string

const redacted = "[redacted]"

// Reveal returns the token itself.
func (t Token) Reveal() string { return string(t) }

// String keeps the token out of fmt output.
func (t Token) String() string { return redacted }

// GoString keeps the token out of %#v output.
func (t Token) GoString() string { return redacted }

// LogValue keeps the token out of slog output.
func (t Token) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON keeps the token out of JSON output.
func (t Token) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// Execution is what DescribeExecution says about a promotion.
type Execution struct {
	ARN    string
	Status types.ExecutionStatus
	// Input is the execution input (it carries the target and its approvers).
	Input     promotion.Input
	StartDate time.Time
	StopDate  time.Time
	// Error and Cause are how an ended execution ended (a Fail state's,
	// or StopExecution's).
	Error, Cause string
}

// Pending is an open waitForTaskToken task.
type Pending struct {
	Execution Execution
	// State is the name of the state that waits.
	State string
	// TaskToken answers the task; never log it.
	TaskToken Token
	// EnteredTime is when the state was entered (the wait began).
	EnteredTime time.Time
	// TimeoutSeconds is the task's timeout as scheduled, 0 when unknown.
	TimeoutSeconds int64
	// Input is the state's input: the promotion as the waiting task sees it.
	Input promotion.State
	// ApprovalURL is the payload's approvalUrl, when it has one.
	ApprovalURL string
}

// ExpiresAt is when the task times out, zero when no timeout is known.
func (p *Pending) ExpiresAt() time.Time {
	if p.TimeoutSeconds <= 0 || p.EnteredTime.IsZero() {
		return time.Time{}
	}
	return p.EnteredTime.Add(time.Duration(p.TimeoutSeconds) * time.Second)
}

// NotWaitingError says the execution runs but the state has no open task:
// it was decided already, timed out, or the execution has not reached the
// state or moved past it.
type NotWaitingError struct {
	Execution Execution
	State     string
	// Closed is the history event that closed the state's last task
	// (TaskSucceeded, TaskFailed, TaskTimedOut, ...), "" when none did.
	Closed types.HistoryEventType
	// Decision is the decision the closing event carries, when it is one.
	Decision *promotion.Decision
}

func (e *NotWaitingError) Error() string {
	switch e.Closed {
	case "":
		return fmt.Sprintf("%s is not waiting in %s", e.Execution.ARN, e.State)
	default:
		return fmt.Sprintf("%s is not waiting in %s: its task ended with %s", e.Execution.ARN, e.State, e.Closed)
	}
}

// Decided reports whether a decision closed the task: a success, or a
// failure carrying a Decision (a failure without one is a failed attempt
// that Step Functions may retry).
func (e *NotWaitingError) Decided() bool { return decided(e.Closed, e.Decision) }

// NotRunningError says the execution has ended.
type NotRunningError struct {
	Execution Execution
	State     string
	// Closed is the event that closed the state's last task, as in
	// NotWaitingError; "" when the execution ended without the state's task
	// closing (stopped, timed out, or never reached it).
	Closed   types.HistoryEventType
	Decision *promotion.Decision
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("%s is not running (%s)", e.Execution.ARN, e.Execution.Status)
}

// Decided reports whether a decision closed the state's task before the
// execution ended.
func (e *NotRunningError) Decided() bool { return decided(e.Closed, e.Decision) }

func decided(closed types.HistoryEventType, d *promotion.Decision) bool {
	return closed == types.HistoryEventTypeTaskSucceeded || (closed == types.HistoryEventTypeTaskFailed && d != nil)
}

// Describe reads the execution's status and input.
func Describe(ctx context.Context, api HistoryAPI, executionARN string) (Execution, error) {
	out, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(executionARN)})
	if err != nil {
		return Execution{}, fmt.Errorf("describe execution %s: %w", executionARN, err)
	}
	ex := Execution{ARN: executionARN, Status: out.Status, StartDate: aws.ToTime(out.StartDate), StopDate: aws.ToTime(out.StopDate),
		Error: aws.ToString(out.Error), Cause: aws.ToString(out.Cause)}
	if in := aws.ToString(out.Input); in != "" {
		if err := json.Unmarshal([]byte(in), &ex.Input); err != nil {
			return Execution{}, fmt.Errorf("execution %s: input is not a promotion: %w", executionARN, err)
		}
	}
	return ex, nil
}

// Find returns the open waitForTaskToken task of stateName in the execution:
// the latest TaskScheduled since the state was last entered, with no close
// (TaskSucceeded, TaskFailed, TaskTimedOut, ...) after it and the state not
// exited. It returns *NotWaitingError or *NotRunningError when there is none.
func Find(ctx context.Context, api HistoryAPI, executionARN, stateName string) (*Pending, error) {
	ex, err := Describe(ctx, api, executionARN)
	if err != nil {
		return nil, err
	}
	s, err := scan(ctx, api, executionARN, stateName)
	if err != nil {
		return nil, err
	}
	if ex.Status != types.ExecutionStatusRunning {
		return nil, &NotRunningError{Execution: ex, State: stateName, Closed: s.closed, Decision: s.decision}
	}
	if s.scheduled == nil || s.closed != "" || s.exited {
		return nil, &NotWaitingError{Execution: ex, State: stateName, Closed: s.closed, Decision: s.decision}
	}
	return s.pending(ex, stateName)
}

// waitPayload is the part of a TaskScheduled event's parameters Find reads:
// a lambda:invoke task's Payload (a promotion.TaskRequest).
type waitPayload struct {
	Payload struct {
		TaskToken   string          `json:"taskToken"`
		EnteredTime time.Time       `json:"enteredTime"`
		ApprovalURL string          `json:"approvalUrl"`
		Promotion   json.RawMessage `json:"promotion"`
	} `json:"Payload"`
}

type scanResult struct {
	entered   *types.HistoryEvent
	scheduled *types.HistoryEvent
	closed    types.HistoryEventType
	decision  *promotion.Decision
	exited    bool
}

// scan reads the history newest first until the latest entry into the
// state, then replays what followed that entry in order.
func scan(ctx context.Context, api HistoryAPI, executionARN, stateName string) (scanResult, error) {
	var since []types.HistoryEvent // newest first
	found := false
	err := promotion.ScanHistory(ctx, api, executionARN, true, func(ev *types.HistoryEvent) bool {
		since = append(since, *ev)
		found = promotion.EnteredState(ev) == stateName
		return !found
	})
	if err != nil {
		return scanResult{}, err
	}
	var r scanResult
	if !found {
		return r, nil
	}
	slices.Reverse(since)
	r.entered = &since[0]
	for i := 1; i < len(since) && !r.exited; i++ {
		ev := &since[i]
		switch ev.Type {
		case types.HistoryEventTypeTaskScheduled:
			// A retry schedules the task again; the newest one is the open one.
			r.scheduled, r.closed, r.decision = ev, "", nil
		case types.HistoryEventTypeTaskSucceeded:
			r.closed = ev.Type
			if d := ev.TaskSucceededEventDetails; d != nil {
				r.decision = decodeDecision(aws.ToString(d.Output))
			}
		case types.HistoryEventTypeTaskFailed:
			r.closed = ev.Type
			if d := ev.TaskFailedEventDetails; d != nil {
				r.decision = decodeDecision(aws.ToString(d.Cause))
			}
		case types.HistoryEventTypeTaskTimedOut, types.HistoryEventTypeTaskStartFailed, types.HistoryEventTypeTaskSubmitFailed:
			r.closed = ev.Type
		case types.HistoryEventTypeTaskStateAborted:
			r.exited = true
		default:
			if promotion.ExitedState(ev) == stateName {
				r.exited = true
			}
		}
	}
	return r, nil
}

func decodeDecision(s string) *promotion.Decision {
	var d promotion.Decision
	if s == "" || json.Unmarshal([]byte(s), &d) != nil || d.Approver == "" {
		return nil
	}
	return &d
}

func (r scanResult) pending(ex Execution, stateName string) (*Pending, error) {
	d := r.scheduled.TaskScheduledEventDetails
	if d == nil {
		return nil, fmt.Errorf("%s: TaskScheduled event %d of %s has no details", ex.ARN, r.scheduled.Id, stateName)
	}
	var wp waitPayload
	if err := json.Unmarshal([]byte(aws.ToString(d.Parameters)), &wp); err != nil {
		return nil, fmt.Errorf("%s: parameters of the %s task are not a lambda:invoke payload: %w", ex.ARN, stateName, err)
	}
	if wp.Payload.TaskToken == "" {
		return nil, fmt.Errorf("%s: the %s task carries no taskToken (is it a .waitForTaskToken task, and is execution data included?)", ex.ARN, stateName)
	}
	p := &Pending{
		Execution:      ex,
		State:          stateName,
		TaskToken:      Token(wp.Payload.TaskToken),
		EnteredTime:    wp.Payload.EnteredTime,
		TimeoutSeconds: aws.ToInt64(d.TimeoutInSeconds),
		ApprovalURL:    wp.Payload.ApprovalURL,
	}
	if p.EnteredTime.IsZero() {
		p.EnteredTime = aws.ToTime(r.entered.Timestamp)
	}
	input := ""
	if sd := r.entered.StateEnteredEventDetails; sd != nil {
		input = aws.ToString(sd.Input)
	}
	switch {
	case input != "":
		if err := json.Unmarshal([]byte(input), &p.Input); err != nil {
			return nil, fmt.Errorf("%s: input of %s is not a promotion state: %w", ex.ARN, stateName, err)
		}
	case len(wp.Payload.Promotion) > 0:
		if err := json.Unmarshal(wp.Payload.Promotion, &p.Input); err != nil {
			return nil, fmt.Errorf("%s: payload promotion of %s is not a promotion state: %w", ex.ARN, stateName, err)
		}
	default:
		p.Input.Input = ex.Input
	}
	return p, nil
}

// IsNotWaiting reports whether err says the state has no open task while
// the execution runs.
func IsNotWaiting(err error) bool {
	var nw *NotWaitingError
	return errors.As(err, &nw)
}

// IsNotRunning reports whether err says the execution has ended.
func IsNotRunning(err error) bool {
	var nr *NotRunningError
	return errors.As(err, &nr)
}
