package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aliasflow/aliasflow/cli/progress"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// stateMachine resolves --state-machine (a name or an ARN) to an ARN.
func (a *app) stateMachine(ctx context.Context) (string, error) {
	if a.smARN != "" {
		return a.smARN, nil
	}
	want := a.g.stateMachine
	if want == "" {
		want = DefaultStateMachine
	}
	if strings.HasPrefix(want, "arn:") {
		a.smARN = want
		return want, nil
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
	return "", fail(ExitNotFound, "is aliasflow deployed in this account and region? pass --state-machine NAME|ARN, or --endpoint for the sandbox (`aliasflow local`)",
		"state machine %q not found", want)
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

// readProgress describes an execution and reads its whole history.
func (a *app) readProgress(ctx context.Context, arn string) (*progress.Progress, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	exec, err := c.States.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		if awserr.Code(err) == awserr.NotFound {
			return nil, fail(ExitNotFound, "list promotions with `aliasflow status <function>`", "promotion %s not found", nameOf(arn))
		}
		return nil, fmt.Errorf("describe %s: %w", nameOf(arn), err)
	}
	events, err := promotion.ReadHistory(ctx, c.States, arn)
	if err != nil {
		return nil, err
	}
	return progress.Read(exec, events)
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
		if err != nil {
			return nil, fmt.Errorf("list promotions: %w", err)
		}
		for _, e := range page.Executions {
			if fn == "" || functionOf(aws.ToString(e.Name)) == fn {
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
	a.caller = aws.ToString(out.Arn)
	return a.caller, nil
}

// checkFunction refuses a function argument that is not a plain name.
func checkFunction(fn string) error {
	if err := config.ValidateFunctionName(fn); err != nil {
		return usageError("%v", err)
	}
	return nil
}
