package cli

import (
	"context"
	"fmt"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/spf13/cobra"
)

func promoteCommand(a *app) *cobra.Command {
	var now bool
	c := &cobra.Command{
		Use:   "promote <promotion> --now",
		Short: "skip the rest of the current bake (health is still checked)",
		Args:  positional(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			return runPromote(c.Context(), a, args, now)
		},
	}
	c.Flags().BoolVar(&now, "now", false, "end the current bake now (required; health is still checked; audited with who)")
	return c
}

func runPromote(ctx context.Context, a *app, pos []string, now bool) error {
	if !now {
		return usageError("promote: only --now is supported: `aliasflow promote %s --now`", pos[0])
	}
	res, err := a.promoteNow(ctx, pos[0])
	if err != nil {
		return err
	}
	if a.g.json {
		return printJSON(a.env.Stdout, res)
	}
	fmt.Fprintf(a.env.Stdout, "ended the bake at %s of %s as %s; health is checked next\nfollow it: aliasflow watch %s\n",
		alias.Percent(res.Weight), res.Promotion, res.Actor, res.Promotion)
	return nil
}

// PromoteResult is what `promote --now` did.
type PromoteResult struct {
	Promotion string  `json:"promotion"`
	Weight    float64 `json:"weight"`
	Step      int     `json:"step"`
	Actor     string  `json:"actor"`
}

// promoteNow ends the current bake of a promotion through the approval
// API's IAM-authorized override resource: the approval Lambda answers the
// Bake task with the caller API Gateway verified, which the health check
// records in bake.skipped.
func (a *app) promoteNow(ctx context.Context, ref string) (*PromoteResult, error) {
	arn, err := a.promotionARN(ctx, ref, stateBake)
	if err != nil {
		return nil, err
	}
	p, err := a.findWaiting(ctx, arn, stateBake)
	if err != nil {
		return nil, err
	}
	base, err := a.approvalAPIOf(ctx, arn)
	if err != nil {
		return nil, err
	}
	res, err := a.callApproval(ctx, base, approval.OverridePath, approval.CallerRequest{Execution: arn, Action: approval.ActionPromoteNow})
	if err != nil {
		return nil, err
	}
	out := &PromoteResult{Promotion: nameOf(arn), Actor: res.Principal}
	if p.Input.Shift != nil {
		out.Weight, out.Step = p.Input.Shift.Weight, p.Input.Shift.Step
	}
	return out, nil
}
