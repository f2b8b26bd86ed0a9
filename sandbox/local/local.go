// Package local stands up the whole aliasflow world on the sandbox: the four
// pipeline Lambdas and the sample `hello` function running as their real
// bootstrap binaries, the promotion state machine, the EventBridge rules,
// the approval topic, the link-key secret, the health alarm and the API
// Gateway stages. `aliasflow local`, `make demo` and the end-to-end tests
// all rehearse a promotion on it.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/sandbox/apigw"
	"github.com/aliasflow/aliasflow/sandbox/codebuild"
	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/iam"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/quota"
	snssvc "github.com/aliasflow/aliasflow/sandbox/sns"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/release"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// Names of what the world deploys (the same names the CDK app uses).
const (
	ReleaseFunction   = deploy.ReleaseFunction
	SmokeTestFunction = deploy.SmokeTestFunction
	ApprovalFunction  = deploy.ApprovalFunction
	ShiftFunction     = deploy.ShiftFunction
	ReconcileFunction = deploy.ReconcileFunction
	HelloFunction     = "hello"
	StateMachineName  = deploy.StateMachine
	TopicName         = deploy.ApprovalTopic
	LinkSecretName    = deploy.LinkSecret
	PipelineLogGroup  = deploy.PipelineLogGroup
	HelloProject      = "aliasflow-hello"
	// ApprovalStage and ApprovalAPI are the approval API's stage and id as
	// the CDK app deploys them (its RestApi's Name stands for the id AWS
	// makes up): the approval function's resource-based policy lets API
	// Gateway invoke it for that API's stage only.
	ApprovalStage = "v1"
	ApprovalAPI   = "aliasflow-approval"
	// HelloAPI is hello's REST API's id as the CDK app's sample stack
	// deploys it (its RestApi's Name, "hello"): hello's aliases let API
	// Gateway invoke them for that API's stages only.
	HelloAPI = "hello"
	// CodeBuildRule is named as the target construct names hello's build
	// rule (infra/aliasflow BuildRulePrefix + the function): the release
	// function's resource-based policy lets EventBridge invoke it for that
	// rule's ARN only.
	CodeBuildRule = "aliasflow-build-" + HelloFunction
	ReleaseRule   = deploy.ReleaseRequestedRule
	// SettingsChangedRule delivers the CloudTrail records of settings
	// writes to the release Lambda (settings.changed).
	SettingsChangedRule = deploy.SettingsChangedRule
	// PipelineTag is the tag every target function carries, valued with the
	// pipeline's name: the pipeline's roles are scoped by it (ABAC).
	PipelineTag  = deploy.PipelineTag
	PipelineName = deploy.DefaultPipelineName
)

// HelloAlarm is hello's prod errors alarm, named as the target construct
// names it.
var HelloAlarm = deploy.ProdErrorsAlarm(HelloFunction)

// HelloStages are the sample app's stages and the alias each serves.
var HelloStages = map[string]string{"dev": "dev", "staging": "stg", "production": "prod"}

// Options configure Start.
type Options struct {
	// Addr is the sandbox's listen address (loopback); "127.0.0.1:0" when
	// empty.
	Addr string
	// BinDir holds <function>/bootstrap for release, smoketest, approval,
	// shift and hello, built for this machine (make build-local: dist/local).
	BinDir string
	// StateDir, when set, keeps the world across restarts.
	StateDir string
	// WorkDir holds unpacked code; a temporary directory when empty.
	WorkDir string
	// Log receives the sandbox's diagnostics and every approval e-mail.
	Log io.Writer
	// Hello returns hello's promotion settings given the sandbox endpoint;
	// DefaultHello when nil.
	Hello func(endpoint string) *config.Target
	// HelloNode, when set, is a directory of Node.js code (examples/hello-node)
	// hello runs instead of its Go bootstrap: the world creates hello as a
	// nodejs20.x function (handler index.handler) with that code, zipped —
	// the world of a team whose functions run on Node.js. Its settings
	// (Hello) should then read the Node.js runtime's error lines
	// (health.logRuntime nodejs).
	HelloNode string
	// HelloRuntime is hello's Node.js runtime with HelloNode:
	// HelloNodeRuntime (nodejs20.x) when empty, or nodejs22.x.
	HelloRuntime string
	// Approvers overrides DefaultHello's approvers.
	Approvers []string
	// Merger is who merges in Merge ("developer@example.com" when empty).
	Merger string
	// LambdaUpdateDuration: see sandbox.Options.
	LambdaUpdateDuration time.Duration
	// LambdaPublishDuration: see sandbox.Options.
	LambdaPublishDuration time.Duration
	// EventRetryDelays: see sandbox.Options.
	EventRetryDelays []time.Duration
	// MetricDelay: see sandbox.Options (the AWS-like default when zero).
	MetricDelay time.Duration
	// Quotas: see sandbox.Options (none enforced when nil).
	Quotas quota.Limits
	// Templates is the directory of the CDK app's synthesized templates
	// (*.template.json: make build-local synthesizes them into
	// BinDir/templates, the default; `make synth` into cdk.out) the world is
	// created from. The sandbox evaluates every call a pipeline Lambda makes
	// against its role's policies there, answering AccessDenied as AWS would.
	Templates string
	// Schedules replaces the rate of the templates' EventBridge Scheduler
	// schedules by name (the template's when absent or 0); NoSchedule
	// holds one. A test shortens a rate here, never in the template.
	Schedules map[string]time.Duration
	// Existing creates what the account already holds before the deploy:
	// the functions of a targets file (-c targetsFile=…), which the
	// pipeline stack imports by name and publishes a first version of,
	// deployed by another tool. Called once, on a fresh world, after the
	// sandbox starts and before the templates are applied.
	Existing func(ctx context.Context, sb *sandbox.Sandbox) error
}

