package cli_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/config"
)

// TestNodeTargetEndToEnd (issue 23, item 3): a Node.js target promoted
// end to end on the sandbox, through the commands a Node.js team runs —
// `local deploy-code` of a directory, release, approve — and rolled back
// by the canary's verdict on handled errors. hello runs on nodejs20.x with
// AWS's runtime interface client (examples/hello-node); the new code
// throws in half its calls. On Lambda a Node.js handler's throw leaves no
// mark on the REPORT line (the platform reports success): the verdict
// sees it only in the runtime's "Invoke Error" line (health.logRuntime
// nodejs, shared/shift's runtimeErrorLine) — and must.
func TestNodeTargetEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end against the sandbox")
	}
	requireNodeRuntime(t)
	bins := binDir(t)
	sandboxEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	w, err := local.Start(ctx, local.Options{BinDir: bins, WorkDir: t.TempDir(), HelloNode: filepath.Join(repoRoot(), "examples", "hello-node"),
		Hello: func(endpoint string) *config.Target {
			tg := local.DefaultHello(endpoint)
			tg.Strategy = config.StrategyConfig{Type: config.Canary, Percent: 50, BakeSeconds: 5}
			// A version failing half its calls passes a retried smoke check
			// (its failures are spread evenly); the canary's traffic shows it.
			tg.SmokeRetries = 10
			tg.Health = config.Health{MaxErrorRate: 0.2, MinInvocations: 5, WindowSeconds: 60, MaxBakeSeconds: 5,
				FreshSignal: config.FreshSignalLogs, LogRuntime: config.LogRuntimeNode}
			tg.ApplyDefaults()
			return tg
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.ConfirmSubscriptions(ctx); err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, w: w, dir: t.TempDir()}

	// What deploy-code refuses, before anything moves, and a prepared zip
	// uploaded as it is.
	zipped, err := lambdasvc.ZipDir(filepath.Join(repoRoot(), "examples", "hello-node"))
	if err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(e.dir, "function.zip")
	if err := os.WriteFile(zipPath, zipped, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"a prepared zip", []string{zipPath}, cli.ExitOK, "uploaded " + zipPath + " and made it hello's $LATEST"},
		// UpdateFunctionConfiguration first: the code lands on Node.js 22.
		{"a runtime switch", []string{zipPath, "--runtime", "nodejs22.x"}, cli.ExitOK, "runtime:  nodejs22.x, handler index.handler"},
		{"a Go package for a Node.js function", []string{filepath.Join(repoRoot(), "examples", "hello", "main.go")}, cli.ExitUsage, "is not a directory (a nodejs22.x function's code is one)"},
		{"--ldflags for a Node.js function", []string{"--ldflags", "-X main.greeting=x"}, cli.ExitUsage, "--ldflags builds a Go package"},
		{"a runtime deploy-code cannot package", []string{"--runtime", "python3.12"}, cli.ExitUsage, `--runtime "python3.12"`},
		{"a file that is no zip", []string{filepath.Join(repoRoot(), "examples", "hello-node", "hello.json") + ".zip"}, cli.ExitUsage, "read "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := e.run(append([]string{"local", "deploy-code", "hello"}, tc.args...)...)
			wantCode(t, code, tc.wantCode, out, errs)
			wantContains(t, tc.name, out+errs, tc.want)
		})
	}

	// The team's change, on the Node.js 22 runtime the switch above set (the
	// stable version 1 runs on nodejs20.x): the sample with a new greeting
	// that fails half its calls, deployed from its directory.
	code := filepath.Join(e.dir, "hello-node")
	copyDir(t, filepath.Join(repoRoot(), "examples", "hello-node"), code)
	if err := os.WriteFile(filepath.Join(code, "hello.json"), []byte(`{"greeting": "Hello from Lambda, in Node.js", "failureRate": 0.5}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.must("local", "deploy-code", "hello", code)
	wantContains(t, "deploy-code of a Node.js directory", out, "zipped "+code+" and made it hello's $LATEST (code ", "runtime:  nodejs22.x, handler index.handler",
		"aliasflow release hello")

	e.must("release", "hello", "--commit", "0de0de0")
	p := e.waitState("RequestApproval")
	if p.Version != "2" || p.Smoke == nil || !p.Smoke.Passed {
		t.Fatalf("promotion = %+v; want version 2 with passed smoke tests", p)
	}
	e.must("approve", "hello", "--comment", "node e2e")
	p = e.waitState("Bake")

	// prod's users call while the canary bakes.
	var calls, failed atomic.Int64
	stop := make(chan struct{})
	var traffic sync.WaitGroup
	traffic.Add(1)
	go func() {
		defer traffic.Done()
		client := &http.Client{Transport: awsenv.LoopbackOnlyClient().GetTransport(), Timeout: 10 * time.Second}
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := client.Get(w.StageURL("production"))
			calls.Add(1)
			if err != nil || resp.StatusCode != http.StatusOK {
				failed.Add(1)
			}
			if resp != nil {
				resp.Body.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	code2, out, errs := e.run("watch", p.Name, "--interval", "500ms", "--timeout", "120s")
	close(stop)
	traffic.Wait()
	wantCode(t, code2, cli.ExitUnsuccessful, out, errs)
	wantContains(t, "watch the Node.js canary", out+errs, "RolledBack")
	if got := e.alias("prod"); got != "1" {
		t.Errorf("prod after the rollback = %s; want 1", got)
	}
	if failed.Load() == 0 {
		t.Errorf("prod traffic during the canary: %d calls, none failed; want version 2's handled errors", calls.Load())
	}
	var healthFailed *audit.Record
	for _, r := range e.history() {
		if r.Event == audit.HealthFailed && r.ToVersion == "2" {
			healthFailed = &r
			break
		}
	}
	if healthFailed == nil || !strings.Contains(healthFailed.Reason, "error rate") {
		t.Fatalf("health.failed of version 2 = %+v; want the error rate named", healthFailed)
	}
	t.Logf("health.failed: %s (prod traffic: %d calls, %d failed)", healthFailed.Reason, calls.Load(), failed.Load())
}

// requireNodeRuntime skips, outside CI, when AWS's Node.js runtime
// interface client is not installed (make build-local installs it into
// dist/local/nodejs); in CI its absence fails.
func requireNodeRuntime(t *testing.T) {
	t.Helper()
	if _, err := lambdasvc.NodeRuntime("nodejs20.x"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// copyDir copies the regular files of src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
