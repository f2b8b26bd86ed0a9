package browser

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/chromedp/chromedp"
)

// The approvers of hello in these worlds: the e-mails go to both, the
// first decision counts.
const (
	approver = local.DefaultApprover
	second   = "second-approver@example.com"
)

// pageTime is how the page writes times (shared/approval's timeFormat).
const pageTime = "Mon 2 Jan 2006, 15:04 MST"

// decisionTarget is hello promoted all at once, so an approved release
// reaches prod without a bake, with two approvers and time to decide.
func decisionTarget(endpoint string) *config.Target {
	t := local.DefaultHello(endpoint)
	t.Strategy = config.StrategyConfig{Type: config.AllAtOnce}
	t.Approvers = []string{approver, second}
	t.ApprovalTimeoutSeconds = 600
	return t
}

// expiringTarget gives the approver a few seconds: the link in the e-mail
// expires by itself, the real way. The approval task's timeout also bounds
// the request that sends the e-mail, so it leaves a loaded machine time to
// start the approval Lambda and publish.
func expiringTarget(endpoint string) *config.Target {
	t := local.DefaultHello(endpoint)
	t.Strategy = config.StrategyConfig{Type: config.AllAtOnce}
	t.ApprovalTimeoutSeconds = 5
	return t
}

// TestApprovalPageInBrowser opens the approval e-mail's link in headless
// Chromium against the whole pipeline running locally, decides there, and
// checks what the promotion did. One browser serves every case; the two
// worlds (decisions, expiry) run side by side.
func TestApprovalPageInBrowser(t *testing.T) {
	chromium := requireChromium(t)
	began := time.Now()
	b := launch(t, chromium)
	dir := artifactsDir(t)
	t.Cleanup(func() {
		t.Logf("browser test: %s in all; screenshots in %s", time.Since(began).Round(100*time.Millisecond), dir)
	})

	t.Run("csp probe detects a script on a page without a policy", func(t *testing.T) {
		// Without this control, "the script did not run" below could mean
		// the probe is broken rather than that the policy works.
		ctx := tab(t, b, 10*time.Second)
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
			t.Fatal(err)
		}
		if !scriptRuns(t, ctx) {
			t.Fatal("an injected inline script did not run on about:blank: the probe cannot tell a blocking policy from a broken probe")
		}
	})
	t.Run("decisions", func(t *testing.T) {
		t.Parallel()
		testDecisions(t, b, dir)
	})
	t.Run("expired link", func(t *testing.T) {
		t.Parallel()
		testExpired(t, b, dir)
	})
}

func testDecisions(t *testing.T, b *Browser, dir string) {
	w := startWorld(t, decisionTarget)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var approved release
	if !t.Run("approve", func(t *testing.T) { approved = approve(t, ctx, w, b, dir) }) {
		return
	}
	t.Run("reopen the used link", func(t *testing.T) {
		page := tab(t, b, 20*time.Second)
		resp, err := Open(page, approved.link)
		if err != nil {
			t.Fatal(err)
		}
		shot(t, page, dir, "already-decided")
		if resp.Status != 409 {
			t.Errorf("status = %d, want 409 (already decided)", resp.Status)
		}
		problemPage(t, page, "decided", "This release has already been decided", approver+" approved it")
		if v, _ := w.prod(t, ctx); v != approved.input.Version {
			t.Errorf("prod = version %s after reopening the link, want %s still", v, approved.input.Version)
		}
	})
	t.Run("reject", func(t *testing.T) { reject(t, ctx, w, b, dir) })
}

