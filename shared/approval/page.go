package approval

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The pages are written by hand (markup.go) rather than with html/template:
// its reflection keeps the linker from pruning unused methods and made the
// bootstrap 16 MB against a 10 MB budget.
//
//go:embed templates/style.css
var templateFS embed.FS

const timeFormat = "Mon 2 Jan 2006, 15:04 MST"

var (
	css = mustRead("templates/style.css")
	// The only style allowed is the embedded sheet, by its hash: no
	// 'unsafe-inline', no external assets, no script at all.
	contentSecurityPolicy = "default-src 'none'; style-src 'sha256-" + hashCSS(css) + "'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

func mustRead(name string) string {
	b, err := templateFS.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot fail at run time
	}
	return string(b)
}

func hashCSS(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// ContentSecurityPolicy is the policy every page is served with.
func ContentSecurityPolicy() string { return contentSecurityPolicy }

func securityHeaders() map[string]string {
	return map[string]string{
		"Content-Type":              "text/html; charset=utf-8",
		"Content-Security-Policy":   contentSecurityPolicy,
		"X-Content-Type-Options":    "nosniff",
		"Referrer-Policy":           "no-referrer", // the link in the URL is a bearer credential
		"Cache-Control":             "no-store",
		"X-Frame-Options":           "DENY",
		"Strict-Transport-Security": "max-age=31536000",
	}
}

// render wraps a page's content in the layout and the security headers.
func (h *Handler) render(status int, title, content string) events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: securityHeaders(), Body: layoutHTML(title, content)}
}

// approveView is the approval page's data.
type approveView struct {
	Function, Version, CodeSha256, Commit, Build, MergedBy string
	Smoke                                                  *promotion.SmokeResult
	Prod, Stg                                              string
	Strategy                                               string
	Criteria                                               string
	Approver                                               string
	Others                                                 []string
	RequestedAt, ExpiresAt, Remaining                      string
	Link                                                   string
}

func (h *Handler) approvePage(ctx context.Context, a authorized, link string) events.APIGatewayProxyResponse {
	st := a.p.Input
	now := h.d.Now()
	expires := a.p.ExpiresAt()
	if expires.IsZero() {
		expires = a.p.EnteredTime.Add(secondsDuration(st.Target.ApprovalTimeoutSeconds))
	}
	v := approveView{
		Function: st.Function, Version: st.Version,
		CodeSha256: st.Release.CodeSha256, Commit: st.Release.Commit, Build: st.Release.Build, MergedBy: st.Release.RequestedBy,
		Smoke:       st.Smoke,
		Prod:        h.serving(ctx, st.Function, promotion.AliasProd),
		Stg:         h.serving(ctx, st.Function, promotion.AliasStg),
		Strategy:    StrategyText(st.Target.Strategy),
		Criteria:    criteria(st.Target),
		Approver:    a.approver,
		Others:      Others(st.Target.Approvers, a.approver),
		RequestedAt: a.p.EnteredTime.UTC().Format(timeFormat),
		ExpiresAt:   expires.UTC().Format(timeFormat),
		Remaining:   Remaining(expires, now),
		Link:        link,
	}
	return h.render(http.StatusOK, fmt.Sprintf("Approve %s version %s", st.Function, st.Version), v.html())
}

// criteria is how the shift will judge each step; nothing for all at once.
func criteria(t config.Target) string {
	if t.Strategy.Type == config.AllAtOnce || t.Strategy.Type == "" {
		return ""
	}
	t.ApplyDefaults()
	return t.Health.Criteria()
}

// serving describes what an alias serves now, for the page.
func (h *Handler) serving(ctx context.Context, function, alias string) string {
	if h.d.Lambda == nil {
		return "unknown"
	}
	out, err := h.d.Lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(function), Name: aws.String(alias)})
	if err != nil {
		var nf *lambdatypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return "no " + alias + " alias yet"
		}
		h.d.Log.WarnContext(ctx, "approval page: alias not read", "function", function, "alias", alias, "error", err.Error())
		return "unknown (the alias could not be read)"
	}
	return describeAlias(aws.ToString(out.FunctionVersion), out.RoutingConfig)
}

// describeAlias reads "version 6", or with routing "version 6 (90%) and
// version 7 (10%)".
func describeAlias(version string, rc *lambdatypes.AliasRoutingConfiguration) string {
	if rc == nil || len(rc.AdditionalVersionWeights) == 0 {
		return "version " + version
	}
	rest := 1.0
	var extra []string
	for v, w := range rc.AdditionalVersionWeights {
		rest -= w
		extra = append(extra, fmt.Sprintf("version %s (%s)", v, percent(w)))
	}
	sort.Strings(extra)
	return fmt.Sprintf("version %s (%s) and %s", version, percent(rest), strings.Join(extra, " and "))
}

