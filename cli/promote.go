package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/spf13/cobra"
)

// promoteOptions are promote's flags.
type promoteOptions struct {
	full, yes, now bool
	// resume: only a pause of the plan may be continued (`resume`).
	resume bool
}

func promoteCommand(a *app) *cobra.Command {
	var o promoteOptions
	c := &cobra.Command{
		Use:   "promote <promotion> [--full] [--yes]",
		Short: "end the current step's bake and go on to the next step (--full: to 100%)",
		Long: `Promote moves a baking or paused promotion on, with Argo Rollouts' meaning:
  - promote ends the current step's bake now. Health is checked on what the step saw so far:
    an unhealthy verdict still rolls back; an inconclusive one is accepted for this step only.
    Prod then goes to the plan's next step, whose own bake and health check still apply.
    On a pause of the plan it continues the pause (as resume does).
  - promote --full ends the bake and skips every remaining step: after this check prod goes
    to 100%, ACCEPTING AN INCONCLUSIVE VERDICT (an unhealthy one still rolls back).
It prints the plan and asks first (--yes skips the question; without a terminal --yes is
needed). Either is audited once (bake.skipped) with who you are as AWS verified it.
--now is a deprecated alias of the plain promote, kept for scripts: it does not ask.`,
		Example: `  aliasflow promote hello-v7-1a2b3c4d
  aliasflow promote hello --full --yes`,
		Args: positional(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			return runPromote(c.Context(), a, args[0], o)
		},
	}
	c.Flags().BoolVar(&o.full, "full", false, "skip every remaining step to 100%, accepting an inconclusive verdict")
	c.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	c.Flags().BoolVar(&o.now, "now", false, "deprecated: the plain promote (past the current step only), without asking")
	return c
}

func runPromote(ctx context.Context, a *app, ref string, o promoteOptions) error {
	if o.now && o.full {
		return usageError("promote: --now is the deprecated name of the plain promote; for every remaining step use --full alone")
	}
	if o.now {
		fmt.Fprintln(a.env.Stderr, "aliasflow: promote --now is deprecated: it is the plain `aliasflow promote <promotion>` (past the current step only); add --yes in scripts")
		o.yes = true
	}
	pp, err := a.planPromote(ctx, ref, o.full)
	if err != nil {
		return err
	}
	if o.resume && !pp.Paused {
		return fail(ExitConflict, fmt.Sprintf("`aliasflow promote %s` ends a bake", pp.Promotion), "%s is not paused: it is baking at %s", pp.Promotion, alias.Percent(pp.Weight))
	}
	w := a.env.Stdout
	if !o.yes {
		if !a.env.Interactive {
			printPromotePlan(a.env.Stderr, pp)
			return &Error{Code: ExitRefused, Err: errors.New("promote moves prod on and no terminal can confirm it"),
				Hint: "read the plan above, then confirm with --yes"}
		}
		printPromotePlan(w, pp)
		if !a.confirm(fmt.Sprintf("Promote %s to %s?", pp.Promotion, pp.Next)) {
			return &Error{Code: ExitRefused, Err: errors.New("promote not confirmed; nothing changed")}
		}
	}
	res, err := a.promote(ctx, pp)
	if err != nil {
		return err
	}
	if a.g.json {
		return printJSON(w, res)
	}
	then := "then prod goes to " + res.Next + ", whose own bake and health check still apply"
	if res.Next == "100%" {
		then = "then prod goes to 100%"
	}
	if res.Full {
		then = "then prod goes to 100%, skipping every remaining step; an inconclusive verdict is accepted"
	}
	if res.Paused {
		what := "continued the pause"
		switch {
		case res.Window:
			what = "broke the glass: went past the closed deploy window"
		case res.Held && !res.Full:
			what, then = "resumed", "the step bakes again and health is checked as usual"
		}
		fmt.Fprintf(w, "%s at %s of %s as %s; %s\nfollow it: aliasflow watch %s\n",
			what, alias.Percent(res.Weight), res.Promotion, res.Actor, then, res.Promotion)
		return nil
	}
	fmt.Fprintf(w, "ended the bake at %s of %s as %s; health is checked next (unhealthy rolls back), %s\nfollow it: aliasflow watch %s\n",
		alias.Percent(res.Weight), res.Promotion, res.Actor, then, res.Promotion)
	return nil
}

