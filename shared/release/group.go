package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// GroupResult is what a group's release did, beside Result's outcome and
// execution.
type GroupResult struct {
	// Name is the group's name.
	Name string `json:"name"`
	// Members are the functions the promotion moves, by function name.
	Members []MemberResult `json:"members,omitempty"`
	// Unchanged are the functions named whose code prod already runs: left
	// out of the promotion (see releaseGroup).
	Unchanged []string `json:"unchanged,omitempty"`
}

// MemberResult is one function a group's promotion moves.
type MemberResult struct {
	Function string `json:"function"`
	Version  string `json:"version"`
}

// groupMember is one member of a group's release as the release goes.
type groupMember struct {
	req       *Request
	pub       published
	stg, prod alias.Alias
	// prev is the version stg served before this release; moved says
	// whether stg is on the member's version (by this invocation or an
	// earlier attempt of the same release); movedNow that this invocation
	// moved it, leaving it as after.
	prev     string
	moved    bool
	movedNow bool
	after    alias.Alias
	// stgRevision is stg's RevisionId once on the version.
	stgRevision string
}

func (m *groupMember) fn() string { return m.req.Function() }

// releaseGroup releases several functions of one group as one promotion,
// named promotion.GroupExecutionName: every member's version is published,
// then — only when each member can be released — every member's stg moves,
// then one execution starts whose input lists the members
// (promotion.Input.Members). The explicit cases:
//   - a member whose code prod already runs (PublishVersion returns prod's
//     version) is left out of the promotion: nothing of it would move, and
//     a member that cannot change cannot need a rollback. The result names
//     it (GroupResult.Unchanged). When no member changed the release is
//     refused as nothing to release;
//   - a member with a running promotion of its own, or in another running
//     group promotion, refuses the whole group before any stg moves, naming
//     the member and the execution (a group is never half-superseded);
//   - a duplicate event finds every stg already moved by the same execution
//     name and starts it again, idempotently: the existing execution.
func (h *Handler) releaseGroup(ctx context.Context, req *Request) (Result, error) {
	members := make([]*groupMember, 0, len(req.Members))
	for _, r := range req.Members {
		pub, err := h.publish(ctx, r)
		if err != nil {
			return h.refusedGroup(ctx, req, r.Function(), err)
		}
		members = append(members, &groupMember{req: r, pub: pub})
	}
	var changed []*groupMember
	var unchanged []string
	for _, m := range members {
		var err error
		if m.stg, m.prod, err = h.readAliases(ctx, m.fn()); err != nil {
			return Result{}, err
		}
		if m.prod.Serves(m.pub.version) {
			unchanged = append(unchanged, m.fn())
			h.log().InfoContext(ctx, "group member unchanged: prod already serves its code; left out of the promotion",
				"group", req.Group, "function", m.fn(), "version", m.pub.version)
			continue
		}
		changed = append(changed, m)
	}
	if len(changed) == 0 {
		return h.refusedGroup(ctx, req, "", refuse("nothing to release: prod already serves the code of every member of group %s (%v)", req.Group, unchanged))
	}
	pm := make([]promotion.Member, len(changed))
	for i, m := range changed {
		pm[i] = promotion.Member{Function: m.fn(), Version: m.pub.version, Release: m.req.Release, Target: m.req.Target}
	}
	name := promotion.GroupExecutionName(req.Group, pm)
	execARN := promotion.ExecutionARN(h.StateMachineARN, name)
	res := Result{Function: changed[0].fn(), Version: changed[0].pub.version, Execution: execARN,
		Group: &GroupResult{Name: req.Group, Unchanged: unchanged}}
	for _, m := range changed {
		res.Group.Members = append(res.Group.Members, MemberResult{Function: m.fn(), Version: m.pub.version})
	}

	// A member stg already serves, stamped by this release's execution
	// name, was moved by an earlier attempt of this event.
	allSettled := true
	for _, m := range changed {
		if m.stg.Serves(m.pub.version) {
			prev, ours := previousFor(m.stg, name)
			if !ours {
				h.log().WarnContext(ctx, "stg serves the member's version but was not moved by this release; previousStgVersion unknown",
					"group", req.Group, "function", m.fn(), "version", m.pub.version, "description", m.stg.Description)
			}
			m.prev, m.moved, m.stgRevision = prev, true, m.stg.Revision
		}
		allSettled = allSettled && settled(m.stg, m.prod)
	}
	// As for one function (settled): when every member's prod serves alone
	// what its stg serves, no promotion of any member can be waiting before
	// its shift, and the listing is skipped.
	if !allSettled {
		if conflict, err := h.groupConflict(ctx, changed, name); err != nil {
			return Result{}, err
		} else if conflict != nil {
			return h.refusedGroup(ctx, req, conflict.function, refuse("%s is already in the running promotion %s; nothing moved: release the group once it has ended",
				conflict.function, conflict.execution))
		}
	}
	for _, m := range changed {
		if m.moved {
			continue
		}
		if err := h.waitActive(ctx, m.fn(), m.pub); err != nil {
			return h.refusedGroup(ctx, req, m.fn(), err)
		}
	}

	var announce []audit.Record
	for _, m := range changed {
		if m.moved {
			continue
		}
		prev, after, err := h.moveStg(ctx, m.req, m.pub.version, name, m.stg)
		var meanwhile *stgMovedMeanwhile
		if errors.As(err, &meanwhile) {
			// A concurrent duplicate of this event moved it first.
			m.prev, _ = previousFor(meanwhile.stg, name)
			m.moved, m.stgRevision = true, meanwhile.stg.Revision
			continue
		}
		if err != nil {
			// The members moved so far stay on their versions: a retry of
			// the event finds them moved by this release and completes it.
			for _, rec := range announce {
				h.Audit.Record(ctx, rec)
			}
			return Result{}, err
		}
		m.prev, m.moved, m.stgRevision = prev, true, after.Revision
		m.movedNow, m.after = true, after
		by := m.req.Release.Requester()
		announce = append(announce,
			h.Audit.Stamp(audit.Record{Event: audit.ReleasePublished, Function: m.fn(), ToVersion: m.pub.version, Release: &m.req.Release,
				Execution: execARN, Group: req.Group, Actor: by}),
			h.Audit.Stamp(audit.Record{Event: audit.AliasMoved, Function: m.fn(), Alias: promotion.AliasStg, FromVersion: prev, ToVersion: m.pub.version,
				Release: &m.req.Release, Execution: execARN, Group: req.Group, Actor: by}))
	}
	for i, m := range changed {
		pm[i].PreviousStgVersion, pm[i].StgRevision = m.prev, m.stgRevision
	}
	arn, err := h.startGroup(ctx, req, name, pm, announce)
	if awserr.Code(err) == awserr.AlreadyExists {
		// Started already: by an earlier attempt (this one moved nothing)
		// or by a concurrent duplicate, which could not announce this
		// attempt's moves; they go on EventBridge from here.
		res.Outcome, res.Execution = Duplicate, arn
		if len(announce) == 0 {
			h.log().InfoContext(ctx, "group promotion exists already", "group", req.Group, "execution", arn)
			return res, nil
		}
		// This attempt moved a member's stg, yet the promotion exists: a
		// concurrent duplicate started it (it runs), or this is a late
		// duplicate of a release whose promotion ended — which must not
		// leave stg on its versions.
		out, derr := h.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if derr != nil || out.Status == sfntypes.ExecutionStatusRunning {
			for _, rec := range announce {
				h.Audit.Record(ctx, rec)
			}
		}
		if derr != nil {
			// Not known whose it is: stg stays, and the event is retried
			// (it then finds every stg moved, a duplicate).
			return Result{}, fmt.Errorf("describe the existing group promotion %s: %w", arn, derr)
		}
		if out.Status == sfntypes.ExecutionStatusRunning {
			res.Outcome = Started
			h.log().InfoContext(ctx, "a concurrent duplicate started this group's promotion first", "group", req.Group, "execution", arn)
			return res, nil
		}
		// A late duplicate: its moves are recorded, then put back.
		for _, rec := range announce {
			if rec.Event == audit.AliasMoved {
				rec.Reason = "late duplicate of a release whose promotion already exists"
				h.Audit.Record(ctx, rec)
			}
		}
		res.Reason = fmt.Sprintf("the promotion of this release already exists (%s)", out.Status)
		if put := h.putBackMembers(ctx, req, changed, arn); len(put) > 0 {
			res.Reason += "; stg put back for " + strings.Join(put, ", ")
		}
		return res, nil
	}
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
	res.Execution = arn
	if len(announce) == 0 {
		// Every stg was moved by an earlier attempt: a duplicate, which
		// starting again found running with the same input.
		res.Outcome = Duplicate
		return res, nil
	}
	res.Outcome = Started
	if h.Metrics != nil {
		for _, m := range changed {
			if merr := h.Metrics.Emit(m.fn(), metrics.PromotionsStarted, 1, metrics.Count); merr != nil {
				h.log().WarnContext(ctx, "metric not written", "error", merr.Error())
			}
		}
	}
	h.log().InfoContext(ctx, "group promotion started", "group", req.Group, "members", len(changed), "execution", arn)
	return res, nil
}

