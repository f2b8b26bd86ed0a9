package approval

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/pending"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-lambda-go/events"
)

// The approval API's IAM-authorized resources (AuthorizationType AWS_IAM):
// the one path a person's decision or override takes outside the e-mailed
// link. IAM decides who may call each (the approvers' policy: DecidePath;
// the operators': both); the handler records the caller API Gateway
// verified and, for a decision, checks it against the target's current
// approvers.
const (
	// DecidePath approves or rejects a promotion awaiting approval.
	DecidePath = "/decide"
	// OverridePath ends a bake early (promote-now, promote-full) or rolls a shifting
	// promotion back (rollback).
	OverridePath = "/override"
)

// The actions of a CallerRequest.
const (
	ActionApprove = "approve"
	ActionReject  = "reject"
	// ActionPromoteNow goes past the current step only (`aliasflow
	// promote`); ActionPromoteFull skips every remaining step, accepting
	// an inconclusive verdict (`aliasflow promote --full`).
	ActionPromoteNow  = "promote-now"
	ActionPromoteFull = "promote-full"
	// ActionPause holds a baking promotion at its weight (`aliasflow
	// pause`); promote-now on the hold resumes it.
	ActionPause    = "pause"
	ActionRollback = "rollback"
)

// ViaCLI is Decision.Via for decisions made through the IAM-authorized API
// (the aliasflow command line).
const ViaCLI = promotion.ViaCLI

// CallerRequest is the JSON body of a POST to DecidePath or OverridePath.
type CallerRequest struct {
	Execution string `json:"execution"`
	Action    string `json:"action"`
	// Comment is the decision's comment or the rollback's reason.
	Comment string `json:"comment,omitempty"`
	// Function asks, with action rollback and no Execution, for a rollback
	// of a function no promotion is shifting: the API decides the version
	// from the audit trail (or To) and starts a rollback execution.
	Function string `json:"function,omitempty"`
	// To is the version to roll back to; only one prod served after an
	// approved promotion unless BreakGlass, which the audit trail says.
	To         string `json:"to,omitempty"`
	BreakGlass bool   `json:"breakGlass,omitempty"`
	// DryRun answers the plan and starts nothing.
	DryRun bool `json:"dryRun,omitempty"`
}

// CallerResponse is the JSON answer: what was done, as whom.
type CallerResponse struct {
	Execution string `json:"execution,omitempty"`
	Action    string `json:"action,omitempty"`
	// Principal is the caller's ARN as API Gateway verified it.
	Principal string `json:"principal,omitempty"`
	// Approver is the approver entry Principal decided as.
	Approver string `json:"approver,omitempty"`
	// Counted says, for a target needing more than one approval, where
	// the count stands after this one ("1 of 2 approvals"); AlreadyCounted
	// that this approver had approved before and was not counted again.
	Counted        string `json:"counted,omitempty"`
	AlreadyCounted bool   `json:"alreadyCounted,omitempty"`
	// Complete says the count is complete: the promotion was answered.
	Complete bool `json:"complete,omitempty"`
	// Function, From, To and Why are a manual rollback's plan: prod of
	// Function moves From → To, To chosen as Why says.
	Function   string `json:"function,omitempty"`
	From       string `json:"from,omitempty"`
	To         string `json:"to,omitempty"`
	Why        string `json:"why,omitempty"`
	BreakGlass bool   `json:"breakGlass,omitempty"`
	DryRun     bool   `json:"dryRun,omitempty"`
	// Left says, after a rejection, what it left: prod unmoved, stg still
	// on the rejected version until the next release (the page's words;
	// the caller, an approver, may not read the aliases itself).
	Left string `json:"left,omitempty"`
	// Error says why nothing was done.
	Error string `json:"error,omitempty"`
}

// Settings is where the approval reads a target's current settings at
// decision time (settings.Store).
type Settings interface {
	Target(ctx context.Context, function string) (config.Target, error)
}

// caller is who called an IAM-authorized resource: "The ARN of the
// effective user identified after authentication" (identity.userArn of the
// Lambda proxy integration's requestContext, "Set up Lambda proxy
// integrations in API Gateway",
// https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html).
// API Gateway fills it only once it verified the SigV4 signature and the
// caller's execute-api:Invoke permission.
type caller struct {
	arn, sourceIP, userAgent string
}

func callerOf(req events.APIGatewayProxyRequest) (caller, bool) {
	id := req.RequestContext.Identity
	c := caller{arn: id.UserArn, sourceIP: id.SourceIP, userAgent: id.UserAgent}
	return c, strings.HasPrefix(c.arn, "arn:aws")
}