// approve is scenario 1: read the page, check its policy and accessibility,
// approve with a comment, and follow the promotion to prod.
func approve(t *testing.T, ctx context.Context, w *world, b *Browser, dir string) release {
	const tag = "approved in a browser"
	rel := w.merge(t, ctx, helloBuild(t, tag), "c0ffee1", approver)
	version := rel.input.Version
	prodBefore, _ := w.prod(t, ctx)
	if version == prodBefore {
		t.Fatalf("the release is version %s, which prod already serves", version)
	}

	page := tab(t, b, 30*time.Second)
	resp, err := Open(page, rel.link)
	if err != nil {
		t.Fatal(err)
	}
	shot(t, page, dir, "approval-page")
	if resp.Status != 200 {
		t.Fatalf("status = %d, want 200; page: %s", resp.Status, text(t, page, "main"))
	}

	t.Run("facts", func(t *testing.T) {
		if got, want := text(t, page, "h1"), "Approve hello version "+version+" for prod?"; got != want {
			t.Errorf("h1 = %q, want %q", got, want)
		}
		got := texts(t, page)
		cases := []struct {
			name, id, want string
			exact          bool
		}{
			{"function", "function", local.HelloFunction, true},
			{"version", "version", version, true},
			{"code sha256", "code-sha256", rel.codeSha256, true},
			{"commit", "commit", rel.commit, true},
			{"build", "build", rel.build, false},
			{"requested by", "merged-by", "developer@example.com", true},
			{"title", "title", rel.title, true},
			{"author", "author", rel.author, true},
			{"smoke verdict", "smoke-verdict", "All 2 checks passed.", true},
			{"prod serves", "serving-prod", "version " + prodBefore, true},
			{"stg serves", "serving-stg", "version " + version, true},
			{"strategy", "strategy", "all at once: prod moves to the new version in one step", true},
			{"asked as", "approver", approver, true},
			{"other approvers", "others", "Also asked: " + second + ". The first decision counts.", true},
			{"account", "account", "000000000000", true},
			{"region", "region", "us-east-1", true},
			{"where", "where", "prod of hello", false},
			{"health criteria", "criteria", "prod moves in one step", false},
		}
		// No configuration explanations for approvers (issue 23): an
		// environment the settings do not name is simply not shown.
		for _, id := range []string{"environment", "prod-commit"} {
			if g, ok := got[id]; ok {
				t.Errorf("#%s = %q is shown; an approver needs no configuration explanation", id, g)
			}
		}
		for _, tc := range cases {
			g, ok := got[tc.id]
			switch {
			case !ok:
				t.Errorf("%s: no #%s on the page", tc.name, tc.id)
			case tc.exact && g != tc.want:
				t.Errorf("%s: #%s = %q, want %q", tc.name, tc.id, g, tc.want)
			case !tc.exact && !strings.Contains(g, tc.want):
				t.Errorf("%s: #%s = %q, want it to contain %q", tc.name, tc.id, g, tc.want)
			}
		}
		exp, err := time.Parse(pageTime, got["expires"])
		if err != nil {
			t.Errorf("expiry %q is not a time: %v", got["expires"], err)
		} else if d := exp.Sub(time.Unix(rel.claims.ExpiresAt, 0)); d < -time.Minute || d > time.Minute {
			t.Errorf("the page says it expires %s; the link expires %s", got["expires"], time.Unix(rel.claims.ExpiresAt, 0).UTC().Format(pageTime))
		}
		rows, err := chromedp.Run(page, chromedp.Evaluate[[][]string](`[...document.querySelectorAll('#smoke-checks tbody tr')].map(r => [...r.children].map(c => c.textContent.trim()))`))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range rows {
			names = append(names, r[0])
			if len(r) < 2 || r[1] != "Pass" {
				t.Errorf("smoke row %q, want the check passed", r)
			}
		}
		var want []string
		for _, c := range w.Target().SmokeChecks {
			want = append(want, c.Name)
		}
		if !slices.Equal(names, want) {
			t.Errorf("smoke checks on the page = %q, want %q", names, want)
		}
	})

	t.Run("no script runs", func(t *testing.T) {
		csp := header(resp.Headers, "Content-Security-Policy")
		if csp != approval.ContentSecurityPolicy() {
			t.Errorf("Content-Security-Policy = %q, want %q", csp, approval.ContentSecurityPolicy())
		}
		if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("Content-Security-Policy %q must fall back to default-src 'none' for scripts", csp)
		}
		a := readA11y(t, page)
		if a.Scripts != 0 {
			t.Errorf("the page has %d script elements, want none", a.Scripts)
		}
		if scriptRuns(t, page) {
			t.Error("an inline script injected into the page ran: the policy does not block script")
		}
	})

	t.Run("accessibility", func(t *testing.T) {
		a := readA11y(t, page)
		if a.Lang != "en" {
			t.Errorf(`html lang = %q, want "en"`, a.Lang)
		}
		if a.H1 != 1 {
			t.Errorf("%d h1 elements, want exactly 1", a.H1)
		}
		if len(a.Unlabelled) > 0 {
			t.Errorf("form fields without a label: %q", a.Unlabelled)
		}
		if len(a.Unnamed) > 0 {
			t.Errorf("buttons or links without text: %q", a.Unnamed)
		}
		if !strings.Contains(a.Title, "hello") || !strings.Contains(a.Title, version) {
			t.Errorf("title = %q, want it to name hello and version %s", a.Title, version)
		}
		stops := tabOrder(t, page, 3)
		want := []string{"textarea#comment", "button[decision=approve]", "button[decision=reject]"}
		for i, s := range stops {
			if s.Element != want[i] {
				t.Errorf("Tab #%d focuses %s, want %s (order: comment, Approve, Reject)", i+1, s.Element, want[i])
			}
			if strings.HasPrefix(s.Outline, "none") || strings.HasSuffix(s.Outline, " 0px") {
				t.Errorf("Tab #%d: %s shows no focus outline (%s)", i+1, s.Element, s.Outline)
			}
		}
	})

	// The decision comes first: both buttons are on the first screen
	// without scrolling (issue 13: they were below the fold at 1280×900
	// and two screens down on a phone).
	t.Run("decision above the fold", func(t *testing.T) {
		onFirstScreen(t, page, "1280×900")
	})

	t.Run("phone width", func(t *testing.T) {
		phone := tab(t, b, 20*time.Second)
		if err := chromedp.Do(phone,
			chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait),
			chromedp.Navigate(rel.link),
		); err != nil {
			t.Fatal(err)
		}
		shot(t, phone, dir, "approval-page-phone")
		onFirstScreen(t, phone, "390×844")
		a := readA11y(t, phone)
		if a.InnerWidth != 390 {
			t.Errorf("viewport is %d px wide, want 390", a.InnerWidth)
		}
		if a.ScrollWidth > a.InnerWidth {
			t.Errorf("at 390 px the page is %d px wide: the approver must scroll sideways", a.ScrollWidth)
		}
		// Touch targets: WCAG 2.2's 24 px minimum, and the page aims at 44.
		heights, err := chromedp.Run(phone, chromedp.Evaluate[[]float64](`[...document.querySelectorAll('button')].map(b => b.getBoundingClientRect().height)`))
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range heights {
			if h < 44 {
				t.Errorf("button %d is %.0f px tall on a phone, want at least 44", i+1, h)
			}
		}
	})

	comment := "Looks good — approved from the browser test"
	if err := chromedp.Do(page, chromedp.SendKeys(chromedp.ID("comment"), comment)); err != nil {
		t.Fatal(err)
	}
	resp, err = chromedp.RunResponse(page, chromedp.Click(chromedp.CSS(`button[name=decision][value=approve]`)))
	if err != nil {
		t.Fatalf("click Approve: %v", err)
	}
	shot(t, page, dir, "approved")
	if resp.Status != 200 {
		t.Fatalf("after Approve: status %d, want 200; page: %s", resp.Status, text(t, page, "main"))
	}
	confirmation(t, page, "Approved", "You approved hello version "+version, comment)

	// The promotion continues: the decision reached Step Functions, which
	// recorded it, moved prod and finished.
	end := w.waitEnded(t, ctx, rel.claims.Execution)
	if end.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s, want SUCCEEDED (error %q: %s)", end.Status, aws.ToString(end.Error), aws.ToString(end.Cause))
	}
	entered := w.statesEntered(t, ctx, rel.claims.Execution)
	if !inOrder(entered, "RequestApproval", "RecordApproval", "BeginShift", "Finalize", "Completed") {
		t.Errorf("states entered = %q, want RequestApproval → RecordApproval → BeginShift → Finalize → Completed", entered)
	}
	if v, routing := w.prod(t, ctx); v != version || len(routing) != 0 {
		t.Errorf("prod = version %s with routing %v, want version %s alone", v, routing, version)
	}
	if a := w.askProd(t, b); a.Message != greeting(tag) || a.Version != version {
		t.Errorf("production answers %q from version %s, want %q from version %s", a.Message, a.Version, greeting(tag), version)
	}
	rec := w.waitAudit(t, ctx, rel.claims.Execution, audit.ApprovalGranted)
	if rec.Actor != approver || rec.Reason != comment || rec.ToVersion != version {
		t.Errorf("approval.granted: actor %q, reason %q, toVersion %q; want %q, %q, %q", rec.Actor, rec.Reason, rec.ToVersion, approver, comment, version)
	}
	return rel
}

