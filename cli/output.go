package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aliasflow/aliasflow/shared/untrusted"
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

// row adds a line of cells. A cell is text the CLI did not write (an audit
// record's reason, a release's requester, a version's description): a
// control character in it is shown escaped and the cell quoted
// (untrusted.Show), so it cannot clear the screen, start a forged row or
// reorder what is read.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = untrusted.Show(c)
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
		fmt.Fprintln(t.w, cut(strings.TrimRight(line, " \n"), maxWidth))
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

// maxWidth is the widest line the CLI prints in its text output; longer
// values are shortened, and --json carries them in full. An approval link
// (several hundred characters) is the exception: printed whole on a line
// of its own, so that it can be opened from any terminal.
const maxWidth = 100

// cut shortens a line to n columns, ending it with an ellipsis.
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// wrap breaks text at spaces into lines of at most width columns, the
// lines after the first indented; a word longer than a line stays whole.
// The result ends with a newline.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	line := []rune{}
	for i, word := range strings.Split(text, " ") {
		w := []rune(word)
		if i > 0 && len(line)+1+len(w) > width && strings.TrimSpace(string(line)) != "" {
			b.WriteString(strings.TrimRight(string(line), " ") + "\n")
			line = []rune(indent)
		} else if i > 0 {
			line = append(line, ' ')
		}
		line = append(line, w...)
	}
	b.WriteString(strings.TrimRight(string(line), " ") + "\n")
	return b.String()
}
