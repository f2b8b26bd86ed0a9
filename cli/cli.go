// Package cli is the operator command line, `aliasflow`: it reads and moves
// promotions on AWS (the default credential chain) or on the local sandbox
// (--endpoint or AWS_ENDPOINT_URL). Each command is one file; they share the
// AWS clients, the output helpers and the promotion readers of this package
// and of cli/progress.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/awsconfig"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/wait"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Defaults of the global flags.
const (
	DefaultStateMachine = deploy.StateMachine
	DefaultLogGroup     = deploy.PipelineLogGroup
	DefaultEventBus     = deploy.DefaultEventBus
	ShiftFunction       = deploy.ShiftFunction
	sandboxRegion       = "us-east-1"
)

// Env is what a run of the CLI reads and writes; tests replace all of it.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment; os.Getenv when nil.
	Getenv func(string) string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Sleep waits d or until ctx ends; a timer when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Interactive says stdin is a terminal a person can answer at.
	Interactive bool
	// Clients, when set, are used instead of clients built from the AWS
	// configuration (tests).
	Clients *Clients
}

// command is one subcommand.
type command struct {
	name    string
	args    string
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

func commands() []command {
	return []command{
		{"status", "[function...]", "aliases, versions, weights, running promotions and drift", runStatus},
		{"history", "<function>", "promotions and alias moves from the audit trail, newest first", runHistory},
		{"approve", "<promotion> [--comment TEXT]", "approve a promotion waiting for approval, as you", runApprove},
		{"reject", "<promotion> --comment TEXT", "reject a promotion waiting for approval, as you", runReject},
		{"rollback", "<function>", "put prod back on the stable version, aborting a running shift", runRollback},
		{"promote", "<promotion> --now", "skip the rest of the current bake (health is still checked)", runPromote},
		{"release", "<function> [--commit SHA]", "request a release of the function's current $LATEST", runRelease},
		{"watch", "<promotion>", "follow a promotion live until it ends", runWatch},
		{"local", "[--addr HOST:PORT] [--state-dir DIR]", "run the local sandbox (an AWS-compatible endpoint) until interrupted", runLocal},
		{"demo", "[--yes]", "a whole promotion and a rollback on the sandbox, with checks", runDemo},
		{"help", "[command]", "this help", nil},
	}
}

// globals are the flags every command takes.
type globals struct {
	json         bool
	endpoint     string
	region       string
	stateMachine string
	logGroup     string
	eventBus     string
}

type app struct {
	env     Env
	g       globals
	clients *Clients
	smARN   string
	caller  string
	// local: the clients talk to a sandbox this process started (dummy
	// credentials, loopback only).
	local bool
	// shown is the last progress line printed per execution (follow).
	shown map[string]string
}

// Main runs the CLI with args (without the program name) and returns the
// process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Sleep == nil {
		env.Sleep = wait.Sleep
	}
	a := &app{env: env, clients: env.Clients, g: globals{stateMachine: DefaultStateMachine, logGroup: DefaultLogGroup, eventBus: DefaultEventBus}}
	// Global flags may come before the command.
	pre := a.flagSet("aliasflow")
	if err := pre.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.help(env.Stdout, "")
			return ExitOK
		}
		return a.report(usageError("%v", err))
	}
	args = pre.Args()
	if len(args) == 0 {
		a.help(env.Stderr, "")
		return ExitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		topic := ""
		if len(rest) > 0 {
			topic = rest[0]
		}
		a.help(env.Stdout, topic)
		return ExitOK
	}
	for _, c := range commands() {
		if c.name == name && c.run != nil {
			err := c.run(ctx, a, rest)
			if err == nil {
				return ExitOK
			}
			return a.report(err)
		}
	}
	return a.report(usageError("unknown command %q", name))
}

// report prints err with its hint and returns its exit code.
func (a *app) report(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	e := classify(err)
	if a.g.json {
		_ = json.NewEncoder(a.env.Stderr).Encode(map[string]any{"error": e.Error(), "hint": e.Hint, "exitCode": e.Code})
		return e.Code
	}
	fmt.Fprintf(a.env.Stderr, "aliasflow: %v\n", e)
	if e.Hint != "" {
		fmt.Fprintf(a.env.Stderr, "  next: %s\n", e.Hint)
	}
	return e.Code
}

