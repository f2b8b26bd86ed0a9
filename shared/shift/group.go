package shift

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift/groupstate"
)

// A group promotion (promotion.Input.Members) moves several functions'
// prod aliases in lockstep through one plan: one task of the definition
// acts on every member, so a group costs the state transitions of one
// promotion. What differs per member — its stable version, prod as last
// written (with its RevisionId), its log and probe progress — travels in
// the Shift's JSON documents owned by this package, keyed by function
// (Shift.Prod holds a groupstate.Prod; Shift.Logs and Shift.Probes a map of each
// member's own document), so the definition and promotion.Shift stay as
// they are and a single-function execution in flight reads back unchanged.
// Shift.StableVersion is the first member's, as Input.Function is.

// groupName is what the settings validator allows as a group's name.
var groupName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// isGroup says the promotion moves a group.
func (t *task) isGroup() bool { return len(t.p.Members) > 0 }

// subject names what the promotion moves, for errors: "version 5 of
// hello", or "group api (3 functions)".
func (t *task) subject() string {
	if t.isGroup() {
		return fmt.Sprintf("group %s (%d functions)", t.p.Group, len(t.p.Members))
	}
	return fmt.Sprintf("version %s of %s", t.p.Version, t.p.Function)
}

// docs reads a group's Shift.Logs or Shift.Probes: each member's own
// document by function.
func docs(doc string) map[string]string {
	m := map[string]string{}
	if doc != "" {
		_ = json.Unmarshal([]byte(doc), &m)
	}
	return m
}

// joinDocs is the group document of the members' documents, "" when none
// has one.
func joinDocs(m map[string]string) string {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	if len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	return string(b)
}

// nextLogs is the log progress a next step starts from (nextStepLogs),
// per member for a group.
func (t *task) nextLogs(doc string, step int) string {
	if !t.isGroup() {
		return nextStepLogs(doc, step)
	}
	m := docs(doc)
	for fn, d := range m {
		m[fn] = nextStepLogs(d, step)
	}
	return joinDocs(m)
}

// member is the task as one member of the group sees it: the promotion of
// that function alone, on the group's plan, with its own stable version,
// prod, log and probe progress.
func (t *task) member(m promotion.Member) *task {
	p := t.p
	p.Function, p.Version, p.PreviousStgVersion, p.Release, p.StgRevision = m.Function, m.Version, m.PreviousStgVersion, m.Release, m.StgRevision
	target := m.Target
	// One plan moves every member: the group's (its first member's).
	target.Strategy = t.p.Target.Strategy
	p.Target = target
	p.Members = nil
	if s := t.p.Shift; s != nil {
		ms := *s
		mp := groupstate.Decode(s.Prod).Members[m.Function]
		ms.StableVersion, ms.Prod = mp.Stable, mp.Prod
		ms.Logs, ms.Probes = docs(s.Logs)[m.Function], docs(s.Probes)[m.Function]
		p.Shift = &ms
	}
	req := t.req
	req.Promotion = p
	return &task{Handler: t.Handler, req: req, p: p}
}

// members is every member's task, in the group's order.
func (t *task) members() []*task {
	out := make([]*task, 0, len(t.p.Members))
	for _, m := range t.p.Members {
		out = append(out, t.member(m))
	}
	return out
}

// weighted says the member's prod shifts by the plan's weights: it has a
// stable version other than the new one. A member without prod (a first
// release) gets it at Finalize; one whose prod already serves the version
// (its code did not change) is left as it is.
func (t *task) weighted() bool {
	s := t.p.Shift
	return s != nil && s.StableVersion != "" && s.StableVersion != t.p.Version
}

// validateGroup refuses a group whose members could move something other
// than a published version of a plainly named function.
func validateGroup(req promotion.TaskRequest) error {
	bad := func(format string, args ...any) error {
		return promotion.TaskError(promotion.ErrInvalidInput, "shift %s: "+format, append([]any{req.Action}, args...)...)
	}
	p := req.Promotion
	if !groupName.MatchString(p.Group) {
		return bad("promotion.group: %q is not a group name ([A-Za-z0-9_-], 1 to 64 characters)", p.Group)
	}
	if first := p.Members[0]; first.Function != p.Function || first.Version != p.Version {
		return bad("promotion.members[0] is %s v%s, but promotion.function/version say %s v%s: they name the first member",
			first.Function, first.Version, p.Function, p.Version)
	}
	seen := map[string]bool{}
	for i, m := range p.Members {
		if err := config.ValidateFunctionName(m.Function); err != nil {
			return bad("promotion.members[%d].function: %v", i, err)
		}
		if seen[m.Function] {
			return bad("promotion.members[%d].function: %s is a member twice", i, m.Function)
		}
		seen[m.Function] = true
		if !alias.IsVersionNumber(m.Version) {
			return bad("promotion.members[%d].version: %q is not a published version number", i, m.Version)
		}
		if m.PreviousStgVersion != "" && !alias.IsVersionNumber(m.PreviousStgVersion) {
			return bad("promotion.members[%d].previousStgVersion: %q is not a published version number", i, m.PreviousStgVersion)
		}
	}
	s := p.Shift
	if s == nil {
		return nil
	}
	g := groupstate.Decode(s.Prod)
	for fn, mp := range g.Members {
		if !seen[fn] {
			return bad("promotion.shift.prod: %s is not a member of group %s", fn, p.Group)
		}
		if mp.Stable != "" && !alias.IsVersionNumber(mp.Stable) {
			return bad("promotion.shift.prod: the stable version %q of %s is not a published version number", mp.Stable, fn)
		}
	}
	return nil
}

