package smoke_test

import (
	"net/http"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/shared/fakes/lambdafake"
	"github.com/aliasflow/aliasflow/shared/smoke"
)

var (
	_ smoke.Invoker  = (*lambdafake.Fake)(nil)
	_ smoke.HTTPDoer = (*http.Client)(nil)
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// doerFunc adapts a function to smoke.HTTPDoer.
type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }
