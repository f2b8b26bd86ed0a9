package approval_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-lambda-go/events"
)

// TestApprovalPageSaysWhatChanged (issue 23, item 4): the page shows the
// change's title and author as the release carries them, links the build,
// keeps configuration explanations and raw ARNs from approvers (an ARN is
// on hover and in a details element, behind a name), and says the plain
// consequence of the health criteria before the statistics.
func TestApprovalPageSaysWhatChanged(t *testing.T) {
	const userARN = "arn:aws:iam::123456789012:user/ben"
	const roleARN = "arn:aws:sts::123456789012:assumed-role/Deploy/ci-run-42"
	tests := []struct {
		name    string
		tune    func(*promotion.State)
		want    []string
		notWant []string
	}{
		{name: "title and author",
			tune: func(s *promotion.State) {
				s.Release.Title, s.Release.Author = "Greet in Portuguese (#42)", "Zoë Ångström <zoe@example.com>"
			},
			want: []string{`<span id="title">Greet in Portuguese (#42)</span>`, `<span id="author">Zoë Ångström &lt;zoe@example.com&gt;</span>`}},
		{name: "no title: nothing made up",
			notWant: []string{`id="title"`, `id="author"`}},
		{name: "a title with a control character is shown escaped",
			tune: func(s *promotion.State) { s.Release.Title = "ship\u202eit" },
			want: []string{`<span id="title">&#34;ship\u202eit&#34;</span>`}, notWant: []string{"\u202e"}},
		{name: "CodeBuild build linked to its console page",
			want: []string{`<a id="build" href="https://console.aws.amazon.com/codesuite/codebuild/projects/hello-build/build/hello-build%3A0b6f2a4e/?region=us-east-1" rel="noreferrer">hello-build:0b6f2a4e</a>`}},
		{name: "CI run linked as it is",
			tune: func(s *promotion.State) {
				s.Release.Source, s.Release.Build = "aliasflow", "https://github.com/acme/hello/actions/runs/42"
			},
			want: []string{`<a id="build" href="https://github.com/acme/hello/actions/runs/42" rel="noreferrer">https://github.com/acme/hello/actions/runs/42</a>`}},
		{name: "a build id that is no link stays text",
			tune: func(s *promotion.State) { s.Release.Source, s.Release.Build = "aliasflow", "42" },
			want: []string{`<span id="build">42</span>`}},
		{name: "no configuration explanations",
			notWant: []string{"not named in the settings", `id="environment"`, `id="prod-commit"`, "prod&#39;s commit"}},
		{name: "a requester's ARN behind a name",
			tune: func(s *promotion.State) {
				s.Release.Source, s.Release.RequestedBy, s.Release.VerifiedBy = "aliasflow", userARN, userARN
			},
			want:    []string{`<span title="` + userARN + `">ben</span>`, `<details class="arn"><summary>ARN</summary><code>` + userARN + `</code></details>`},
			notWant: []string{`<dd id="started-by">` + userARN}},
		{name: "an assumed role's session named with its role",
			tune: func(s *promotion.State) {
				s.Release.Source, s.Release.RequestedBy, s.Release.VerifiedBy = "aliasflow", roleARN, roleARN
			},
			want: []string{`<span title="` + roleARN + `">ci-run-42 (role Deploy)</span>`}},
		{name: "the consequence before the statistics",
			want: []string{`<p id="consequence">If version 7 fails its health checks while prod moves, prod goes back to version 6 by itself.</p>`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, func(w *waiting) {
				if tt.tune != nil {
					tt.tune(&w.State)
				}
			})
			resp := e.h.ServeAPIGateway(context.Background(), getReq(link(t, testKey, execARN, alice, entered.Add(time.Hour))))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200\n%s", resp.StatusCode, resp.Body)
			}
			for _, s := range tt.want {
				if !strings.Contains(resp.Body, s) {
					t.Errorf("page lacks %s\n%s", s, resp.Body)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(resp.Body, s) {
					t.Errorf("page has %q", s)
				}
			}
			if c, s := strings.Index(resp.Body, `id="consequence"`), strings.Index(resp.Body, `id="criteria"`); c < 0 || s < 0 || c > s {
				t.Errorf("the consequence (at %d) must come before the criteria (at %d)", c, s)
			}
		})
	}
}

// TestOneLabelForTheReleaser: the page and the e-mail call whoever asked
// for the release by the same label (the trial found "Released by" on one
// and "Merged by" on the other), and both show what changed.
func TestOneLabelForTheReleaser(t *testing.T) {
	e := newEnvWith(t, func(w *waiting) {
		w.State.Release.VerifiedBy = "codebuild-webhook"
		w.State.Release.Title, w.State.Release.Author = "Fix the greeting", "ana@example.com"
	})
	resp := e.h.ServeAPIGateway(context.Background(), getReq(link(t, testKey, execARN, alice, entered.Add(time.Hour))))
	st := testState()
	st.Release.VerifiedBy = "codebuild-webhook"
	st.Release.Title, st.Release.Author = "Fix the greeting", "ana@example.com"
	mail := approval.Body(st, alice, entered.Add(time.Hour), now0, approvalURL+"?t=x")
	who := approval.Requesters(st.Release)
	if len(who) != 2 {
		t.Fatalf("requesters = %+v, want the claim and the initiator", who)
	}
	for _, w := range who {
		if !strings.Contains(resp.Body, "<dt>"+w.Label+" ") {
			t.Errorf("page lacks the label %q", w.Label)
		}
		if !strings.Contains(mail, w.Label+":") {
			t.Errorf("e-mail lacks the label %q:\n%s", w.Label, mail)
		}
	}
	for _, s := range []string{"Title:        Fix the greeting", "Author:       ana@example.com"} {
		if !strings.Contains(mail, s) {
			t.Errorf("e-mail lacks %q:\n%s", s, mail)
		}
	}
	for _, label := range []string{"Merged by", "Released by"} {
		if strings.Contains(resp.Body, label) || strings.Contains(mail, label) {
			t.Errorf("page or e-mail says %q", label)
		}
	}
}

