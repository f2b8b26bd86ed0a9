package approval_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

func getReq(link string) events.APIGatewayProxyRequest {
	r := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/", Headers: map[string]string{"Accept": "text/html"}}
	if link != "" {
		r.QueryStringParameters = map[string]string{"t": link}
		r.MultiValueQueryStringParameters = map[string][]string{"t": {link}}
	}
	return r
}

func postReq(link, decision, comment string) events.APIGatewayProxyRequest {
	form := url.Values{"t": {link}, "decision": {decision}, "comment": {comment}}
	return events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/",
		Headers: map[string]string{"content-type": "application/x-www-form-urlencoded"}, Body: form.Encode()}
}

// tamper swaps the claims of a genuine link for others, keeping its signature.
func tamper(t *testing.T, genuine string, approver string) string {
	t.Helper()
	payload, sig, _ := strings.Cut(genuine, ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	var c approval.Claims
	json.Unmarshal(raw, &c)
	c.Approver = approver
	raw, _ = json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(raw) + "." + sig
}

// problemKind reads the data-kind of an error page.
var kindRE = regexp.MustCompile(`data-kind="([a-z-]+)"`)

func pageKind(body string) string {
	if m := kindRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

func TestRefusedLinks(t *testing.T) {
	valid := func(t *testing.T) string { return link(t, testKey, execARN, alice, entered.Add(time.Hour)) }
	tests := []struct {
		name       string
		setup      func(t *testing.T, e *env)
		link       func(t *testing.T) string
		method     string
		wantStatus int
		wantKind   string
		wantText   string
	}{
		{name: "forged signature", link: func(t *testing.T) string {
			return link(t, "another-key-0123456789abcdef", execARN, alice, entered.Add(time.Hour))
		}, wantStatus: 403, wantKind: "forged"},
		{name: "tampered payload", link: func(t *testing.T) string { return tamper(t, valid(t), bob) }, wantStatus: 403, wantKind: "forged"},
		{name: "garbage", link: func(*testing.T) string { return "not-a-link" }, wantStatus: 403, wantKind: "forged"},
		{name: "signature cut off", link: func(t *testing.T) string { l := valid(t); return l[:len(l)-3] }, wantStatus: 403, wantKind: "forged"},
		{name: "expired", setup: func(_ *testing.T, e *env) { e.now = entered.Add(2 * time.Hour) }, link: valid, wantStatus: 410, wantKind: "expired",
			wantText: "before anyone decided on hello version 7 here"},
		{name: "wrong approver", link: func(t *testing.T) string {
			return link(t, testKey, execARN, "mallory@example.com", entered.Add(time.Hour))
		}, wantStatus: 403, wantKind: "wrong-approver", wantText: "mallory@example.com is not among the approvers of hello"},
		{name: "already decided", setup: func(t *testing.T, e *env) {
			out, _ := json.Marshal(promotion.Decision{Approved: true, Approver: bob, Via: "cli", DecidedAt: entered.Add(time.Minute)})
			if _, err := e.sb.SFN.SendTaskSuccess(context.Background(), &sfn.SendTaskSuccessInput{TaskToken: aws.String(e.token), Output: aws.String(string(out))}); err != nil {
				t.Fatal(err)
			}
			e.sb.Request(t, execARN, promotion.ActionGranted, 1)
		}, link: valid, wantStatus: 409, wantKind: "decided", wantText: "bob@example.com approved it with the aliasflow command line"},
		{name: "approval timed out", setup: func(t *testing.T, e *env) {
			e.sb.Clock.Advance(time.Duration(testState().Target.ApprovalTimeoutSeconds) * time.Second)
			e.sb.Request(t, execARN, promotion.ActionExpired, 1)
		}, link: valid, wantStatus: 410, wantKind: "expired", wantText: "approval request of hello version 7 timed out"},
		{name: "execution ended", setup: func(t *testing.T, e *env) { e.stop(t, execARN, "", "") },
			link: valid, wantStatus: 410, wantKind: "ended", wantText: "An operator stopped the promotion of hello version 7"},
		// The definition rolls back only after an approval: the link says it
		// was decided, and how it ended.
		{name: "rolled back", setup: func(t *testing.T, e *env) {
			// Approved, and the first weight fails to set: the definition
			// rolls back and fails RolledBack.
			e.sb.Handle(promotion.ActionGranted, sandboxtest.Return(map[string]any{}))
			e.sb.Handle(promotion.ActionBegin, sandboxtest.Return(promotion.Shift{StableVersion: "6", Weight: 0.1, BakeSeconds: 300}))
			e.sb.Handle(promotion.ActionSetWeight, sandboxtest.FunctionError("aliasflow.TaskFailed", "prod moved by hand"))
			e.sb.Handle(promotion.ActionRollback, sandboxtest.Return(map[string]any{}))
			out, _ := json.Marshal(promotion.Decision{Approved: true, Approver: bob, Via: "cli", DecidedAt: entered.Add(time.Minute)})
			if _, err := e.sb.SFN.SendTaskSuccess(context.Background(), &sfn.SendTaskSuccessInput{TaskToken: aws.String(e.token), Output: aws.String(string(out))}); err != nil {
				t.Fatal(err)
			}
			e.sb.WaitStatus(t, execARN, "FAILED")
		}, link: valid, wantStatus: 409, wantKind: "decided", wantText: "Version 7 of hello was unhealthy while prod moved to it"},
		// A link to a superseded promotion says which newer version waits.
		{name: "superseded", setup: func(t *testing.T, e *env) {
			st := testState()
			st.Version = "8"
			newer, _ := e.sb.StartWaiting(t, "hello-v8-0b0b0b0b", st.Input)
			e.stop(t, execARN, promotion.ErrSuperseded, "superseded by "+newer+" (version 8)")
		}, link: valid, wantStatus: 410, wantKind: "superseded", wantText: "Version 8 of hello replaced hello version 7 before anyone decided, and version 8 is waiting for approval now"},
		{name: "execution unknown", link: func(t *testing.T) string {
			return link(t, testKey, sandboxtest.ExecutionARN("gone"), alice, entered.Add(time.Hour))
		}, wantStatus: 410, wantKind: "ended"},
		{name: "no link", link: func(*testing.T) string { return "" }, wantStatus: 400, wantKind: "bad-request"},
	}
	for _, tc := range tests {
		for _, method := range []string{"GET", "POST"} {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				e := newEnv(t)
				if tc.setup != nil {
					tc.setup(t, e)
				}
				sentBefore := len(e.sfn.Sent)
				req := getReq(tc.link(t))
				if method == "POST" {
					req = postReq(tc.link(t), "approve", "")
				}
				resp := e.h.ServeAPIGateway(context.Background(), req)
				if resp.StatusCode != tc.wantStatus {
					t.Errorf("status = %d, want %d\n%s", resp.StatusCode, tc.wantStatus, resp.Body)
				}
				if got := pageKind(resp.Body); got != tc.wantKind {
					t.Errorf("page kind = %q, want %q", got, tc.wantKind)
				}
				if tc.wantText != "" && !strings.Contains(resp.Body, tc.wantText) {
					t.Errorf("page lacks %q:\n%s", tc.wantText, resp.Body)
				}
				if !strings.Contains(resp.Body, "What to do next") {
					t.Errorf("error page does not say what to do next")
				}
				// Plain words: no raw execution status, and no command line
				// for an approver who may have no AWS identity (issue 13).
				for _, raw := range []string{"SUCCEEDED", "ABORTED", "FAILED", "TIMED_OUT", "aliasflow release", "aliasflow status", "aliasflow history", "aliasflow approve"} {
					if strings.Contains(resp.Body, raw) {
						t.Errorf("error page says %q:\n%s", raw, resp.Body)
					}
				}
				if got := len(e.sfn.Sent); got != sentBefore {
					t.Errorf("SendTask* accepted %d calls, want none", got-sentBefore)
				}
				if e.sfn.Calls["SendTaskSuccess"]+e.sfn.Calls["SendTaskFailure"] > 0 && tc.name != "already decided" {
					t.Errorf("SendTask* called for a refused link: %v", e.sfn.Calls)
				}
				assertSecurityHeaders(t, resp)
				assertNoToken(t, e, resp)
			})
		}
	}
}

