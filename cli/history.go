package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/spf13/cobra"
)

func historyCommand(a *app) *cobra.Command {
	var since time.Duration
	var limit int
	c := &cobra.Command{
		Use:   "history <function>",
		Short: "promotions and alias moves from the audit trail, newest first",
		Args:  positional(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			return runHistory(c.Context(), a, args[0], &since, &limit)
		},
	}
	c.Flags().DurationVar(&since, "since", 30*24*time.Hour, "how far back to read the audit trail (e.g. 24h)")
	c.Flags().IntVar(&limit, "limit", 50, "show at most this many records (0: all)")
	return c
}

func runHistory(ctx context.Context, a *app, fn string, since *time.Duration, limit *int) error {
	if err := checkFunction(fn); err != nil {
		return err
	}
	if *since <= 0 || *limit < 0 {
		return usageError("history: --since must be positive and --limit not negative")
	}
	recs, err := a.readAudit(ctx, fn, a.env.Now().Add(-*since))
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		if _, err := a.aliases(ctx, fn); err != nil { // no such function: not found, as for status
			return err
		}
	}
	if *limit > 0 && len(recs) > *limit {
		recs = recs[:*limit]
	}
	if a.g.json {
		if recs == nil {
			recs = []audit.Record{}
		}
		return printJSON(a.env.Stdout, map[string]any{"function": fn, "records": recs})
	}
	if len(recs) == 0 {
		fmt.Fprintf(a.env.Stdout, "no history for %s yet: no release or alias move recorded in the last %s (start a promotion with `aliasflow release %s`)\n", fn, since.String(), fn)
		return nil
	}
	printAudit(a.env.Stdout, recs)
	return nil
}

// printAudit writes audit records as a table.
func printAudit(w io.Writer, recs []audit.Record) {
	t := newTable(w, "time", "event", "alias", "from→to", "weight", "actor", "promotion", "reason")
	for _, r := range recs {
		move := ""
		if r.FromVersion != "" || r.ToVersion != "" {
			move = orDash(r.FromVersion) + "→" + orDash(r.ToVersion)
		}
		weight := ""
		if r.Weight != nil {
			weight = alias.Percent(*r.Weight)
		}
		t.row(clock(r.Time), string(r.Event), r.Alias, move, weight, actorName(r.Actor), nameOf(r.Execution), r.Reason)
	}
	t.flush()
}

// actorName shows an IAM ARN by its resource ("user/ops",
// "assumed-role/Deploy/alice"), so the table keeps its width; --json has
// the ARN.
func actorName(actor string) string {
	if strings.HasPrefix(actor, "arn:") {
		if parts := strings.SplitN(actor, ":", 6); len(parts) == 6 {
			return parts[5]
		}
	}
	return actor
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
