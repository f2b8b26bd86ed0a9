package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/quota"
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
		})
	}
}
