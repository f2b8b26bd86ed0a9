package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/cli/progress"
	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/ledger"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/spf13/cobra"
)

// ErrOperatorRollback is the error a promotion's bake fails with when
// `rollback` rolls it back.
const ErrOperatorRollback = promotion.ErrOperatorRollback

// RollbackResult is what `rollback` did, or would do with --dry-run.
type RollbackResult struct {
	Function string `json:"function"`
	// From is the version prod was leaving (the new or current version);
	// To is the version prod is on now.
	From string `json:"from"`
	To   string `json:"to"`
	// Why says where To comes from: the stable version of a shifting or
	// of the last promotion, or --to.
	Why string `json:"why"`
	// Stopped is the promotion that was shifting and is now stopped (with
	// --dry-run: that would be stopped).
	Stopped string `json:"stopped,omitempty"`
	Actor   string `json:"actor"`
	Reason  string `json:"reason"`
	DryRun  bool   `json:"dryRun"`
	// Execution is the manual rollback's execution, when no promotion was
	// shifting; BreakGlass says --to was not held to an approved version.
	Execution  string `json:"execution,omitempty"`
	BreakGlass bool   `json:"breakGlass,omitempty"`
	// StillRunning lists promotions of the function that had not moved
	// prod and were left running (awaiting approval, smoke testing).
	StillRunning []RunningPromotion `json:"stillRunning"`
}

// RunningPromotion is a promotion rollback leaves alone, and where it is.
type RunningPromotion struct {
	Name string `json:"name"`
	Gate string `json:"gate"`
}

// rollbackOptions are rollback's flags.
type rollbackOptions struct {
	to, reason              string
	dryRun, yes, breakGlass bool
}

func rollbackCommand(a *app) *cobra.Command {
	var o rollbackOptions
	c := &cobra.Command{
		Use:   "rollback <function> [--to N [--break-glass]] [--reason TEXT] [--dry-run] [--yes]",
		Short: "put prod back on the stable version, aborting a running shift",
		Long: `Rollback puts prod back on a known-good version and says first what it will do.
Prod moves only inside a running promotion, so:
  - while a promotion is shifting prod, it makes that promotion roll back: its current bake
    fails with ` + ErrOperatorRollback + `, and the promotion returns prod to its stable
    version and ends RolledBack;
  - otherwise the approval API (which records who you are as AWS verified it) starts a
    rollback execution of the promotion state machine that moves prod to the version the
    last promotion replaced, or --to: only a version prod served after an approved promotion,
    unless --break-glass, which the audit trail says. It waits for the execution to end.
It asks before moving prod (--yes skips the question; without a terminal --yes is needed).
The rollback is audited with --reason.`,
		Example: `  aliasflow rollback hello --dry-run
  aliasflow rollback hello --reason "5xx after v7" --yes
  aliasflow rollback hello --to 5 --reason "v6 corrupts orders"`,
		Args: positional(1, 1),
		RunE: func(c *cobra.Command, args []string) error { return runRollback(c.Context(), a, args[0], o) },
	}
	c.Flags().StringVar(&o.to, "to", "", "version to put prod on (default: the last promotion's stable version)")
	c.Flags().StringVar(&o.reason, "reason", "", "why (recorded in the audit trail)")
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "say what would happen; change nothing")
	c.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	c.Flags().BoolVar(&o.breakGlass, "break-glass", false, "with --to: a version no approved promotion put on prod (audited)")
	return c
}

func runRollback(ctx context.Context, a *app, fn string, o rollbackOptions) error {
	if err := checkFunction(fn); err != nil {
		return err
	}
	if o.to != "" && !alias.IsVersionNumber(o.to) {
		return usageError("rollback: --to %q is not a published version number", o.to)
	}
	if o.breakGlass && o.to == "" {
		return usageError("rollback: --break-glass needs --to: it is for a version no approved promotion put on prod, so name it")
	}
	plan, err := a.planRollback(ctx, fn, o)
	if err != nil {
		return err
	}
	return runRollbackPlan(ctx, a, plan, o)
}

