package sandboxtest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go/middleware"
)

// Lambda is the sandbox's Lambda (sandbox/lambda) served in-process.
type Lambda struct {
	// Client is the client for the code under test: Count sees its calls,
	// and Before runs other writers' changes in between them.
	Client *lambda.Client
	// Admin is the test's own client, for setting the world up or
	// changing it as another party would; its calls are not counted.
	Admin *lambda.Client
	// Service is the service itself (Faults: throttles, crashes).
	Service *lambdasvc.Service

	mu      sync.Mutex
	calls   []string
	before  map[string][]func()
	deploys int
}

// NewLambda serves an empty sandbox Lambda until the test ends.
func NewLambda(t testing.TB) *Lambda {
	t.Helper()
	svc, err := lambdasvc.New(lambdasvc.Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatalf("sandboxtest: lambda: %v", err)
	}
	t.Cleanup(svc.Close)
	l := &Lambda{Service: svc, before: map[string][]func(){}}
	cfg := servicetest.Config(t, "lambda", svc)
	l.Admin = lambda.NewFromConfig(cfg)
	l.Client = lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("sandboxtest.calls", l.observe), middleware.Before)
		})
	})
	return l
}

// observe records the operation and runs the first function Before queued
// for it, before the request goes out.
func (l *Lambda) observe(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	op := middleware.GetOperationName(ctx)
	l.mu.Lock()
	l.calls = append(l.calls, op)
	var run func()
	if q := l.before[op]; len(q) > 0 {
		run, l.before[op] = q[0], q[1:]
	}
	l.mu.Unlock()
	if run != nil {
		run()
	}
	return next.HandleInitialize(ctx, in)
}

// Before queues functions run, one per call, before the next calls of op
// that Client makes: another writer acting between a read and a write.
func (l *Lambda) Before(op string, fns ...func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.before[op] = append(l.before[op], fns...)
}

// Count is how many times Client called op.
func (l *Lambda) Count(op string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.calls {
		if c == op {
			n++
		}
	}
	return n
}

// Calls lists the operations Client called, in order.
func (l *Lambda) Calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// AddFunction creates function name and publishes versions 1…published,
// each from other code, and returns the CodeSha256 of $LATEST (the last
// version's).
func (l *Lambda) AddFunction(t testing.TB, name string, published int) string {
	t.Helper()
	ctx := context.Background()
	out, err := l.Admin.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: ltypes.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Role: aws.String("arn:aws:iam::000000000000:role/" + name), Code: &ltypes.FunctionCode{ZipFile: code(t, name, 0)}})
	if err != nil {
		t.Fatalf("sandboxtest: CreateFunction %s: %v", name, err)
	}
	sha := aws.ToString(out.CodeSha256)
	for n := 1; n <= published; n++ {
		if n > 1 {
			u, err := l.Admin.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: code(t, name, n)})
			if err != nil {
				t.Fatalf("sandboxtest: UpdateFunctionCode %s: %v", name, err)
			}
			sha = aws.ToString(u.CodeSha256)
		}
		if _, err := l.Admin.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name)}); err != nil {
			t.Fatalf("sandboxtest: PublishVersion %s: %v", name, err)
		}
	}
	return sha
}

// Deploy makes new code $LATEST of fn, as a build would, and returns its
// CodeSha256.
func (l *Lambda) Deploy(t testing.TB, fn string) string {
	t.Helper()
	l.mu.Lock()
	l.deploys++
	n := 1000 + l.deploys
	l.mu.Unlock()
	out, err := l.Admin.UpdateFunctionCode(context.Background(), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(fn), ZipFile: code(t, fn, n)})
	if err != nil {
		t.Fatalf("sandboxtest: UpdateFunctionCode %s: %v", fn, err)
	}
	return aws.ToString(out.CodeSha256)
}

// code is a deployment package whose bootstrap names the function and n:
// the sandbox stores code by hash, so each n is another deployment.
func code(t testing.TB, name string, n int) []byte {
	t.Helper()
	b, err := lambdasvc.ZipBootstrap([]byte("#!/bin/sh\necho " + name + " " + strconv.Itoa(n) + "\n"))
	if err != nil {
		t.Fatalf("sandboxtest: zip: %v", err)
	}
	return b
}

// SetAlias points alias name of fn at version (weights as its routing),
// creating it if need be, as another party would.
func (l *Lambda) SetAlias(t testing.TB, fn, name, version string, weights map[string]float64) {
	t.Helper()
	ctx := context.Background()
	var routing *ltypes.AliasRoutingConfiguration
	if weights != nil {
		routing = &ltypes.AliasRoutingConfiguration{AdditionalVersionWeights: weights}
	}
	_, err := l.Admin.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(fn), Name: aws.String(name), FunctionVersion: aws.String(version),
		RoutingConfig: orEmpty(routing)})
	var missing *ltypes.ResourceNotFoundException
	if errors.As(err, &missing) {
		_, err = l.Admin.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(fn), Name: aws.String(name), FunctionVersion: aws.String(version),
			RoutingConfig: routing})
	}
	if err != nil {
		t.Fatalf("sandboxtest: set alias %s:%s to %s: %v", fn, name, version, err)
	}
}

// orEmpty is routing, or an empty routing that clears the alias's (an
// absent RoutingConfig keeps it, API_UpdateAlias).
func orEmpty(r *ltypes.AliasRoutingConfiguration) *ltypes.AliasRoutingConfiguration {
	if r == nil {
		return &ltypes.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}}
	}
	return r
}

// Alias reads alias name of fn; ok is false when it does not exist.
func (l *Lambda) Alias(t testing.TB, fn, name string) (a *lambda.GetAliasOutput, ok bool) {
	t.Helper()
	out, err := l.Admin.GetAlias(context.Background(), &lambda.GetAliasInput{FunctionName: aws.String(fn), Name: aws.String(name)})
	var missing *ltypes.ResourceNotFoundException
	if errors.As(err, &missing) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("sandboxtest: GetAlias %s:%s: %v", fn, name, err)
	}
	return out, true
}
