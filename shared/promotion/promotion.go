// Package promotion defines what one promotion carries through the state
// machine: the deterministic execution input the release Lambda builds, the
// state each task adds to it, the task payloads and the error names the
// definition (infra/statemachine/promotion.asl.json) catches.
package promotion

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

// Alias names used by the pipeline.
const (
	AliasStg  = "stg"
	AliasProd = "prod"
)

// Error names thrown by the pipeline's tasks and matched by the definition's
// Retry and Catch fields.
const (
	// ErrProdBusy: prod carries routing for another release; retried.
	ErrProdBusy = "aliasflow.ProdBusy"
	// ErrSuperseded: a newer release moved stg; this promotion stops.
	ErrSuperseded = "aliasflow.Superseded"
	// ErrHealthCheckFailed: an alarm fired or the error rate is too high.
	ErrHealthCheckFailed = "aliasflow.HealthCheckFailed"
	// ErrAlarmFiring: one of the target's alarms was already in ALARM when
	// the shift would begin; refused before any traffic moves.
	ErrAlarmFiring = "aliasflow.AlarmFiring"
	// ErrRejected: an approver rejected the release (SendTaskFailure).
	ErrRejected = "aliasflow.Rejected"
	// ErrOperatorRollback: an operator rolled a shifting promotion back
	// (the approval Lambda's SendTaskFailure on the Bake task; its Cause is
	// an encoded Override naming the verified caller).
	ErrOperatorRollback = "aliasflow.OperatorRollback"
	// ErrPauseExpired: nobody continued a pause of the plan until
	// continued within its wait; the definition rolls back.
	ErrPauseExpired = "aliasflow.PauseExpired"
	// ErrInvalidInput: the task payload is malformed.
	ErrInvalidInput = "aliasflow.InvalidInput"
	// ErrCannotWeight: the stable and new versions cannot share a weighted
	// alias (different execution role or dead-letter queue); BeginShift
	// refuses a gradual shift before any traffic moves.
	ErrCannotWeight = "aliasflow.CannotWeight"
	// ErrWarmFailed: a warm step's provisioned concurrency ended FAILED,
	// Lambda refused it, or it was not READY within the step's timeout;
	// the definition rolls back.
	ErrWarmFailed = "aliasflow.WarmFailed"
)

// ShiftHold is Shift.Kind for a promotion an operator paused (`aliasflow
// pause`): not a step of the plan but a hold at the current weight, in the
// Pause state, until `aliasflow resume`.
const ShiftHold = "hold"

// ShiftWarming is Shift.Kind for a warm step whose provisioned concurrency
// is not READY yet: the definition waits (WarmWait, shift.bakeSeconds) and
// runs the Warm task again.
const ShiftWarming = "warming"

// Shift task actions, one per state of the definition.
const (
	ActionRestoreStg  = "restore-stg"
	ActionBegin       = "begin"
	ActionSetWeight   = "set-weight"
	ActionBake        = "bake"
	ActionCheckHealth = "check-health"
	// ActionPause is the Pause state's task: like bake it only waits on
	// its token; ActionContinue decides what follows the pause.
	ActionPause    = "pause"
	ActionContinue = "continue"
	// ActionWarm puts a warm step's provisioned concurrency on the new
	// version and reports whether it is READY.
	ActionWarm     = "warm"
	ActionFinalize = "finalize"
	ActionRollback = "rollback"
	ActionAbort    = "abort"
	// ActionManualRollback moves prod back outside a promotion, in an
	// execution the approval API started for an operator (Input.Rollback).
	ActionManualRollback = "manual-rollback"
)

// Approval task actions.
const (
	ActionRequest  = "request"
	ActionGranted  = "granted"
	ActionRejected = "rejected"
	ActionExpired  = "expired"
)

// ActionSmoke is the smoke test task's only action.
const ActionSmoke = "smoke"

// Release is one built artifact of one function. The release Lambda
// validated every field (release.ValidateFacts), but only VerifiedBy is
// known to be true: the others are what the event or the build said.
type Release struct {
	// Commit is a hex commit id, 7 to 64 digits; empty when unknown.
	Commit string `json:"commit,omitempty"`
	// Build is a CodeBuild build id, an ARN, a CI run's link or another
	// id without spaces.
	Build      string `json:"build,omitempty"`
	CodeSha256 string `json:"codeSha256"`
	// RequestedBy is who the release names as its requester — a Release
	// Requested event's requestedBy (the aliasflow CLI puts its caller's
	// ARN there), a build's ALIASFLOW_REQUESTED_BY. Claimed: whoever may
	// put the event or edit the buildspec chooses it.
	RequestedBy string `json:"requestedBy,omitempty"`
	// VerifiedBy is who started the release as AWS vouches for it: the
	// CodeBuild build's initiator (Build.initiator: an IAM user name,
	// "role/session", "codepipeline/<pipeline>", "codebuild-webhook"), read
	// from CodeBuild's own event or BatchGetBuilds. Empty when nothing
	// verified one.
	VerifiedBy string `json:"verifiedBy,omitempty"`
	// Source is "codebuild" or "aliasflow" (a Release Requested event).
	Source string `json:"source"`
	// Title says what changed: the commit message's first line or the
	// pull request's title, as the CI sent it (Release Requested title,
	// a build's ALIASFLOW_TITLE). Claimed; one line; empty when not sent.
	Title string `json:"title,omitempty"`
	// Author is the commit's author as the CI sent it (author,
	// ALIASFLOW_AUTHOR): who wrote the change, apart from who requested
	// its release. Claimed; empty when not sent.
	Author string `json:"author,omitempty"`
}

