package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awsconfig"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/pending"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfigv2 "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// The names the world and the pipeline use.
const (
	fn           = "hello"
	buildProject = "hello-build"
	stateMachine = "aliasflow-promotion"
	pipelineLogs = "/aliasflow/pipeline"
	prodAlarm    = "hello-prod-errors"
	approver     = "approver@example.com"
	oncall       = "oncall@example.com"
	requester    = "ana@example.com"
)

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
					Payload:      json.RawMessage(`{"httpMethod":"GET","path":"/hello","requestContext":{"stage":"smoke"}}`),
					JSONEquals:   map[string]any{"statusCode": 200.0},
					BodyContains: greetingV1,
				},
			},
			{
				Name: "GET /staging/hello",
				HTTP: &config.HTTPCheck{URL: endpoint + "/staging/hello", ExpectStatus: 200, BodyContains: greetingV1},
			},
		},
		SmokeRetries:           1,
		Approvers:              []string{approver, oncall},
		ApprovalTimeoutSeconds: 300,
		Health: config.Health{
			Alarms:         []string{prodAlarm},
			MaxErrorRate:   0.05,
			MinInvocations: 5,
			WindowSeconds:  60,
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

	// hello and stateDir are what the world is (re)started with.
	hello     func(endpoint string) *config.Target
	stateDir  string
	restarted bool

	mu     sync.Mutex
	builds int
	watch  *aliasWatch
}

