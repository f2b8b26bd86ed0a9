package browser

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
	"github.com/aliasflow/aliasflow/sandbox/local"
	snssvc "github.com/aliasflow/aliasflow/sandbox/sns"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// requireChromium returns Chromium's path. A missing browser fails the
// test — CI installs it — unless ALIASFLOW_SKIP_BROWSER=1 says to skip.
func requireChromium(t *testing.T) string {
	t.Helper()
	if os.Getenv(EnvSkip) == "1" {
		t.Skipf("%s=1: the approval page is not tested in a browser", EnvSkip)
	}
	p, err := FindChromium()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// launch starts one browser for the whole test.
func launch(t *testing.T, execPath string) *Browser {
	t.Helper()
	b, err := Launch(context.Background(), execPath, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chromium's output (D-Bus noise left out):\n%s", tail(withoutDBus(b.Output()), 4000))
		}
		b.Close()
	})
	return b
}

// tab opens a tab bounded by the test's deadline.
func tab(t *testing.T, b *Browser, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := b.Tab()
	t.Cleanup(cancel)
	// The browser was started already, so this deadline bounds only the
	// tab's actions.
	ctx, cancelT := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancelT)
	return ctx
}

// artifactsDir is $ALIASFLOW_ARTIFACTS/browser (the Makefile sets it to
// <repo>/artifacts), or a temporary directory when unset.
func artifactsDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("ALIASFLOW_ARTIFACTS")
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, "browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// repoRoot is the module root, two levels above this file's package.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Dir(filepath.Dir(file))
}

// binDir is where the pipeline's bootstraps for this machine are:
// $ALIASFLOW_BIN_DIR (the Makefile's dist/local), else <repo>/dist/local.
func binDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("ALIASFLOW_BIN_DIR"); d != "" {
		return d
	}
	return filepath.Join(repoRoot(t), "dist", "local")
}

// shot saves a full-page screenshot and logs where.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	p, err := Screenshot(ctx, dir, name)
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", p)
}

// helloBuild builds hello with its own greeting, so each release is new
// code with a new CodeSha256 that still passes the world's smoke checks
// (they look for "Hello from Lambda").
func helloBuild(t *testing.T, tag string) string {
	t.Helper()
	return lambdatest.Build(t, "github.com/aliasflow/aliasflow/examples/hello",
		"-ldflags", fmt.Sprintf("-s -w -X 'main.greeting=%s'", greeting(tag)))
}

// greeting is what the hello built by helloBuild(tag) answers.
func greeting(tag string) string { return "Hello from Lambda (" + tag + ")" }

// helloAnswer is hello's JSON answer (examples/hello).
type helloAnswer struct {
	Message string `json:"message"`
	Version string `json:"version"`
}

// askProd opens the production stage in a tab, as a user of hello would,
// and returns its answer.
func (w *world) askProd(t *testing.T, b *Browser) helloAnswer {
	t.Helper()
	page := tab(t, b, 20*time.Second)
	resp, err := Open(page, w.StageURL("production"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(page, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	var a helloAnswer
	if resp.Status != 200 || json.Unmarshal([]byte(body), &a) != nil {
		t.Fatalf("production stage: status %d, body %q; want 200 and hello's JSON", resp.Status, body)
	}
	return a
}

// world is a started local world with SDK clients pointed at it.
type world struct {
	*local.World
	sfn    *sfn.Client
	lambda *lambda.Client
	logs   *cloudwatchlogs.Client
}

// startWorld stands up the whole pipeline with hello's settings from
// target; the world's log is shown when the test fails.
func startWorld(t *testing.T, target func(endpoint string) *config.Target) *world {
	t.Helper()
	log := &lockedBuffer{}
	// Generous: zipping and unpacking the five bootstraps is most of it,
	// and a loaded CI machine (or -race) makes that slow.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	w, err := local.Start(ctx, local.Options{BinDir: binDir(t), Log: log, Hello: target})
	if err != nil {
		t.Fatalf("start the world after %s: %v\nthe world's log:\n%s", time.Since(began).Round(time.Millisecond), err, tail(log.String(), 8000))
	}
	t.Logf("world at %s started in %s", w.Endpoint(), time.Since(began).Round(time.Millisecond))
	// The approvers follow the confirmation links SNS mailed them.
	if _, err := w.ConfirmSubscriptions(ctx); err != nil {
		_ = w.Close()
		t.Fatalf("confirm the approvers' subscriptions: %v", err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("close the world: %v", err)
		}
		if t.Failed() {
			t.Logf("the world's log:\n%s", tail(log.String(), 8000))
		}
	})
	cfg := lambdatest.Config()
	ep := aws.String(w.Endpoint())
	return &world{
		World:  w,
		sfn:    sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = ep }),
		lambda: lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = ep }),
		logs:   cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = ep }),
	}
}

