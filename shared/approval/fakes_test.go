package approval_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	ssmsvc "github.com/aliasflow/aliasflow/sandbox/ssm"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/audit/audittest"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/fakes/lambdafake"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/pending/pendingtest"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

var (
	_ approval.StepFunctions = (*pendingtest.SFN)(nil)
	_ approval.Publisher     = (*fakeSNS)(nil)
	_ approval.Aliases       = (*lambdafake.Fake)(nil)
	_ approval.SecretsAPI    = (*fakeSecrets)(nil)
)

// fakeSNS is an outbox: every Publish is kept.
type fakeSNS struct {
	mu   sync.Mutex
	sent []*sns.PublishInput
	fail error
	// failFrom fails every Publish once failFrom messages went out (0: never).
	failFrom int
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	if f.failFrom > 0 && len(f.sent) >= f.failFrom {
		return nil, errors.New("sns: internal error")
	}
	f.sent = append(f.sent, in)
	return &sns.PublishOutput{MessageId: aws.String("msg-" + string(rune('a'+len(f.sent))))}, nil
}

// fakeSecrets holds secrets by id (a version stage other than AWSCURRENT
// as id@STAGE) and counts reads.
type fakeSecrets struct {
	mu      sync.Mutex
	secrets map[string]string
	reads   int
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	id := aws.ToString(in.SecretId)
	if st := aws.ToString(in.VersionStage); st != "" && st != "AWSCURRENT" {
		id += "@" + st // e.g. "aliasflow/link-key@AWSPREVIOUS"
	}
	s, ok := f.secrets[id]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(s), Name: in.SecretId}, nil
}

// Fixture values.
const (
	testKey     = "k3y-for-tests-only-0123456789abcdef"
	taskToken   = "AQCEAAAAKgAAAAMAAAAAAAAAAUl1Sexb6t3sM0X+uH3ym2Nq8NpS0wZ4Qbc2cEhd1yq=="
	approvalURL = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1/"
	alice       = "alice@example.com"
	bob         = "bob@example.com"
)

var (
	execARN = pendingtest.ExecutionARN("hello-v7-5a1e0c3d")
	entered = time.Date(2026, 11, 21, 6, 0, 5, 0, time.UTC)
	now0    = entered.Add(10 * time.Minute)
)

func testState() promotion.State {
	return promotion.State{
		Input: promotion.Input{
			Function: "hello", Version: "7", PreviousStgVersion: "6",
			Release: promotion.Release{
				Commit: "9f2c1e4b7a", Build: "hello-build:0b6f2a4e", CodeSha256: "Wl7kT1tLGVtT4nQo2rXKGqX5CkSx3vYH9mX8cWm7QxE=",
				RequestedBy: "dana@example.com", Source: "codebuild",
			},
			Target: config.Target{
				Function: "hello", Strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 300},
				Approvers: []string{alice, bob}, ApprovalTimeoutSeconds: 3600,
			},
			Steps: []promotion.Step{{Weight: 0.1, BakeSeconds: 300}},
		},
		Smoke: &promotion.SmokeResult{Passed: true, Checks: []promotion.CheckResult{
			{Name: "greets", Passed: true, LatencyMs: 41, Attempts: 1, Detail: `body contains "Hello from Lambda World"`},
			{Name: "status-200", Passed: true, LatencyMs: 87, Attempts: 2, Detail: "HTTP 200"},
		}},
	}
}

// env is one handler wired to fakes, with its logs, metrics and clock.
type env struct {
	h       *approval.Handler
	sfn     *pendingtest.SFN
	sns     *fakeSNS
	bus     *audittest.Bus
	secrets *fakeSecrets
	// settings are the targets' current settings: hello's as the
	// waiting promotion found them, unless a test changes them.
	settings *fakeSettings
	logs     *bytes.Buffer
	metrics  *bytes.Buffer
	now      time.Time
	// tally counts approvals in the sandbox's Parameter Store, through
	// the real SDK client (its conditional write is what the count rests on).
	tally approval.ParameterTally
}

// approvalsPath is where the tests' partial approvals are kept.
const approvalsPath = "/aliasflow/aliasflow/approvals/"

// parameterStore is the sandbox's Parameter Store behind a loopback server.
func parameterStore(t *testing.T) *ssm.Client {
	t.Helper()
	srv := httptest.NewServer(ssmsvc.New(nil))
	t.Cleanup(srv.Close)
	return ssm.New(ssm.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the waiting execution changed by tune.
func newEnvWith(t *testing.T, tune func(*pendingtest.Waiting)) *env {
	t.Helper()
	e := &env{
		sfn:      pendingtest.New(),
		sns:      &fakeSNS{},
		bus:      &audittest.Bus{},
		secrets:  &fakeSecrets{secrets: map[string]string{"aliasflow/link-key": testKey}},
		settings: &fakeSettings{targets: map[string]config.Target{}},
		logs:     &bytes.Buffer{},
		metrics:  &bytes.Buffer{},
		now:      now0,
	}
	e.tally = approval.ParameterTally{Client: parameterStore(t), Path: approvalsPath}
	e.sfn.PageSize = 3 // read the history over several pages
	w := pendingtest.Waiting{ARN: execARN, State: testState(), Token: taskToken, EnteredTime: entered, ApprovalURL: approvalURL}
	if tune != nil {
		tune(&w)
	}
	e.sfn.AddWaiting(w)
	e.settings.set(w.State.Target)
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	clock := func() time.Time { return e.now }
	e.h = approval.New(e.sfn, e.sns, lambdaWith(map[string]string{"prod": "6", "stg": "7"}, nil), approval.NewSecretKey(e.secrets, "aliasflow/link-key"),
		audit.New(log, e.bus, &audit.Options{Now: clock}), metrics.New(e.metrics, clock),
		&approval.Options{Log: log, TopicARN: "arn:aws:sns:us-east-1:000000000000:aliasflow-approvals", Now: clock, Settings: e.settings, Tally: e.tally})
	return e
}

// fakeSettings holds the targets' current settings.
type fakeSettings struct {
	mu      sync.Mutex
	targets map[string]config.Target
}

func (f *fakeSettings) Target(_ context.Context, function string) (config.Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.targets[function]
	if !ok {
		return config.Target{}, fmt.Errorf("function %q is %w", function, config.ErrNotConfigured)
	}
	return t, nil
}

// set replaces a target's current settings.
func (f *fakeSettings) set(t config.Target) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targets[t.Function] = t
}

// link signs a link for approver with the test key.
func link(t *testing.T, key, execution, approver string, expires time.Time) string {
	t.Helper()
	l, err := approval.Sign([]byte(key), approval.Claims{Execution: execution, Approver: approver, IssuedAt: entered.Unix(), ExpiresAt: expires.Unix(), Nonce: "bm9uY2Utbm9uY2Utbm9uY2U"})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// lambdaWith is function hello with versions 1–7 and the aliases given
// (name → version), prod weighted to a second version when prodWeights is
// set.
func lambdaWith(aliases map[string]string, prodWeights map[string]float64) *lambdafake.Fake {
	f := lambdafake.New()
	f.AddFunction("hello", "c2hhLW9mLWhlbGxv", 7)
	for name, v := range aliases {
		var w map[string]float64
		if name == "prod" {
			w = prodWeights
		}
		f.SetAlias("hello", name, v, w)
	}
	return f
}