// isIAMResource says whether a request is for one of the IAM-authorized
// resources (the REST proxy event's resource, or its path).
func isIAMResource(req events.APIGatewayProxyRequest) (string, bool) {
	for _, p := range []string{req.Resource, req.Path} {
		if p == DecidePath || p == OverridePath {
			return p, true
		}
	}
	return "", false
}

// serveCaller answers a POST to DecidePath or OverridePath with JSON.
func (h *Handler) serveCaller(ctx context.Context, resource string, req events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	answer := func(status int, r CallerResponse) events.APIGatewayProxyResponse {
		body, _ := json.Marshal(r)
		return events.APIGatewayProxyResponse{StatusCode: status, Body: string(body),
			Headers: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}}
	}
	refuse := func(status int, format string, args ...any) events.APIGatewayProxyResponse {
		return answer(status, CallerResponse{Error: fmt.Sprintf(format, args...)})
	}
	if req.HTTPMethod != http.MethodPost {
		r := refuse(http.StatusMethodNotAllowed, "%s accepts POST only", resource)
		r.Headers["Allow"] = http.MethodPost
		return r
	}
	who, ok := callerOf(req)
	if !ok {
		// Only an IAM-authorized method reaches here with a caller ARN; an
		// unauthenticated one must never decide.
		h.d.Log.WarnContext(ctx, "approval API call refused: no verified caller", "resource", resource)
		return refuse(http.StatusForbidden, "the request carries no verified IAM caller (sign it with SigV4)")
	}
	body := req.Body
	if req.IsBase64Encoded {
		raw, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return refuse(http.StatusBadRequest, "the body is not valid base64")
		}
		body = string(raw)
	}
	if len(body) > MaxBodyBytes {
		return refuse(http.StatusRequestEntityTooLarge, "the body is too large: %d bytes; at most %d are accepted", len(body), MaxBodyBytes)
	}
	var in CallerRequest
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return refuse(http.StatusBadRequest, "the body is not a request: %v", err)
	}
	in.Comment = strings.TrimSpace(in.Comment)
	if !utf8.ValidString(in.Comment) || utf8.RuneCountInString(in.Comment) > MaxCommentRunes || strings.ContainsFunc(in.Comment, isControl) {
		return refuse(http.StatusBadRequest, "comment: at most %d characters of UTF-8 text, no control characters", MaxCommentRunes)
	}
	if resource == OverridePath && in.Action == ActionRollback && in.Execution == "" && in.Function != "" {
		return answer(h.startRollback(ctx, who, in))
	}
	if in.Function != "" || in.To != "" || in.BreakGlass || in.DryRun {
		return refuse(http.StatusBadRequest, "function, to, breakGlass and dryRun belong to a rollback with no execution")
	}
	if _, ok := promotion.ParseExecutionName(in.Execution[strings.LastIndex(in.Execution, ":")+1:]); !ok || !strings.HasPrefix(in.Execution, "arn:aws") {
		return refuse(http.StatusBadRequest, "execution: %q is not the ARN of a promotion", truncate(in.Execution, 200))
	}
	allowedHere := map[string][]string{DecidePath: {ActionApprove, ActionReject}, OverridePath: {ActionPromoteNow, ActionPromoteFull, ActionPause, ActionRollback}}[resource]
	if !slices.Contains(allowedHere, in.Action) {
		return refuse(http.StatusBadRequest, "action: %s takes %s, not %q", resource, strings.Join(allowedHere, " or "), truncate(in.Action, 20))
	}
	state := promotion.StateRequestApproval
	if resource == OverridePath {
		state = promotion.StateBake
	}
	p, err := pending.Find(ctx, h.d.SFN, in.Execution, state)
	var nw *pending.NotWaitingError
	var nr *pending.NotRunningError
	if errors.As(err, &nw) {
		// A pause of the plan waits on its token as a bake does: promote
		// (and resume) continue it, rollback rolls it back. An approval
		// step of the plan waits there too, for its approvers only.
		if pp, perr := pending.Find(ctx, h.d.SFN, in.Execution, promotion.StatePause); perr == nil {
			step := pp.Input.Shift != nil && pp.Input.Shift.Kind == string(plan.KindApproval)
			switch {
			case resource == DecidePath && step, resource == OverridePath && (!step || in.Action == ActionRollback):
				p, err, state = pp, nil, promotion.StatePause
			case resource == OverridePath:
				return refuse(http.StatusConflict, "promotion %s waits at an approval step of its plan: its approvers decide it (aliasflow approve or reject); an operator may only roll it back", in.Execution)
			}
		}
	}
	switch {
	case awserr.Code(err) == awserr.NotFound:
		return refuse(http.StatusNotFound, "promotion %s not found", in.Execution)
	case errors.As(err, &nw), errors.As(err, &nr):
		return refuse(http.StatusConflict, "promotion %s is not waiting in %s: %v", in.Execution, state, err)
	case err != nil:
		h.d.Log.ErrorContext(ctx, "approval API: reading the execution failed", "execution", in.Execution, "error", err.Error())
		return refuse(http.StatusInternalServerError, "reading the promotion failed")
	}
	st := p.Input
	res := CallerResponse{Execution: in.Execution, Action: in.Action, Principal: who.arn}
	token := p.TaskToken.Reveal()
	switch in.Action {
	case ActionApprove, ActionReject:
		// terr, not err: the answer's err below is read after the switch.
		target, terr := h.current(ctx, st.Function)
		if terr != nil {
			h.d.Log.ErrorContext(ctx, "approval API: settings unreadable", "function", st.Function, "error", terr.Error())
			return refuse(http.StatusInternalServerError, "the settings of %s could not be read", st.Function)
		}
		approver, why := decider(target, st.Release, "", who.arn)
		if why == "" && state == promotion.StatePause {
			why = stepApprover(st, approver)
		}
		if why != "" {
			h.d.Log.WarnContext(ctx, "approval decision refused", "execution", in.Execution, "principal", who.arn,
				"sourceIp", who.sourceIP, "reason", why)
			return refuse(http.StatusForbidden, "%s", why)
		}
		res.Approver = approver
		if err := CheckComment(in.Action == ActionApprove, in.Comment); err != nil {
			return refuse(http.StatusBadRequest, "%v", err)
		}
		d := promotion.Decision{Approved: in.Action == ActionApprove, Approver: approver, Principal: who.arn, Comment: in.Comment,
			Via: ViaCLI, RequestedAt: p.EnteredTime.UTC(), DecidedAt: h.d.Now().UTC(), SourceIP: who.sourceIP, UserAgent: truncate(who.userAgent, 256)}
		if state == promotion.StatePause {
			// An approval step: one of its approvers decides, once; the
			// shift records approval.granted (Continue) or the rollback.
			if d.Approved {
				err = p.Send(ctx, h.d.SFN, pending.ApproveStep(who.arn, approver))
			} else {
				err = p.Send(ctx, h.d.SFN, pending.Decide(d))
			}
			break
		}
		if d.Approved {
			final, c, err := h.count(ctx, target, st.Release, in.Execution, d)
			if err != nil {
				h.d.Log.ErrorContext(ctx, "approval API: approval not counted", "execution", in.Execution, "principal", who.arn, "error", err.Error())
				return refuse(http.StatusInternalServerError, "the approval could not be counted; nothing was recorded, try again")
			}
			if c.required > 1 {
				res.Counted, res.AlreadyCounted, res.Complete = c.String(), c.already, final != nil
			}
			if final == nil {
				if !c.already {
					h.recordCounted(ctx, st, in.Execution, d, c)
				}
				h.d.Log.InfoContext(ctx, "approval API call", "action", in.Action, "function", st.Function, "version", st.Version,
					"execution", in.Execution, "principal", who.arn, "approver", approver, "counted", c.String(), "already", c.already)
				return answer(http.StatusOK, res)
			}
			d = *final
		}
		err = p.Send(ctx, h.d.SFN, pending.Decide(d))
	case ActionPromoteNow:
		// health.go records bake.skipped with this actor.
		err = p.Send(ctx, h.d.SFN, pending.PromoteNow(who.arn))
	case ActionPromoteFull:
		err = p.Send(ctx, h.d.SFN, pending.PromoteFull(who.arn))
	case ActionPause:
		if state != promotion.StateBake {
			return refuse(http.StatusConflict, "promotion %s is already held in %s; resume or promote it", in.Execution, state)
		}
		err = p.Send(ctx, h.d.SFN, pending.Hold(who.arn))
	case ActionRollback:
		// The definition catches the Bake task's failure and runs Rollback;
		// the shift records promotion.rolled_back with this actor.
		reason := in.Comment
		if reason == "" {
			reason = "none given"
		}
		err = p.Send(ctx, h.d.SFN, pending.RollBack(who.arn, reason))
	}
	if err != nil {
		if awserr.Code(err) == awserr.Closed {
			return refuse(http.StatusConflict, "promotion %s moved on just before this request", in.Execution)
		}
		h.d.Log.ErrorContext(ctx, "approval API: answer not delivered", "execution", in.Execution, "error", redact(err.Error(), token))
		return refuse(http.StatusInternalServerError, "the answer could not be delivered")
	}
	if in.Action == ActionReject {
		res.Left = h.afterRejection(ctx, st)
	}
	// The audit record is the task's that follows: approval.granted or
	// approval.rejected (RecordApproval, RecordRejection), bake.skipped
	// and promotion.rolled_back (the shift), each naming the caller.
	h.d.Log.InfoContext(ctx, "approval API call", "action", in.Action, "function", st.Function, "version", st.Version,
		"execution", in.Execution, "principal", who.arn, "approver", res.Approver, "sourceIp", who.sourceIP, "userAgent", who.userAgent)
	return answer(http.StatusOK, res)
}

