package approval

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/untrusted"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The pages' markup is page.templ, compiled by templ into page_templ.go.
//
//go:embed templates/style.css
var templateFS embed.FS

const timeFormat = "Mon 2 Jan 2006, 15:04 MST"

var (
	css = mustRead("templates/style.css")
	// styleElement is the one style element, written as is: its content
	// must hash to what the policy allows.
	styleElement = "<style>" + css + "</style>"
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
func (h *Handler) render(ctx context.Context, status int, title string, content templ.Component) events.APIGatewayProxyResponse {
	body, err := renderPage(ctx, title, content)
	if err != nil {
		// Rendering writes to memory; only a bug in a component gets here.
		h.d.Log.ErrorContext(ctx, "approval page not rendered", "error", err.Error())
		return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError, Headers: securityHeaders(),
			Body: "Something went wrong on our side. Nothing was decided; try again in a minute."}
	}
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: securityHeaders(), Body: body}
}

// renderPage renders a page: content inside the layout.
func renderPage(ctx context.Context, title string, content templ.Component) (string, error) {
	var b strings.Builder
	if err := layout(title).Render(templ.WithChildren(ctx, content), &b); err != nil {
		return "", err
	}
	return b.String(), nil
}

// approveView is the approval page's data.
type approveView struct {
	Function, Version, CodeSha256, Commit, Build string
	// BuildURL links the build (its CI run, or the CodeBuild console's
	// page of the build); empty when the build is not linkable.
	BuildURL string
	// Title and Author say what changed and who wrote it, as the release
	// carries them (through untrusted.Show); empty when not sent.
	Title, Author string
	// Consequence says in plain words what happens when the new version
	// fails its health checks, before the criteria's statistics.
	Consequence string
	// Error says why the last decision was not taken (a rejection without
	// a comment); Comment is the text the approver had written.
	Error, Comment string
	// Requesters are who asked for the release, claimed or verified.
	Requesters []Requester
	// CommitURL and ProdCommitURL link the commits, CompareURL the
	// changes from prod's commit to the release's (target's repository).
	CommitURL, ProdCommit, ProdCommitURL, CompareURL string
	Account, Region, Environment                     string
	Smoke                                            *promotion.SmokeResult
	Prod, Stg                                        string
	Strategy                                         string
	// Criteria is how the shift will judge each step (issue 10); empty
	// for all at once.
	Criteria                          string
	Approver                          string
	Others                            []string
	RequestedAt, ExpiresAt, Remaining string
	Link                              string
	// Approvals says, when the target needs more than one approval, how
	// many and who approved so far ("1 of 2 approvals so far: a@x");
	// empty when one decision is enough.
	Approvals string
	// Settings names the version of the target's settings parameter the
	// promotion runs under ("version 7"); empty when the release did not
	// say.
	Settings string
	// Group and Members are set for a group's release: every member with
	// its version and commit (Function and Version above are the first
	// member's).
	Group   string
	Members []memberView
	// Step names the approval step of the plan the page decides ("second
	// approval before 100 % — prod at 10 % for 5 minutes"); empty for the
	// approval before the first weight.
	Step string
}

// ApproveLabel is the approve button's text.
func (v approveView) ApproveLabel() string {
	if v.Group != "" {
		return fmt.Sprintf("Approve all %d functions", len(v.Members))
	}
	return "Approve version " + v.Version
}

// Question is the page's heading: the decision asked for.
func (v approveView) Question() string {
	if v.Step != "" {
		return "Approve " + v.Function + " version " + v.Version + ": " + v.Step + "?"
	}
	if v.Group != "" {
		return groupTitle(v.Group, len(v.Members))
	}
	return "Approve " + v.Function + " version " + v.Version + " for prod?"
}

// Where says in one line where prod is: the account, the region and the
// environment's name.
func (v approveView) Where() string {
	out := "prod of " + v.Function
	if v.Environment != "" {
		out += " in " + v.Environment
	}
	if v.Account != "" {
		out += ", account " + v.Account
	}
	if v.Region != "" {
		out += ", " + v.Region
	}
	return out
}

func (h *Handler) approvePage(ctx context.Context, a authorized, link string) events.APIGatewayProxyResponse {
	return h.approvePageWith(ctx, a, link, DecisionForm{}, nil)
}

