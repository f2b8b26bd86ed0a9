package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/sandbox/model"
	"github.com/aliasflow/aliasflow/shared/config"
)

// approvalLink finds the approval link in an e-mail body.
var approvalLink = regexp.MustCompile(`https?://\S+\?t=[A-Za-z0-9._~%-]+`)

// DefaultLocalAddr is where `aliasflow local` listens unless --addr says
// otherwise: not 4566, LocalStack's edge port, which a machine trying
// aliasflow often has taken (issue 23).
const DefaultLocalAddr = "127.0.0.1:4747"

// DefaultLocalEndpoint is the sandbox's endpoint at DefaultLocalAddr.
const DefaultLocalEndpoint = "http://" + DefaultLocalAddr

func localCommand(a *app) *cobra.Command {
	var addr, stateDir, binDir, runtime, targets string
	c := &cobra.Command{
		Use:   "local",
		Short: "run the local sandbox (an AWS-compatible endpoint) until interrupted",
		Long: `Local runs the sandbox: the pipeline's Lambdas, the promotion state machine and the sample
function hello, behind one AWS-compatible endpoint on loopback. It prints the approval
e-mails the sandbox delivers. Rehearse new code with ` + "`aliasflow local deploy-code`" + `.
It listens on ` + DefaultLocalAddr + ` by default, not on LocalStack's 4566, so both can run.
With --runtime nodejs20.x (or nodejs22.x) hello is a Node.js function running ./examples/hello-node,
judged on the Node.js runtime's error lines: the world of a Node.js team.
--targets FILE tries your own settings (a targets file, as the CDK app takes, or one target's
settings; docs/settings.md) on hello: its target named hello, or its only target.`,
		Args: positional(0, 0),
		RunE: func(c *cobra.Command, args []string) error {
			o := worldOptions{Addr: addr, StateDir: stateDir, BinDir: binDir, Log: a.env.Stderr}
			if targets != "" {
				t, err := a.localTarget(targets)
				if err != nil {
					return err
				}
				o.Hello = func(string) *config.Target { return &t }
			}
			return runLocal(c.Context(), a, o, runtime)
		},
	}
	c.Flags().StringVar(&addr, "addr", DefaultLocalAddr, "loopback address to listen on")
	c.Flags().StringVar(&stateDir, "state-dir", "", "keep the sandbox's state in this directory across restarts")
	c.Flags().StringVar(&binDir, "bin-dir", "", "Lambdas built for this machine (default $ALIASFLOW_BIN_DIR, dist/local)")
	c.Flags().StringVar(&runtime, "runtime", "", "hello's runtime: "+runtimeNode+" or "+runtimeNode22+" (default: Go, "+runtimeProvided+")")
	c.Flags().StringVar(&targets, "targets", "", "promote hello with the settings in `FILE` (see settings validate)")
	c.AddCommand(deployCodeCommand(a))
	return c
}

// localTarget reads the settings `local --targets FILE` gives hello: the
// file's target named hello, or its only target renamed hello, validated
// as `settings validate` does. The CLI's caller in the sandbox decides as
// the first approver unless the file maps principals itself.
func (a *app) localTarget(file string) (config.Target, error) {
	fn := local.HelloFunction
	if names := targetNames(file); len(names) == 1 && names[0] != fn {
		fn = names[0]
	}
	t, err := a.readSettings(fn, file)
	if err != nil {
		return config.Target{}, err
	}
	if t.Function != local.HelloFunction {
		fmt.Fprintf(a.env.Stderr, "aliasflow: the sandbox runs %s: %s's settings apply to it\n", local.HelloFunction, t.Function)
		t.Function = local.HelloFunction
	}
	if len(t.Approval.Principals) == 0 {
		t.Approval.Principals = local.SandboxApproval(t.Approvers[0]).Principals
	}
	return t, nil
}