// reject is scenario 2: reject with a comment; prod stays where it was,
// and the other approver's link then says it is decided.
func reject(t *testing.T, ctx context.Context, w *world, b *Browser, dir string) {
	rel := w.merge(t, ctx, helloBuild(t, "rejected in a browser"), "c0ffee2", approver)
	version := rel.input.Version
	prodBefore, _ := w.prod(t, ctx)
	answerBefore := w.askProd(t, b)

	page := tab(t, b, 30*time.Second)
	resp, err := Open(page, rel.link)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 {
		t.Fatalf("status = %d, want 200; page: %s", resp.Status, text(t, page, "main"))
	}
	// A rejection says why, on the page as with the CLI (reject
	// --comment): without a comment the page comes back asking for one,
	// and nothing is decided.
	resp, err = chromedp.RunResponse(page, chromedp.Click(chromedp.CSS(`button[name=decision][value=reject]`)))
	if err != nil {
		t.Fatalf("click Reject without a comment: %v", err)
	}
	shot(t, page, dir, "reject-without-comment")
	if resp.Status != 400 {
		t.Errorf("Reject without a comment: status %d, want 400", resp.Status)
	}
	if got, want := text(t, page, "#form-error"), "To reject, say why in the comment"; !strings.HasPrefix(got, want) {
		t.Errorf("#form-error = %q, want it to start %q", got, want)
	}
	if out, err := w.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(rel.claims.Execution)}); err != nil || out.Status != sfntypes.ExecutionStatusRunning {
		t.Fatalf("after a rejection without a comment the promotion is %+v (%v), want still RUNNING", out, err)
	}
	comment := "Not this one: the greeting changed by mistake"
	if err := chromedp.Do(page, chromedp.SendKeys(chromedp.ID("comment"), comment)); err != nil {
		t.Fatal(err)
	}
	resp, err = chromedp.RunResponse(page, chromedp.Click(chromedp.CSS(`button[name=decision][value=reject]`)))
	if err != nil {
		t.Fatalf("click Reject: %v", err)
	}
	shot(t, page, dir, "rejected")
	if resp.Status != 200 {
		t.Fatalf("after Reject: status %d, want 200; page: %s", resp.Status, text(t, page, "main"))
	}
	confirmation(t, page, "Rejected", "You rejected hello version "+version+". prod stays as it is.", comment)
	// stg's state after the rejection, said plainly (the workflow leaves
	// stg on the rejected version).
	if got, want := text(t, page, "#stg-after"), "stg still serves version "+version+", the version you rejected, until the next release of hello moves it. prod stays on version "+prodBefore+"."; got != want {
		t.Errorf("#stg-after = %q, want %q", got, want)
	}

	end := w.waitEnded(t, ctx, rel.claims.Execution)
	if end.Status != sfntypes.ExecutionStatusFailed || aws.ToString(end.Error) != "Rejected" {
		t.Errorf("execution %s with error %q, want FAILED with Rejected", end.Status, aws.ToString(end.Error))
	}
	entered := w.statesEntered(t, ctx, rel.claims.Execution)
	if !inOrder(entered, "RequestApproval", "RecordRejection", "Rejected") || slices.Contains(entered, "BeginShift") {
		t.Errorf("states entered = %q, want RequestApproval → RecordRejection → Rejected and no BeginShift", entered)
	}
	if v, routing := w.prod(t, ctx); v != prodBefore || len(routing) != 0 {
		t.Errorf("prod = version %s with routing %v, want version %s untouched", v, routing, prodBefore)
	}
	if a := w.askProd(t, b); a != answerBefore {
		t.Errorf("production answers %+v after the rejection, want %+v as before", a, answerBefore)
	}
	rec := w.waitAudit(t, ctx, rel.claims.Execution, audit.ApprovalRejected)
	if rec.Actor != approver || rec.Reason != comment {
		t.Errorf("approval.rejected: actor %q, reason %q; want %q, %q", rec.Actor, rec.Reason, approver, comment)
	}

	// The second approver's own link, from their own e-mail.
	other := w.emailed(t, ctx, rel, second)
	if other.claims.Execution != rel.claims.Execution || other.claims.Approver != second {
		t.Fatalf("the second approver's link names %s for %s, want %s for %s", other.claims.Execution, other.claims.Approver, rel.claims.Execution, second)
	}
	page2 := tab(t, b, 20*time.Second)
	resp, err = Open(page2, other.link)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 409 {
		t.Errorf("the other approver's link: status %d, want 409", resp.Status)
	}
	problemPage(t, page2, "decided", "This release has already been decided", approver+" rejected it")

	// The decider's "Follow the promotion" link opens the same release's
	// page, which now says how it ended.
	resp, err = chromedp.RunResponse(page, chromedp.Click(chromedp.ID("follow")))
	if err != nil {
		t.Fatalf("click Follow the promotion: %v", err)
	}
	shot(t, page, dir, "followed")
	if resp.Status != 409 {
		t.Errorf("the follow link: status %d, want 409 (decided)", resp.Status)
	}
	problemPage(t, page, "decided", "This release has already been decided", "was rejected, so it was not promoted")
}