// PromoteResult is what `promote` did, or will do before it is confirmed.
type PromoteResult struct {
	Promotion string  `json:"promotion"`
	Weight    float64 `json:"weight"`
	Step      int     `json:"step"`
	// Full says every remaining step is skipped (--full).
	Full bool `json:"full"`
	// Paused says the promotion was held at a pause of its plan, which
	// the promote continues; Window that the pause is a closed deploy
	// window, which the promote overrides (break-glass, audited so).
	Paused bool `json:"paused"`
	Window bool `json:"window"`
	// Held says an operator paused the promotion (`aliasflow pause`);
	// resuming bakes the held step again.
	Held bool `json:"held"`
	// Plan is the promotion's plan; Next where prod goes after this
	// step's check ("50%", "100%").
	Plan  string `json:"plan"`
	Next  string `json:"next"`
	Actor string `json:"actor"`
	// Execution is the promotion's ARN.
	Execution string `json:"execution"`
}

// planPromote finds the baking promotion and says what promoting it does,
// changing nothing: the plan decides the step after this one (plan.Next
// with the operator's skip), so what is printed is what the shift does.
func (a *app) planPromote(ctx context.Context, ref string, full bool) (*PromoteResult, error) {
	arn, err := a.promotionARN(ctx, ref, stateBake)
	if err != nil {
		return nil, err
	}
	p, err := a.findWaiting(ctx, arn, stateBake)
	if err != nil {
		return nil, err
	}
	pl := p.Input.Rollout()
	res := &PromoteResult{Promotion: nameOf(arn), Execution: arn, Full: full, Plan: pl.String()}
	skip := plan.SkipStep
	if full {
		skip = plan.SkipFull
	}
	at := plan.Start
	if s := p.Input.Shift; s != nil {
		res.Weight, res.Step, at = s.Weight, s.Step, pl.AnalysisOf(s.Step)
		if p.State == statePause {
			res.Paused, res.Window, res.Held, at = true, s.Kind == string(plan.KindWindow), s.Kind == promotion.ShiftHold, s.Position
		}
	}
	if res.Held && !full {
		// Resuming bakes the held step again, judged as usual.
		res.Next = alias.Percent(res.Weight) + " again"
		return res, nil
	}
	switch d := plan.Next(pl, at, plan.Facts{Outcome: plan.Inconclusive, Skip: skip}); d.Kind {
	case plan.KindFinalize:
		res.Next = "100%"
	case plan.KindRollback:
		return nil, fail(ExitConflict, fmt.Sprintf("see `aliasflow status %s`", res.Promotion), "promote %s: its plan cannot go on: %s", res.Promotion, d.Reason)
	default:
		res.Next = alias.Percent(d.Weight)
	}
	return res, nil
}

// printPromotePlan says what a promote will do before it does it.
func printPromotePlan(w io.Writer, pp *PromoteResult) {
	fmt.Fprintf(w, "promote %s (plan: %s):\n", pp.Promotion, pp.Plan)
	event, accepts := "bake.skipped", "; an inconclusive verdict is accepted for this step only"
	switch {
	case pp.Window:
		fmt.Fprintf(w, "  BREAK-GLASS: go past the closed deploy window at %s now\n", alias.Percent(pp.Weight))
		event, accepts = "window.overridden", ""
	case pp.Held:
		fmt.Fprintf(w, "  resume the promotion an operator paused at %s\n", alias.Percent(pp.Weight))
		event, accepts = "pause.continued", ""
	case pp.Paused:
		fmt.Fprintf(w, "  continue the pause at %s now\n", alias.Percent(pp.Weight))
		event, accepts = "pause.continued", ""
	default:
		fmt.Fprintf(w, "  end the bake at %s now; health is checked on what it saw so far (unhealthy rolls back)\n", alias.Percent(pp.Weight))
	}
	switch {
	case pp.Full:
		fmt.Fprintf(w, "  then move prod to 100%%, SKIPPING EVERY REMAINING STEP and ACCEPTING AN INCONCLUSIVE VERDICT\n")
	case pp.Next == "100%":
		fmt.Fprintf(w, "  then move prod to 100%% (the plan's last step)%s\n", accepts)
	default:
		fmt.Fprintf(w, "  then move prod to %s, whose own bake and health check still apply%s\n", pp.Next, accepts)
	}
	fmt.Fprintf(w, "  audited once (%s) with who you are as AWS verifies it\n", event)
}

