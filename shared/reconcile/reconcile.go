// Package reconcile is the reconciler's logic: run on a schedule, it
// compares the world with the ledger (shared/ledger) and says, once each,
// what it finds — an alias moved outside aliasflow (alias.drifted: never
// moved back), a successful build of a target whose release never
// happened (release.swept: handed to the release Lambda, whose release is
// idempotent by execution name, so a late event releases nothing twice),
// and a promotion running past its deadline (promotion.stuck). Each
// finding is one audit record (its EventBridge copy goes on the release
// bus) and one EMF metric to alarm on. Each run also prunes the targets
// whose settings set prune.keepLast (shared/prune, as `aliasflow prune
// --yes` does; each deletion is audited by CloudTrail's event, not here),
// and writes every target's four delivery metrics (shared/delivery) as
// EMF for the dashboard.
//
// Its calls are few whatever the number of targets (issue 19's quotas):
// the targets' settings by path (10 a call), one ListAliases a target, the
// trail once for the run (the delivery metrics' 30 days, the ledger's 90
// when the run prunes: every part reads it) plus once per target whose aliases
// carry no stamp of aliasflow's, the account's newest builds (ListBuilds,
// 100 ids a call) and one BatchGetBuilds for those not yet in the trail,
// one ListExecutions page of the running promotions, one PutEvents. A
// target that prunes in the run (at most DefaultPruneTargets a run) adds
// its versions and aliases (ListVersionsByFunction, ListAliases), read
// again before deleting, and the pass adds the running promotions' input
// (DescribeExecution each), the Region's code storage and, when anything
// is to be deleted, one more read of the trail.
package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/delivery"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
	"github.com/aliasflow/aliasflow/shared/ledger"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/prune"
	"github.com/aliasflow/aliasflow/shared/release"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Lambda is what the reconciler asks of Lambda: the aliases of a target,
