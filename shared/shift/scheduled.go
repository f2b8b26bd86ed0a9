package shift

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Executions is the part of Step Functions the shift reads to verify that
// the promotion state machine itself scheduled the action it is asked to
// run: the newest events of the execution's history, nothing else.
type Executions interface {
	promotion.HistoryAPI
}

// ErrNotScheduled names a refused invocation: no running promotion has the
// action's task scheduled for this Lambda. The definition never sees it
// (its own invocations are scheduled); a person who invoked the Lambda by
// hand does.
const ErrNotScheduled = "aliasflow.NotScheduled"

// stateOf is the state of the definition whose task sends each action.
var stateOf = func() map[string]string {
	m := map[string]string{}
	for state, action := range promotion.TaskActions {
		m[action] = state
	}
	return m
}()

// scheduled returns the request the promotion state machine scheduled for
// this invocation, read from the execution's history, and refuses one that
// no running promotion asked for. Nothing of the invoke payload is trusted
// but the execution it names and its action, and both must match what the
// history holds. It costs one read (the caller check runs on every task,
// and Step Functions' GetExecutionHistory bucket is shared by every
// promotion of the account: "Step Functions service quotas",
// https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html):
// GetExecutionHistory newest first in a small page
// (https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html)
// says all of it:
//   - the execution exists (else ExecutionDoesNotExist) and is one of the
//     promotion state machine's (its ARN names the state machine);
//   - it is running: its newest event is this task's TaskStarted (an
//     ended execution's newest event is its Execution{Succeeded,Failed,
//     Aborted,TimedOut});
//   - behind it the task scheduled and, before that, this action's Task
//     state entered;
//   - the task's parameters ("The JSON data passed to the resource
//     referenced in a task state", TaskScheduledEventDetails,
//     https://docs.aws.amazon.com/step-functions/latest/apireference/API_TaskScheduledEventDetails.html)
//     invoke this function, and their Payload is the request that runs.
//
// So a hand-written payload can at most repeat, while it runs, the very
// task the state machine is running; its promotion state, version and actor
// are never used. It also returns the input of the task's state as the
// history gives it (TaskStateEntered), which for ManualRollback is the
// execution's own input: the Mode choice before it passes its input on
// unchanged. A throttled read is waited out (callerCheck).
func (h *Handler) scheduled(ctx context.Context, req promotion.TaskRequest) (promotion.TaskRequest, string, error) {
	refuse := func(format string, args ...any) (promotion.TaskRequest, string, error) {
		h.log.WarnContext(ctx, "shift invocation refused: not scheduled by a running promotion",
			"action", req.Action, "execution", req.Execution, "claimedActor", req.Actor, "reason", fmt.Sprintf(format, args...))
		return promotion.TaskRequest{}, "", promotion.TaskError(ErrNotScheduled, "shift %s refused: "+format, append([]any{req.Action}, args...)...)
	}
	state := stateOf[req.Action]
	if state == "" {
		return refuse("no state of the promotion sends this action")
	}
	if _, ok := promotionMachine(req.Execution); !ok {
		return refuse("execution %q is not an execution of the %s state machine", req.Execution, deploy.StateMachine)
	}
	var (
		params  string
		entered string
		input   string
		why     string
	)
	err := h.callerCheck(ctx, func() error {
		params, entered, input, why = "", "", "", ""
		return promotion.ScanRecent(ctx, h.sfn, req.Execution, func(ev *types.HistoryEvent) bool {
			if params == "" {
				switch ev.Type {
				case types.HistoryEventTypeTaskStarted:
					return true
				case types.HistoryEventTypeTaskScheduled:
					d := ev.TaskScheduledEventDetails
					if d == nil || aws.ToString(d.ResourceType) != "lambda" || aws.ToString(d.Parameters) == "" {
						why = "the scheduled task is not a Lambda invoke"
						return false
					}
					params = aws.ToString(d.Parameters)
					return true
				case types.HistoryEventTypeExecutionSucceeded, types.HistoryEventTypeExecutionFailed,
					types.HistoryEventTypeExecutionAborted, types.HistoryEventTypeExecutionTimedOut:
					why = fmt.Sprintf("has ended (%s), not RUNNING", ev.Type)
					return false
				}
				why = fmt.Sprintf("no task is running (the latest event is %s)", ev.Type)
				return false
			}
			if name := promotion.EnteredState(ev); name != "" || strings.HasSuffix(string(ev.Type), "StateEntered") {
				entered = name
				if d := ev.StateEnteredEventDetails; d != nil {
					input = aws.ToString(d.Input)
				}
				return false
			}
			return true
		})
	})
	switch {
	case awserr.Code(err) == awserr.NotFound:
		return refuse("execution %s does not exist", req.Execution)
	case err != nil:
		return promotion.TaskRequest{}, "", fmt.Errorf("verify the caller: %w", err)
	case why != "":
		return refuse("execution %s %s", req.Execution, why)
	case params == "":
		return refuse("execution %s has no task running", req.Execution)
	case entered != state:
		return refuse("execution %s is in state %q, not %s", req.Execution, entered, state)
	}
	var task struct {
		FunctionName string          `json:"FunctionName"`
		Payload      json.RawMessage `json:"Payload"`
	}
	if err := json.Unmarshal([]byte(params), &task); err != nil {
		return refuse("execution %s: the %s task's parameters are not a Lambda invoke: %v", req.Execution, state, err)
	}
	if name := functionName(task.FunctionName); name != h.self {
		return refuse("execution %s: the %s task invokes %q, not %s", req.Execution, state, name, h.self)
	}
	var got promotion.TaskRequest
	if err := json.Unmarshal(task.Payload, &got); err != nil {
		return refuse("execution %s: the %s task's payload: %v", req.Execution, state, err)
	}
	if got.Action != req.Action || got.Execution != req.Execution {
		return refuse("execution %s scheduled %q for execution %q", req.Execution, got.Action, got.Execution)
	}
	return got, input, nil
}