// approvePageWith is the approval page again after a decision that was not
// taken: it says why (refused) and keeps what the approver had written.
func (h *Handler) approvePageWith(ctx context.Context, a authorized, link string, f DecisionForm, refused error) events.APIGatewayProxyResponse {
	st := a.p.Input
	now := h.d.Now()
	expires := a.p.ExpiresAt()
	if expires.IsZero() {
		expires = a.p.EnteredTime.Add(secondsDuration(st.Target.ApprovalTimeoutSeconds))
	}
	account, region := arnAccountRegion(a.claims.Execution)
	prod, prodVersion := h.serving(ctx, st.Function, promotion.AliasProd)
	stg, _ := h.serving(ctx, st.Function, promotion.AliasStg)
	prodCommit := h.commitOf(ctx, st.Function, prodVersion)
	repo := st.Target.Repository
	v := approveView{
		Function: st.Function, Version: st.Version,
		// What the release says of itself goes through untrusted.Show:
		// templ escapes markup, not a bidi override that reorders the text.
		CodeSha256: untrusted.Show(st.Release.CodeSha256), Commit: untrusted.Show(st.Release.Commit), Build: untrusted.Show(buildText(st.Release)),
		BuildURL: buildURL(st.Release, a.claims.Execution),
		Title:    untrusted.Show(st.Release.Title), Author: untrusted.Show(st.Release.Author),
		Consequence: consequence(st.Target, st.Version, prodVersion),
		Requesters:  Requesters(st.Release),
		CommitURL:   repo.Commit(st.Release.Commit), ProdCommit: prodCommit, ProdCommitURL: repo.Commit(prodCommit),
		CompareURL: repo.Compare(prodCommit, st.Release.Commit),
		Account:    account, Region: region, Environment: st.Target.Environment,
		Smoke:       st.Smoke,
		Prod:        prod,
		Stg:         stg,
		Strategy:    PlanText(st.Input),
		Criteria:    criteria(st.Target),
		Approver:    a.approver,
		Others:      Others(st.Target.Approvers, a.approver),
		RequestedAt: a.p.EnteredTime.UTC().Format(timeFormat),
		ExpiresAt:   expires.UTC().Format(timeFormat),
		Remaining:   Remaining(expires, now),
		Link:        link,
		Settings:    settingsText(st.Input.SettingsVersion),
		Group:       untrusted.Show(st.Group),
		Members:     h.memberViews(ctx, st.Input),
	}
	if step := StepAt(st); step != nil && a.claims.Step != nil {
		// An approval step of the plan: its own approvers, the first
		// decision counts, and where prod stands with its health so far.
		v.Step, v.Others = StepText(st), Others(step.Approvers, a.approver)
		v.Criteria = strings.TrimSpace(v.Criteria + " Health so far: " + orText(untrusted.Show(st.Shift.Verdict), "not judged yet") + ".")
	} else if a.target.Approval.RequiredApprovals() > 1 {
		v.Approvals = h.approvalsSoFar(ctx, a)
	}
	status := http.StatusOK
	if refused != nil {
		status, v.Error, v.Comment = http.StatusBadRequest, sentence(refused.Error()), f.Comment
	}
	title := fmt.Sprintf("Approve %s version %s", st.Function, st.Version)
	if st.Group != "" {
		title = fmt.Sprintf("Approve group %s", st.Group)
	}
	if v.Step != "" {
		title = fmt.Sprintf("Second approval of %s version %s", st.Function, st.Version)
	}
	return h.render(ctx, status, title, approvePage(v))
}

// consequence says what a failed health check does, in plain words: the
// statistics (criteria) follow it. Empty for all at once, which checks
// nothing before all traffic moves.
func consequence(t config.Target, version, prodVersion string) string {
	if t.Strategy.Type == config.AllAtOnce || t.Strategy.Type == "" {
		return ""
	}
	back := "the version it serves now"
	if prodVersion != "" {
		back = "version " + prodVersion
	}
	return fmt.Sprintf("If version %s fails its health checks while prod moves, prod goes back to %s by itself.", version, back)
}

