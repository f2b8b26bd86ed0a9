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
	var all bool
	c := &cobra.Command{
		Use:   "history <function>",
		Short: "promotions and alias moves from the audit trail, newest first",
		Args:  positional(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			if output != "" && output != "wide" {
				return usageError("history: -o %q: the only output format is wide (machine-readable output is --json)", output)
			}
			return runHistory(c.Context(), a, args[0], &since, &limit, output == "wide", all)
		},
	}
	durationVar(c.Flags(), &since, "since", 30*day, "how far back to read the audit trail (e.g. 24h, 7d)")
	c.Flags().IntVar(&limit, "limit", 50, "show at most this many records (0: all)")
	c.Flags().BoolVar(&all, "all", false, "show each health.inconclusive record (default: a run as one row)")
	c.Flags().StringVarP(&output, "output", "o", "", "wide: a record a line (default: the reason wrapped to the terminal)")
	return c
}

func runHistory(ctx context.Context, a *app, fn string, since *time.Duration, limit *int, wide, all bool) error {
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
	if a.g.json {
		if *limit > 0 && len(recs) > *limit {
			recs = recs[:*limit]
		}
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
	rows := collapseInconclusive(recs, !wide && !all)
	if *limit > 0 && len(rows) > *limit {
		rows = rows[:*limit]
	}
	printAudit(a.env.Stdout, rows, width)
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
func printAudit(w io.Writer, rows []auditRow, width int) {
	t := newTable(w, "time", "event", "alias", "from→to", "weight", "actor", "promotion", "reason")
	for _, row := range rows {
		r, event, reason := row.last, string(row.last.Event), row.last.Reason
		if row.n > 1 {
			event = fmt.Sprintf("%s ×%d", event, row.n)
			reason = fmt.Sprintf("%s–%s, last: %s", row.first.UTC().Format(time.TimeOnly), r.Time.UTC().Format(time.TimeOnly), r.Reason)
		}
		move := ""
		if r.FromVersion != "" || r.ToVersion != "" {
			move = orDash(r.FromVersion) + "→" + orDash(r.ToVersion)
		}
		weight := ""
		if r.Weight != nil {
			weight = alias.Percent(*r.Weight)
		}
		t.row(clock(r.Time), event, r.Alias, move, weight, actorName(r.Actor), nameOf(r.Execution), reason)
	}
	t.flushWrapped(width)
}

// auditRow is a row of history: a record, or the last of a run of n
// health.inconclusive records of one promotion, the first at first.
type auditRow struct {
	last  audit.Record
	n     int
	first time.Time
}

// collapseInconclusive makes rows of records (newest first): when collapse
// is set, consecutive health.inconclusive records of one promotion are one
// row, so a long bake, which logs one a minute, does not push the rest of
// the trail off the page.
func collapseInconclusive(recs []audit.Record, collapse bool) []auditRow {
	var rows []auditRow
	for _, r := range recs {
		if n := len(rows); collapse && n > 0 && r.Event == audit.HealthInconclusive &&
			rows[n-1].last.Event == audit.HealthInconclusive && rows[n-1].last.Execution == r.Execution {
			rows[n-1].n++
			rows[n-1].first = r.Time
			continue
		}
		rows = append(rows, auditRow{last: r, n: 1, first: r.Time})
	}
	return rows
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
