package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/pending"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/spf13/cobra"
)

// The states whose waitForTaskToken tasks the CLI answers.
const (
	stateApproval = promotion.StateRequestApproval
	// stateBake waits out a step's bake once SetWeight has put the weight
	// on prod; `promote` answers its task — or the task of a pause of the
	// plan (statePause), which promotionARN and findWaiting accept for it.
	stateBake  = promotion.StateBake
	statePause = promotion.StatePause
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
	// The approval page and API apply the same rule (approval.CheckComment).
	if approval.CheckComment(false, comment) != nil {
		return usageError("reject: say why with --comment \"...\"; the audit trail keeps it")
	}
	d, arn, err := a.decide(ctx, ref, false, comment)
	if err != nil {
		return err
	}
	return a.printDecision(arn, d)
}

// apiDecision is a decision as the approval API answered it: with, for a
// target needing more than one approval, where the count stands.
type apiDecision struct {
	promotion.Decision
	// Counted is "1 of 2 approvals" (approval.required > 1); Complete says
	// the count is complete and prod moves; AlreadyCounted that this
	// caller had approved before and was not counted again.
	Counted        string `json:"counted,omitempty"`
	Complete       bool   `json:"complete,omitempty"`
	AlreadyCounted bool   `json:"alreadyCounted,omitempty"`
	// Left says what a rejection left (prod, stg), as the approval API
	// read it.
	Left string `json:"left,omitempty"`
}

func (a *app) printDecision(arn string, d *apiDecision) error {
	ref := nameOf(arn)
	if a.g.json {
		return printJSON(a.env.Stdout, map[string]any{"promotion": ref, "execution": arn, "decision": d})
	}
	verb := "approved"
	if !d.Approved {
		verb = "rejected"
	}
	fmt.Fprintf(a.env.Stdout, "%s %s as %s (%s)\n", verb, nameOf(ref), d.Approver, d.Principal)
	switch {
	case d.Counted != "" && d.AlreadyCounted && !d.Complete:
		fmt.Fprintf(a.env.Stdout, "you had approved it already; it counts once: %s, prod waits for the others\n", d.Counted)
		return nil
	case d.Counted != "" && !d.Complete:
		fmt.Fprintf(a.env.Stdout, "%s: prod moves once enough other approvers approve (approval.required)\n", d.Counted)
		return nil
	case d.Counted != "":
		fmt.Fprintf(a.env.Stdout, "%s: the count is complete\n", d.Counted)
	}
	if d.Approved {
		fmt.Fprintf(a.env.Stdout, "follow it: aliasflow watch %s\n", nameOf(ref))
	} else if d.Left != "" {
		fmt.Fprintln(a.env.Stdout, d.Left)
	}
	return nil
}

// decide approves or rejects a promotion as the caller, through the
// approval API's IAM-authorized decide resource: API Gateway verifies who
// calls, the approval Lambda checks that the target's current settings map
// that principal to one of its approvers (approval.principals) and answers
// the task. The workflow's RecordApproval / RecordRejection tasks write the
// audit record that names the principal.
func (a *app) decide(ctx context.Context, ref string, approve bool, comment string) (*apiDecision, string, error) {
	arn, err := a.promotionARN(ctx, ref, stateApproval)
	if err != nil {
		return nil, "", err
	}
	p, err := a.findWaiting(ctx, arn, stateApproval)
	if err != nil {
		return nil, "", err
	}
	action := approval.ActionReject
	if approve {
		action = approval.ActionApprove
	}
	base := p.ApprovalURL
	if p.State == statePause {
		// An approval step of the plan: its task carries no approval
		// address; the promotion's RequestApproval did.
		if base, err = a.approvalAPIOf(ctx, arn); err != nil {
			return nil, "", err
		}
	}
	res, err := a.callApproval(ctx, base, approval.DecidePath,
		approval.CallerRequest{Execution: arn, Action: action, Comment: strings.TrimSpace(comment)})
	if err != nil {
		return nil, "", err
	}
	d := &apiDecision{Decision: promotion.Decision{Approved: approve, Approver: res.Approver, Principal: res.Principal, Comment: comment, Via: approval.ViaCLI,
		RequestedAt: p.EnteredTime.UTC(), DecidedAt: a.env.Now().UTC()},
		Counted: res.Counted, Complete: res.Complete, AlreadyCounted: res.AlreadyCounted, Left: res.Left}
	return d, arn, nil
}

