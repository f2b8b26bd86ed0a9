package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
)

var (
	_ cli.LambdaAPI   = (*clitest.Lambda)(nil)
	_ cli.StatesAPI   = (*clitest.States)(nil)
	_ cli.LogsAPI     = (*clitest.Logs)(nil)
	_ cli.EventsAPI   = (*clitest.Events)(nil)
	_ cli.IdentityAPI = clitest.Identity{}
)

// world is the fakes one test runs the CLI against.
type world struct {
	states *clitest.States
	// sfn, when set, replaces states (the sandbox's interpreter).
	sfn    cli.StatesAPI
	lambda *clitest.Lambda
	logs   *clitest.Logs
	events *clitest.Events
	now    time.Time
	slept  time.Duration
	// onSleep runs at each poll of watch, to move the fakes along.
	onSleep func(n int)
	sleeps  int
}

func newWorld() *world {
	w := &world{states: clitest.NewStates(), lambda: clitest.NewLambda(), logs: clitest.NewLogs("/aliasflow/pipeline"),
		events: &clitest.Events{}, now: clitest.T0.Add(time.Hour)}
	hello := w.lambda.Add(&clitest.Function{Name: "hello", Versions: map[string]string{"$LATEST": "sha-2", "1": "sha-1", "2": "sha-2"}})
	_ = hello
	w.lambda.SetAlias("hello", "dev", "$LATEST", nil)
	w.lambda.SetAlias("hello", "stg", "2", nil)
	w.lambda.SetAlias("hello", "prod", "1", nil)
	w.lambda.Add(&clitest.Function{Name: "aliasflow-shift", Versions: map[string]string{"$LATEST": "sha-shift"}})
	return w
}

// run runs the CLI and returns its exit code, stdout and stderr.
func (w *world) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	var sf cli.StatesAPI = w.states
	if w.sfn != nil {
		sf = w.sfn
	}
	code := cli.Main(context.Background(), args, cli.Env{
		Stdout: &out, Stderr: &errb,
		Getenv: func(string) string { return "" },
		Now:    func() time.Time { return w.now },
		Sleep: func(ctx context.Context, d time.Duration) error {
			w.slept += d
			w.now = w.now.Add(d)
			w.sleeps++
			if w.onSleep != nil {
				w.onSleep(w.sleeps)
			}
			return ctx.Err()
		},
		Clients: &cli.Clients{Lambda: w.lambda, States: sf, Logs: w.logs, Events: w.events, Identity: clitest.Identity{ARN: clitest.Caller}},
	})
	return code, out.String(), errb.String()
}

func wantCode(t *testing.T, got, want int, stdout, stderr string) {
	t.Helper()
	if got != want {
		t.Fatalf("exit code = %d; want %d\nstdout:\n%s\nstderr:\n%s", got, want, stdout, stderr)
	}
}

func wantContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}
