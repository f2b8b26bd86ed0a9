package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aliasflow/aliasflow/shared/wait"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Lambda is the part of the Lambda API a release uses.
type Lambda interface {
	PublishVersion(ctx context.Context, in *lambda.PublishVersionInput, opts ...func(*lambda.Options)) (*lambda.PublishVersionOutput, error)
	GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error)
	ListAliases(ctx context.Context, in *lambda.ListAliasesInput, opts ...func(*lambda.Options)) (*lambda.ListAliasesOutput, error)
	GetAlias(ctx context.Context, in *lambda.GetAliasInput, opts ...func(*lambda.Options)) (*lambda.GetAliasOutput, error)
	UpdateAlias(ctx context.Context, in *lambda.UpdateAliasInput, opts ...func(*lambda.Options)) (*lambda.UpdateAliasOutput, error)
	CreateAlias(ctx context.Context, in *lambda.CreateAliasInput, opts ...func(*lambda.Options)) (*lambda.CreateAliasOutput, error)
}

// StepFunctions is the part of the Step Functions API a release uses.
type StepFunctions interface {
	ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, opts ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, opts ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
	StopExecution(ctx context.Context, in *sfn.StopExecutionInput, opts ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// Builds is the CodeBuild call a release makes when an event lacks the
// build's exported variables.
type Builds interface {
	BatchGetBuilds(ctx context.Context, in *codebuild.BatchGetBuildsInput, opts ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error)
}

// Outcome says what a release event led to.
type Outcome string

// The outcomes of Handle.
const (
	// Started: a version was published, stg moved and a promotion started.
	Started Outcome = "started"
	// Duplicate: stg already served the version; the promotion was started
	// (again, idempotently) and nothing else moved.
	Duplicate Outcome = "duplicate"
	// Refused: the event is malformed or names something not releasable.
	Refused Outcome = "refused"
	// Ignored: the event is not a release (a build that did not succeed).
	Ignored Outcome = "ignored"
)

// Result is what the release Lambda returns.
type Result struct {
	Outcome   Outcome `json:"outcome"`
	Function  string  `json:"function,omitempty"`
	Version   string  `json:"version,omitempty"`
	Execution string  `json:"execution,omitempty"`
	Reason    string  `json:"reason,omitempty"`
	// Group is set for a group's release (see GroupResult); a pointer
	// keeps Result comparable.
	Group *GroupResult `json:"group,omitempty"`
}

// Defaults for the bounded retries.
const (
	// DefaultPublishWait bounds how long PublishVersion is retried while
	// $LATEST is mid-update (ResourceConflictException).
	DefaultPublishWait = 60 * time.Second
	// DefaultAliasAttempts bounds the UpdateAlias tries when another writer
	// moves stg between our GetAlias and UpdateAlias.
	DefaultAliasAttempts = 3
	firstBackoff         = time.Second
	maxBackoff           = 8 * time.Second
	// maxPages bounds the pagination of ListExecutions so a runaway listing
	// cannot eat the timeout.
	maxPages = 20
	// DefaultActiveWait bounds the wait for a published version to be
	// Active before stg moves to it.
	DefaultActiveWait = 2 * time.Minute
	// The published-version-active waiter of the AWS SDKs polls every 5 s;
	// the first look comes sooner, as most versions are ready in a moment.
	firstActiveCheck = time.Second
	maxActiveCheck   = 5 * time.Second
)

// Handler handles release events. Build it with New; it is not changed by
// the events it handles.
type Handler struct {
	// Targets holds the targets' settings (a settings.Store in the Lambda).
	Targets         Targets
	StateMachineARN string
	Lambda          Lambda
	SFN             StepFunctions
	Builds          Builds
	// Callers verifies a Release Requested event's callerProof; without
	// it every requester stays a claim.
	Callers Callers
	Audit   *audit.Recorder
	Metrics *metrics.Emitter
	Log     *slog.Logger
	// Sleep waits between retries; a test injects one that does not sleep.
	Sleep func(ctx context.Context, d time.Duration) error
	// PublishWait, ActiveWait and AliasAttempts override the defaults when
	// positive.
	PublishWait   time.Duration
	ActiveWait    time.Duration
	AliasAttempts int
	// SettingsPath and SettingsHistory audit the writes of the targets'
	// settings parameters (settings.changed); without them such events
	// are ignored.
	SettingsPath    string
	SettingsHistory settings.History
}

// Options tunes a Handler; nil, or any zero field, takes the default.
type Options struct {
	// Log receives the operational log lines; discarded when nil.
	Log *slog.Logger
	// Sleep waits between retries; a context-aware timer when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// PublishWait bounds the PublishVersion retries; DefaultPublishWait
	// when zero.
	PublishWait time.Duration
	// ActiveWait bounds the wait for the published version to be Active;
	// DefaultActiveWait when zero.
	ActiveWait time.Duration
	// AliasAttempts bounds the stg UpdateAlias tries; DefaultAliasAttempts
	// when zero.
	AliasAttempts int
	// Callers verifies callers' proofs (STSCallers in the Lambda); nil
	// leaves every requester a claim.
	Callers Callers
	// SettingsPath is the pipeline's settings path (settings.Path) and
	// SettingsHistory reads its parameters' versions: together they audit
	// each write of a target's settings.
	SettingsPath    string
	SettingsHistory settings.History
}

// New returns a Handler releasing the targets of cfg through the promotion
// state machine stateMachineARN. A nil rec records to the log only; a nil
// m emits no metrics.
func New(targets Targets, stateMachineARN string, lc Lambda, sf StepFunctions, builds Builds, rec *audit.Recorder, m *metrics.Emitter, opts *Options) *Handler {
	h := &Handler{Targets: targets, StateMachineARN: stateMachineARN, Lambda: lc, SFN: sf, Builds: builds, Audit: rec, Metrics: m,
		Log: slog.New(slog.DiscardHandler)}
	if opts != nil {
		if opts.Log != nil {
			h.Log = opts.Log
		}
		h.Sleep, h.PublishWait, h.ActiveWait, h.AliasAttempts = opts.Sleep, opts.PublishWait, opts.ActiveWait, opts.AliasAttempts
		h.Callers = opts.Callers
		h.SettingsPath, h.SettingsHistory = opts.SettingsPath, opts.SettingsHistory
	}
	if h.Audit == nil {
		h.Audit = audit.New(h.Log, nil, nil)
	}
	return h
}

// Handle processes one raw EventBridge event. A refused event is audited
// and answered with a Refused result and no error, so EventBridge's
// asynchronous retries do not repeat a refusal; a transient AWS failure is
// returned as an error so that Lambda retries the event — every step is
// idempotent, so a retry completes what the failed attempt began.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (res Result, err error) {
	// One PutEvents call per invocation, also after a failure: the records
	// of the changes that did happen must reach EventBridge too.
	defer func() {
		// A failed PutEvents is logged by Flush and does not fail the
		// release: the log lines already written are the audit trail, and a
		// retry would find nothing left to record.
		_ = h.Audit.Flush(ctx)
	}()
	if detail, ok := isSettingsWrite(raw); ok {
		return h.settingsChanged(ctx, detail)
	}
	if detail, ok := isLambdaCall(raw); ok {
		return h.versionDeleted(ctx, detail)
	}
	req, res, err := h.resolve(ctx, raw)
	if req == nil || err != nil {
		return res, err
	}
	if len(req.Members) > 0 {
		return h.releaseGroup(ctx, req)
	}
	return h.release(ctx, req)
}

// resolve parses the event and, when the event lacks the build's exported
// variables, reads them with BatchGetBuilds. It returns a nil request with
// the final result when there is nothing to release.
func (h *Handler) resolve(ctx context.Context, raw json.RawMessage) (*Request, Result, error) {
	parsed, err := ParseEvent(ctx, raw, h.Targets)
	if err == nil && parsed.Lookup != "" {
		var facts BuildFacts
		facts, err = h.buildFacts(ctx, parsed.Lookup)
		if err == nil {
			parsed.Request, err = parsed.Complete(ctx, h.Targets, facts)
		}
	}
	var refusal *Refusal
	switch {
	case errors.As(err, &refusal):
		rec := audit.Record{Event: audit.ReleaseRefused, Function: refusal.Function, Release: refusal.Release, Reason: refusal.Reason}
		if refusal.Release != nil {
			rec.Actor = refusal.Release.Requester()
		}
		h.Audit.Record(ctx, rec)
		return nil, Result{Outcome: Refused, Function: refusal.Function, Reason: refusal.Reason}, nil
	case err != nil:
		return nil, Result{}, err
	case parsed.Ignored != "":
		h.log().InfoContext(ctx, "event ignored", "reason", parsed.Ignored)
		return nil, Result{Outcome: Ignored, Reason: parsed.Ignored}, nil
	}
	if err := h.verifyCaller(ctx, parsed.Request); err != nil {
		return nil, Result{}, err
	}
	return parsed.Request, Result{}, nil
}

// verifyCaller asks STS who signed the request's caller proof and records
// that identity as the release's VerifiedBy. A proof STS does not vouch for
// changes nothing (the requester stays a claim); STS out of reach is an
// error, so the event is retried. The proof itself is never logged.
func (h *Handler) verifyCaller(ctx context.Context, req *Request) error {
	if req.proof == "" {
		return nil
	}
	fn := req.Function()
	if h.Callers == nil {
		h.log().WarnContext(ctx, "caller proof not verified: no verifier configured", "function", fn)
		return nil
	}
	binding := ProofBinding(fn, req.Release.CodeSha256)
	if len(req.Members) > 0 {
		binding = GroupProofBinding(req.Members)
	}
	arn, err := h.Callers.VerifyCaller(ctx, req.proof, binding)
	if err == nil {
		err = validateName(arn)
		if err != nil {
			err = fmt.Errorf("%w: the identity STS named: %v", ErrProofRejected, err)
		}
	}
	switch {
	case errors.Is(err, ErrProofRejected):
		h.log().WarnContext(ctx, "caller not verified; the requester stays a claim", "function", fn,
			"requestedBy", req.Release.RequestedBy, "reason", err.Error())
		return nil
	case err != nil:
		return fmt.Errorf("verify the caller of the release of %s: %w", fn, err)
	}
	req.Release.VerifiedBy = arn
	for _, m := range req.Members {
		m.Release.VerifiedBy = arn
	}
	return nil
}

func (h *Handler) buildFacts(ctx context.Context, id string) (BuildFacts, error) {
	out, err := h.Builds.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{id}})
	if err != nil {
		return BuildFacts{}, fmt.Errorf("batch get build %s: %w", id, err)
	}
	for _, b := range out.Builds {
		if aws.ToString(b.Id) != id {
			continue
		}
		vars := map[string]string{}
		for _, v := range b.ExportedEnvironmentVariables {
			vars[aws.ToString(v.Name)] = aws.ToString(v.Value)
		}
		return BuildFacts{Vars: vars, Initiator: aws.ToString(b.Initiator)}, nil
	}
	return BuildFacts{}, refuse("CodeBuild has no build %s", id)
}

