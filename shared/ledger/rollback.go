package ledger

import (
	"fmt"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// Target is where a rollback with no promotion shifting takes prod: from
// the version it serves to the version it returns to, and why that one.
type Target struct {
	From, To, Why string
}

// Refusal says why the trail gives no rollback target; Kind tells the
// caller's answer (an exit code, an HTTP status).
type Refusal struct {
	Kind RefusalKind
	msg  string
}

func (r *Refusal) Error() string { return r.msg }

// RefusalKind is why a rollback is refused.
type RefusalKind int

// The reasons a rollback target is refused.
const (
	// NoProd: the function has no prod alias.
	NoProd RefusalKind = iota + 1
	// Weighted: prod routes between versions — a promotion is shifting it
	// or was interrupted; that promotion rolls back, not this.
	Weighted
	// AlreadyThere: prod already serves the version asked for.
	AlreadyThere
	// NotApproved: the version asked for never went to prod through an
	// approved promotion (and break-glass was not said).
	NotApproved
	// NothingEarlier: the trail has no version of prod before this one.
	NothingEarlier
	// Drifted: prod moved outside aliasflow; the version before it is
	// unknown.
	Drifted
	// PastRollback: a rollback put prod where it is; going further needs
	// a version chosen on purpose.
	PastRollback
)

func refuse(kind RefusalKind, format string, args ...any) error {
	return &Refusal{Kind: kind, msg: fmt.Sprintf(format, args...)}
}

// RollbackTarget decides, with no promotion shifting, which version prod of
// fn leaves and which it returns to, and why, from prod as it is and the
// trail:
//   - a prod that routes between versions belongs to a promotion in flight
//     (or an interrupted one): refused;
//   - with want, only a version that prod served after an approved
//     promotion — a promotion.completed record puts prod on it — unless
//     breakGlass;
//   - without, the version the last completed promotion replaced, provided
//     aliasflow put prod where it is; never past a rollback (that needs
//     want).
//
// The approval API decides with it, and the CLI plans with it, so the plan
// an operator confirms is the decision the API makes. A refusal is a
// *Refusal.
func (t Trail) RollbackTarget(fn string, prod alias.Alias, want string, breakGlass bool) (Target, error) {
	if !prod.Exists {
		return Target{}, refuse(NoProd, "%s has no prod alias", fn)
	}
	if prod.Weighted() {
		return Target{}, refuse(Weighted, "prod of %s routes between versions (%s): a promotion is shifting it, or an interrupted shift left it so; roll that promotion back", fn, prod)
	}
	recs := t.Of(fn)
	cur := prod.Version
	if want != "" {
		if want == cur {
			return Target{}, refuse(AlreadyThere, "prod of %s is already on version %s", fn, cur)
		}
		if breakGlass {
			return Target{From: cur, To: want, Why: "chosen with --to, break-glass: no approved promotion is required"}, nil
		}
		for _, r := range recs {
			if r.Event == audit.PromotionCompleted && r.Alias == promotion.AliasProd && r.ToVersion == want {
				return Target{From: cur, To: want, Why: fmt.Sprintf("chosen with --to; prod served it after promotion %s completed", orDash(promotion.ExecutionNameOf(r.Execution)))}, nil
			}
		}
		return Target{}, refuse(NotApproved, "version %s of %s never went to prod through an approved promotion (no promotion.completed record names it); roll back to such a version, or say --break-glass", want, fn)
	}
	noEarlier := refuse(NothingEarlier, "nothing to roll back to: the audit trail has no version of prod of %s before %s", fn, cur)
	last, ok := recs.LastWrite(fn, promotion.AliasProd)
	if !ok {
		return Target{}, noEarlier
	}
	if !prod.Same(last.State) {
		return Target{}, refuse(Drifted, "prod of %s is on %s but aliasflow last put it on %s: it moved outside aliasflow, so the version before it is unknown", fn, cur, last.State)
	}
	// The records of the move that put prod on cur (an alias.moved and the
	// promotion.completed or promotion.rolled_back written with it).
	var completed, rolledBack, moved *audit.Record
	for i := range recs {
		r := &recs[i]
		if r.Alias != promotion.AliasProd || r.ToVersion != cur || r.Time.Sub(last.Record.Time).Abs() > time.Second {
			continue
		}
		switch r.Event {
		case audit.PromotionCompleted:
			completed = r
		case audit.PromotionRolledBack:
			rolledBack = r
		case audit.AliasMoved:
			moved = r
		}
	}
	switch {
	case rolledBack != nil:
		by := ""
		if rolledBack.Actor != "" {
			by = " by " + rolledBack.Actor
		}
		return Target{}, refuse(PastRollback, "prod of %s is on version %s, where a rollback%s put it at %s; rolling back again would step past the last promotion's stable version",
			fn, cur, by, rolledBack.Time.UTC().Format(time.DateTime))
	case completed != nil && completed.FromVersion != "" && completed.FromVersion != cur:
		return Target{From: cur, To: completed.FromVersion, Why: fmt.Sprintf("the version %s replaced", orDash(promotion.ExecutionNameOf(completed.Execution)))}, nil
	case completed == nil && moved != nil && moved.FromVersion != "" && moved.FromVersion != cur:
		return Target{From: cur, To: moved.FromVersion, Why: "the version before the last move of prod"}, nil
	}
	return Target{}, noEarlier
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