// runRollbackPlan shows a decided rollback, asks, and carries it out.
func runRollbackPlan(ctx context.Context, a *app, plan *rollbackPlan, o rollbackOptions) error {
	fn := plan.res.Function
	w := a.env.Stdout
	if o.dryRun {
		plan.res.DryRun = true
		if a.g.json {
			return printJSON(w, plan.res)
		}
		a.printRollbackPlan(w, plan.res)
		fmt.Fprintln(w, "dry run: nothing changed")
		return nil
	}
	if plan.shifting != nil && o.breakGlass {
		return usageError("rollback: --break-glass is for a rollback with no promotion shifting; %s returns prod to its stable version", plan.shifting.Name)
	}
	if !o.yes {
		if !a.env.Interactive {
			a.printRollbackPlan(a.env.Stderr, plan.res)
			return &Error{Code: ExitRefused, Err: errors.New("rollback moves prod and no terminal can confirm it"),
				Hint: "check the plan with --dry-run, then confirm with --yes"}
		}
		a.printRollbackPlan(w, plan.res)
		if !a.confirm(fmt.Sprintf("Move prod of %s to version %s?", fn, plan.res.To)) {
			return &Error{Code: ExitRefused, Err: errors.New("rollback not confirmed; nothing changed")}
		}
	}
	rollback := a.rollback
	if plan.shifting == nil {
		rollback = a.manualRollback
	}
	res, err := rollback(ctx, plan)
	if err != nil {
		return err
	}
	if a.g.json {
		return printJSON(w, res)
	}
	if res.Stopped != "" {
		fmt.Fprintf(w, "stopped %s\n", res.Stopped)
	}
	if res.Execution != "" {
		fmt.Fprintf(w, "rollback execution %s succeeded\n", nameOf(res.Execution))
	}
	fmt.Fprintf(w, "prod of %s rolled back: version %s → %s (%s)\n  by %s, reason: %s\n", fn, res.From, res.To, res.Why, res.Actor, res.Reason)
	if res.BreakGlass {
		fmt.Fprintln(w, "  break-glass: the audit trail says so")
	}
	for _, p := range res.StillRunning {
		fmt.Fprintf(w, "note: %s is still running (%s) and has not moved prod; reject it with `aliasflow reject %s --comment ...` if it should not ship\n", p.Name, p.Gate, p.Name)
	}
	fmt.Fprintf(w, "audit trail: aliasflow history %s\n", fn)
	return nil
}

// printRollbackPlan says what a rollback will do before it does it.
func (a *app) printRollbackPlan(w io.Writer, res *RollbackResult) {
	fmt.Fprintf(w, "rollback of %s:\n", res.Function)
	if res.Stopped != "" {
		fmt.Fprintf(w, "  stop promotion %s, which is shifting prod\n", res.Stopped)
	}
	fmt.Fprintf(w, "  move prod from version %s to version %s (%s)\n", res.From, res.To, res.Why)
	if res.Stopped == "" {
		fmt.Fprintf(w, "  through a rollback execution the approval API starts and checks (--to: only a version an approved promotion put on prod)\n")
	}
	if res.BreakGlass {
		fmt.Fprintf(w, "  BREAK-GLASS: --to is not held to an approved version; audited as such\n")
	}
	for _, p := range res.StillRunning {
		fmt.Fprintf(w, "  leave %s running: %s; it has not moved prod\n", p.Name, p.Gate)
	}
	fmt.Fprintf(w, "  audited as %s, reason: %s\n", res.Actor, res.Reason)
}

