package cli_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
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
			w := newWorld(t)
			w.width = tt.width
			w.logs.Audit(audit.Record{Event: audit.ApprovalRejected, Function: "hello", Alias: "prod", FromVersion: "1", ToVersion: "2",
				Actor: "arn:aws:sts::1:assumed-role/Approver/cfo", Execution: sandboxtest.ExecutionARN("hello-v2-abababab"), Reason: longReason, Time: clitest.T0})
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
			w := newWorld(t)
			code, out, errs := w.run(t, append([]string{"history", "hello"}, tt.args...)...)
			wantCode(t, code, cli.ExitUsage, out, errs)
			wantContains(t, "stderr", errs, tt.want, "wide")
		})
	}
}

// TestHistoryCollapsesInconclusiveRecords: a long bake logs a
// health.inconclusive record a minute; history shows a run of them from one
// promotion as one row (how many, from when to when, the last reason), so
// the approval stays on the first page; --all and -o wide show each.
func TestHistoryCollapsesInconclusiveRecords(t *testing.T) {
	a, b := sandboxtest.ExecutionARN("hello-v2-abababab"), sandboxtest.ExecutionARN("hello-v3-cdcdcdcd")
	inconclusive := func(exec string, from time.Time, n int) []audit.Record {
		var recs []audit.Record
		for i := 0; i < n; i++ {
			recs = append(recs, audit.Record{Event: audit.HealthInconclusive, Function: "hello", Alias: "prod", Execution: exec,
				Reason: fmt.Sprintf("%d invocations, need 20", i), Time: from.Add(time.Duration(i) * time.Minute)})
		}
		return recs
	}
	t0 := clitest.T0
	approval := audit.Record{Event: audit.ApprovalGranted, Function: "hello", Alias: "prod", Execution: a, Reason: "go", Time: t0}
	tests := []struct {
		name string
		recs []audit.Record
		args []string
		// rows are the event cells wanted, newest first.
		rows []string
		want []string
	}{
		{"a long bake is one row", append([]audit.Record{approval}, inconclusive(a, t0.Add(time.Minute), 40)...), []string{"--limit", "2"},
			[]string{"health.inconclusive ×40", "approval.granted"}, []string{"12:01:00–12:40:00, last: 39 invocations, need 20"}},
		{"one record is not marked", inconclusive(a, t0, 1), nil, []string{"health.inconclusive"}, []string{"0 invocations, need 20"}},
		{"runs of two promotions stay apart", append(inconclusive(a, t0, 3), inconclusive(b, t0.Add(time.Hour), 2)...), nil,
			[]string{"health.inconclusive ×2", "health.inconclusive ×3"}, []string{"hello-v3-cdcdcdcd", "hello-v2-abababab"}},
		{"--all shows each", append([]audit.Record{approval}, inconclusive(a, t0.Add(time.Minute), 4)...), []string{"--all"},
			[]string{"health.inconclusive", "health.inconclusive", "health.inconclusive", "health.inconclusive", "approval.granted"}, nil},
		{"-o wide shows each", inconclusive(a, t0, 3), []string{"-o", "wide"},
			[]string{"health.inconclusive", "health.inconclusive", "health.inconclusive"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.width = 200
			w.logs.Audit(tt.recs...)
			code, out, errs := w.run(t, append([]string{"history", "hello"}, tt.args...)...)
			wantCode(t, code, cli.ExitOK, out, errs)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")[1:]
			var got []string
			for _, l := range lines {
				f := strings.Split(l, "  ")
				got = append(got, strings.TrimSpace(f[1]))
			}
			if strings.Join(got, "|") != strings.Join(tt.rows, "|") {
				t.Errorf("rows = %q; want %q:\n%s", got, tt.rows, out)
			}
			wantContains(t, "stdout", out, tt.want...)
		})
	}
}