// DefaultApprover is the one approver of DefaultHello.
const DefaultApprover = "approver@example.com"

// SandboxUserARN is the principal the sandbox names for the access key
// "test" (the CLI's and the tests' credentials).
const SandboxUserARN = "arn:aws:iam::" + core.Account + ":user/test"

// SandboxApproval is the approval policy of a sandbox target: the CLI's
// caller in the sandbox (the access key "test", which the sandbox's STS
// names user/test) decides as approver; it is also who releases there, a
// one-person world, so separation of duties is off.
func SandboxApproval(approver string) config.Approval {
	off := false
	return config.Approval{Principals: map[string][]string{approver: {SandboxUserARN}}, DistinctFromReleaser: &off}
}

// DefaultHello is hello's promotion in the world: smoke-test stg by invoke
// and over the staging stage, one approver, a 10% canary baked for 10 s
// while the error rate and the alarm are watched.
func DefaultHello(endpoint string) *config.Target {
	t := &config.Target{
		Function:          HelloFunction,
		CodeBuildProjects: []string{HelloProject},
		Strategy:          config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 10},
		SmokeChecks: []config.SmokeCheck{
			{Name: "invoke-stg", Invoke: &config.InvokeCheck{
				Payload:      json.RawMessage(`{"httpMethod":"GET","path":"/","requestContext":{"stage":"staging"}}`),
				JSONEquals:   map[string]any{"statusCode": float64(200)},
				BodyContains: "Hello from Lambda",
			}},
			{Name: "staging-http", HTTP: &config.HTTPCheck{URL: endpoint + "/staging/", BodyContains: "Hello from Lambda"}},
		},
		Approvers:              []string{DefaultApprover},
		ApprovalTimeoutSeconds: 3600,
		Approval:               SandboxApproval(DefaultApprover),
		// A 10 s canary ends long before Lambda's metrics are readable: it
		// is judged on the versions' log streams (the fresh signal), which
		// see a handled error only by the runtime's own error line — hello
		// is an aws-lambda-go function.
		Health: config.Health{Alarms: []string{HelloAlarm}, MaxErrorRate: 0.05, WindowSeconds: 60,
			FreshSignal: config.FreshSignalLogs, LogRuntime: config.LogRuntimeGo},
	}
	t.ApplyDefaults()
	return t
}

// World is the running world.
type World struct {
	opts   Options
	sb     *sandbox.Sandbox
	target *config.Target
	smARN  string
	// schedules are the templates' schedules the world runs (schedule.go),
	// scheduler runs them, fired counts their invocations.
	schedules []schedule
	scheduler *scheduler
	mu        sync.Mutex
	fired     map[string]int
}

