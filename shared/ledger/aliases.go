package ledger

import (
	"fmt"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// Write is where aliasflow last put an alias, and the record that says so.
type Write struct {
	State  alias.Alias
	Record audit.Record
}

// LastWrite is where the newest record that moved alias name of fn left
// it; false when the trail has none.
func (t Trail) LastWrite(fn, name string) (Write, bool) {
	for _, r := range t {
		if r.Function != fn || r.Alias != name || r.ToVersion == "" {
			continue
		}
		switch r.Event {
		case audit.TrafficShifted:
			if r.Weight != nil && *r.Weight > 0 && *r.Weight < 1 && r.FromVersion != "" {
				return Write{State: alias.Alias{Exists: true, Version: r.FromVersion, Weights: map[string]float64{r.ToVersion: *r.Weight}}, Record: r}, true
			}
			return Write{State: alias.Alias{Exists: true, Version: r.ToVersion}, Record: r}, true
		case audit.AliasMoved, audit.PromotionCompleted, audit.PromotionRolledBack:
			return Write{State: alias.Alias{Exists: true, Version: r.ToVersion}, Record: r}, true
		}
	}
	return Write{}, false
}

// Drift is an alias that moved outside aliasflow.
type Drift struct {
	Function, Alias string
	// Actual is the alias as it is; Expected where aliasflow last put it
	// (Known false when the trail no longer says, but the alias's stamp
	// shows aliasflow wrote it once).
	Actual   alias.Alias
	Expected alias.Alias
	Known    bool
	// By is the execution whose write the alias no longer matches.
	By string
}

// String says the drift in words.
func (d Drift) String() string {
	was := "where aliasflow left it"
	if d.Known {
		was = d.Expected.String()
	}
	by := ""
	if d.By != "" {
		by = " by " + d.By
	}
	return fmt.Sprintf("%s of %s is on %s, not on %s%s: it moved outside aliasflow", d.Alias, d.Function, d.Actual, was, by)
}

// Drifted reports whether alias name of fn, as it is (cur, with its
// description, as ListAliases gives it), moved outside aliasflow: its stamp
// is not that of aliasflow's write of its routing (alias.Stamped), and the
// trail's last write of it differs from it — or, with no write in the
// trail, it carries a stamp of aliasflow's whose routing it no longer has.
// An alias aliasflow never moved has no drift.
func (t Trail) Drifted(fn, name string, cur alias.Alias) (Drift, bool) {
	if !cur.Exists {
		return Drift{}, false
	}
	if _, ok := cur.Stamped(); ok {
		return Drift{}, false
	}
	d := Drift{Function: fn, Alias: name, Actual: cur}
	if s, ok := alias.ReadStamp(cur.Description); ok {
		d.By = s.By
	}
	w, ok := t.LastWrite(fn, name)
	if !ok {
		return d, d.By != ""
	}
	d.Expected, d.Known = w.State, true
	if d.By == "" && w.Record.Execution != "" {
		d.By = promotion.ExecutionNameOf(w.Record.Execution)
	}
	return d, !cur.Same(w.State)
}

// Reported reports whether the trail already holds the alias.drifted
// record of d: the newest record of the alias is one that found it as it
// is now. A drift is reported once; a further hand move is a new drift.
func (t Trail) Reported(d Drift) bool {
	for _, r := range t {
		if r.Function != d.Function || r.Alias != d.Alias {
			continue
		}
		switch {
		case r.Event == audit.AliasDrifted:
			return len(r.Changes) == 1 && r.Changes[0].To == d.Actual.String()
		case contains(moves, r.Event):
			return false
		}
	}
	return false
}

// moves are the events of the records of aliasflow's own writes of an
// alias.
var moves = []audit.Event{audit.TrafficShifted, audit.AliasMoved, audit.PromotionCompleted, audit.PromotionRolledBack}

// OpenDrifts is fn's alias.drifted records, newest first, of the aliases
// aliasflow has not moved since the drift was found: the operator's to
// look at until aliasflow writes that alias again (status lists them).
func (t Trail) OpenDrifts(fn string) Trail {
	moved := map[string]bool{}
	var out Trail
	for _, r := range t {
		switch {
		case r.Function != fn:
		case r.Event == audit.AliasDrifted && !moved[r.Alias]:
			out = append(out, r)
		case contains(moves, r.Event) && r.ToVersion != "":
			moved[r.Alias] = true
		}
	}
	return out
}

// Record is d's alias.drifted record: where the alias is (ToVersion, the
// primary) and where aliasflow left it (FromVersion), and both in full as
// its one change.
func (d Drift) Record() audit.Record {
	was := ""
	if d.Known {
		was = d.Expected.String()
	}
	return audit.Record{Event: audit.AliasDrifted, Function: d.Function, Alias: d.Alias,
		FromVersion: d.Expected.Version, ToVersion: d.Actual.Version, Reason: d.String(),
		Changes: []audit.Change{{Field: d.Alias, From: was, To: d.Actual.String()}}}
}
