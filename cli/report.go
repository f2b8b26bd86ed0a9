package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/delivery"
	"github.com/aliasflow/aliasflow/shared/ledger"
	"github.com/spf13/cobra"
)

func reportCommand(a *app) *cobra.Command {
	var since time.Duration
	c := &cobra.Command{
		Use:   "report [function...]",
		Short: "delivery metrics from the audit trail: DORA's four keys",
		Long: `report reads the audit trail and gives DORA's four keys of software delivery
(https://dora.dev/guides/dora-metrics-four-keys/) for every target, or for the functions named:
  deployment frequency  promotions that put prod at 100 % on their version
  lead time             median, from the release (the build's success) to prod at 100 %
  change failure rate   changes that reached prod and were rolled back, or moves of prod
                        outside aliasflow that were reverted, over all such changes
  time to restore       median, from prod first serving a failed change to its rollback`,
		Example: `  aliasflow report
  aliasflow report hello --since 7d --json`,
		Args: positional(0, -1),
		RunE: func(c *cobra.Command, args []string) error { return runReport(c.Context(), a, args, since) },
	}
	durationVar(c.Flags(), &since, "since", 30*day, "the window, ending now (e.g. 7d, 30d)")
	return c
}

// reportLookback is how far before the window the trail is read for the
// earlier facts of a change counted in it (its release, its first traffic):
// a promotion waits at most 7 days for approval (config's
// MaxApprovalTimeoutSeconds), then shifts within a day.
const reportLookback = 8 * day

// Report is report's answer (--json).
type Report struct {
	Functions []string `json:"functions,omitempty"`
	delivery.Metrics
}

func runReport(ctx context.Context, a *app, fns []string, since time.Duration) error {
	for _, fn := range fns {
		if err := checkFunction(fn); err != nil {
			return err
		}
	}
	if since <= 0 {
		return usageError("report: --since must be positive")
	}
	until := a.env.Now()
	from := until.Add(-since)
	recs, err := a.readTrail(ctx, from.Add(-reportLookback), fns)
	if err != nil {
		return err
	}
	r := Report{Functions: fns, Metrics: delivery.Compute(recs, from, until)}
	if a.g.json {
		return printJSON(a.env.Stdout, r)
	}
	w := a.env.Stdout
	of := "all targets"
	if len(fns) > 0 {
		of = fmt.Sprint(fns)
	}
	m := r.Metrics
	fmt.Fprintf(w, "delivery of %s, %s → %s (%s):\n", of, from.UTC().Format(time.DateOnly), until.UTC().Format(time.DateOnly), durationText(since))
	fmt.Fprintf(w, "  deployment frequency  %d deployment(s), %.2f a day\n", m.Deployments, m.DeploymentsPerDay)
	fmt.Fprintf(w, "  lead time             %s median, release to prod at 100 %% (%d deployment(s))\n", time.Duration(m.LeadTime), m.LeadTimes)
	fmt.Fprintf(w, "  change failure rate   %.1f %% (%d of %d change(s) rolled back or reverted)\n", 100*m.ChangeFailureRate, m.Failures, m.Changes)
	fmt.Fprintf(w, "  time to restore       %s median (%d restore(s))\n", time.Duration(m.TimeToRestore), m.Restores)
	return nil
}

// durationText says a window in days when it is whole days.
func durationText(d time.Duration) string {
	if d%day == 0 {
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}

// readTrail reads the audit records since a time, of the functions named
// or of all.
func (a *app) readTrail(ctx context.Context, since time.Time, fns []string) ([]audit.Record, error) {
	if len(fns) == 0 {
		c, err := a.aws(ctx)
		if err != nil {
			return nil, err
		}
		recs, err := a.ledger(c).Read(ctx, ledger.Query{Since: since})
		if errors.Is(err, ledger.ErrNoTrail) {
			return nil, fail(ExitNotFound, "is aliasflow deployed here? pass --log-group, or --endpoint for the sandbox", "audit log group %s not found", a.g.logGroup)
		}
		return recs, err
	}
	var all []audit.Record
	for _, fn := range fns {
		recs, err := a.readAudit(ctx, fn, since)
		if err != nil {
			return nil, err
		}
		all = append(all, recs...)
	}
	return all, nil
}