func (a *app) help(w io.Writer, topic string) {
	cmds := commands()
	if topic != "" {
		for _, c := range cmds {
			if c.name == topic {
				fmt.Fprintf(w, "usage: aliasflow %s %s\n\n%s\n\n", c.name, c.args, c.summary)
				if c.run != nil {
					fs := a.flagSet(c.name)
					fmt.Fprintln(w, "flags:")
					fs.SetOutput(w)
					fs.PrintDefaults()
				}
				return
			}
		}
	}
	fmt.Fprint(w, "aliasflow — promote Lambda functions through aliases, with approval, canary and rollback.\n\nusage: aliasflow <command> [flags] [args]\n\ncommands:\n")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-9s %-38s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprint(w, `
global flags (any command, anywhere on the line):
  --json                 machine-readable output (one JSON document; watch: one line per change)
  --endpoint URL         send every AWS call to URL (the sandbox); AWS_ENDPOINT_URL works too
  --region REGION        AWS region (default: the SDK's chain)
  --state-machine NAME   the promotion state machine, name or ARN (default aliasflow-promotion)
  --log-group NAME       the audit log group (default /aliasflow/pipeline)
  --event-bus NAME       the bus release puts its event on (default "default")

a <promotion> is an execution name (hello-v2-1a2b3c4d) or its ARN; approve, reject and
promote also take a function name when exactly one of its promotions is waiting.

exit codes:
  0  ok
  1  failure (an AWS call or the network; the message says which)
  2  usage: the command line is wrong
  3  not found: no such function, promotion or state machine
  4  conflict: the promotion is not in a state the command applies to (already decided, not baking, nothing to roll back)
  5  the watched promotion ended failed, aborted or timed out
`)
}

// flagSet returns a command's flag set with the global flags on it.
func (a *app) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// The current values are the defaults: global flags given before the
	// command were parsed already.
	fs.BoolVar(&a.g.json, "json", a.g.json, "machine-readable output")
	fs.StringVar(&a.g.endpoint, "endpoint", a.g.endpoint, "base endpoint URL for every AWS call (the sandbox)")
	fs.StringVar(&a.g.region, "region", a.g.region, "AWS region")
	fs.StringVar(&a.g.stateMachine, "state-machine", a.g.stateMachine, "promotion state machine name or ARN")
	fs.StringVar(&a.g.logGroup, "log-group", a.g.logGroup, "audit log group")
	fs.StringVar(&a.g.eventBus, "event-bus", a.g.eventBus, "event bus for release")
	return fs
}

// parse parses flags and positional arguments in any order, and checks the
// number of positional arguments is between min and max (max < 0: any).
func (a *app) parse(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				a.help(a.env.Stdout, fs.Name())
				return nil, flag.ErrHelp
			}
			return nil, usageError("%s: %v", fs.Name(), err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		var want string
		for _, c := range commands() {
			if c.name == fs.Name() {
				want = c.args
			}
		}
		return nil, usageError("usage: aliasflow %s %s", fs.Name(), want)
	}
	return pos, nil
}

// aws returns the clients, building them on first use.
func (a *app) aws(ctx context.Context) (*Clients, error) {
	if a.clients != nil {
		return a.clients, nil
	}
	cfg, err := a.config(ctx)
	if err != nil {
		return nil, err
	}
	a.clients = &Clients{
		Lambda:   lambda.NewFromConfig(cfg),
		States:   sfn.NewFromConfig(cfg),
		Logs:     cloudwatchlogs.NewFromConfig(cfg),
		Events:   eventbridge.NewFromConfig(cfg),
		Identity: sts.NewFromConfig(cfg),
	}
	return a.clients, nil
}

func (a *app) config(ctx context.Context) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if a.g.endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(a.g.endpoint))
	}
	if a.g.region != "" {
		opts = append(opts, config.WithRegion(a.g.region))
	}
	if a.local {
		opts = append(opts, config.WithRegion(sandboxRegion), config.WithHTTPClient(awsenv.LoopbackOnlyClient()),
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	}
	cfg, err := awsconfig.Load(ctx, opts...)
	if err != nil {
		return aws.Config{}, &Error{Code: ExitFailure, Err: err, Hint: "check your AWS credentials and region (AWS_PROFILE, AWS_REGION), or pass --endpoint for the sandbox"}
	}
	if cfg.Region == "" {
		return aws.Config{}, fail(ExitUsage, "pass --region or set AWS_REGION", "no AWS region configured")
	}
	return cfg, nil
}