// release runs steps 2–6 for a validated request.
func (h *Handler) release(ctx context.Context, req *Request) (Result, error) {
	fn := req.Function()
	pub, err := h.publish(ctx, req)
	if err != nil {
		return h.refused(ctx, req, err)
	}
	version := pub.version
	// One ListAliases reads stg and prod together (the call GetAlias(stg)
	// was): prod is needed to know whether there is anything to release.
	stg, prod, err := h.readAliases(ctx, fn)
	if err != nil {
		return Result{}, err
	}
	if prod.Serves(version) {
		// PublishVersion returned the version prod serves: $LATEST holds the
		// code and configuration prod already runs. A promotion would end
		// "prod N→N" and ask approvers for nothing.
		return h.refused(ctx, req, refuse("nothing to release: prod already serves version %s, which is this build's code (%s)", version, req.Release.CodeSha256))
	}
	if req.Retry {
		return h.retry(ctx, req, pub, stg)
	}
	name := promotion.ExecutionName(fn, version, req.Release.CodeSha256)
	execARN := promotion.ExecutionARN(h.StateMachineARN, name)
	res := Result{Function: fn, Version: version, Execution: execARN}

	duplicate := func(stg alias.Alias) (Result, error) {
		// A duplicate (or the retry of an attempt that failed after moving
		// stg): nothing moves; starting the execution is idempotent.
		prev, ok := previousFor(stg, name)
		if !ok {
			h.log().WarnContext(ctx, "stg serves the version but was not moved by this release; previousStgVersion unknown",
				"function", fn, "version", version, "description", stg.Description)
		}
		// It announces nothing: the attempt that moved stg logged the move
		// and either started a promotion that announces it or, failing to
		// start one, put the records on EventBridge itself.
		arn, err := h.start(ctx, req, version, prev, name, stg.Revision, nil)
		if err != nil && awserr.Code(err) != awserr.AlreadyExists {
			return Result{}, err
		}
		// ExecutionAlreadyExists: the promotion ran and closed, or runs with
		// an input this attempt could not reproduce; either way it started.
		res.Outcome, res.Execution = Duplicate, arn
		h.log().InfoContext(ctx, "duplicate release: stg already serves the version", "function", fn, "version", version, "execution", arn)
		return res, nil
	}
	if stg.Serves(version) {
		return duplicate(stg)
	}
	if err := h.waitActive(ctx, fn, pub); err != nil {
		return h.refused(ctx, req, err)
	}

	// Older promotions are stopped before stg moves, so that a failed attempt
	// leaves stg where it was and its retry takes this path again; once stg
	// serves the version a retry takes the duplicate path above and only has
	// the start left to do.
	if !settled(stg, prod) {
		if err := h.supersede(ctx, fn, version, name, execARN); err != nil {
			return h.refused(ctx, req, err)
		}
	}
	prev, moved, err := h.moveStg(ctx, req, version, name, stg)
	var movedMeanwhile *stgMovedMeanwhile
	if errors.As(err, &movedMeanwhile) {
		// A concurrent duplicate of this event moved stg first.
		return duplicate(movedMeanwhile.stg)
	}
	if err != nil {
		return Result{}, err
	}
	announce := h.moveRecords(req, version, prev, execARN)
	arn, err := h.start(ctx, req, version, prev, name, moved.Revision, announce)
	if awserr.Code(err) == awserr.AlreadyExists {
		ours, derr := h.startedAfterMove(ctx, arn, moved.Revision)
		if derr != nil {
			// Not known whose it is: stg stays, and the event is retried
			// (it then takes the duplicate path). The records are kept.
			for _, rec := range announce {
				h.Audit.Record(ctx, rec)
			}
			return Result{}, derr
		}
		if ours {
			// A concurrent duplicate of this event found stg moved and
			// started the promotion first, announcing nothing (it cannot
			// know this attempt's records): this attempt's move stands (the
			// promotion owns stg now) and its records go on EventBridge
			// from here.
			h.log().InfoContext(ctx, "a concurrent duplicate started this release's promotion first", "function", fn, "version", version, "execution", arn)
			for _, rec := range announce {
				h.Audit.Record(ctx, rec)
			}
			return h.started(ctx, res, arn), nil
		}
		// This release's promotion was started before this attempt's move:
		// it ran (it is closed) or runs while stg had been moved away from
		// it. This event is a late duplicate. The version is not new, and stg must not stay
		// on it.
		h.Audit.Record(ctx, audit.Record{Event: audit.AliasMoved, Function: fn, Alias: promotion.AliasStg, FromVersion: prev, ToVersion: version, Release: &req.Release, Execution: execARN,
			Actor: req.Release.Requester(), Reason: "late duplicate of a release whose promotion already exists"})
		res.Outcome = Duplicate
		res.Reason = "the promotion of this release already exists"
		if h.restoreStg(ctx, req, version, prev, moved, execARN) {
			res.Reason += "; stg put back on " + prev
		}
		return res, nil
	}
	// Audited once stg moved, whether or not the start succeeded: a retry
	// finds stg on the version and takes the duplicate path, which records
	// nothing. Started, the promotion puts the records on EventBridge (its
	// smoke test task, promotion.Input.Announce); not started, this
	// invocation puts them there itself.
	for _, rec := range announce {
		if err == nil {
			h.Audit.Log(ctx, rec)
		} else {
			h.Audit.Record(ctx, rec)
		}
	}
	if err != nil {
		return Result{}, err
	}
	return h.started(ctx, res, arn), nil
}

