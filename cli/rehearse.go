package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	sandboxlambda "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/spf13/cobra"
)

// codeUpdater is the Lambda calls deploy-code makes besides LambdaAPI's.
type codeUpdater interface {
	UpdateFunctionCode(ctx context.Context, in *lambda.UpdateFunctionCodeInput, opts ...func(*lambda.Options)) (*lambda.UpdateFunctionCodeOutput, error)
	UpdateFunctionConfiguration(ctx context.Context, in *lambda.UpdateFunctionConfigurationInput, opts ...func(*lambda.Options)) (*lambda.UpdateFunctionConfigurationOutput, error)
}

// DeployCodeResult is what `local deploy-code` did.
type DeployCodeResult struct {
	Function string `json:"function"`
	// Package is what was deployed: a Go package, a directory or a zip.
	Package string `json:"package"`
	// Runtime and Handler are $LATEST's after the deploy.
	Runtime    string `json:"runtime"`
	Handler    string `json:"handler,omitempty"`
	CodeSha256 string `json:"codeSha256"`
	// Promotion is the execution name a release of this code will most
	// likely get.
	Promotion string `json:"expectedPromotion,omitempty"`
	// SmokeChecks are the checks the promotion runs against stg.
	SmokeChecks []config.SmokeCheck `json:"smokeChecks,omitempty"`
}

// The runtimes deploy-code packages for: a Go package built as a custom
// runtime's bootstrap, or a Node.js directory (the sandbox's Lambda runs
// nodejs20.x with AWS's runtime interface client).
const (
	runtimeProvided = "provided.al2023"
	runtimeNode     = "nodejs20.x"
	runtimeNode22   = "nodejs22.x"
	// defaultNodeHandler is the handler of a Node.js package whose function
	// named none: the export handler of index.mjs or index.js.
	defaultNodeHandler = "index.handler"
)

func deployCodeCommand(a *app) *cobra.Command {
	var ldflags, runtime, handler string
	c := &cobra.Command{
		Use:   "deploy-code <function> [package|directory|zip]",
		Short: "make code a sandbox function's $LATEST: a Go package, a Node.js directory or a zip",
		Long: `Deploy-code rehearses a change on the sandbox in one step: it packages the code, uploads it as
the function's $LATEST with UpdateFunctionCode, waits for the update to finish, and prints the
smoke checks the promotion will hold it to. Then ` + "`aliasflow release <function>`" + ` starts the promotion.
What it packages follows the function's runtime (--runtime changes it first):
  provided.al2023  a Go main package, built for this machine as the bootstrap (default ./examples/hello)
  nodejs20.x, nodejs22.x
                   a directory, zipped as it is, node_modules included (default ./examples/hello-node);
                   --handler names the handler (default index.handler)
  either           a .zip deployment package, uploaded as it is
It talks to the sandbox of ` + "`aliasflow local`" + ` (--endpoint, AWS_ENDPOINT_URL, default
` + DefaultLocalEndpoint + `) and refuses any other endpoint.`,
		Example: `  aliasflow local deploy-code hello ./examples/hello
  aliasflow local deploy-code hello --ldflags "-X 'main.greeting=Hello from Lambda World'"
  aliasflow local deploy-code hello ./examples/hello-node --runtime nodejs20.x
  aliasflow local deploy-code hello build/function.zip
  aliasflow release hello --commit $(git rev-parse --short HEAD)`,
		Args: positional(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			pkg := ""
			if len(args) > 1 {
				pkg = args[1]
			}
			return runDeployCode(c.Context(), a, args[0], pkg, deployOptions{ldflags: ldflags, runtime: runtime, handler: handler})
		},
	}
	c.Flags().StringVar(&ldflags, "ldflags", "", "extra -ldflags for go build (e.g. -X main.greeting=...); Go packages only")
	c.Flags().StringVar(&runtime, "runtime", "", "switch $LATEST to this runtime first: "+runtimeProvided+", "+runtimeNode+" or "+runtimeNode22+" (default: the function's)")
	c.Flags().StringVar(&handler, "handler", "", "the handler of a Node.js function (default: the function's, else "+defaultNodeHandler+")")
	return c
}

// deployOptions are deploy-code's flags.
type deployOptions struct{ ldflags, runtime, handler string }

