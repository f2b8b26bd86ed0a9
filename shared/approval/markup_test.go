package approval

import (
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/promotion"
)

// TestPagesEscapeEverythingTheyShow: every field comes from a build, an
// approver or a check's output; none may become markup.
func TestPagesEscapeEverythingTheyShow(t *testing.T) {
	evil := `<script>alert(1)</script>"'&`
	pages := map[string]string{
		"approve": approveView{Function: evil, Version: evil, CodeSha256: evil, Commit: evil, Build: evil, MergedBy: evil,
			Smoke: &promotion.SmokeResult{Checks: []promotion.CheckResult{{Name: evil, Detail: evil}}},
			Prod:  evil, Stg: evil, Strategy: evil, Approver: evil, Others: []string{evil}, RequestedAt: evil, ExpiresAt: evil,
			Remaining: evil, Link: evil}.html(),
		"done":    doneView{Approved: true, Function: evil, Version: evil, Approver: evil, Comment: evil, DecidedAt: evil, Strategy: evil}.html(),
		"problem": problemView{Kind: evil, Title: evil, Detail: evil, Next: evil}.html(),
		"layout":  layoutHTML(evil, ""),
	}
	for name, body := range pages {
		if strings.Contains(body, "<script") || strings.Contains(body, `"'&`) {
			t.Errorf("%s page lets markup through:\n%s", name, body)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;") {
			t.Errorf("%s page does not show the escaped text:\n%s", name, body)
		}
	}
}

func TestApprovePageMarkupForTheBrowser(t *testing.T) {
	body := approveView{Function: "hello", Version: "2", Others: []string{"b@example.com", "c@example.com"},
		Smoke: &promotion.SmokeResult{Passed: true, Checks: []promotion.CheckResult{{Name: "says hello", Passed: true, LatencyMs: 12}}}}.html()
	for _, want := range []string{`<form id="decision" method="post">`, `<textarea id="comment" name="comment"`,
		`<label for="comment">`, `name="decision" value="approve"`, `name="decision" value="reject"`,
		`All 1 checks passed.`, `<td class="num">12 ms</td>`, `Also asked: b@example.com, c@example.com.`} {
		if !strings.Contains(body, want) {
			t.Errorf("approve page lacks %q", want)
		}
	}
}
