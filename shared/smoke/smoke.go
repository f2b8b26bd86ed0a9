// Package smoke runs a release's smoke checks against its stg alias: invokes
// of the alias with assertions on the answer and HTTP requests to the
// staging stage. It is the logic of the aliasflow-smoketest Lambda. Failing
// checks are a result, not an error: the definition's Choice routes on
// SmokeResult.Passed, and the approval page shows each check's detail.
package smoke

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/wait"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Invoker is the Lambda call an invoke check makes.
type Invoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// HTTPDoer sends an HTTP check's request; *http.Client is one.
type HTTPDoer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Options tunes a Handler; the zero value is usable.
type Options struct {
	// HTTP sends the http checks; http.DefaultClient when nil.
	HTTP HTTPDoer
	// Log receives operational log lines; discarded when nil.
	Log *slog.Logger
	// Now is the clock latencies are measured with; time.Now when nil.
	Now func() time.Time
	// Sleep waits between attempts; a context-aware timer when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Backoff is the wait before the first retry, doubled for each next
	// one up to MaxBackoff; 500 ms when zero.
	Backoff time.Duration
	// MaxBackoff caps the wait between attempts; 8 s when zero.
	MaxBackoff time.Duration
}

// Handler runs the smoke test task.
type Handler struct {
	inv        Invoker
	http       HTTPDoer
	audit      *audit.Recorder
	log        *slog.Logger
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
	backoff    time.Duration
	maxBackoff time.Duration
}

// New returns a Handler invoking through inv and auditing to rec.
func New(inv Invoker, rec *audit.Recorder, opts *Options) *Handler {
	h := &Handler{inv: inv, http: http.DefaultClient, audit: rec, now: time.Now, sleep: wait.Sleep,
		backoff: 500 * time.Millisecond, maxBackoff: 8 * time.Second,
		log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	if opts != nil {
		if opts.HTTP != nil {
			h.http = opts.HTTP
		}
		if opts.Log != nil {
			h.log = opts.Log
		}
		if opts.Now != nil {
			h.now = opts.Now
		}
		if opts.Sleep != nil {
			h.sleep = opts.Sleep
		}
		if opts.Backoff > 0 {
			h.backoff = opts.Backoff
		}
		if opts.MaxBackoff > 0 {
			h.maxBackoff = opts.MaxBackoff
		}
	}
	return h
}

var versionNumber = regexp.MustCompile(`^[1-9][0-9]{0,9}$`)

// Handle runs every configured check against stg and returns the result;
// only a malformed request is an error (promotion.ErrInvalidInput). With no
// checks configured the release passes with an empty list, and the audit
// record says so.
func (h *Handler) Handle(ctx context.Context, req promotion.TaskRequest) (promotion.SmokeResult, error) {
	defer func() { _ = h.audit.Flush(ctx) }()
	p := req.Promotion
	if err := validate(req); err != nil {
		h.log.ErrorContext(ctx, "invalid smoke request", "action", req.Action, "function", p.Function, "version", p.Version)
		return promotion.SmokeResult{}, err
	}
	h.announce(ctx, req)
	res := promotion.SmokeResult{Passed: true, Checks: []promotion.CheckResult{}}
	// A group's members are each tested against their own stg with their
	// own checks, one after the other; any failing check fails the group
	// (the definition then restores every member's stg). Each member's
	// checks are named "<function>: <check>" so the approval page tells
	// them apart; a single function's keep their names.
	for _, m := range p.Functions() {
		passed, checks := h.member(ctx, req, m)
		if p.Group != "" {
			for i := range checks {
				checks[i].Name = m.Function + ": " + checks[i].Name
			}
		}
		res.Passed = res.Passed && passed
		res.Checks = append(res.Checks, checks...)
	}
	return res, nil
}

// member runs one function's checks against its stg and records the
// outcome (one smoke record per function, carrying the group).
func (h *Handler) member(ctx context.Context, req promotion.TaskRequest, m promotion.Member) (bool, []promotion.CheckResult) {
	t := m.Target
	retries := min(max(t.SmokeRetries, 0), 10)
	passed, checks := true, make([]promotion.CheckResult, 0, len(t.SmokeChecks))
	var failed []string
	for _, c := range t.SmokeChecks {
		r := h.runCheck(ctx, m.Function, m.Version, c, retries)
		h.log.InfoContext(ctx, "smoke check", "function", m.Function, "version", m.Version, "check", r.Name,
			"passed", r.Passed, "attempts", r.Attempts, "latencyMs", r.LatencyMs, "detail", r.Detail)
		checks = append(checks, r)
		if !r.Passed {
			passed = false
			failed = append(failed, fmt.Sprintf("%s (%s)", r.Name, r.Detail))
		}
	}
	rel := m.Release
	rec := audit.Record{Event: audit.SmokePassed, Function: m.Function, Alias: promotion.AliasStg,
		ToVersion: m.Version, Execution: req.Execution, Group: req.Promotion.Group, Release: &rel}
	switch {
	case len(checks) == 0:
		rec.Reason = "no smoke checks configured"
	case passed:
		rec.Reason = fmt.Sprintf("%d of %d checks passed", len(checks), len(checks))
	default:
		rec.Event = audit.SmokeFailed
		rec.Reason = clip(fmt.Sprintf("%d of %d checks failed: %s", len(failed), len(checks), strings.Join(failed, "; ")), 1000)
	}
	h.audit.Record(ctx, rec)
	return passed, checks
}

// announce queues, for this task's one PutEvents, the audit records of
// the release's stg move that the release Lambda logged and left to the
// promotion to put on EventBridge (promotion.Input.Announce), as the
// release logged them (one without a time takes the execution's start). A
// record that does not decode is skipped and logged: the trail, in the
// release's log, has it already.
func (h *Handler) announce(ctx context.Context, req promotion.TaskRequest) {
	for i, raw := range req.Promotion.Announce {
		var rec audit.Record
		if err := json.Unmarshal(raw, &rec); err != nil || rec.Event == "" {
			h.log.WarnContext(ctx, "announced audit record skipped", "index", i, "function", req.Promotion.Function, "error", fmt.Sprint(err))
			continue
		}
		if rec.Time.IsZero() {
			rec.Time = req.StartTime
		}
		h.audit.Forward(h.audit.Stamp(rec))
	}
}

func validate(req promotion.TaskRequest) error {
	p := req.Promotion
	if req.Action != promotion.ActionSmoke {
		return promotion.TaskError(promotion.ErrInvalidInput, "smoketest: unknown action %q (want %q)", req.Action, promotion.ActionSmoke)
	}
	for i, m := range p.Functions() {
		field := "promotion"
		if len(p.Members) > 0 {
			field = fmt.Sprintf("promotion.members[%d]", i)
		}
		switch {
		case config.ValidateFunctionName(m.Function) != nil:
			return promotion.TaskError(promotion.ErrInvalidInput, "smoketest: %s.function: %v", field, config.ValidateFunctionName(m.Function))
		case !versionNumber.MatchString(m.Version):
			return promotion.TaskError(promotion.ErrInvalidInput, "smoketest: %s.version: %q is not a published version number", field, m.Version)
		}
	}
	return nil
}

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
