// Package shift moves the prod alias of a promotion: it records the stable
// version, sets the weight of each step, judges the new version's health,
// finalizes or rolls back, and puts stg back when the smoke checks failed.
// It is the logic of the aliasflow-shift Lambda; every state of the
// promotion definition that touches an alias calls Handler.Handle with one
// action (promotion.Action*). It runs only the tasks the promotion state
// machine scheduled (see scheduled): a person cannot move an alias by
// invoking it.
package shift

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/wait"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Lambda is the part of the Lambda API the shift calls.
type Lambda interface {
	GetAlias(ctx context.Context, in *lambda.GetAliasInput, opts ...func(*lambda.Options)) (*lambda.GetAliasOutput, error)
	UpdateAlias(ctx context.Context, in *lambda.UpdateAliasInput, opts ...func(*lambda.Options)) (*lambda.UpdateAliasOutput, error)
	CreateAlias(ctx context.Context, in *lambda.CreateAliasInput, opts ...func(*lambda.Options)) (*lambda.CreateAliasOutput, error)
	GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error)
	// Invoke runs the probes (health.probes).
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
	// Provisioned runs the warm steps (warm.go).
	Provisioned
}

// CloudWatch is the part of the CloudWatch API the health check calls.
type CloudWatch interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
	GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

