package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/awsconfig"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/config"
	awsconfigv2 "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// The names the world and the pipeline use.
const (
	fn           = "hello"
	buildProject = local.HelloProject
	stateMachine = "aliasflow-promotion"
	pipelineLogs = "/aliasflow/pipeline"
	approver     = "approver@example.com"
	oncall       = "oncall@example.com"
	requester    = "ana@example.com"
)

var prodAlarm = local.HelloAlarm

// Deadlines of the waits. They are generous because the machine is shared;
// a passing run is much faster.
const (
	startTimeout = 60 * time.Second
	stepTimeout  = 60 * time.Second
)

// helloTarget is hello's promotion settings in the scenarios: fast (short
// bakes, a short smoke retry backoff), smoke checks through both an invoke
// of stg and the staging stage, two approvers, and a health check on the
// world's prod alarm and the new version's error rate.
func helloTarget(endpoint string) config.Target {
	t := config.Target{
		Function:          fn,
		CodeBuildProjects: []string{buildProject},
		Strategy:          config.StrategyConfig{Type: config.AllAtOnce},
		SmokeChecks: []config.SmokeCheck{
			{
				Name: "invoke stg",
				Invoke: &config.InvokeCheck{
					Payload:      json.RawMessage(`{"httpMethod":"GET","path":"/","requestContext":{"stage":"smoke"}}`),
					JSONEquals:   map[string]any{"statusCode": 200.0},
					BodyContains: greetingV1,
				},
			},
			{
				Name: "GET /staging/",
				HTTP: &config.HTTPCheck{URL: endpoint + "/staging/", ExpectStatus: 200, BodyContains: greetingV1},
			},
		},
		SmokeRetries:           1,
		Approvers:              []string{approver, oncall},
		ApprovalTimeoutSeconds: 300,
		// The scenarios' CLI calls are signed with the access key "test"
		// (user/test): it decides as oncall through the approval API.
		Approval: config.Approval{Principals: map[string][]string{oncall: {local.SandboxUserARN}}},
		// The sandbox publishes Lambda metrics minutes late, as AWS does
		// (its default delay, in every scenario): seconds-long steps are
		// judged on the versions' log streams. A step that saw too little
		// traffic to judge goes on (the scenarios that send none test other
		// things); one whose traffic shows the new version failing rolls back.
		Health: config.Health{
			Alarms:         []string{prodAlarm},
			MaxErrorRate:   0.2,
			MinInvocations: 5,
			WindowSeconds:  60,
			FreshSignal:    config.FreshSignalLogs,
			LogRuntime:     config.LogRuntimeGo, // hello is an aws-lambda-go function
			OnInconclusive: config.OnInconclusivePromote,
		},
	}
	t.ApplyDefaults()
	return t
}

// scenario is one test's world and the clients that drive and inspect it.
type scenario struct {
	t      *testing.T
	ctx    context.Context
	w      *world
	ep     string
	target config.Target

	lambda *lambda.Client
	sfn    *sfn.Client
	logs   *cloudwatchlogs.Client
	events *eventbridge.Client
	cw     *cloudwatch.Client
	http   *http.Client

	// hello, stateDir and cdkOut are what the world is (re)started with;
	// expectDenials: IAM denials are what the test is about.
	hello         func(endpoint string) *config.Target
	stateDir      string
	cdkOut        string
	expectDenials bool
	restarted     bool
	// reconcileEvery is the reconciler's schedule's rate in the world; 0
	// holds it (startWorld).
	reconcileEvery time.Duration

	mu    sync.Mutex
	watch *aliasWatch
}

func (s *scenario) startWorld() *world {
	s.t.Helper()
	ctx, stop := context.WithTimeout(s.ctx, startTimeout)
	defer stop()
	began := time.Now()
	w, err := startWorld(ctx, s.t, s.hello, s.stateDir, s.cdkOut, s.expectDenials, s.reconcileEvery)
	if err != nil {
		s.t.Fatalf("start the world: %v", err)
	}
	s.t.Logf("world at %s started in %s", w.Endpoint(), time.Since(began).Round(time.Millisecond))
	return w
}