// the release function's own path for a swept build, and pruning's calls.
type Lambda interface {
	prune.LambdaAPI
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Builds is what the reconciler asks of CodeBuild.
type Builds interface {
	ListBuilds(ctx context.Context, in *codebuild.ListBuildsInput, opts ...func(*codebuild.Options)) (*codebuild.ListBuildsOutput, error)
	BatchGetBuilds(ctx context.Context, in *codebuild.BatchGetBuildsInput, opts ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error)
}

// States lists the running promotions, and reads their input for pruning.
type States interface {
	prune.StatesAPI
}

// Params lists the targets' settings.
type Params interface {
	GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, opts ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
}

// Trail reads the audit trail (ledger.Ledger).
type Trail interface {
	Read(ctx context.Context, q ledger.Query) (ledger.Trail, error)
}

var _ Trail = ledger.Ledger{}

// Defaults of Options.
const (
	// DefaultSweepWindow is how far back the sweep looks for builds: a
	// build older than that with no release is left to its owner.
	DefaultSweepWindow = 24 * time.Hour
	// DefaultSweepGrace is how long a build must have ended before the
	// sweep takes it: its own event is usually handled within seconds.
	DefaultSweepGrace = 5 * time.Minute
	// DefaultStuckGrace is how long past its longest legitimate run a
	// promotion runs before it is stuck.
	DefaultStuckGrace = time.Hour
	// maxBuildPages bounds the ListBuilds pages read in one run.
	maxBuildPages = 10
	// DefaultPruneTargets is how many targets one run prunes at most: a
	// pass reads each one's versions and aliases (twice when it deletes)
	// within its share (deploy.ControlPlaneShares), and must end inside the run's
	// timeout after drift's ListAliases of every target.
	DefaultPruneTargets = 50
	// RunPeriod is the schedule's period (infra/aliasflow ReconcileRate):
	// with more targets to prune than a run prunes, consecutive runs take
	// turns over them.
	RunPeriod = 5 * time.Minute
	// pruneMargin is the time a pass leaves before the invocation's
	// deadline to report and flush the audit records: a pass that runs out
	// of time stops (the next run goes on) rather than being killed.
	pruneMargin = 20 * time.Second
	// smokeTimeout is the smoke test's task timeout in the definition
	// (infra/statemachine/promotion.asl.json, SmokeTest TimeoutSeconds).
	smokeTimeout = 900 * time.Second
)

// Options configure a Handler; the zero value of each field is its
// default.
type Options struct {
	SweepWindow, SweepGrace, StuckGrace time.Duration
	// PruneTargets is DefaultPruneTargets when zero.
	PruneTargets int
	Now          func() time.Time
	Log          *slog.Logger
}

// Handler runs the reconciler.
type Handler struct {
	lambda  Lambda
	builds  Builds
	states  States
	params  Params
	trail   Trail
	audit   *audit.Recorder
	metrics *metrics.Emitter
	// settingsPath is the targets' parameter path; machine the promotion
	// state machine's ARN; releaseFn the release function.
	settingsPath, machine, releaseFn string
	opts                             Options
}

// New returns a Handler.
func New(l Lambda, b Builds, s States, p Params, t Trail, rec *audit.Recorder, m *metrics.Emitter, settingsPath, machine, releaseFn string, opts *Options) *Handler {
	h := &Handler{lambda: l, builds: b, states: s, params: p, trail: t, audit: rec, metrics: m,
		settingsPath: settingsPath, machine: machine, releaseFn: releaseFn}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.SweepWindow == 0 {
		h.opts.SweepWindow = DefaultSweepWindow
	}
	if h.opts.SweepGrace == 0 {
		h.opts.SweepGrace = DefaultSweepGrace
	}
	if h.opts.StuckGrace == 0 {
		h.opts.StuckGrace = DefaultStuckGrace
	}
	if h.opts.PruneTargets == 0 {
		h.opts.PruneTargets = DefaultPruneTargets
	}
	if h.opts.Now == nil {
		h.opts.Now = time.Now
	}
	if h.opts.Log == nil {
		h.opts.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return h
}

// Report is what one run found, each finding recorded once.
type Report struct {
	Targets int      `json:"targets"`
	Drifted []string `json:"drifted"`
	Swept   []string `json:"swept"`
	Stuck   []string `json:"stuck"`
	// Deleted are the versions pruned (function:version).
	Deleted []string `json:"deleted"`
}

// Input is what an invocation may ask; the schedule sends none. Only
// principals allowed to invoke the reconciler (its schedule, an operator)
// can send it.
type Input struct {
	// SweepGraceSeconds replaces the sweep's grace for this run: an
	// operator (or a test) sweeping a build that just ended.
	SweepGraceSeconds *int `json:"sweepGraceSeconds,omitempty"`
}

// Handle runs the reconciler once: the schedule's invocation, or an
// operator's with an Input.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (Report, error) {
	defer func() { _ = h.audit.Flush(ctx) }()
	run := *h
	if len(raw) > 0 && string(raw) != "null" {
		var in Input
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return Report{}, fmt.Errorf("reconcile: the invocation's input: %w (it takes only sweepGraceSeconds)", err)
		}
		if in.SweepGraceSeconds != nil {
			if *in.SweepGraceSeconds < 0 {
				return Report{}, fmt.Errorf("reconcile: sweepGraceSeconds is %d; it must not be negative", *in.SweepGraceSeconds)
			}
			run.opts.SweepGrace = time.Duration(*in.SweepGraceSeconds) * time.Second
		}
	}
	return run.Run(ctx)
}