func (s *scenario) startWorld() *world {
	s.t.Helper()
	ctx, stop := context.WithTimeout(s.ctx, startTimeout)
	defer stop()
	began := time.Now()
	w, err := startWorld(ctx, s.t, s.hello, s.stateDir)
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
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &scenario{t: t, ctx: ctx, stateDir: stateDir, http: &http.Client{Transport: awsconfig.LoopbackOnlyClient().GetTransport(), Timeout: 30 * time.Second}}
	s.hello = func(endpoint string) *config.Target {
		target := helloTarget(endpoint)
		if tune != nil {
			tune(&target)
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
		cancel() // nothing of the test may call the world while it closes
		if err := s.world().Close(); err != nil {
			t.Errorf("close the world: %v", err)
		}
	})
	cfg, err := awsconfig.Load(ctx,
		awsconfigv2.WithBaseEndpoint(s.ep),
		awsconfigv2.WithRegion("us-east-1"),
		awsconfigv2.WithHTTPClient(awsconfig.LoopbackOnlyClient()),
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

// ---- releasing ---------------------------------------------------------------

// promo is one release and its promotion.
type promo struct {
	build   helloBuild
	sha     string
	commit  string
	version string
	name    string
	arn     string
}

// deploy makes build hello's $LATEST code, as the CI build of a merge does,
// and returns the promotion its release will start.
func (s *scenario) deploy(build helloBuild, commit string) *promo {
	s.t.Helper()
	bin, ok := helloBin[build]
	if !ok {
		s.t.Fatalf("hello %q was not built", build.greeting)
	}
	next := s.nextVersion()
	sha, err := s.world().DeployHello(s.ctx, bin)
	if err != nil {
		s.t.Fatalf("deploy hello %q as $LATEST: %v", build.greeting, err)
	}
	name := promotion.ExecutionName(fn, next, sha)
	return &promo{build: build, sha: sha, commit: commit, version: next, name: name,
		arn: fmt.Sprintf("arn:aws:states:us-east-1:000000000000:execution:%s:%s", stateMachine, name)}
}

// nextVersion is the number the next PublishVersion of new code gets.
func (s *scenario) nextVersion() string {
	s.t.Helper()
	versions := s.versions()
	n := 0
	for _, v := range versions {
		if i, err := strconv.Atoi(v); err == nil && i > n {
			n = i
		}
	}
	return strconv.Itoa(n + 1)
}

// versions lists hello's published versions (and $LATEST).
func (s *scenario) versions() []string {
	s.t.Helper()
	var out []string
	p := lambda.NewListVersionsByFunctionPaginator(s.lambda, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(fn)})
	for p.HasMorePages() {
		page, err := p.NextPage(s.ctx)
		if err != nil {
			s.t.Fatalf("ListVersionsByFunction %s: %v", fn, err)
		}
		for _, v := range page.Versions {
			out = append(out, aws.ToString(v.Version))
		}
	}
	return out
}

// codeBuildEvent is a real CodeBuild "Build State Change" (SUCCEEDED) event
// for hello-build, with the exported variables a build of p sets.
func (s *scenario) codeBuildEvent(p *promo) ebtypes.PutEventsRequestEntry {
	s.t.Helper()
	raw, err := os.ReadFile("testdata/codebuild-succeeded.json")
	if err != nil {
		s.t.Fatal(err)
	}
	var ev struct {
		Source     string         `json:"source"`
		DetailType string         `json:"detail-type"`
		Resources  []string       `json:"resources"`
		Detail     map[string]any `json:"detail"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		s.t.Fatalf("testdata/codebuild-succeeded.json: %v", err)
	}
	s.mu.Lock()
	s.builds++
	buildID := fmt.Sprintf("arn:aws:codebuild:us-east-1:000000000000:build/%s:%08d-0000-4000-8000-%012d", buildProject, s.builds, s.builds)
	s.mu.Unlock()
	info := ev.Detail["additional-information"].(map[string]any)
	info["source-version"] = p.commit
	info["exported-environment-variables"] = []map[string]string{
		{"name": "ALIASFLOW_FUNCTION", "value": fn},
		{"name": "ALIASFLOW_CODE_SHA256", "value": p.sha},
		{"name": "ALIASFLOW_COMMIT", "value": p.commit},
		{"name": "ALIASFLOW_REQUESTED_BY", "value": requester},
	}
	ev.Detail["build-id"] = buildID
	ev.Detail["project-name"] = buildProject
	detail, err := json.Marshal(ev.Detail)
	if err != nil {
		s.t.Fatal(err)
	}
	return ebtypes.PutEventsRequestEntry{
		Source:     aws.String(ev.Source),
		DetailType: aws.String(ev.DetailType),
		Resources:  []string{buildID},
		Detail:     aws.String(string(detail)),
	}
}

// releaseRequested is an aliasflow "Release Requested" event for p.
func releaseRequested(p *promo) ebtypes.PutEventsRequestEntry {
	detail, _ := json.Marshal(map[string]string{"function": fn, "codeSha256": p.sha, "commit": p.commit, "requestedBy": requester})
	return ebtypes.PutEventsRequestEntry{
		Source:     aws.String("aliasflow"),
		DetailType: aws.String("Release Requested"),
		Detail:     aws.String(string(detail)),
	}
}

// put puts entries on the default bus through the SDK and fails the test
// when EventBridge refuses any.
func (s *scenario) put(entries ...ebtypes.PutEventsRequestEntry) {
	s.t.Helper()
	out, err := s.events.PutEvents(s.ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		s.t.Fatalf("PutEvents: %v", err)
	}
	if out.FailedEntryCount > 0 {
		for _, e := range out.Entries {
			if e.ErrorCode != nil {
				s.t.Errorf("PutEvents entry refused: %s: %s", aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
			}
		}
		s.t.FailNow()
	}
}

// merge deploys build and puts its CodeBuild event, then waits for the
// promotion to start.
func (s *scenario) merge(build helloBuild, commit string) *promo {
	s.t.Helper()
	p := s.deploy(build, commit)
	s.put(s.codeBuildEvent(p))
	s.waitStarted(p)
	return p
}

// waitStarted waits until p's execution exists.
func (s *scenario) waitStarted(p *promo) {
	s.t.Helper()
	eventually(s.t, stepTimeout, func() error {
		_, err := s.sfn.DescribeExecution(s.ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(p.arn)})
		if err != nil {
			return fmt.Errorf("promotion %s of version %s has not started: %w", p.name, p.version, err)
		}
		return nil
	})
}

// ---- deciding --------------------------------------------------------------------

var linkPattern = regexp.MustCompile(`https?://\S+\?t=[A-Za-z0-9._~%-]+`)

// approvalEmail waits for the approval e-mail of p to to and returns it.
func (s *scenario) approvalEmail(p *promo, to string) email {
	s.t.Helper()
	var found email
	eventually(s.t, stepTimeout, func() error {
		for _, m := range s.world().Emails() {
			if m.To == to && strings.Contains(m.Subject, "version "+p.version) {
				found = m
				return nil
			}
		}
		return fmt.Errorf("no approval e-mail to %s for version %s among %d e-mails", to, p.version, len(s.world().Emails()))
	})
	return found
}

// approvalLink is the link in the approval e-mail of p to to.
func (s *scenario) approvalLink(p *promo, to string) string {
	s.t.Helper()
	m := s.approvalEmail(p, to)
	link := linkPattern.FindString(m.Body)
	if link == "" {
		s.t.Fatalf("the approval e-mail to %s has no link:\n%s", to, m.Body)
	}
	return link
}

// openLink GETs the approval page of link, as a browser does.
func (s *scenario) openLink(link string) (int, string) {
	s.t.Helper()
	resp, err := s.http.Get(link)
	if err != nil {
		s.t.Fatalf("GET the approval page: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// decideByLink posts the approval page's form for link with decision
// ("approve" or "reject"), as a browser does, and returns the answer's
// status and body.
func (s *scenario) decideByLink(link, decision, comment string) (int, string) {
	s.t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		s.t.Fatal(err)
	}
	form := url.Values{"t": {u.Query().Get("t")}, "decision": {decision}, "comment": {comment}}
	u.RawQuery = ""
	resp, err := s.http.Post(u.String(), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatalf("POST the decision: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// decide opens the e-mailed link of to for p, checks the page offers the
// decision, and decides.
func (s *scenario) decide(p *promo, to, decision, comment string) {
	s.t.Helper()
	link := s.approvalLink(p, to)
	status, page := s.openLink(link)
	if status != http.StatusOK || !strings.Contains(page, "version "+p.version) && !strings.Contains(page, ">"+p.version+"<") {
		s.t.Fatalf("GET the approval page of %s: status %d, want 200 and a page about version %s:\n%s", p.name, status, p.version, page)
	}
	if status, body := s.decideByLink(link, decision, comment); status != http.StatusOK {
		s.t.Fatalf("%s through the link: status %d, want 200:\n%s", decision, status, body)
	}
}

// approveByLink approves p through the e-mailed link of to.
func (s *scenario) approveByLink(p *promo, to string) {
	s.t.Helper()
	s.decide(p, to, "approve", "looks good")
}

// get calls a stage once and returns the version that answered ("error"
// when the call failed).
func (s *scenario) get(path string) string {
	s.t.Helper()
	resp, err := s.http.Get(s.ep + path)
	if err != nil {
		return "error"
	}
	defer resp.Body.Close()
	var a struct{ Version string }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&a) != nil {
		return "error"
	}
	return a.Version
}

// cli runs the aliasflow CLI against the world, as an operator's shell does.
func (s *scenario) cli(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli.Main(s.ctx, append([]string{"--endpoint", s.ep, "--region", "us-east-1"}, args...), cli.Env{Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

// waitWaiting waits until p's execution has an open task in state (a
// waitForTaskToken state: RequestApproval or Bake).
func (s *scenario) waitWaiting(p *promo, state string) {
	s.t.Helper()
	eventually(s.t, stepTimeout, func() error {
		_, err := pending.Find(s.ctx, s.sfn, p.arn, state)
		return err
	})
}

// waitDone waits until p's execution ends and returns it.
func (s *scenario) waitDone(p *promo, timeout time.Duration) *sfn.DescribeExecutionOutput {
	s.t.Helper()
	var out *sfn.DescribeExecutionOutput
	eventually(s.t, timeout, func() error {
		var err error
		out, err = s.sfn.DescribeExecution(s.ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(p.arn)})
		if err != nil {
			return err
		}
		if out.Status == sfntypes.ExecutionStatusRunning {
			return fmt.Errorf("promotion %s still running (in %s)", p.name, s.currentState(p))
		}
		return nil
	})
	return out
}

// currentState is the last state p's execution entered.
func (s *scenario) currentState(p *promo) string {
	names, err := s.enteredStates(p.arn)
	if err != nil || len(names) == 0 {
		return "?"
	}
	return names[len(names)-1]
}

// ---- traffic ---------------------------------------------------------------------

// traffic calls a stage in the background until stopped, as users do.
type traffic struct {
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	split map[string]int
}

// generate starts calling path (such as "/production/hello") about every
// 10 ms.
func (s *scenario) generate(path string) *traffic {
	tr := &traffic{stop: make(chan struct{}), done: make(chan struct{}), split: map[string]int{}}
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tr.stop:
				return
			case <-s.ctx.Done():
				return
			case <-tick.C:
			}
			key := "error"
			if resp, err := s.http.Get(s.ep + path); err == nil {
				var a struct{ Version string }
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &a) == nil {
					key = a.Version
				}
			}
			tr.mu.Lock()
			tr.split[key]++
			tr.mu.Unlock()
		}
	}()
	return tr
}

// Stop stops the traffic and returns the answers counted by version
// ("error" for failed calls).
func (tr *traffic) Stop() map[string]int {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	<-tr.done
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return maps.Clone(tr.split)
}

// ---- assertions ------------------------------------------------------------------

// aliasState is an alias as GetAlias reports it.
type aliasState struct {
	version string
	weights map[string]float64
}

func (a aliasState) String() string {
	if len(a.weights) == 0 {
		return a.version
	}
	keys := make([]string, 0, len(a.weights))
	for k := range a.weights {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(a.version)
	for _, k := range keys {
		fmt.Fprintf(&b, " + %s@%g", k, a.weights[k])
	}
	return b.String()
}

func (s *scenario) alias(name string) aliasState {
	s.t.Helper()
	out, err := s.lambda.GetAlias(s.ctx, &lambda.GetAliasInput{FunctionName: aws.String(fn), Name: aws.String(name)})
	if err != nil {
		s.t.Fatalf("GetAlias %s:%s: %v", fn, name, err)
	}
	a := aliasState{version: aws.ToString(out.FunctionVersion)}
	if out.RoutingConfig != nil && len(out.RoutingConfig.AdditionalVersionWeights) > 0 {
		a.weights = out.RoutingConfig.AdditionalVersionWeights
	}
	return a
}

// wantAliases checks stg and prod: each on one version with no routing.
func (s *scenario) wantAliases(stg, prod string) {
	s.t.Helper()
	for _, c := range []struct{ name, want string }{{"stg", stg}, {"prod", prod}} {
		if got := s.alias(c.name); got.version != c.want || len(got.weights) != 0 {
			s.t.Errorf("alias %s → %s, want %s with no routing", c.name, got, c.want)
		}
	}
}

// wantExecution checks how p's execution ended.
func (s *scenario) wantExecution(out *sfn.DescribeExecutionOutput, status sfntypes.ExecutionStatus, errName string) {
	s.t.Helper()
	if out.Status != status || aws.ToString(out.Error) != errName {
		s.t.Errorf("execution %s ended %s (error %q: %s), want %s (error %q)",
			aws.ToString(out.Name), out.Status, aws.ToString(out.Error), aws.ToString(out.Cause), status, errName)
	}
}

// enteredStates lists the states an execution entered, in order.
func (s *scenario) enteredStates(arn string) ([]string, error) {
	events, err := s.history(arn)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range events {
		if d := e.StateEnteredEventDetails; d != nil {
			names = append(names, aws.ToString(d.Name))
		}
	}
	return names, nil
}

func (s *scenario) history(arn string) ([]sfntypes.HistoryEvent, error) {
	var out []sfntypes.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(s.sfn, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	for p.HasMorePages() {
		page, err := p.NextPage(s.ctx)
		if err != nil {
			return nil, fmt.Errorf("GetExecutionHistory %s: %w", arn, err)
		}
		out = append(out, page.Events...)
	}
	return out, nil
}

// wantStates checks the states p's execution entered, in order.
func (s *scenario) wantStates(p *promo, want ...string) {
	s.t.Helper()
	got, err := s.enteredStates(p.arn)
	if err != nil {
		s.t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		s.t.Errorf("execution %s entered\n  %s\nwant\n  %s", p.name, strings.Join(got, " → "), strings.Join(want, " → "))
	}
}

// executions lists the promotion state machine's executions.
func (s *scenario) executions() []sfntypes.ExecutionListItem {
	s.t.Helper()
	var out []sfntypes.ExecutionListItem
	p := sfn.NewListExecutionsPaginator(s.sfn, &sfn.ListExecutionsInput{
		StateMachineArn: aws.String("arn:aws:states:us-east-1:000000000000:stateMachine:" + stateMachine)})
	for p.HasMorePages() {
		page, err := p.NextPage(s.ctx)
		if err != nil {
			s.t.Fatalf("ListExecutions: %v", err)
		}
		out = append(out, page.Executions...)
	}
	return out
}

// auditRecords reads the audit trail from the pipeline's log group, as
// `aliasflow history` does, oldest first.
func (s *scenario) auditRecords() ([]audit.Record, error) {
	var recs []audit.Record
	p := cloudwatchlogs.NewFilterLogEventsPaginator(s.logs, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName:  aws.String(pipelineLogs),
		FilterPattern: aws.String("{ $.audit IS TRUE }"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(s.ctx)
		if err != nil {
			return nil, fmt.Errorf("FilterLogEvents %s: %w", pipelineLogs, err)
		}
		for _, e := range page.Events {
			var r audit.Record
			if err := json.Unmarshal([]byte(aws.ToString(e.Message)), &r); err != nil {
				return nil, fmt.Errorf("audit line is not a record: %v: %s", err, aws.ToString(e.Message))
			}
			if !r.Audit {
				return nil, fmt.Errorf("FilterLogEvents { $.audit IS TRUE } returned a line without audit: %s", aws.ToString(e.Message))
			}
			recs = append(recs, r)
		}
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	return recs, nil
}

// describe is one audit record in the form the scenarios expect:
// "event alias from→to @weight by actor", the parts present.
func describe(r audit.Record) string {
	parts := []string{string(r.Event)}
	if r.Alias != "" {
		parts = append(parts, r.Alias)
	}
	if r.FromVersion != "" || r.ToVersion != "" {
		parts = append(parts, r.FromVersion+"→"+r.ToVersion)
	}
	if r.Weight != nil {
		parts = append(parts, fmt.Sprintf("@%g", *r.Weight))
	}
	switch r.Event {
	case audit.ApprovalGranted, audit.ApprovalRejected:
		parts = append(parts, "by "+r.Actor)
	}
	return strings.Join(parts, " ")
}

// wantAudit waits until the audit trail is exactly want (in order) and
// returns the records; it also checks that each record belonging to a
// promotion names its execution.
func (s *scenario) wantAudit(want ...string) []audit.Record {
	s.t.Helper()
	var recs []audit.Record
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		recs, err = s.auditRecords()
		if err != nil {
			s.t.Fatal(err)
		}
		got = got[:0]
		for _, r := range recs {
			got = append(got, describe(r))
		}
		if slices.Equal(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !slices.Equal(got, want) {
		s.t.Errorf("audit trail:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	s.wantMovesAudited(recs)
	if !s.restarted {
		// The sandbox keeps the events put on the bus in memory only.
		s.wantAuditEvents(got)
	}
	for _, r := range recs {
		if r.Function != fn && r.Event != audit.ReleaseRefused {
			s.t.Errorf("audit record %s names function %q, want %q", describe(r), r.Function, fn)
		}
		if r.Event != audit.ReleaseRefused && !strings.HasPrefix(r.Execution, "arn:aws:states:") {
			s.t.Errorf("audit record %s names execution %q, want an execution ARN", describe(r), r.Execution)
		}
		if r.Time.IsZero() {
			s.t.Errorf("audit record %s has no time", describe(r))
		}
	}
	return recs
}

// forExecution keeps the records of one execution.
func forExecution(recs []audit.Record, arn string) []string {
	var out []string
	for _, r := range recs {
		if r.Execution == arn {
			out = append(out, describe(r))
		}
	}
	return out
}

// dumpPipelineLogs prints the pipeline's log lines, for a failed test.
func (s *scenario) dumpPipelineLogs() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := s.logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(pipelineLogs)})
	if err != nil {
		s.t.Logf("pipeline logs: %v", err)
		return
	}
	var b strings.Builder
	for _, e := range out.Events {
		fmt.Fprintf(&b, "%s %s\n", aws.ToString(e.LogStreamName), strings.TrimSpace(aws.ToString(e.Message)))
	}
	s.t.Logf("pipeline logs (%d lines):\n%s", len(out.Events), b.String())
}

// setAlarm sets an alarm's state through the CloudWatch API, as
// `aws cloudwatch set-alarm-state` does.
func (s *scenario) setAlarm(name string, state cwtypes.StateValue, reason string) {
	s.t.Helper()
	_, err := s.cw.SetAlarmState(s.ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(name), StateValue: state, StateReason: aws.String(reason)})
	if err != nil {
		s.t.Fatalf("SetAlarmState %s %s: %v", name, state, err)
	}
}

// aliasWatch records every change of stg and prod it sees, independently
// of the pipeline, so that the audit trail can be checked against what
// really happened.
type aliasWatch struct {
	s    *scenario
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	last map[string]aliasState
	// moves are the changes seen, in the form describe gives the audit
	// record that must account for each.
	moves []string
}

// watchAliases polls stg and prod every 20 ms through the sandbox's Go API
// (not the HTTP API, so that it neither sees nor consumes injected
// throttling) until the test ends.
func (s *scenario) watchAliases() *aliasWatch {
	aw := &aliasWatch{s: s, stop: make(chan struct{}), done: make(chan struct{}), last: map[string]aliasState{}}
	aw.poll()
	go func() {
		defer close(aw.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-aw.stop:
				return
			case <-tick.C:
				aw.poll()
			}
		}
	}()
	s.t.Cleanup(func() { close(aw.stop); <-aw.done })
	return aw
}

func (aw *aliasWatch) poll() {
	for _, name := range []string{"stg", "prod"} {
		a, err := aw.s.world().Sandbox().Lambda().GetAlias(fn, name)
		if err != nil {
			continue
		}
		cur := aliasState{version: a.FunctionVersion}
		if a.RoutingConfig != nil && len(a.RoutingConfig.AdditionalVersionWeights) > 0 {
			cur.weights = a.RoutingConfig.AdditionalVersionWeights
		}
		aw.mu.Lock()
		if prev, ok := aw.last[name]; ok && prev.String() != cur.String() {
			aw.moves = append(aw.moves, transition(name, prev, cur))
		}
		aw.last[name] = cur
		aw.mu.Unlock()
	}
}

// transition describes a change of an alias as its audit record reads.
func transition(alias string, from, to aliasState) string {
	switch {
	case len(to.weights) > 0:
		for n, w := range to.weights {
			return fmt.Sprintf("traffic.shifted %s %s→%s @%g", alias, to.version, n, w)
		}
	case len(from.weights) > 0 && from.version == to.version:
		// A rollback: the traffic leaves the new version.
		for n := range from.weights {
			return fmt.Sprintf("alias.moved %s %s→%s @0", alias, n, to.version)
		}
	}
	return fmt.Sprintf("alias.moved %s %s→%s", alias, from.version, to.version)
}

// wantMovesAudited checks that every alias change the watcher saw has its
// own audit record.
func (s *scenario) wantMovesAudited(recs []audit.Record) {
	s.t.Helper()
	s.watch.poll()
	s.watch.mu.Lock()
	moves := slices.Clone(s.watch.moves)
	s.watch.mu.Unlock()
	var records []string
	for _, r := range recs {
		if r.Event == audit.AliasMoved || r.Event == audit.TrafficShifted {
			records = append(records, describe(r))
		}
	}
	for _, m := range moves {
		i := slices.Index(records, m)
		if i < 0 {
			s.t.Errorf("alias change %q has no audit record of its own (alias changes seen: %v; records: %v)", m, moves, records)
			continue
		}
		records = slices.Delete(records, i, i+1)
	}
}

// wantAuditEvents checks that the audit records also went to EventBridge
// (source aliasflow, detail-type "Audit Record"), one event per record.
func (s *scenario) wantAuditEvents(trail []string) {
	s.t.Helper()
	want := slices.Clone(trail)
	sort.Strings(want)
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		got = got[:0]
		for _, e := range s.world().Sandbox().Events().Events() {
			if e.Source != audit.Source || e.DetailType != audit.DetailType {
				continue
			}
			var r audit.Record
			if err := json.Unmarshal(e.Detail, &r); err != nil {
				s.t.Errorf("Audit Record event %s: detail is not a record: %v", e.ID, err)
				continue
			}
			got = append(got, describe(r))
		}
		sort.Strings(got)
		if slices.Equal(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !slices.Equal(got, want) {
		s.t.Errorf("Audit Record events on EventBridge:\n  %s\nwant one per audit record:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