// memberConflict is a member already in a running promotion.
type memberConflict struct{ function, execution string }

// groupConflict finds a member of changed that a running promotion other
// than the group's own (name) moves: one of its own, or another group's,
// whose input lists its members. One ListExecutions serves every member;
// only another group's running promotion costs a DescribeExecution.
func (h *Handler) groupConflict(ctx context.Context, changed []*groupMember, name string) (*memberConflict, error) {
	var token *string
	for page := 0; page < maxPages; page++ {
		resp, err := h.SFN.ListExecutions(ctx, &sfn.ListExecutionsInput{
			StateMachineArn: aws.String(h.StateMachineARN),
			StatusFilter:    sfntypes.ExecutionStatusRunning,
			MaxResults:      1000,
			NextToken:       token,
		})
		if err != nil {
			return nil, fmt.Errorf("list running promotions: %w", err)
		}
		for _, e := range resp.Executions {
			ename, earn := aws.ToString(e.Name), aws.ToString(e.ExecutionArn)
			if ename == name {
				continue // this release's own promotion: a duplicate
			}
			ref, ok := promotion.ParseExecutionName(ename)
			if !ok {
				continue
			}
			if ref.Group == "" {
				for _, m := range changed {
					if _, ok := promotion.ExecutionOf(m.fn(), ename); ok {
						return &memberConflict{m.fn(), earn}, nil
					}
				}
				continue
			}
			members, err := h.runningMembers(ctx, earn)
			if err != nil {
				return nil, err
			}
			for _, m := range changed {
				if slices.ContainsFunc(members, func(o promotion.Member) bool { return o.Function == m.fn() }) {
					return &memberConflict{m.fn(), earn}, nil
				}
			}
		}
		if token = resp.NextToken; token == nil {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("list running promotions: more than %d pages", maxPages)
}

// startGroup starts the group's promotion: Input.Group and Members, with
// Function, Version, Release and Target the first member's (the contract of
// promotion.Input), announcing the records given.
func (h *Handler) startGroup(ctx context.Context, req *Request, name string, members []promotion.Member, announce []audit.Record) (string, error) {
	first := members[0]
	var settingsVersion int64
	for _, r := range req.Members {
		if r.Function() == first.Function {
			settingsVersion = r.SettingsVersion
		}
	}
	in := promotion.Input{
		Function:           first.Function,
		Version:            first.Version,
		PreviousStgVersion: first.PreviousStgVersion,
		Release:            first.Release,
		Target:             first.Target,
		Steps:              promotion.Plan(first.Target.Strategy),
		StgRevision:        first.StgRevision,
		SettingsVersion:    settingsVersion,
		Group:              req.Group,
		Members:            members,
	}
	return h.startExecution(ctx, "group promotion", name, in, announce)
}

// refusedGroup audits a group's refusal, naming the member it is about
// (when one), and answers it; any other error is returned.
func (h *Handler) refusedGroup(ctx context.Context, req *Request, member string, err error) (Result, error) {
	var refusal *Refusal
	if !errors.As(err, &refusal) {
		return Result{}, err
	}
	rel := req.Release
	for _, m := range req.Members {
		if m.Function() == member {
			rel = m.Release
		}
	}
	reason := fmt.Sprintf("group %s: %s", req.Group, refusal.Reason)
	h.Audit.Record(ctx, audit.Record{Event: audit.ReleaseRefused, Function: member, Group: req.Group, Release: &rel, Reason: reason, Actor: rel.Requester()})
	return Result{Outcome: Refused, Function: member, Reason: reason, Group: &GroupResult{Name: req.Group}}, nil
}

// groupHolds reports whether the running execution name is a group's
// promotion whose members include fn (its input says: one
// DescribeExecution, made only for a group's execution).
func (h *Handler) groupHolds(ctx context.Context, fn, name, arn string) (bool, error) {
	if ref, ok := promotion.ParseExecutionName(name); !ok || ref.Group == "" {
		return false, nil
	}
	members, err := h.runningMembers(ctx, arn)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(members, func(m promotion.Member) bool { return m.Function == fn }), nil
}

// runningMembers are the members the input of the group promotion arn
// lists; none when it has ended and gone or its input is not a
// promotion's.
func (h *Handler) runningMembers(ctx context.Context, arn string) ([]promotion.Member, error) {
	out, err := h.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if awserr.Code(err) == awserr.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe the running group promotion %s: %w", arn, err)
	}
	var in promotion.Input
	if json.Unmarshal([]byte(aws.ToString(out.Input)), &in) != nil {
		return nil, nil
	}
	return in.Members, nil
}

// putBackMembers puts back, after a late duplicate, the stg of each member
// this invocation moved, guarded by the RevisionId of its own move so that
// a later writer always wins, and returns the members put back. Each move
// back is audited with the group.
func (h *Handler) putBackMembers(ctx context.Context, req *Request, changed []*groupMember, execARN string) []string {
	var put []string
	for _, m := range changed {
		if !m.movedNow {
			continue
		}
		if m.prev == "" {
			h.log().WarnContext(ctx, "stg was created by this late duplicate; left on the version", "group", req.Group, "function", m.fn(), "version", m.pub.version)
			continue
		}
		mover := alias.Mover{Lambda: h.Lambda, Attempts: 1, Log: h.log()}
		_, err := mover.MoveFrom(ctx, m.fn(), promotion.AliasStg, m.after, func(alias.Alias) (alias.Alias, bool, error) {
			return alias.Alias{Exists: true, Version: m.prev, Description: alias.StampFor(promotion.ExecutionNameOf(execARN), alias.Alias{Exists: true, Version: m.prev})}, true, nil
		})
		if err != nil {
			h.log().WarnContext(ctx, "stg not put back after a late duplicate", "group", req.Group, "function", m.fn(), "previous", m.prev, "error", err.Error())
			continue
		}
		h.Audit.Record(ctx, audit.Record{Event: audit.AliasMoved, Function: m.fn(), Alias: promotion.AliasStg, FromVersion: m.pub.version, ToVersion: m.prev,
			Release: &m.req.Release, Execution: execARN, Group: req.Group, Reason: "put back: late duplicate of a release whose promotion already exists"})
		put = append(put, m.fn())
	}
	return put
}