// stepApprover says why approver may not decide the approval step the
// promotion waits at ("" when they may): the step names its approvers.
func stepApprover(st promotion.State, approver string) string {
	pl := st.Rollout()
	s := st.Shift
	if s == nil || s.Position < 0 || s.Position >= len(pl.Steps) || pl.Steps[s.Position].Approval == nil {
		return "the promotion waits at no approval step"
	}
	names := pl.Steps[s.Position].Approval.Approvers
	if !slices.ContainsFunc(names, func(a string) bool { return strings.EqualFold(a, approver) }) {
		return fmt.Sprintf("%s is not an approver of this step (%s)", approver, strings.Join(names, ", "))
	}
	return ""
}

// current reads a target's settings as they are now. Without a settings
// source nobody may decide (fail closed).
func (h *Handler) current(ctx context.Context, function string) (config.Target, error) {
	if h.d.Settings == nil {
		return config.Target{}, errors.New("approval: no settings source configured")
	}
	return h.d.Settings.Target(ctx, function)
}

// decider checks, against a target's current settings, that a decider
// verified by AWS — an approver address (a signed link) or an IAM
// principal ARN (API Gateway) — is one of its approvers and not the
// releaser when separation of duties is on. It returns the approver entry
// as listed, or why not.
func decider(t config.Target, rel promotion.Release, address, principal string) (approver, why string) {
	switch {
	case address != "":
		a, ok := allowed(t.Approvers, address)
		if !ok {
			return "", fmt.Sprintf("%s is not among the approvers of %s", address, t.Function)
		}
		approver = a
	default:
		for _, a := range t.Approvers {
			if slices.Contains(t.Approval.Principals[a], principal) {
				approver = a
				break
			}
		}
		if approver == "" {
			return "", fmt.Sprintf("%s is not mapped to any approver of %s (settings approval.principals)", principal, t.Function)
		}
	}
	if t.Approval.SeparateDuties() && rel.RequestedBy != "" {
		for _, id := range []string{approver, principal} {
			if id != "" && strings.EqualFold(strings.TrimSpace(rel.RequestedBy), id) {
				return "", fmt.Sprintf("%s requested this release and may not approve it (approval.distinctFromReleaser)", id)
			}
		}
	}
	return approver, ""
}

