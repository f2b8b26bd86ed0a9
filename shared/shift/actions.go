package shift

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// restoreStg puts stg back on the version it served before this release,
// after the smoke checks failed. A newer release that has since moved stg
// keeps it.
func (t *task) restoreStg(ctx context.Context) error {
	fn, n, prev := t.p.Function, t.p.Version, t.p.PreviousStgVersion
	before, changed, err := t.moveAlias(ctx, fn, promotion.AliasStg, func(cur alias.Alias) (alias.Alias, bool, error) {
		switch {
		case !cur.Exists:
			return cur, false, nil
		case cur.Version != n:
			return cur, false, nil // a newer release owns stg now
		case prev == "" || prev == n:
			return cur, false, nil // nothing earlier to go back to
		}
		return alias.Alias{Exists: true, Version: prev}, true, nil
	})
	if err != nil {
		return fmt.Errorf("restore stg: %w", err)
	}
	if !changed {
		t.log.InfoContext(ctx, "stg left as it is", "function", fn, "stg", before.String(), "version", n, "previousStgVersion", prev)
		return nil
	}
	t.record(ctx, audit.Record{Event: audit.AliasMoved, Alias: promotion.AliasStg,
		FromVersion: before.Version, ToVersion: prev,
		Reason: fmt.Sprintf("smoke checks of version %s failed; stg back on %s", n, prev)})
	return nil
}

// begin records the stable version prod serves now and returns the first
// step. It changes nothing, so the definition may retry it freely.
func (t *task) begin(ctx context.Context) (*promotion.Shift, error) {
	pl := t.p.Rollout()
	first := plan.Next(pl, plan.Start, plan.Facts{})
	s, how, err := t.beginOne(ctx, first)
	if err != nil {
		return nil, err
	}
	if how == beginDirect {
		return t.allAtOnce(ctx, pl, s)
	}
	return t.shiftTo(ctx, pl, first, s)
}

// beginHow is what begin found for one function.
type beginHow int

const (
	// beginGradual: prod shifts by the plan's steps.
	beginGradual beginHow = iota
	// beginDirect: prod moves at Finalize whatever the plan — a first
	// release, prod already on the version, or versions that cannot
	// share a weighted alias under strategy.fallbackAllAtOnce.
	beginDirect
	// beginNoWeights: the plan itself sets no weight.
	beginNoWeights
)

// allAtOnce is the shift of a promotion whose prod moves at Finalize
// whatever the plan.
func (t *task) allAtOnce(ctx context.Context, pl plan.Plan, s promotion.Shift) (*promotion.Shift, error) {
	return t.shiftTo(ctx, pl, plan.Next(pl, plan.Start, plan.Facts{Direct: true}), s)
}