// Start starts the sandbox and deploys the world on it; with a StateDir
// that already holds a world, it resumes that one.
func Start(ctx context.Context, opts Options) (*World, error) {
	if opts.BinDir == "" {
		return nil, errors.New("local: BinDir is required (build it with `make build-local`: dist/local)")
	}
	for _, fn := range []string{"release", "smoketest", "approval", "shift", "reconcile", "hello"} {
		if _, err := os.Stat(filepath.Join(opts.BinDir, fn, "bootstrap")); err != nil {
			return nil, fmt.Errorf("local: %s/bootstrap is missing in %s (run `make build-local`): %w", fn, opts.BinDir, err)
		}
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Merger == "" {
		opts.Merger = "developer@example.com"
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	var marker *worldMarker
	if opts.StateDir != "" {
		m, err := readMarker(opts.StateDir)
		if err != nil {
			return nil, err
		}
		marker = m
		if marker != nil && strings.HasSuffix(opts.Addr, ":0") {
			// The deployed functions and the state machine name the endpoint:
			// a resumed world listens where it did before.
			opts.Addr = strings.TrimPrefix(marker.Endpoint, "http://")
		}
	}
	sb, err := sandbox.Start(ctx, sandbox.Options{
		Addr: opts.Addr, WorkDir: opts.WorkDir, StateDir: opts.StateDir,
		Logger:                slog.New(slog.NewTextHandler(opts.Log, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Mail:                  opts.Log,
		LambdaUpdateDuration:  opts.LambdaUpdateDuration,
		LambdaPublishDuration: opts.LambdaPublishDuration,
		EventRetryDelays:      opts.EventRetryDelays,
		MetricDelay:           opts.MetricDelay,
		Quotas:                opts.Quotas,
	})
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	w := &World{opts: opts, sb: sb}
	if marker != nil && marker.Endpoint != sb.Endpoint() {
		sb.Close()
		return nil, fmt.Errorf("local: the world in %s was deployed at %s; start it on that address (not %s)", opts.StateDir, marker.Endpoint, opts.Addr)
	}
	hello := DefaultHello
	if opts.Hello != nil {
		hello = opts.Hello
	}
	w.target = hello(sb.Endpoint())
	if w.target == nil {
		sb.Close()
		return nil, errors.New("local: Options.Hello returned no target")
	}
	if len(opts.Approvers) > 0 {
		w.target.Approvers = opts.Approvers
		// The CLI's caller decides as the first of them.
		w.target.Approval = SandboxApproval(opts.Approvers[0])
	}
	if err := w.target.Validate("hello"); err != nil {
		sb.Close()
		return nil, fmt.Errorf("local: hello's settings: %w", err)
	}
	templates, err := iam.ReadDir(w.templatesDir())
	if err != nil {
		sb.Close()
		return nil, fmt.Errorf("local: the world's templates (make build-local synthesizes them): %w", err)
	}
	if opts.Existing != nil && marker == nil {
		if err := opts.Existing(ctx, sb); err != nil {
			sb.Close()
			return nil, fmt.Errorf("local: what exists before the deploy: %w", err)
		}
	}
	if err := w.deploy(ctx, templates, marker != nil); err != nil {
		sb.Close()
		return nil, fmt.Errorf("local: deploy: %w", err)
	}
	// Loaded after the deploy: a secret's ARN is the one the sandbox gave it.
	set, err := iam.Load(templates, sb.IAMEnv())
	if err != nil {
		sb.Close()
		return nil, fmt.Errorf("local: %w", err)
	}
	sb.EnableIAM(set)
	w.fired = map[string]int{}
	w.startSchedules(set)
	if opts.StateDir != "" && marker == nil {
		if err := writeMarker(opts.StateDir, worldMarker{Endpoint: sb.Endpoint()}); err != nil {
			w.stopSchedules()
			sb.Close()
			return nil, err
		}
	}
	return w, nil
}

// worldMarker records, in the StateDir, that a world was deployed there.
type worldMarker struct {
	Endpoint string `json:"endpoint"`
}

func readMarker(dir string) (*worldMarker, error) {
	b, err := os.ReadFile(filepath.Join(dir, "world.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	var m worldMarker
	if err := json.Unmarshal(b, &m); err != nil || m.Endpoint == "" {
		return nil, fmt.Errorf("local: %s/world.json is not a world marker: %v", dir, err)
	}
	return &m, nil
}

func writeMarker(dir string, m worldMarker) error {
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "world.json"), b, 0o644); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

func (w *World) zip(dir string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(w.opts.BinDir, dir, "bootstrap"))
	if err != nil {
		return nil, err
	}
	return lambdasvc.ZipBootstrap(data)
}

// templatesDir is where the world's templates are.
func (w *World) templatesDir() string {
	if w.opts.Templates != "" {
		return w.opts.Templates
	}
	return filepath.Join(w.opts.BinDir, "templates")
}

// deploy creates the world from the templates (deploy.go). resumed: the
// StateDir held a world, so what exists is kept and only the pipeline's
// code, configuration and settings are refreshed.
func (w *World) deploy(ctx context.Context, templates map[string][]byte, resumed bool) error {
	stacks, err := iam.Parse(templates, w.sb.IAMEnv())
	if err != nil {
		return err
	}
	d := &deployment{ctx: ctx, w: w, resumed: resumed, versions: map[string]string{}, apis: map[string]apigw.API{},
		targets: map[string]string{}, topics: map[string]string{}, subscribed: map[string][]string{}}
	if err := d.apply(stacks); err != nil {
		return err
	}
	if resumed {
		w.smARN = fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", core.Region, core.Account, StateMachineName)
	}
	return nil
}

// projects are the CodeBuild projects whose builds release hello.
func (w *World) projects() []string {
	if len(w.target.CodeBuildProjects) == 0 {
		return []string{HelloProject}
	}
	return w.target.CodeBuildProjects
}

// waitSettled waits until a function's create or update has finished, or,
// with a version as qualifier, until the published version is Active.
func (w *World) waitSettled(ctx context.Context, name string, qualifier ...string) error {
	for {
		c, err := w.sb.Lambda().GetFunctionConfiguration(name, strings.Join(qualifier, ""))
		if err != nil {
			return err
		}
		if c.State == "Active" && c.LastUpdateStatus == "Successful" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Endpoint is the sandbox's URL (AWS_ENDPOINT_URL / --endpoint-url).
func (w *World) Endpoint() string { return w.sb.Endpoint() }

// Sandbox gives the services' Go APIs.
func (w *World) Sandbox() *sandbox.Sandbox { return w.sb }

// Target is hello's promotion settings as deployed.
func (w *World) Target() config.Target { return *w.target }

// StateMachineARN is the promotion state machine's ARN.
func (w *World) StateMachineARN() string { return w.smARN }

// ApprovalURL is the approval API's URL (the state machine's ApprovalUrl).
func (w *World) ApprovalURL() string { return w.sb.Endpoint() + "/" + ApprovalStage }

// StageURL is the URL of hello on a stage (dev, staging, production): the
// stage's root resource, hello's API's one resource, as the CDK app's
// outputs give it (https://<api>.execute-api.<region>.amazonaws.com/<stage>/).
func (w *World) StageURL(stage string) string { return w.sb.Endpoint() + "/" + stage + "/" }

// DeployHello makes the bootstrap at path hello's $LATEST code, as a build
// would with UpdateFunctionCode, and returns its CodeSha256.
func (w *World) DeployHello(ctx context.Context, bootstrap string) (string, error) {
	data, err := os.ReadFile(bootstrap)
	if err != nil {
		return "", fmt.Errorf("deploy hello: %w", err)
	}
	zip, err := lambdasvc.ZipBootstrap(data)
	if err != nil {
		return "", fmt.Errorf("deploy hello: %w", err)
	}
	if err := w.waitSettled(ctx, HelloFunction); err != nil {
		return "", err
	}
	c, err := w.sb.Lambda().UpdateFunctionCode(HelloFunction, lambdasvc.UpdateFunctionCodeInput{ZipFile: zip})
	if err != nil {
		return "", fmt.Errorf("deploy hello: %w", err)
	}
	return c.CodeSha256, nil
}

// Merge simulates the merge: the sandbox CodeBuild runs a SUCCEEDED build
// of hello that exported the code hash and commit, and emits its own
// "Build State Change" event.
func (w *World) Merge(ctx context.Context, codeSha256, commit string) error {
	_, err := w.MergeBuild(ctx, codeSha256, commit)
	return err
}

// MergeBuild is Merge, returning the CodeBuild build id ("project:uuid").
func (w *World) MergeBuild(ctx context.Context, codeSha256, commit string) (string, error) {
	b, err := w.RunBuild(ctx, codeSha256, commit, MergeOptions{})
	return b.ID, err
}

// MergeOptions vary the build of a merge.
type MergeOptions struct {
	// EventWithoutExported: the build's state-change event lacks the
	// exported variables, so the release Lambda reads them with
	// BatchGetBuilds.
	EventWithoutExported bool
	// Title and Author, when set, are exported as the change's title and
	// author (ALIASFLOW_TITLE, ALIASFLOW_AUTHOR), as a CI sets them from
	// the commit.
	Title, Author string
}

// Build is a build the sandbox CodeBuild ran for a merge.
type Build struct {
	// ID is the build id ("project:uuid").
	ID string
	// EventID is the id of its "Build State Change" event.
	EventID string
}

// RunBuild has the sandbox CodeBuild run the build of a merge of hello at
// commit, exporting codeSha256 (the CI's buildspec exported-variables).
func (w *World) RunBuild(_ context.Context, codeSha256, commit string, o MergeOptions) (Build, error) {
	exported := []codebuild.EnvironmentVariable{
		{Name: release.VarFunction, Value: HelloFunction},
		{Name: release.VarCodeSha256, Value: codeSha256},
		{Name: release.VarCommit, Value: commit},
		{Name: release.VarRequestedBy, Value: w.opts.Merger},
	}
	if o.Title != "" {
		exported = append(exported, codebuild.EnvironmentVariable{Name: release.VarTitle, Value: o.Title})
	}
	if o.Author != "" {
		exported = append(exported, codebuild.EnvironmentVariable{Name: release.VarAuthor, Value: o.Author})
	}
	b, eventID, err := w.sb.CodeBuild().RunBuild(codebuild.RunInput{
		Project: w.projects()[0], SourceVersion: commit, Initiator: w.opts.Merger,
		Exported: exported, EventWithoutExported: o.EventWithoutExported,
	})
	if err != nil {
		return Build{}, fmt.Errorf("merge: %w", err)
	}
	return Build{ID: b.ID, EventID: eventID}, nil
}

// ConfirmSubscriptions confirms the approvers' pending e-mail
// subscriptions as each approver would: by following, over HTTP, the link
// of the confirmation e-mail SNS sent them. Until then SNS delivers them
// nothing (their subscriptions are PendingConfirmation). It returns the
// addresses confirmed.
func (w *World) ConfirmSubscriptions(ctx context.Context) ([]string, error) {
	var confirmed []string
	client := awsenv.LoopbackOnlyClient()
	for _, c := range w.sb.SNS().PendingConfirmations() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
		if err != nil {
			return confirmed, fmt.Errorf("confirm %s: %w", c.Endpoint, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return confirmed, fmt.Errorf("confirm %s: follow %s: %w", c.Endpoint, c.URL, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return confirmed, fmt.Errorf("confirm %s: %s answered %s: %s", c.Endpoint, c.URL, resp.Status, strings.TrimSpace(string(body)))
		}
		confirmed = append(confirmed, c.Endpoint)
	}
	return confirmed, nil
}

// ConfirmSubscriptionsProtected confirms the approvers' pending e-mail
// subscriptions as docs/deploy.md has an operator do it: a signed
// ConfirmSubscription with the confirmation mail's token and
// AuthenticateOnUnsubscribe "true", so that the unsubscribe link of the
// approval mails cannot remove them. It returns the addresses confirmed.
func (w *World) ConfirmSubscriptionsProtected(ctx context.Context) ([]string, error) {
	client := sns.NewFromConfig(aws.Config{
		Region:       core.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("aliasflow-local-operator", "local", ""),
		HTTPClient:   awsenv.LoopbackOnlyClient(),
		BaseEndpoint: aws.String(w.Endpoint()),
	})
	var confirmed []string
	for _, c := range w.sb.SNS().PendingConfirmations() {
		if _, err := client.ConfirmSubscription(ctx, &sns.ConfirmSubscriptionInput{TopicArn: aws.String(c.TopicArn),
			Token: aws.String(c.Token), AuthenticateOnUnsubscribe: aws.String("true")}); err != nil {
			return confirmed, fmt.Errorf("confirm %s: %w", c.Endpoint, err)
		}
		confirmed = append(confirmed, c.Endpoint)
	}
	return confirmed, nil
}

// Email is one approval e-mail the topic delivered.
type Email struct {
	To      string
	Subject string
	Body    string
	At      time.Time
}

// Emails returns the e-mails delivered so far, oldest first.
func (w *World) Emails() []Email {
	var out []Email
	for _, m := range w.sb.SNS().Outbox() {
		if m.Endpoint == "" {
			continue
		}
		out = append(out, emailOf(m))
	}
	return out
}

func emailOf(m snssvc.Message) Email {
	return Email{To: m.Endpoint, Subject: m.Subject, Body: m.Message, At: m.Time}
}

// WaitEmail waits for the first e-mail to `to` at outbox index ≥ from and
// returns it with its index.
func (w *World) WaitEmail(ctx context.Context, from int, to string) (Email, int, error) {
	m, i, err := w.sb.SNS().Wait(ctx, from, func(m snssvc.Message) bool { return m.Endpoint == to })
	if err != nil {
		return Email{}, 0, err
	}
	return emailOf(m), i, nil
}

// SetAlarm sets an alarm's state (OK, ALARM, INSUFFICIENT_DATA).
func (w *World) SetAlarm(name, state, reason string) error {
	return w.sb.CloudWatch().SetAlarmState(name, state, reason, "")
}

// Close stops the world (saving it when it has a StateDir).
func (w *World) Close() error {
	w.stopSchedules()
	return w.sb.Close()
}