// started completes res for a promotion this release started.
func (h *Handler) started(ctx context.Context, res Result, arn string) Result {
	res.Outcome, res.Execution = Started, arn
	if h.Metrics != nil {
		if merr := h.Metrics.Emit(res.Function, metrics.PromotionsStarted, 1, metrics.Count); merr != nil {
			h.log().WarnContext(ctx, "metric not written", "error", merr.Error())
		}
	}
	h.log().InfoContext(ctx, "promotion started", "function", res.Function, "version", res.Version, "execution", arn)
	return res
}

// startedAfterMove reports whether the existing execution arn is the
// promotion of this release's own stg move, started by a concurrent
// duplicate: started with the RevisionId that move gave stg
// (promotion.Input.StgRevision), which no earlier update of stg had —
// whether it still runs or already ended (a smoke test that failed at
// once). One started with another revision is older than the move: this
// event is a late duplicate.
func (h *Handler) startedAfterMove(ctx context.Context, arn, revision string) (bool, error) {
	out, err := h.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return false, fmt.Errorf("describe the existing promotion %s: %w", arn, err)
	}
	var in promotion.Input
	if err := json.Unmarshal([]byte(aws.ToString(out.Input)), &in); err != nil {
		return false, nil // not a promotion input this release wrote
	}
	return revision != "" && in.StgRevision == revision, nil
}