// beginOne checks one function before its shift and returns its stable
// version and what the first step reads (prod as read, log groups,
// probes), with how its prod moves. first is the plan's first step.
func (t *task) beginOne(ctx context.Context, first plan.Decision) (promotion.Shift, beginHow, error) {
	fn, n := t.p.Function, t.p.Version
	stg, err := t.getAlias(ctx, fn, promotion.AliasStg)
	if err != nil {
		return promotion.Shift{}, 0, fmt.Errorf("begin: %w", err)
	}
	// Checked before prod so a superseded promotion stops at once rather
	// than waiting out the ProdBusy retries.
	if !stg.Exists {
		return promotion.Shift{}, 0, fmt.Errorf("begin: the stg alias of %s no longer exists; nothing ties version %s to a release", fn, n)
	}
	if stg.Version != n {
		return promotion.Shift{}, 0, promotion.TaskError(promotion.ErrSuperseded,
			"stg of %s is on version %s, not %s: a newer release superseded this one", fn, stg.Version, n)
	}
	prod, err := t.getAlias(ctx, fn, promotion.AliasProd)
	if err != nil {
		return promotion.Shift{}, 0, fmt.Errorf("begin: %w", err)
	}
	if !prod.RoutedOnly(n) {
		return promotion.Shift{}, 0, promotion.TaskError(promotion.ErrProdBusy,
			"prod of %s is mid-shift (%s) for another release; waiting", fn, prod)
	}
	// The later moves of prod start from what is read here (prodAsLeft).
	seen := encodeProd(prod)
	switch {
	case !prod.Exists:
		// A first release: there is no traffic to shift gradually.
		return promotion.Shift{}, beginDirect, nil
	case prod.Version == n:
		return promotion.Shift{StableVersion: n, Prod: seen}, beginDirect, nil
	}
	if err := t.alarmsAtStart(ctx); err != nil {
		return promotion.Shift{}, 0, fmt.Errorf("begin: %w", err)
	}
	s := promotion.Shift{StableVersion: prod.Version, Prod: seen}
	if first.Kind == plan.KindFinalize {
		return s, beginNoWeights, nil
	}
	stableCfg, newCfg, err := t.readVersions(ctx, fn, prod.Version, n)
	if err != nil {
		return promotion.Shift{}, 0, fmt.Errorf("begin: %w", err)
	}
	// The checks judge the versions' log groups begin has just read.
	s.Logs = t.seedLogs(newCfg, stableCfg)
	if why := cannotWeight(prod.Version, n, stableCfg, newCfg); why != "" {
		if !t.p.Target.Strategy.FallbackAllAtOnce {
			return promotion.Shift{}, 0, promotion.TaskError(promotion.ErrCannotWeight,
				"prod of %s cannot route between versions %s and %s: %s; Lambda refuses such a weighted alias, so no traffic moved (set strategy.fallbackAllAtOnce to move prod all at once instead)",
				fn, prod.Version, n, why)
		}
		t.log.WarnContext(ctx, "versions cannot share a weighted alias; moving prod all at once (strategy.fallbackAllAtOnce)",
			"function", fn, "stable", prod.Version, "version", n, "reason", why)
		return s, beginDirect, nil
	}
	if h := t.health(); h.Probes > 0 {
		// At 0 %: a version that fails its probes never serves a user.
		why, progress, err := t.probeBeforeWeight(ctx, h, prod.Version)
		if err != nil {
			return promotion.Shift{}, 0, fmt.Errorf("begin: %w", err)
		}
		if why != "" {
			return promotion.Shift{}, 0, promotion.TaskError(promotion.ErrHealthCheckFailed,
				"not shifting prod of %s to version %s: %s; no traffic moved", fn, n, why)
		}
		s.Probes = progress
	}
	return s, beginGradual, nil
}