// testExpired is scenario 3: the approval times out; the e-mailed link
// then opens the expired page and decides nothing.
func testExpired(t *testing.T, b *Browser, dir string) {
	w := startWorld(t, expiringTarget)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rel := w.merge(t, ctx, helloBuild(t, "expired in a browser"), "c0ffee3", approver)

	end := w.waitEnded(t, ctx, rel.claims.Execution)
	if end.Status != sfntypes.ExecutionStatusFailed || aws.ToString(end.Error) != "ApprovalExpired" {
		t.Errorf("execution %s with error %q, want FAILED with ApprovalExpired", end.Status, aws.ToString(end.Error))
	}
	if now := time.Now(); now.Unix() < rel.claims.ExpiresAt {
		t.Fatalf("the approval timed out at %s before its link expired (%s)", now.UTC().Format(time.RFC3339), time.Unix(rel.claims.ExpiresAt, 0).UTC().Format(time.RFC3339))
	}

	page := tab(t, b, 20*time.Second)
	resp, err := Open(page, rel.link)
	if err != nil {
		t.Fatal(err)
	}
	shot(t, page, dir, "expired")
	if resp.Status != 410 {
		t.Errorf("status = %d, want 410 Gone", resp.Status)
	}
	problemPage(t, page, "expired", "This approval link has expired", "It expired "+time.Unix(rel.claims.ExpiresAt, 0).UTC().Format(pageTime))

	entered := w.statesEntered(t, ctx, rel.claims.Execution)
	if !inOrder(entered, "RequestApproval", "RecordExpiry", "ApprovalExpired") {
		t.Errorf("states entered = %q, want RequestApproval → RecordExpiry → ApprovalExpired", entered)
	}
	w.waitAudit(t, ctx, rel.claims.Execution, audit.ApprovalExpired)
	for _, r := range w.auditTrail(t, ctx, rel.claims.Execution) {
		if r.Event == audit.ApprovalGranted || r.Event == audit.ApprovalRejected {
			t.Errorf("an expired approval was decided: %s by %s", r.Event, r.Actor)
		}
	}
	if v, routing := w.prod(t, ctx); v != "1" || len(routing) != 0 {
		t.Errorf("prod = version %s with routing %v, want version 1 untouched", v, routing)
	}
}