// promote ends the current bake of a promotion through the approval API's
// IAM-authorized override resource: the approval Lambda answers the Bake
// task with the caller API Gateway verified, which the health check
// records in bake.skipped.
func (a *app) promote(ctx context.Context, pp *PromoteResult) (*PromoteResult, error) {
	base, err := a.approvalAPIOf(ctx, pp.Execution)
	if err != nil {
		return nil, err
	}
	action := approval.ActionPromoteNow
	if pp.Full {
		action = approval.ActionPromoteFull
	}
	res, err := a.callApproval(ctx, base, approval.OverridePath, approval.CallerRequest{Execution: pp.Execution, Action: action})
	if err != nil {
		return nil, err
	}
	out := *pp
	out.Actor = res.Principal
	return &out, nil
}

// pauseCommand holds a baking promotion at its weight through the approval
// API: health is judged on what the bake saw (unhealthy rolls back), then
// prod holds until `resume` (or rolls back if nobody resumes).
func pauseCommand(a *app) *cobra.Command {
	var yes bool
	c := &cobra.Command{
		Use:   "pause <promotion> [--yes]",
		Short: "hold a baking promotion at its current weight until resume",
		Long: `Pause ends the current bake of a promotion and holds prod at its weight: health is checked
first on what the bake saw (an unhealthy verdict still rolls back), then the promotion waits
until ` + "`aliasflow resume`" + ` (which bakes the step again, judged as usual) or ` + "`aliasflow abort`" + `. Nobody
resuming within the target's approvalTimeoutSeconds rolls it back. It goes through the approval
API and is audited once (promotion.paused) with who you are as AWS verified it. It asks first
(--yes skips the question; without a terminal --yes is needed).`,
		Args: positional(1, 1),
		RunE: func(c *cobra.Command, args []string) error { return runPause(c.Context(), a, args[0], yes) },
	}
	c.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return c
}

func runPause(ctx context.Context, a *app, ref string, yes bool) error {
	arn, err := a.promotionARN(ctx, ref, stateBake)
	if err != nil {
		return err
	}
	p, err := a.findWaiting(ctx, arn, stateBake)
	if err != nil {
		return err
	}
	name := nameOf(arn)
	if p.State != stateBake {
		return fail(ExitConflict, fmt.Sprintf("continue it with `aliasflow resume %s`", name), "%s is already held (%s)", name, p.State)
	}
	weight := 0.0
	if s := p.Input.Shift; s != nil {
		weight = s.Weight
	}
	w := a.env.Stdout
	say := func(w io.Writer) {
		fmt.Fprintf(w, "pause %s (plan: %s):\n", name, p.Input.Rollout())
		fmt.Fprintf(w, "  end the bake at %s now; health is checked on what it saw so far (unhealthy rolls back)\n", alias.Percent(weight))
		fmt.Fprintf(w, "  then hold prod at %s until `aliasflow resume %s` (nobody resuming in time rolls back)\n", alias.Percent(weight), name)
		fmt.Fprintf(w, "  audited once (promotion.paused) with who you are as AWS verifies it\n")
	}
	if !yes {
		if !a.env.Interactive {
			say(a.env.Stderr)
			return &Error{Code: ExitRefused, Err: errors.New("pause ends a bake and no terminal can confirm it"), Hint: "read the plan above, then confirm with --yes"}
		}
		say(w)
		if !a.confirm(fmt.Sprintf("Pause %s at %s?", name, alias.Percent(weight))) {
			return &Error{Code: ExitRefused, Err: errors.New("pause not confirmed; nothing changed")}
		}
	}
	base, err := a.approvalAPIOf(ctx, arn)
	if err != nil {
		return err
	}
	res, err := a.callApproval(ctx, base, approval.OverridePath, approval.CallerRequest{Execution: arn, Action: approval.ActionPause})
	if err != nil {
		return err
	}
	if a.g.json {
		return printJSON(w, map[string]any{"promotion": name, "weight": weight, "actor": res.Principal})
	}
	fmt.Fprintf(w, "paused %s at %s as %s; health is checked, then prod holds until `aliasflow resume %s`\nfollow it: aliasflow watch %s\n",
		name, alias.Percent(weight), res.Principal, name, name)
	return nil
}