// Run compares the world with the ledger once. What all parts need (the
// targets, the running promotions, the trail) must be read first; after
// that a failure of one part is returned after the others ran: drift, the
// sweep, stuck promotions, pruning and the delivery metrics do not wait on
// one another.
func (h *Handler) Run(ctx context.Context) (Report, error) {
	rep := Report{Drifted: []string{}, Swept: []string{}, Stuck: []string{}, Deleted: []string{}}
	targets, err := h.targets(ctx)
	if err != nil {
		return rep, err
	}
	rep.Targets = len(targets)
	running, err := h.running(ctx)
	if err != nil {
		return rep, err
	}
	now := h.opts.Now()
	turn := h.pruneTurn(targets, now)
	// The trail, read once for every part: what earlier runs and the
	// releases said (the builds released or swept, the promotions found
	// stuck), the promotions' outcomes (the delivery metrics) and, when
	// the run prunes, where a rollback could go (pruning keeps those
	// versions). Every event: a filter of several is applied as the
	// records are read anyway (ledger.Query.Pattern).
	recent, err := h.trail.Read(ctx, ledger.Query{Since: h.trailSince(targets, running, turn, now)})
	if err != nil {
		return rep, err
	}
	var errs []error
	if rep.Drifted, err = h.drift(ctx, targets); err != nil {
		errs = append(errs, err)
	}
	if rep.Swept, err = h.sweep(ctx, targets, recent); err != nil {
		errs = append(errs, err)
	}
	rep.Stuck = h.stuck(ctx, targets, running, recent)
	if err := h.deliver(targets, recent, now); err != nil {
		errs = append(errs, err)
	}
	// Last: the longest part, bounded by the invocation's deadline.
	if rep.Deleted, err = h.prune(ctx, turn, recent); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return rep, fmt.Errorf("reconcile: %v", errs)
	}
	return rep, nil
}

// trailSince is how far back a run reads the trail: the sweep's window and
// the oldest running promotion's start; the delivery metrics' window and
// before it the longest a target's promotion may run (its release and
// first traffic shift precede its completion or rollback by at most
// that); and, when the run prunes, the ledger's window, over which
// `aliasflow prune` reads where a rollback could go.
func (h *Handler) trailSince(targets map[string]config.Target, running []sfntypes.ExecutionListItem, turn []config.Target, now time.Time) time.Time {
	var longest time.Duration
	for _, t := range targets {
		longest = max(longest, Longest(t))
	}
	since := now.Add(-max(h.opts.SweepWindow, delivery.Window+longest))
	if pruning := now.Add(-ledger.DefaultWindow); len(turn) > 0 && pruning.Before(since) {
		since = pruning
	}
	for _, e := range running {
		if t := aws.ToTime(e.StartDate); t.Before(since) {
			since = t
		}
	}
	return since
}

// targets reads every target's settings (GetParametersByPath, one level).
func (h *Handler) targets(ctx context.Context) (map[string]config.Target, error) {
	out := map[string]config.Target{}
	p := ssm.NewGetParametersByPathPaginator(h.params, &ssm.GetParametersByPathInput{Path: aws.String(h.settingsPath)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the targets under %s: %w", h.settingsPath, err)
		}
		for _, prm := range page.Parameters {
			fn := strings.TrimPrefix(aws.ToString(prm.Name), h.settingsPath)
			t, err := settings.Parse([]byte(aws.ToString(prm.Value)), fn)
			if err != nil {
				// A target whose settings do not validate is refused by
				// the release too; the others are still reconciled.
				h.opts.Log.WarnContext(ctx, "target settings invalid; skipped", "parameter", aws.ToString(prm.Name), "error", err.Error())
				continue
			}
			out[fn] = t
		}
	}
	return out, nil
}

// drift reads each target's aliases (one ListAliases) and records, once
// each, those of aliasflow's (stg, prod) that moved outside aliasflow. The
// trail is read only for a function with an alias whose stamp is not
// aliasflow's for its routing; a drift found is confirmed by a read of the
// aliases made after the trail's (confirmed), so that aliasflow's move
// between the two reads is no drift.
func (h *Handler) drift(ctx context.Context, targets map[string]config.Target) ([]string, error) {
	found := []string{}
	var errs []error
	// First every target's aliases, then the trail: once for all the
	// functions that need it when more than one does (a targets' stacks
	// create stg and prod unstamped, so until each function's first
	// promotion every one of them does — 200 reads a run at 200 targets,
	// past what FilterLogEvents' 5 a second leaves the health checks).
	fns := slices.Sorted(maps.Keys(targets))
	all := map[string][]lambdatypes.AliasConfiguration{}
	var need []string
	for _, fn := range fns {
		aliases, err := h.aliases(ctx, fn)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all[fn] = aliases
		if slices.ContainsFunc(aliases, unstamped) {
			need = append(need, fn)
		}
	}
	var whole *ledger.Trail
	if len(need) > 1 {
		t, err := h.trail.Read(ctx, ledger.Query{})
		if err != nil {
			return found, fmt.Errorf("drift: %w", errors.Join(append(errs, err)...))
		}
		whole = &t
	}
	for _, fn := range need {
		aliases := all[fn]
		var trail ledger.Trail
		var err error
		if whole != nil {
			trail = whole.Of(fn)
		} else if trail, err = h.trail.Read(ctx, ledger.Query{Function: fn}); err != nil {
			errs = append(errs, err)
			continue
		}
		reread := false
		for _, c := range aliases {
			if !unstamped(c) {
				continue
			}
			name := aws.ToString(c.Name)
			d, drifted := trail.Drifted(fn, name, alias.FromConfiguration(c))
			if !drifted || trail.Reported(d) {
				continue
			}
			if !reread {
				if aliases, err = h.aliases(ctx, fn); err != nil {
					errs = append(errs, err)
					break
				}
				reread = true
			}
			if d, drifted = confirmed(trail, fn, name, aliases); !drifted || trail.Reported(d) {
				continue
			}
			h.audit.Record(ctx, d.Record())
			_ = h.metrics.Emit(fn, metrics.AliasesDrifted, 1, metrics.Count)
			h.opts.Log.WarnContext(ctx, "alias drifted", "function", fn, "alias", name, "drift", d.String())
			found = append(found, fn+":"+name)
		}
	}
	if len(errs) > 0 {
		return found, fmt.Errorf("drift: %v", errs)
	}
	return found, nil
}

