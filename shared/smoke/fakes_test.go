package smoke_test

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/shared/smoke"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

var (
	_ smoke.Invoker  = (*lambda.Client)(nil)
	_ smoke.Invoker  = (*invoker)(nil)
	_ smoke.HTTPDoer = (*http.Client)(nil)
)

// invoker is the handler's Lambda client, keeping what it was asked to
// invoke; each call takes 25ms on the clock, so latency is measurable.
type invoker struct {
	client smoke.Invoker
	clock  *fakeClock

	mu    sync.Mutex
	calls []*lambda.InvokeInput
}

func (i *invoker) Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	i.mu.Lock()
	i.calls = append(i.calls, in)
	i.mu.Unlock()
	i.clock.advance(25 * time.Millisecond)
	return i.client.Invoke(ctx, in, opts...)
}

func (i *invoker) invoked() []*lambda.InvokeInput {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]*lambda.InvokeInput(nil), i.calls...)
}

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
