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
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/awsconfig"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aliasflow/aliasflow/shared/wait"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Defaults of the global flags.
const (
	DefaultStateMachine = deploy.StateMachine
	DefaultLogGroup     = deploy.PipelineLogGroup
	// DefaultEventBus is the bus release puts Release Requested on: the
	// release bus, which admits only the principals granted.
	DefaultEventBus = deploy.ReleaseEventBus
	ShiftFunction   = deploy.ShiftFunction
	sandboxRegion   = "us-east-1"
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
	// Terminal says stdout is a terminal: watch redraws its line with a
	// live countdown, and long links are hyperlinks.
	Terminal bool
	// Width is the terminal's width in columns, where history wraps a
	// reason; 0 when unknown: $COLUMNS, else maxWidth.
	Width int
	// Clients, when set, are used instead of clients built from the AWS
	// configuration (tests).
	Clients *Clients
}

// globals are the flags every command takes.
type globals struct {
	json         bool
	endpoint     string
	region       string
	stateMachine string
	logGroup     string
	eventBus     string
	pipeline     string
}

type app struct {
	env     Env
	g       globals
	clients *Clients
	smARN   string
	// releaseWait is how far `release` follows its request.
	releaseWait releaseWait
	caller      string
	// account is the caller's account, read with caller.
	account string
	// region is the AWS configuration's region, once the clients are
	// built from it.
	region string
	// local: the clients talk to a sandbox this process started (dummy
	// credentials, loopback only).
	local bool
	// followed is what readProgress read of each execution so far.
	followed map[string]*followed
	// groups are the members of group promotions read so far, by ARN.
	groups map[string]groupRead
	// shown is the last progress line printed per execution (follow).
	shown map[string]string
	// trailReads are watch's reads of the trail for approval counts.
	trailReads map[string]trailRead
	// live: follow redraws the current line at each poll (watch at a
	// terminal).
	live bool
	// sdkLog takes the AWS SDK's log messages (warnings); stderr when nil.
	sdkLog io.Writer
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
	root := a.root()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		return a.report(err)
	}
	return ExitOK
}

