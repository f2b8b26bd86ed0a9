package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/prune"
	"github.com/aliasflow/aliasflow/shared/settings"
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
  - a rollback could return prod to (where rollback goes, or any version rollback --to accepts:
    one prod served after an approved promotion),
  - is one of the newest prune.keepLast.
It prints the plan and the Region's code storage use, then asks before deleting (--yes skips the
question; without a terminal --yes is needed), reading everything again just before. Each deletion
is a DeleteFunction call with the version as qualifier, made with your credentials; the pipeline
audits it as version.deleted, naming you as CloudTrail recorded the call.`,
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
	prune.Pass
	DryRun bool `json:"dryRun,omitempty"`
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
	targets, err := a.pruneTargets(ctx, fn)
	if err != nil {
		return err
	}
	sm, err := a.stateMachine(ctx)
	if err != nil {
		return err
	}
	p := &prune.Pruner{Lambda: c.Prune, States: c.States, StateMachine: sm, Trail: a.ledger(c)}
	pass, err := p.PlanAll(ctx, targets)
	if err != nil {
		return err
	}
	res := &PruneResult{Pass: *pass, DryRun: o.dryRun}
	w := a.env.Stdout
	if o.dryRun || res.Deletions() == 0 {
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
		if !a.confirm(fmt.Sprintf("Delete %d version(s)?", res.Deletions())) {
			return &Error{Code: ExitRefused, Err: errors.New("prune not confirmed; nothing deleted")}
		}
	}
	if err := p.ApplyAll(ctx, &res.Pass); err != nil {
		return err
	}
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
	fmt.Fprintf(w, "deleted %d version(s); code storage now %s\n", deleted, usageLine(*res.After))
	return nil
}

// pruneTargets reads the targets' settings (the parameters under the
// pipeline's path): fn's, which must set a prune policy, or with fn ""
// every target's (PlanAll skips those without one).
func (a *app) pruneTargets(ctx context.Context, fn string) ([]config.Target, error) {
	params, err := a.targetParameters(ctx)
	if err != nil {
		return nil, err
	}
	var targets []config.Target
	for _, prm := range params {
		if fn != "" && prm.function != fn {
			continue
		}
		t, err := settings.Parse([]byte(prm.value), prm.function)
		if err != nil {
			return nil, fail(ExitConflict, "fix the target's settings first", "settings of %s (%s): %v", prm.function, prm.name, err)
		}
		targets = append(targets, t)
	}
	switch {
	case fn != "" && len(targets) == 0:
		return nil, fail(ExitNotFound, "see the targets with `aliasflow status`", "%s is not a target of pipeline %s (no settings parameter %s%s)", fn, a.g.pipeline, settings.Path(a.g.pipeline), fn)
	case fn != "" && targets[0].Prune == nil:
		return nil, fail(ExitConflict, `set "prune": {"keepLast": N} in its settings parameter`,
			"pruning is off for %s: its settings set no prune.keepLast", fn)
	}
	return targets, nil
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
