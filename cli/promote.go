package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/spf13/cobra"
)

// promoteNow is what the Bake task gets instead of its bake timeout; the
// definition puts it at $.bake and goes on to CheckHealth.
type promoteNow struct {
	PromoteNow bool   `json:"promoteNow"`
	Actor      string `json:"actor"`
}

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
		percent(res.Weight), res.Promotion, res.Actor, res.Promotion)
	return nil
}

// PromoteResult is what `promote --now` did.
type PromoteResult struct {
	Promotion string  `json:"promotion"`
	Weight    float64 `json:"weight"`
	Step      int     `json:"step"`
	Actor     string  `json:"actor"`
}

// promoteNow ends the current bake of a promotion.
func (a *app) promoteNow(ctx context.Context, ref string) (*PromoteResult, error) {
	arn, err := a.promotionARN(ctx, ref, stateBake)
	if err != nil {
		return nil, err
	}
	c, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	p, err := a.findWaiting(ctx, arn, stateBake)
	if err != nil {
		return nil, err
	}
	caller, err := a.callerARN(ctx)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(promoteNow{PromoteNow: true, Actor: caller})
	if err != nil {
		return nil, err
	}
	if _, err := c.States.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(p.TaskToken.Reveal()), Output: aws.String(string(body))}); err != nil {
		return nil, tokenRefused(nameOf(arn), "moved on", err)
	}
	res := &PromoteResult{Promotion: nameOf(arn), Actor: caller}
	if p.Input.Shift != nil {
		res.Weight, res.Step = p.Input.Shift.Weight, p.Input.Shift.Step
	}
	return res, nil
}