// Requester is who the audit trail names as the release's actor: the
// verified identity when there is one, else the claimed name.
func (r Release) Requester() string {
	if r.VerifiedBy != "" {
		return r.VerifiedBy
	}
	return r.RequestedBy
}

// Step is one weight of a gradual shift and how long it bakes.
type Step struct {
	Weight      float64 `json:"weight"`
	BakeSeconds int     `json:"bakeSeconds"`
}

// Input is the execution input. Apart from Announce it holds no
// timestamps, so that the same release yields the same input.
type Input struct {
	Function           string        `json:"function"`
	Version            string        `json:"version"`
	PreviousStgVersion string        `json:"previousStgVersion,omitempty"`
	Release            Release       `json:"release"`
	Target             config.Target `json:"target"`
	Steps              []Step        `json:"steps"`
	// Announce holds the audit records of the release's stg move
	// (release.published, alias.moved), as the release Lambda logged them
	// when it started the promotion — the log is the audit trail. Their
	// EventBridge copy is left to the promotion: the smoke test task puts
	// them there in the one PutEvents call it makes for its own record,
	// which keeps a fresh release within its budget of AWS calls. Encoded
	// audit.Record values (package audit depends on this one); empty when a
	// duplicate or a retry started the promotion.
	Announce []json.RawMessage `json:"announce,omitempty"`
	// StgRevision is the RevisionId of stg as the release that started this
	// promotion found it on the version: the one its own move got, or, for
	// a duplicate, the one it read. Lambda changes an alias's RevisionId on
	// every update (API reference, AliasConfiguration: "A unique
	// identifier that changes when you update the alias"), so a release
	// whose start meets this execution already existing tells a promotion
	// started after its move (same revision: a concurrent duplicate
	// overtook it) from an older one (a late duplicate).
	StgRevision string `json:"stgRevision,omitempty"`
	// SettingsVersion is the version of the target's settings parameter
	// the release read Target from (Parameter Store numbers each write),
	// so the approval page and the decision's audit record say which
	// settings the promotion runs under; 0 when unknown.
	SettingsVersion int64 `json:"settingsVersion,omitempty"`
	// Rollback, when present, makes the execution a manual rollback
	// instead of a promotion (the definition's Mode choice): the approval
	// API starts one for an operator when no promotion is shifting.
	Rollback *ManualRollback `json:"rollback,omitempty"`
	// Group names the group when the promotion moves several functions
	// together (a target's settings "group"); empty for one function.
	Group string `json:"group,omitempty"`
	// Members are a group's functions, sorted by function name, each with
	// the version this promotion moves and what it needs to roll back.
	// Empty for a single-function promotion, whose Function/Version (and
	// the fields above) say the same, so older executions read back
	// unchanged. For a group, Function/Version/Release/Target are the
	// first member's.
	Members []Member `json:"members,omitempty"`
}

// Member is one function of a group promotion.
type Member struct {
	Function           string        `json:"function"`
	Version            string        `json:"version"`
	PreviousStgVersion string        `json:"previousStgVersion,omitempty"`
	Release            Release       `json:"release"`
	Target             config.Target `json:"target"`
	// StgRevision is as Input.StgRevision, for this member.
	StgRevision string `json:"stgRevision,omitempty"`
}

// Functions returns the promotion's members: Members for a group, or the
// one function the Input names, in the same shape, so a task handles
// both with one loop.
func (in Input) Functions() []Member {
	if len(in.Members) > 0 {
		return in.Members
	}
	return []Member{{Function: in.Function, Version: in.Version, PreviousStgVersion: in.PreviousStgVersion,
		Release: in.Release, Target: in.Target, StgRevision: in.StgRevision}}
}

// ManualRollback is an operator's rollback outside a promotion, as the
// approval API decided it: prod moves From → To. Actor is the caller's ARN
// as API Gateway verified it, never a name from the request.
type ManualRollback struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
	// BreakGlass says To was not checked against the approved versions
	// (--break-glass); the audit record says so.
	BreakGlass bool `json:"breakGlass,omitempty"`
}