// shiftTo turns the plan's decision into the shift document the
// definition runs: a weight to set and the bake of the analysis that
// judges it (SetWeight, then Bake and CheckHealth), or done (Finalize).
// A rollback, or a plan this definition cannot follow, is an error the
// definition catches: before the first weight it aborts with prod
// untouched, later it rolls back.
func (t *task) shiftTo(ctx context.Context, pl plan.Plan, d plan.Decision, s promotion.Shift) (*promotion.Shift, error) {
	s.Kind, s.Position = string(d.Kind), d.Position
	switch d.Kind {
	case plan.KindFinalize:
		s.Step, s.Weight, s.BakeSeconds, s.Done = d.WeightIndex, 1, 0, true
		return &s, nil
	case plan.KindSetWeight:
		a := plan.Next(pl, d.Position, plan.Facts{})
		if a.Kind != plan.KindAnalysis {
			return nil, promotion.TaskError(promotion.ErrInvalidInput, "plan %s: steps[%d] sets a weight that no analysis judges", pl, d.Position)
		}
		s.Step, s.Weight, s.BakeSeconds = d.WeightIndex, d.Weight, firstLook(t.health(), a.Step.Analysis.BakeSeconds)
		return &s, nil
	case plan.KindPause:
		// The Pause state waits BakeSeconds on its token: the pause's
		// time, or for a pause until continued as long as an approval may
		// wait (nobody continuing then rolls back, see continuePause).
		s.Step, s.Weight, s.BakeSeconds = d.WeightIndex, d.Weight, d.Step.Pause.Seconds
		if s.BakeSeconds == 0 {
			target := t.p.Target
			target.ApplyDefaults()
			s.BakeSeconds = target.ApprovalTimeoutSeconds
		}
		return &s, nil
	case plan.KindApproval:
		// Held in the Pause state until one of the step's approvers
		// decides through the approval API, at most as long as the
		// approval at the start may wait.
		target := t.p.Target
		target.ApplyDefaults()
		s.Step, s.Weight, s.BakeSeconds = d.WeightIndex, d.Weight, target.ApprovalTimeoutSeconds
		t.record(ctx, audit.Record{Event: audit.ApprovalRequested, Alias: promotion.AliasProd,
			FromVersion: s.StableVersion, ToVersion: t.p.Version, Weight: audit.Weight(s.Weight),
			Reason: fmt.Sprintf("approval step at %s: %s (aliasflow approve)", alias.Percent(d.Weight), strings.Join(d.Step.Approval.Approvers, " or "))})
		return &s, nil
	case plan.KindWarm:
		// The Warm task puts the provisioned concurrency and waits for
		// READY (warm.go); prod keeps the weight it has.
		s.Step, s.Weight, s.BakeSeconds, s.BakedSeconds = d.WeightIndex, d.Weight, 0, 0
		return &s, nil
	case plan.KindWindow:
		// An open window passes at once, in this same task; a closed one
		// holds prod in the Pause state until it opens (checked again
		// then) or an operator breaks the glass.
		now := t.now().UTC()
		open, at, why := d.Step.Window.Opens(now)
		if open {
			return t.shiftTo(ctx, pl, plan.Next(pl, d.Position, plan.Facts{}), s)
		}
		s.Step, s.Weight = d.WeightIndex, d.Weight
		s.BakeSeconds = max(1, int(math.Ceil(at.Sub(now).Seconds())))
		s.Verdict = fmt.Sprintf("deploy window closed: %s; opens %s", why, at.Format(time.RFC3339))
		t.record(ctx, audit.Record{Event: audit.WindowDeferred, Alias: promotion.AliasProd,
			FromVersion: s.StableVersion, ToVersion: t.p.Version, Weight: audit.Weight(s.Weight),
			Reason: fmt.Sprintf("window %s is closed (%s); the promotion waits until %s", d.Step.Window, why, at.Format(time.RFC3339))})
		return &s, nil
	case plan.KindRollback:
		return nil, promotion.TaskError(promotion.ErrHealthCheckFailed, "%s", d.Reason)
	}
	return nil, promotion.TaskError(promotion.ErrInvalidInput, "plan %s: steps[%d] is a %s step, which this promotion cannot run", pl, d.Position, d.Kind)
}

// continuePause decides what follows a pause of the plan: a timed pause
// that ran its time, or a pause an operator continued (`aliasflow
// promote`/`resume`, their verified identity recorded once in
// pause.continued), goes on to the plan's next step; a pause until
// continued that nobody continued within its wait rolls back.
func (t *task) continuePause(ctx context.Context) (*promotion.Shift, error) {
	pl, s, n := t.p.Rollout(), t.p.Shift, t.p.Version
	if s.Kind == promotion.ShiftHold {
		return t.resumeHold(ctx)
	}
	switch pl.Steps[s.Position].Kind() {
	case plan.KindWindow:
		return t.continueWindow(ctx)
	case plan.KindApproval:
		return t.continueApproval(ctx)
	}
	pause := pl.Steps[s.Position].Pause
	f := plan.Facts{Skip: t.p.Bake.Skip()}
	switch {
	case f.Skip != plan.SkipNone:
		what := "promote: past this pause"
		if f.Skip == plan.SkipFull {
			what = "promote --full: every remaining step skipped, an inconclusive verdict accepted"
		}
		t.record(ctx, audit.Record{Event: audit.PauseContinued, Alias: promotion.AliasProd, Actor: t.p.Bake.Actor,
			FromVersion: s.StableVersion, ToVersion: n, Weight: audit.Weight(s.Weight),
			Reason: fmt.Sprintf("pause at %s continued by %s (%s)", alias.Percent(s.Weight), t.p.Bake.Actor, what)})
	case pause.Seconds == 0:
		f.Outcome = plan.Failed
		f.Reason = fmt.Sprintf("nobody continued the pause at %s of version %s within %ds (approvalTimeoutSeconds); rolling back",
			alias.Percent(s.Weight), n, s.BakeSeconds)
	}
	d := plan.Next(pl, s.Position, f)
	if d.Kind == plan.KindRollback {
		t.log.WarnContext(ctx, "pause ends in a rollback", "function", t.p.Function, "version", n, "reason", d.Reason)
		return nil, promotion.TaskError(promotion.ErrPauseExpired, "%s", d.Reason)
	}
	return t.shiftTo(ctx, pl, d, promotion.Shift{StableVersion: s.StableVersion, Verdict: s.Verdict})
}

// resumeHold decides what follows an operator's pause: `aliasflow resume`
// (or promote) bakes the held step's analysis again from now, judged as
// usual; promote --full skips the rest; nobody resuming within the wait
// rolls back.
func (t *task) resumeHold(ctx context.Context) (*promotion.Shift, error) {
	pl, s, n := t.p.Rollout(), t.p.Shift, t.p.Version
	skip := t.p.Bake.Skip()
	if skip == plan.SkipNone {
		return nil, promotion.TaskError(promotion.ErrPauseExpired, "nobody resumed the promotion paused at %s of version %s within %ds (approvalTimeoutSeconds); rolling back",
			alias.Percent(s.Weight), n, s.BakeSeconds)
	}
	what := "resumed: the step bakes again and is judged as usual"
	if skip == plan.SkipFull {
		what = "promote --full: every remaining step skipped, an inconclusive verdict accepted"
	}
	t.record(ctx, audit.Record{Event: audit.PauseContinued, Alias: promotion.AliasProd, Actor: t.p.Bake.Actor,
		FromVersion: s.StableVersion, ToVersion: n, Weight: audit.Weight(s.Weight),
		Reason: fmt.Sprintf("pause at %s ended by %s (%s)", alias.Percent(s.Weight), t.p.Bake.Actor, what)})
	if skip == plan.SkipFull {
		return t.shiftTo(ctx, pl, plan.Next(pl, s.Position, plan.Facts{Skip: skip}), promotion.Shift{StableVersion: s.StableVersion})
	}
	a := pl.Steps[s.Position].Analysis
	return &promotion.Shift{StableVersion: s.StableVersion, Step: s.Step, Weight: s.Weight, BakeSeconds: firstLook(t.health(), a.BakeSeconds),
		Extend: true, Extensions: s.Extensions + 1, Kind: string(plan.KindAnalysis), Position: s.Position}, nil
}

// continueApproval decides what follows an approval step of the plan:
// approved by one of its approvers (the approval API verified and mapped
// them; approval.granted names both), the next step; nobody deciding in
// time rolls back. A rejection never reaches here: it fails the Pause task
// and the definition rolls back.
func (t *task) continueApproval(ctx context.Context) (*promotion.Shift, error) {
	pl, s, n := t.p.Rollout(), t.p.Shift, t.p.Version
	b, step := t.p.Bake, pl.Steps[s.Position].Approval
	if b == nil || !b.PromoteNow || b.Approver == "" {
		return nil, promotion.TaskError(promotion.ErrPauseExpired, "nobody approved version %s of %s at %s within %ds (approvalTimeoutSeconds); rolling back",
			n, t.p.Function, alias.Percent(s.Weight), s.BakeSeconds)
	}
	if !slices.ContainsFunc(step.Approvers, func(a string) bool { return strings.EqualFold(a, b.Approver) }) {
		return nil, promotion.TaskError(promotion.ErrInvalidInput, "approval step at %s: %s is not one of its approvers %v", alias.Percent(s.Weight), b.Approver, step.Approvers)
	}
	t.record(ctx, audit.Record{Event: audit.ApprovalGranted, Alias: promotion.AliasProd, Actor: b.Actor,
		FromVersion: s.StableVersion, ToVersion: n, Weight: audit.Weight(s.Weight),
		Reason: fmt.Sprintf("approval step at %s approved by %s (%s)", alias.Percent(s.Weight), b.Approver, b.Actor)})
	return t.shiftTo(ctx, pl, plan.Next(pl, s.Position, plan.Facts{}), promotion.Shift{StableVersion: s.StableVersion})
}