func percent(w float64) string {
	return strconv.FormatFloat(w*100, 'f', -1, 64) + "%"
}

// doneView is the confirmation page's data.
type doneView struct {
	Approved  bool
	Function  string
	Version   string
	Approver  string
	Comment   string
	DecidedAt string
	Strategy  string
}

func (h *Handler) donePage(ctx context.Context, st promotion.State, d promotion.Decision) events.APIGatewayProxyResponse {
	title := "Rejected"
	if d.Approved {
		title = "Approved"
	}
	v := doneView{
		Approved: d.Approved, Function: st.Function, Version: st.Version, Approver: d.Approver, Comment: d.Comment,
		DecidedAt: d.DecidedAt.Format(timeFormat), Strategy: StrategyText(st.Target.Strategy),
	}
	return h.render(http.StatusOK, title, v.html())
}

// problemKind names a page that refuses a request.
type problemKind int

const (
	problemBadRequest problemKind = iota
	problemForged
	problemExpired
	problemWrongApprover
	problemDecided
	problemNotWaiting
	problemEnded
	problemMethod
	problemInternal
)

// problemView is an error page: what happened and what to do next.
type problemView struct {
	Kind   string
	Status int
	Title  string
	Detail string
	Next   string
}

var problems = map[problemKind]problemView{
	problemBadRequest: {Kind: "bad-request", Status: http.StatusBadRequest, Title: "This request could not be used",
		Next: "Open the link from your approval e-mail again, exactly as it was sent."},
	problemForged: {Kind: "forged", Status: http.StatusForbidden, Title: "This approval link is not valid",
		Detail: "The link is damaged or was not issued by aliasflow, so it cannot be used to decide anything.",
		Next:   "Open the link from your approval e-mail again; if it was copied by hand, copy all of it. If the e-mail itself was not expected, report it to your security team."},
	problemExpired: {Kind: "expired", Status: http.StatusGone, Title: "This approval link has expired",
		Next: "The release was not promoted. To ship it, start a new release (aliasflow release {function}) and you will get a new request."},
	problemWrongApprover: {Kind: "wrong-approver", Status: http.StatusForbidden, Title: "You are not an approver of this release",
		Next: "Ask one of the function's listed approvers to decide, or ask its owners to add you to the approvers in the aliasflow configuration."},
	problemDecided: {Kind: "decided", Status: http.StatusConflict, Title: "This release has already been decided",
		Next: "Nothing more is needed from you. Follow the promotion with: aliasflow status {function}."},
	problemNotWaiting: {Kind: "not-waiting", Status: http.StatusConflict, Title: "This release is not waiting for approval",
		Next: "Nothing can be decided here now. Check the promotion with: aliasflow status {function}."},
	problemEnded: {Kind: "ended", Status: http.StatusGone, Title: "This promotion has ended",
		Next: "Nothing can be decided any more. See what happened with: aliasflow history {function}; start a new release to try again."},
	problemMethod: {Kind: "method", Status: http.StatusMethodNotAllowed, Title: "This request is not supported",
		Next: "Open the link from your approval e-mail in a browser."},
	problemInternal: {Kind: "internal", Status: http.StatusInternalServerError, Title: "Something went wrong on our side",
		Detail: "Nothing was decided.",
		Next:   "Try again in a minute. If it keeps failing, an operator can decide with: aliasflow approve {function} (or reject)."},
}

func (h *Handler) problem(ctx context.Context, kind problemKind, detail string) events.APIGatewayProxyResponse {
	return h.problemFor(ctx, kind, detail, "")
}

// problemFor is problem for a known function: the next step names it
// instead of a placeholder.
func (h *Handler) problemFor(ctx context.Context, kind problemKind, detail, function string) events.APIGatewayProxyResponse {
	v := problems[kind]
	if detail != "" {
		v.Detail = detail
	}
	if function == "" {
		function = "<function>"
	}
	v.Next = strings.ReplaceAll(v.Next, "{function}", function)
	return h.render(v.Status, v.Title, v.html())
}

// sentence capitalises an error message for a page.
func sentence(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:] + "."
}

// problemStatus renders a request refused before the link was read.
func (h *Handler) problemStatus(ctx context.Context, status int, detail string) events.APIGatewayProxyResponse {
	v := problems[problemBadRequest]
	v.Status, v.Detail = status, sentence(detail)
	return h.render(status, v.Title, v.html())
}
