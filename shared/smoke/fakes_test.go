package smoke_test

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/shared/smoke"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

var (
	_ smoke.Invoker  = (*fakeLambda)(nil)
	_ smoke.HTTPDoer = (*http.Client)(nil)
)

// answer is what a version returns to an invoke: its payload and, for a
// function error, the X-Amz-Function-Error value.
type answer struct {
	payload       []byte
	functionError string
}

// fakeLambda serves invokes of a function's aliases by the version each
// alias points at, as Lambda does; errs queues API errors returned before
// an invoke runs (throttling, timeouts).
type fakeLambda struct {
	mu       sync.Mutex
	function string
	aliases  map[string]string
	versions map[string]answer
	errs     []error
	calls    []*lambda.InvokeInput
	// tick advances the clock per invoke, so latency is measurable.
	clock *fakeClock
	tick  time.Duration
}

func (f *fakeLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	if f.clock != nil {
		f.clock.advance(f.tick)
	}
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	if aws.ToString(in.FunctionName) != f.function {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Function not found: " + aws.ToString(in.FunctionName))}
	}
	q := aws.ToString(in.Qualifier)
	v, ok := f.aliases[q]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Function not found: " + f.function + ":" + q)}
	}
	a := f.versions[v]
	out := &lambda.InvokeOutput{StatusCode: 200, ExecutedVersion: aws.String(v), Payload: a.payload}
	if a.functionError != "" {
		out.FunctionError = aws.String(a.functionError)
	}
	return out, nil
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
