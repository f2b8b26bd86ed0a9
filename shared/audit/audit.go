// Package audit writes the audit trail: one JSON log record per state change
// (CloudWatch Logs keeps it: that is the trail) and the same record put on
// EventBridge (source "aliasflow") so teams can route it to chat or
// tickets. The EventBridge copy is a notification, sent at least once and
// best effort: a failed PutEvents is logged, never fails the task, and a
// retried task may put its records again.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// Event names an audited state change.
type Event string

// The audited events; each is one Record (README.md, "Operators", says
// where the trail is kept and how to read it).
const (
	ReleasePublished Event = "release.published"
	ReleaseRefused   Event = "release.refused"
	// ReleaseRetried: a fresh promotion of a release whose last one ended
	// without prod on it; Actor is who asked.
	ReleaseRetried    Event = "release.retried"
	AliasMoved        Event = "alias.moved"
	SmokePassed       Event = "smoke.passed"
	SmokeFailed       Event = "smoke.failed"
	ApprovalRequested Event = "approval.requested"
	ApprovalGranted   Event = "approval.granted"
	// ApprovalCounted: an approver approved a release whose target needs
	// more approvals (approval.required); Actor is the verified identity,
	// Reason where the count stands ("1 of 2 approvals"). The approval that
	// completes the count is recorded as approval.granted.
	ApprovalCounted  Event = "approval.counted"
	ApprovalRejected Event = "approval.rejected"
	ApprovalExpired  Event = "approval.expired"
	TrafficShifted   Event = "traffic.shifted"
	// BakeSkipped: an operator ended a bake early (`aliasflow promote`,
	// past this step, or `promote --full`, past every step; the reason
	// says which); health is still checked. A human override, audited
	// with who.
	BakeSkipped Event = "bake.skipped"
	// PauseContinued: an operator continued a pause of the plan
	// (`aliasflow promote`/`resume`), named as AWS verified them.
	PauseContinued Event = "pause.continued"
	// WindowDeferred: a window step of the plan held the promotion: the
	// time is outside its hours or inside a freeze (the reason says which,
	// and when it opens). WindowOverridden: an operator's promote passed a
	// closed window — break-glass, named as AWS verified them.
	// PromotionPaused: an operator paused a baking promotion (`aliasflow
	// pause`), named as AWS verified them; `aliasflow resume` continues it
	// (pause.continued).
	PromotionPaused     Event = "promotion.paused"
	WindowDeferred      Event = "window.deferred"
	WindowOverridden    Event = "window.overridden"
	HealthFailed        Event = "health.failed"
	HealthPassed        Event = "health.passed"
	HealthInconclusive  Event = "health.inconclusive"
	PromotionCompleted  Event = "promotion.completed"
	PromotionRolledBack Event = "promotion.rolled_back"
	PromotionSuperseded Event = "promotion.superseded"
	PromotionAborted    Event = "promotion.aborted"
	// SettingsChanged: a target's settings parameter was written; Actor is
	// the identity CloudTrail recorded for the write, Changes the
	// gate-relevant fields it changed.
	SettingsChanged Event = "settings.changed"
	// VersionDeleted: a published version of a target was deleted
	// (`aliasflow prune`, the reconciler, or anyone); FromVersion is the
	// version, Actor the identity CloudTrail recorded for the
	// DeleteFunction call.
	VersionDeleted Event = "version.deleted"
	// AliasDrifted: the reconciler found an alias that is not where
	// aliasflow last put it and whose stamp is not aliasflow's (moved
	// outside aliasflow); one record per drift, never moved back. Alias,
	// ToVersion and Weight are where it is, FromVersion where aliasflow
	// left it, Reason both in words.
	AliasDrifted Event = "alias.drifted"
	// ReleaseSwept: the reconciler's sweep found a successful build of a
	// target's CodeBuild project with no release (its event was never
	// delivered: CodeBuild's events are best effort) and handed it to the
	// release Lambda; Release.Build names it. One record per build.
	ReleaseSwept Event = "release.swept"
	// PromotionStuck: the reconciler found a promotion running past its
	// deadline; one record per promotion.
	PromotionStuck Event = "promotion.stuck"
)