// confirm asks a yes/no question at the terminal; only y or yes agrees.
func (a *app) confirm(question string) bool {
	fmt.Fprintf(a.env.Stdout, "%s [y/N] ", question)
	line, _ := bufio.NewReader(a.env.Stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// rollbackPlan is a decided rollback: the versions it moves between (as a
// shift rollback request) and the promotion that rolls back.
type rollbackPlan struct {
	res *RollbackResult
	// to is --to as given: with no promotion shifting the approval API
	// decides the version without it.
	to       string
	req      promotion.TaskRequest
	shifting *progress.Progress
}

// planRollback decides what a rollback of fn does, changing nothing. A
// promotion that is shifting prod is stopped and the shift Lambda rolls
// back with its state; with none, prod returns to the stable version of
// the promotion that put it where it is (or --to).
func (a *app) planRollback(ctx context.Context, fn string, o rollbackOptions) (*rollbackPlan, error) {
	caller, err := a.callerARN(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := a.aliases(ctx, fn); err != nil { // the function exists
		return nil, err
	}
	running, err := a.executions(ctx, fn, sfntypes.ExecutionStatusRunning, 0)
	if err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(o.reason)
	if reason == "" {
		reason = "none given"
	}
	res := &RollbackResult{Function: fn, Actor: caller, Reason: reason, StillRunning: []RunningPromotion{}, BreakGlass: o.breakGlass}
	var shifting *progress.Progress
	for _, e := range running {
		p, err := a.readProgress(ctx, aws.ToString(e.ExecutionArn))
		if err != nil {
			return nil, err
		}
		if p.Shifting && shifting == nil {
			shifting = p
			continue
		}
		res.StillRunning = append(res.StillRunning, RunningPromotion{Name: p.Name, Gate: p.Gate})
	}
	plan := &rollbackPlan{res: res, shifting: shifting, to: o.to}
	// The reason reaches the promotion.rolled_back record as the cause of
	// the rollback.
	why := &promotion.Failure{Cause: fmt.Sprintf("rolled back by %s: %s", caller, reason)}
	if shifting != nil {
		state := shifting.Promotion
		if state.Shift == nil {
			state.Shift = &promotion.Shift{StableVersion: shifting.StableVersion}
		}
		if o.to != "" && o.to != state.Shift.StableVersion {
			return nil, fail(ExitConflict, fmt.Sprintf("run `aliasflow rollback %s` without --to to return prod to version %s; move it further afterwards", fn, orDash(state.Shift.StableVersion)),
				"%s is shifting prod from version %s; a rollback now returns prod to that stable version, not to %s", shifting.Name, orDash(state.Shift.StableVersion), o.to)
		}
		state.Failure = why
		res.Stopped = shifting.Name
		res.Why = "the stable version of " + shifting.Name
		plan.req = promotion.TaskRequest{Action: promotion.ActionRollback, Execution: shifting.Execution,
			StartTime: shifting.StartTime, Actor: caller, Promotion: state}
	} else {
		from, to, whyTo, err := a.rollbackTarget(ctx, fn, o.to, o.breakGlass, res.StillRunning)
		if awserr.Code(err) == awserr.Denied {
			// Operators may not read the audit trail themselves; the
			// approval API, which decides the rollback, plans it.
			from, to, whyTo, err = a.planByAPI(ctx, fn, o, res)
		}
		if err != nil {
			return nil, err
		}
		res.Why = whyTo
		plan.req = promotion.TaskRequest{Action: promotion.ActionRollback, Actor: caller, Promotion: promotion.State{
			Input:   promotion.Input{Function: fn, Version: from, Steps: []promotion.Step{}},
			Shift:   &promotion.Shift{StableVersion: to},
			Failure: why,
		}}
	}
	res.From, res.To = plan.req.Promotion.Version, plan.req.Promotion.Shift.StableVersion
	if res.To == "" { // a first release: only its routing is removed
		res.To = "its primary version"
	}
	return plan, nil
}

// rollback carries out a plan. Prod moves only inside a running promotion
// (the shift Lambda runs only the tasks the promotion state machine
// scheduled), so a rollback is the shifting promotion rolling itself back:
// through the approval API's IAM-authorized override resource, which
// records the caller API Gateway verified, its Bake task fails with
// ErrOperatorRollback, the definition's Catch
// runs Rollback, which returns prod to the stable version, and the
// promotion ends RolledBack. plan.shifting is required: with no promotion
// shifting nothing may move prod (runRollback refuses first).
func (a *app) rollback(ctx context.Context, plan *rollbackPlan) (*RollbackResult, error) {
	res, fn := plan.res, plan.res.Function
	s := plan.shifting
	c, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	base, err := a.approvalAPIOf(ctx, s.Execution)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		_, err := a.callApproval(ctx, base, approval.OverridePath,
			approval.CallerRequest{Execution: s.Execution, Action: approval.ActionRollback, Comment: res.Reason})
		if err == nil {
			break
		}
		// Between two bakes (setting a weight, checking health) there is
		// no task to answer for a moment; a promotion that ended has
		// nothing left to roll back.
		var e *Error
		if !errors.As(err, &e) || e.Code != ExitConflict || attempt >= rollbackAttempts {
			return nil, err
		}
		if err := a.env.Sleep(ctx, rollbackPoll); err != nil {
			return nil, err
		}
	}
	for range rollbackAttempts {
		out, err := c.States.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(s.Execution)})
		if err != nil {
			return nil, fmt.Errorf("follow %s: %w", s.Name, err)
		}
		switch {
		case out.Status == sfntypes.ExecutionStatusRunning:
		case aws.ToString(out.Error) == promotion.StateRolledBack:
			return res, nil
		default:
			return nil, &Error{Code: ExitFailure, Err: fmt.Errorf("asked %s to roll back, but it ended %s (%s: %s)", s.Name, out.Status, aws.ToString(out.Error), aws.ToString(out.Cause)),
				Hint: fmt.Sprintf("check prod with `aliasflow status %s` and the trail with `aliasflow history %s`", fn, fn)}
		}
		if err := a.env.Sleep(ctx, rollbackPoll); err != nil {
			return nil, err
		}
	}
	return nil, &Error{Code: ExitFailure, Err: fmt.Errorf("asked %s to roll back; it is still running", s.Name),
		Hint: fmt.Sprintf("follow it with `aliasflow watch %s`", s.Name)}
}