// report prints err with its hint and returns its exit code.
func (a *app) report(err error) int {
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

// exitCodes is the exit code table, in the root help and the README.
const exitCodes = `Exit codes (the same meaning for every command):
  0  ok
  1  failure: an AWS call or the network (the message says which)
  2  usage: the command line is wrong (unknown command, flag or help topic; missing argument)
  3  not found: no such function, promotion or state machine
  4  conflict: not in a state the command applies to (already decided, not baking,
     nothing to roll back, a rollback past the last stable version without --to)
  5  the watched promotion ended failed, aborted or timed out
  6  refused: a confirmation was declined, or needed and none could be asked (use --yes)
  7  release refused: the release Lambda refused the request (release; the reason is printed)
130  interrupted: the demo was stopped with Ctrl-C`

// root builds the command tree. Flags are GNU style (--flag, --flag=value,
// anywhere on the line); every command's flags are listed by
// `aliasflow help <command>`.
func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "aliasflow",
		Short: "promote Lambda functions through aliases, with approval, canary and rollback",
		Long: `aliasflow promotes Lambda functions through their stg and prod aliases, with smoke tests,
an approval, a canary or linear shift, health checks and rollback.

A <promotion> is an execution name (hello-v2-1a2b3c4d) or its ARN; approve, reject and
promote also take a function name when exactly one of its promotions is waiting.

` + exitCodes,
		Version:       Version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		// Unknown commands are usage errors (exit 2), with suggestions.
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				if v, ok := otherVerbs[args[0]]; ok {
					return &Error{Code: ExitUsage, Err: fmt.Errorf("unknown command %q; did you mean %q?", args[0], v.command), Hint: v.hint}
				}
				return usageError("unknown command %q%s", args[0], suggest(c, args[0]))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			c.SetOut(a.env.Stderr)
			_ = c.Usage()
			return &Error{Code: ExitUsage, Err: errors.New("no command given: usage: aliasflow <command> [flags] [args]"), Hint: "run `aliasflow help` for the commands and their flags"}
		},
		SuggestionsMinimumDistance: 2,
	}
	root.SetIn(a.env.Stdin)
	root.SetOut(a.env.Stdout)
	root.SetErr(a.env.Stderr)
	root.SetVersionTemplate("aliasflow {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		msg := fmt.Errorf("%s: %w", c.CommandPath(), err)
		if name, ok := strings.CutPrefix(err.Error(), "unknown flag: --"); ok {
			if near := nearestFlag(c, name); near != "" {
				msg = fmt.Errorf("%s: %w; did you mean --%s?", c.CommandPath(), err, near)
			}
		}
		return &Error{Code: ExitUsage, Err: msg, Hint: fmt.Sprintf("see its flags with `aliasflow help %s`", c.Name())}
	})
	pf := root.PersistentFlags()
	pf.BoolVar(&a.g.json, "json", false, "machine-readable output (watch: one JSON line per change)")
	pf.StringVar(&a.g.endpoint, "endpoint", "", "AWS endpoint URL, e.g. "+DefaultLocalEndpoint+" (or AWS_ENDPOINT_URL)")
	pf.StringVar(&a.g.region, "region", "", "AWS region (default: the SDK's chain, AWS_REGION)")
	pf.StringVar(&a.g.stateMachine, "state-machine", DefaultStateMachine, "promotion state machine, name or ARN")
	pf.StringVar(&a.g.logGroup, "log-group", DefaultLogGroup, "the audit log group")
	pf.StringVar(&a.g.eventBus, "event-bus", DefaultEventBus, "the bus release puts its event on")
	pf.StringVar(&a.g.pipeline, "pipeline", settings.DefaultPipeline, "pipeline name: targets under /aliasflow/NAME/")
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error { return a.checkGlobals() }
	root.AddGroup(&cobra.Group{ID: "ops", Title: "Operating promotions:"}, &cobra.Group{ID: "local", Title: "On this machine:"})
	for _, c := range []*cobra.Command{
		statusCommand(a), historyCommand(a), approveCommand(a), rejectCommand(a), rollbackCommand(a),
		promoteCommand(a), pauseCommand(a), resumeCommand(a), abortCommand(a), releaseCommand(a), watchCommand(a),
		pruneCommand(a), reportCommand(a), settingsCommand(a),
	} {
		c.GroupID = "ops"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{localCommand(a), demoCommand(a)} {
		c.GroupID = "local"
		root.AddCommand(c)
	}
	a.addCompletions(root)
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "help about any command, with all its flags",
		Args:  cobra.ArbitraryArgs,
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			var names []string
			for _, sub := range root.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, sub.Name())
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == nil || len(rest) > 0 {
				topic := strings.Join(args, " ")
				return usageError("unknown help topic %q%s", topic, suggest(root, args[0]))
			}
			return cmd.Help()
		},
	})
	return root
}

// otherVerbs are the verbs other deployment tools use for what an
// aliasflow command does: each gets that command and how to use it.
var otherVerbs = map[string]struct{ command, hint string }{
	"undo":   {"rollback", "`aliasflow rollback <function>` puts prod back on the stable version (`aliasflow abort <promotion>` rolls a shifting promotion back)"},
	"revert": {"rollback", "`aliasflow rollback <function>` puts prod back on the stable version (`aliasflow abort <promotion>` rolls a shifting promotion back)"},
	"retry":  {"release", "`aliasflow release <function> --retry` starts a fresh promotion of a build whose last one failed, expired, was rejected or rolled back"},
}

// nearestFlag is the flag of c (its own or inherited) closest to a
// misspelt name, within cobra's suggestion distance for commands (2), or
// "".
func nearestFlag(c *cobra.Command, name string) string {
	best, bestD := "", 3
	visit := func(f *pflag.Flag) {
		if d := editDistance(name, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	}
	c.Flags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev = cur
	}
	return prev[len(b)]
}