// unstamped says c is aliasflow's stg or prod without aliasflow's stamp for
// its routing: only the trail can tell whether aliasflow put it there.
func unstamped(c lambdatypes.AliasConfiguration) bool {
	name := aws.ToString(c.Name)
	if name != promotion.AliasStg && name != promotion.AliasProd {
		return false
	}
	_, ok := alias.FromConfiguration(c).Stamped()
	return !ok
}

// confirmed judges alias name of fn again, as aliases (read after trail)
// give it: the ListAliases that found it drifted may have been made before
// aliasflow's latest move of it, whose record the trail, read after, holds.
func confirmed(trail ledger.Trail, fn, name string, aliases []lambdatypes.AliasConfiguration) (ledger.Drift, bool) {
	i := slices.IndexFunc(aliases, func(c lambdatypes.AliasConfiguration) bool { return aws.ToString(c.Name) == name })
	if i < 0 {
		return ledger.Drift{}, false // deleted since: nothing to say of it
	}
	cur := alias.FromConfiguration(aliases[i])
	if _, ok := cur.Stamped(); ok {
		return ledger.Drift{}, false
	}
	return trail.Drifted(fn, name, cur)
}

func (h *Handler) aliases(ctx context.Context, fn string) ([]lambdatypes.AliasConfiguration, error) {
	var out []lambdatypes.AliasConfiguration
	p := lambda.NewListAliasesPaginator(h.lambda, &lambda.ListAliasesInput{FunctionName: aws.String(fn)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list aliases of %s: %w", fn, err)
		}
		out = append(out, page.Aliases...)
	}
	return out, nil
}