// callApproval POSTs a request to one of the approval API's IAM-authorized
// resources, whose base address the promotion's RequestApproval task was
// given (approvalUrl); a refusal becomes an Error with the API's reason.
func (a *app) callApproval(ctx context.Context, base, resource string, req approval.CallerRequest) (*approval.CallerResponse, error) {
	name := nameOf(req.Execution)
	if name == "" {
		name = req.Function // a manual rollback names the function
	}
	if base == "" {
		return nil, fail(ExitFailure, "is aliasflow deployed here? (--region, or --endpoint for the sandbox)",
			"promotion %s names no approval API address", name)
	}
	c, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	if c.Approvals == nil {
		return nil, fmt.Errorf("no approval API client configured")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	url := strings.TrimSuffix(base, "/") + resource
	status, out, err := c.Approvals.Invoke(ctx, url, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Action, name, err)
	}
	var res approval.CallerResponse
	if jerr := json.Unmarshal(out, &res); jerr != nil && status == http.StatusOK {
		return nil, fmt.Errorf("%s %s: the approval API answered %q: %w", req.Action, name, truncateText(string(out), 200), jerr)
	}
	why := res.Error
	if why == "" {
		// API Gateway's own refusals ({"message": ...}), e.g. a caller whose
		// IAM policy does not allow execute-api:Invoke.
		var gw struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(out, &gw)
		why = gw.Message
	}
	hint := fmt.Sprintf("check where it stands with `aliasflow status %s`", functionOr(name))
	switch {
	case status == http.StatusOK:
		return &res, nil
	case status == http.StatusForbidden:
		return nil, fail(ExitRefused, "ask the target's owners to map your IAM identity to one of its approvers (settings approval.principals), or decide with the e-mailed link",
			"%s %s refused: %s", req.Action, name, why)
	case status == http.StatusNotFound:
		return nil, fail(ExitNotFound, "list promotions with `aliasflow status <function>`", "%s %s: %s", req.Action, name, why)
	case status == http.StatusConflict:
		return nil, fail(ExitConflict, hint, "%s %s: %s", req.Action, name, why)
	}
	return nil, fail(ExitFailure, hint, "%s %s: the approval API answered %d: %s", req.Action, name, status, why)
}

// truncateText shortens s to n bytes for a message.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// approvalAPIOf is the approval API address a promotion's RequestApproval
// task was given (its payload's approvalUrl), read from the history.
func (a *app) approvalAPIOf(ctx context.Context, arn string) (string, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return "", err
	}
	url := ""
	err = promotion.ScanHistory(ctx, c.States, arn, true, func(ev *sfntypes.HistoryEvent) bool {
		d := ev.TaskScheduledEventDetails
		if d == nil {
			return true
		}
		var task struct {
			Payload struct {
				ApprovalURL string `json:"approvalUrl"`
			} `json:"Payload"`
		}
		if json.Unmarshal([]byte(aws.ToString(d.Parameters)), &task) == nil && task.Payload.ApprovalURL != "" {
			url = task.Payload.ApprovalURL
			return false
		}
		return true
	})
	return url, err
}

// promotionARN resolves a <promotion> argument. A function name is also
// accepted (the approval e-mail suggests `aliasflow approve hello`) when
// exactly one of its promotions waits in state.
func (a *app) promotionARN(ctx context.Context, ref, state string) (string, error) {
	if strings.HasPrefix(ref, "arn:") || functionOf(ref) != "" || groupOf(ref) != "" || config.ValidateFunctionName(ref) != nil {
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
		if p.State == state || state == stateBake && p.State == statePause {
			waiting = append(waiting, p.Execution)
		} else {
			elsewhere = append(elsewhere, p.Name+" ("+p.Gate+")")
		}
	}
	what := "awaits approval"
	if state == stateBake {
		what = "is baking or paused"
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
	var nw *pending.NotWaitingError
	if (state == stateBake || state == stateApproval) && errors.As(err, &nw) {
		// A pause of the plan answers as a bake; an approval step of the
		// plan as an approval.
		if pp, perr := pending.Find(ctx, c.States, arn, statePause); perr == nil {
			step := pp.Input.Shift != nil && pp.Input.Shift.Kind == string(plan.KindApproval)
			if step == (state == stateApproval) {
				return pp, nil
			}
		}
	}
	name := nameOf(arn)
	if awserr.Code(err) == awserr.NotFound {
		return nil, fail(ExitNotFound, "list promotions with `aliasflow status <function>`", "promotion %s not found", name)
	}
	var nr *pending.NotRunningError
	switch {
	case errors.As(err, &nr):
		hint := fmt.Sprintf("see what happened with `aliasflow history %s`", functionOr(name))
		if state == stateApproval && nr.Decided() && nr.Decision != nil {
			return nil, fail(ExitConflict, hint, "promotion %s has ended (%s); it was already decided by %s", name, nr.Execution.Status, decidedBy(nr.Decision))
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
			return nil, fail(ExitConflict, hint, "promotion %s was already %s by %s; %s", name, verb, decidedBy(nw.Decision), where)
		}
		what := "waiting for approval"
		if state == stateBake {
			what = "baking or paused"
		}
		return nil, fail(ExitConflict, hint, "promotion %s is not %s: %s", name, what, where)
	}
	return nil, err
}

// decidedBy names who decided: the approver, and the IAM principal AWS
// verified when the decision came through the approval API.
func decidedBy(d *promotion.Decision) string {
	if d.Principal != "" {
		return d.Approver + " (" + d.Principal + ")"
	}
	return d.Approver
}

// functionOr is the function of an execution name, or a placeholder.
func functionOr(name string) string {
	if fn := functionOf(name); fn != "" {
		return fn
	}
	return "<function>"
}
