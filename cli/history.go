package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/spf13/cobra"
)

func historyCommand(a *app) *cobra.Command {
	var since time.Duration
	var limit int
	var output string
	c := &cobra.Command{
		Use:   "history <function>",
		Short: "promotions and alias moves from the audit trail, newest first",
		Args:  positional(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			if output != "" && output != "wide" {
				return usageError("history: -o %q: the only output format is wide (machine-readable output is --json)", output)
			}
			return runHistory(c.Context(), a, args[0], &since, &limit, output == "wide")
		},
	}
	c.Flags().DurationVar(&since, "since", 30*24*time.Hour, "how far back to read the audit trail (e.g. 24h)")
	c.Flags().IntVar(&limit, "limit", 50, "show at most this many records (0: all)")
	c.Flags().StringVarP(&output, "output", "o", "", "wide: one line per record, the reason in full (default: the reason wrapped to the terminal)")
	return c
}

func runHistory(ctx context.Context, a *app, fn string, since *time.Duration, limit *int, wide bool) error {
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
	width := 0
	if !wide {
		width = a.width()
	}
	printAudit(a.env.Stdout, recs, width)
	return nil
}

// width is the terminal's width in columns: Env.Width, else $COLUMNS,
// else maxWidth.
func (a *app) width() int {
	if a.env.Width > 0 {
		return a.env.Width
	}
	if n, err := strconv.Atoi(a.env.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return maxWidth
}

// printAudit writes audit records as a table, the reason wrapped to width
// columns (0: each record on one line); no text is cut.
func printAudit(w io.Writer, recs []audit.Record, width int) {
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
	t.flushWrapped(width)
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
