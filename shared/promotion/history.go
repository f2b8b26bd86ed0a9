package promotion

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// HistoryAPI is the Step Functions call that reads an execution's history.
type HistoryAPI interface {
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, opts ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

// historyPage is how many events one GetExecutionHistory call asks for, the
// API's maximum; maxHistoryPages of them hold the longest history a
// standard workflow can have (25,000 events: "Quotas related to state
// machine executions", AWS Step Functions Developer Guide).
const (
	historyPage     = 1000
	maxHistoryPages = 25
)

// ErrHistoryTooLong says a history did not end within the pages a standard
// workflow's history can fill (a runaway listing).
var ErrHistoryTooLong = errors.New("execution history longer than 25,000 events")

// ScanHistory reads an execution's history newest first, one page at a time,
// and hands each event to visit until visit returns false or the history
// ends; a reader that stops early spends one call on a short history.
// includeData asks for the states' inputs and outputs and the tasks'
// parameters (GetExecutionHistory's includeExecutionData).
func ScanHistory(ctx context.Context, api HistoryAPI, executionARN string, includeData bool, visit func(ev *types.HistoryEvent) bool) error {
	return scanHistory(ctx, api, executionARN, includeData, historyPage, maxHistoryPages, visit)
}

// recentPage is how many events ScanRecent asks for at a time: a reader
// that needs the last few events with their data (the running task's
// parameters) should not be sent a thousand states' inputs.
const recentPage = 10

// ScanRecent is ScanHistory with the data, for a reader that stops within
// the newest few events: it reads them in small pages.
func ScanRecent(ctx context.Context, api HistoryAPI, executionARN string, visit func(ev *types.HistoryEvent) bool) error {
	return scanHistory(ctx, api, executionARN, true, recentPage, maxHistoryPages*historyPage/recentPage, visit)
}

func scanHistory(ctx context.Context, api HistoryAPI, executionARN string, includeData bool, page int32, maxPages int, visit func(ev *types.HistoryEvent) bool) error {
	var next *string
	for range maxPages {
		out, err := api.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{
			ExecutionArn:         aws.String(executionARN),
			IncludeExecutionData: aws.Bool(includeData),
			MaxResults:           page,
			ReverseOrder:         true,
			NextToken:            next,
		})
		if err != nil {
			return fmt.Errorf("execution history of %s: %w", executionARN, err)
		}
		for i := range out.Events {
			if !visit(&out.Events[i]) {
				return nil
			}
		}
		if next = out.NextToken; next == nil || *next == "" {
			return nil
		}
	}
	return fmt.Errorf("execution history of %s: %w", executionARN, ErrHistoryTooLong)
}

// ReadHistory reads an execution's whole history, with its data, oldest
// first.
func ReadHistory(ctx context.Context, api HistoryAPI, executionARN string) ([]types.HistoryEvent, error) {
	var events []types.HistoryEvent
	err := ScanHistory(ctx, api, executionARN, true, func(ev *types.HistoryEvent) bool {
		events = append(events, *ev)
		return true
	})
	slices.Reverse(events)
	return events, err
}

// EnteredState is the state name a *StateEntered event names, "" for any
// other event.
func EnteredState(ev *types.HistoryEvent) string {
	if ev.StateEnteredEventDetails == nil {
		return ""
	}
	return aws.ToString(ev.StateEnteredEventDetails.Name)
}

// ExitedState is the state name a *StateExited event names, "" for any
// other event.
func ExitedState(ev *types.HistoryEvent) string {
	if ev.StateExitedEventDetails == nil {
		return ""
	}
	return aws.ToString(ev.StateExitedEventDetails.Name)
}

// ProdMoving reports whether a promotion has begun moving prod. The rule,
// the one every reader of a promotion follows: prod has begun moving once
// the execution has entered BeginShift (it may change prod's routing from
// then on, and nothing before it does). The history is read newest first
// and stops at the newest state that decides (see Stage), so a running
// promotion costs one call. A history too long to read counts as moving:
// unsure, a caller must not stop a shift.
func ProdMoving(ctx context.Context, api HistoryAPI, executionARN string) (bool, error) {
	moving := false
	err := ScanHistory(ctx, api, executionARN, false, func(ev *types.HistoryEvent) bool {
		switch StageOf(EnteredState(ev)) {
		case StageShift:
			moving = true
			return false
		case StageBeforeShift:
			return false
		}
		return true
	})
	if errors.Is(err, ErrHistoryTooLong) {
		return true, nil
	}
	return moving, err
}

// ProdMovingIn applies ProdMoving's rule to events already read (in any
// order).
func ProdMovingIn(events []types.HistoryEvent) bool {
	for i := range events {
		if EnteredState(&events[i]) == StateBeginShift {
			return true
		}
	}
	return false
}

// TaskAttempt is one scheduling of a Task state's task within the state's
// latest entry: the first try, then one per retry.
type TaskAttempt struct {
	// Submitted: the service call returned (a Lambda invoke that ended
	// without a function error); a callback task then waits for its token.
	Submitted bool
	// Closed is the event that ended the attempt (TaskSucceeded,
	// TaskFailed, TaskTimedOut, ...), "" while it runs or when it was cut
	// off.
	Closed types.HistoryEventType
	// Error and Cause are a TaskFailed's.
	Error, Cause string
}

// TaskAttempts reads an execution's history newest first back to the latest
// entry into state and returns the attempts of its task in that entry,
// oldest first; the last one is the attempt running now when a task asks
// about its own state. A state not entered has none.
func TaskAttempts(ctx context.Context, api HistoryAPI, executionARN, state string) ([]TaskAttempt, error) {
	var since []types.HistoryEvent // newest first
	entered := false
	err := ScanHistory(ctx, api, executionARN, true, func(ev *types.HistoryEvent) bool {
		if entered = EnteredState(ev) == state; entered {
			return false
		}
		since = append(since, *ev)
		return true
	})
	if err != nil || !entered {
		return nil, err
	}
	var attempts []TaskAttempt
	for i := len(since) - 1; i >= 0; i-- {
		ev := &since[i]
		if ev.Type == types.HistoryEventTypeTaskScheduled {
			attempts = append(attempts, TaskAttempt{})
			continue
		}
		if len(attempts) == 0 {
			continue
		}
		a := &attempts[len(attempts)-1]
		switch ev.Type {
		case types.HistoryEventTypeTaskSubmitted:
			a.Submitted = true
		case types.HistoryEventTypeTaskFailed:
			a.Closed = ev.Type
			if d := ev.TaskFailedEventDetails; d != nil {
				a.Error, a.Cause = aws.ToString(d.Error), aws.ToString(d.Cause)
			}
		case types.HistoryEventTypeTaskSucceeded, types.HistoryEventTypeTaskTimedOut,
			types.HistoryEventTypeTaskStartFailed, types.HistoryEventTypeTaskSubmitFailed:
			a.Closed = ev.Type
		}
		if ExitedState(ev) == state {
			break
		}
	}
	return attempts, nil
}
