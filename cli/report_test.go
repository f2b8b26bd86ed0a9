package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/delivery"
)

// TestReportOnAScriptedTrail: `aliasflow report` reads DORA's four keys
// (https://dora.dev/guides/dora-metrics-four-keys/) off a trail written
// record by record, as the pipeline's Lambdas log it, into the sandbox's
// CloudWatch Logs. The figures are worked out by hand below.
func TestReportOnAScriptedTrail(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	logs := sandboxtest.NewLogs(t, func() time.Time { return now })
	day := 24 * time.Hour
	write := func(at time.Time, ev audit.Event, fn, alias, from, to string) {
		var line bytes.Buffer
		audit.New(slog.New(slog.NewJSONHandler(&line, nil)), nil, nil).Record(context.Background(),
			audit.Record{Event: ev, Function: fn, Alias: alias, FromVersion: from, ToVersion: to, Time: at})
		logs.Service.Append(cli.DefaultLogGroup, "2026/12/07/[$LATEST]abc", at, strings.TrimSpace(line.String()))
	}
	t1, t2, t3, t4 := now.Add(-20*day), now.Add(-15*day), now.Add(-10*day), now.Add(-5*day)
	// hello 2: released t1, canary at +10m, completed at +40m.
	write(t1, audit.ReleasePublished, "hello", "stg", "1", "2")
	write(t1.Add(10*time.Minute), audit.TrafficShifted, "hello", "prod", "1", "2")
	write(t1.Add(40*time.Minute), audit.PromotionCompleted, "hello", "prod", "1", "2")
	// hello 3: released t2, canary at +5m, rolled back at +20m.
	write(t2, audit.ReleasePublished, "hello", "stg", "2", "3")
	write(t2.Add(5*time.Minute), audit.TrafficShifted, "hello", "prod", "2", "3")
	write(t2.Add(20*time.Minute), audit.PromotionRolledBack, "hello", "prod", "3", "2")
	// hello 4: released t3, canary at +30m, completed at +1h, rolled back
	// by an operator at +3h.
	write(t3, audit.ReleasePublished, "hello", "stg", "3", "4")
	write(t3.Add(30*time.Minute), audit.TrafficShifted, "hello", "prod", "2", "4")
	write(t3.Add(time.Hour), audit.PromotionCompleted, "hello", "prod", "2", "4")
	write(t3.Add(3*time.Hour), audit.PromotionRolledBack, "hello", "prod", "4", "2")
	// orders 7: released t4, all at once, completed at +2h; orders 8:
	// released t4+3h, completed 20m later, its record logged twice (a
	// retried task).
	write(t4, audit.ReleasePublished, "orders", "stg", "6", "7")
	write(t4.Add(2*time.Hour), audit.PromotionCompleted, "orders", "prod", "6", "7")
	write(t4.Add(3*time.Hour), audit.ReleasePublished, "orders", "stg", "7", "8")
	write(t4.Add(3*time.Hour+20*time.Minute), audit.PromotionCompleted, "orders", "prod", "7", "8")
	write(t4.Add(3*time.Hour+20*time.Minute), audit.PromotionCompleted, "orders", "prod", "7", "8")
	// Before the 30-day window: not counted.
	write(now.Add(-40*day), audit.ReleasePublished, "hello", "stg", "", "1")
	write(now.Add(-40*day+time.Hour), audit.PromotionCompleted, "hello", "prod", "", "1")

	identity := clitest.Identity(t)
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cli.Main(context.Background(), args, cli.Env{Stdout: &out, Stderr: &errb,
			Getenv: func(string) string { return "" }, Now: func() time.Time { return now },
			Clients: &cli.Clients{Logs: logs.Client, Identity: identity}})
		return code, out.String(), errb.String()
	}
	code, out, errs := run("report", "--since", "30d", "--json")
	wantCode(t, code, cli.ExitOK, out, errs)
	var got delivery.Metrics
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("report --json: %v\n%s", err, out)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		// hello 2, hello 4, orders 7, orders 8 completed in the window.
		{"deployments", got.Deployments, 4},
		{"deployments a day (4 in 30 days)", got.DeploymentsPerDay, 4.0 / 30},
		// 40m, 1h, 2h, 20m: the median of 20m, 40m, 1h, 2h is (40m+1h)/2.
		{"lead time (median)", time.Duration(got.LeadTime), 50 * time.Minute},
		// Changes hello 2, 3, 4 and orders 7, 8; hello 3 and 4 rolled back.
		{"changes", got.Changes, 5},
		{"failures", got.Failures, 2},
		{"change failure rate", got.ChangeFailureRate, 2.0 / 5},
		// hello 3: 20m-5m = 15m; hello 4: 3h-30m = 2h30m; median (15m+2h30m)/2.
		{"time to restore (median)", time.Duration(got.TimeToRestore), 82*time.Minute + 30*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
			}
		})
	}
	code, out, errs = run("report", "hello")
	wantCode(t, code, cli.ExitOK, out, errs)
	// hello alone: 2 deployments (2, 4), 3 changes, 2 failed.
	wantContains(t, "report hello", out, "2 deployment(s)", "66.7 % (2 of 3 change(s)", "1h22m30s median (2 restore(s))")
}