// verifiedDecision checks what the RequestApproval task's output says
// before it is recorded as granted: only the approval Lambda answers that
// task (people have no states:SendTaskSuccess), but the record must not
// trust a name or an "approved" a person could have written.
func verifiedDecision(d *promotion.Decision, t config.Target) error {
	switch {
	case !d.Approved:
		return fmt.Errorf("the decision says approved=false")
	case d.Via != ViaLink && d.Via != ViaCLI:
		return fmt.Errorf("the decision came neither from an approval link nor from the approval API (via %q)", d.Via)
	case d.Via == ViaCLI && d.Principal == "":
		return fmt.Errorf("the decision names no verified principal")
	}
	if _, ok := allowed(t.Approvers, d.Approver); !ok {
		return fmt.Errorf("%q is not among the approvers of %s", d.Approver, t.Function)
	}
	if d.Required <= 1 {
		return nil
	}
	// approval.required: as many distinct approvers as required, each
	// one the approval Lambda verified.
	distinct := map[string]bool{}
	for _, a := range append(slices.Clone(d.Earlier), voteOf(*d)) {
		switch {
		case a.Via != ViaLink && a.Via != ViaCLI:
			return fmt.Errorf("the approval of %q came neither from an approval link nor from the approval API (via %q)", a.Approver, a.Via)
		case a.Via == ViaCLI && a.Principal == "":
			return fmt.Errorf("the approval of %q names no verified principal", a.Approver)
		}
		listed, ok := allowed(t.Approvers, a.Approver)
		if !ok {
			return fmt.Errorf("%q is not among the approvers of %s", a.Approver, t.Function)
		}
		distinct[strings.ToLower(listed)] = true
	}
	if len(distinct) < d.Required {
		return fmt.Errorf("%d distinct approvers approved, %d required (approval.required)", len(distinct), d.Required)
	}
	return nil
}

// actorOf is whom an audit record names for a decision: the principal AWS
// verified, else the approver address the signed link was bound to.
func actorOf(d promotion.Decision) string {
	if d.Principal != "" {
		return d.Principal
	}
	return d.Approver
}

// isControl reports control characters, which no comment needs.
func isControl(r rune) bool {
	return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || (r >= 0x80 && r < 0xa0)
}