// continueWindow decides what follows a closed window's wait: an
// operator's promote breaks the glass (window.overridden, naming them) and
// goes on to the next step; otherwise the window is checked again — open,
// the next step; still closed (a freeze declared meanwhile), another wait.
func (t *task) continueWindow(ctx context.Context) (*promotion.Shift, error) {
	pl, s := t.p.Rollout(), t.p.Shift
	base := promotion.Shift{StableVersion: s.StableVersion}
	skip := t.p.Bake.Skip()
	if skip == plan.SkipNone {
		return t.shiftTo(ctx, pl, plan.At(pl, s.Position), base)
	}
	w := pl.Steps[s.Position].Window
	_, _, why := w.Opens(t.now())
	if why == "" {
		why = "it has opened since"
	}
	t.record(ctx, audit.Record{Event: audit.WindowOverridden, Alias: promotion.AliasProd, Actor: t.p.Bake.Actor,
		FromVersion: s.StableVersion, ToVersion: t.p.Version, Weight: audit.Weight(s.Weight),
		Reason: fmt.Sprintf("break-glass: %s went past the closed window %s (%s)", t.p.Bake.Actor, w, why)})
	return t.shiftTo(ctx, pl, plan.Next(pl, s.Position, plan.Facts{Skip: skip}), base)
}

// health is the target's health settings with the defaults a definition
// started before they existed lacks.
func (t *task) health() config.Health {
	target := t.p.Target
	target.ApplyDefaults()
	return target.Health
}

// readVersions reads the stable and the new version's configuration.
func (t *task) readVersions(ctx context.Context, fn, stable, n string) (stableCfg, newCfg *lambda.GetFunctionConfigurationOutput, err error) {
	read := func(v string) (*lambda.GetFunctionConfigurationOutput, error) {
		out, err := t.lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn), Qualifier: aws.String(v)})
		if err != nil {
			return nil, fmt.Errorf("read the configuration of version %s of %s: %w", v, fn, err)
		}
		return out, nil
	}
	if stableCfg, err = read(stable); err != nil {
		return nil, nil, err
	}
	if newCfg, err = read(n); err != nil {
		return nil, nil, err
	}
	return stableCfg, newCfg, nil
}

// cannotWeight says why prod cannot route between the stable version a
// and the new version b, "" when it can: "Both versions must have the
// same execution role" and "the same dead-letter queue configuration, or
// no dead-letter queue configuration" (Lambda aliases,
// https://docs.aws.amazon.com/lambda/latest/dg/configuration-aliases.html).
// Checked before the first weight, so a refusal leaves prod untouched
// rather than failing SetWeight and rolling back for a misleading reason.
func cannotWeight(stable, n string, a, b *lambda.GetFunctionConfigurationOutput) string {
	if ra, rb := aws.ToString(a.Role), aws.ToString(b.Role); ra != rb {
		return fmt.Sprintf("their execution roles differ (%s has %s, %s has %s)", stable, ra, n, rb)
	}
	dlq := func(c *lambda.GetFunctionConfigurationOutput) string {
		if c.DeadLetterConfig == nil {
			return ""
		}
		return aws.ToString(c.DeadLetterConfig.TargetArn)
	}
	if da, db := dlq(a), dlq(b); da != db {
		return fmt.Sprintf("their dead-letter queues differ (%s has %q, %s has %q)", stable, da, n, db)
	}
	return ""
}

// setWeight sends shift.weight of prod's traffic to the new version and
// returns the Shift with prod as the write left it (Shift.Prod, the next
// move's precondition). It is an ordinary task:
// the Bake state that follows starts its clock only once the weight is
// set, so a slow or retried call can never land after the bake, the health
// check or a rollback.
func (t *task) setWeight(ctx context.Context) (*promotion.Shift, error) {
	next, _, err := t.setWeightMoved(ctx)
	return next, err
}