// targetNames are the functions of a targets file, nil when file is not
// one (readSettings then says what is wrong with it).
func targetNames(file string) []string {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var doc struct {
		Targets []struct {
			Function string `json:"function"`
		} `json:"targets"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return nil
	}
	var names []string
	for _, t := range doc.Targets {
		names = append(names, t.Function)
	}
	return names
}

func runLocal(ctx context.Context, a *app, opts worldOptions, runtime string) error {
	stateDir := opts.StateDir
	sample := "./examples/hello"
	switch {
	case isNode(runtime):
		sample = "./examples/hello-node"
		if fi, err := os.Stat(sample); err != nil || !fi.IsDir() {
			return fail(ExitUsage, "run it from the repository's root, where examples/hello-node is", "--runtime %s: hello's Node.js code %s is not here", runtime, sample)
		}
		opts.HelloNode, opts.HelloRuntime = sample, runtime
		hello := opts.Hello
		opts.Hello = func(endpoint string) *config.Target {
			t := local.DefaultHello(endpoint)
			if hello != nil { // --targets
				t = hello(endpoint)
			}
			// A Node.js handler's throw is only in the runtime's own
			// error line, not on the REPORT line.
			t.Health.LogRuntime = config.LogRuntimeNode
			return t
		}
	case runtime != "" && runtime != runtimeProvided:
		return usageError("--runtime %q: hello runs %s (Go), %s or %s (Node.js)", runtime, runtimeProvided, runtimeNode, runtimeNode22)
	}
	w, err := a.startLocal(ctx, opts)
	if err != nil {
		return err
	}
	defer w.Close()
	ep := w.Endpoint()
	out := a.env.Stdout
	fmt.Fprintf(out, "aliasflow sandbox listening on %s\n\n", ep)
	// SNS delivers nothing to an e-mail subscription until its recipient
	// confirms it; the approvers "click" the link SNS mailed them.
	confirmed, err := w.ConfirmSubscriptions(ctx)
	if err != nil {
		return &Error{Code: ExitFailure, Err: fmt.Errorf("confirm the approvers' SNS subscriptions: %w", err)}
	}
	for _, who := range confirmed {
		fmt.Fprintf(out, "%s confirmed the approval topic's subscription (followed the link SNS mailed)\n", who)
	}
	if len(confirmed) > 0 {
		fmt.Fprintln(out)
	}
	// hello's API serves GET on each stage's root only, as the CDK app's.
	fmt.Fprintf(out, "  %s/dev/           hello's $LATEST (alias dev)\n", ep)
	fmt.Fprintf(out, "  %s/staging/       the candidate (alias stg)\n", ep)
	fmt.Fprintf(out, "  %s/production/    what users get (alias prod)\n", ep)
	fmt.Fprintf(out, "  %s/%-13s the approval page (links arrive by e-mail, printed below)\n\n", ep, local.ApprovalStage)
	fmt.Fprintf(out, "point the CLI (and the AWS SDKs) at it:\n  export AWS_ENDPOINT_URL=%s AWS_REGION=us-east-1 \\\n         AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test\n", ep)
	if opts.HelloNode != "" {
		fmt.Fprintf(out, "\nhello runs examples/hello-node on %s (handler %s)\n", runtime, local.HelloNodeHandler)
	}
	fmt.Fprintf(out, "  aliasflow status hello\n\nrehearse new code (build, deploy to $LATEST, release):\n  aliasflow local deploy-code hello %s\n  aliasflow release hello --commit $(git rev-parse --short HEAD)\n\nCtrl-C stops it", sample)
	if stateDir != "" {
		fmt.Fprintf(out, " (state is kept in %s)", stateDir)
	}
	fmt.Fprintln(out)
	seen := 0
	for {
		mails := w.Emails()
		for _, m := range mails[min(seen, len(mails)):] {
			if a.g.json { // one JSON line per e-mail, the link in full
				b, _ := json.Marshal(map[string]any{"at": m.At.UTC(), "to": m.To, "subject": m.Subject, "link": approvalLink.FindString(m.Body)})
				fmt.Fprintf(out, "%s\n", b)
				continue
			}
			fmt.Fprintf(out, "\n[%s] e-mail to %s: %s\n", m.At.UTC().Format("15:04:05"), m.To, m.Subject)
			if link := approvalLink.FindString(m.Body); link != "" {
				// Whole and plain: a shortened link, or one only inside an
				// OSC 8 escape, cannot be opened everywhere (issue 23).
				fmt.Fprintf(out, "  %s\n", link)
			} else {
				fmt.Fprintf(out, "%s\n", m.Body)
			}
		}
		seen = len(mails)
		if err := a.env.Sleep(ctx, 500*time.Millisecond); err != nil {
			fmt.Fprintln(out, "\nstopping the sandbox")
			return nil
		}
	}
}

// startLocal starts the sandbox world and points the app's clients at it,
// with dummy credentials and connections fenced to loopback.
// localBinaries are the functions the local world runs, each a bootstrap
// under the bin directory.
var localBinaries = []string{"release", "smoketest", "approval", "shift", "reconcile", "hello"}

func (a *app) startLocal(ctx context.Context, opts worldOptions) (localWorld, error) {
	if opts.BinDir == "" {
		opts.BinDir = a.env.Getenv("ALIASFLOW_BIN_DIR")
	}
	if opts.BinDir == "" {
		opts.BinDir = filepath.Join("dist", "local")
	}
	for _, fn := range localBinaries {
		if _, err := os.Stat(filepath.Join(opts.BinDir, fn, "bootstrap")); err != nil {
			return nil, fail(ExitFailure, "run `make build-local` first, or pass --bin-dir", "the sandbox needs %s/%s/bootstrap built for this machine: %v", opts.BinDir, fn, err)
		}
	}
	w, err := startWorld(ctx, opts)
	if err != nil {
		return nil, &Error{Code: ExitFailure, Err: fmt.Errorf("start the sandbox: %w", err), Hint: startHint(err)}
	}
	a.g.endpoint, a.local, a.clients = w.Endpoint(), true, nil
	return w, nil
}

// startHint says what to do about a sandbox that did not start, by its
// cause: only a taken address is the port's fault.
func startHint(err error) string {
	switch {
	case errors.Is(err, model.ErrNoModels):
		return "the sandbox checks every request against AWS's API models, which botocore ships: install it (pip install botocore, " +
			"or apt-get install python3-botocore) or set " + model.DataDirEnv + " to its data directory"
	case errors.Is(err, syscall.EADDRINUSE):
		return "the address is in use (another aliasflow local?): pass --addr 127.0.0.1:0 for any free port"
	}
	return "run it again with the same flags; if it keeps failing, the error above says what is missing"
}