// resolveStables fills in the stable version of each member the group's
// Shift.Prod does not hold — an execution whose definition's
// ResultSelectors do not carry $.shift.prod — from prod as it is now:
// while a member shifts, prod's own version is its stable version (the
// new one only routed), and a prod on the new version leaves nothing to
// shift or roll back. One GetAlias per such member; none when Shift.Prod
// holds them all.
func (t *task) resolveStables(ctx context.Context) error {
	s := t.p.Shift
	if s == nil || t.req.Action == promotion.ActionAbort {
		return nil
	}
	g := groupstate.Decode(s.Prod)
	missing := false
	for _, m := range t.p.Members {
		if _, ok := g.Members[m.Function]; ok {
			continue
		}
		prod, err := t.getAlias(ctx, m.Function, promotion.AliasProd)
		if err != nil {
			return fmt.Errorf("the stable version of %s: %w", m.Function, err)
		}
		// prod as read is where the member's next move writes from
		// (prodAsLeft checks it is where the plan puts it).
		g.Members[m.Function] = groupstate.Member{Stable: prod.Version, Prod: encodeProd(prod)}
		missing = true
	}
	if missing {
		t.log.WarnContext(ctx, "group's stable versions read from prod: the state did not carry them", "group", t.p.Group)
		cp := *s
		cp.Prod = g.Encode()
		t.p.Shift = &cp
		t.req.Promotion = t.p
	}
	switch t.req.Action {
	case promotion.ActionSetWeight, promotion.ActionBake, promotion.ActionCheckHealth:
		if !slices.ContainsFunc(t.members(), (*task).weighted) {
			return promotion.TaskError(promotion.ErrInvalidInput, "shift %s: promotion.shift.prod: no member of group %s has a stable version to shift from", t.req.Action, t.p.Group)
		}
	}
	return nil
}

// groupAction runs the request's action on every member of the group.
func (t *task) groupAction(ctx context.Context) (*promotion.Shift, error) {
	if err := validateGroup(t.req); err != nil {
		return nil, err
	}
	if err := t.resolveStables(ctx); err != nil {
		return nil, err
	}
	switch t.req.Action {
	case promotion.ActionRestoreStg:
		return nil, t.eachMember(func(m *task) error { return m.restoreStg(ctx) })
	case promotion.ActionBegin:
		return t.groupBegin(ctx)
	case promotion.ActionSetWeight:
		return t.groupSetWeight(ctx)
	case promotion.ActionBake, promotion.ActionPause:
		return nil, nil // waits on the token: every member holds where it is
	case promotion.ActionContinue:
		// What follows a pause is the plan's, the group's as one; the
		// members' moves come at the next SetWeight or Finalize.
		next, err := t.continuePause(ctx)
		return t.carry(next), err
	case promotion.ActionCheckHealth:
		next, err := t.checkHealth(ctx)
		return t.carry(next), err
	case promotion.ActionWarm:
		// Every member's new version warmed before the group's next
		// weight: warm reads Functions(), the members.
		next, err := t.warm(ctx)
		return t.carry(next), err
	case promotion.ActionFinalize:
		return nil, t.groupFinalize(ctx)
	case promotion.ActionRollback:
		return nil, t.groupRollback(ctx)
	case promotion.ActionAbort:
		return nil, t.eachMember(func(m *task) error { return m.abort(ctx) })
	}
	return nil, promotion.TaskError(promotion.ErrInvalidInput, "shift %s: not an action of a group promotion", t.req.Action)
}

