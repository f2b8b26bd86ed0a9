// Package wait holds the one real wait that handlers and the CLI default
// to when no Sleep is injected: tests inject their own and never wait on the
// wall clock.
package wait

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends, in which case it returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