// setWeightMoved is setWeight, also returning the move it made (a group's
// undo puts it back).
func (t *task) setWeightMoved(ctx context.Context) (*promotion.Shift, alias.Moved, error) {
	fn, n, s := t.p.Function, t.p.Version, t.p.Shift
	m, err := t.moveProd(ctx, func(cur alias.Alias) (alias.Alias, bool, error) {
		if !cur.Exists {
			return cur, false, fmt.Errorf("prod of %s does not exist; stable version %s was recorded", fn, s.StableVersion)
		}
		if cur.Version != s.StableVersion || !cur.RoutedOnly(n) {
			return cur, false, fmt.Errorf("prod of %s is on %s, not stable version %s with %s: it moved outside this promotion",
				fn, cur, s.StableVersion, n)
		}
		if s.Step > 0 && !cur.Routes(n) {
			// An earlier step weighted prod; someone (an operator's
			// rollback) took that away. Re-adding it would undo them.
			return cur, false, fmt.Errorf("prod of %s no longer routes to version %s after step %d: it was rolled back outside this promotion",
				fn, n, s.Step)
		}
		return alias.Alias{Exists: true, Version: s.StableVersion, Weights: map[string]float64{n: s.Weight}}, true, nil
	})
	if err != nil {
		return nil, m, fmt.Errorf("set weight: %w", err)
	}
	next := *s
	next.Prod = encodeProd(m.After)
	if !m.Changed {
		t.log.InfoContext(ctx, "prod already at this weight", "function", fn, "prod", m.Before.String())
		return &next, m, nil
	}
	t.record(ctx, audit.Record{Event: audit.TrafficShifted, Alias: promotion.AliasProd,
		FromVersion: s.StableVersion, ToVersion: n, Weight: audit.Weight(s.Weight),
		Reason: fmt.Sprintf("step %d of %d", s.Step+1, len(t.p.Rollout().Weights()))})
	return &next, m, nil
}

// finalize sends all of prod's traffic to the new version, creating prod
// on a first release.
func (t *task) finalize(ctx context.Context) error {
	if _, err := t.finalizeMove(ctx); err != nil {
		return err
	}
	t.completed(ctx)
	return nil
}

// finalizeMove moves prod to the new version, recording the move.
func (t *task) finalizeMove(ctx context.Context) (alias.Moved, error) {
	fn, n, stable := t.p.Function, t.p.Version, t.p.Shift.StableVersion
	m, err := t.moveProd(ctx, func(cur alias.Alias) (alias.Alias, bool, error) {
		if cur.Exists && cur.Version != n && cur.Version != stable {
			return cur, false, fmt.Errorf("prod of %s is on %s, neither stable version %q nor %s: it moved outside this promotion",
				fn, cur, stable, n)
		}
		if !cur.RoutedOnly(n) {
			return cur, false, fmt.Errorf("prod of %s routes to another release (%s)", fn, cur)
		}
		if stable != "" && stable != n && len(t.p.Rollout().Weights()) > 0 && !cur.Routes(n) {
			// The steps weighted prod; someone took that away (an
			// operator's rollback). Finalizing would undo them.
			return cur, false, fmt.Errorf("prod of %s no longer routes to version %s: it was rolled back outside this promotion", fn, n)
		}
		return alias.Alias{Exists: true, Version: n}, true, nil
	})
	if err != nil {
		return m, fmt.Errorf("finalize: %w", err)
	}
	if m.Changed {
		t.record(ctx, audit.Record{Event: audit.AliasMoved, Alias: promotion.AliasProd,
			FromVersion: m.Before.Version, ToVersion: n})
	}
	return m, nil
}

// completed records the promotion of the new version completed.
func (t *task) completed(ctx context.Context) {
	t.record(ctx, audit.Record{Event: audit.PromotionCompleted, Alias: promotion.AliasProd,
		FromVersion: t.p.Shift.StableVersion, ToVersion: t.p.Version})
	t.warmLeft(ctx)
	t.emit(ctx, metrics.PromotionsCompleted, 1, metrics.Count)
	if !t.req.StartTime.IsZero() {
		t.emit(ctx, metrics.LeadTime, t.now().Sub(t.req.StartTime).Seconds(), metrics.Seconds)
	}
}