// published is what PublishVersion answered.
type published struct {
	version string
	// state is the version's State (Lambda function states): Pending until
	// Lambda has prepared it, then Active; reason is its StateReason.
	state  lambdatypes.State
	reason string
}

// publish publishes $LATEST as a version, but only if its code is the
// release's. While $LATEST is mid-update Lambda answers
// ResourceConflictException; that is waited out, bounded.
func (h *Handler) publish(ctx context.Context, req *Request) (published, error) {
	fn := req.Function()
	limit := h.PublishWait
	if limit <= 0 {
		limit = DefaultPublishWait
	}
	var waited time.Duration
	backoff := firstBackoff
	for {
		in := &lambda.PublishVersionInput{
			FunctionName: aws.String(fn),
			CodeSha256:   aws.String(req.Release.CodeSha256),
		}
		if d := promotion.VersionDescription(req.Release); d != "" {
			in.Description = aws.String(d) // the version says which commit it is
		}
		out, err := h.Lambda.PublishVersion(ctx, in)
		if err == nil {
			v := aws.ToString(out.Version)
			if v == "" || v == "$LATEST" {
				return published{}, fmt.Errorf("publish %s: Lambda returned version %q", fn, v)
			}
			return published{version: v, state: out.State, reason: aws.ToString(out.StateReason)}, nil
		}
		switch awserr.Code(err) {
		case awserr.Conflict: // on a publish: $LATEST is being updated
			if waited+backoff > limit || !h.timeLeft(ctx, backoff) {
				return published{}, fmt.Errorf("publish %s: $LATEST still being updated after %s: %w", fn, waited, err)
			}
			h.log().InfoContext(ctx, "$LATEST is being updated; waiting", "function", fn, "wait", backoff.String())
			if serr := h.sleep(ctx, backoff); serr != nil {
				return published{}, fmt.Errorf("publish %s: %w", fn, serr)
			}
			waited += backoff
			backoff = min(2*backoff, maxBackoff)
		case awserr.Stale:
			// A CodeSha256 that is not $LATEST's (awserr reads it from
			// Lambda's message): a newer build has replaced this one, which
			// is no longer releasable.
			return published{}, refuse("$LATEST changed since the build: %v", err)
		case awserr.Invalid:
			return published{}, refuse("Lambda refused to publish %s: %v", fn, err)
		case awserr.NotFound:
			return published{}, refuse("function %s does not exist: %v", fn, err)
		default:
			return published{}, fmt.Errorf("publish %s: %w", fn, err)
		}
	}
}

// The stg alias's description is aliasflow's stamp (alias.StampWithPrevious):
// which release moved it, the routing it wrote, and from where. It is what
// makes the duplicate path's execution input equal the first attempt's
// without an extra call: the duplicate sees stg already on N, so GetAlias
// can no longer tell the version stg served before — but the description
// written by the move can. legacyPrefix is how descriptions read before
// stamps ("aliasflow: <execution> previous=<version>"), still read back.
const legacyPrefix = "aliasflow: "

func stgDescription(execName, version, previous string) string {
	return alias.StampWithPrevious(execName, alias.Alias{Exists: true, Version: version}, previous)
}

// previousFor returns the previous stg version the move for execName
// recorded in stg's description; ok is false when the description was not
// written by it.
func previousFor(stg alias.Alias, execName string) (string, bool) {
	name, prev, ok := describedMove(stg)
	if !ok || name != execName {
		return "", false
	}
	return prev, true
}

// describedMove reads stg's description back: the execution whose release
// moved stg and the version stg served before ("" for none).
func describedMove(stg alias.Alias) (execName, previous string, ok bool) {
	if s, ok := alias.ReadStamp(stg.Description); ok {
		return s.By, s.Previous, s.HasPrevious
	}
	rest, ok := strings.CutPrefix(stg.Description, legacyPrefix)
	if !ok {
		return "", "", false
	}
	execName, previous, ok = strings.Cut(rest, " previous=")
	if !ok || execName == "" || previous == "" || strings.ContainsAny(execName+previous, " ") {
		return "", "", false
	}
	if previous == "none" {
		previous = ""
	}
	return execName, previous, true
}

// retry starts a fresh promotion of a release whose last promotion ended
// without prod on its version (failed, expired, rejected, rolled back) —
// Step Functions never starts a closed execution's name again, so the new
// one is the release's next attempt (promotion.AttemptName). stg is moved to
// the version, or, when it already serves it, re-labelled for the new
// promotion; the retry is audited with who asked.
func (h *Handler) retry(ctx context.Context, req *Request, pub published, stg alias.Alias) (Result, error) {
	fn, version, sha := req.Function(), pub.version, req.Release.CodeSha256
	found, err := promotion.LastAttempt(ctx, h.SFN, h.StateMachineARN, fn, version, sha)
	if err != nil {
		return Result{}, err
	}
	if found.Count >= promotion.MaxAttempts {
		return h.refused(ctx, req, refuse("version %s of %s already had %d promotions; no more retries", version, fn, found.Count))
	}
	lastARN, lastStatus, attempts := promotion.ExecutionARN(h.StateMachineARN, found.Last), found.Status, found.Count
	if attempts > 0 && lastStatus == sfntypes.ExecutionStatusRunning {
		// Nothing to retry; a duplicate delivery of the retry request lands
		// here too.
		return Result{Outcome: Duplicate, Function: fn, Version: version, Execution: lastARN,
			Reason: "the last promotion of this release is still running"}, nil
	}
	name := found.Next(fn, version, sha)
	execARN := promotion.ExecutionARN(h.StateMachineARN, name)
	if err := h.waitActive(ctx, fn, pub); err != nil {
		return h.refused(ctx, req, err)
	}
	if err := h.supersede(ctx, fn, version, name, execARN); err != nil {
		return h.refused(ctx, req, err)
	}
	attemptsLeft := h.AliasAttempts
	if attemptsLeft <= 0 {
		attemptsLeft = DefaultAliasAttempts
	}
	mover := alias.Mover{Lambda: h.Lambda, Attempts: attemptsLeft, Log: h.log()}
	moved, err := mover.MoveFrom(ctx, fn, promotion.AliasStg, stg, func(cur alias.Alias) (alias.Alias, bool, error) {
		prev := cur.Version
		if cur.Serves(version) {
			// stg stayed on the version (an approval that was rejected or
			// expired): keep the version it served before the first attempt.
			prev = ""
			if last, p, ok := describedMove(cur); ok && promotion.SameRelease(last, name) {
				prev = p
			}
		}
		return alias.Alias{Exists: true, Version: version, Description: stgDescription(name, version, prev)}, true, nil
	})
	if err != nil {
		return Result{}, err
	}
	_, prev, _ := describedMove(moved.After)
	if moved.Before.Version != version {
		// Recorded at the move: a rerun of this event finds stg on the
		// version and records no second move.
		h.Audit.Record(ctx, audit.Record{Event: audit.AliasMoved, Function: fn, Alias: promotion.AliasStg, FromVersion: moved.Before.Version, ToVersion: version,
			Release: &req.Release, Execution: execARN, Actor: req.Release.Requester()})
	}
	arn, err := h.start(ctx, req, version, prev, name, moved.After.Revision, nil)
	if err != nil {
		// Even ExecutionAlreadyExists: the name was free a moment ago, so
		// another retry took it; this one is not recorded twice.
		return Result{}, err
	}
	reason := "retry requested before any promotion of this release"
	if attempts > 0 {
		reason = fmt.Sprintf("retry of %s, which ended %s", lastARN, lastStatus)
	}
	h.Audit.Record(ctx, audit.Record{Event: audit.ReleaseRetried, Function: fn, ToVersion: version, Release: &req.Release, Execution: arn,
		Actor: req.Release.Requester(), Reason: reason})
	h.log().InfoContext(ctx, "promotion retried", "function", fn, "version", version, "execution", arn, "previous", lastARN)
	return Result{Outcome: Started, Function: fn, Version: version, Execution: arn, Reason: reason}, nil
}

