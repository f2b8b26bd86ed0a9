package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aliasflow/aliasflow/cli/progress"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// stateMachine resolves --state-machine (a name or an ARN) to an ARN. A
// name is made an ARN in the caller's account and region (sts
// GetCallerIdentity, which approve and reject make anyway and which needs no
// permission), not looked up: ListStateMachines' bucket refills at 5 calls
// a second per account and Region ("Step Functions service quotas",
// https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html),
// and a merge train of approvals would empty it. Only clients handed in
// without a region (tests) are left to list.
func (a *app) stateMachine(ctx context.Context) (string, error) {
	if a.smARN != "" {
		return a.smARN, nil
	}
	want := a.smName()
	if strings.HasPrefix(want, "arn:") {
		a.smARN = want
		return want, nil
	}
	if region := a.regionOf(); region != "" {
		caller, err := a.callerARN(ctx)
		if err != nil {
			return "", err
		}
		parsed, err := arn.Parse(caller)
		if err != nil || parsed.AccountID == "" {
			return "", fmt.Errorf("state machine %s: the caller's ARN %q names no account: %v", want, caller, err)
		}
		a.smARN = arn.ARN{Partition: parsed.Partition, Service: "states", Region: region, AccountID: parsed.AccountID,
			Resource: "stateMachine:" + want}.String()
		return a.smARN, nil
	}
	c, err := a.aws(ctx)
	if err != nil {
		return "", err
	}
	p := sfn.NewListStateMachinesPaginator(c.States, &sfn.ListStateMachinesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list state machines: %w", err)
		}
		for _, sm := range page.StateMachines {
			if aws.ToString(sm.Name) == want {
				a.smARN = aws.ToString(sm.StateMachineArn)
				return a.smARN, nil
			}
		}
	}
	return "", a.noStateMachine()
}

// smName is --state-machine, DefaultStateMachine when empty.
func (a *app) smName() string {
	if a.g.stateMachine == "" {
		return DefaultStateMachine
	}
	return a.g.stateMachine
}

// noStateMachine is the error of a state machine that is not there.
func (a *app) noStateMachine() error {
	return fail(ExitNotFound, "is aliasflow deployed in this account and region? pass --state-machine NAME|ARN, or --endpoint for the sandbox (`aliasflow local`)",
		"state machine %q not found", a.smName())
}

// regionOf is the region the clients talk to: the AWS configuration's, or
// --region with clients handed in; "" when not known.
func (a *app) regionOf() string {
	if a.region != "" {
		return a.region
	}
	return a.g.region
}

// executionARN turns a <promotion> argument (execution name or ARN) into
// the execution's ARN.
func (a *app) executionARN(ctx context.Context, ref string) (string, error) {
	if strings.HasPrefix(ref, "arn:") {
		if !promotion.IsExecutionARN(ref) {
			return "", usageError("%q is not an execution ARN", ref)
		}
		return ref, nil
	}
	if ref == "" || strings.ContainsAny(ref, " :/") {
		return "", usageError("%q is not a promotion: give its execution name (hello-v2-1a2b3c4d) or ARN", ref)
	}
	sm, err := a.stateMachine(ctx)
	if err != nil {
		return "", err
	}
	return promotion.ExecutionARN(sm, ref), nil
}

// followed is what readProgress has read of one execution: a later read
// asks only for the events after the last one, and describes the execution
// again only once an event says it ended.
type followed struct {
	exec   *sfn.DescribeExecutionOutput
	events []types.HistoryEvent
}

