package shift

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Executions is the part of Step Functions the shift reads to verify that
// the promotion state machine itself scheduled the action it is asked to
// run.
type Executions interface {
	promotion.HistoryAPI
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
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
// history holds:
//   - the execution is one of the promotion state machine's and RUNNING
//     (DescribeExecution, https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html);
//   - newest first (GetExecutionHistory with reverseOrder,
//     https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html),
//     the history shows this action's Task state entered last and its task
//     scheduled and started, not yet closed;
//   - the task's parameters ("The JSON data passed to the resource
//     referenced in a task state", TaskScheduledEventDetails,
//     https://docs.aws.amazon.com/step-functions/latest/apireference/API_TaskScheduledEventDetails.html)
//     invoke this function, and their Payload is the request that runs.
//
// So a hand-written payload can at most repeat, while it runs, the very
// task the state machine is running; its promotion state, version and actor
// are never used. It also returns the execution's own input
// (DescribeExecution's input), which a manual rollback acts on.
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
	machine, ok := promotionMachine(req.Execution)
	if !ok {
		return refuse("execution %q is not an execution of the %s state machine", req.Execution, deploy.StateMachine)
	}
	desc, err := h.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(req.Execution)})
	switch {
	case awserr.Code(err) == awserr.NotFound:
		return refuse("execution %s does not exist", req.Execution)
	case err != nil:
		return promotion.TaskRequest{}, "", fmt.Errorf("verify the caller: describe %s: %w", req.Execution, err)
	case aws.ToString(desc.StateMachineArn) != machine:
		return refuse("execution %s belongs to %s, not %s", req.Execution, aws.ToString(desc.StateMachineArn), machine)
	case desc.Status != types.ExecutionStatusRunning:
		return refuse("execution %s is %s, not RUNNING", req.Execution, desc.Status)
	}
	var (
		params  string
		entered string
		why     string
	)
	err = promotion.ScanRecent(ctx, h.sfn, req.Execution, func(ev *types.HistoryEvent) bool {
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
			}
			why = fmt.Sprintf("no task is running (the latest event is %s)", ev.Type)
			return false
		}
		if name := promotion.EnteredState(ev); name != "" || strings.HasSuffix(string(ev.Type), "StateEntered") {
			entered = name
			return false
		}
		return true
	})
	if err != nil {
		return promotion.TaskRequest{}, "", fmt.Errorf("verify the caller: %w", err)
	}
	switch {
	case why != "":
		return refuse("execution %s: %s", req.Execution, why)
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
	return got, aws.ToString(desc.Input), nil
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