// resumeCommand continues a promotion held at a pause of its plan: the
// one-step promote, refused on a bake.
func resumeCommand(a *app) *cobra.Command {
	o := promoteOptions{resume: true}
	c := &cobra.Command{
		Use:   "resume <promotion> [--yes]",
		Short: "continue a promotion held at a pause of its plan",
		Long: `Resume continues a promotion held at a pause: one its plan holds (a pause until continued,
or a timed pause before its time), after which prod goes on to the plan's next step, whose own
checks apply; or one an operator paused (` + "`aliasflow pause`" + `), whose step then bakes again.
It is ` + "`aliasflow promote`" + ` on a pause; on a bake it refuses (promote ends a bake). It prints the plan
and asks first (--yes skips the question); audited once (pause.continued) with who you are as
AWS verified it.`,
		Args: positional(1, 1),
		RunE: func(c *cobra.Command, args []string) error { return runPromote(c.Context(), a, args[0], o) },
	}
	c.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	return c
}

// abortCommand rolls a shifting promotion back (Argo Rollouts' abort): the
// rollback of its function, held to that promotion.
func abortCommand(a *app) *cobra.Command {
	var o rollbackOptions
	c := &cobra.Command{
		Use:   "abort <promotion> [--reason TEXT] [--yes]",
		Short: "roll a shifting promotion back: prod returns to its stable version",
		Long: `Abort rolls back a promotion that is shifting prod: its current bake fails with
` + ErrOperatorRollback + ` through the approval API (which records who you are as AWS verified
it), and the promotion returns prod to its stable version with no routing and ends RolledBack.
It is ` + "`aliasflow rollback <function>`" + ` held to the named promotion. A promotion that has not
moved prod yet (smoke testing, awaiting approval) is stopped with ` + "`aliasflow reject`" + `.
It asks first (--yes skips the question; without a terminal --yes is needed).`,
		Example: `  aliasflow abort hello-v7-1a2b3c4d --reason "p99 doubled"`,
		Args:    positional(1, 1),
		RunE:    func(c *cobra.Command, args []string) error { return runAbort(c.Context(), a, args[0], o) },
	}
	c.Flags().StringVar(&o.reason, "reason", "", "why (recorded in the audit trail)")
	c.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	return c
}

func runAbort(ctx context.Context, a *app, ref string, o rollbackOptions) error {
	arn, err := a.promotionARN(ctx, ref, stateBake)
	if err != nil {
		return err
	}
	p, err := a.readProgress(ctx, arn)
	if err != nil {
		return err
	}
	if !p.Shifting {
		hint := fmt.Sprintf("stop it with `aliasflow reject %s --comment \"…\"`", p.Name)
		if !p.Running() {
			hint = fmt.Sprintf("see `aliasflow status %s`", p.Function)
		}
		return fail(ExitConflict, hint, "%s is not shifting prod (%s): there is nothing to roll back", p.Name, p.Gate)
	}
	rp, err := a.planRollback(ctx, p.Function, o)
	if err != nil {
		return err
	}
	if rp.shifting == nil || rp.shifting.Execution != arn {
		return fail(ExitConflict, fmt.Sprintf("see `aliasflow status %s`", p.Function), "%s is no longer shifting prod of %s", p.Name, p.Function)
	}
	return runRollbackPlan(ctx, a, rp, o)
}