// State is the execution's state as the tasks see it: the input plus what
// earlier states added at their ResultPath.
type State struct {
	Input
	Smoke    *SmokeResult `json:"smoke,omitempty"`
	Approval *Decision    `json:"approval,omitempty"`
	Shift    *Shift       `json:"shift,omitempty"`
	Bake     *Bake        `json:"bake,omitempty"`
	Failure  *Failure     `json:"failure,omitempty"`
}

// SmokeResult is the smoke test task's result, shown on the approval page.
type SmokeResult struct {
	Passed bool          `json:"passed"`
	Checks []CheckResult `json:"checks"`
}

// CheckResult is one smoke check's outcome.
type CheckResult struct {
	Name      string `json:"name"`
	Passed    bool   `json:"passed"`
	LatencyMs int64  `json:"latencyMs"`
	Attempts  int    `json:"attempts"`
	Detail    string `json:"detail"`
}

// Via is where a decision was made.
type Via string

const (
	// ViaLink: on the approval page a signed link opened.
	ViaLink Via = "link"
	// ViaCLI: through the approval API's IAM-authorized resource (the
	// aliasflow command line).
	ViaCLI Via = "cli"
)

// Decision is the output an approver's SendTaskSuccess carries (approved)
// or, JSON-encoded, the Cause of a SendTaskFailure with ErrRejected.
type Decision struct {
	Approved bool   `json:"approved"`
	Approver string `json:"approver"`
	Comment  string `json:"comment,omitempty"`
	Via      Via    `json:"via"`
	// Principal is the IAM principal ARN API Gateway verified for a
	// decision made through the CLI (Via "cli"); Approver is then the
	// approver entry it maps to (config.Approval.Principals).
	Principal string `json:"principal,omitempty"`
	// SourceIP and UserAgent are the decider's, as API Gateway saw them.
	SourceIP    string    `json:"sourceIp,omitempty"`
	UserAgent   string    `json:"userAgent,omitempty"`
	RequestedAt time.Time `json:"requestedAt,omitzero"`
	DecidedAt   time.Time `json:"decidedAt"`
	// Required is how many distinct approvers had to approve (the
	// target's approval.required when the decision was made); Earlier are
	// the approvals counted before this one, oldest first. Both are empty
	// when one approval was enough.
	Required int        `json:"required,omitempty"`
	Earlier  []Approval `json:"earlier,omitempty"`
}

// Approval is one approver's approval as it was counted toward
// approval.required: who (the approver entry and, through the approval
// API, the principal AWS verified), how and when.
type Approval struct {
	Approver  string    `json:"approver"`
	Principal string    `json:"principal,omitempty"`
	Via       Via       `json:"via"`
	Comment   string    `json:"comment,omitempty"`
	DecidedAt time.Time `json:"decidedAt"`
}

// Shift is the shift task's progress, returned by begin and check-health.
type Shift struct {
	StableVersion string  `json:"stableVersion"`
	Step          int     `json:"step"`
	Weight        float64 `json:"weight"`
	BakeSeconds   int     `json:"bakeSeconds"`
	// BakedSeconds is how long this step baked before the current bake:
	// non-zero once an inconclusive verdict extended it.
	BakedSeconds int `json:"bakedSeconds"`
	// Extend says the step bakes again (BakeSeconds more) at the same
	// weight because the evidence was inconclusive.
	Extend bool `json:"extend"`
	// Extensions is how many times this step has baked again; bounded so
	// the execution's history stays within Step Functions' limit
	// (config.BakeRounds).
	Extensions int  `json:"extensions"`
	Done       bool `json:"done"`
	// Kind is the kind of the plan's step to run next (plan.Kind, or
	// plan.KindFinalize): the definition's HasSteps and MoreSteps choose
	// on it. Position is that step's index in the plan.
	Kind     string `json:"kind"`
	Position int    `json:"position"`
	// Verdict is the last health verdict's explanation (check-health):
	// evidence per version, window, freshness, test and threshold.
	Verdict string `json:"verdict"`
	// Logs is the log-stream source's progress through this step (how far
	// it has read and what it counted), so that each check reads only what
	// arrived since the last one. A JSON document owned by package shift,
	// opaque here (a string keeps Shift comparable).
	Logs string `json:"logs"`
	// Probes is what the probes (health.probes) counted in this step so
	// far; a JSON document owned by package shift.
	//
	// Every field is always written: the definition's ResultSelectors pick
	// each one by path, and a path to a missing key fails the state.
	Probes string `json:"probes"`
	// Prod is the prod alias as this promotion last read or wrote it (its
	// versions and RevisionId: begin's read, each set-weight's write), so
	// the next move of prod writes with that revision as the precondition
	// instead of reading prod again (Lambda's control plane is 15 requests
	// a second for the whole account); a JSON document owned by package
	// shift, "" when unknown.
	Prod string `json:"prod"`
}