func assertSecurityHeaders(t *testing.T, resp events.APIGatewayProxyResponse) {
	t.Helper()
	want := map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
	}
	for k, v := range want {
		if got := resp.Headers[k]; got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	csp := resp.Headers["Content-Security-Policy"]
	for _, d := range []string{"default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q allows inline style or scripts", csp)
	}
	// The inline style is allowed by its hash, and the hash is right.
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(resp.Body)
	if m == nil {
		t.Fatalf("page has no <style>")
	}
	sum := sha256.Sum256([]byte(m[1]))
	if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, "style-src "+h) {
		t.Errorf("CSP %q does not allow the page's style (hash %s)", csp, h)
	}
	// A link (<a href>) is navigation the approver chooses; an asset
	// (<link>, src=) would load by itself.
	if strings.Contains(resp.Body, "<script") || strings.Contains(resp.Body, "src=") || strings.Contains(resp.Body, "<link") {
		t.Errorf("page loads scripts or external assets")
	}
}

func assertNoToken(t *testing.T, e *env, resp events.APIGatewayProxyResponse) {
	t.Helper()
	if strings.Contains(resp.Body, e.token) {
		t.Errorf("page contains the task token")
	}
	if strings.Contains(e.logs.String(), e.token) {
		t.Errorf("logs contain the task token:\n%s", e.logs)
	}
}

