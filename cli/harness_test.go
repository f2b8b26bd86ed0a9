package cli_test

import (
	"bytes"
	"context"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/fakes/lambdafake"
)

var (
	_ cli.LambdaAPI   = (*lambdafake.Fake)(nil)
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
	lambda *lambdafake.Fake
	logs   *clitest.Logs
	events *clitest.Events
	now    time.Time
	slept  time.Duration
	// onSleep runs at each poll of watch, to move the fakes along.
	onSleep func(n int)
	sleeps  int
	// stdin is what the person types; interactive says a terminal is there.
	stdin       string
	interactive bool
	terminal    bool
	// width is the terminal's width in columns (Env.Width; 0: unknown).
	width int
	// params are the Parameter Store parameters (name → value).
	params map[string]string
	// approvals is the approval API (made on first use over the world's
	// Step Functions).
	approvals *clitest.Approvals
}

// approvalsFor returns the world's approval API over sf.
func (w *world) approvalsFor(sf cli.StatesAPI) *clitest.Approvals {
	if w.approvals == nil {
		w.approvals = clitest.NewApprovals(sf.(approval.StepFunctions), w.lambda)
	}
	return w.approvals
}

// paramStore answers GetParametersByPath from a map, one level, sorted.
type paramStore map[string]string

func (s paramStore) GetParametersByPath(_ context.Context, in *ssm.GetParametersByPathInput, _ ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error) {
	var names []string
	for n := range s {
		// A path names its children with or without its trailing slash.
		if rest, ok := strings.CutPrefix(n, strings.TrimSuffix(aws.ToString(in.Path), "/")+"/"); ok && !strings.Contains(rest, "/") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := &ssm.GetParametersByPathOutput{}
	for _, n := range names {
		out.Parameters = append(out.Parameters, ssmtypes.Parameter{Name: aws.String(n), Value: aws.String(s[n])})
	}
	return out, nil
}

func newWorld() *world {
	w := &world{states: clitest.NewStates(), lambda: lambdafake.New(), logs: clitest.NewLogs("/aliasflow/pipeline"),
		events: &clitest.Events{}, now: clitest.T0.Add(time.Hour)}
	w.lambda.AddFunction("hello", "sha-1", 1)
	w.lambda.Deploy("hello", "sha-2")
	w.lambda.Publish("hello")
	w.lambda.SetAlias("hello", "dev", "$LATEST", nil)
	w.lambda.SetAlias("hello", "stg", "2", nil)
	w.lambda.SetAlias("hello", "prod", "1", nil)
	w.lambda.AddFunction("aliasflow-shift", "sha-shift", 0)
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
		Stdin: strings.NewReader(w.stdin), Interactive: w.interactive, Terminal: w.terminal, Width: w.width,
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
		Clients: &cli.Clients{Lambda: w.lambda, States: sf, Logs: w.logs, Events: w.events, Identity: clitest.Identity{ARN: clitest.Caller},
			Settings: paramStore(w.params), Proofs: clitest.Proofs(), Approvals: w.approvalsFor(sf)},
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