// rollback puts prod back on the stable version with no routing; with no
// stable version (a first release) it only removes routing. It refuses to
// touch a prod that serves neither this release nor the stable version: that
// belongs to someone else.
func (t *task) rollback(ctx context.Context) error {
	to, err := t.rollbackMove(ctx)
	if err != nil {
		return err
	}
	t.rolledBack(ctx, to)
	return nil
}

// rollbackMove moves prod back (rollback), recording the move, and
// returns the version prod is on.
func (t *task) rollbackMove(ctx context.Context) (string, error) {
	fn, n, stable := t.p.Function, t.p.Version, t.p.Shift.StableVersion
	before, changed, err := t.moveAlias(ctx, fn, promotion.AliasProd, func(cur alias.Alias) (alias.Alias, bool, error) {
		if !cur.Exists {
			return cur, false, nil
		}
		if stable == "" {
			return alias.Alias{Exists: true, Version: cur.Version}, len(cur.Weights) > 0, nil
		}
		if !cur.Routes(n) && cur.Version != stable {
			return cur, false, fmt.Errorf("prod of %s is on %s, which serves neither version %s nor stable version %s; not touching it",
				fn, cur, n, stable)
		}
		return alias.Alias{Exists: true, Version: stable}, true, nil
	})
	if err != nil {
		return "", fmt.Errorf("rollback: %w", err)
	}
	to := stable
	if to == "" {
		to = before.Version
	}
	actor, _ := t.operator()
	if changed {
		// From a weighted prod the traffic leaves the new version: record
		// it as moving from N, with N's weight now 0.
		rec := audit.Record{Event: audit.AliasMoved, Alias: promotion.AliasProd, Actor: actor,
			FromVersion: before.Version, ToVersion: to,
			Reason: fmt.Sprintf("rollback: prod was %s", before)}
		if len(before.Weights) > 0 {
			rec.Weight = audit.Weight(0)
			if before.Routes(n) {
				rec.FromVersion = n
			}
		}
		t.record(ctx, rec)
	}
	return to, nil
}

// rolledBack records the promotion rolled back, prod on version to.
func (t *task) rolledBack(ctx context.Context, to string) {
	actor, reason := t.operator()
	t.record(ctx, audit.Record{Event: audit.PromotionRolledBack, Alias: promotion.AliasProd, Actor: actor,
		FromVersion: t.p.Version, ToVersion: to, Reason: reason})
	t.emit(ctx, metrics.PromotionsRolledBack, 1, metrics.Count)
	if err := t.unwarm(ctx); err != nil {
		// Prod is back on the stable version: that is the rollback. A
		// leftover allocation only costs money, and the log says where.
		t.log.ErrorContext(ctx, "rollback: provisioned concurrency not removed", "function", t.p.Function, "version", t.p.Version, "error", err.Error())
	}
}

// operator is who rolled the promotion back and why: the caller the
// approval API verified, when an operator's rollback failed the bake
// (ErrOperatorRollback, its Cause an encoded promotion.Override — only the
// approval Lambda answers the promotion's tasks); else nobody but the
// pipeline ("" records as aliasflow) and the failure caught.
func (t *task) operator() (actor, reason string) {
	if f := t.p.Failure; f != nil && f.Error == promotion.ErrOperatorRollback {
		var o promotion.Override
		if json.Unmarshal([]byte(f.Cause), &o) == nil && o.Actor != "" {
			return o.Actor, fmt.Sprintf("rolled back by %s: %s", o.Actor, o.Reason)
		}
	}
	if f := t.p.Failure; f != nil && f.Error == promotion.ErrRejected {
		// An approval step of the plan rejected (the approval API failed
		// its Pause task with the decision).
		var d promotion.Decision
		if json.Unmarshal([]byte(f.Cause), &d) == nil && d.Principal != "" {
			return d.Principal, fmt.Sprintf("rejected at an approval step by %s (%s): %s", d.Approver, d.Principal, d.Comment)
		}
		if d.Approver != "" && d.Via == promotion.ViaLink {
			// Through the step's e-mailed link: its signature verified
			// the approver's address, the identity recorded.
			return d.Approver, fmt.Sprintf("rejected at an approval step by %s (approval link): %s", d.Approver, d.Comment)
		}
	}
	return "", t.failureReason("rollback")
}