// sweep finds the successful builds of the targets' projects, ended within
// the window and before the grace, that the trail has no release (or
// refusal, or earlier sweep) of, and hands each to the release Lambda as
// the CodeBuild event that was not delivered; the release reads the
// build's exported variables with BatchGetBuilds itself. CodeBuild's
// state-change events are delivered on a best-effort basis, so one can be
// missed ("Amazon EventBridge events for CodeBuild",
// https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-codebuild.html).
func (h *Handler) sweep(ctx context.Context, targets map[string]config.Target, recent ledger.Trail) ([]string, error) {
	projects := map[string][]string{} // project → the functions it releases
	for _, fn := range slices.Sorted(maps.Keys(targets)) {
		for _, p := range targets[fn].CodeBuildProjects {
			projects[p] = append(projects[p], fn)
		}
	}
	found := []string{}
	if len(projects) == 0 {
		return found, nil
	}
	known := map[string]bool{}
	for _, r := range recent {
		if r.Release != nil && r.Release.Build != "" {
			known[r.Release.Build] = true
		}
	}
	now := h.opts.Now()
	in := &codebuild.ListBuildsInput{SortOrder: cbtypes.SortOrderTypeDescending}
	for page := 0; page < maxBuildPages; page++ {
		out, err := h.builds.ListBuilds(ctx, in)
		if err != nil {
			return found, fmt.Errorf("sweep: list builds: %w", err)
		}
		var ids []string
		for _, id := range out.Ids {
			project, _, _ := strings.Cut(id, ":")
			if projects[project] != nil && !known[id] {
				ids = append(ids, id)
			}
		}
		older := false
		for start := 0; start < len(ids); start += 100 { // BatchGetBuilds takes at most 100 ids
			got, err := h.builds.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: ids[start:min(start+100, len(ids))]})
			if err != nil {
				return found, fmt.Errorf("sweep: read builds: %w", err)
			}
			for _, b := range got.Builds {
				end := aws.ToTime(b.EndTime)
				switch {
				case !end.IsZero() && end.Before(now.Add(-h.opts.SweepWindow)):
					older = true
					continue
				case b.BuildStatus != cbtypes.StatusTypeSucceeded || !b.BuildComplete || end.After(now.Add(-h.opts.SweepGrace)):
					h.opts.Log.DebugContext(ctx, "build not swept", "build", aws.ToString(b.Id), "status", string(b.BuildStatus),
						"complete", b.BuildComplete, "ended", end, "grace", h.opts.SweepGrace.String())
					continue
				}
				fn, err := h.release(ctx, b, projects[aws.ToString(b.ProjectName)])
				if err != nil {
					return found, err
				}
				found = append(found, fn+":"+aws.ToString(b.Id))
			}
		}
		if older || out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	return found, nil
}

// release hands build b to the release Lambda (an asynchronous Invoke, as
// EventBridge invokes it) as the "CodeBuild Build State Change" event it
// missed, in the documented shape ("Build notifications input format
// reference", AWS CodeBuild User Guide,
// https://docs.aws.amazon.com/codebuild/latest/userguide/sample-build-notifications-ref.html)
// without the exported variables — the release reads them with
// BatchGetBuilds — and records release.swept.
func (h *Handler) release(ctx context.Context, b cbtypes.Build, fns []string) (string, error) {
	fn := fns[0]
	for _, v := range b.ExportedEnvironmentVariables {
		if aws.ToString(v.Name) == release.VarFunction && slices.Contains(fns, aws.ToString(v.Value)) {
			fn = aws.ToString(v.Value)
		}
	}
	detail := map[string]any{
		"build-status": eventpatterns.BuildStatusSucceeded,
		"project-name": aws.ToString(b.ProjectName),
		"build-id":     aws.ToString(b.Arn),
		"additional-information": map[string]any{
			"initiator":      aws.ToString(b.Initiator),
			"source-version": aws.ToString(b.SourceVersion),
			"build-complete": true,
		},
	}
	event, err := json.Marshal(map[string]any{
		"version": "0", "id": "aliasflow-sweep-" + aws.ToString(b.Id),
		"detail-type": eventpatterns.CodeBuildDetailType, "source": eventpatterns.CodeBuildSource,
		"time": aws.ToTime(b.EndTime).UTC().Format(time.RFC3339), "resources": []string{aws.ToString(b.Arn)}, "detail": detail,
	})
	if err != nil {
		return "", fmt.Errorf("sweep: encode the event of %s: %w", aws.ToString(b.Id), err)
	}
	if _, err := h.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(h.releaseFn),
		InvocationType: lambdatypes.InvocationTypeEvent, Payload: event}); err != nil {
		return "", fmt.Errorf("sweep: hand build %s to %s: %w", aws.ToString(b.Id), h.releaseFn, err)
	}
	h.audit.Record(ctx, audit.Record{Event: audit.ReleaseSwept, Function: fn,
		Release: &promotion.Release{Build: aws.ToString(b.Id), Commit: commitOf(b), Source: release.SourceCodeBuild},
		Reason: fmt.Sprintf("found by the sweep: build %s of %s succeeded at %s and has no release; handed to %s", aws.ToString(b.Id),
			aws.ToString(b.ProjectName), aws.ToTime(b.EndTime).UTC().Format(time.RFC3339), h.releaseFn)})
	_ = h.metrics.Emit(fn, metrics.ReleasesSwept, 1, metrics.Count)
	h.opts.Log.WarnContext(ctx, "build swept", "function", fn, "build", aws.ToString(b.Id))
	return fn, nil
}