// readAliases reads stg and prod with one ListAliases call; an alias that
// does not exist is the zero Alias.
func (h *Handler) readAliases(ctx context.Context, fn string) (stg, prod alias.Alias, err error) {
	in := &lambda.ListAliasesInput{FunctionName: aws.String(fn)}
	for page := 0; page < maxPages; page++ {
		out, err := h.Lambda.ListAliases(ctx, in)
		if err != nil {
			return alias.Alias{}, alias.Alias{}, fmt.Errorf("list aliases of %s: %w", fn, err)
		}
		for _, c := range out.Aliases {
			a := alias.FromConfiguration(c)
			switch aws.ToString(c.Name) {
			case promotion.AliasStg:
				stg = a
			case promotion.AliasProd:
				prod = a
			}
		}
		if in.Marker = out.NextMarker; in.Marker == nil {
			return stg, prod, nil
		}
	}
	return alias.Alias{}, alias.Alias{}, fmt.Errorf("list aliases of %s: more than %d pages", fn, maxPages)
}

// settled reports whether prod serves, alone, the version stg serves. Then
// no promotion can be waiting before BeginShift: each one's release moved
// stg to its version, and a promotion whose version prod fully serves has
// finished (or is finishing) its shift — which supersede leaves alone. So
// the listing of running promotions is skipped, keeping a release within
// its budget of calls.
func settled(stg, prod alias.Alias) bool {
	return stg.Exists && !stg.Weighted() && prod.Serves(stg.Version)
}

// waitActive waits, bounded, until the published version is Active, as
// Lambda asks of automation ("check a function's state before
// invocation"; the SDKs' published-version-active waiter polls
// GetFunctionConfiguration for State Active, Lambda function states,
// https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html): stg,
// and the smoke checks after it, must not meet a version Lambda will not
// yet invoke. A version PublishVersion already reports Active costs no
// call. A Failed version is refused; one still Pending at the bound is an
// error, so that Lambda retries the event.
func (h *Handler) waitActive(ctx context.Context, fn string, pub published) error {
	limit := h.ActiveWait
	if limit <= 0 {
		limit = DefaultActiveWait
	}
	state, reason := pub.state, pub.reason
	var waited time.Duration
	delay := firstActiveCheck
	for {
		switch state {
		case lambdatypes.StateActive:
			return nil
		case lambdatypes.StateFailed:
			return refuse("version %s of %s failed to become Active: %s", pub.version, fn, reason)
		}
		if waited+delay > limit || !h.timeLeft(ctx, delay) {
			return fmt.Errorf("version %s of %s is still %s after %s (waiting for Active)", pub.version, fn, state, waited)
		}
		h.log().InfoContext(ctx, "published version not Active yet; waiting", "function", fn, "version", pub.version, "state", string(state), "wait", delay.String())
		if err := h.sleep(ctx, delay); err != nil {
			return fmt.Errorf("wait for version %s of %s: %w", pub.version, fn, err)
		}
		waited += delay
		delay = min(2*delay, maxActiveCheck)
		out, err := h.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn), Qualifier: aws.String(pub.version)})
		if err != nil {
			return fmt.Errorf("read the state of version %s of %s: %w", pub.version, fn, err)
		}
		state, reason = out.State, aws.ToString(out.StateReason)
	}
}

// refused audits a refusal and answers it; any other error is returned.
func (h *Handler) refused(ctx context.Context, req *Request, err error) (Result, error) {
	var refusal *Refusal
	if !errors.As(err, &refusal) {
		return Result{}, err
	}
	fn := req.Function()
	h.Audit.Record(ctx, audit.Record{Event: audit.ReleaseRefused, Function: fn, Release: &req.Release, Reason: refusal.Reason, Actor: req.Release.Requester()})
	return Result{Outcome: Refused, Function: fn, Reason: refusal.Reason}, nil
}