// abort records why a promotion stopped before prod moved; prod is not read.
func (t *task) abort(ctx context.Context) error {
	ev := audit.PromotionAborted
	if f := t.p.Failure; f != nil && f.Error == promotion.ErrSuperseded {
		ev = audit.PromotionSuperseded
	}
	t.record(ctx, audit.Record{Event: ev, Alias: promotion.AliasProd, ToVersion: t.p.Version,
		Reason: t.failureReason("abort")})
	return nil
}

// failureReason turns the caught failure into one readable line. A Lambda
// function error arrives with its Cause as the runtime's JSON error
// document; its errorMessage is what a person wants to read.
func (t *task) failureReason(what string) string {
	f := t.p.Failure
	if f == nil {
		return what + " requested"
	}
	cause := strings.TrimSpace(f.Cause)
	var doc struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &doc) == nil && doc.ErrorMessage != "" {
		cause = doc.ErrorMessage
	}
	switch {
	case f.Error == "":
		return cause
	case cause == "":
		return f.Error
	}
	return f.Error + ": " + cause
}

// manualInput is the promotion state of a manual rollback: the execution's
// input as the approval API started it.
func manualInput(input string) (promotion.State, error) {
	var in promotion.Input
	if err := json.Unmarshal([]byte(input), &in); err != nil {
		return promotion.State{}, promotion.TaskError(promotion.ErrInvalidInput, "shift %s: the execution's input: %v", promotion.ActionManualRollback, err)
	}
	return promotion.State{Input: in}, nil
}

// manualRollback moves prod from the version it served when the approval
// API decided the rollback to the version it chose, for the operator API
// Gateway verified. Prod must still be where it was then, with no routing:
// a weighted prod belongs to a promotion in flight, and a prod that moved
// since was moved by someone who knew better.
func (t *task) manualRollback(ctx context.Context) error {
	fn, m := t.p.Function, t.p.Rollback
	_, changed, err := t.moveAlias(ctx, fn, promotion.AliasProd, func(cur alias.Alias) (alias.Alias, bool, error) {
		switch {
		case cur.Exists && len(cur.Weights) == 0 && cur.Version == m.To:
			return cur, false, nil // a retry of a task that moved it
		case !cur.Exists:
			return cur, false, fmt.Errorf("%s has no prod alias", fn)
		case len(cur.Weights) > 0:
			return cur, false, fmt.Errorf("prod of %s routes between versions (%s): a promotion is shifting it; roll that promotion back instead", fn, cur)
		case cur.Version != m.From:
			return cur, false, fmt.Errorf("prod of %s is on %s, not on version %s as when the rollback was decided; nothing moved", fn, cur, m.From)
		}
		return alias.Alias{Exists: true, Version: m.To}, true, nil
	})
	if err != nil {
		return fmt.Errorf("manual rollback: %w", err)
	}
	if !changed {
		t.log.InfoContext(ctx, "prod already on the rollback's version", "function", fn, "version", m.To)
		return nil
	}
	reason := fmt.Sprintf("rolled back by %s: %s", m.Actor, m.Reason)
	if m.BreakGlass {
		reason = fmt.Sprintf("break-glass rollback by %s to a version no approved promotion put on prod: %s", m.Actor, m.Reason)
	}
	t.record(ctx, audit.Record{Event: audit.AliasMoved, Alias: promotion.AliasProd, Actor: m.Actor,
		FromVersion: m.From, ToVersion: m.To, Reason: "manual rollback"})
	t.record(ctx, audit.Record{Event: audit.PromotionRolledBack, Alias: promotion.AliasProd, Actor: m.Actor,
		FromVersion: m.From, ToVersion: m.To, Reason: reason})
	t.emit(ctx, metrics.PromotionsRolledBack, 1, metrics.Count)
	return nil
}