// manualRollback carries out a plan with no promotion shifting: the
// approval API's IAM-authorized override resource decides the version from
// the audit trail (or --to, held to a version prod served after an
// approved promotion unless --break-glass) and starts a rollback execution
// of the promotion state machine, whose one task moves prod and records
// the caller API Gateway verified. It waits for that execution to end.
func (a *app) manualRollback(ctx context.Context, plan *rollbackPlan) (*RollbackResult, error) {
	res, fn := plan.res, plan.res.Function
	c, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	base, err := a.approvalAPIOfFunction(ctx, fn)
	if err != nil {
		return nil, err
	}
	out, err := a.callApproval(ctx, base, approval.OverridePath,
		approval.CallerRequest{Action: approval.ActionRollback, Function: fn, To: plan.to, BreakGlass: res.BreakGlass, Comment: res.Reason})
	if err != nil {
		return nil, err
	}
	res.From, res.To, res.Why, res.Actor, res.Execution = out.From, out.To, out.Why, out.Principal, out.Execution
	name := nameOf(res.Execution)
	for range rollbackAttempts {
		d, err := c.States.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(res.Execution)})
		if err != nil {
			return nil, fmt.Errorf("follow %s: %w", name, err)
		}
		switch d.Status {
		case sfntypes.ExecutionStatusRunning:
		case sfntypes.ExecutionStatusSucceeded:
			return res, nil
		default:
			return nil, &Error{Code: ExitFailure, Err: fmt.Errorf("the rollback execution %s ended %s (%s: %s)", name, d.Status, aws.ToString(d.Error), aws.ToString(d.Cause)),
				Hint: fmt.Sprintf("check prod with `aliasflow status %s` and the trail with `aliasflow history %s`", fn, fn)}
		}
		if err := a.env.Sleep(ctx, rollbackPoll); err != nil {
			return nil, err
		}
	}
	return nil, &Error{Code: ExitFailure, Err: fmt.Errorf("the rollback execution %s is still running", name),
		Hint: fmt.Sprintf("check prod with `aliasflow status %s`", fn)}
}

// planByAPI asks the approval API what a rollback of fn with no promotion
// shifting would do (a dry run: it decides from the audit trail, starts
// nothing).
func (a *app) planByAPI(ctx context.Context, fn string, o rollbackOptions, res *RollbackResult) (from, to, why string, err error) {
	base, err := a.approvalAPIOfFunction(ctx, fn)
	if err != nil {
		return "", "", "", err
	}
	out, err := a.callApproval(ctx, base, approval.OverridePath, approval.CallerRequest{Action: approval.ActionRollback, Function: fn,
		To: o.to, BreakGlass: o.breakGlass, Comment: res.Reason, DryRun: true})
	if err != nil {
		return "", "", "", err
	}
	return out.From, out.To, out.Why, nil
}

