package approval

import (
	"bytes"
	"context"
	"go/format"
	"os"
	"strings"
	"testing"

	"github.com/a-h/templ"
	"github.com/a-h/templ/generator"
	parser "github.com/a-h/templ/parser/v2"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

func render(t *testing.T, title string, c templ.Component) string {
	t.Helper()
	body, err := renderPage(context.Background(), title, c)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestPagesEscapeEverythingTheyShow: every field comes from a build, an
// approver or a check's output; none may become markup, and no link may
// carry a script URL.
func TestPagesEscapeEverythingTheyShow(t *testing.T) {
	evil := `<script>alert(1)</script>"'&`
	pages := map[string]string{
		"approve": render(t, evil, approvePage(approveView{Function: evil, Version: evil, CodeSha256: evil, Commit: evil, Build: evil,
			Requesters: []Requester{{Label: evil, Name: evil, Note: evil, ID: evil}, {Label: evil, Name: evil, Note: evil, ID: evil, Verified: true}},
			CommitURL:  "javascript:alert(1)", ProdCommit: evil, ProdCommitURL: "javascript:alert(2)", CompareURL: "javascript:alert(3)",
			Account: evil, Region: evil, Environment: evil, Criteria: evil,
			Smoke: &promotion.SmokeResult{Checks: []promotion.CheckResult{{Name: evil, Detail: evil}}},
			Prod:  evil, Stg: evil, Strategy: evil, Approver: evil, Others: []string{evil}, RequestedAt: evil, ExpiresAt: evil,
			Remaining: evil, Link: evil, Title: evil, Author: evil, Consequence: evil, Error: evil, Comment: evil, BuildURL: "javascript:alert(4)"})),
		"done":     render(t, evil, donePage(doneView{Approved: true, Function: evil, Version: evil, Approver: evil, Comment: evil, DecidedAt: evil, Strategy: evil, Follow: "javascript:alert(5)"})),
		"rejected": render(t, evil, donePage(doneView{Function: evil, Version: evil, Approver: evil, Comment: evil, DecidedAt: evil, StgAfter: evil, Follow: evil})),
		"problem":  render(t, evil, problemPage(problemView{Kind: evil, Title: evil, Detail: evil, Next: evil})),
	}
	for name, body := range pages {
		if strings.Contains(body, "<script") || strings.Contains(body, `"'&`) || strings.Contains(body, "javascript:") {
			t.Errorf("%s page lets markup or a script URL through:\n%s", name, body)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;") {
			t.Errorf("%s page does not show the escaped text:\n%s", name, body)
		}
	}
}

// The decision comes first: the form is the first thing after the
// summary, before the evidence (issue 13: the buttons were below the fold).
func TestApprovePageAsksFirst(t *testing.T) {
	repo := &config.Repository{CommitURL: "https://git.example.com/acme/hello/commit/{commit}", CompareURL: "https://git.example.com/acme/hello/compare/{from}...{to}"}
	body := render(t, "x", approvePage(approveView{Function: "hello", Version: "2", Commit: "2222222222222222", CommitURL: repo.Commit("2222222222222222"),
		ProdCommit: "1111", ProdCommitURL: repo.Commit("1111"), CompareURL: repo.Compare("1111", "2222222222222222"),
		Account: "123456789012", Region: "eu-west-1", Environment: "production", Others: []string{"b@example.com", "c@example.com"},
		Criteria: "Alarms watched: hello-errors",
		Smoke:    &promotion.SmokeResult{Passed: true, Checks: []promotion.CheckResult{{Name: "says hello", Passed: true, LatencyMs: 12}}}}))
	for _, want := range []string{`<form id="decision" method="post">`, `<textarea id="comment" name="comment"`,
		`<label for="comment">`, `name="decision" value="approve"`, `name="decision" value="reject"`,
		`All 1 checks passed.`, `<td class="num">12 ms</td>`, `Also asked: b@example.com, c@example.com.`,
		`href="https://git.example.com/acme/hello/commit/2222222222222222"`, `href="https://git.example.com/acme/hello/commit/1111"`,
		`href="https://git.example.com/acme/hello/compare/1111...2222222222222222"`,
		`prod of hello in production, account 123456789012, eu-west-1`, `hello-errors`} {
		if !strings.Contains(body, want) {
			t.Errorf("approve page lacks %q", want)
		}
	}
	form, evidence := strings.Index(body, `<form id="decision"`), strings.Index(body, `id="release-h"`)
	if form < 0 || evidence < 0 || form > evidence {
		t.Errorf("the decision form (at %d) must come before the evidence (at %d)", form, evidence)
	}
}

// page_templ.go is what templ generates from page.templ today: a change
// to the markup without `templ generate` fails here.
func TestGeneratedMarkupIsFresh(t *testing.T) {
	tf, err := parser.Parse("page.templ")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := generator.Generate(tf, &b, generator.WithVersion(templ.Version()), generator.WithFileName("page.templ")); err != nil {
		t.Fatal(err)
	}
	want, err := format.Source(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("page_templ.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("page_templ.go is stale: run `go run github.com/a-h/templ/cmd/templ@v0.3.1100 generate -path ./shared/approval` and commit it")
	}
}
