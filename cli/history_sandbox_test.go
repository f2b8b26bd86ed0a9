package cli_test

import (
	"context"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/sandbox/local"
)

// TestHistoryOnAFreshSandbox: before the first release, `history` says
// there is no history yet — the world is deployed, as the pipeline stack's
// log group says — rather than asking whether aliasflow is deployed
// (issue 23); a function the world does not have is still not found.
func TestHistoryOnAFreshSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox")
	}
	bins := binDir(t)
	sandboxEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := local.Start(ctx, local.Options{BinDir: bins, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	e := &e2e{t: t, w: w, dir: t.TempDir()}
	for _, c := range []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"a target never released", []string{"history", "hello"}, cli.ExitOK, "no history for hello yet"},
		{"a function the world lacks", []string{"history", "nope"}, cli.ExitNotFound, "nope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := e.run(c.args...)
			wantCode(t, code, c.wantCode, out, errs)
			wantContains(t, "output", out+errs, c.want)
		})
	}
}
