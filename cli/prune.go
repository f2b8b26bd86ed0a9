package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/prune"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/spf13/cobra"
)

type pruneOptions struct {
	all, dryRun, yes bool
}

func pruneCommand(a *app) *cobra.Command {
	var o pruneOptions
	c := &cobra.Command{
		Use:   "prune <function> | --all",
		Short: "delete old published versions nothing needs, as the target's prune policy allows",
		Long: `prune deletes a target's old published versions to free Lambda's code storage (a Regional
quota, 75 GB by default). It runs only for targets whose settings set prune.keepLast, and never
deletes a version that:
  - an alias points at or routes traffic to,
  - a running promotion or a pending approval names,
  - a rollback could return prod to (the version the last promotion replaced),
  - is one of the newest prune.keepLast.
It prints the plan and the Region's code storage use, then asks before deleting (--yes skips the
question; without a terminal --yes is needed). Each deletion is a DeleteFunction call with the
version as qualifier, made with your credentials.`,
		Example: `  aliasflow prune hello --dry-run
  aliasflow prune --all --yes`,
		Args: func(c *cobra.Command, args []string) error {
			if (o.all && len(args) == 0) || (!o.all && len(args) == 1) {
				return nil
			}
			return usageError("usage: %s (a function or --all, not both)", c.UseLine())
		},
		RunE: func(c *cobra.Command, args []string) error {
			fn := ""
			if len(args) == 1 {
				fn = args[0]
			}
			return runPrune(c.Context(), a, fn, o)
		},
	}
	c.Flags().BoolVar(&o.all, "all", false, "every target whose settings set prune.keepLast")
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "say what would be deleted; delete nothing")
	c.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation")
	return c
}

// PruneResult is what prune planned and did (--json).
type PruneResult struct {
	Plans    []prune.Plan    `json:"plans"`
	Skipped  []string        `json:"skipped,omitempty"`
	Outcomes []prune.Outcome `json:"outcomes,omitempty"`
	DryRun   bool            `json:"dryRun,omitempty"`
	Before   prune.Usage     `json:"before"`
	After    *prune.Usage    `json:"after,omitempty"`
}

func runPrune(ctx context.Context, a *app, fn string, o pruneOptions) error {
	if fn != "" {
		if err := checkFunction(fn); err != nil {
			return err
		}
	}
	if o.dryRun && o.yes {
		return usageError("prune: --dry-run and --yes contradict each other")
	}
	c, err := a.aws(ctx)
	if err != nil {
		return err
	}
	if c.Prune == nil || c.Settings == nil {
		return fail(ExitFailure, "", "prune: these clients cannot delete versions or read the targets' settings")
	}
	policies, skipped, err := a.prunePolicies(ctx, fn)
	if err != nil {
		return err
	}
	sm, err := a.stateMachine(ctx)
	if err != nil {
		return err
	}
	p := &prune.Pruner{Lambda: c.Prune, States: c.States, StateMachine: sm, Trail: cliTrail{a}}
	res := &PruneResult{Skipped: skipped, DryRun: o.dryRun}
	if res.Before, err = p.Usage(ctx); err != nil {
		return err
	}
	// The promotions in flight are read once for every target: each plan
	// keeps what any of them names.
	running, err := p.Running(ctx)
	if err != nil {
		return err
	}
	deletions := 0
	for _, t := range policies {
		plan, err := p.Plan(ctx, t.Function, *t.Prune, running)
		if err != nil {
			return err
		}
		res.Plans = append(res.Plans, plan)
		deletions += len(plan.Deletions())
	}
	w := a.env.Stdout
	if o.dryRun || deletions == 0 {
		if a.g.json {
			return printJSON(w, res)
		}
		printPrunePlans(w, res)
		if o.dryRun {
			fmt.Fprintln(w, "dry run: nothing deleted")
		}
		return nil
	}
	if !o.yes {
		if !a.env.Interactive {
			printPrunePlans(a.env.Stderr, res)
			return &Error{Code: ExitRefused, Err: errors.New("prune deletes versions and no terminal can confirm it"),
				Hint: "check the plan with --dry-run, then confirm with --yes"}
		}
		printPrunePlans(w, res)
		if !a.confirm(fmt.Sprintf("Delete %d version(s)?", deletions)) {
			return &Error{Code: ExitRefused, Err: errors.New("prune not confirmed; nothing deleted")}
		}
	}
	for _, plan := range res.Plans {
		// Read again just before deleting: a promotion may have started or
		// an alias moved since the plan was printed.
		fresh, err := p.Plan(ctx, plan.Function, config.Prune{KeepLast: plan.KeepLast}, running)
		if err != nil {
			return err
		}
		out, err := p.Apply(ctx, intersect(plan, fresh))
		res.Outcomes = append(res.Outcomes, out...)
		if err != nil {
			return err
		}
	}
	after, err := p.Usage(ctx)
	if err != nil {
		return err
	}
	res.After = &after
	if a.g.json {
		return printJSON(w, res)
	}
	if o.yes {
		printPrunePlans(w, res)
	}
	deleted := 0
	for _, out := range res.Outcomes {
		if out.Deleted {
			deleted++
			continue
		}
		fmt.Fprintf(w, "version %s not deleted: %s\n", out.Version.Number, out.Reason)
	}
	fmt.Fprintf(w, "deleted %d version(s); code storage now %s\n", deleted, usageLine(after))
	return nil
}