// buildURL links a release's build: a CI run's link as it is, a CodeBuild
// build to its page in the CodeBuild console
// (https://console.aws.amazon.com/codesuite/codebuild/home, "View build
// details (console)", AWS CodeBuild User Guide), in the region of the
// execution (or of the build's ARN). Empty when nothing links it.
func buildURL(r promotion.Release, execution string) string {
	b := r.Build
	if strings.HasPrefix(b, "https://") || strings.HasPrefix(b, "http://") {
		return b
	}
	partition, region := "", ""
	if parts := strings.SplitN(execution, ":", 6); len(parts) == 6 {
		partition, region = parts[1], parts[3]
	}
	id := b
	if strings.HasPrefix(b, "arn:") {
		parts := strings.SplitN(b, ":", 6)
		if len(parts) != 6 || parts[2] != "codebuild" || !strings.HasPrefix(parts[5], "build/") {
			return ""
		}
		partition, region, id = parts[1], parts[3], strings.TrimPrefix(parts[5], "build/")
	} else if r.Source != "codebuild" {
		return ""
	}
	project, _, ok := strings.Cut(id, ":")
	// The console of the commercial partition only; another partition's
	// console has its own host.
	if !ok || partition != "aws" || region == "" || !printableASCII(id) {
		return ""
	}
	return fmt.Sprintf("https://console.aws.amazon.com/codesuite/codebuild/projects/%s/build/%s/?region=%s",
		url.PathEscape(project), strings.ReplaceAll(url.PathEscape(id), ":", "%3A"), url.QueryEscape(region))
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}

// principalName is how the page names a principal whose name is an IAM
// ARN: the user, role or session, with the ARN itself on hover and in a
// details element — approvers read names, not ARNs. ok is false for a
// name that is no ARN.
func principalName(name string) (short string, ok bool) {
	parts := strings.SplitN(name, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || (parts[2] != "iam" && parts[2] != "sts") {
		return "", false
	}
	kind, rest, _ := strings.Cut(parts[5], "/")
	path := strings.Split(rest, "/")
	last := path[len(path)-1]
	switch {
	case last == "":
		return "", false
	case kind == "assumed-role" && len(path) >= 2:
		return fmt.Sprintf("%s (role %s)", last, path[len(path)-2]), true
	case kind == "role":
		return "role " + last, true
	}
	return last, true
}

// approvalsSoFar says where the count of a target needing more than one
// approval stands, for the page.
func (h *Handler) approvalsSoFar(ctx context.Context, a authorized) string {
	c := counted{required: a.target.Approval.RequiredApprovals()}
	if h.d.Tally == nil {
		return fmt.Sprintf("%d approvals are needed.", c.required)
	}
	votes, err := h.d.Tally.Votes(ctx, a.claims.Execution)
	if err != nil {
		h.d.Log.WarnContext(ctx, "approval page: approvals so far not read", "execution", a.claims.Execution, "error", err.Error())
		return fmt.Sprintf("%d approvals are needed (the approvals so far could not be read).", c.required)
	}
	c.votes = validVotes(a.target, a.p.Input.Release, votes)
	if len(c.votes) == 0 {
		return fmt.Sprintf("%d approvals are needed; none so far.", c.required)
	}
	return fmt.Sprintf("%s so far: %s.", c, c.names())
}

// settingsText names a settings parameter version for the page.
func settingsText(version int64) string {
	if version <= 0 {
		return ""
	}
	return fmt.Sprintf("version %d", version)
}

// criteria is how the shift will judge each step; nothing for all at once.
func criteria(t config.Target) string {
	if t.Strategy.Type == config.AllAtOnce || t.Strategy.Type == "" {
		return ""
	}
	t.ApplyDefaults()
	return t.Health.Criteria()
}

// serving describes what an alias serves now, for the page, and returns
// its primary version ("" when unknown).
func (h *Handler) serving(ctx context.Context, function, alias string) (string, string) {
	if h.d.Lambda == nil {
		return "unknown", ""
	}
	out, err := h.d.Lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(function), Name: aws.String(alias)})
	if err != nil {
		if awserr.Code(err) == awserr.NotFound {
			return "no " + alias + " alias yet", ""
		}
		h.d.Log.WarnContext(ctx, "approval page: alias not read", "function", function, "alias", alias, "error", err.Error())
		return "unknown (the alias could not be read)", ""
	}
	v := aws.ToString(out.FunctionVersion)
	return describeAlias(v, out.RoutingConfig), v
}

// commitOf reads the commit a published version was released from: the
// release Lambda writes it into the version's description when it
// publishes it (release.VersionDescription). "" when unknown.
func (h *Handler) commitOf(ctx context.Context, function, version string) string {
	if h.d.Lambda == nil || version == "" {
		return ""
	}
	out, err := h.d.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(function), Qualifier: aws.String(version)})
	if err != nil {
		h.d.Log.WarnContext(ctx, "approval page: version not read", "function", function, "version", version, "error", err.Error())
		return ""
	}
	return promotion.CommitFromDescription(aws.ToString(out.Description))
}

// arnAccountRegion reads the account and region of an ARN
// (arn:partition:service:region:account:resource).
func arnAccountRegion(arn string) (account, region string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return "", ""
	}
	return parts[4], parts[3]
}