// approvalAPIOfFunction is the approval API address of fn's newest
// promotion that asked for approval: with no promotion shifting, no
// running execution names it.
func (a *app) approvalAPIOfFunction(ctx context.Context, fn string) (string, error) {
	recent, err := a.executions(ctx, fn, "", 10)
	if err != nil {
		return "", err
	}
	for _, e := range recent {
		base, err := a.approvalAPIOf(ctx, aws.ToString(e.ExecutionArn))
		if err != nil {
			return "", err
		}
		if base != "" {
			return base, nil
		}
	}
	return "", fail(ExitFailure, "is aliasflow deployed here? (--region, or --endpoint for the sandbox)",
		"no recent promotion of %s names the approval API's address", fn)
}

// rollbackAttempts and rollbackPoll bound how long rollback waits for the
// promotion to reach a bake and then to finish rolling back.
const (
	rollbackAttempts = 60
	rollbackPoll     = time.Second
)

// rollbackTarget decides, with no promotion shifting, which version prod
// leaves (from) and which it returns to (to), and why, as the approval API
// will decide it (ledger.Trail.RollbackTarget): the plan an operator
// confirms is the decision the API makes.
func (a *app) rollbackTarget(ctx context.Context, fn, want string, breakGlass bool, still []RunningPromotion) (from, to, why string, err error) {
	aliases, err := a.aliases(ctx, fn)
	if err != nil {
		return "", "", "", err
	}
	var prod alias.Alias
	for i := range aliases {
		if aws.ToString(aliases[i].Name) == promotion.AliasProd {
			prod = alias.FromConfiguration(aliases[i])
		}
	}
	if want != "" && prod.Exists && want != prod.Version {
		if err := a.versionExists(ctx, fn, want); err != nil {
			return "", "", "", err
		}
	}
	recs, err := a.readAudit(ctx, fn, a.env.Now().Add(-auditWindow))
	var notFound *Error
	if err != nil && !(errors.As(err, &notFound) && notFound.Code == ExitNotFound) {
		return "", "", "", err // a missing log group only means no records yet
	}
	t, err := recs.RollbackTarget(fn, prod, want, breakGlass)
	var r *ledger.Refusal
	if !errors.As(err, &r) {
		return t.From, t.To, t.Why, err
	}
	running := ""
	if len(still) > 0 {
		names := make([]string, len(still))
		for i, p := range still {
			names[i] = p.Name + " (" + p.Gate + ")"
		}
		running = "; running but not shifting prod: " + strings.Join(names, ", ")
	}
	switch r.Kind {
	case ledger.NoProd:
		return "", "", "", fail(ExitNotFound, fmt.Sprintf("a first release creates it: `aliasflow release %s`", fn), "%v", r)
	case ledger.AlreadyThere:
		return "", "", "", fail(ExitConflict, fmt.Sprintf("see `aliasflow status %s`", fn), "%v", r)
	case ledger.NotApproved:
		return "", "", "", fail(ExitConflict, fmt.Sprintf("see the promotions that completed with `aliasflow history %s`", fn), "%v", r)
	case ledger.Weighted:
		return "", "", "", fail(ExitConflict, fmt.Sprintf("see `aliasflow status %s` and `aliasflow history %s`", fn, fn), "%v", r)
	case ledger.Drifted:
		return "", "", "", fail(ExitConflict, fmt.Sprintf("check `aliasflow history %s` and choose with --to", fn), "%v", r)
	case ledger.PastRollback:
		return "", "", "", fail(ExitConflict, fmt.Sprintf("choose the version deliberately: `aliasflow rollback %s --to VERSION` (see `aliasflow history %s`)", fn, fn), "%v%s", r, running)
	}
	return "", "", "", fail(ExitConflict, fmt.Sprintf("see `aliasflow history %s`; choose a version with --to, or ship a fix with `aliasflow release %s`", fn, fn),
		"no promotion is shifting prod of %s; %v%s", fn, r, running)
}

// versionExists checks fn has the published version v.
func (a *app) versionExists(ctx context.Context, fn, v string) error {
	c, err := a.aws(ctx)
	if err != nil {
		return err
	}
	p := lambda.NewListVersionsByFunctionPaginator(c.Lambda, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(fn)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list versions of %s: %w", fn, err)
		}
		for _, ver := range page.Versions {
			if aws.ToString(ver.Version) == v {
				return nil
			}
		}
	}
	return fail(ExitNotFound, fmt.Sprintf("see the versions with `aliasflow status %s`", fn), "%s has no published version %s", fn, v)
}
