package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/pending"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/spf13/cobra"
)

// The states whose waitForTaskToken tasks the CLI answers.
const (
	stateApproval = promotion.StateRequestApproval
	// stateBake waits out a step's bake once SetWeight has put the weight
	// on prod; `promote --now` answers its task.
	stateBake = promotion.StateBake
)

func approveCommand(a *app) *cobra.Command {
	var comment string
	c := &cobra.Command{
		Use:   "approve <promotion|function> [--comment TEXT]",
		Short: "approve a promotion waiting for approval, as you",
		Args:  positional(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			d, arn, err := a.decide(c.Context(), args[0], true, comment)
			if err != nil {
				return err
			}
			return a.printDecision(arn, d)
		},
	}
	c.Flags().StringVar(&comment, "comment", "", "why (recorded in the audit trail)")
	return c
}

func rejectCommand(a *app) *cobra.Command {
	var comment string
	c := &cobra.Command{
		Use:   "reject <promotion|function> --comment TEXT",
		Short: "reject a promotion waiting for approval, as you",
		Args:  positional(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			return runReject(c.Context(), a, args[0], comment)
		},
	}
	c.Flags().StringVar(&comment, "comment", "", "why the release is rejected (required; recorded in the audit trail)")
	return c
}

func runReject(ctx context.Context, a *app, ref, comment string) error {
	if strings.TrimSpace(comment) == "" {
		return usageError("reject: say why with --comment \"...\"; the audit trail keeps it")
	}
	d, arn, err := a.decide(ctx, ref, false, comment)
	if err != nil {
		return err
	}
	return a.printDecision(arn, d)
}

func (a *app) printDecision(arn string, d *promotion.Decision) error {
	ref := nameOf(arn)
	if a.g.json {
		return printJSON(a.env.Stdout, map[string]any{"promotion": ref, "execution": arn, "decision": d})
	}
	verb := "approved"
	if !d.Approved {
		verb = "rejected"
	}
	fmt.Fprintf(a.env.Stdout, "%s %s as %s\n", verb, nameOf(ref), d.Approver)
	if d.Approved {
		fmt.Fprintf(a.env.Stdout, "follow it: aliasflow watch %s\n", nameOf(ref))
	}
	return nil
}

// decide answers a promotion's approval task as the caller. The workflow's
// RecordApproval / RecordRejection tasks write the audit record that names
// the approver.
func (a *app) decide(ctx context.Context, ref string, approve bool, comment string) (*promotion.Decision, string, error) {
	arn, err := a.promotionARN(ctx, ref, stateApproval)
	if err != nil {
		return nil, "", err
	}
	c, err := a.aws(ctx)
	if err != nil {
		return nil, "", err
	}
	p, err := a.findWaiting(ctx, arn, stateApproval)
	if err != nil {
		return nil, "", err
	}
	caller, err := a.callerARN(ctx)
	if err != nil {
		return nil, "", err
	}
	d := &promotion.Decision{
		Approved: approve, Approver: caller, Comment: comment, Via: "cli",
		RequestedAt: p.EnteredTime.UTC(), DecidedAt: a.env.Now().UTC(),
	}
	body, err := json.Marshal(d)
	if err != nil {
		return nil, "", fmt.Errorf("encode decision: %w", err)
	}
	if approve {
		_, err = c.States.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(p.TaskToken.Reveal()), Output: aws.String(string(body))})
	} else {
		_, err = c.States.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(p.TaskToken.Reveal()), Error: aws.String(promotion.ErrRejected), Cause: aws.String(string(body))})
	}
	if err != nil {
		return nil, "", tokenRefused(nameOf(arn), "decided", err)
	}
	return d, arn, nil
}

