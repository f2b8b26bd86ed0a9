package cli_test

import (
	"bytes"
	"context"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

var (
	_ cli.LambdaAPI = (*lambda.Client)(nil)
	_ cli.StatesAPI = (*sfn.Client)(nil)
	_ cli.LogsAPI   = (*clitest.Logs)(nil)
)

// world is what one test runs the CLI against: the sandbox's Lambda and
// the promotion definition on the sandbox's Step Functions, in-process.
type world struct {
	// states runs the promotion definition; its Runs write the histories.
	states *sandboxtest.Promotion
	// sfn, when set, replaces states' client.
	sfn    cli.StatesAPI
	lambda *sandboxtest.Lambda
	// sha2 is the CodeSha256 of hello's version 2 (and $LATEST).
	sha2   string
	logs   *clitest.Logs
	events *clitest.Events
	// identity is the sandbox STS, naming clitest.Caller.
	identity *sts.Client
	now      time.Time
	slept    time.Duration
	// onSleep runs at each poll of watch, to move the world along.
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
	// Step Functions); answers sees the task answers it sends.
	approvals *clitest.Approvals
	answers   *answers
}

// approvalsFor returns the world's approval API over sf.
func (w *world) approvalsFor(sf cli.StatesAPI) *clitest.Approvals {
	if w.approvals == nil {
		w.answers = &answers{StepFunctions: sf.(approval.StepFunctions)}
		w.approvals = clitest.NewApprovals(w.answers, w.lambda.Client)
	}
	return w.approvals
}

// sent is one task answer the approval API sent and Step Functions took.
type sent struct {
	Token, Output, Error, Cause string
	Success                     bool
}

// answers passes the approval API's calls to Step Functions and keeps the
// task answers it accepted.
type answers struct {
	approval.StepFunctions
	mu   sync.Mutex
	sent []sent
}

func (a *answers) SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, opts ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	out, err := a.StepFunctions.SendTaskSuccess(ctx, in, opts...)
	if err == nil {
		a.mu.Lock()
		a.sent = append(a.sent, sent{Token: aws.ToString(in.TaskToken), Output: aws.ToString(in.Output), Success: true})
		a.mu.Unlock()
	}
	return out, err
}

func (a *answers) SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, opts ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	out, err := a.StepFunctions.SendTaskFailure(ctx, in, opts...)
	if err == nil {
		a.mu.Lock()
		a.sent = append(a.sent, sent{Token: aws.ToString(in.TaskToken), Error: aws.ToString(in.Error), Cause: aws.ToString(in.Cause)})
		a.mu.Unlock()
	}
	return out, err
}

// sent lists the task answers the approval API sent, in order.
func (w *world) sent() []sent {
	if w.answers == nil {
		return nil
	}
	w.answers.mu.Lock()
	defer w.answers.mu.Unlock()
	return slices.Clone(w.answers.sent)
}

// publish gives hello new code and publishes it until it has versions
// 1…n, as builds and releases would.
func (w *world) publish(t *testing.T, n int) {
	t.Helper()
	for {
		out, err := w.lambda.Admin.ListVersionsByFunction(context.Background(), &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("hello")})
		if err != nil {
			t.Fatalf("list the versions of hello: %v", err)
		}
		if len(out.Versions)-1 >= n { // less $LATEST
			return
		}
		w.lambda.Deploy(t, "hello")
		if _, err := w.lambda.Admin.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String("hello")}); err != nil {
			t.Fatalf("publish hello: %v", err)
		}
	}
}

// input is a release of hello's version (2: the code it has; any other: a
// build of its own) as the release Lambda builds it.
func (w *world) input(version string) promotion.Input {
	sha := "sha-" + version
	if version == "2" {
		sha = w.sha2
	}
	return clitest.Input("hello", version, sha)
}

// run starts a promotion of hello's version on the definition, its smoke
// test in flight, a second of the clock after the last one so that the
// newest is listed first.
func (w *world) start(t *testing.T, version string) *sandboxtest.Run {
	t.Helper()
	return w.startWith(t, w.input(version))
}

// startWith starts a promotion of in as start does, for a release whose
// input a test shapes itself (its strategy, its plan).
func (w *world) startWith(t *testing.T, in promotion.Input) *sandboxtest.Run {
	t.Helper()
	w.states.Clock.Advance(time.Second)
	return w.states.Run(t, in)
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

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{states: sandboxtest.NewPromotion(t), lambda: sandboxtest.NewLambda(t), logs: clitest.NewLogs("/aliasflow/pipeline"),
		events: clitest.NewEvents(t), identity: clitest.Identity(t), now: sandboxtest.T0.Add(time.Hour)}
	w.sha2 = w.lambda.AddFunction(t, "hello", 2)
	w.lambda.SetAlias(t, "hello", "dev", "$LATEST", nil)
	w.lambda.SetAlias(t, "hello", "stg", "2", nil)
	w.lambda.SetAlias(t, "hello", "prod", "1", nil)
	w.lambda.AddFunction(t, deploy.ShiftFunction, 0)
	return w
}

// run runs the CLI and returns its exit code, stdout and stderr.
func (w *world) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	sf := w.sfn
	if sf == nil {
		sf = w.states.SFN
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
		Clients: &cli.Clients{Lambda: w.lambda.Client, States: sf, Logs: w.logs, Events: w.events.Client, Identity: w.identity,
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
