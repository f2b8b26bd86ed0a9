package e2e

import (
	"bytes"
	"cmp"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/local"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
)

// The world the scenarios run in is the one `aliasflow local` stands up.
type (
	world = local.World
	email = local.Email
)

// startWorld starts a world on a free loopback port with hello's settings
// from hello, keeping its state in stateDir when set. Its diagnostics (and the e-mails) are logged when the test
// fails.
//
// The world's pipeline Lambdas run with the policies of their roles in the
// templates of cdkOut; the IAM decisions are tallied when the world closes.
//
// The reconciler's schedule runs every reconcileEvery; 0 holds it: the
// tests invoke the reconciler as its schedule would, when they choose.
func startWorld(ctx context.Context, t *testing.T, hello func(endpoint string) *config.Target, stateDir, cdkOut string, expectDenials bool, reconcileEvery time.Duration) (*world, error) {
	log := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("world log:\n%s", log.String())
		}
	})
	w, err := local.Start(ctx, local.Options{
		Addr:     "127.0.0.1:0",
		BinDir:   binDir,
		WorkDir:  t.TempDir(),
		StateDir: stateDir,
		Log:      log,
		Hello:    hello,
		// EventBridge retries a failed asynchronous delivery to Lambda
		// twice; keep the waits short so the fault scenarios stay quick.
		EventRetryDelays: []time.Duration{500 * time.Millisecond, time.Second},
		Templates:        cdkOut,
		Schedules:        map[string]time.Duration{deploy.ReconcileSchedule: cmp.Or(reconcileEvery, local.NoSchedule)},
	})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { countIAM(t, w.Sandbox(), expectDenials) })
	// The approvers follow the confirmation links SNS mailed them (a
	// restarted world has them confirmed already).
	if _, err := w.ConfirmSubscriptions(ctx); err != nil {
		_ = w.Close()
		return nil, err
	}
	return w, nil
}

// syncBuffer is a bytes.Buffer safe for the world's concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
