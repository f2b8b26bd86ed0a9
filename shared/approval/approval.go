// Package approval is the human gate of a promotion. As a task of the state
// machine it e-mails each approver a signed link (request) and records the
// outcome (granted, rejected, expired); behind API Gateway it serves the
// page a link opens and turns the approver's decision into SendTaskSuccess
// or SendTaskFailure. Links are signed, expire, are bound to one approver
// and never carry the task token: the decider finds the token in the
// execution history (package pending).
package approval

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/pending"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// ViaLink is Decision.Via for decisions made on the approval page.
const ViaLink = promotion.ViaLink

// StepFunctions is the Step Functions calls the approval makes.
type StepFunctions interface {
	pending.HistoryAPI
	pending.AnswerAPI
}

// Publisher is the SNS call the request makes.
type Publisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Aliases is the Lambda calls the page makes to show what prod and stg
// serve, and the commit prod's version was built from.
type Aliases interface {
	GetAlias(ctx context.Context, in *lambda.GetAliasInput, opts ...func(*lambda.Options)) (*lambda.GetAliasOutput, error)
	GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error)
}

// deps is what a Handler works with.
type deps struct {
	SFN      StepFunctions
	SNS      Publisher
	Lambda   Aliases
	Keys     KeySource
	Settings Settings
	// Tally keeps the approvals counted toward approval.required > 1.
	Tally Tally
	// Rollbacks, Trail and StateMachine serve manual rollbacks.
	Rollbacks    Rollbacks
	Trail        Trail
	StateMachine string
	Audit        *audit.Recorder
	Metrics      *metrics.Emitter
	Log          *slog.Logger
	TopicARN     string
	Now          func() time.Time
	Rand         io.Reader
}

// Options tunes a Handler; nil, or any zero field, takes the default.
type Options struct {
	// TopicARN is the approvals topic the request e-mails through; without
	// it a request task fails with a clear error.
	TopicARN string
	// Log receives the operational log lines; discarded when nil.
	Log *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Rand is the nonce source; crypto/rand when nil.
	Rand io.Reader
	// Settings gives the targets' current settings, read when a decision is
	// made (approvers, approval.principals, separation of duties); without
	// it every decision is refused.
	Settings Settings
	// Tally keeps the approvals of a target needing more than one
	// (approval.required) until the last; without it such a target's
	// approvals are refused.
	Tally Tally
	// Rollbacks starts manual rollbacks (and lists the executions in
	// flight), Trail reads the audit trail they are decided from; without
	// both a manual rollback is refused.
	Rollbacks Rollbacks
	Trail     Trail
	// StateMachine is the promotion state machine's ARN, where manual
	// rollbacks start.
	StateMachine string
}

// Handler serves both modes of the approval Lambda.
type Handler struct {
	d deps
}

// New returns a Handler. sf and keys serve both modes; sns serves the
// request task, lc the approval page. A nil rec or m records or emits
// nothing.
func New(sf StepFunctions, sns Publisher, lc Aliases, keys KeySource, rec *audit.Recorder, m *metrics.Emitter, opts *Options) *Handler {
	d := deps{SFN: sf, SNS: sns, Lambda: lc, Keys: keys, Audit: rec, Metrics: m, Now: time.Now, Log: slog.New(slog.DiscardHandler)}
	if opts != nil {
		d.TopicARN, d.Rand, d.Settings, d.Tally = opts.TopicARN, opts.Rand, opts.Settings, opts.Tally
		d.Rollbacks, d.Trail, d.StateMachine = opts.Rollbacks, opts.Trail, opts.StateMachine
		if opts.Log != nil {
			d.Log = opts.Log
		}
		if opts.Now != nil {
			d.Now = opts.Now
		}
	}
	return &Handler{d: d}
}

// Handle is the Lambda entry point: an API Gateway proxy event (it has an
// httpMethod) gets an HTTP response; anything else is a task Payload.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		HTTPMethod *string `json:"httpMethod"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, promotion.TaskError(promotion.ErrInvalidInput, "approval: event is not a JSON object: %v", err)
	}
	if probe.HTTPMethod != nil {
		var req events.APIGatewayProxyRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return h.problem(ctx, problemBadRequest, "The request could not be read."), nil
		}
		return h.ServeAPIGateway(ctx, req), nil
	}
	var req promotion.TaskRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, promotion.TaskError(promotion.ErrInvalidInput, "approval: payload is not a task request: %v", err)
	}
	res, err := h.Task(ctx, req)
	if err != nil {
		// Named so the definition retries transient failures and catches the rest.
		return nil, promotion.AsTaskError(err)
	}
	return res, nil
}

// TaskResult is what the task actions return (the request's result is
// ignored by the waitForTaskToken task; the others' by ResultPath null).
type TaskResult struct {
	Action   string `json:"action"`
	Notified int    `json:"notified,omitempty"`
}

// Task runs one task action of the definition.
func (h *Handler) Task(ctx context.Context, req promotion.TaskRequest) (TaskResult, error) {
	if req.Promotion.Function == "" {
		return TaskResult{}, promotion.TaskError(promotion.ErrInvalidInput, "approval %s: promotion has no function", req.Action)
	}
	switch req.Action {
	case promotion.ActionRequest:
		return h.request(ctx, req)
	case promotion.ActionGranted, promotion.ActionRejected, promotion.ActionExpired:
		return h.outcome(ctx, req)
	}
	return TaskResult{}, promotion.TaskError(promotion.ErrInvalidInput, "approval: unknown action %q (want request, granted, rejected or expired)", req.Action)
}

func (h *Handler) flush(ctx context.Context) {
	if h.d.Audit != nil {
		// A failed put is logged by the recorder; the log line stays the trail.
		_ = h.d.Audit.Flush(ctx)
	}
}

func (h *Handler) record(ctx context.Context, rec audit.Record) {
	if h.d.Audit != nil {
		h.d.Audit.Record(ctx, rec)
	}
}

func (h *Handler) emit(function, name string, value float64, unit string) {
	if h.d.Metrics == nil {
		return
	}
	if err := h.d.Metrics.Emit(function, name, value, unit); err != nil {
		h.d.Log.Warn("metric not written", "metric", name, "error", err.Error())
	}
}
