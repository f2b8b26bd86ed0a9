package approval_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	ssmsvc "github.com/aliasflow/aliasflow/sandbox/ssm"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/audit/audittest"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

var (
	_ approval.StepFunctions = (*answers)(nil)
	_ approval.Publisher     = (*fakeSNS)(nil)
	_ approval.Aliases       = (*lambda.Client)(nil)
	_ approval.SecretsAPI    = (*fakeSecrets)(nil)
)

// fakeSNS is an outbox: every Publish is kept.
type fakeSNS struct {
	mu   sync.Mutex
	sent []*sns.PublishInput
	fail error
	// failFrom fails every Publish once failFrom messages went out (0:
	// never), as SNS's InternalError (HTTP 500) reaches a caller once the
	// SDK's own retries are spent: an error the task's Retry matches
	// (aliasflow.Transient).
	failFrom int
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	if f.failFrom > 0 && len(f.sent) >= f.failFrom {
		return nil, &smithy.OperationError{ServiceID: "SNS", OperationName: "Publish", Err: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusInternalServerError}},
			Err:      &snstypes.InternalErrorException{Message: aws.String("Internal error")},
		}}
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

// sent is one accepted SendTaskSuccess or SendTaskFailure.
type sent struct {
	Token   string
	Success bool
	Output  string // SendTaskSuccess
	Error   string // SendTaskFailure
	Cause   string // SendTaskFailure
}

// answers is the handler's Step Functions client: the sandbox's, with the
// task answers it sent counted and the accepted ones kept. With stale set,
// a history read after the first accepted answer shows only the events the
// reads before it showed — a read that lags the answer, as when another
// decider wins the race between reading the history and answering.
type answers struct {
	*sfn.Client
	mu    sync.Mutex
	stale bool
	// Sent lists the accepted SendTask* calls, in order.
	Sent []sent
	// Calls counts the SendTask* calls per operation, accepted or not.
	Calls    map[string]int
	seen     map[string]int64 // by execution: the newest event id read before an answer
	answered bool
}

// historyPage caps every history page, so the handler reads the history
// over several.
const historyPage = 3

func (a *answers) GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, opts ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	paged := *in
	if paged.MaxResults == 0 || paged.MaxResults > historyPage {
		paged.MaxResults = historyPage
	}
	out, err := a.Client.GetExecutionHistory(ctx, &paged, opts...)
	if err != nil || !a.stale {
		return out, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	arn := aws.ToString(in.ExecutionArn)
	if !a.answered {
		for _, ev := range out.Events {
			a.seen[arn] = max(a.seen[arn], ev.Id)
		}
		return out, nil
	}
	c := *out
	c.Events = slices.DeleteFunc(slices.Clone(out.Events), func(ev sfntypes.HistoryEvent) bool { return ev.Id > a.seen[arn] })
	return &c, nil
}

func (a *answers) SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, opts ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	out, err := a.Client.SendTaskSuccess(ctx, in, opts...)
	a.record("SendTaskSuccess", err, sent{Token: aws.ToString(in.TaskToken), Success: true, Output: aws.ToString(in.Output)})
	return out, err
}

func (a *answers) SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, opts ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	out, err := a.Client.SendTaskFailure(ctx, in, opts...)
	a.record("SendTaskFailure", err, sent{Token: aws.ToString(in.TaskToken), Error: aws.ToString(in.Error), Cause: aws.ToString(in.Cause)})
	return out, err
}

func (a *answers) record(op string, err error, s sent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Calls[op]++
	if err == nil {
		a.Sent = append(a.Sent, s)
		a.answered = true
	}
}

// Fixture values.
const (
	testKey     = "k3y-for-tests-only-0123456789abcdef"
	taskToken   = "AQCEAAAAKgAAAAMAAAAAAAAAAUl1Sexb6t3sM0X+uH3ym2Nq8NpS0wZ4Qbc2cEhd1yq=="
	approvalURL = sandboxtest.ApprovalURL
	alice       = "alice@example.com"
	bob         = "bob@example.com"
)