func commitOf(b cbtypes.Build) string {
	for _, v := range b.ExportedEnvironmentVariables {
		if aws.ToString(v.Name) == release.VarCommit {
			return aws.ToString(v.Value)
		}
	}
	if promotion.ValidateCommit(aws.ToString(b.SourceVersion)) == nil {
		return aws.ToString(b.SourceVersion)
	}
	return ""
}

// running lists the running executions of the promotion state machine.
func (h *Handler) running(ctx context.Context) ([]sfntypes.ExecutionListItem, error) {
	var out []sfntypes.ExecutionListItem
	p := sfn.NewListExecutionsPaginator(h.states, &sfn.ListExecutionsInput{StateMachineArn: aws.String(h.machine),
		StatusFilter: sfntypes.ExecutionStatusRunning, MaxResults: 1000})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the running promotions: %w", err)
		}
		out = append(out, page.Executions...)
	}
	return out, nil
}

// stuck records, once each, the running promotions past their deadline:
// the longest a promotion of its target may legitimately run (the smoke
// test's timeout, the approval timeout, every step baking its longest)
// and the grace. The deadline is read from the target's settings, not the
// execution's input, so no call is made per execution.
func (h *Handler) stuck(ctx context.Context, targets map[string]config.Target, running []sfntypes.ExecutionListItem, recent ledger.Trail) []string {
	found := []string{}
	now := h.opts.Now()
	for _, e := range running {
		name, arn := aws.ToString(e.Name), aws.ToString(e.ExecutionArn)
		ref, ok := promotion.ParseExecutionName(name)
		if !ok {
			continue // a manual rollback: one task, bounded by its timeout
		}
		fn, of := ref.Function, ref.Function
		if ref.Group != "" {
			// A group's name names no function: its members agree on
			// what bounds the run (config.CheckGroup), so any member's
			// settings give the deadline; the first by name is recorded.
			fn, of = groupMember(targets, ref.Group), "group "+ref.Group
		}
		t, ok := targets[fn]
		if !ok {
			continue
		}
		deadline := aws.ToTime(e.StartDate).Add(Longest(t) + h.opts.StuckGrace)
		if now.Before(deadline) || hasStuck(recent.Execution(arn)) {
			continue
		}
		h.audit.Record(ctx, audit.Record{Event: audit.PromotionStuck, Function: fn, Execution: arn, Group: ref.Group, ToVersion: ref.Version,
			Reason: fmt.Sprintf("running since %s, past its deadline %s (the longest a promotion of %s may run, and %s)",
				aws.ToTime(e.StartDate).UTC().Format(time.RFC3339), deadline.UTC().Format(time.RFC3339), of, h.opts.StuckGrace)})
		_ = h.metrics.Emit(fn, metrics.PromotionsStuck, 1, metrics.Count)
		found = append(found, name)
	}
	return found
}

// groupMember is the first function by name whose settings put it in
// group, "" when none does.
func groupMember(targets map[string]config.Target, group string) string {
	first := ""
	for fn, t := range targets {
		if t.Group == group && (first == "" || fn < first) {
			first = fn
		}
	}
	return first
}

func hasStuck(t ledger.Trail) bool {
	_, ok := t.Last(audit.PromotionStuck)
	return ok
}

// Longest is the longest a promotion of t may legitimately run: the smoke
// test's timeout, the approval timeout, and every step baking its longest.
func Longest(t config.Target) time.Duration {
	steps := len(promotion.Plan(t.Strategy)) + 1 // and the health check before prod is whole
	return smokeTimeout + time.Duration(t.ApprovalTimeoutSeconds)*time.Second +
		time.Duration(steps*max(t.Health.MaxBakeSeconds, t.Strategy.BakeSeconds))*time.Second
}