// moveStg points stg at version, from stg as read, guarded by its
// RevisionId, and returns stg after the move (with Lambda's new RevisionId)
// and the version it served before. Another writer moving stg in between
// makes the write fail with PreconditionFailedException: stg is read again
// and the move retried, bounded. When the other writer moved stg to the
// version (a concurrent duplicate of this event) the error is
// *stgMovedMeanwhile.
func (h *Handler) moveStg(ctx context.Context, req *Request, version, execName string, stg alias.Alias) (prev string, after alias.Alias, err error) {
	fn := req.Function()
	attempts := h.AliasAttempts
	if attempts <= 0 {
		attempts = DefaultAliasAttempts
	}
	mover := alias.Mover{Lambda: h.Lambda, Attempts: attempts, Log: h.log()}
	moved, err := mover.MoveFrom(ctx, fn, promotion.AliasStg, stg, func(cur alias.Alias) (alias.Alias, bool, error) {
		if cur.Serves(version) {
			return cur, false, &stgMovedMeanwhile{stg: cur}
		}
		// stg serves one version: the mover clears any weights someone set.
		return alias.Alias{Exists: true, Version: version, Description: stgDescription(execName, version, cur.Version)}, true, nil
	})
	if err != nil {
		return "", alias.Alias{}, err
	}
	return moved.Before.Version, moved.After, nil
}

// stgMovedMeanwhile: while this invocation moved stg, another one (a
// concurrent duplicate of the same event) moved it to the same version.
type stgMovedMeanwhile struct{ stg alias.Alias }

func (e *stgMovedMeanwhile) Error() string { return "stg was moved to the version meanwhile" }

// restoreStg puts stg back where this invocation found it, guarded by the
// RevisionId of its own move so that a later writer always wins: one
// write, no second read. It reports whether stg was put back.
func (h *Handler) restoreStg(ctx context.Context, req *Request, version, prev string, moved alias.Alias, execARN string) bool {
	fn := req.Function()
	if prev == "" {
		h.log().WarnContext(ctx, "stg was created by this late duplicate; left on the version", "function", fn, "version", version)
		return false
	}
	mover := alias.Mover{Lambda: h.Lambda, Attempts: 1, Log: h.log()}
	_, err := mover.MoveFrom(ctx, fn, promotion.AliasStg, moved, func(alias.Alias) (alias.Alias, bool, error) {
		return alias.Alias{Exists: true, Version: prev, Description: alias.StampFor(promotion.ExecutionNameOf(execARN), alias.Alias{Exists: true, Version: prev})}, true, nil
	})
	if err != nil {
		h.log().WarnContext(ctx, "stg not put back after a late duplicate", "function", fn, "version", version, "previous", prev, "error", err.Error())
		return false
	}
	h.Audit.Record(ctx, audit.Record{Event: audit.AliasMoved, Function: fn, Alias: promotion.AliasStg, FromVersion: version, ToVersion: prev,
		Release: &req.Release, Execution: execARN, Reason: "put back: late duplicate of a release whose promotion already exists"})
	return true
}

// supersede stops the running promotions of fn, other than the new one,
// that have not begun to move prod (promotion.ProdMoving's rule: entered
// BeginShift). Those that have are left to finish; the
// new promotion's BeginShift waits for them (aliasflow.ProdBusy).
func (h *Handler) supersede(ctx context.Context, fn, version, newName, newARN string) error {
	running, err := h.runningPromotions(ctx, fn)
	if err != nil {
		return err
	}
	for _, ex := range running {
		if ex.name == newName {
			continue
		}
		if ex.group {
			// A group is never half-superseded: the function is released
			// with its group, or once the group's promotion has ended.
			return refuse("%s is in the running group promotion %s; nothing moved: release it with its group, or once that promotion has ended", fn, ex.arn)
		}
		moving, err := promotion.ProdMoving(ctx, h.SFN, ex.arn)
		if err != nil {
			return err
		}
		if moving {
			h.log().InfoContext(ctx, "older promotion already moves prod; left to finish", "function", fn, "execution", ex.arn)
			continue
		}
		_, err = h.SFN.StopExecution(ctx, &sfn.StopExecutionInput{
			ExecutionArn: aws.String(ex.arn),
			Error:        aws.String(promotion.ErrSuperseded),
			Cause:        aws.String(fmt.Sprintf("superseded by %s (version %s)", newARN, version)),
		})
		if awserr.Code(err) == awserr.NotFound {
			continue // ended and gone meanwhile
		}
		if err != nil {
			return fmt.Errorf("stop superseded promotion %s: %w", ex.arn, err)
		}
		h.Audit.Record(ctx, audit.Record{Event: audit.PromotionSuperseded, Function: fn, FromVersion: ex.version, ToVersion: version,
			Execution: ex.arn, Reason: "superseded by " + newARN})
	}
	return nil
}

type runningExecution struct {
	arn, name, version string
	// group: a group's promotion that moves the function (group.go).
	group bool
}