// buildText says which build produced a release: the CodeBuild build, or
// the build another CI named in its Release Requested event, or that
// there was none (a release requested with the CLI).
func buildText(r promotion.Release) string {
	switch {
	case r.Build != "":
		return r.Build
	case r.Source == "aliasflow":
		return "none recorded: released with a Release Requested event (aliasflow release, or a CI that named no build)"
	}
	return "unknown"
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
		extra = append(extra, fmt.Sprintf("version %s (%s)", v, alias.Percent(w)))
	}
	sort.Strings(extra)
	return fmt.Sprintf("version %s (%s) and %s", version, alias.Percent(rest), strings.Join(extra, " and "))
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
	// Counted is where the count of a target needing more than one
	// approval stands ("1 of 2 approvals"); Waiting how many more are
	// needed; Already that this approver had been counted before.
	Counted string
	Waiting int
	Already bool
	// Follow is where the promotion can be followed: this page's link,
	// which says how the promotion stands once it is decided.
	Follow string
	// StgAfter says, after a rejection, what stg and prod serve: the
	// workflow leaves stg on the rejected version.
	StgAfter string
	// Group and Members are a group's name and how many functions it
	// moves; empty for one function.
	Group   string
	Members int
}

// What names what was decided on: "hello version 7", or "group api (3
// functions)".
func (v doneView) What() string {
	if v.Group != "" {
		return fmt.Sprintf("group %s (%d functions)", v.Group, v.Members)
	}
	return v.Function + " version " + v.Version
}

// afterRejection says plainly what a rejection leaves: prod unmoved, stg
// still on the rejected version (the definition's Rejected path moves no
// alias) until the next release moves it.
func (h *Handler) afterRejection(ctx context.Context, st promotion.State) string {
	stg, stgVersion := h.serving(ctx, st.Function, promotion.AliasStg)
	prod, prodVersion := h.serving(ctx, st.Function, promotion.AliasProd)
	var out string
	switch stgVersion {
	case st.Version:
		out = fmt.Sprintf("stg still serves version %s, the version you rejected, until the next release of %s moves it.", st.Version, st.Function)
	case "":
		// Unread: nothing a rejection does moves it.
		out = fmt.Sprintf("stg keeps version %s, the version you rejected, until the next release of %s moves it.", st.Version, st.Function)
	default:
		out = "stg serves " + stg + " (a newer release moved it)."
	}
	if prodVersion == "" {
		return out + " prod stays as it is."
	}
	return out + " prod stays on " + prod + "."
}

func (h *Handler) donePage(ctx context.Context, st promotion.State, d promotion.Decision, c counted, link string) events.APIGatewayProxyResponse {
	title := "Rejected"
	if d.Approved {
		title = "Approved"
	}
	v := doneView{
		Approved: d.Approved, Function: st.Function, Version: st.Version, Approver: d.Approver, Comment: d.Comment,
		DecidedAt: d.DecidedAt.Format(timeFormat), Strategy: StrategyText(st.Target.Strategy),
		Follow: "?t=" + url.QueryEscape(link),
		Group:  untrusted.Show(st.Group), Members: len(st.Members),
	}
	if !d.Approved {
		v.StgAfter = h.afterRejection(ctx, st)
	}
	if d.Approved && c.required > 1 {
		v.Counted, v.Waiting, v.Already = c.String(), max(c.required-len(c.votes), 0), c.already
		if v.Waiting > 0 {
			title = "Approval counted"
		}
	}
	return h.render(ctx, http.StatusOK, title, donePage(v))
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
	problemSuperseded
	problemMethod
	problemInternal
)

// problemView is an error page: what happened and what to do next, in
// words an approver without AWS access can act on.
type problemView struct {
	Kind   string
	Status int
	Title  string
	Detail string
	Next   string
}

