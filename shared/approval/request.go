package approval

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/untrusted"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// A re-invoked RequestApproval task must not e-mail the approvers twice nor
// record approval.requested twice. Step Functions runs a Task state's task
// again when a Retry matches its error — a fresh TaskScheduled in the same
// state entry, with a new task token ("Handling errors in Step Functions
// workflows", AWS Step Functions Developer Guide) — and the Lambda
// errors the definition retries (Lambda.ServiceException, Lambda.Unknown,
// ...) can come after the function ran ("Handle transient Lambda service
// exceptions", Step Functions best practices). So before it e-mails anyone
// the request reads the state's earlier attempts from the execution history
// (one GetExecutionHistory call, newest first, back to the entry into
// RequestApproval; no store of its own):
//   - an earlier attempt whose Lambda call returned (TaskSubmitted) had
//     e-mailed every approver and recorded approval.requested: nothing more
//     is sent or recorded;
//   - an earlier attempt that failed names in its error (the TaskFailed
//     cause) the approvers it had e-mailed before failing: only the others
//     are e-mailed, and this attempt records approval.requested.
// An attempt cut off without a word (the process killed between Publish
// and its return) leaves no trace, so its retry e-mails again: delivery is
// at least once. The links stay valid either way: they name the execution,
// never the task token.

// notifiedLabel introduces, in a failed request's error, the approvers it
// e-mailed before failing.
const notifiedLabel = "approvers notified: "

func notifiedNote(who []string) string {
	b, _ := json.Marshal(who)
	if who == nil {
		b = []byte("[]")
	}
	return notifiedLabel + string(b)
}

type earlier struct {
	all bool
	who map[string]bool
}

// notifiedBefore reads which approvers earlier attempts of this
// RequestApproval entry notified. When the history cannot be read it
// answers "none": a second e-mail is better than none.
func (h *Handler) notifiedBefore(ctx context.Context, req promotion.TaskRequest, state string) earlier {
	e := earlier{who: map[string]bool{}}
	if h.d.SFN == nil || req.Execution == "" {
		return e
	}
	attempts, err := promotion.TaskAttempts(ctx, h.d.SFN, req.Execution, state)
	if err != nil {
		h.d.Log.WarnContext(ctx, "approval: earlier attempts unknown; notifying every approver", "execution", req.Execution, "error", err.Error())
		return e
	}
	if len(attempts) > 0 {
		attempts = attempts[:len(attempts)-1] // the last one is this attempt
	}
	for _, a := range attempts {
		if a.Submitted {
			e.all = true
			return e
		}
		for _, who := range notifiedIn(a.Cause) {
			e.who[who] = true
		}
	}
	return e
}

// notifiedIn reads the approvers a failed attempt names in its error. The
// cause is the function's error payload ({"errorMessage": ..., "errorType":
// ...}) as Step Functions records it, or the bare message.
func notifiedIn(cause string) []string {
	msg := cause
	var payload struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &payload) == nil && payload.ErrorMessage != "" {
		msg = payload.ErrorMessage
	}
	i := strings.LastIndex(msg, notifiedLabel)
	if i < 0 {
		return nil
	}
	var who []string
	rest := msg[i+len(notifiedLabel):]
	if end := strings.Index(rest, "]"); end >= 0 {
		rest = rest[:end+1]
	}
	if json.Unmarshal([]byte(rest), &who) != nil {
		return nil
	}
	return who
}

// ApproverAttribute is the SNS message attribute naming the approver a
// message is for; a subscription filter policy on it delivers each approver
// only their own link.
const ApproverAttribute = "approver"