// release is one merged build of hello and its approval e-mail.
type release struct {
	codeSha256, commit, build string
	title, author             string // what changed and who wrote it, as the build exported them
	link                      string // the approval page URL from the e-mail
	claims                    approval.Claims
	input                     promotion.Input
}

// linkPattern finds the approval page URL in an e-mail body.
var linkPattern = regexp.MustCompile(`http://127\.0\.0\.1:\d+/` + local.ApprovalStage + `\?t=[A-Za-z0-9_%.\-]+`)

// merge deploys bootstrap as hello's $LATEST, has the sandbox CodeBuild build it as a
// merge would, and waits for the approval e-mail to approver: the release
// Lambda, the smoke tests and the approval request all run for real.
func (w *world) merge(t *testing.T, ctx context.Context, bootstrap, commit, approver string) release {
	t.Helper()
	sha, err := w.DeployHello(ctx, bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	// The change's title and author, as a CI exports them from the commit.
	title, author := "Change the greeting ("+commit+")", "Ana Developer <ana@example.com>"
	b, err := w.RunBuild(ctx, sha, commit, local.MergeOptions{Title: title, Author: author})
	if err != nil {
		t.Fatal(err)
	}
	return w.emailed(t, ctx, release{codeSha256: sha, commit: commit, build: b.ID, title: title, author: author}, approver)
}

// emailed waits for the approval e-mail of rel's code to approver and
// returns rel with that approver's link.
func (w *world) emailed(t *testing.T, ctx context.Context, rel release, approver string) release {
	t.Helper()
	// The e-mail that names this code: earlier releases' e-mails stay in
	// the outbox.
	m, _, err := w.Sandbox().SNS().Wait(ctx, 0, func(m snssvc.Message) bool {
		return m.Endpoint == approver && strings.Contains(m.Message, rel.codeSha256)
	})
	if err != nil {
		t.Fatalf("no approval e-mail to %s for %s: %v\npromotions: %s", approver, rel.codeSha256, err, w.executions())
	}
	rel.link = linkPattern.FindString(m.Message)
	if rel.link == "" {
		t.Fatalf("the approval e-mail has no link to %s:\n%s", w.ApprovalURL(), m.Message)
	}
	rel.claims = readClaims(t, rel.link)
	out, err := w.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(rel.claims.Execution)})
	if err != nil {
		t.Fatalf("describe the execution the link names: %v", err)
	}
	rel.input = promotion.Input{}
	if err := json.Unmarshal([]byte(aws.ToString(out.Input)), &rel.input); err != nil {
		t.Fatalf("execution input: %v", err)
	}
	return rel
}

// executions describes every promotion and how it ended, for a failure
// message.
func (w *world) executions() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := w.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.StateMachineARN())})
	if err != nil {
		return "(not listed: " + err.Error() + ")"
	}
	var b strings.Builder
	for _, e := range out.Executions {
		fmt.Fprintf(&b, "\n  %s %s", aws.ToString(e.Name), e.Status)
		if d, err := w.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn}); err == nil && d.Error != nil {
			fmt.Fprintf(&b, " %s: %s", aws.ToString(d.Error), aws.ToString(d.Cause))
		}
	}
	if b.Len() == 0 {
		return "none started"
	}
	return b.String()
}