// The pages never send an approver to a command line: an approver may
// have no AWS identity at all.
var problems = map[problemKind]problemView{
	problemBadRequest: {Kind: "bad-request", Status: http.StatusBadRequest, Title: "This request could not be used",
		Next: "Open the link from your approval e-mail again, exactly as it was sent."},
	problemForged: {Kind: "forged", Status: http.StatusForbidden, Title: "This approval link is not valid",
		Detail: "The link is damaged or was not issued by aliasflow, so it cannot be used to decide anything.",
		Next:   "Open the link from your approval e-mail again; if it was copied by hand, copy all of it. If the e-mail itself was not expected, report it to your security team."},
	problemExpired: {Kind: "expired", Status: http.StatusGone, Title: "This approval link has expired",
		Next: "Nothing more is needed from you. If the version should still ship, its team can release it again, and you will get a new e-mail."},
	problemWrongApprover: {Kind: "wrong-approver", Status: http.StatusForbidden, Title: "You are not an approver of this release",
		Next: "Ask one of the function's approvers to decide, or ask its owners to add you to its approvers."},
	problemDecided: {Kind: "decided", Status: http.StatusConflict, Title: "This release has already been decided",
		Next: "Nothing more is needed from you; you can close this page."},
	problemNotWaiting: {Kind: "not-waiting", Status: http.StatusConflict, Title: "This release is not waiting for approval",
		Next: "Nothing can be decided here now. If the release needs your decision again, you will get a new e-mail."},
	problemEnded: {Kind: "ended", Status: http.StatusGone, Title: "This promotion has ended",
		Next: "Nothing can be decided any more. If the version should still ship, its team can release it again, and you will get a new e-mail."},
	problemSuperseded: {Kind: "superseded", Status: http.StatusGone, Title: "A newer release replaced this one",
		Next: "Nothing can be decided here. Decide on the newer release with the link of its own e-mail."},
	problemMethod: {Kind: "method", Status: http.StatusMethodNotAllowed, Title: "This request is not supported",
		Next: "Open the link from your approval e-mail in a browser."},
	problemInternal: {Kind: "internal", Status: http.StatusInternalServerError, Title: "Something went wrong on our side",
		Detail: "Nothing was decided.",
		Next:   "Try the link again in a minute; it stays valid until the request expires. If it keeps failing, tell the team that runs aliasflow."},
}

// subject is the release a page is about, as far as it is known.
type subject struct{ Function, Version string }

// String names the release: "hello version 7", or "this release".
func (s subject) String() string {
	switch {
	case s.Function != "" && s.Version != "":
		return s.Function + " version " + s.Version
	case s.Function != "":
		return "the release of " + s.Function
	}
	return "this release"
}

// Start names the release at the start of a sentence, without changing the
// case of the function's name: "Version 7 of hello".
func (s subject) Start() string {
	switch {
	case s.Function != "" && s.Version != "":
		return "Version " + s.Version + " of " + s.Function
	case s.Function != "":
		return "The release of " + s.Function
	}
	return "This release"
}

func (h *Handler) problem(ctx context.Context, kind problemKind, detail string) events.APIGatewayProxyResponse {
	return h.problemFor(ctx, kind, detail, subject{})
}

// problemFor is problem for a known release: the title names it.
func (h *Handler) problemFor(ctx context.Context, kind problemKind, detail string, s subject) events.APIGatewayProxyResponse {
	v := problems[kind]
	if detail != "" {
		v.Detail = detail
	}
	title := v.Title
	if s.Function != "" {
		title = v.Title + " (" + s.String() + ")"
	}
	return h.render(ctx, v.Status, title, problemPage(v))
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
	return h.render(ctx, status, v.Title, problemPage(v))
}

// The page helpers page.templ calls.

// orText is s, or fallback when s is empty.
func orText(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// requesterClass is the CSS class of a requester's note.
func requesterClass(r Requester) string {
	if r.Verified {
		return "verified"
	}
	return "claim"
}

// passFail is the CSS class of a passed or failed check.
func passFail(passed bool) string {
	if passed {
		return "pass"
	}
	return "fail"
}

func passText(passed bool) string {
	if passed {
		return "Pass"
	}
	return "Fail"
}

func latency(ms int64) string { return strconv.FormatInt(ms, 10) + " ms" }

func smokeVerdict(s *promotion.SmokeResult) string {
	if s.Passed {
		return fmt.Sprintf("All %d checks passed.", len(s.Checks))
	}
	return "Some checks failed."
}

func othersText(others []string, approvals string) string {
	if len(others) == 0 {
		return "You are the only approver."
	}
	if approvals != "" {
		return "Also asked: " + strings.Join(others, ", ") + ". One rejection ends the promotion."
	}
	return "Also asked: " + strings.Join(others, ", ") + ". The first decision counts."
}

// waitingText says how many approvals a counted one still waits for.
func waitingText(n int) string {
	if n == 1 {
		return "prod moves once 1 more approver approves; one rejection ends the promotion."
	}
	return fmt.Sprintf("prod moves once %d more approvers approve; one rejection ends the promotion.", n)
}

// shortCommit shows a long commit id by its first 12 characters.
func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
