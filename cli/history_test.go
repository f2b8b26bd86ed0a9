package cli_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/shared/audit"
)

// longReason is a rejection as an approver writes it: longer than any
// terminal line.
const longReason = "rejected by cfo@example.com: the p99 latency of version 2 rose from 180ms to 420ms " +
	"during the 10% step and the checkout team has a freeze until Monday; release again after " +
	"the incident review INC-4711 closes, with the connection pool fix from pull request 982 included"

// TestHistoryShowsTheWholeReason: history never drops a reason's text
// (issue 21 item 5): without -o it wraps the reason to the terminal's
// width under its column, as kubectl wraps; with -o wide each record is
// one line with the reason whole.
func TestHistoryShowsTheWholeReason(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		width int
		// wrapAt is the widest a line may be (0: one line per record);
		// underColumn: the reason's lines after the first start under
		// REASON, else the reason is below the row at a small indent (the
		// other columns leave it too little room).
		wrapAt      int
		underColumn bool
	}{
		{"width unknown: wraps at 100 columns", nil, 0, 100, false},
		{"140 columns: wraps under the column", nil, 140, 140, true},
		{"200 columns: wraps under the column", nil, 200, 200, true},
		{"a narrow terminal still keeps every word", nil, 60, 60, false},
		{"-o wide: one line per record", []string{"-o", "wide"}, 80, 0, false},
		{"--output=wide at 140 columns", []string{"--output=wide"}, 140, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			w.width = tt.width
			w.logs.Audit(audit.Record{Event: audit.ApprovalRejected, Function: "hello", Alias: "prod", FromVersion: "1", ToVersion: "2",
				Actor: "arn:aws:sts::1:assumed-role/Approver/cfo", Execution: clitest.ExecutionARN("hello-v2-abababab"), Reason: longReason, Time: clitest.T0})
			code, out, errs := w.run(t, append([]string{"history", "hello"}, tt.args...)...)
			wantCode(t, code, cli.ExitOK, out, errs)
			if got := strings.Join(strings.Fields(out), " "); !strings.Contains(got, longReason) {
				t.Errorf("output lacks the whole reason %q:\n%s", longReason, out)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if tt.wrapAt == 0 {
				if len(lines) != 2 || !strings.HasSuffix(lines[1], longReason) {
					t.Errorf("got %d lines; want a header and the record ending in its reason:\n%s", len(lines), out)
				}
				return
			}
			if len(lines) < 3 {
				t.Fatalf("got %d lines; want the reason wrapped:\n%s", len(lines), out)
			}
			indent := "    "
			if tt.underColumn {
				indent = strings.Repeat(" ", utf8.RuneCountInString(lines[0][:strings.Index(lines[0], "REASON")]))
			}
			for i, l := range lines[2:] {
				if n := utf8.RuneCountInString(l); n > tt.wrapAt {
					t.Errorf("continuation line %d is %d columns; want at most %d: %q", i, n, tt.wrapAt, l)
				}
				if !strings.HasPrefix(l, indent) || strings.HasPrefix(l, indent+" ") {
					t.Errorf("continuation line %d does not start at column %d: %q", i, len(indent), l)
				}
			}
			for i, l := range lines[:2] {
				if n := utf8.RuneCountInString(l); n > tt.wrapAt {
					t.Errorf("line %d is %d columns; want at most %d: %q", i, n, tt.wrapAt, l)
				}
			}
		})
	}
}

func TestHistoryOutputFormat(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown format", []string{"-o", "yaml"}, `-o "yaml"`},
		{"json is a global flag", []string{"-o", "json"}, "--json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			code, out, errs := w.run(t, append([]string{"history", "hello"}, tt.args...)...)
			wantCode(t, code, cli.ExitUsage, out, errs)
			wantContains(t, "stderr", errs, tt.want, "wide")
		})
	}
}