// Source and DetailType of the events put on EventBridge.
const (
	Source     = "aliasflow"
	DetailType = "Audit Record"
)

// Record is one audit record. Audit is always true so a Logs Insights
// query can select the trail with `filter audit`.
type Record struct {
	Audit       bool               `json:"audit"`
	Event       Event              `json:"event"`
	Function    string             `json:"function"`
	Alias       string             `json:"alias,omitempty"`
	FromVersion string             `json:"fromVersion,omitempty"`
	ToVersion   string             `json:"toVersion,omitempty"`
	Weight      *float64           `json:"weight,omitempty"`
	Release     *promotion.Release `json:"release,omitempty"`
	Actor       string             `json:"actor"`
	Execution   string             `json:"execution,omitempty"`
	Group       string             `json:"group,omitempty"`
	Reason      string             `json:"reason,omitempty"`
	// Verdict is the evidence a health verdict rests on (health.* and the
	// records a verdict caused).
	Verdict *Verdict `json:"verdict,omitempty"`
	// Changes are the gate-relevant fields a settings.changed record's
	// write changed.
	Changes []Change `json:"changes,omitempty"`
	// SettingsVersion is the version of the target's settings parameter a
	// decision was made under (approval.*), as the release read it.
	SettingsVersion int64 `json:"settingsVersion,omitempty"`
	// EventID is the id of the AWS event a record audits (CloudTrail's
	// eventID, for version.deleted and settings.changed). Every delivery of
	// that event writes a record with the same id, and the ledger reads the
	// records of one event and id as one.
	EventID string    `json:"eventId,omitempty"`
	Time    time.Time `json:"time"`
}

// Change is one field of a target's settings as a write changed it: its
// JSON before and after ("" when absent).
type Change struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// Outcome is what a health verdict found.
type Outcome string

// The outcomes of a health verdict.
const (
	Healthy      Outcome = "healthy"
	Unhealthy    Outcome = "unhealthy"
	Inconclusive Outcome = "inconclusive"
)

// Verdict explains a health verdict: what was decided, by which evidence,
// with which test and threshold.
type Verdict struct {
	Outcome Outcome `json:"outcome"`
	// DecidedBy names the evidence that decided: "logs", "metrics",
	// "alarms", "latency", or "" while inconclusive.
	DecidedBy string `json:"decidedBy,omitempty"`
	// Test names the statistical test and its level.
	Test string `json:"test"`
	// MaxErrorRate is the configured excess over the stable version's rate.
	MaxErrorRate float64 `json:"maxErrorRate"`
	// MinInvocations is the smallest sample judged at all.
	MinInvocations int `json:"minInvocations"`
	// Sources is the evidence read, freshest first.
	Sources []Evidence `json:"sources,omitempty"`
}

// Evidence is what one source (CloudWatch metrics or the versions' log
// streams) showed for the new and the stable version over one window.
type Evidence struct {
	Source string    `json:"source"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// FreshThrough is how far the source's data is complete.
	FreshThrough time.Time `json:"freshThrough"`
	// Covered says whether the data covers the step's exposure.
	Covered           bool    `json:"covered"`
	NewVersion        string  `json:"newVersion"`
	NewInvocations    float64 `json:"newInvocations"`
	NewErrors         float64 `json:"newErrors"`
	StableVersion     string  `json:"stableVersion"`
	StableInvocations float64 `json:"stableInvocations"`
	StableErrors      float64 `json:"stableErrors"`
	// ErrorRateLimit is the rate the new version was held to in this
	// window: the stable version's rate plus the allowed excess.
	ErrorRateLimit float64 `json:"errorRateLimit"`
	// UpperBound is the new version's error rate's upper confidence bound.
	UpperBound float64 `json:"upperBound"`
	// NewP99Ms and StableP99Ms are the p99 durations, when read.
	NewP99Ms    float64 `json:"newP99Ms,omitempty"`
	StableP99Ms float64 `json:"stableP99Ms,omitempty"`
	// SeesHandledErrors says the source counts handled function errors (a
	// Go handler's returned error, a Node.js handler's throw). Lambda
	// reports those as completed invocations — no Status on the REPORT
	// line — so a source blind to them may fail a step but never pass one.
	SeesHandledErrors bool `json:"seesHandledErrors"`
	// SeesCrashes says the source counts crashes, timeouts and init
	// failures.
	SeesCrashes bool `json:"seesCrashes"`
	// SeesLatency says the source reads durations.
	SeesLatency bool `json:"seesLatency"`
	// Blind says, in words, what the source cannot see and why.
	Blind string `json:"blind,omitempty"`
	// CallsNeeded is how many error-free calls of the new version the
	// test needs before this source could pass the step.
	CallsNeeded int `json:"callsNeeded,omitempty"`
}

// UnmarshalJSON reads a record from an EventBridge event's detail or from
// its log line. The Lambdas log through aws-lambda-go's lambdacontext
// handler, which writes Lambda's JSON log format and so names the line's
// time "timestamp" (and its message "message"); the record's Time is read
// from either key.
func (r *Record) UnmarshalJSON(b []byte) error {
	type plain Record
	var v struct {
		plain
		Timestamp time.Time `json:"timestamp"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Record(v.plain)
	if r.Time.IsZero() {
		r.Time = v.Timestamp
	}
	return nil
}

