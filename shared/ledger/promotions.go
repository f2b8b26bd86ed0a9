package ledger

import (
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// Promotion is one promotion's records: those of one Step Functions
// execution (its name is the promotion's identity), newest first.
type Promotion struct {
	// Execution is the execution's name; ARN its ARN as the records
	// carry it.
	Execution string
	ARN       string
	// Function is the function the records name (one of a group's
	// members for a group); Group the group's name for a group release.
	Function string
	Group    string
	Records  Trail
}

// Started is the promotion's first record (Records is never empty).
func (p Promotion) Started() audit.Record { return p.Records[len(p.Records)-1] }

// Outcome is the promotion's final record (promotion.completed,
// rolled_back, superseded, aborted), false while it has none.
func (p Promotion) Outcome() (audit.Record, bool) {
	return p.Records.Last(audit.PromotionCompleted, audit.PromotionRolledBack, audit.PromotionSuperseded, audit.PromotionAborted)
}

// Execution is the records of the execution named by nameOrARN (its name
// or ARN).
func (t Trail) Execution(nameOrARN string) Trail {
	name := promotion.ExecutionNameOf(nameOrARN)
	return t.filter(func(r *audit.Record) bool { return r.Execution != "" && promotion.ExecutionNameOf(r.Execution) == name })
}

// Release is the records of every attempt of the release nameOrARN's
// execution promoted (promotion.SameRelease): a retry's records read with
// the first attempt's. A name that is no promotion's (a group release, a
// manual rollback) has only its own execution's.
func (t Trail) Release(nameOrARN string) Trail {
	name := promotion.ExecutionNameOf(nameOrARN)
	return t.filter(func(r *audit.Record) bool {
		if r.Execution == "" {
			return false
		}
		other := promotion.ExecutionNameOf(r.Execution)
		return other == name || promotion.SameRelease(other, name)
	})
}

// Promotions groups the records that name an execution into promotions,
// newest first (by their newest record). Records of a group release share
// one execution, so they read back as one promotion whatever functions
// they name.
func (t Trail) Promotions() []Promotion {
	var out []Promotion
	at := map[string]int{}
	for _, r := range t {
		if r.Execution == "" {
			continue
		}
		name := promotion.ExecutionNameOf(r.Execution)
		i, ok := at[name]
		if !ok {
			i = len(out)
			at[name] = i
			out = append(out, Promotion{Execution: name, ARN: r.Execution, Function: r.Function, Group: r.Group})
		}
		p := &out[i]
		if p.Group == "" {
			p.Group = r.Group
		}
		p.Records = append(p.Records, r)
	}
	return out
}