// intersect keeps the deletions both plans agree on: what was shown and
// confirmed, and is still safe.
func intersect(shown, fresh prune.Plan) prune.Plan {
	ok := map[string]bool{}
	for _, v := range fresh.Deletions() {
		ok[v.Number] = true
	}
	out := shown
	out.Decisions = nil
	for _, d := range shown.Decisions {
		d.Delete = d.Delete && ok[d.Version.Number]
		out.Decisions = append(out.Decisions, d)
	}
	return out
}

// prunePolicies reads the targets' settings (the parameters under the
// pipeline's path): fn's, or with fn "" every target's with a prune
// policy; skipped names the targets without one.
func (a *app) prunePolicies(ctx context.Context, fn string) (targets []config.Target, skipped []string, err error) {
	c, err := a.aws(ctx)
	if err != nil {
		return nil, nil, err
	}
	path := settings.Path(a.g.pipeline)
	found := false
	// The path without its trailing slash is the parameter ARN
	// aliasflow-operators grants ssm:GetParametersByPath on
	// (parameter/aliasflow/NAME/targets); its children are the same.
	pg := ssm.NewGetParametersByPathPaginator(c.Settings, &ssm.GetParametersByPathInput{Path: aws.String(strings.TrimSuffix(path, "/"))})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("read the targets' settings under %s: %w", path, err)
		}
		for _, prm := range page.Parameters {
			name := strings.TrimPrefix(aws.ToString(prm.Name), path)
			if config.ValidateFunctionName(name) != nil || (fn != "" && name != fn) {
				continue
			}
			found = true
			t, err := settings.Parse([]byte(aws.ToString(prm.Value)), name)
			if err != nil {
				return nil, nil, fail(ExitConflict, "fix the target's settings first", "settings of %s (%s): %v", name, aws.ToString(prm.Name), err)
			}
			if t.Prune == nil {
				skipped = append(skipped, name)
				continue
			}
			targets = append(targets, t)
		}
	}
	switch {
	case fn != "" && !found:
		return nil, nil, fail(ExitNotFound, "see the targets with `aliasflow status`", "%s is not a target of pipeline %s (no settings parameter %s%s)", fn, a.g.pipeline, path, fn)
	case fn != "" && len(targets) == 0:
		return nil, nil, fail(ExitConflict, `set "prune": {"keepLast": N} in its settings parameter`,
			"pruning is off for %s: its settings set no prune.keepLast", fn)
	}
	return targets, skipped, nil
}

// cliTrail reads the audit trail for prune as status and rollback do.
type cliTrail struct{ a *app }

func (t cliTrail) Records(ctx context.Context, fn string) ([]audit.Record, error) {
	recs, err := t.a.readAudit(ctx, fn, t.a.env.Now().Add(-auditWindow))
	var notFound *Error
	if err != nil && errors.As(err, &notFound) && notFound.Code == ExitNotFound {
		return nil, nil // no log group yet: no records
	}
	return recs, err
}

func printPrunePlans(w io.Writer, res *PruneResult) {
	fmt.Fprintf(w, "code storage: %s\n", usageLine(res.Before))
	for _, p := range res.Plans {
		dels := p.Deletions()
		fmt.Fprintf(w, "%s (keep the newest %d): %d of %d published version(s) to delete, %s freed\n",
			p.Function, p.KeepLast, len(dels), len(p.Decisions), bytesText(p.Freed))
		for _, d := range p.Decisions {
			what := "delete"
			if !d.Delete {
				what = "keep: " + strings.Join(d.Kept, "; ")
			}
			fmt.Fprintf(w, "  %-6s %10s  %s\n", d.Version.Number, bytesText(d.Version.CodeSize), what)
		}
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "%s: pruning off (no prune.keepLast in its settings)\n", s)
	}
}

func usageLine(u prune.Usage) string {
	if u.Limit <= 0 {
		return bytesText(u.Used) + " used"
	}
	return fmt.Sprintf("%s of %s used in this Region (%.1f%%)", bytesText(u.Used), bytesText(u.Limit), 100*float64(u.Used)/float64(u.Limit))
}

// bytesText is a size in binary units, as Lambda's quotas are given.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