// Options tunes a Handler; the zero value is usable.
type Options struct {
	// Log receives the operational log lines; discarded when nil.
	Log *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logs reads the versions' log streams for health.freshSignal "logs".
	Logs Logs
	// Sleep waits d or until ctx ends (a throttled caller check waits);
	// a timer when nil.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Handler runs the shift task's actions.
type Handler struct {
	lambda  Lambda
	cw      CloudWatch
	sfn     Executions
	self    string
	logs    Logs
	audit   *audit.Recorder
	metrics *metrics.Emitter
	log     *slog.Logger
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
}

// New returns a Handler over the given clients. sf verifies that each
// invocation is a task the promotion state machine scheduled. rec receives
// the audit records and m the metrics; both are required.
func New(lc Lambda, cw CloudWatch, sf Executions, rec *audit.Recorder, m *metrics.Emitter, opts *Options) *Handler {
	// Published versions' settings are read once per environment.
	h := &Handler{lambda: &versionConfigs{Lambda: lc}, cw: cw, sfn: sf, self: deploy.ShiftFunction, audit: rec, metrics: m, now: time.Now, sleep: wait.Sleep,
		log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	if opts != nil {
		if opts.Log != nil {
			h.log = opts.Log
		}
		if opts.Now != nil {
			h.now = opts.Now
		}
		if opts.Sleep != nil {
			h.sleep = opts.Sleep
		}
		h.logs = opts.Logs
	}
	return h
}

// Handle runs one action. Begin and check-health return the next Shift; the
// other actions return nil (their states discard the result). Errors the
// definition catches by name are promotion.TaskError values, returned
// unwrapped so the Lambda runtime reports their name.
func (h *Handler) Handle(ctx context.Context, req promotion.TaskRequest) (*promotion.Shift, error) {
	// One PutEvents per invocation, whatever the outcome; a failed put is
	// logged by the recorder and the log lines remain the audit trail.
	defer func() { _ = h.audit.Flush(ctx) }()
	out, err := h.dispatch(ctx, req)
	if err != nil {
		h.log.ErrorContext(ctx, "shift task failed", "action", req.Action, "function", req.Promotion.Function,
			"version", req.Promotion.Version, "error", errorMessage(err))
	}
	return out, promotion.AsTaskError(err)
}

func (h *Handler) dispatch(ctx context.Context, req promotion.TaskRequest) (*promotion.Shift, error) {
	if err := validateAction(req.Action); err != nil {
		return nil, err
	}
	// Only the state machine's own task runs, as it scheduled it.
	req, input, err := h.scheduled(ctx, req)
	if err != nil {
		return nil, err
	}
	if req.Action == promotion.ActionManualRollback {
		// Everything it acts on comes from the execution's own input,
		// which only the approval API wrote (it starts these executions).
		if req.Promotion, err = manualInput(input); err != nil {
			return nil, err
		}
	}
	if err := validate(req); err != nil {
		return nil, err
	}
	t := &task{Handler: h, req: req, p: req.Promotion}
	// Every alias the task moves is stamped as this execution's write, so
	// the reconciler and status tell it from a hand move with one
	// ListAliases (issue 21).
	ctx = alias.WithStamp(ctx, promotion.ExecutionNameOf(req.Execution))
	if t.isGroup() {
		return t.groupAction(ctx) // group.go: every member in lockstep
	}
	switch req.Action {
	case promotion.ActionManualRollback:
		return nil, t.manualRollback(ctx)
	case promotion.ActionRestoreStg:
		return nil, t.restoreStg(ctx)
	case promotion.ActionBegin:
		return t.begin(ctx)
	case promotion.ActionSetWeight:
		return t.setWeight(ctx)
	case promotion.ActionBake, promotion.ActionPause:
		// The Bake and Pause states wait on their task token for the
		// bake or pause time; the weight is already set, so there is
		// nothing to do but return.
		return nil, nil
	case promotion.ActionContinue:
		next, err := t.continuePause(ctx)
		return t.carry(next), err
	case promotion.ActionWarm:
		next, err := t.warm(ctx)
		return t.carry(next), err
	case promotion.ActionCheckHealth:
		next, err := t.checkHealth(ctx)
		return t.carry(next), err
	case promotion.ActionFinalize:
		return nil, t.finalize(ctx)
	case promotion.ActionRollback:
		return nil, t.rollback(ctx)
	case promotion.ActionAbort:
		return nil, t.abort(ctx)
	}
	// validate refuses unknown actions; this is unreachable.
	return nil, promotion.TaskError(promotion.ErrInvalidInput, "unknown action %q", req.Action)
}

// carry keeps in the Shift check-health returns what the promotion already
// learned and the check does not change: prod as last seen, and for a next
// step the versions' log groups (nextStepLogs), so no later task reads
// them again.
func (t *task) carry(next *promotion.Shift) *promotion.Shift {
	s := t.p.Shift
	if next == nil || s == nil {
		return next
	}
	if next.Prod == "" {
		next.Prod = s.Prod
	}
	if next.Logs == "" && next.Step != s.Step {
		next.Logs = t.nextLogs(s.Logs, next.Step)
	}
	return next
}

// errorMessage is what the runtime will report as the errorMessage: a
// TaskError's Message (its Error method prints Go syntax), else Error().
func errorMessage(err error) string {
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		return ive.Type + ": " + ive.Message
	}
	return err.Error()
}

// task is one invocation: the handler plus the request it serves.
type task struct {
	*Handler
	req promotion.TaskRequest
	p   promotion.State
	// verdicts are a group's members' health verdicts in this check
	// (judge), for their records.
	verdicts []memberVerdict
}

// validate refuses a request that could move an alias to something other
// than a published version of a plainly named function.
func validate(req promotion.TaskRequest) error {
	bad := func(format string, args ...any) error {
		return promotion.TaskError(promotion.ErrInvalidInput, "shift %s: "+format, append([]any{req.Action}, args...)...)
	}
	if err := validateAction(req.Action); err != nil {
		return err
	}
	p := req.Promotion
	if err := config.ValidateFunctionName(p.Function); err != nil {
		return bad("promotion.function: %v", err)
	}
	if !alias.IsVersionNumber(p.Version) {
		return bad("promotion.version: %q is not a published version number", p.Version)
	}
	if p.PreviousStgVersion != "" && !alias.IsVersionNumber(p.PreviousStgVersion) {
		return bad("promotion.previousStgVersion: %q is not a published version number", p.PreviousStgVersion)
	}
	pl := p.Rollout()
	if err := plan.Validate(pl); err != nil {
		return bad("promotion.steps: the plan %s: %v", pl, err)
	}
	// A group's stable versions are its members' (validateGroup); its
	// Shift.StableVersion is only the first member's.
	group := len(p.Members) > 0
	if s := p.Shift; s != nil && !group {
		if s.StableVersion != "" && !alias.IsVersionNumber(s.StableVersion) {
			return bad("promotion.shift.stableVersion: %q is not a published version number", s.StableVersion)
		}
		if s.StableVersion == p.Version && req.Action == promotion.ActionSetWeight {
			return bad("promotion.shift.stableVersion: is the new version %s itself; there is nothing to shift", p.Version)
		}
	}
	switch req.Action {
	case promotion.ActionSetWeight, promotion.ActionBake, promotion.ActionCheckHealth:
		s := p.Shift
		if s == nil {
			return bad("promotion.shift is missing")
		}
		if s.StableVersion == "" && !group {
			return bad("promotion.shift.stableVersion is missing: a first release has no steps")
		}
		if pl.AnalysisOf(s.Step) < 0 {
			return bad("promotion.shift.step: %d is outside the %d steps", s.Step, len(pl.Weights()))
		}
		if req.Action == promotion.ActionSetWeight && !(s.Weight > 0 && s.Weight < 1) {
			return bad("promotion.shift.weight: %v must be between 0 and 1 exclusive", s.Weight)
		}
	case promotion.ActionPause, promotion.ActionContinue:
		s := p.Shift
		if s == nil {
			return bad("promotion.shift is missing")
		}
		want := []plan.Kind{plan.KindPause, plan.KindWindow, plan.KindApproval}
		if s.Kind == promotion.ShiftHold {
			want = []plan.Kind{plan.KindAnalysis} // held by an operator during the step's bake
		}
		if s.Position < 0 || s.Position >= len(pl.Steps) || !slices.Contains(want, pl.Steps[s.Position].Kind()) {
			return bad("promotion.shift.position: %d is not a %v of the plan %s", s.Position, want, pl)
		}
	case promotion.ActionWarm:
		s := p.Shift
		if s == nil {
			return bad("promotion.shift is missing")
		}
		if s.Kind != string(plan.KindWarm) && s.Kind != promotion.ShiftWarming {
			return bad("promotion.shift.kind: %q is not %q or %q", s.Kind, plan.KindWarm, promotion.ShiftWarming)
		}
		if s.Position < 0 || s.Position >= len(pl.Steps) || pl.Steps[s.Position].Kind() != plan.KindWarm {
			return bad("promotion.shift.position: %d is not a warm step of the plan %s", s.Position, pl)
		}
	case promotion.ActionFinalize, promotion.ActionRollback:
		if p.Shift == nil {
			return bad("promotion.shift is missing")
		}
	case promotion.ActionManualRollback:
		m := p.Rollback
		switch {
		case m == nil:
			return bad("the execution's input has no rollback")
		case !alias.IsVersionNumber(m.From) || !alias.IsVersionNumber(m.To):
			return bad("rollback: from %q and to %q must be published version numbers", m.From, m.To)
		case m.From == m.To:
			return bad("rollback: prod is already on version %s", m.To)
		case !strings.HasPrefix(m.Actor, "arn:aws"):
			return bad("rollback.actor: %q is not a caller ARN API Gateway verified", m.Actor)
		}
	}
	return nil
}

// validateAction refuses a missing or unknown action.
func validateAction(action string) error {
	switch action {
	case promotion.ActionRestoreStg, promotion.ActionBegin, promotion.ActionSetWeight, promotion.ActionBake,
		promotion.ActionCheckHealth, promotion.ActionPause, promotion.ActionContinue, promotion.ActionWarm,
		promotion.ActionFinalize, promotion.ActionRollback, promotion.ActionAbort,
		promotion.ActionManualRollback:
		return nil
	case "":
		return promotion.TaskError(promotion.ErrInvalidInput, "shift: action is missing")
	}
	return promotion.TaskError(promotion.ErrInvalidInput, "shift: unknown action %q", action)
}

// record writes one audit record with the promotion's common fields.
func (t *task) record(ctx context.Context, rec audit.Record) {
	rec.Function = t.p.Function
	rec.Execution = t.req.Execution
	rec.Group = t.p.Group
	if rec.Release == nil {
		rel := t.p.Release
		rec.Release = &rel
	}
	t.audit.Record(ctx, rec)
}

// emit writes one metric; a failed write only costs the metric.
func (t *task) emit(ctx context.Context, name string, value float64, unit string) {
	if t.metrics == nil {
		return
	}
	if err := t.metrics.Emit(t.p.Function, name, value, unit); err != nil {
		t.log.WarnContext(ctx, "metric not written", "metric", name, "error", err.Error())
	}
}