// request e-mails every approver their own signed link. The task then
// waits for the token; this function returns normally.
func (h *Handler) request(ctx context.Context, req promotion.TaskRequest) (TaskResult, error) {
	st := req.Promotion
	t := st.Target
	// The approval at the start asks the target's approvers; an approval
	// step of the plan (issue 20) asks its own, for as long as the step
	// waits, in words that name the step.
	approvers, timeout, state := t.Approvers, t.ApprovalTimeoutSeconds, promotion.StateRequestApproval
	subject, body := Subject(st.Input), Body
	step := StepAt(st)
	if step != nil {
		approvers, timeout, state = step.Approvers, st.Shift.BakeSeconds, promotion.StateRequestStepApproval
		subject, body = StepSubject(st.Input), StepBody
	}
	switch {
	case req.TaskToken == "" && step == nil:
		// An approval step waits for its token in Pause, after this task.
		return TaskResult{}, promotion.TaskError(promotion.ErrInvalidInput, "approval request for %s: no taskToken (the state must be .waitForTaskToken)", st.Function)
	case len(approvers) == 0:
		return TaskResult{}, promotion.TaskError(promotion.ErrInvalidInput, "approval request for %s: target has no approvers", st.Function)
	case timeout <= 0:
		return TaskResult{}, promotion.TaskError(promotion.ErrInvalidInput, "approval request for %s: approvalTimeoutSeconds is %d", st.Function, timeout)
	case h.d.SNS == nil || h.d.TopicARN == "":
		return TaskResult{}, fmt.Errorf("approval request for %s: no approval topic configured (%s)", st.Function, deploy.EnvApprovalTopic)
	}
	base, err := approvalBase(req.ApprovalURL)
	if err != nil {
		return TaskResult{}, promotion.TaskError(promotion.ErrInvalidInput, "approval request for %s: %v", st.Function, err)
	}
	key, err := h.d.Keys.Key(ctx)
	if err != nil {
		return TaskResult{}, fmt.Errorf("approval request for %s: %w", st.Function, err)
	}
	now := h.d.Now().UTC()
	entered := req.EnteredTime
	if entered.IsZero() {
		entered = now
	}
	expires := entered.Add(time.Duration(timeout) * time.Second)
	already := h.notifiedBefore(ctx, req, state)
	if already.all {
		h.d.Log.InfoContext(ctx, "approval already requested by an earlier attempt; nothing sent", "function", st.Function,
			"version", st.Version, "execution", req.Execution)
		return TaskResult{Action: req.Action}, nil
	}
	var notified []string
	for _, approver := range approvers {
		if already.who[approver] {
			notified = append(notified, approver)
			continue
		}
		nonce, err := NewNonce(h.d.Rand)
		if err != nil {
			return TaskResult{}, err
		}
		c := Claims{Execution: req.Execution, Approver: approver, IssuedAt: now.Unix(), ExpiresAt: expires.Unix(), Nonce: nonce}
		if step != nil {
			c.Step = &st.Shift.Position
		}
		link, err := Sign(key, c)
		if err != nil {
			return TaskResult{}, fmt.Errorf("approval request for %s: %w", st.Function, err)
		}
		q := base.Query()
		q.Set("t", link)
		u := *base
		u.RawQuery = q.Encode()
		_, err = h.d.SNS.Publish(ctx, &sns.PublishInput{
			TopicArn: aws.String(h.d.TopicARN),
			Subject:  aws.String(subject),
			Message:  aws.String(body(st, approver, expires, now, u.String())),
			MessageAttributes: map[string]types.MessageAttributeValue{
				ApproverAttribute: {DataType: aws.String("String"), StringValue: aws.String(approver)},
			},
		})
		if err != nil {
			// The retry reads who was notified from this error's message
			// (the TaskFailed cause) and e-mails only the others.
			return TaskResult{}, fmt.Errorf("approval request for %s: notify %s: %w (%s)", st.Function, approver, err, notifiedNote(notified))
		}
		notified = append(notified, approver)
	}
	h.d.Log.InfoContext(ctx, "approval requested", "function", st.Function, "version", st.Version,
		"execution", req.Execution, "approvers", len(approvers), "expiresAt", expires.Format(time.RFC3339), "step", step != nil)
	if step == nil {
		// The shift records an approval step's approval.requested as it
		// decides the step (one record per step).
		h.record(ctx, audit.Record{
			Event: audit.ApprovalRequested, Function: st.Function, ToVersion: st.Version, Release: release(st.Input),
			Execution: req.Execution,
			Reason:    fmt.Sprintf("asked %s; expires %s", strings.Join(approvers, ", "), expires.Format(time.RFC3339)),
		})
	}
	h.flush(ctx)
	return TaskResult{Action: req.Action, Notified: len(approvers)}, nil
}