// eachMember runs do for every member, all of them whatever one's error:
// a rollback must return every member it can to its stable version.
func (t *task) eachMember(do func(m *task) error) error {
	var errs []error
	for _, m := range t.members() {
		if err := do(m); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.p.Function, err))
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// groupRollback returns every member's prod to its stable version, each
// member's move recorded as it happens, and records the members' promotions
// rolled back once all are back: a member that could not be moved fails
// the task, and the definition's retry moves what is left without
// recording the others again.
func (t *task) groupRollback(ctx context.Context) error {
	to := map[string]string{}
	err := t.eachMember(func(m *task) error {
		v, err := m.rollbackMove(ctx)
		to[m.p.Function] = v
		return err
	})
	if err != nil {
		return err
	}
	for _, m := range t.members() {
		m.rolledBack(ctx, to[m.p.Function])
	}
	return nil
}

// groupBegin checks every member as begin does one function, changing
// nothing, and returns the group's first step. The group shifts gradually
// when at least one member can; members without prod or already on their
// version move (or stay) at Finalize. When a member's versions cannot share
// a weighted alias and the plan allows the fallback, the whole group moves
// all at once: lockstep leaves no member at 100 % while the others bake.
func (t *task) groupBegin(ctx context.Context) (*promotion.Shift, error) {
	pl := t.p.Rollout()
	first := plan.Next(pl, plan.Start, plan.Facts{})
	g := groupstate.Prod{Members: map[string]groupstate.Member{}}
	logs, probes := map[string]string{}, map[string]string{}
	gradual, fallback := 0, false
	for _, m := range t.members() {
		s, how, err := m.beginOne(ctx, first)
		if err != nil {
			return nil, err
		}
		g.Members[m.p.Function] = groupstate.Member{Stable: s.StableVersion, Prod: s.Prod}
		logs[m.p.Function], probes[m.p.Function] = s.Logs, s.Probes
		switch {
		case how == beginGradual:
			gradual++
		case how == beginDirect && s.StableVersion != "" && s.StableVersion != m.p.Version:
			fallback = true // cannot weight: strategy.fallbackAllAtOnce
		}
	}
	s := promotion.Shift{StableVersion: g.Members[t.p.Function].Stable, Prod: g.Encode(), Logs: joinDocs(logs), Probes: joinDocs(probes)}
	if first.Kind == plan.KindFinalize {
		return t.shiftTo(ctx, pl, first, s)
	}
	if gradual == 0 || fallback {
		t.log.InfoContext(ctx, "group moves all at once", "group", t.p.Group, "gradual", gradual, "fallbackAllAtOnce", fallback)
		return t.allAtOnce(ctx, pl, s)
	}
	return t.shiftTo(ctx, pl, first, s)
}

// groupSetWeight sets the step's weight on every weighted member's prod,
// each write guarded by that member's own RevisionId. A failure on one
// member puts the members already moved by this task back where they were,
// so no member is left a step ahead of the others; the definition then
// rolls every member back (or retries the step from where all stood).
func (t *task) groupSetWeight(ctx context.Context) (*promotion.Shift, error) {
	g := groupstate.Decode(t.p.Shift.Prod)
	var done []undo
	for _, m := range t.members() {
		if !m.weighted() {
			continue
		}
		next, moved, err := m.setWeightMoved(ctx)
		if err != nil {
			err = fmt.Errorf("group %s, member %s: %w", t.p.Group, m.p.Function, err)
			return nil, errors.Join(err, t.undo(ctx, done, m.p.Function))
		}
		if moved.Changed {
			done = append(done, undo{m: m, moved: moved})
		}
		mp := g.Members[m.p.Function]
		mp.Prod = next.Prod
		g.Members[m.p.Function] = mp
	}
	next := *t.p.Shift
	next.Prod = g.Encode()
	return &next, nil
}

// groupFinalize moves every member's prod to its new version (creating
// prod for a member's first release), then records each member's
// promotion completed. A failure on one member puts the members already
// finalized back where they were.
func (t *task) groupFinalize(ctx context.Context) error {
	var done []undo
	members := t.members()
	for _, m := range members {
		moved, err := m.finalizeMove(ctx)
		if err != nil {
			err = fmt.Errorf("group %s, member %s: %w", t.p.Group, m.p.Function, err)
			return errors.Join(err, t.undo(ctx, done, m.p.Function))
		}
		if moved.Changed {
			done = append(done, undo{m: m, moved: moved})
		}
	}
	for _, m := range members {
		m.completed(ctx)
	}
	return nil
}

// undo is one member's move a lockstep task made.
type undo struct {
	m     *task
	moved alias.Moved
}

