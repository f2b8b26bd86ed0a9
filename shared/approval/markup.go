package approval

import (
	"fmt"
	"html"
	"strings"
)

// esc escapes text for HTML element content and quoted attribute values.
func esc(s string) string { return html.EscapeString(s) }

// orText is s, or fallback when s is empty.
func orText(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// passFail is the CSS class of a passed or failed check.
func passFail(passed bool) string {
	if passed {
		return "pass"
	}
	return "fail"
}

// layoutHTML is the page around a page's content. The only style is the
// embedded sheet, allowed by its hash in the Content-Security-Policy.
func layoutHTML(title, content string) string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>`)
	b.WriteString(esc(title))
	b.WriteString(" · aliasflow</title>\n<style>")
	b.WriteString(css)
	b.WriteString(`</style>
</head>
<body>
<header class="site"><span class="brand">aliasflow</span> <span class="muted">release approval</span></header>
<main id="main">
`)
	b.WriteString(content)
	b.WriteString("</main>\n</body>\n</html>\n")
	return b.String()
}

func (v approveView) html() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("<h1>Approve %s version %s for prod?</h1>\n", esc(v.Function), esc(v.Version))
	w(`<p class="lead">You are asked as <strong id="approver">%s</strong>. This request expires <strong id="expires">%s</strong> (%s left).</p>`+"\n\n",
		esc(v.Approver), esc(v.ExpiresAt), esc(v.Remaining))

	w(`<section aria-labelledby="release-h">
<h2 id="release-h">Release</h2>
<dl class="facts">
<dt>Function</dt><dd id="function">%s</dd>
<dt>Version</dt><dd id="version">%s</dd>
<dt>CodeSha256</dt><dd id="code-sha256"><code>%s</code></dd>
<dt>Commit</dt><dd id="commit"><code>%s</code></dd>
<dt>Build</dt><dd id="build">%s</dd>
<dt>Merged by</dt><dd id="merged-by">%s</dd>
</dl>
</section>

`, esc(v.Function), esc(v.Version), esc(v.CodeSha256), esc(orText(v.Commit, "unknown")), esc(orText(v.Build, "unknown")), esc(orText(v.MergedBy, "unknown")))

	b.WriteString("<section aria-labelledby=\"smoke-h\">\n<h2 id=\"smoke-h\">Smoke tests against stg</h2>\n")
	if s := v.Smoke; s == nil {
		b.WriteString(`<p id="smoke-verdict" class="verdict">No smoke results were recorded.</p>` + "\n")
	} else {
		verdict := "Some checks failed."
		if s.Passed {
			verdict = fmt.Sprintf("All %d checks passed.", len(s.Checks))
		}
		w(`<p id="smoke-verdict" class="verdict %s">%s</p>`+"\n", passFail(s.Passed), verdict)
		if len(s.Checks) > 0 {
			b.WriteString(`<div class="table-wrap">
<table id="smoke-checks">
<thead><tr><th scope="col">Check</th><th scope="col">Result</th><th scope="col">Latency</th><th scope="col">Detail</th></tr></thead>
<tbody>
`)
			for _, c := range s.Checks {
				result := "Fail"
				if c.Passed {
					result = "Pass"
				}
				w(`<tr class="check %s">
<th scope="row">%s</th>
<td><span class="badge %s">%s</span></td>
<td class="num">%d ms</td>
<td class="detail">%s</td>
</tr>
`, passFail(c.Passed), esc(c.Name), passFail(c.Passed), result, c.LatencyMs, esc(c.Detail))
			}
			b.WriteString("</tbody>\n</table>\n</div>\n")
		}
	}
	b.WriteString("</section>\n\n")

	w(`<section aria-labelledby="serving-h">
<h2 id="serving-h">Serving now</h2>
<dl class="facts">
<dt>prod</dt><dd id="serving-prod">%s</dd>
<dt>stg</dt><dd id="serving-stg">%s</dd>
</dl>
</section>

<section aria-labelledby="plan-h">
<h2 id="plan-h">If you approve</h2>
<p><strong>Strategy:</strong> <span id="strategy">%s</span>. Health is watched while prod moves; trouble rolls it back.</p>
`, esc(v.Prod), esc(v.Stg), esc(v.Strategy))
	if v.Criteria != "" {
		w("<p><strong>Health criteria:</strong> <span id=\"criteria\">%s</span></p>\n", esc(v.Criteria))
	}
	b.WriteString("</section>\n\n")

	others := "You are the only approver."
	if len(v.Others) > 0 {
		escaped := make([]string, len(v.Others))
		for i, o := range v.Others {
			escaped[i] = esc(o)
		}
		others = "Also asked: " + strings.Join(escaped, ", ") + ". The first decision counts."
	}
	w(`<section aria-labelledby="who-h">
<h2 id="who-h">Who decides</h2>
<p id="others">%s</p>
<p>Requested %s; expires %s.</p>
</section>

<form id="decision" method="post">
<input type="hidden" name="t" value="%s">
<h2 id="decide-h">Your decision</h2>
<label for="comment">Comment <span class="muted">(optional, recorded in the audit trail)</span></label>
<textarea id="comment" name="comment" rows="4" maxlength="2000"></textarea>
<div class="actions">
<button type="submit" name="decision" value="approve" class="approve">Approve version %s</button>
<button type="submit" name="decision" value="reject" class="reject">Reject</button>
</div>
</form>
`, others, esc(v.RequestedAt), esc(v.ExpiresAt), esc(v.Link), esc(v.Version))
	return b.String()
}

func (v doneView) html() string {
	heading, result := "Rejected", fmt.Sprintf("You rejected %s version %s. prod stays as it is.", esc(v.Function), esc(v.Version))
	if v.Approved {
		heading, result = "Approved", fmt.Sprintf("You approved %s version %s. prod will now move (%s).", esc(v.Function), esc(v.Version), esc(v.Strategy))
	}
	return fmt.Sprintf(`<h1>%s</h1>
<p class="verdict %s" id="result">%s</p>
<dl class="facts">
<dt>Decided by</dt><dd id="decided-by">%s</dd>
<dt>At</dt><dd id="decided-at">%s</dd>
<dt>Comment</dt><dd id="decided-comment">%s</dd>
</dl>
<h2>What next</h2>
<p>Nothing more is needed from you; you can close this page. Follow the promotion with <code>aliasflow status %s</code>.</p>
`, heading, passFail(v.Approved), result, esc(v.Approver), esc(v.DecidedAt), esc(orText(v.Comment, "(none)")), esc(v.Function))
}

func (v problemView) html() string {
	return fmt.Sprintf(`<h1>%s</h1>
<p id="problem" class="problem" data-kind="%s">%s</p>
<h2>What to do next</h2>
<p id="next">%s</p>
`, esc(v.Title), esc(v.Kind), esc(v.Detail), esc(v.Next))
}