// promotionARN resolves a <promotion> argument. A function name is also
// accepted (the approval e-mail suggests `aliasflow approve hello`) when
// exactly one of its promotions waits in state.
func (a *app) promotionARN(ctx context.Context, ref, state string) (string, error) {
	if strings.HasPrefix(ref, "arn:") || functionOf(ref) != "" || config.ValidateFunctionName(ref) != nil {
		return a.executionARN(ctx, ref)
	}
	running, err := a.executions(ctx, ref, sfntypes.ExecutionStatusRunning, 0)
	if err != nil {
		return "", err
	}
	var waiting, elsewhere []string
	for _, e := range running {
		p, err := a.readProgress(ctx, aws.ToString(e.ExecutionArn))
		if err != nil {
			return "", err
		}
		if p.State == state {
			waiting = append(waiting, p.Execution)
		} else {
			elsewhere = append(elsewhere, p.Name+" ("+p.Gate+")")
		}
	}
	what := "awaits approval"
	if state == stateBake {
		what = "is baking"
	}
	switch len(waiting) {
	case 0:
		// No such function is "not found", as for status. Only that: an
		// approver's policy may not grant reading the function at all.
		var e *Error
		if _, err := a.aliases(ctx, ref); errors.As(err, &e) && e.Code == ExitNotFound {
			return "", err
		}
		// Say what is running instead, as status would.
		others := "; none is running"
		if len(elsewhere) > 0 {
			others = "; running: " + strings.Join(elsewhere, ", ")
		}
		return "", fail(ExitConflict, fmt.Sprintf("see `aliasflow status %s`", ref), "no promotion of %s %s%s", ref, what, others)
	case 1:
		return waiting[0], nil
	}
	names := make([]string, len(waiting))
	for i, w := range waiting {
		names[i] = nameOf(w)
	}
	return "", usageError("%d promotions of %s %s (%s): name one", len(waiting), ref, what, strings.Join(names, ", "))
}

// findWaiting finds the open task of state, turning "not waiting" into
// errors that say what the promotion is doing instead.
func (a *app) findWaiting(ctx context.Context, arn, state string) (*pending.Pending, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	p, err := pending.Find(ctx, c.States, arn, state)
	if err == nil {
		return p, nil
	}
	name := nameOf(arn)
	var missing *sfntypes.ExecutionDoesNotExist
	if errors.As(err, &missing) {
		return nil, fail(ExitNotFound, "list promotions with `aliasflow status <function>`", "promotion %s not found", name)
	}
	var nw *pending.NotWaitingError
	var nr *pending.NotRunningError
	switch {
	case errors.As(err, &nr):
		hint := fmt.Sprintf("see what happened with `aliasflow history %s`", functionOr(name))
		if state == stateApproval && nr.Decided() && nr.Decision != nil {
			return nil, fail(ExitConflict, hint, "promotion %s has ended (%s); it was already decided by %s", name, nr.Execution.Status, nr.Decision.Approver)
		}
		return nil, fail(ExitConflict, hint, "promotion %s has ended (%s)", name, nr.Execution.Status)
	case errors.As(err, &nw):
		where := "it is elsewhere"
		if pr, perr := a.readProgress(ctx, arn); perr == nil {
			where = "it is " + pr.Gate
		}
		hint := fmt.Sprintf("check where it stands with `aliasflow status %s`", functionOr(name))
		if state == stateApproval && nw.Decided() && nw.Decision != nil {
			verb := "approved"
			if !nw.Decision.Approved {
				verb = "rejected"
			}
			return nil, fail(ExitConflict, hint, "promotion %s was already %s by %s; %s", name, verb, nw.Decision.Approver, where)
		}
		what := "waiting for approval"
		if state == stateBake {
			what = "baking"
		}
		return nil, fail(ExitConflict, hint, "promotion %s is not %s: %s", name, what, where)
	}
	return nil, err
}

// tokenRefused explains a SendTask* refusal: someone else answered first,
// or the wait ended.
func tokenRefused(name, what string, err error) error {
	var gone *sfntypes.TaskDoesNotExist
	var timedOut *sfntypes.TaskTimedOut
	var badToken *sfntypes.InvalidToken
	if errors.As(err, &gone) || errors.As(err, &timedOut) || errors.As(err, &badToken) {
		return &Error{Code: ExitConflict, Err: fmt.Errorf("promotion %s was %s meanwhile or its wait ended: %w", name, what, err),
			Hint: fmt.Sprintf("check where it stands with `aliasflow status %s`", functionOr(name))}
	}
	return fmt.Errorf("answer %s: %w", name, err)
}

// functionOr is the function of an execution name, or a placeholder.
func functionOr(name string) string {
	if fn := functionOf(name); fn != "" {
		return fn
	}
	return "<function>"
}