var (
	execARN = sandboxtest.ExecutionARN("hello-v7-5a1e0c3d")
	// entered is when the promotion's RequestApproval began: the time
	// the sandbox's clock starts at.
	entered = sandboxtest.T0
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

// env is one handler wired to a promotion waiting on the sandbox's Step
// Functions and to fakes, with its logs, metrics and clock.
type env struct {
	h   *approval.Handler
	sb  *sandboxtest.Promotion
	sfn *answers
	// token is the waiting task's token.
	token   string
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

// waiting is the promotion a test's handler finds: execution execARN of
// the real definition, run on the sandbox to the task it waits in.
type waiting struct {
	// State is the execution's input, and the smoke test's result.
	State promotion.State
	// StateName is the state waiting for its token: RequestApproval, or
	// Bake (after an approval, the first step's weight set).
	StateName string
	// InFlight: RequestApproval's Lambda call has not returned (no
	// TaskSubmitted); the env's token is still that call's.
	InFlight bool
	// Request, when set, is the approval function the RequestApproval
	// task calls; by default it only returns (the token parked).
	Request func(e *env) sandboxtest.Handler
	// Step, with StateName Pause, is the kind of the plan's step held
	// there ("pause" by default; "approval": an approval step).
	Step string
}

// newEnvWith is newEnv with the waiting execution changed by tune.
func newEnvWith(t *testing.T, tune func(*waiting)) *env {
	t.Helper()
	e := &env{
		sb:       sandboxtest.NewPromotion(t),
		sns:      &fakeSNS{},
		bus:      &audittest.Bus{},
		secrets:  &fakeSecrets{secrets: map[string]string{"aliasflow/link-key": testKey}},
		settings: &fakeSettings{targets: map[string]config.Target{}},
		logs:     &bytes.Buffer{},
		metrics:  &bytes.Buffer{},
		now:      now0,
	}
	e.tally = approval.ParameterTally{Client: parameterStore(t), Path: approvalsPath}
	e.sfn = &answers{Client: e.sb.SFN, Calls: map[string]int{}, seen: map[string]int64{}}
	w := waiting{State: testState(), StateName: promotion.StateRequestApproval}
	if tune != nil {
		tune(&w)
	}
	e.settings.set(w.State.Target)
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	clock := func() time.Time { return e.now }
	e.h = approval.New(e.sfn, e.sns, lambdaWith(t, map[string]string{"prod": "6", "stg": "7"}, nil).Client, approval.NewSecretKey(e.secrets, "aliasflow/link-key"),
		audit.New(log, e.bus, &audit.Options{Now: clock}), metrics.New(e.metrics, clock),
		&approval.Options{Log: log, TopicARN: "arn:aws:sns:us-east-1:000000000000:aliasflow-approvals", Now: clock, Settings: e.settings, Tally: e.tally})
	e.token = e.wait(t, w, "hello-v7-5a1e0c3d")
	return e
}

// wait runs execution name of the definition with w's input until w's
// state waits for its token, and returns the token.
func (e *env) wait(t *testing.T, w waiting, name string) string {
	t.Helper()
	e.sb.Handle(promotion.ActionSmoke, sandboxtest.Return(w.State.Smoke))
	switch {
	case w.Request != nil:
		e.sb.Handle(promotion.ActionRequest, w.Request(e))
	case w.InFlight:
		e.sb.Handle(promotion.ActionRequest, sandboxtest.Park)
	}
	if w.InFlight {
		arn := e.sb.Start(t, name, w.State.Input)
		return e.sb.Request(t, arn, promotion.ActionRequest, 1).TaskToken
	}
	arn, req := e.sb.StartWaiting(t, name, w.State.Input)
	if w.StateName == promotion.StateRequestApproval {
		return req.TaskToken
	}
	if w.StateName != promotion.StateBake && w.StateName != promotion.StatePause {
		t.Fatalf("no way to wait in %s", w.StateName)
	}
	// Approved (not through the handler: its answers stay unsent), and
	// the first step's weight set — or, for a pause, a plan that pauses
	// before its first weight.
	first, wait := promotion.Shift{StableVersion: "6", Weight: 0.1, BakeSeconds: 300, Kind: "setWeight"}, promotion.ActionBake
	if w.StateName == promotion.StatePause {
		kind := w.Step
		if kind == "" {
			kind = "pause"
		}
		first, wait = promotion.Shift{StableVersion: "6", Step: -1, BakeSeconds: 3600, Kind: kind}, promotion.ActionPause
	}
	for action, h := range map[string]sandboxtest.Handler{
		promotion.ActionGranted:   sandboxtest.Return(map[string]any{}),
		promotion.ActionBegin:     sandboxtest.Return(first),
		promotion.ActionSetWeight: sandboxtest.Return(first),
		promotion.ActionBake:      sandboxtest.Return(map[string]any{}),
		promotion.ActionPause:     sandboxtest.Return(map[string]any{}),
	} {
		e.sb.Handle(action, h)
	}
	out, _ := json.Marshal(promotion.Decision{Approved: true, Approver: alice, Via: "link", DecidedAt: entered})
	if _, err := e.sb.SFN.SendTaskSuccess(context.Background(), &sfn.SendTaskSuccessInput{TaskToken: aws.String(req.TaskToken), Output: aws.String(string(out))}); err != nil {
		t.Fatalf("approve %s: %v", arn, err)
	}
	bake := e.sb.Request(t, arn, wait, 1)
	e.sb.Until(t, w.StateName+" to wait for its token", func() bool {
		events, _ := e.sb.States.History(arn)
		return events[len(events)-1].Type == "TaskSubmitted"
	})
	return bake.TaskToken
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

// lambdaWith is the sandbox's Lambda with function hello, versions 1–7
// and the aliases given (name → version), prod weighted to a second
// version when prodWeights is set.
func lambdaWith(t *testing.T, aliases map[string]string, prodWeights map[string]float64) *sandboxtest.Lambda {
	t.Helper()
	l := sandboxtest.NewLambda(t)
	l.AddFunction(t, "hello", 7)
	for name, v := range aliases {
		var w map[string]float64
		if name == "prod" {
			w = prodWeights
		}
		l.SetAlias(t, "hello", name, v, w)
	}
	return l
}

// stop stops the execution arn as StopExecution does, with errName and
// cause when set (the release Lambda's aliasflow.Superseded).
func (e *env) stop(t *testing.T, arn, errName, cause string) {
	t.Helper()
	in := &sfn.StopExecutionInput{ExecutionArn: aws.String(arn)}
	if errName != "" {
		in.Error, in.Cause = aws.String(errName), aws.String(cause)
	}
	if _, err := e.sb.SFN.StopExecution(context.Background(), in); err != nil {
		t.Fatalf("StopExecution: %v", err)
	}
	e.sb.WaitStatus(t, arn, "ABORTED")
}
