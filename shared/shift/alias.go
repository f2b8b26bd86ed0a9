package shift

import (
	"context"
	"encoding/json"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// getAlias reads an alias; a missing alias is not an error.
func (h *Handler) getAlias(ctx context.Context, fn, name string) (alias.Alias, error) {
	return alias.Get(ctx, h.lambda, fn, name)
}

// moveAlias moves an alias as decide says, with alias.Mover's bounded
// read-decide-write. It returns the alias before the change and whether it
// changed.
func (h *Handler) moveAlias(ctx context.Context, fn, name string, decide alias.Plan) (before alias.Alias, changed bool, err error) {
	m, err := alias.Mover{Lambda: h.lambda, Log: h.log}.Move(ctx, fn, name, decide)
	return m.Before, m.Changed, err
}

// moveProd moves prod as decide says. When the promotion knows prod as it
// left it (prodAsLeft), it writes from that with its RevisionId as the
// precondition, reading nothing; Lambda's PreconditionFailedException
// (prod changed since) makes alias.Mover read prod once and decide again,
// so a drift takes decide's own path. Otherwise it reads prod first.
func (t *task) moveProd(ctx context.Context, decide alias.Plan) (alias.Moved, error) {
	m := alias.Mover{Lambda: t.lambda, Log: t.log}
	if cur, ok := t.prodAsLeft(); ok {
		return m.MoveFrom(ctx, t.p.Function, promotion.AliasProd, cur, decide)
	}
	return m.Move(ctx, t.p.Function, promotion.AliasProd, decide)
}

// prodSeen is Shift.Prod: prod's routing and RevisionId when last read or
// written by this promotion.
type prodSeen struct {
	Version  string             `json:"version"`
	Weights  map[string]float64 `json:"weights,omitempty"`
	Revision string             `json:"revision"`
}

// encodeProd is Shift.Prod for a, "" when a does not exist.
func encodeProd(a alias.Alias) string {
	if !a.Exists || a.Revision == "" {
		return ""
	}
	b, err := json.Marshal(prodSeen{Version: a.Version, Weights: a.Weights, Revision: a.Revision})
	if err != nil {
		return "" // the next move reads prod
	}
	return string(b)
}

// prodAsLeft is prod as the execution's state says this promotion left it
// (Shift.Prod), when that is where the definition's order puts prod now:
// on the stable version, with the new version at the weight of the step
// before Shift.Step (none before the first) — begin, then set-weight and
// check-health per step, then finalize, and only set-weight writes prod in
// between. False otherwise (unknown, or a state that did not keep the last
// write): the move reads prod.
func (t *task) prodAsLeft() (alias.Alias, bool) {
	s := t.p.Shift
	if s == nil || s.Prod == "" || s.StableVersion == "" || s.Step < 0 || s.Step > len(t.p.Steps) {
		return alias.Alias{}, false
	}
	var seen prodSeen
	if err := json.Unmarshal([]byte(s.Prod), &seen); err != nil || seen.Revision == "" {
		return alias.Alias{}, false
	}
	want := alias.Alias{Exists: true, Version: s.StableVersion}
	if s.Step > 0 && s.StableVersion != t.p.Version {
		want.Weights = map[string]float64{t.p.Version: t.p.Steps[s.Step-1].Weight}
	}
	got := alias.Alias{Exists: true, Version: seen.Version, Weights: seen.Weights, Revision: seen.Revision}
	if !got.Same(want) {
		return alias.Alias{}, false
	}
	return got, true
}
