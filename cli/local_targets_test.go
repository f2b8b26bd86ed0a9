package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/config"
)

// TestLocalTargetsLoadsTheFile: `local --targets FILE` starts the world
// with FILE's settings for hello, validated as `settings validate` does;
// an invalid file starts nothing.
func TestLocalTargetsLoadsTheFile(t *testing.T) {
	bin := t.TempDir()
	for _, fn := range localBinaries {
		if err := os.MkdirAll(filepath.Join(bin, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, fn, "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, file   string
		wantCode     int
		wantStarted  bool
		wantStrategy config.StrategyConfig
		wantErr      string
	}{
		{"hello's target", `{"targets":[{"function":"orders","approvers":["a@example.com"]},{"function":"hello","approvers":["lead@example.com"],"strategy":{"type":"linear","percent":25,"intervalSeconds":300}}]}`,
			ExitFailure, true, config.StrategyConfig{Type: config.Linear, Percent: 25, IntervalSeconds: 300}, "world not started in this test"},
		{"the only target, applied to hello", `{"targets":[{"function":"orders","approvers":["lead@example.com"],"strategy":{"type":"canary","percent":5,"bakeSeconds":300}}]}`,
			ExitFailure, true, config.StrategyConfig{Type: config.Canary, Percent: 5, BakeSeconds: 300}, "orders's settings apply to it"},
		{"invalid settings start nothing", `{"targets":[{"function":"hello","approvers":["lead@example.com"],"strategy":{"type":"canary","percent":150,"bakeSeconds":300}}]}`,
			ExitUsage, false, config.StrategyConfig{}, "targets[0].strategy.percent: canary percent must be 1–99, got 150"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var started *worldOptions
			restore := startWorld
			t.Cleanup(func() { startWorld = restore })
			startWorld = func(_ context.Context, o worldOptions) (localWorld, error) {
				started = &o
				return nil, errors.New("world not started in this test")
			}
			file := filepath.Join(t.TempDir(), "targets.json")
			if err := os.WriteFile(file, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errs bytes.Buffer
			code := Main(context.Background(), []string{"local", "--bin-dir", bin, "--targets", file}, Env{Stdout: &out, Stderr: &errs, Getenv: func(string) string { return "" }})
			if code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d\nstderr: %s", code, tt.wantCode, errs.String())
			}
			if !strings.Contains(errs.String(), tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, errs.String())
			}
			if got := started != nil; got != tt.wantStarted {
				t.Fatalf("world started = %v, want %v", got, tt.wantStarted)
			}
			if !tt.wantStarted {
				return
			}
			if started.Hello == nil {
				t.Fatal("the world was started without the file's settings")
			}
			got := started.Hello("http://127.0.0.1:4747")
			if got.Function != local.HelloFunction || got.Strategy.Type != tt.wantStrategy.Type || got.Strategy.Percent != tt.wantStrategy.Percent ||
				got.Strategy.BakeSeconds != tt.wantStrategy.BakeSeconds || got.Strategy.IntervalSeconds != tt.wantStrategy.IntervalSeconds {
				t.Errorf("hello's settings = %s %+v, want hello %+v", got.Function, got.Strategy, tt.wantStrategy)
			}
			// The CLI's caller in the sandbox decides as the first approver.
			if p := got.Approval.Principals["lead@example.com"]; !slices.Contains(p, local.SandboxUserARN) {
				t.Errorf("approval.principals = %v, want lead@example.com decided by %s", got.Approval.Principals, local.SandboxUserARN)
			}
			if err := got.Validate("hello"); err != nil {
				t.Errorf("the world would refuse the settings: %v", err)
			}
		})
	}
}
