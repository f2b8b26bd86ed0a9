package lambdasvc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestReservedConcurrencyThrottles: with its reserved concurrency in use, a
// synchronous invocation is refused with TooManyRequestsException (429),
// and an asynchronous one goes back to the queue and runs once the
// concurrency is free, as Lambda does ("How Lambda handles errors and
// retries with asynchronous invocation").
func TestReservedConcurrencyThrottles(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create(t, "slow", echoPkg)
	if err := e.svc.PutFunctionConcurrency("slow", 1); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := e.svc.Invoke(ctx, "slow", "", []byte(`{"sleepMs":1500}`))
		first <- err
	}()
	deadline := time.Now().Add(time.Minute)
	for e.svc.Running("slow") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first invocation never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, err := e.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("slow"), Payload: []byte(`{}`)})
	var tooMany *types.TooManyRequestsException
	if !errors.As(err, &tooMany) {
		t.Errorf("a second synchronous invoke: %v, want TooManyRequestsException", err)
	}
	if err := e.svc.InvokeAsync("slow", "", []byte(`{}`)); err != nil {
		t.Fatalf("InvokeAsync: %v", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("the first invoke: %v", err)
	}
	// The queued event runs once the first invocation ended.
	for {
		e.calls.mu.Lock()
		n := len(e.calls.got)
		e.calls.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("invocations recorded = %d, want 2 (the queued event ran)", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := e.svc.Invoke(ctx, "slow", "", []byte(`{}`)); err != nil {
		t.Errorf("an invoke with the concurrency free: %v", err)
	}
}

// TestAsyncRetryOfThrottledEvents: 1 s after the first throttle, doubling
// to at most 5 minutes, for up to 6 hours of the event's age.
func TestAsyncRetryOfThrottledEvents(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		age      time.Duration
		wantWait time.Duration
		wantOK   bool
	}{
		{"first throttle", 0, 0, time.Second, true},
		{"fourth throttle", 3, 10 * time.Second, 8 * time.Second, true},
		{"capped at five minutes", 12, time.Hour, 5 * time.Minute, true},
		{"past six hours", 40, 6*time.Hour - time.Minute, 5 * time.Minute, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wait, ok := lambdasvc.AsyncRetry(tc.n, tc.age)
			if wait != tc.wantWait || ok != tc.wantOK {
				t.Errorf("AsyncRetry(%d, %s) = %s, %v; want %s, %v", tc.n, tc.age, wait, ok, tc.wantWait, tc.wantOK)
			}
		})
	}
}
