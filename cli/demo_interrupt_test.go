package cli_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
)

// cancelOn is the demo's stdout: it cancels the run, as Ctrl-C does
// (signal.NotifyContext in main), once the output shows marker.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.marker) {
		c.cancel()
	}
	return n, err
}

func (c *cancelOn) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// TestDemoInterrupted: Ctrl-C during the demo is not a failure (issue 23):
// it exits 130, the shell's code for SIGINT, saying it was interrupted,
// and lists no failed expectations.
func TestDemoInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo builds hello twice and starts the sandbox")
	}
	bins := binDir(t)
	sandboxEnv(t)
	wd, _ := os.Getwd()
	if err := os.Chdir(repoRoot()); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd) //nolint:errcheck // back where the test started
	for _, c := range []struct {
		name, marker string
	}{
		{"during the first release", "── release 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := &cancelOn{marker: c.marker, cancel: cancel}
			var errb bytes.Buffer
			done := make(chan int, 1)
			go func() {
				done <- cli.Main(ctx, []string{"demo", "--bin-dir", bins, "--yes"}, cli.Env{Stdout: out, Stderr: &errb})
			}()
			var code int
			select {
			case code = <-done:
			case <-time.After(3 * time.Minute):
				t.Fatalf("the demo did not stop after the interrupt:\n%s", out.String())
			}
			wantCode(t, code, cli.ExitInterrupted, out.String(), errb.String())
			wantContains(t, "stderr", errb.String(), "interrupted")
			if strings.Contains(errb.String(), "expectations failed") {
				t.Errorf("an interrupted demo reported failed expectations:\n%s", errb.String())
			}
		})
	}
}
