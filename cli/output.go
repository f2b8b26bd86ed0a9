package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

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
	// last is each line's last cell as shown, for flushWrapped.
	last []string
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
	t.last = append(t.last, strings.TrimRight(cells[len(cells)-1], " "))
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
	t.last = nil
}

// minWrap is the narrowest the wrapped last column gets under its
// header; when the columns before it leave less and the cell does not fit,
// it is wrapped on lines of its own below the row, starting at hangIndent.
const (
	minWrap    = 20
	hangIndent = "    "
)

// flushWrapped writes the table without cutting anything: the last column
// (free text, such as a reason) is wrapped at spaces to lines of at most
// width columns, its continuation lines starting under the column, as
// kubectl wraps, or below the row when the other columns leave too little
// room; width 0 writes each row on one line, however long.
func (t *table) flushWrapped(width int) {
	_ = t.tw.Flush()
	lines := strings.Split(strings.TrimSuffix(t.buf.String(), "\n"), "\n")
	for i, line := range lines {
		line = strings.TrimRight(line, " ")
		var lead string
		ok := false
		if i < len(t.last) {
			lead, ok = strings.CutSuffix(line, t.last[i])
		}
		if width <= 0 || !ok {
			fmt.Fprintln(t.w, line)
			continue
		}
		indent := strings.Repeat(" ", utf8.RuneCountInString(lead))
		switch {
		case width-len(indent) >= minWrap || utf8.RuneCountInString(line) <= width:
			fmt.Fprint(t.w, hang(lead, t.last[i], width, indent))
		case i == 0: // the header
			fmt.Fprintln(t.w, cut(line, width))
		default:
			// The other cells are shortened as in every table (-o wide and
			// --json have them whole); the free text never is.
			fmt.Fprintln(t.w, cut(strings.TrimRight(lead, " "), width))
			if t.last[i] != "-" { // row() shows an empty cell as "-"
				fmt.Fprint(t.w, wrap(hangIndent+t.last[i], width, hangIndent))
			}
		}
	}
	t.buf.Reset()
	t.last = nil
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
	return hang("", text, width, indent)
}

// hang is wrap with the first line starting with lead (a table row's cells
// before the wrapped one); every line keeps at least one word, so a lead
// wider than width is followed by the first word.
func hang(lead, text string, width int, indent string) string {
	var b strings.Builder
	line, start := []rune(lead), len([]rune(lead))
	for i, word := range strings.Split(text, " ") {
		w := []rune(word)
		if i > 0 && len(line)+1+len(w) > width && strings.TrimSpace(string(line[start:])) != "" {
			b.WriteString(strings.TrimRight(string(line), " ") + "\n")
			line, start = []rune(indent), len([]rune(indent))
		} else if i > 0 {
			line = append(line, ' ')
		}
		line = append(line, w...)
	}
	b.WriteString(strings.TrimRight(string(line), " ") + "\n")
	return b.String()
}
