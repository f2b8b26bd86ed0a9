package main

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/sandbox/quota"
	"github.com/aliasflow/aliasflow/shared/deploy"
)

// TestQuotaRunSmall runs the quota section at a small size with AWS's
// quotas on: the bench's functions are targets of the templates the world
// is deployed from, so the pipeline's roles may act on them (no call is
// refused, none rolled back for it), and the bake outlasts the release
// Lambda's pacing, so every promotion bakes at the same time.
func TestQuotaRunSmall(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	binDir := os.Getenv("ALIASFLOW_BIN_DIR")
	if binDir == "" {
		binDir = filepath.Join(root, "dist", "local")
	}
	hello, err := os.ReadFile(filepath.Join(binDir, "hello", "bootstrap"))
	if err != nil {
		t.Skipf("the Lambdas built for this machine are missing: run `make build-local` (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", ".bin", "cdk")); err != nil {
		t.Skipf("the CDK CLI is missing: link or install node_modules (%v)", err)
	}
	tests := []struct {
		name string
		o    quotaOptions
	}{
		// A bake of two minutes leaves a loaded machine a minute and more
		// between the last promotion's first weight and the first one's
		// last check.
		{name: "8 targets, merged within 4 s", o: quotaOptions{n: 8, window: 4 * time.Second, bake: 2 * time.Minute}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
			defer cancel()
			templates, err := synthTargets(ctx, root, binDir, quotaTargets(tc.o))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.RemoveAll(filepath.Dir(templates)) })
			run := runQuota(ctx, binDir, templates, hello, tc.o, quota.Default())
			if run.setupErr != nil {
				t.Fatal(run.setupErr)
			}
			if len(run.denied) != 0 {
				t.Errorf("AccessDenied by principal and action: %v, want none", run.denied)
			}
			if got := run.outcomes["SUCCEEDED"]; got != tc.o.n {
				t.Errorf("succeeded %d of %d (outcomes %v, first failures %v, errors %v)", got, tc.o.n, run.outcomes, run.causes, run.errs)
			}
			if got := run.peakBaking.Load(); got != int64(tc.o.n) {
				t.Errorf("at most %d baking at once, want all %d", got, tc.o.n)
			}
			if len(run.weighted) != 0 {
				t.Errorf("prod left weighted: %v", run.weighted)
			}
			if len(run.unaudited) != 0 {
				t.Errorf("alias moves without exactly one audit record (moves/records): %v", run.unaudited)
			}
			// The reconciler ran on its schedule, as its deployed role, and
			// read every target's aliases within its share.
			var cp []sandbox.Call
			listed := 0
			for _, c := range run.calls {
				if c.Caller == deploy.ReconcileFunction && controlPlane(c) {
					cp = append(cp, c)
					if c.Operation == "ListAliases" {
						listed++
					}
				}
			}
			if run.reconcileRuns < 1 || listed < tc.o.n || len(run.reconcileErrs) > 0 {
				t.Errorf("reconciler: %d runs, %d ListAliases (errors %v); want ≥ 1 run reading the aliases of all %d targets", run.reconcileRuns, listed, run.reconcileErrs, tc.o.n)
			}
			// Its pacing bounds what it sends: over any 5 s, by arrival,
			// at most each environment's burst and 5 s of its rate. (One
			// second's count is no test of it on a busy machine: a request
			// sent at 0.99 s and delivered at 1.01 s moves between them.)
			share := deploy.ControlPlaneShareOf(deploy.ReconcileFunction)
			if got, most := busiestWindow(cp, 5*time.Second), share.Environments*(share.Burst+int(5*share.Rate)); got > most {
				t.Errorf("reconciler's control-plane requests in its busiest 5 s: %d; want ≤ %d (its share: %d × (burst %d + 5 s × %g/s))",
					got, most, share.Environments, share.Burst, share.Rate)
			}
		})
	}
}

// TestSecondPeaks: the busiest second is counted as the sandbox's quota
// meter counts it (a window opens at the first request a second or more
// after the last one opened), in all and per caller.
func TestSecondPeaks(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	at := func(caller string, ms int) sandbox.Call {
		return sandbox.Call{Caller: caller, Service: "lambda", Operation: "UpdateAlias", At: t0.Add(time.Duration(ms) * time.Millisecond)}
	}
	tests := []struct {
		name     string
		calls    []sandbox.Call
		peak     int
		busiest  map[string]int
		byCaller map[string]int
	}{
		{name: "none", peak: 0, byCaller: map[string]int{}},
		{name: "one window",
			calls: []sandbox.Call{at("a", 0), at("b", 100), at("a", 999)},
			peak:  3, busiest: map[string]int{"a": 2, "b": 1}, byCaller: map[string]int{"a": 2, "b": 1}},
		{name: "a request a second after the window opened opens the next",
			calls: []sandbox.Call{at("a", 0), at("a", 1000), at("b", 1500), at("b", 1600)},
			peak:  3, busiest: map[string]int{"a": 1, "b": 2}, byCaller: map[string]int{"a": 1, "b": 2}},
		{name: "out of order answers are sorted",
			calls: []sandbox.Call{at("a", 2500), at("b", 0), at("a", 2000), at("a", 2999)},
			peak:  3, busiest: map[string]int{"a": 3}, byCaller: map[string]int{"a": 3, "b": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			peak, busiest, byCaller := secondPeaks(tc.calls)
			if peak != tc.peak || !maps.Equal(busiest, tc.busiest) || !maps.Equal(byCaller, tc.byCaller) {
				t.Errorf("secondPeaks = %d, %v, %v; want %d, %v, %v", peak, busiest, byCaller, tc.peak, tc.busiest, tc.byCaller)
			}
		})
	}
}

// busiestWindow is the most calls that arrived within any span of d.
func busiestWindow(calls []sandbox.Call, d time.Duration) int {
	at := make([]time.Time, len(calls))
	for i, c := range calls {
		at[i] = c.Arrived
	}
	slices.SortFunc(at, time.Time.Compare)
	most := 0
	for i, j := 0, 0; j < len(at); j++ {
		for at[j].Sub(at[i]) >= d {
			i++
		}
		most = max(most, j-i+1)
	}
	return most
}

func TestBusiestWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	calls := func(offsets ...time.Duration) []sandbox.Call {
		var out []sandbox.Call
		for _, o := range offsets {
			out = append(out, sandbox.Call{Arrived: t0.Add(o)})
		}
		return out
	}
	ms := time.Millisecond
	tests := []struct {
		name  string
		calls []sandbox.Call
		want  int
	}{
		{"none", nil, 0},
		{"2/s for 6 s, paced", calls(0, 500*ms, 1000*ms, 1500*ms, 2000*ms, 2500*ms, 3000*ms, 3500*ms, 4000*ms, 4500*ms, 5000*ms, 5500*ms), 10},
		{"a burst of 4 inside 5 s", calls(0, 10*ms, 20*ms, 30*ms, 6000*ms), 4},
		{"out of order", calls(4900*ms, 0, 100*ms), 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := busiestWindow(tc.calls, 5*time.Second); got != tc.want {
				t.Errorf("busiestWindow = %d, want %d", got, tc.want)
			}
		})
	}
}