// Bake is what the Bake wait ended with: a timeout (the bake time passed)
// or an operator's promote (SendTaskSuccess on the Bake task's token).
type Bake struct {
	// PromoteNow: an operator's `aliasflow promote` ended the bake; the
	// promotion goes past this step only, unless Full.
	PromoteNow bool `json:"promoteNow,omitempty"`
	// Full: `aliasflow promote --full`, past every remaining step,
	// accepting an inconclusive verdict.
	Full bool `json:"full,omitempty"`
	// Hold: `aliasflow pause` ended the bake to hold prod at this weight
	// until `aliasflow resume` (ShiftHold).
	Hold bool `json:"hold,omitempty"`
	// Approver is the approver entry that approved an approval step of
	// the plan (the approval API mapped Actor, the verified principal, to
	// it); the step goes on to the next one.
	Approver string `json:"approver,omitempty"`
	Actor    string `json:"actor,omitempty"`
	Error    string `json:"Error,omitempty"`
	Cause    string `json:"Cause,omitempty"`
}

// Skip is the operator's promote the bake ended with (plan.SkipNone for a
// bake that ran its time, or none yet).
func (b *Bake) Skip() plan.Skip {
	switch {
	case b == nil || !b.PromoteNow:
		return plan.SkipNone
	case b.Full:
		return plan.SkipFull
	}
	return plan.SkipStep
}

// Override is the Cause of an operator's rollback (ErrOperatorRollback):
// who asked, as API Gateway verified them, and why.
type Override struct {
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
}

// Failure is what a Catch puts at $.failure.
type Failure struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// TaskRequest is the Payload every task of the definition sends its Lambda.
type TaskRequest struct {
	Action    string `json:"action"`
	Execution string `json:"execution"`
	// StartTime is the execution's start ($$.Execution.StartTime).
	StartTime   time.Time `json:"startTime,omitzero"`
	TaskToken   string    `json:"taskToken,omitempty"`
	ApprovalURL string    `json:"approvalUrl,omitempty"`
	// EnteredTime is when the current state was entered ($$.State.EnteredTime).
	EnteredTime time.Time `json:"enteredTime,omitzero"`
	// Actor is who asked, when an operator invokes a task directly (the
	// CLI's rollback); empty inside the workflow.
	Actor     string `json:"actor,omitempty"`
	Promotion State  `json:"promotion"`
}

// Plan turns a strategy into the partial weights prod passes through before
// it is finalized on the new version. All-at-once has none.
func Plan(s config.StrategyConfig) []Step {
	switch s.Type {
	case config.Canary:
		return []Step{{Weight: float64(s.Percent) / 100, BakeSeconds: s.BakeSeconds}}
	case config.Linear:
		var steps []Step
		for p := s.Percent; p < 100; p += s.Percent {
			steps = append(steps, Step{Weight: float64(p) / 100, BakeSeconds: s.IntervalSeconds})
		}
		return steps
	case config.Steps:
		// The plan's weights, each with its analysis's bake; the plan
		// itself is read from the target (Input.Rollout).
		steps := []Step{}
		for _, w := range (plan.Plan{Steps: s.Steps}).Weights() {
			steps = append(steps, Step{Weight: w.Weight, BakeSeconds: w.BakeSeconds})
		}
		return steps
	}
	return []Step{}
}

// Rollout is the promotion's plan (shared/plan). A "steps" strategy's
// plan is its steps as the release read them with the target (each
// analysis naming no criteria judged by the health settings); any other
// is the preset of Steps, each weight followed by the analysis that
// judges it — Plan(strategy) made Steps, so an execution started before
// plans existed reads the same plan back.
func (in Input) Rollout() plan.Plan {
	t := in.Target
	t.ApplyDefaults()
	if t.Strategy.Type == config.Steps {
		return t.Strategy.Plan(t.Health)
	}
	ws := make([]plan.Weighted, len(in.Steps))
	for i, s := range in.Steps {
		ws[i] = plan.Weighted{Weight: s.Weight, BakeSeconds: s.BakeSeconds}
	}
	return plan.FromWeights(ws, plan.Criteria{MaxErrorRate: t.Health.MaxErrorRate, MinInvocations: t.Health.MinInvocations})
}

// TaskError is an error a Lambda returns so that Step Functions sees name as
// the error (for Retry and Catch) rather than the Go type name.
func TaskError(name, format string, args ...any) error {
	return messages.InvokeResponse_Error{Type: name, Message: fmt.Sprintf(format, args...)}
}
