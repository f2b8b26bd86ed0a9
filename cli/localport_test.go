package cli_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
)

// localStackPort is LocalStack's edge port (4566), which many machines
// that try aliasflow already have taken (issue 23).
const localStackPort = "4566"

// TestLocalDefaultAddress: `aliasflow local` listens by default on
// cli.DefaultLocalAddr, not LocalStack's port, and says so in its help;
// started without --addr, it prints that endpoint.
func TestLocalDefaultAddress(t *testing.T) {
	if _, port, _ := net.SplitHostPort(cli.DefaultLocalAddr); port == localStackPort {
		t.Fatalf("the sandbox's default address %s is LocalStack's port", cli.DefaultLocalAddr)
	}
	code, out, errs := newWorld(t).run(t, "help", "local")
	wantCode(t, code, cli.ExitOK, out, errs)
	wantContains(t, "help local", out, cli.DefaultLocalAddr, "LocalStack")

	if testing.Short() {
		return
	}
	bins := binDir(t)
	sandboxEnv(t)
	if l, err := net.Listen("tcp", cli.DefaultLocalAddr); err != nil {
		t.Skipf("%s is taken on this machine: %v", cli.DefaultLocalAddr, err)
	} else {
		l.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &cancelOn{marker: "Ctrl-C stops it", cancel: cancel}
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"local", "--bin-dir", bins, "--state-dir", t.TempDir()}, cli.Env{Stdout: stdout, Stderr: &errb})
	}()
	select {
	case code = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("aliasflow local did not stop:\n%s", stdout.String())
	}
	wantCode(t, code, cli.ExitOK, stdout.String(), errb.String())
	if want := "listening on http://" + cli.DefaultLocalAddr; !strings.Contains(stdout.String(), want) {
		t.Errorf("aliasflow local printed %q, want %q", stdout.String(), want)
	}
}