// TestRejectNeedsAComment: the page asks what the CLI asks (reject
// --comment is required): a rejection without a reason is refused, on the
// page as through the approval API, and nothing is sent. The page comes
// back with the form, saying what is missing.
func TestRejectNeedsAComment(t *testing.T) {
	tests := []struct {
		name     string
		decision string
		comment  string
		wantSent int
	}{
		{name: "reject without a comment", decision: "reject", comment: "", wantSent: 0},
		{name: "reject with only spaces", decision: "reject", comment: "   ", wantSent: 0},
		{name: "reject with a comment", decision: "reject", comment: "wrong greeting", wantSent: 1},
		{name: "approve without a comment", decision: "approve", comment: "", wantSent: 1},
	}
	for _, tc := range tests {
		t.Run("page: "+tc.name, func(t *testing.T) {
			e := newEnv(t)
			resp := e.h.ServeAPIGateway(context.Background(), postReq(link(t, testKey, execARN, alice, entered.Add(time.Hour)), tc.decision, tc.comment))
			if got := len(e.sfn.Sent); got != tc.wantSent {
				t.Fatalf("sent %d answers, want %d", got, tc.wantSent)
			}
			if tc.wantSent == 0 {
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("status = %d, want 400", resp.StatusCode)
				}
				for _, s := range []string{`<p id="form-error" class="verdict fail" role="alert">To reject, say why in the comment`, `<form id="decision" method="post">`} {
					if !strings.Contains(resp.Body, s) {
						t.Errorf("page lacks %s\n%s", s, resp.Body)
					}
				}
			} else if resp.StatusCode != http.StatusOK {
				t.Errorf("status = %d, want 200\n%s", resp.StatusCode, resp.Body)
			}
		})
		t.Run("API: "+tc.name, func(t *testing.T) {
			e := newEnv(t)
			withPrincipals(e, nil)
			action := map[string]string{"reject": approval.ActionReject, "approve": approval.ActionApprove}[tc.decision]
			resp := e.h.ServeAPIGateway(context.Background(), callerReq(approval.DecidePath, bobARN,
				approval.CallerRequest{Execution: execARN, Action: action, Comment: tc.comment}))
			if got := len(e.sfn.Sent); got != tc.wantSent {
				t.Fatalf("sent %d answers, want %d", got, tc.wantSent)
			}
			if tc.wantSent == 0 {
				var got approval.CallerResponse
				if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got.Error, "to reject, say why in the comment") {
					t.Errorf("status %d, error %q; want 400 saying a rejection needs a comment", resp.StatusCode, got.Error)
				}
			}
		})
	}
}

// TestDonePageSaysWhatNext: after a decision the page links to where the
// promotion can be followed (the same link, which then says how it
// stands), and after a rejection says plainly that stg still serves the
// rejected version.
func TestDonePageSaysWhatNext(t *testing.T) {
	tests := []struct {
		name     string
		decision string
		want     []string
		notWant  []string
	}{
		{name: "approved", decision: "approve", want: []string{`<a id="follow" href="?t=`}, notWant: []string{`id="stg-after"`}},
		{name: "rejected", decision: "reject", want: []string{`<a id="follow" href="?t=`,
			`<p id="stg-after">stg still serves version 7, the version you rejected, until the next release of hello moves it. prod stays on version 6.</p>`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			l := link(t, testKey, execARN, alice, entered.Add(time.Hour))
			resp := e.h.ServeAPIGateway(context.Background(), postReq(l, tc.decision, "why not"))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d\n%s", resp.StatusCode, resp.Body)
			}
			for _, s := range tc.want {
				if !strings.Contains(resp.Body, s) {
					t.Errorf("page lacks %s\n%s", s, resp.Body)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(resp.Body, s) {
					t.Errorf("page has %s", s)
				}
			}
			// Following the link opens the page of the decided release,
			// which says who decided and, once it ended, how.
			m := followRE.FindStringSubmatch(resp.Body)
			if m == nil {
				t.Fatal("no follow link")
			}
			q, err := url.ParseQuery(strings.TrimPrefix(html.UnescapeString(m[1]), "?"))
			if err != nil || q.Get("t") != l {
				t.Fatalf("follow link %q does not carry the approval link (%v)", m[1], err)
			}
			// Step Functions writes the decision into the history after
			// SendTask* returns (the sandbox, like AWS, a moment later):
			// until then the page still offers the form.
			var followed events.APIGatewayProxyResponse
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				followed = e.h.ServeAPIGateway(context.Background(), getReq(q.Get("t")))
				if pageKind(followed.Body) == "decided" || time.Now().After(deadline) {
					break
				}
			}
			if followed.StatusCode != http.StatusConflict || pageKind(followed.Body) != "decided" || !strings.Contains(followed.Body, alice+" "+tc.decision) {
				t.Errorf("followed: status %d kind %q, want 409 decided naming %s\n%s", followed.StatusCode, pageKind(followed.Body), alice, followed.Body)
			}
		})
	}
}

var followRE = regexp.MustCompile(`<a id="follow" href="([^"]*)"`)