// approvalBase parses the approval URL the definition passes; links are
// bearer credentials, so only https is accepted, or http to a loopback host
// (the sandbox).
func approvalBase(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("no approvalUrl in the payload")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("approvalUrl %q is not an absolute URL", raw)
	}
	host := u.Hostname()
	loopback := host == "localhost" || host == "127.0.0.1" || host == "::1"
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return nil, fmt.Errorf("approvalUrl %q must be https (http only to a loopback host)", raw)
	}
	u.Fragment = ""
	return u, nil
}

func release(in promotion.Input) *promotion.Release {
	r := in.Release
	return &r
}

// Subject is the e-mail subject of an approval request (SNS allows 100
// characters).
func Subject(in promotion.Input) string {
	s := fmt.Sprintf("Approve %s version %s for prod? (aliasflow)", untrusted.Show(in.Function), untrusted.Show(in.Version))
	if in.Group != "" {
		s = groupTitle(untrusted.Show(in.Group), len(in.Members)) + " (aliasflow)"
	}
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

// Body is the plain-text e-mail of an approval request to one approver.
//
// The genuine link comes first, before anything someone else wrote: the
// release's commit, build and requester are what an event or a build said,
// a smoke check's detail quotes the function's answer. Each such value is
// shown on its own labelled line through untrusted.Show, so a newline in it
// cannot start a line of its own (a fake "smoke tests passed" section, a
// phishing link set apart as the one to click).
func Body(st promotion.State, approver string, expires, now time.Time, link string) string {
	var b strings.Builder
	r := st.Release
	show := untrusted.Show
	row := func(k, v string) {
		if v == "" {
			v = "(unknown)"
		}
		fmt.Fprintf(&b, "%-13s %s\n", k+":", v)
	}
	if st.Group != "" {
		fmt.Fprintf(&b, "aliasflow asks you to approve a release of group %s (%d functions) for production.\n\n", show(st.Group), len(st.Members))
	} else {
		fmt.Fprintf(&b, "aliasflow asks you to approve a release of %s for production.\n\n", show(st.Function))
	}
	b.WriteString("Review and decide here. The link is yours alone: do not forward it.\n")
	b.WriteString(link)
	b.WriteString("\n\n")
	if st.Group != "" {
		b.WriteString(MembersText(st.Input))
		b.WriteString("\n")
	} else {
		row("Function", show(st.Function))
		row("Version", show(st.Version))
	}
	row("Strategy", StrategyText(st.Target.Strategy))
	row("Expires", fmt.Sprintf("%s (in %s)", expires.UTC().Format("2006-01-02 15:04 MST"), Remaining(expires, now)))
	b.WriteString("\nWhat the release says of itself (a value with a control character is shown quoted, escaped):\n")
	if r.Title != "" {
		row("Title", show(r.Title))
	}
	if r.Author != "" {
		row("Author", show(r.Author))
	}
	if st.Group == "" {
		// A group's members list their own code and commit above.
		row("CodeSha256", show(r.CodeSha256))
		row("Commit", show(r.Commit))
	}
	row("Build", show(r.Build))
	who := Requesters(r)
	for _, w := range who {
		row(w.Label, w.Name+" ("+w.Note+")")
	}
	if len(who) == 0 {
		row("Requested by", "")
	}
	b.WriteString("\n")
	b.WriteString(SmokeSummary(st.Smoke))
	if others := Others(st.Target.Approvers, approver); len(others) > 0 {
		for i := range others {
			others[i] = show(others[i])
		}
		if n := st.Target.Approval.RequiredApprovals(); n > 1 {
			fmt.Fprintf(&b, "\nAlso asked: %s. %d of the %d approvers must approve before prod moves (0 of %d approvals so far); one rejection ends the promotion.\n",
				strings.Join(others, ", "), n, len(st.Target.Approvers), n)
		} else {
			fmt.Fprintf(&b, "\nAlso asked: %s. The first decision counts.\n", strings.Join(others, ", "))
		}
	}
	// The reject command as the CLI takes it: it refuses a rejection
	// without a reason (--comment), which the audit trail keeps.
	fmt.Fprintf(&b, "\nOperators can also decide with: aliasflow approve %s  (or: aliasflow reject %s --comment \"why\")\n", show(st.Function), show(st.Function))
	return b.String()
}

// Requester is one line saying who asked for a release and how far that is
// known.
type Requester struct {
	// Label is "Requested by" or, for a build's initiator, "Started by".
	Label string
	// Name is the name, through untrusted.Show.
	Name string
	// Note says whether the name is claimed or verified, and by whom.
	Note     string
	Verified bool
	// ID is the approval page's element id: merged-by (the claim),
	// started-by (the verified identity).
	ID string
}

// Requesters says who asked for a release, the claimed name apart from the
// verified identity: the name a release gives itself
// (promotion.Release.RequestedBy) is a claim; VerifiedBy is AWS's word —
// the CodeBuild build's initiator, or the caller STS named from the CLI's
// caller proof (a Release Requested event, which names that same caller as
// its requester: one line then). Nil when neither is known.
func Requesters(r promotion.Release) []Requester {
	claimed, verified := r.RequestedBy, r.VerifiedBy
	label, how := "Started by", "verified: the CodeBuild build's initiator"
	if r.Source != "codebuild" {
		label, how = "Requested by", "verified by AWS STS: the caller of aliasflow release"
		if claimed == verified {
			claimed = ""
		}
	}
	var out []Requester
	if claimed != "" {
		out = append(out, Requester{Label: "Requested by", Name: untrusted.Show(claimed), Note: "claimed, not verified", ID: "merged-by"})
	}
	if verified != "" {
		out = append(out, Requester{Label: label, Name: untrusted.Show(verified), Note: how, Verified: true, ID: "started-by"})
	}
	return out
}

// SmokeSummary lists the smoke checks as plain text; a check's name and
// detail are shown through untrusted.Show (the detail quotes the function).
func SmokeSummary(s *promotion.SmokeResult) string {
	if s == nil {
		return "Smoke tests against stg: no results recorded\n"
	}
	var b strings.Builder
	verdict := "passed"
	if !s.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "Smoke tests against stg: %s (%d checks)\n", verdict, len(s.Checks))
	for _, c := range s.Checks {
		mark := "PASS"
		if !c.Passed {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  %s %s (%d ms)", mark, untrusted.Show(c.Name), c.LatencyMs)
		if c.Detail != "" {
			fmt.Fprintf(&b, " %s", untrusted.Show(c.Detail))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// PlanText describes how prod will move for the promotion: its strategy
// and the plan's steps (shared/plan) that carry it out.
func PlanText(in promotion.Input) string {
	p := in.Rollout()
	if len(p.Steps) == 0 {
		return StrategyText(in.Target.Strategy)
	}
	return fmt.Sprintf("%s (plan: %s)", StrategyText(in.Target.Strategy), p)
}

// StrategyText describes how prod will move.
func StrategyText(s config.StrategyConfig) string {
	switch s.Type {
	case config.Canary:
		return fmt.Sprintf("canary: %d%% of prod traffic for %s, then 100%%", s.Percent, seconds(s.BakeSeconds))
	case config.Linear:
		return fmt.Sprintf("linear: %d%% more of prod traffic every %s until 100%%", s.Percent, seconds(s.IntervalSeconds))
	case config.AllAtOnce, "":
		return "all at once: prod moves to the new version in one step"
	case config.Steps:
		return "steps as written in the settings"
	}
	return string(s.Type)
}

// seconds reads a whole number of seconds as people say it: "5 minutes",
// "1 hour", "90 seconds".
func seconds(n int) string {
	unit, v := "second", n
	switch {
	case n != 0 && n%3600 == 0:
		unit, v = "hour", n/3600
	case n != 0 && n%60 == 0:
		unit, v = "minute", n/60
	}
	if v != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s", v, unit)
}

func secondsDuration(n int) time.Duration { return time.Duration(n) * time.Second }

// Remaining is a short human duration from now to t ("23h 59m", "expired").
func Remaining(t, now time.Time) string {
	d := t.Sub(now)
	if d <= 0 {
		return "expired"
	}
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "less than a minute"
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh %dm", h, m)
}

// Others returns the approvers other than approver.
func Others(approvers []string, approver string) []string {
	var out []string
	for _, a := range approvers {
		if !strings.EqualFold(a, approver) {
			out = append(out, a)
		}
	}
	return out
}

// outcome records what became of the approval.
func (h *Handler) outcome(ctx context.Context, req promotion.TaskRequest) (TaskResult, error) {
	st := req.Promotion
	rec := audit.Record{Function: st.Function, ToVersion: st.Version, Release: release(st.Input), Execution: req.Execution}
	var d *promotion.Decision
	switch req.Action {
	case promotion.ActionGranted:
		if st.Approval == nil {
			return TaskResult{}, promotion.TaskError(promotion.ErrInvalidInput, "approval granted for %s: the state has no approval decision", st.Function)
		}
		d = st.Approval
		if err := verifiedDecision(d, st.Target); err != nil {
			// Caught by the definition: the promotion aborts, prod unmoved.
			h.d.Log.WarnContext(ctx, "approval not recorded as granted", "execution", req.Execution, "error", err.Error())
			return TaskResult{}, promotion.TaskError(promotion.ErrInvalidInput, "approval of %s not granted: %v", st.Function, err)
		}
		rec.Event, rec.Actor, rec.Reason = audit.ApprovalGranted, actorOf(*d), d.Comment
		if d.Required > 1 {
			c := counted{required: d.Required, votes: append(slices.Clone(d.Earlier), voteOf(*d))}
			rec.Reason = fmt.Sprintf("%s (%s)", c, c.names())
			if d.Comment != "" {
				rec.Reason += ": " + d.Comment
			}
		}
	case promotion.ActionRejected:
		rec.Event = audit.ApprovalRejected
		if st.Failure == nil {
			return TaskResult{}, promotion.TaskError(promotion.ErrInvalidInput, "approval rejected for %s: the state has no failure", st.Function)
		}
		var dec promotion.Decision
		if err := json.Unmarshal([]byte(st.Failure.Cause), &dec); err == nil && dec.Approver != "" {
			d = &dec
			rec.Actor, rec.Reason = actorOf(dec), dec.Comment
		} else {
			// Still audit: the rejection happened even if its cause is not ours.
			rec.Actor, rec.Reason = "unknown", st.Failure.Cause
		}
		h.emit(st.Function, metrics.PromotionsRejected, 1, metrics.Count)
	case promotion.ActionExpired:
		rec.Event = audit.ApprovalExpired
		rec.Reason = fmt.Sprintf("no decision within %s", seconds(st.Target.ApprovalTimeoutSeconds))
	}
	if req.Action != promotion.ActionExpired {
		rec.SettingsVersion = st.Input.SettingsVersion
	}
	if h.d.Tally != nil && (st.Target.Approval.RequiredApprovals() > 1 || d != nil && d.Required > 1) {
		// The count is over; a slot left behind would only cost a parameter.
		if err := h.d.Tally.Clear(ctx, req.Execution); err != nil {
			h.d.Log.WarnContext(ctx, "approval: counted approvals not deleted", "execution", req.Execution, "error", err.Error())
		}
	}
	if d != nil && !d.RequestedAt.IsZero() && !d.DecidedAt.IsZero() {
		h.emit(st.Function, metrics.ApprovalWait, d.DecidedAt.Sub(d.RequestedAt).Seconds(), metrics.Seconds)
	}
	h.record(ctx, rec)
	h.flush(ctx)
	return TaskResult{Action: req.Action}, nil
}