// world is the running world (restart replaces it).
func (s *scenario) world() *world {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w
}

// restart stops the world and starts it again from its state directory,
// as an operator restarting `aliasflow local --state-dir` does.
func (s *scenario) restart() {
	s.t.Helper()
	if s.stateDir == "" {
		s.t.Fatal("restart needs a world with a state directory")
	}
	if err := s.world().Close(); err != nil {
		s.t.Fatalf("close the world: %v", err)
	}
	w := s.startWorld()
	if w.Endpoint() != s.ep {
		s.t.Fatalf("the restarted world listens on %s, want %s as before", w.Endpoint(), s.ep)
	}
	s.mu.Lock()
	s.w, s.restarted = w, true
	s.mu.Unlock()
}

// newScenario starts a world whose hello target is helloTarget changed by
// tune, and the SDK clients pointed at it.
func newScenario(t *testing.T, tune func(*config.Target)) *scenario {
	t.Helper()
	return startScenario(t, tune, "")
}

// startScenario is newScenario with the world's state kept in stateDir
// ("" for none), so that the world can be restarted.
func startScenario(t *testing.T, tune func(*config.Target), stateDir string) *scenario {
	t.Helper()
	return startScenarioWith(t, tune, stateDir, cdkOut, false)
}

// startScenarioWith is startScenario with the world's IAM policies from
// the cloud assembly in assembly; expectDenials keeps the denials out of
// the run's unexpected ones.
func startScenarioWith(t *testing.T, tune func(*config.Target), stateDir, assembly string, expectDenials bool) *scenario {
	t.Helper()
	return startScheduledScenario(t, tune, stateDir, assembly, expectDenials, 0)
}

// startScheduledScenario is startScenarioWith in a world that runs the
// reconciler on its schedule, every reconcileEvery (0: held).
func startScheduledScenario(t *testing.T, tune func(*config.Target), stateDir, assembly string, expectDenials bool, reconcileEvery time.Duration) *scenario {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &scenario{t: t, ctx: ctx, stateDir: stateDir, cdkOut: assembly, expectDenials: expectDenials, reconcileEvery: reconcileEvery, http: &http.Client{Transport: awsenv.LoopbackOnlyClient().GetTransport(), Timeout: 30 * time.Second}}
	s.hello = func(endpoint string) *config.Target {
		target := helloTarget(endpoint)
		if tune != nil {
			tune(&target)
		}
		if target.Health.MaxBakeSeconds == config.DefaultMaxBakeSeconds && target.Strategy.Type != config.AllAtOnce {
			// No extensions unless a scenario asks: a step's verdict is
			// taken when its bake ends.
			target.Health.MaxBakeSeconds = target.Strategy.BakeSeconds + target.Strategy.IntervalSeconds
		}
		target.ApplyDefaults()
		s.target = target
		return &target
	}
	w := s.startWorld()
	s.w, s.ep = w, w.Endpoint()
	t.Cleanup(func() {
		if t.Failed() {
			s.dumpPipelineLogs()
		}
		s.recordExecutions()
		cancel() // nothing of the test may call the world while it closes
		if err := s.world().Close(); err != nil {
			t.Errorf("close the world: %v", err)
		}
	})
	cfg, err := awsconfig.Load(ctx,
		awsconfigv2.WithBaseEndpoint(s.ep),
		awsconfigv2.WithRegion("us-east-1"),
		awsconfigv2.WithHTTPClient(awsenv.LoopbackOnlyClient()),
		awsconfigv2.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		// The throttling scenario throttles these clients' Lambda calls too.
		awsconfigv2.WithRetryMaxAttempts(10),
	)
	if err != nil {
		t.Fatalf("sdk config: %v", err)
	}
	s.watch = s.watchAliases()
	s.lambda = lambda.NewFromConfig(cfg)
	s.sfn = sfn.NewFromConfig(cfg)
	s.logs = cloudwatchlogs.NewFromConfig(cfg)
	s.events = eventbridge.NewFromConfig(cfg)
	s.cw = cloudwatch.NewFromConfig(cfg)
	return s
}

// eventually calls cond until it returns nil or timeout passes, and fails
// the test with cond's last error then.
func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