// Weight returns a pointer to w, for Record.Weight.
func Weight(w float64) *float64 { return &w }

// EventPutter is the EventBridge call the recorder makes.
type EventPutter interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Recorder logs audit records and queues them for EventBridge; Flush sends
// the queue in one PutEvents call so a task pays one call, not one per record.
type Recorder struct {
	log    *slog.Logger
	bus    EventPutter
	name   string
	now    func() time.Time
	delays []time.Duration
	mu     sync.Mutex
	queue  []Record
}

// DefaultRetryDelays are the waits before Flush puts again the entries a
// PutEvents call did not ingest (FailedEntryCount > 0): a call can succeed
// while some of its entries fail, each with its own ErrorCode such as
// ThrottlingException or InternalFailure ("PutEvents", Amazon EventBridge
// API Reference: Entries, FailedEntryCount), and the SDK's retryer only
// retries whole failed calls. Exponential, each jittered by up to half.
var DefaultRetryDelays = []time.Duration{100 * time.Millisecond, 400 * time.Millisecond, 1600 * time.Millisecond}

// Options tunes a Recorder; the zero value is usable.
type Options struct {
	// BusName is the event bus; "default" when empty.
	BusName string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// RetryDelays replace DefaultRetryDelays when not nil (tests: zeros).
	RetryDelays []time.Duration
}

// New returns a Recorder writing to log and, when bus is not nil, to
// EventBridge.
func New(log *slog.Logger, bus EventPutter, opts *Options) *Recorder {
	r := &Recorder{log: log, bus: bus, name: "default", now: time.Now, delays: DefaultRetryDelays}
	if opts != nil {
		if opts.RetryDelays != nil {
			r.delays = opts.RetryDelays
		}
		if opts.BusName != "" {
			r.name = opts.BusName
		}
		if opts.Now != nil {
			r.now = opts.Now
		}
	}
	return r
}

// Stamp fills in what every record carries and Record would fill in: Audit,
// Time (now, unless set) and Actor ("aliasflow", unless set). A record
// stamped before it is logged keeps the same time wherever it goes.
func (r *Recorder) Stamp(rec Record) Record {
	rec.Audit = true
	if rec.Time.IsZero() {
		rec.Time = r.now().UTC()
	}
	if rec.Actor == "" {
		rec.Actor = "aliasflow"
	}
	return rec
}

// Record writes rec as one log line and queues it for EventBridge.
func (r *Recorder) Record(ctx context.Context, rec Record) {
	rec = r.Log(ctx, rec)
	r.Forward(rec)
}