// runningPromotions lists the RUNNING executions whose name is one
// promotion.ExecutionName gives for fn.
func (h *Handler) runningPromotions(ctx context.Context, fn string) ([]runningExecution, error) {
	var out []runningExecution
	var token *string
	for page := 0; page < maxPages; page++ {
		resp, err := h.SFN.ListExecutions(ctx, &sfn.ListExecutionsInput{
			StateMachineArn: aws.String(h.StateMachineARN),
			StatusFilter:    sfntypes.ExecutionStatusRunning,
			MaxResults:      1000,
			NextToken:       token,
		})
		if err != nil {
			return nil, fmt.Errorf("list running promotions of %s: %w", fn, err)
		}
		for _, e := range resp.Executions {
			if v, ok := promotion.ExecutionOf(fn, aws.ToString(e.Name)); ok {
				out = append(out, runningExecution{arn: aws.ToString(e.ExecutionArn), name: aws.ToString(e.Name), version: v})
				continue
			}
			held, err := h.groupHolds(ctx, fn, aws.ToString(e.Name), aws.ToString(e.ExecutionArn))
			if err != nil {
				return nil, err
			}
			if held {
				out = append(out, runningExecution{arn: aws.ToString(e.ExecutionArn), name: aws.ToString(e.Name), group: true})
			}
		}
		if token = resp.NextToken; token == nil {
			return out, nil
		}
	}
	return nil, fmt.Errorf("list running promotions of %s: more than %d pages", fn, maxPages)
}

// moveRecords are the audit records of a release's stg move, stamped now:
// what promotion.Input.Announce carries and what is logged when the
// promotion starts, one record in two places.
func (h *Handler) moveRecords(req *Request, version, prev, execARN string) []audit.Record {
	fn, by := req.Function(), req.Release.Requester()
	return []audit.Record{
		h.Audit.Stamp(audit.Record{Event: audit.ReleasePublished, Function: fn, ToVersion: version, Release: &req.Release, Execution: execARN, Actor: by}),
		h.Audit.Stamp(audit.Record{Event: audit.AliasMoved, Function: fn, Alias: promotion.AliasStg, FromVersion: prev, ToVersion: version, Release: &req.Release, Execution: execARN, Actor: by}),
	}
}

// start starts the promotion, announcing the records given (see
// promotion.Input.Announce), with the RevisionId stg has on the version
// (promotion.Input.StgRevision), and returns its ARN. Without records to
// announce the input is a function of the release and of stg, so a
// duplicate StartExecution of a running promotion started by a duplicate is
// accepted as the same execution (Step Functions API reference,
// StartExecution: "When the original execution is open and the execution
// input from the new call is identical, the Success message is returned");
// a different input, or a closed execution, is ExecutionAlreadyExists,
// which a duplicate takes as started too, and the attempt that moved stg
// looks into (startedAfterMove).
func (h *Handler) start(ctx context.Context, req *Request, version, prev, name, stgRevision string, announce []audit.Record) (string, error) {
	in := promotion.Input{
		Function:           req.Function(),
		Version:            version,
		PreviousStgVersion: prev,
		Release:            req.Release,
		Target:             req.Target,
		Steps:              promotion.Plan(req.Target.Strategy),
		StgRevision:        stgRevision,
		SettingsVersion:    req.SettingsVersion,
	}
	return h.startExecution(ctx, "promotion", name, in, announce)
}

// startExecution starts the promotion (what: "promotion", "group
// promotion") named name with input in, carrying announce (the release's
// own records, which the promotion's first task puts on the bus). An
// execution of that name already there answers its ARN with the
// AlreadyExists error: a duplicate's.
func (h *Handler) startExecution(ctx context.Context, what, name string, in promotion.Input, announce []audit.Record) (string, error) {
	for _, rec := range announce {
		raw, err := json.Marshal(rec)
		if err != nil {
			return "", fmt.Errorf("encode the %s record: %w", rec.Event, err)
		}
		in.Announce = append(in.Announce, raw)
	}
	input, err := json.Marshal(in)
	if err != nil {
		return "", fmt.Errorf("encode promotion input: %w", err)
	}
	out, err := h.SFN.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(h.StateMachineARN),
		Name:            aws.String(name),
		Input:           aws.String(string(input)),
	})
	if awserr.Code(err) == awserr.AlreadyExists {
		return promotion.ExecutionARN(h.StateMachineARN, name), err
	}
	if err != nil {
		return "", fmt.Errorf("start %s %s: %w", what, name, err)
	}
	return aws.ToString(out.ExecutionArn), nil
}

// deadlineMargin is the time kept after a wait to finish the release and
// flush the audit records before the invocation's deadline.
const deadlineMargin = 10 * time.Second

// timeLeft reports whether the invocation can wait d and still finish; a
// release that cannot is better returned as an error (Lambda retries it)
// than killed mid-way at the deadline.
func (h *Handler) timeLeft(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > d+deadlineMargin
}

func (h *Handler) sleep(ctx context.Context, d time.Duration) error {
	if h.Sleep != nil {
		return h.Sleep(ctx, d)
	}
	return wait.Sleep(ctx, d)
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}