func TestApprovalPage(t *testing.T) {
	e := newEnv(t)
	l := link(t, testKey, execARN, alice, entered.Add(time.Hour))
	resp := e.h.ServeAPIGateway(context.Background(), getReq(l))
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d, want 200\n%s", resp.StatusCode, resp.Body)
	}
	for _, want := range []string{
		`<html lang="en">`, `name="viewport"`,
		`<h1>Approve hello version 7 for prod?</h1>`,
		`<dd id="function">hello</dd>`, `<dd id="version">7</dd>`,
		`Wl7kT1tLGVtT4nQo2rXKGqX5CkSx3vYH9mX8cWm7QxE=`, `9f2c1e4b7a`, `hello-build:0b6f2a4e`, `<dd id="merged-by">dana@example.com</dd>`,
		`All 2 checks passed.`, `<th scope="row">greets</th>`, `41 ms`, `body contains &#34;Hello from Lambda World&#34;`, `status-200`, `87 ms`,
		`<dd id="serving-prod">version 6</dd>`, `<dd id="serving-stg">version 7</dd>`,
		`<span id="strategy">canary: 10% of prod traffic for 5 minutes, then 100% (plan: 10% → analysis 5m → 100%)</span>`,
		// The health criteria that will be applied (issue 10).
		`<span id="criteria">Each step is judged on its own exposure`, `significantly more than 5 % above the stable version`,
		`at least 20 invocations`, `Too little evidence keeps a step baking, up to`,
		`Also asked: bob@example.com`, `<strong id="approver">alice@example.com</strong>`,
		`Sat 21 Nov 2026, 07:00 UTC`, `50m left`,
		`<form id="decision" method="post">`, `<label for="comment">`, `<textarea id="comment" name="comment"`,
		`<button type="submit" name="decision" value="approve"`, `<button type="submit" name="decision" value="reject"`,
		`name="t" value="` + l + `"`,
	} {
		if !strings.Contains(resp.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if len(e.sfn.Sent) != 0 {
		t.Errorf("a GET sent %d task answers; it must decide nothing", len(e.sfn.Sent))
	}
	assertSecurityHeaders(t, resp)
	assertNoToken(t, e, resp)
}

func TestApprovalPageShowsWeightedProd(t *testing.T) {
	e := newEnv(t)
	// Swap the Lambda for one whose prod is mid-shift.
	e.h = approval.New(e.sfn, nil, lambdaWith(t, map[string]string{"prod": "5"}, map[string]float64{"6": 0.25}).Client, approval.StaticKey(testKey), nil, nil,
		&approval.Options{Now: func() time.Time { return now0 }, Settings: e.settings})
	resp := e.h.ServeAPIGateway(context.Background(), getReq(link(t, testKey, execARN, alice, entered.Add(time.Hour))))
	for _, want := range []string{`<dd id="serving-prod">version 5 (75%) and version 6 (25%)</dd>`, `<dd id="serving-stg">no stg alias yet</dd>`} {
		if !strings.Contains(resp.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// The page links the release's commit, the commit prod runs (read from
// prod's version description, which the release Lambda writes) and the
// changes between them, from the target's repository templates; and says
// where prod is.
func TestApprovalPageLinksTheCommits(t *testing.T) {
	e := newEnv(t)
	st := testState()
	st.Target.Repository = &config.Repository{CommitURL: "https://github.com/acme/hello/commit/{commit}", CompareURL: "https://github.com/acme/hello/compare/{from}...{to}"}
	st.Target.Environment = "production"
	st.Target.Health = config.Health{Alarms: []string{"hello-errors"}, MaxErrorRate: 0.05, MinInvocations: 20, WindowSeconds: 300}
	arn := sandboxtest.ExecutionARN("hello-v7-77777777")
	e.wait(t, waiting{State: st, StateName: promotion.StateRequestApproval}, "hello-v7-77777777")
	lam := lambdaWith(t, nil, nil)
	lam.Deploy(t, "hello")
	if _, err := lam.Admin.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String("hello"),
		Description: aws.String(promotion.VersionDescription(promotion.Release{Commit: "1111aaaa", Build: "hello-build:1"}))}); err != nil {
		t.Fatal(err)
	}
	lam.SetAlias(t, "hello", "prod", "8", nil)
	e.h = approval.New(e.sfn, nil, lam.Client, approval.StaticKey(testKey), nil, nil, &approval.Options{Now: func() time.Time { return now0 }, Settings: e.settings})
	resp := e.h.ServeAPIGateway(context.Background(), getReq(link(t, testKey, arn, alice, entered.Add(time.Hour))))
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d\n%s", resp.StatusCode, resp.Body)
	}
	for _, want := range []string{
		`href="https://github.com/acme/hello/commit/9f2c1e4b7a"`, `href="https://github.com/acme/hello/commit/1111aaaa"`,
		`href="https://github.com/acme/hello/compare/1111aaaa...9f2c1e4b7a"`,
		`prod of hello in production, account 000000000000, us-east-1`,
		`Alarms watched: hello-errors`, `at least 20 invocations`,
	} {
		if !strings.Contains(resp.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestDecideOnce(t *testing.T) {
	tests := []struct {
		name     string
		decision string
		stale    bool
	}{
		{"approve", "approve", false},
		{"reject", "reject", false},
		{"approve, losing a race the history does not show yet", "approve", true},
		{"reject, losing a race the history does not show yet", "reject", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.sfn.stale = tc.stale
			l := link(t, testKey, execARN, alice, entered.Add(time.Hour))
			req := postReq(l, tc.decision, "  Latency fine. <b>ship</b>  ")
			req.RequestContext.Identity = events.APIGatewayRequestIdentity{SourceIP: "198.51.100.7", UserAgent: "Mozilla/5.0"}
			resp := e.h.ServeAPIGateway(context.Background(), req)
			if resp.StatusCode != 200 {
				t.Fatalf("first POST status = %d, want 200\n%s", resp.StatusCode, resp.Body)
			}
			assertSecurityHeaders(t, resp)
			if len(e.sfn.Sent) != 1 {
				t.Fatalf("sent %d answers, want 1", len(e.sfn.Sent))
			}
			s := e.sfn.Sent[0]
			if s.Token != e.token {
				t.Errorf("answered token %q, want the pending task's", s.Token)
			}
			raw := s.Output
			if tc.decision == "reject" {
				raw = s.Cause
				if s.Success || s.Error != promotion.ErrRejected {
					t.Errorf("reject sent success=%v error=%q, want SendTaskFailure %s", s.Success, s.Error, promotion.ErrRejected)
				}
			} else if !s.Success {
				t.Errorf("approve sent a failure")
			}
			var d promotion.Decision
			if err := json.Unmarshal([]byte(raw), &d); err != nil {
				t.Fatalf("decision %q: %v", raw, err)
			}
			// Where the decision came from is recorded with it (issue 18).
			want := promotion.Decision{Approved: tc.decision == "approve", Approver: alice, Comment: "Latency fine. <b>ship</b>", Via: "link", RequestedAt: entered, DecidedAt: now0,
				SourceIP: "198.51.100.7", UserAgent: "Mozilla/5.0"}
			if !reflect.DeepEqual(d, want) {
				t.Errorf("decision = %+v\nwant       %+v", d, want)
			}
			heading := map[string]string{"approve": "<h1>Approved</h1>", "reject": "<h1>Rejected</h1>"}[tc.decision]
			if !strings.Contains(resp.Body, heading) || !strings.Contains(resp.Body, "Latency fine. &lt;b&gt;ship&lt;/b&gt;") {
				t.Errorf("confirmation lacks %s and the escaped comment:\n%s", heading, resp.Body)
			}
			if !strings.Contains(e.logs.String(), `"msg":"approval decided"`) {
				t.Errorf("decision not logged:\n%s", e.logs)
			}

			// Replays, of either decision, change nothing.
			for _, again := range []string{"approve", "reject"} {
				resp = e.h.ServeAPIGateway(context.Background(), postReq(l, again, "once more"))
				if resp.StatusCode != 409 || pageKind(resp.Body) != "decided" {
					t.Errorf("replayed %s: status %d kind %q, want 409 decided", again, resp.StatusCode, pageKind(resp.Body))
				}
			}
			if len(e.sfn.Sent) != 1 {
				t.Errorf("after replays %d answers were accepted, want 1", len(e.sfn.Sent))
			}
			assertNoToken(t, e, resp)
		})
	}
}

func TestBadDecisionRequests(t *testing.T) {
	l := func(t *testing.T) string { return link(t, testKey, execARN, alice, entered.Add(time.Hour)) }
	tests := []struct {
		name       string
		req        func(t *testing.T) events.APIGatewayProxyRequest
		wantStatus int
		wantText   string
	}{
		{"unknown decision", func(t *testing.T) events.APIGatewayProxyRequest { return postReq(l(t), "maybe", "") }, 400, "Decision must be approve or reject"},
		{"no decision", func(t *testing.T) events.APIGatewayProxyRequest {
			r := postReq(l(t), "", "")
			r.Body = url.Values{"t": {l(t)}}.Encode()
			return r
		}, 400, "Decision must be approve or reject"},
		{"two different decisions", func(t *testing.T) events.APIGatewayProxyRequest {
			r := postReq(l(t), "approve", "")
			r.Body += "&decision=reject"
			return r
		}, 400, "two different"},
		{"json body", func(t *testing.T) events.APIGatewayProxyRequest {
			r := postReq(l(t), "approve", "")
			r.Headers = map[string]string{"Content-Type": "application/json"}
			return r
		}, 415, "application/x-www-form-urlencoded"},
		{"comment too long", func(t *testing.T) events.APIGatewayProxyRequest {
			return postReq(l(t), "approve", strings.Repeat("é", approval.MaxCommentRunes+1))
		}, 400, "at most 2000"},
		{"body too large", func(t *testing.T) events.APIGatewayProxyRequest {
			return postReq(l(t), "approve", strings.Repeat("x", approval.MaxBodyBytes))
		}, 413, "too large"},
		{"bad base64", func(t *testing.T) events.APIGatewayProxyRequest {
			r := postReq(l(t), "approve", "")
			r.IsBase64Encoded = true
			r.Body = "%%%"
			return r
		}, 400, "base64"},
		{"put", func(t *testing.T) events.APIGatewayProxyRequest { r := getReq(l(t)); r.HTTPMethod = "PUT"; return r }, 405, "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			resp := e.h.ServeAPIGateway(context.Background(), tc.req(t))
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if !strings.Contains(resp.Body, tc.wantText) {
				t.Errorf("page lacks %q:\n%s", tc.wantText, resp.Body)
			}
			if e.sfn.Calls["SendTaskSuccess"]+e.sfn.Calls["SendTaskFailure"] != 0 {
				t.Errorf("a bad request reached SendTask*: %v", e.sfn.Calls)
			}
			assertSecurityHeaders(t, resp)
			if tc.wantStatus == 405 && resp.Headers["Allow"] != "GET, POST" {
				t.Errorf("Allow = %q, want GET, POST", resp.Headers["Allow"])
			}
		})
	}
}

func TestBase64FormBody(t *testing.T) {
	e := newEnv(t)
	r := postReq(link(t, testKey, execARN, alice, entered.Add(time.Hour)), "reject", "no")
	r.Body, r.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(r.Body)), true
	if resp := e.h.ServeAPIGateway(context.Background(), r); resp.StatusCode != 200 {
		t.Fatalf("status = %d, want 200\n%s", resp.StatusCode, resp.Body)
	}
	if len(e.sfn.Sent) != 1 || e.sfn.Sent[0].Error != promotion.ErrRejected {
		t.Errorf("sent = %+v, want one rejection", e.sfn.Sent)
	}
}

// TestRealEvents drives the Lambda entry point with API Gateway REST proxy
// events as API Gateway sends them.
func TestRealEvents(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		file       string
		wantStatus int
		wantText   string
		wantSent   int
	}{
		{"testdata/apigw-get.json", 200, "Approve hello version 7 for prod?", 0},
		{"testdata/apigw-post.json", 200, "<h1>Approved</h1>", 1},
		{"testdata/apigw-post.json", 409, "already been decided", 1},
	} {
		raw, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.h.Handle(context.Background(), raw)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		resp, ok := out.(events.APIGatewayProxyResponse)
		if !ok {
			t.Fatalf("%s: answer is %T, want an API Gateway response", tc.file, out)
		}
		if resp.StatusCode != tc.wantStatus || !strings.Contains(resp.Body, tc.wantText) {
			t.Errorf("%s: status %d, want %d with %q", tc.file, resp.StatusCode, tc.wantStatus, tc.wantText)
		}
		if len(e.sfn.Sent) != tc.wantSent {
			t.Errorf("%s: %d answers sent, want %d", tc.file, len(e.sfn.Sent), tc.wantSent)
		}
		// The response must survive the trip back through Lambda as JSON.
		if _, err := json.Marshal(resp); err != nil {
			t.Errorf("%s: response does not marshal: %v", tc.file, err)
		}
	}
	var d promotion.Decision
	json.Unmarshal([]byte(e.sfn.Sent[0].Output), &d)
	if d.Comment != "Latency looks fine on stg; ship it." || d.Approver != alice {
		t.Errorf("decision from the real POST = %+v", d)
	}
}