// Log writes rec, stamped, as its log line — the audit trail — and does
// not queue it: its EventBridge copy is put by another task, which Forwards
// it. It returns the record as logged.
func (r *Recorder) Log(ctx context.Context, rec Record) Record {
	rec = r.Stamp(rec)
	attrs := []slog.Attr{
		slog.Bool("audit", true),
		slog.String("event", string(rec.Event)),
		slog.String("function", rec.Function),
		slog.String("actor", rec.Actor),
	}
	for _, kv := range [][2]string{{"alias", rec.Alias}, {"fromVersion", rec.FromVersion}, {"toVersion", rec.ToVersion}, {"execution", rec.Execution}, {"group", rec.Group}, {"reason", rec.Reason}, {"eventId", rec.EventID}} {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	if rec.Weight != nil {
		attrs = append(attrs, slog.Float64("weight", *rec.Weight))
	}
	if rec.Release != nil {
		attrs = append(attrs, slog.Any("release", rec.Release))
	}
	if rec.Verdict != nil {
		attrs = append(attrs, slog.Any("verdict", rec.Verdict))
	}
	if rec.Changes != nil {
		attrs = append(attrs, slog.Any("changes", rec.Changes))
	}
	if rec.SettingsVersion != 0 {
		attrs = append(attrs, slog.Int64("settingsVersion", rec.SettingsVersion))
	}
	// The record's own time, not the moment of logging, is the line's "time".
	line := slog.NewRecord(rec.Time, slog.LevelInfo, "audit "+string(rec.Event), 0)
	line.AddAttrs(attrs...)
	if h := r.log.Handler(); h.Enabled(ctx, slog.LevelInfo) {
		_ = h.Handle(ctx, line)
	}
	return rec
}

// Forward queues records for the next Flush without logging them: records
// already logged, by this task (Record) or by another one that left their
// EventBridge copy to this task (the release hands the workflow the
// records of its stg move; the smoke test task puts them on EventBridge
// with its own, in its one PutEvents call).
func (r *Recorder) Forward(recs ...Record) {
	r.mu.Lock()
	r.queue = append(r.queue, recs...)
	r.mu.Unlock()
}

// Flush puts the queued records on EventBridge. A failure is logged and
// returned; the log records already written stay the audit trail.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	queue := r.queue
	r.queue = nil
	r.mu.Unlock()
	if r.bus == nil || len(queue) == 0 {
		return nil
	}
	for start := 0; start < len(queue); start += 10 { // PutEvents takes at most 10 entries
		end := min(start+10, len(queue))
		entries := make([]types.PutEventsRequestEntry, 0, end-start)
		for _, rec := range queue[start:end] {
			detail, err := json.Marshal(rec)
			if err != nil {
				return fmt.Errorf("audit: encode %s: %w", rec.Event, err)
			}
			entries = append(entries, types.PutEventsRequestEntry{
				Source:       aws.String(Source),
				DetailType:   aws.String(DetailType),
				Detail:       aws.String(string(detail)),
				EventBusName: aws.String(r.name),
				Time:         aws.Time(rec.Time),
			})
		}
		if err := r.put(ctx, entries); err != nil {
			r.log.ErrorContext(ctx, "audit events not put on EventBridge", "error", err.Error())
			return fmt.Errorf("audit: put events: %w", err)
		}
	}
	return nil
}

// put puts entries, and again, after each of r.delays, those not ingested.
func (r *Recorder) put(ctx context.Context, entries []types.PutEventsRequestEntry) error {
	for attempt := 0; ; attempt++ {
		out, err := r.bus.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return err
		}
		if out == nil || out.FailedEntryCount == 0 {
			return nil
		}
		var failed []types.PutEventsRequestEntry
		var codes []string
		for i, e := range out.Entries {
			if e.ErrorCode != nil && i < len(entries) {
				failed = append(failed, entries[i])
				codes = append(codes, aws.ToString(e.ErrorCode))
			}
		}
		if len(failed) == 0 { // a count without the entries to tell which: put them all again
			failed = entries
		}
		if attempt >= len(r.delays) {
			return fmt.Errorf("%d of %d entries failed after %d attempts (%s)", out.FailedEntryCount, len(entries), attempt+1, strings.Join(codes, ", "))
		}
		r.log.WarnContext(ctx, "audit events partly not ingested; putting them again", "failed", len(failed), "codes", strings.Join(codes, ","), "attempt", attempt+1)
		d := r.delays[attempt]
		if d > 0 {
			d += time.Duration(rand.Int64N(int64(d)/2 + 1))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d entries not ingested: %w", len(failed), ctx.Err())
		case <-time.After(d):
		}
		entries = failed
	}
}
