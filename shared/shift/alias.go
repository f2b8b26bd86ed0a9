package shift

import (
	"context"

	"github.com/aliasflow/aliasflow/shared/alias"
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