// readProgress describes an execution and reads its history; read again in
// the same run (watch, the demo), it reads only the events added since —
// one GetExecutionHistory call a poll, not the whole history and a
// DescribeExecution each time ("Step Functions service quotas":
// DescribeExecution refills at 15 and GetExecutionHistory at 20 calls a
// second per account and Region, shared with the pipeline itself).
func (a *app) readProgress(ctx context.Context, arn string) (*progress.Progress, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	if a.followed == nil {
		a.followed = map[string]*followed{}
	}
	f := a.followed[arn]
	if f == nil {
		exec, err := a.describe(ctx, c, arn)
		if err != nil {
			return nil, err
		}
		events, err := promotion.ReadHistory(ctx, c.States, arn)
		if err != nil {
			return nil, err
		}
		// The execution can end between the two reads: a history that
		// holds its end while the description said running is described
		// again, or no later read would see an end it has already read.
		if n := len(events); n > 0 && exec.Status == types.ExecutionStatusRunning && executionEnded(events[n-1].Type) {
			if exec, err = a.describe(ctx, c, arn); err != nil {
				return nil, err
			}
		}
		f = &followed{exec: exec, events: events}
		a.followed[arn] = f
		return progress.Read(f.exec, f.events)
	}
	if f.exec.Status != types.ExecutionStatusRunning {
		return progress.Read(f.exec, f.events)
	}
	var last int64
	if n := len(f.events); n > 0 {
		last = f.events[n-1].Id
	}
	var added []types.HistoryEvent
	ended := false
	// Newest first in small pages (the API cannot resume after the last
	// page it gave): a poll with nothing new reads one page of ten.
	err = promotion.ScanRecent(ctx, c.States, arn, func(ev *types.HistoryEvent) bool {
		if ev.Id <= last {
			return false
		}
		added = append(added, *ev)
		ended = ended || executionEnded(ev.Type)
		return true
	})
	if err != nil {
		return nil, err
	}
	if ended {
		exec, err := a.describe(ctx, c, arn)
		if err != nil {
			return nil, err
		}
		f.exec = exec
	}
	slices.Reverse(added)
	f.events = append(f.events, added...)
	return progress.Read(f.exec, f.events)
}

// executionEnded says an event ends the execution.
func executionEnded(t types.HistoryEventType) bool {
	switch t {
	case types.HistoryEventTypeExecutionSucceeded, types.HistoryEventTypeExecutionFailed,
		types.HistoryEventTypeExecutionAborted, types.HistoryEventTypeExecutionTimedOut:
		return true
	}
	return false
}

func (a *app) describe(ctx context.Context, c *Clients, arn string) (*sfn.DescribeExecutionOutput, error) {
	exec, err := c.States.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		if awserr.Code(err) == awserr.NotFound {
			return nil, fail(ExitNotFound, "list promotions with `aliasflow status <function>`", "promotion %s not found", nameOf(arn))
		}
		return nil, fmt.Errorf("describe %s: %w", nameOf(arn), err)
	}
	return exec, nil
}

// functionOf is the function a promotion's execution name belongs to, ""
// when name is not one.
func functionOf(name string) string {
	ref, _ := promotion.ParseExecutionName(name)
	return ref.Function
}

// nameOf is an execution ARN's last part, the execution name.
func nameOf(arn string) string { return promotion.ExecutionNameOf(arn) }

// executions lists the promotions of fn ("" for all), newest first,
// filtered by status ("" for all).
func (a *app) executions(ctx context.Context, fn string, status types.ExecutionStatus, limit int) ([]types.ExecutionListItem, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	sm, err := a.stateMachine(ctx)
	if err != nil {
		return nil, err
	}
	in := &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm), StatusFilter: status}
	var out []types.ExecutionListItem
	p := sfn.NewListExecutionsPaginator(c.States, in)
	for p.HasMorePages() && (limit <= 0 || len(out) < limit) {
		page, err := p.NextPage(ctx)
		var missing *types.StateMachineDoesNotExist
		if errors.As(err, &missing) {
			return nil, a.noStateMachine()
		}
		if err != nil {
			return nil, fmt.Errorf("list promotions: %w", err)
		}
		for _, e := range page.Executions {
			if fn == "" || functionOf(aws.ToString(e.Name)) == fn {
				out = append(out, e)
				continue
			}
			// A group's promotion moves fn too when its input lists it.
			in, err := a.inGroupPromotion(ctx, aws.ToString(e.Name), aws.ToString(e.ExecutionArn), fn)
			if err != nil {
				return nil, err
			}
			if in {
				out = append(out, e)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return aws.ToTime(out[i].StartDate).After(aws.ToTime(out[j].StartDate))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// callerARN is the operator's identity, named in decisions and audit records.
func (a *app) callerARN(ctx context.Context) (string, error) {
	if a.caller != "" {
		return a.caller, nil
	}
	c, err := a.aws(ctx)
	if err != nil {
		return "", err
	}
	out, err := c.Identity.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", &Error{Code: ExitFailure, Err: fmt.Errorf("who am I (sts GetCallerIdentity): %w", err), Hint: "check your AWS credentials; aliasflow records who acts"}
	}
	a.caller, a.account = aws.ToString(out.Arn), aws.ToString(out.Account)
	return a.caller, nil
}

// checkFunction refuses a function argument that is not a plain name.
func checkFunction(fn string) error {
	if err := config.ValidateFunctionName(fn); err != nil {
		return usageError("%v", err)
	}
	return nil
}