func runDeployCode(ctx context.Context, a *app, fn, pkg string, o deployOptions) error {
	if err := checkFunction(fn); err != nil {
		return err
	}
	if o.runtime != "" && !isNode(o.runtime) && !strings.HasPrefix(o.runtime, "provided.") {
		return usageError("--runtime %q: deploy-code packages %s (a Go package), %s or %s (a directory)", o.runtime, runtimeProvided, runtimeNode, runtimeNode22)
	}
	if a.g.endpoint == "" {
		a.g.endpoint = a.env.Getenv("AWS_ENDPOINT_URL")
	}
	if a.g.endpoint == "" {
		a.g.endpoint = DefaultLocalEndpoint
	}
	if !isLoopback(a.g.endpoint) {
		return &Error{Code: ExitUsage, Err: fmt.Errorf("deploy-code only deploys to the local sandbox, not %s", a.g.endpoint),
			Hint: "start it with `aliasflow local` and pass --endpoint " + DefaultLocalEndpoint + "; on AWS, your CI deploys $LATEST"}
	}
	// The sandbox takes dummy credentials; never send real ones to it.
	a.local = true
	// UpdateFunctionCode is refused while an update is in progress
	// (ResourceConflictException), and its result is final only once
	// LastUpdateStatus leaves InProgress ("Lambda function states",
	// https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html).
	cur, err := a.settled(ctx, fn)
	if err != nil {
		return err
	}
	runtime, handler := string(cur.Runtime), aws.ToString(cur.Handler)
	if o.runtime != "" {
		runtime = o.runtime
	}
	if isNode(runtime) && (o.handler != "" || handler == "" || !isNode(string(cur.Runtime))) {
		handler = o.handler
		if handler == "" {
			handler = defaultNodeHandler
		}
	}
	if o.handler != "" && !isNode(runtime) {
		return usageError("--handler is for Node.js functions; %s runs %s, whose entry point is the bootstrap", fn, runtime)
	}
	code, what, err := packageCode(ctx, runtime, pkg, o.ldflags)
	if err != nil {
		return err
	}
	c, err := a.aws(ctx)
	if err != nil {
		return err
	}
	up, ok := c.Lambda.(codeUpdater)
	if !ok {
		return fmt.Errorf("deploy-code: this Lambda client cannot update code")
	}
	if runtime != string(cur.Runtime) || handler != aws.ToString(cur.Handler) {
		// The runtime and handler are configuration, not code: switched
		// first, so the code lands on the runtime it is for.
		if _, err := up.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(fn),
			Runtime: lambdatypes.Runtime(runtime), Handler: aws.String(handler)}); err != nil {
			return fmt.Errorf("switch %s to %s (handler %s): %w", fn, runtime, handler, err)
		}
		if _, err := a.settled(ctx, fn); err != nil {
			return err
		}
	}
	out, err := up.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(fn), ZipFile: code})
	if err != nil {
		if awserr.Code(err) == awserr.NotFound {
			return a.noSuchFunction(ctx, fn, "the sandbox has hello; see `aliasflow status`")
		}
		return fmt.Errorf("update the code of %s: %w", fn, err)
	}
	cfg, err := a.settled(ctx, fn)
	if err != nil {
		return err
	}
	res := &DeployCodeResult{Function: fn, Package: what, Runtime: runtime, Handler: handler, CodeSha256: aws.ToString(out.CodeSha256)}
	if !isNode(runtime) {
		res.Handler = ""
	}
	if cfg != nil && aws.ToString(cfg.CodeSha256) != "" {
		res.CodeSha256 = aws.ToString(cfg.CodeSha256)
	}
	if next, err := a.nextVersion(ctx, fn, res.CodeSha256); err == nil && next != "" {
		res.Promotion = promotion.ExecutionName(fn, next, res.CodeSha256)
	}
	if fn == local.HelloFunction {
		res.SmokeChecks = local.DefaultHello(a.g.endpoint).SmokeChecks
	}
	if a.g.json {
		return printJSON(a.env.Stdout, res)
	}
	w := a.env.Stdout
	fmt.Fprintf(w, "%s and made it %s's $LATEST (code %s)\n", what, fn, res.CodeSha256)
	if res.Handler != "" {
		fmt.Fprintf(w, "runtime:  %s, handler %s\n", res.Runtime, res.Handler)
	}
	if fn == local.HelloFunction {
		// The dev stage of hello's API serves $LATEST on its root resource,
		// the one resource the API defines.
		fmt.Fprintf(w, "try it:   curl %s/dev/\n", a.g.endpoint)
	}
	if len(res.SmokeChecks) > 0 {
		fmt.Fprintf(w, "the promotion's smoke checks, run against stg once released:\n")
		for _, sc := range res.SmokeChecks {
			fmt.Fprintf(w, "  - %s\n", describeSmoke(sc))
		}
	}
	fmt.Fprintf(w, "release it:  aliasflow release %s --commit $(git rev-parse --short HEAD)\n", fn)
	if res.Promotion != "" {
		fmt.Fprintf(w, "then:        aliasflow watch %s\n", res.Promotion)
	}
	if fn == local.HelloFunction {
		// A canary is judged on evidence: without calls (or health.probes)
		// its verdict waits, and watch says for how many.
		fmt.Fprintf(w, "while it bakes, send prod traffic — the verdict needs calls of the new version:\n")
		fmt.Fprintf(w, "             for i in $(seq 600); do curl -s %s/production/ >/dev/null; done\n", a.g.endpoint)
	}
	return nil
}