// suggest is cobra's "did you mean" for an unknown command, or "".
func suggest(root *cobra.Command, name string) string {
	s := root.SuggestionsFor(name)
	if len(s) == 0 {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", s[0])
}

// checkGlobals refuses global flag values the SDK would reject with a
// cryptic message.
func (a *app) checkGlobals() error {
	ep, from := a.g.endpoint, "--endpoint"
	if ep == "" {
		ep, from = a.env.Getenv("AWS_ENDPOINT_URL"), "AWS_ENDPOINT_URL"
	}
	if ep != "" {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			hint := fmt.Sprintf("give a URL with its scheme, e.g. %s %s", from, DefaultLocalEndpoint)
			if !strings.Contains(ep, "://") {
				hint = fmt.Sprintf("add the scheme: %s http://%s", from, ep)
			}
			if from == "AWS_ENDPOINT_URL" {
				hint = strings.Replace(hint, "AWS_ENDPOINT_URL ", "AWS_ENDPOINT_URL=", 1)
			}
			return &Error{Code: ExitUsage, Err: fmt.Errorf("%s %q is not an http(s) URL", from, ep), Hint: hint}
		}
	}
	return nil
}

// positional returns an Args check: between min and max positional
// arguments (max < 0: any), else a usage error showing the command's line.
func positional(min, max int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < min || (max >= 0 && len(args) > max) {
			return &Error{Code: ExitUsage, Err: fmt.Errorf("usage: %s", c.UseLine()), Hint: fmt.Sprintf("see `aliasflow help %s`", c.Name())}
		}
		return nil
	}
}

// Version is the CLI's version: set at link time (-X
// github.com/aliasflow/aliasflow/cli.version=v1.2.3), else the module
// version `go install …@version` recorded, else the commit it was built from.
func Version() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if v == "" || v == "(devel)" {
		v = "(devel)"
		if rev != "" {
			v += " " + rev[:min(12, len(rev))] + dirty
		}
	}
	return v
}

var version string

// aws returns the clients, building them on first use.
func (a *app) aws(ctx context.Context) (*Clients, error) {
	if a.clients != nil {
		return a.clients, nil
	}
	cfg, err := a.config(ctx)
	if err != nil {
		return nil, err
	}
	a.region = cfg.Region
	params := ssm.NewFromConfig(cfg)
	lc := lambda.NewFromConfig(cfg)
	a.clients = &Clients{
		Parameters: params,
		Lambda:     lc,
		Prune:      lc,
		States:     sfn.NewFromConfig(cfg),
		Logs:       cloudwatchlogs.NewFromConfig(cfg),
		Events:     eventbridge.NewFromConfig(cfg),
		Identity:   sts.NewFromConfig(cfg),
		Settings:   params,
		Proofs:     sts.NewPresignClient(sts.NewFromConfig(cfg)),
		Approvals:  signedAPI{creds: cfg.Credentials, region: cfg.Region, client: httpClientOf(cfg), now: time.Now},
	}
	return a.clients, nil
}

// httpClientOf is the config's HTTP client (the sandbox's loopback-only
// one), else a default one.
func httpClientOf(cfg aws.Config) aws.HTTPClient {
	if cfg.HTTPClient != nil {
		return cfg.HTTPClient
	}
	return &http.Client{Timeout: time.Minute}
}

func (a *app) config(ctx context.Context) (aws.Config, error) {
	// The SDK's own messages (retries, checksum warnings) go through the
	// CLI, so a prompt or the demo's story is never written over.
	opts := []func(*config.LoadOptions) error{
		config.WithLogger(logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
			w := a.sdkLog
			if w == nil {
				w = a.env.Stderr
			}
			fmt.Fprintf(w, "aliasflow: AWS SDK %s: %s\n", strings.ToLower(string(c)), fmt.Sprintf(format, v...))
		})),
		config.WithClientLogMode(0),
		// A throttled call is retried with backoff, not failed: the CLI
		// shares the account's buckets with the pipeline (and with other
		// operators' watches).
		config.WithRetryer(awsenv.PatientRetryer(0, 0)),
	}
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