// The caller check's patience with a throttled read: backoff from
// callerFirstWait doubling to callerMaxWait (full jitter), for as long as
// the invocation has callerReserve of its time left (a minute for the
// shift Lambda); without a deadline, at most callerPatience in all.
const (
	callerFirstWait = 500 * time.Millisecond
	callerMaxWait   = 8 * time.Second
	callerReserve   = 10 * time.Second
	callerPatience  = 5 * time.Minute
)

// callerCheck runs read until it is not throttled (nor failed otherwise
// transiently), waiting between
// attempts: a throttle says the account's bucket is empty for a moment,
// not that the caller is wrong, and failing the task would send a
// possibly healthy promotion towards its rollback once the definition's
// retries ran out. Only when the invocation's time runs out does the
// throttle go back as the error (aliasflow.Transient, retried by the
// definition).
func (h *Handler) callerCheck(ctx context.Context, read func() error) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(callerPatience)
	}
	wait := callerFirstWait
	for {
		err := read()
		if err == nil || !promotion.IsTransient(err) {
			return err
		}
		pause := time.Duration(rand.Int64N(int64(wait))) + time.Millisecond
		if time.Until(deadline) < callerReserve+pause {
			return err
		}
		h.log.InfoContext(ctx, "caller check throttled; waiting", "wait", pause.String(), "error", err.Error())
		if err := h.sleep(ctx, pause); err != nil {
			return err
		}
		wait = min(2*wait, callerMaxWait)
	}
}

// promotionMachine is the ARN of the state machine of an execution ARN
// (arn:PARTITION:states:REGION:ACCOUNT:execution:MACHINE:NAME), ok only
// for the promotion state machine's executions.
func promotionMachine(execution string) (string, bool) {
	a, err := arn.Parse(execution)
	if err != nil || a.Service != "states" {
		return "", false
	}
	parts := strings.Split(a.Resource, ":")
	if len(parts) != 3 || parts[0] != "execution" || parts[1] != deploy.StateMachine || parts[2] == "" {
		return "", false
	}
	a.Resource = "stateMachine:" + parts[1]
	return a.String(), true
}

// functionName is the name in a Lambda FunctionName parameter: a name, a
// function ARN or a partial ARN, qualified or not.
func functionName(s string) string {
	if i := strings.Index(s, ":function:"); i >= 0 {
		s = s[i+len(":function:"):]
	}
	name, _, _ := strings.Cut(s, ":")
	return name
}
