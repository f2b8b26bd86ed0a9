package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aliasflow/aliasflow/cli/progress"
)

// printJSON writes v as one indented JSON document.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table writes aligned columns; the header is upper-cased. A line wider
// than maxWidth is cut with an ellipsis (--json has every value in full).
type table struct {
	w   io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{w: w}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 0, 2, ' ', 0)
	for i := range header {
		header[i] = strings.ToUpper(header[i])
	}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		}
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() {
	_ = t.tw.Flush()
	for _, line := range strings.SplitAfter(t.buf.String(), "\n") {
		if line == "" {
			continue
		}
		text := strings.TrimRight(line, " \n")
		if r := []rune(text); len(r) > maxWidth {
			text = string(r[:maxWidth-1]) + "…"
		}
		fmt.Fprintln(t.w, text)
	}
	t.buf.Reset()
}

// clock formats a time for a table: UTC, seconds.
func clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// until says how far t is from now, "in 4s" or "4s ago".
func until(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now).Round(time.Second)
	if d < 0 {
		return (-d).String() + " ago"
	}
	return "in " + d.String()
}

// percent formats a weight 0–1 as "10%".
func percent(w float64) string { return progress.Percent(w) }

// maxWidth is the widest line the CLI prints in its text output; longer
// values (an approval link of several hundred characters) are shortened,
// and --json carries them in full.
const maxWidth = 100

// link shows a long URL short: its start and an ellipsis. At a terminal the
// short text is a hyperlink (OSC 8) to the whole URL, so it stays one click
// away; --json output always has the URL in full.
func (a *app) link(u string) string {
	const keep = 60
	if len(u) <= keep {
		return u
	}
	short := u[:keep] + "…"
	if a.env.Terminal {
		return "\x1b]8;;" + u + "\x1b\\" + short + "\x1b]8;;\x1b\\"
	}
	return short
}
