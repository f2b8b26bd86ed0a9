package cli

import (
	"context"
	"errors"
	"time"

	"github.com/aliasflow/aliasflow/shared/ledger"
)

// readAudit returns fn's audit records since the given time, newest first,
// as the ledger reads them from the pipeline's log group.
func (a *app) readAudit(ctx context.Context, fn string, since time.Time) (ledger.Trail, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := a.ledger(c).Read(ctx, ledger.Query{Function: fn, Since: since})
	if errors.Is(err, ledger.ErrNoTrail) {
		return nil, fail(ExitNotFound, "is aliasflow deployed here? pass --log-group, or --endpoint for the sandbox", "audit log group %s not found", a.g.logGroup)
	}
	return recs, err
}

// ledger reads the trail from the pipeline's log group.
func (a *app) ledger(c *Clients) ledger.Ledger {
	return ledger.Ledger{Logs: c.Logs, Group: a.g.logGroup, Now: a.env.Now}
}