// readClaims decodes a link's claims without checking its signature: the
// test only needs to know which execution it names (the page checks it).
func readClaims(t *testing.T, pageURL string) approval.Claims {
	t.Helper()
	_, token, _ := strings.Cut(pageURL, "?t=")
	payload, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatalf("link %q: %v", pageURL, err)
	}
	var c approval.Claims
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("link claims: %v", err)
	}
	return c
}

// waitEnded polls the execution until it leaves RUNNING.
func (w *world) waitEnded(t *testing.T, ctx context.Context, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	for {
		out, err := w.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("describe %s: %v", arn, err)
		}
		if out.Status != sfntypes.ExecutionStatusRunning {
			return out
		}
		select {
		case <-ctx.Done():
			t.Fatalf("execution %s still RUNNING: %v", arn, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// statesEntered lists the states the execution entered, in order.
func (w *world) statesEntered(t *testing.T, ctx context.Context, arn string) []string {
	t.Helper()
	var names []string
	p := sfn.NewGetExecutionHistoryPaginator(w.sfn, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("history of %s: %v", arn, err)
		}
		for _, ev := range page.Events {
			if ev.StateEnteredEventDetails != nil {
				names = append(names, aws.ToString(ev.StateEnteredEventDetails.Name))
			}
		}
	}
	return names
}

// prod returns the version prod serves and its routing.
func (w *world) prod(t *testing.T, ctx context.Context) (string, map[string]float64) {
	t.Helper()
	out, err := w.lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(local.HelloFunction), Name: aws.String(promotion.AliasProd)})
	if err != nil {
		t.Fatalf("get prod alias: %v", err)
	}
	var routing map[string]float64
	if out.RoutingConfig != nil {
		routing = out.RoutingConfig.AdditionalVersionWeights
	}
	return aws.ToString(out.FunctionVersion), routing
}

// auditTrail returns the audit records of one execution from the
// pipeline's log group, read back with FilterLogEvents the way `aliasflow
// history` reads them.
func (w *world) auditTrail(t *testing.T, ctx context.Context, execution string) []audit.Record {
	t.Helper()
	var recs []audit.Record
	p := cloudwatchlogs.NewFilterLogEventsPaginator(w.logs, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName:  aws.String(local.PipelineLogGroup),
		FilterPattern: aws.String(fmt.Sprintf(`{ $.audit IS TRUE && $.execution = "%s" }`, execution)),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("filter the audit trail: %v", err)
		}
		for _, ev := range page.Events {
			var r audit.Record
			if err := json.Unmarshal([]byte(aws.ToString(ev.Message)), &r); err != nil || !r.Audit {
				t.Errorf("a line the filter matched is not an audit record: %q", aws.ToString(ev.Message))
				continue
			}
			recs = append(recs, r)
		}
	}
	return recs
}