// packageCode makes the deployment package deploy-code uploads, and says
// in words what it made: a .zip as it is, a Node.js directory zipped, or a
// Go package built for this machine as the bootstrap.
func packageCode(ctx context.Context, runtime, pkg, ldflags string) ([]byte, string, error) {
	if strings.HasSuffix(pkg, ".zip") {
		if ldflags != "" {
			return nil, "", usageError("--ldflags builds a Go package; %s is a deployment package already", pkg)
		}
		b, err := os.ReadFile(pkg)
		if err != nil {
			return nil, "", fail(ExitUsage, "give the path of a .zip deployment package", "read %s: %v", pkg, err)
		}
		if _, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err != nil {
			return nil, "", fail(ExitUsage, "give a .zip deployment package", "%s is not a zip archive: %v", pkg, err)
		}
		return b, "uploaded " + pkg, nil
	}
	if isNode(runtime) {
		if ldflags != "" {
			return nil, "", usageError("--ldflags builds a Go package; a %s function's code is a directory", runtime)
		}
		if pkg == "" {
			pkg = "./examples/hello-node"
		}
		if fi, err := os.Stat(pkg); err != nil || !fi.IsDir() {
			return nil, "", fail(ExitUsage, "give the directory of the handler's code (node_modules included), or a .zip",
				"%s is not a directory (a %s function's code is one)", pkg, runtime)
		}
		b, err := sandboxlambda.ZipDir(pkg)
		if err != nil {
			return nil, "", err
		}
		return b, "zipped " + pkg, nil
	}
	if pkg == "" {
		pkg = "./examples/hello"
	}
	dir, err := os.MkdirTemp("", "aliasflow-deploy-code-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	bootstrap := filepath.Join(dir, "bootstrap")
	flags := "-s -w"
	if ldflags != "" {
		flags += " " + ldflags
	}
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", flags, "-o", bootstrap, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, "", &Error{Code: ExitFailure, Err: fmt.Errorf("go build %s: %v\n%s", pkg, err, strings.TrimSpace(string(out))),
			Hint: "give a Go main package that calls lambda.Start, from the repository root (for a Node.js function: --runtime " + runtimeNode + ")"}
	}
	data, err := os.ReadFile(bootstrap)
	if err != nil {
		return nil, "", err
	}
	b, err := sandboxlambda.ZipBootstrap(data)
	if err != nil {
		return nil, "", err
	}
	return b, "built " + pkg, nil
}

// isNode reports a Node.js runtime.
func isNode(runtime string) bool { return runtime == runtimeNode || runtime == runtimeNode22 }

// describeSmoke says in one line what a smoke check expects.
func describeSmoke(sc config.SmokeCheck) string {
	var what []string
	switch {
	case sc.HTTP != nil:
		status := sc.HTTP.ExpectStatus
		if status == 0 {
			status = 200
		}
		what = append(what, fmt.Sprintf("GET %s answers %d", sc.HTTP.URL, status))
		if sc.HTTP.BodyContains != "" {
			what = append(what, fmt.Sprintf("with a body containing %q", sc.HTTP.BodyContains))
		}
	case sc.Invoke != nil:
		what = append(what, "invoking stg")
		for k, v := range sc.Invoke.JSONEquals {
			what = append(what, fmt.Sprintf("answers %s = %v", k, v))
		}
		if sc.Invoke.BodyContains != "" {
			what = append(what, fmt.Sprintf("with a body containing %q", sc.Invoke.BodyContains))
		}
	}
	return sc.Name + ": " + strings.Join(what, " ")
}

// settled waits until $LATEST of fn has no code update in progress.
func (a *app) settled(ctx context.Context, fn string) (*lambda.GetFunctionConfigurationOutput, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	deadline := a.env.Now().Add(releaseSettleMax)
	for {
		cfg, err := c.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn)})
		if err != nil {
			if awserr.Code(err) == awserr.NotFound {
				return nil, a.noSuchFunction(ctx, fn, "check the function name")
			}
			return nil, fmt.Errorf("read $LATEST of %s: %w", fn, err)
		}
		switch cfg.LastUpdateStatus {
		case lambdatypes.LastUpdateStatusFailed:
			return nil, fail(ExitFailure, "fix the code and deploy it again", "the code update of %s failed: %s", fn, aws.ToString(cfg.LastUpdateStatusReason))
		case lambdatypes.LastUpdateStatusInProgress:
		default:
			return cfg, nil
		}
		if a.env.Now().After(deadline) {
			return nil, fail(ExitConflict, "try again in a moment", "$LATEST of %s is still being updated after %s", fn, releaseSettleMax)
		}
		if err := a.env.Sleep(ctx, releaseSettlePoll); err != nil {
			return nil, err
		}
	}
}

// isLoopback reports whether an endpoint URL names this machine.
func isLoopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