// prune runs one pruning pass over the run's turn of the targets whose
// settings set prune.keepLast (pruneTurn; prune.Pruner's PlanAll then
// ApplyAll, as `aliasflow prune --yes` does); a target without the policy
// is never read or touched. The pass stops short of the invocation's
// deadline. The plans read the run's trail; the deletions are decided
// again on facts read fresh, the trail included (read once for the pass,
// after its running promotions and after every plan's aliases), so a
// version deleted is one both reads allowed. CloudTrail's
// DeleteFunction event is each deletion's audit record (version.deleted).
func (h *Handler) prune(ctx context.Context, policy []config.Target, recent ledger.Trail) ([]string, error) {
	deleted := []string{}
	if len(policy) == 0 {
		return deleted, nil
	}
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-pruneMargin))
		defer cancel()
	}
	p := &prune.Pruner{Lambda: h.lambda, States: h.states, StateMachine: h.machine, Trail: readTrail(recent)}
	pass, err := p.PlanAll(ctx, policy)
	if err != nil {
		return deleted, fmt.Errorf("prune: %w", err)
	}
	if pass.Deletions() == 0 {
		return deleted, nil
	}
	p.Trail = &freshTrail{read: func(ctx context.Context) (ledger.Trail, error) {
		return h.trail.Read(ctx, ledger.Query{Since: h.opts.Now().Add(-ledger.DefaultWindow)})
	}}
	err = p.ApplyAll(ctx, pass)
	for _, o := range pass.Outcomes {
		if !o.Deleted {
			h.opts.Log.InfoContext(ctx, "version not pruned", "function", o.Function, "version", o.Version.Number, "reason", o.Reason)
			continue
		}
		deleted = append(deleted, o.Function+":"+o.Version.Number)
		h.opts.Log.InfoContext(ctx, "version pruned", "function", o.Function, "version", o.Version.Number, "codeSize", o.Version.CodeSize)
	}
	if err != nil {
		return deleted, fmt.Errorf("prune: %w", err)
	}
	if pass.After != nil {
		h.opts.Log.InfoContext(ctx, "code storage", "used", pass.After.Used, "limit", pass.After.Limit, "before", pass.Before.Used)
	}
	return deleted, nil
}

// pruneTurn is the targets this run prunes: those that set prune.keepLast,
// or, with more than Options.PruneTargets of them, every k-th of them in
// name order, where k is the turns needed, starting at the run's period.
func (h *Handler) pruneTurn(targets map[string]config.Target, now time.Time) []config.Target {
	var policy []config.Target
	for _, fn := range slices.Sorted(maps.Keys(targets)) {
		if targets[fn].Prune != nil {
			policy = append(policy, targets[fn])
		}
	}
	turns := (len(policy) + h.opts.PruneTargets - 1) / h.opts.PruneTargets
	if turns <= 1 {
		return policy
	}
	turn := int(now.Unix() / int64(RunPeriod/time.Second) % int64(turns))
	var out []config.Target
	for i := turn; i < len(policy); i += turns {
		out = append(out, policy[i])
	}
	return out
}

// readTrail serves the pruner's reads of a function's records from a
// trail already read.
type readTrail ledger.Trail

func (t readTrail) Function(_ context.Context, fn string) (ledger.Trail, error) {
	return ledger.Trail(t).Of(fn), nil
}

// freshTrail reads the whole trail at the pruner's first read of a
// function's records, and serves the others from it: one read a pass,
// not one a target.
type freshTrail struct {
	read func(context.Context) (ledger.Trail, error)
	done bool
	t    ledger.Trail
	err  error
}

func (f *freshTrail) Function(ctx context.Context, fn string) (ledger.Trail, error) {
	if !f.done {
		f.t, f.err = f.read(ctx)
		f.done = true
	}
	if f.err != nil {
		return nil, f.err
	}
	return f.t.Of(fn), nil
}

// deliver writes every target's four keys over the last delivery.Window
// (delivery.Compute over the run's trail) as EMF metrics: the stack's
// dashboard draws them.
func (h *Handler) deliver(targets map[string]config.Target, recent ledger.Trail, now time.Time) error {
	var errs []error
	for _, fn := range slices.Sorted(maps.Keys(targets)) {
		m := delivery.Compute(recent.Of(fn), now.Add(-delivery.Window), now)
		if err := delivery.Emit(h.metrics, fn, m); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("delivery metrics: %v", errs)
	}
	return nil
}