// undo puts back, newest first, the members' moves this task made before
// member failed: each prod from where the move left it to where it was,
// guarded by the move's RevisionId — a prod someone changed since is left
// to the rollback that follows. Each put-back is an alias move, recorded
// once. It returns what it could not put back.
func (t *task) undo(ctx context.Context, done []undo, failed string) error {
	var errs []error
	for _, u := range slices.Backward(done) {
		fn := u.m.p.Function
		before, after := u.moved.Before, u.moved.After
		mv, err := alias.Mover{Lambda: t.lambda, Log: t.log, Attempts: 1}.MoveFrom(ctx, fn, promotion.AliasProd, after,
			func(cur alias.Alias) (alias.Alias, bool, error) {
				if !cur.Same(after) {
					return cur, false, nil
				}
				if !before.Exists {
					// Lambda has no "no alias" to write back; the rollback
					// that follows removes the new version's routing.
					return cur, false, nil
				}
				return alias.Alias{Exists: true, Version: before.Version, Weights: before.Weights}, true, nil
			})
		if err != nil {
			t.log.ErrorContext(ctx, "group member's move not undone", "group", t.p.Group, "function", fn, "error", err.Error())
			errs = append(errs, fmt.Errorf("undo the move of %s: %w", fn, err))
			continue
		}
		if !mv.Changed {
			continue
		}
		rec := audit.Record{Event: audit.AliasMoved, Alias: promotion.AliasProd,
			FromVersion: u.m.p.Version, ToVersion: before.Version,
			Reason: fmt.Sprintf("group %s: %s failed to move, so %s's move (%s → %s) was undone", t.p.Group, failed, fn, after, before)}
		if w := before.Weights[u.m.p.Version]; w > 0 {
			rec.Weight = audit.Weight(w)
		} else {
			rec.Weight = audit.Weight(0)
		}
		u.m.record(ctx, rec)
	}
	return errors.Join(errs...)
}

// memberVerdict is one member's health verdict in a group's check.
type memberVerdict struct {
	m *task
	d decision
}

// judge judges the new version (judgeOne) — for a group every weighted
// member's, each by its own health settings and the analysis's criteria:
// healthy only when all are; unhealthy when any is, naming it; else
// inconclusive. The verdicts are kept for the records (recordVerdict).
func (t *task) judge(ctx context.Context, a *plan.Analysis, stepStart, now, need time.Time) (decision, progress, error) {
	if !t.isGroup() {
		h := t.health()
		h.MaxErrorRate, h.MinInvocations = a.MaxErrorRate, a.MinInvocations
		return t.judgeOne(ctx, h, stepStart, now, need)
	}
	logs, probes := docs(t.p.Shift.Logs), docs(t.p.Shift.Probes)
	t.verdicts = nil
	for _, m := range t.members() {
		if !m.weighted() {
			continue
		}
		h := m.health()
		h.MaxErrorRate, h.MinInvocations = a.MaxErrorRate, a.MinInvocations
		m.p.Target.Health = h
		d, pg, err := m.judgeOne(ctx, h, stepStart, now, need)
		if err != nil {
			return decision{}, progress{}, fmt.Errorf("%s: %w", m.p.Function, err)
		}
		logs[m.p.Function], probes[m.p.Function] = pg.logs, pg.probes
		t.verdicts = append(t.verdicts, memberVerdict{m: m, d: d})
	}
	return combine(t.verdicts), progress{logs: joinDocs(logs), probes: joinDocs(probes)}, nil
}

// combine is a group's verdict from its members'.
func combine(vs []memberVerdict) decision {
	line := func(v memberVerdict) string {
		return fmt.Sprintf("%s v%s: %s", v.m.p.Function, v.m.p.Version, v.d.Reason)
	}
	for _, v := range vs {
		if v.d.Outcome == Unhealthy {
			d := v.d
			d.Reason = fmt.Sprintf("member %s (version %s) is unhealthy: %s", v.m.p.Function, v.m.p.Version, v.d.Reason)
			return d
		}
	}
	d := vs[0].d
	d.Sources = nil
	var lines []string
	for _, v := range vs {
		d.Sources = append(d.Sources, v.d.Sources...)
		if v.d.Outcome != Healthy {
			d.Outcome, d.DecidedBy = Inconclusive, ""
		}
	}
	for _, v := range vs {
		if d.Outcome == Healthy || v.d.Outcome != Healthy {
			lines = append(lines, line(v))
		}
	}
	d.Reason = strings.Join(lines, "; ")
	return d
}

// recordVerdict records a health verdict: for a group once per judged
// member (its function, versions and own evidence), the event and reason
// the group's.
func (t *task) recordVerdict(ctx context.Context, rec audit.Record) {
	if !t.isGroup() {
		t.record(ctx, rec)
		return
	}
	for _, v := range t.verdicts {
		r := rec
		verdict := v.d.Verdict
		r.FromVersion, r.ToVersion, r.Verdict = v.m.p.Shift.StableVersion, v.m.p.Version, &verdict
		v.m.record(ctx, r)
	}
}