// confirmation checks the page after a decision.
func confirmation(t *testing.T, page context.Context, heading, result, comment string) {
	t.Helper()
	got := texts(t, page)
	if h := text(t, page, "h1"); h != heading {
		t.Errorf("h1 = %q, want %q", h, heading)
	}
	if !strings.Contains(got["result"], result) {
		t.Errorf("#result = %q, want it to say %q", got["result"], result)
	}
	if got["decided-by"] != approver {
		t.Errorf("#decided-by = %q, want %q", got["decided-by"], approver)
	}
	if got["decided-comment"] != comment {
		t.Errorf("#decided-comment = %q, want %q", got["decided-comment"], comment)
	}
	if a := readA11y(t, page); a.H1 != 1 || a.Lang != "en" || a.Scripts != 0 || a.Forms != 0 {
		t.Errorf("confirmation page: %d h1, lang %q, %d scripts, %d forms; want 1, en, 0, 0", a.H1, a.Lang, a.Scripts, a.Forms)
	}
}

// problemPage checks a refusal page: its kind, heading and message, and
// that it offers nothing to decide with.
func problemPage(t *testing.T, page context.Context, kind, heading, message string) {
	t.Helper()
	if h := text(t, page, "h1"); h != heading {
		t.Errorf("h1 = %q, want %q", h, heading)
	}
	k, err := chromedp.Run(page, chromedp.Evaluate[string](`(document.getElementById('problem') || {dataset: {}}).dataset.kind || ''`))
	if err != nil {
		t.Fatal(err)
	}
	if k != kind {
		t.Errorf("problem kind = %q, want %q", k, kind)
	}
	if p := text(t, page, "#problem"); !strings.Contains(p, message) {
		t.Errorf("#problem = %q, want it to say %q", p, message)
	}
	if n := text(t, page, "#next"); n == "" || n == "(missing)" {
		t.Error("the page does not say what to do next")
	}
	if a := readA11y(t, page); a.Forms != 0 || a.H1 != 1 || a.Lang != "en" || a.Scripts != 0 {
		t.Errorf("%s page: %d forms, %d h1, lang %q, %d scripts; want 0, 1, en, 0", kind, a.Forms, a.H1, a.Lang, a.Scripts)
	}
}

// inOrder reports whether want appear in got in that order (not
// necessarily next to each other).
func inOrder(got []string, want ...string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// onFirstScreen checks that the Approve and Reject buttons are entirely
// within the viewport of the page as it opens, not scrolled.
func onFirstScreen(t *testing.T, page context.Context, what string) {
	t.Helper()
	type screen struct {
		ScrollY float64   `json:"scrollY"`
		Height  float64   `json:"height"`
		Bottoms []float64 `json:"bottoms"`
	}
	got, err := chromedp.Run(page, chromedp.Evaluate[screen](`({scrollY: window.scrollY, height: window.innerHeight,
		bottoms: [...document.querySelectorAll('button[name=decision]')].map(b => b.getBoundingClientRect().bottom)})`))
	if err != nil {
		t.Fatal(err)
	}
	if got.ScrollY != 0 || len(got.Bottoms) != 2 {
		t.Fatalf("at %s: scrolled %.0f px, %d decision buttons; want the page as opened with 2", what, got.ScrollY, len(got.Bottoms))
	}
	for i, b := range got.Bottoms {
		if b > got.Height {
			t.Errorf("at %s decision button %d ends at %.0f px, below the first screen (%.0f px)", what, i+1, b, got.Height)
		}
	}
}
