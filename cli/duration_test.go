package cli_test

import (
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
)

// TestDurationFlagsTakeDays: every duration flag takes whole days as well
// as Go's units (issue 21 item 5: `--since 7d`); a bad one names the flag
// and the forms it takes.
func TestDurationFlagsTakeDays(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name string
		args []string
		// since is how far back history read (0: not checked).
		since    time.Duration
		wantCode int
		want     []string
	}{
		{"a week", []string{"history", "hello", "--since", "7d"}, 7 * day, cli.ExitOK, nil},
		{"a month", []string{"history", "hello", "--since=30d"}, 30 * day, cli.ExitOK, nil},
		{"days and hours", []string{"history", "hello", "--since", "1d12h"}, 36 * time.Hour, cli.ExitOK, nil},
		{"Go units still", []string{"history", "hello", "--since", "90m"}, 90 * time.Minute, cli.ExitOK, nil},
		{"the default is 30 days", []string{"history", "hello"}, 30 * day, cli.ExitOK, nil},
		{"an unknown unit", []string{"history", "hello", "--since", "7x"}, 0, cli.ExitUsage, []string{"--since", `"7x"`, "7d", "24h"}},
		{"a fraction of a day", []string{"history", "hello", "--since", "1.5d"}, 0, cli.ExitUsage, []string{"--since", "7d"}},
		{"days twice", []string{"history", "hello", "--since", "1d2d"}, 0, cli.ExitUsage, []string{"--since", "7d"}},
		{"too many days", []string{"history", "hello", "--since", "999999d"}, 0, cli.ExitUsage, []string{"--since", "7d"}},
		{"watch --interval", []string{"watch", "hello-v2-abababab", "--interval", "soon"}, 0, cli.ExitUsage, []string{"--interval", "7d"}},
		{"watch --timeout", []string{"watch", "hello-v2-abababab", "--timeout", "1w"}, 0, cli.ExitUsage, []string{"--timeout", "7d"}},
		{"demo --timeout", []string{"demo", "--timeout", "2"}, 0, cli.ExitUsage, []string{"--timeout", "7d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			code, out, errs := w.run(t, tt.args...)
			wantCode(t, code, tt.wantCode, out, errs)
			wantContains(t, "stderr", errs, tt.want...)
			if tt.since == 0 {
				return
			}
			if len(w.logs.Filter) == 0 || w.logs.Filter[0].StartTime == nil {
				t.Fatalf("history read no trail with a start time")
			}
			if got, want := time.UnixMilli(*w.logs.Filter[0].StartTime), w.now.Add(-tt.since); !got.Equal(want) {
				t.Errorf("read the trail from %s; want %s", got, want)
			}
		})
	}
}