// waitAudit waits for the execution's audit record of event: the task
// that writes it may still be flushing its log when the execution ends.
func (w *world) waitAudit(t *testing.T, ctx context.Context, execution string, event audit.Event) audit.Record {
	t.Helper()
	for {
		recs := w.auditTrail(t, ctx, execution)
		for _, r := range recs {
			if r.Event == event {
				return r
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s audit record for %s; the trail has %v", event, execution, events(recs))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func events(recs []audit.Record) []audit.Event {
	var out []audit.Event
	for _, r := range recs {
		out = append(out, r.Event)
	}
	return out
}

// texts returns the whitespace-collapsed text of every element with an
// id, by id: the page's facts as a reader sees them.
func texts(t *testing.T, ctx context.Context) map[string]string {
	t.Helper()
	m, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`(() => {
		const out = {};
		for (const el of document.querySelectorAll('[id]')) out[el.id] = el.textContent.replace(/\s+/g, ' ').trim();
		return out;
	})()`))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	return m
}

// text returns one element's whitespace-collapsed text.
func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		return el ? el.textContent.replace(/\s+/g, ' ').trim() : '(missing)';
	})()`, css)))
	if err != nil {
		t.Fatalf("read %s: %v", css, err)
	}
	return s
}

// a11y is what the accessibility check reads from the DOM.
type a11y struct {
	Lang       string   `json:"lang"`
	H1         int      `json:"h1"`
	Title      string   `json:"title"`
	Viewport   string   `json:"viewport"`
	Unlabelled []string `json:"unlabelled"`
	Unnamed    []string `json:"unnamed"`
	Scripts    int      `json:"scripts"`
	Forms      int      `json:"forms"`
	// ScrollWidth is the document's width: wider than the viewport means
	// the reader must scroll sideways.
	ScrollWidth int `json:"scrollWidth"`
	InnerWidth  int `json:"innerWidth"`
}

func readA11y(t *testing.T, ctx context.Context) a11y {
	t.Helper()
	a, err := chromedp.Run(ctx, chromedp.Evaluate[a11y](`(() => {
		const name = el => el.id || el.name || el.tagName.toLowerCase();
		const fields = [...document.querySelectorAll('input:not([type=hidden]), textarea, select')];
		const meta = document.querySelector('meta[name=viewport]');
		return {
			lang: document.documentElement.getAttribute('lang') || '',
			h1: document.querySelectorAll('h1').length,
			title: document.title,
			viewport: meta ? meta.content : '',
			unlabelled: fields.filter(f => !(f.labels && f.labels.length) && !f.getAttribute('aria-label') && !f.getAttribute('aria-labelledby')).map(name),
			unnamed: [...document.querySelectorAll('button, a[href]')].filter(b => !b.textContent.trim() && !b.getAttribute('aria-label')).map(name),
			scripts: document.querySelectorAll('script').length,
			forms: document.forms.length,
			scrollWidth: document.documentElement.scrollWidth,
			innerWidth: window.innerWidth,
		};
	})()`))
	if err != nil {
		t.Fatalf("read the page's accessibility facts: %v", err)
	}
	return a
}

// focusStop is where one Tab press put the focus.
type focusStop struct {
	Element string `json:"element"`
	// Outline is the focused element's computed outline style: a keyboard
	// user must see where the focus is.
	Outline string `json:"outline"`
}

// tabOrder presses Tab n times from the top of the page and returns where
// the focus went each time.
func tabOrder(t *testing.T, ctx context.Context, n int) []focusStop {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`)); err != nil {
		t.Fatal(err)
	}
	var stops []focusStop
	for range n {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatalf("press Tab: %v", err)
		}
		s, err := chromedp.Run(ctx, chromedp.Evaluate[focusStop](`(() => {
			const el = document.activeElement;
			let d = el.tagName.toLowerCase();
			if (el.id) d += '#' + el.id;
			else if (el.name) d += '[' + el.name + '=' + el.value + ']';
			const cs = getComputedStyle(el);
			return {element: d, outline: cs.outlineStyle + ' ' + cs.outlineWidth};
		})()`))
		if err != nil {
			t.Fatalf("read the focus: %v", err)
		}
		stops = append(stops, s)
	}
	return stops
}

// scriptRuns injects an inline script into the page and reports whether it
// ran. DevTools' own evaluation is not subject to the page's policy; the
// element it adds is, as one an attacker injected would be.
func scriptRuns(t *testing.T, ctx context.Context) bool {
	t.Helper()
	ran, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		delete window.__injected;
		const s = document.createElement('script');
		s.textContent = 'window.__injected = true';
		document.body.appendChild(s);
		const ran = window.__injected === true;
		s.remove();
		return ran;
	})()`))
	if err != nil {
		t.Fatalf("inject a script: %v", err)
	}
	return ran
}

// header reads a response header whatever its case.
func header(h map[string]any, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// withoutDBus drops Chromium's complaints that the machine has no D-Bus,
// which it prints on every start and which never explain a failure.
func withoutDBus(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, ":ERROR:dbus/") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
