package approval

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/pending"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-lambda-go/events"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Limits on what a decision POST may carry.
const (
	MaxBodyBytes    = 16 << 10
	MaxCommentRunes = 2000
)

// DecisionForm is a parsed decision POST.
type DecisionForm struct {
	Link    string
	Approve bool
	Comment string
}

// RequestError is a request the page refuses before looking at the link:
// Status is the HTTP status to answer with.
type RequestError struct {
	Status int
	Msg    string
}

func (e *RequestError) Error() string { return e.Msg }

func badRequest(format string, args ...any) error {
	return &RequestError{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// header returns a request header, whatever its case.
func header(req events.APIGatewayProxyRequest, name string) string {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, v := range req.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// queryParam returns a query parameter; a parameter given twice with
// different values is ambiguous and reads as absent.
func queryParam(req events.APIGatewayProxyRequest, name string) string {
	if vs, ok := req.MultiValueQueryStringParameters[name]; ok {
		if len(vs) == 0 {
			return ""
		}
		for _, v := range vs[1:] {
			if v != vs[0] {
				return ""
			}
		}
		return vs[0]
	}
	return req.QueryStringParameters[name]
}

// ParseDecision reads a decision POST (application/x-www-form-urlencoded:
// t, decision=approve|reject, comment).
func ParseDecision(req events.APIGatewayProxyRequest) (DecisionForm, error) {
	ct := header(req, "Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return DecisionForm{}, &RequestError{Status: http.StatusUnsupportedMediaType, Msg: fmt.Sprintf("the decision must be sent as a form (application/x-www-form-urlencoded), not %q", ct)}
	}
	body := req.Body
	if req.IsBase64Encoded {
		if base64.StdEncoding.DecodedLen(len(body)) > MaxBodyBytes*2 {
			return DecisionForm{}, &RequestError{Status: http.StatusRequestEntityTooLarge, Msg: "the form is too large"}
		}
		raw, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return DecisionForm{}, badRequest("the form body is not valid base64")
		}
		body = string(raw)
	}
	if len(body) > MaxBodyBytes {
		return DecisionForm{}, &RequestError{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("the form is too large: %d bytes; at most %d are accepted", len(body), MaxBodyBytes)}
	}
	vals, err := url.ParseQuery(body)
	if err != nil {
		return DecisionForm{}, badRequest("the form could not be read: %v", err)
	}
	one := func(name string) (string, error) {
		vs := vals[name]
		for _, v := range vs[min(1, len(vs)):] {
			if v != vs[0] {
				return "", badRequest("the form has two different %q fields", name)
			}
		}
		if len(vs) == 0 {
			return "", nil
		}
		return vs[0], nil
	}
	var f DecisionForm
	if f.Link, err = one("t"); err != nil {
		return DecisionForm{}, err
	}
	if f.Link == "" {
		f.Link = queryParam(req, "t")
	}
	if f.Link == "" {
		return DecisionForm{}, badRequest("the form carries no approval link (field t)")
	}
	decision, err := one("decision")
	if err != nil {
		return DecisionForm{}, err
	}
	switch decision {
	case "approve":
		f.Approve = true
	case "reject":
	default:
		return DecisionForm{}, badRequest("decision must be approve or reject, got %q", truncate(decision, 20))
	}
	comment, err := one("comment")
	if err != nil {
		return DecisionForm{}, err
	}
	if !utf8.ValidString(comment) {
		return DecisionForm{}, badRequest("the comment is not valid UTF-8")
	}
	f.Comment = strings.TrimSpace(comment)
	if n := utf8.RuneCountInString(f.Comment); n > MaxCommentRunes {
		return DecisionForm{}, badRequest("the comment has %d characters; at most %d are accepted", n, MaxCommentRunes)
	}
	return f, nil
}

// CheckComment is the one rule on a decision's comment, for the page, the
// approval API and the CLI alike: a rejection says why (the audit trail
// keeps it); an approval may say nothing.
func CheckComment(approve bool, comment string) error {
	if !approve && strings.TrimSpace(comment) == "" {
		return errors.New("to reject, say why in the comment; the audit trail keeps it")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ServeAPIGateway answers an API Gateway REST proxy request: GET shows the
// approval page of a link, POST records a decision. It never returns an
// error: every outcome is a page.
func (h *Handler) ServeAPIGateway(ctx context.Context, req events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	if resource, ok := isIAMResource(req); ok {
		return h.serveCaller(ctx, resource, req)
	}
	switch strings.ToUpper(req.HTTPMethod) {
	case http.MethodGet:
		link := queryParam(req, "t")
		if link == "" {
			return h.problem(ctx, problemBadRequest, "This page needs the link from your approval e-mail; the address has no link in it.")
		}
		a, resp := h.authorize(ctx, link)
		if resp != nil {
			return *resp
		}
		return h.approvePage(ctx, a, link)
	case http.MethodPost:
		form, err := ParseDecision(req)
		if err != nil {
			var re *RequestError
			errors.As(err, &re)
			return h.problemStatus(ctx, re.Status, re.Msg)
		}
		a, resp := h.authorize(ctx, form.Link)
		if resp != nil {
			return *resp
		}
		return h.decide(ctx, a, form, req.RequestContext.Identity)
	}
	r := h.problem(ctx, problemMethod, fmt.Sprintf("%q is not supported here.", truncate(req.HTTPMethod, 16)))
	r.Headers["Allow"] = "GET, POST"
	return r
}

// authorized is a verified link and the task it may decide.
type authorized struct {
	claims Claims
	// approver is the address as the target lists it.
	approver string
	p        *pending.Pending
	// target is the target's settings as they are now.
	target config.Target
}

// authorize verifies a link and finds the task it may decide, or returns
// the page that says why not.
func (h *Handler) authorize(ctx context.Context, link string) (authorized, *events.APIGatewayProxyResponse) {
	var about subject // known once the link is verified; the page names it
	fail := func(kind problemKind, detail string) (authorized, *events.APIGatewayProxyResponse) {
		r := h.problemFor(ctx, kind, detail, about)
		return authorized{}, &r
	}
	keys, err := h.d.Keys.VerifyKeys(ctx, false)
	if err != nil {
		h.d.Log.ErrorContext(ctx, "approval link key unavailable", "error", err.Error())
		return fail(problemInternal, "")
	}
	c, err := VerifyAny(keys, link, h.d.Now())
	if errors.Is(err, errSignature) {
		// Signed with a key this container does not hold: the key may
		// have been rotated since it read the secret.
		if keys, kerr := h.d.Keys.VerifyKeys(ctx, true); kerr == nil {
			c, err = VerifyAny(keys, link, h.d.Now())
		}
	}
	switch {
	case errors.Is(err, ErrExpired):
		if ref, ok := promotion.ParseExecutionName(c.Execution); ok {
			about = subject{Function: ref.Function, Version: ref.Version}
			if ref.Group != "" {
				about = subject{Function: "group " + ref.Group}
			}
		}
		h.d.Log.InfoContext(ctx, "approval link refused", "reason", "expired", "execution", c.Execution, "approver", c.Approver)
		return fail(problemExpired, fmt.Sprintf("It expired %s, before anyone decided on %s here.", time.Unix(c.ExpiresAt, 0).UTC().Format(timeFormat), about))
	case err != nil:
		h.d.Log.WarnContext(ctx, "approval link refused", "reason", "forged", "error", err.Error())
		return fail(problemForged, "")
	}
	p, err := h.find(ctx, c)
	var ex pending.Execution
	var nw *pending.NotWaitingError
	var nr *pending.NotRunningError
	switch {
	case err == nil:
		ex = p.Execution
	case errors.As(err, &nw):
		ex = nw.Execution
	case errors.As(err, &nr):
		ex = nr.Execution
	case awserr.Code(err) == awserr.NotFound:
		h.d.Log.InfoContext(ctx, "approval link refused", "reason", "no such execution", "execution", c.Execution)
		return fail(problemEnded, "The promotion this link belongs to no longer exists.")
	default:
		h.d.Log.ErrorContext(ctx, "approval: reading the execution failed", "execution", c.Execution, "error", err.Error())
		return fail(problemInternal, "")
	}
	about = subject{Function: ex.Input.Function, Version: ex.Input.Version}
	// The approvers as they are now, not as the release found them: a
	// removed approver's link stops working.
	target, terr := h.current(ctx, ex.Input.Function)
	if terr != nil {
		h.d.Log.ErrorContext(ctx, "approval: settings unreadable", "function", ex.Input.Function, "error", terr.Error())
		return fail(problemInternal, "")
	}
	approver, why := decider(target, ex.Input.Release, c.Approver, "")
	if why == "" && err == nil && c.Step != nil {
		// The step's own approvers decide it, each of them also an
		// approver of the target (as aliasflow approve checks).
		why = stepApprover(p.Input, approver)
	}
	if why != "" {
		h.d.Log.WarnContext(ctx, "approval link refused", "reason", "approver not allowed", "execution", c.Execution, "approver", c.Approver, "why", why)
		return fail(problemWrongApprover, why+".")
	}
	if err != nil {
		h.d.Log.InfoContext(ctx, "approval link refused", "reason", "not waiting", "execution", c.Execution, "error", err.Error())
		return fail(h.notWaiting(ctx, nw, nr, about))
	}
	return authorized{claims: c, approver: approver, p: p, target: target}, nil
}

// find finds the task a verified link may decide: RequestApproval's for
// the approval at the start; for an approval step of the plan, the Pause
// task holding prod at that very step (the link's claims name its
// position), never another pause or approval step.
func (h *Handler) find(ctx context.Context, c Claims) (*pending.Pending, error) {
	if c.Step == nil {
		return pending.Find(ctx, h.d.SFN, c.Execution, promotion.StateRequestApproval)
	}
	p, err := pending.Find(ctx, h.d.SFN, c.Execution, promotion.StatePause)
	if err != nil {
		return nil, err
	}
	if s := p.Input.Shift; StepAt(p.Input) == nil || s.Position != *c.Step {
		return nil, &pending.NotWaitingError{Execution: p.Execution, State: promotion.StatePause}
	}
	return p, nil
}

// notWaiting chooses the page for a link whose task is no longer open, and
// says in plain words what became of the release.
func (h *Handler) notWaiting(ctx context.Context, nw *pending.NotWaitingError, nr *pending.NotRunningError, about subject) (problemKind, string) {
	if nw != nil {
		switch {
		case nw.Decided():
			return problemDecided, decidedText(about, nw.Decision)
		case nw.Closed == sfntypes.HistoryEventTypeTaskTimedOut:
			return problemExpired, fmt.Sprintf("No one decided before the approval request of %s timed out, so it was not promoted.", about)
		}
		return problemNotWaiting, fmt.Sprintf("%s is not waiting for a decision right now.", about.Start())
	}
	if nr.Decided() {
		return problemDecided, decidedText(about, nr.Decision) + " " + outcome(nr.Execution, about)
	}
	if nr.Execution.Error == promotion.ErrSuperseded {
		return problemSuperseded, h.superseded(ctx, nr.Execution, about)
	}
	return problemEnded, outcome(nr.Execution, about)
}

// supersededBy reads the release Lambda's StopExecution cause:
// "superseded by <execution ARN> (version N)".
var supersededBy = regexp.MustCompile(`superseded by (\S+) \(version ([0-9]+)\)`)

// superseded says which newer version replaced the release, and whether it
// is waiting for approval now.
func (h *Handler) superseded(ctx context.Context, ex pending.Execution, about subject) string {
	m := supersededBy.FindStringSubmatch(ex.Cause)
	if m == nil {
		return fmt.Sprintf("A newer release of %s replaced %s before anyone decided.", orUnknown(about.Function), about)
	}
	newer := subject{Function: about.Function, Version: m[2]}
	if _, err := pending.Find(ctx, h.d.SFN, m[1], promotion.StateRequestApproval); err == nil {
		return fmt.Sprintf("%s replaced %s before anyone decided, and version %s is waiting for approval now: its own e-mail has the link.", newer.Start(), about, newer.Version)
	}
	return fmt.Sprintf("%s replaced %s before anyone decided.", newer.Start(), about)
}

// outcome says in plain words how an ended promotion ended; never a raw
// execution status.
func outcome(ex pending.Execution, about subject) string {
	switch ex.Status {
	case sfntypes.ExecutionStatusSucceeded:
		return fmt.Sprintf("%s is in prod now: its promotion completed.", about.Start())
	case sfntypes.ExecutionStatusAborted:
		if ex.Error == promotion.ErrSuperseded {
			return fmt.Sprintf("A newer release replaced %s.", about)
		}
		return fmt.Sprintf("An operator stopped the promotion of %s; prod is on the version it served before.", about)
	case sfntypes.ExecutionStatusTimedOut:
		return fmt.Sprintf("The promotion of %s ran out of time and stopped.", about)
	}
	// A Fail state's Error is its name (promotion's State constants).
	switch ex.Error {
	case promotion.StateRejected:
		return fmt.Sprintf("%s was rejected, so it was not promoted.", about.Start())
	case promotion.StateApprovalExpired:
		return fmt.Sprintf("No one decided on %s before its approval request expired, so it was not promoted.", about)
	case promotion.StateSmokeTestsFailed:
		return fmt.Sprintf("%s failed its smoke tests, so it was not promoted.", about.Start())
	case promotion.StateRolledBack:
		return fmt.Sprintf("%s was unhealthy while prod moved to it, so prod was put back on the version it served before.", about.Start())
	case promotion.StateRollbackFailed:
		return fmt.Sprintf("%s failed while prod moved to it, and putting prod back needs the team that runs aliasflow.", about.Start())
	}
	return fmt.Sprintf("The promotion of %s ended without reaching prod.", about)
}

// decidedText says who decided, how and when.
func decidedText(about subject, d *promotion.Decision) string {
	if d == nil {
		return fmt.Sprintf("Someone has already decided on %s.", about)
	}
	verb := "rejected"
	if d.Approved {
		verb = "approved"
	}
	how := ""
	switch d.Via {
	case ViaLink:
		how = " on the approval page"
	case ViaCLI:
		how = " with the aliasflow command line"
	}
	return fmt.Sprintf("%s %s it%s at %s (%s).", d.Approver, verb, how, d.DecidedAt.UTC().Format(timeFormat), about)
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// allowed finds approver in the list, ignoring case, and returns it as
// listed.
func allowed(approvers []string, approver string) (string, bool) {
	for _, a := range approvers {
		if strings.EqualFold(a, approver) {
			return a, true
		}
	}
	return "", false
}

// decide answers the task once. Step Functions itself enforces "once": a
// second answer gets TaskTimedOut (closed) or InvalidToken.
// id is where the request came from, as API Gateway saw it; the decision
// records its source IP and user agent.
func (h *Handler) decide(ctx context.Context, a authorized, f DecisionForm, id events.APIGatewayRequestIdentity) events.APIGatewayProxyResponse {
	st := a.p.Input
	if err := CheckComment(f.Approve, f.Comment); err != nil {
		return h.approvePageWith(ctx, a, f.Link, f, err)
	}
	d := promotion.Decision{
		Approved: f.Approve, Approver: a.approver, Comment: f.Comment, Via: ViaLink,
		RequestedAt: a.p.EnteredTime.UTC(), DecidedAt: h.d.Now().UTC(),
		SourceIP: id.SourceIP, UserAgent: truncate(id.UserAgent, 256),
	}
	var c counted
	if d.Approved && a.claims.Step == nil {
		final, cnt, err := h.count(ctx, a.target, st.Release, a.claims.Execution, d)
		if err != nil {
			h.d.Log.ErrorContext(ctx, "approval not counted", "execution", a.claims.Execution, "approver", a.approver, "error", err.Error())
			return h.problemFor(ctx, problemInternal, "", subject{st.Function, st.Version})
		}
		c = cnt
		if final == nil {
			if !c.already {
				h.recordCounted(ctx, st, a.claims.Execution, d, c)
			}
			h.d.Log.InfoContext(ctx, "approval counted", "function", st.Function, "version", st.Version, "execution", a.claims.Execution,
				"approver", a.approver, "counted", c.String(), "already", c.already, "via", ViaLink)
			return h.donePage(ctx, st, d, c, f.Link)
		}
		d = *final
	}
	answer := pending.Decide(d)
	if a.claims.Step != nil && d.Approved {
		// An approval step: the first decision of one of its approvers
		// continues the plan (the shift records approval.granted, naming
		// the approver the link verified); a rejection fails the Pause
		// task with the decision and the definition rolls back.
		answer = pending.ApproveStep(a.approver, a.approver)
	}
	token := a.p.TaskToken.Reveal()
	if err := a.p.Send(ctx, h.d.SFN, answer); err != nil {
		if awserr.Code(err) == awserr.Closed {
			h.d.Log.InfoContext(ctx, "approval decision refused: task already closed", "execution", a.claims.Execution, "approver", a.approver, "error", redact(err.Error(), token))
			return h.problemFor(ctx, problemDecided, "Someone else decided, or the approval timed out, just before you.", subject{st.Function, st.Version})
		}
		h.d.Log.ErrorContext(ctx, "approval decision not delivered", "execution", a.claims.Execution, "approver", a.approver, "error", redact(err.Error(), token))
		return h.problemFor(ctx, problemInternal, "", subject{st.Function, st.Version})
	}
	h.d.Log.InfoContext(ctx, "approval decided", "function", st.Function, "version", st.Version, "execution", a.claims.Execution,
		"approver", a.approver, "approved", d.Approved, "via", ViaLink, "comment", d.Comment)
	return h.donePage(ctx, st, d, c, f.Link)
}

// redact removes the token from text bound for a log, in case an error
// message ever quotes it.
func redact(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "[redacted]")
}
