package sandboxtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/model"
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

	mu        sync.Mutex
	calls     []string
	succeeded map[string]int // by operation: Client's calls answered without error
	before    map[string][]func()
	deploys   int
	code      map[string]Handler // by function name: in-process code
	fails     failQueue
}

// NewLambda serves an empty sandbox Lambda until the test ends; opts
// change the service's Options (WorkDir is the test's).
func NewLambda(t testing.TB, opts ...func(*lambdasvc.Options)) *Lambda {
	t.Helper()
	o := lambdasvc.Options{WorkDir: t.TempDir()}
	for _, f := range opts {
		f(&o)
	}
	svc, err := lambdasvc.New(o)
	if err != nil {
		t.Fatalf("sandboxtest: lambda: %v", err)
	}
	t.Cleanup(svc.Close)
	l := &Lambda{Service: svc, before: map[string][]func(){}, code: map[string]Handler{}, succeeded: map[string]int{}}
	cfg := servicetest.Config(t, "lambda", http.HandlerFunc(l.serve))
	l.Admin = lambda.NewFromConfig(cfg)
	l.Client = lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("sandboxtest.calls", l.observe), middleware.Before)
		})
	})
	return l
}

// Observe is an SDK API option (a client's APIOptions) that reports the
// name of each operation the client calls to seen, before the request goes
// out: one log of calls across several clients, in order.
func Observe(seen func(op string)) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("sandboxtest.observe",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				seen(middleware.GetOperationName(ctx))
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
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
	out, md, err := next.HandleInitialize(ctx, in)
	if err == nil {
		l.mu.Lock()
		l.succeeded[op]++
		l.mu.Unlock()
	}
	return out, md, err
}

// Succeeded is how many of Client's calls of op were answered without an
// error.
func (l *Lambda) Succeeded(op string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.succeeded[op]
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
	return l.DeployCode(t, fn, code(t, fn, n))
}

// DeployCode makes the deployment package zip $LATEST of fn, as a build
// would, and returns its CodeSha256: for a test whose events name the code
// they carry.
func (l *Lambda) DeployCode(t testing.TB, fn string, zip []byte) string {
	t.Helper()
	out, err := l.Admin.UpdateFunctionCode(context.Background(), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(fn), ZipFile: zip})
	if err != nil {
		t.Fatalf("sandboxtest: UpdateFunctionCode %s: %v", fn, err)
	}
	return aws.ToString(out.CodeSha256)
}

// Heal drops the failures Fail queued for op that have not been answered.
func (l *Lambda) Heal(op string) {
	l.fails.clear(op)
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

// ActiveAtOnce makes published versions Active as soon as they are
// published (a nanosecond Pending), for tests that invoke a version they
// have just made and are not about the Pending state.
func ActiveAtOnce(o *lambdasvc.Options) { o.PublishDuration = time.Nanosecond }

// Fail makes the next calls of op, one per error, answer that error as
// Lambda writes one (X-Amzn-ErrorType and {"Type","message"}), whoever
// calls: a throttle or a service fault the SDK decodes as it would AWS's.
func (l *Lambda) Fail(op string, errs ...*core.APIError) {
	l.fails.add(op, errs...)
}

// Code makes h the code of every version of function fn: a synchronous
// Invoke of fn is resolved by the service itself (a missing function,
// alias or version, a Pending version, the version a weighted alias routes
// to) and then answered by h in-process with Call's Function, Qualifier,
// Version and Payload set, instead of by a bootstrap process. Such an
// invoke skips what only a run does: reserved concurrency, the invocation
// metrics (Options.Invocations) and the function's logs.
func (l *Lambda) Code(fn string, h Handler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.code[fn] = h
}

// serve answers a queued failure, runs Code for the invokes it covers, and
// passes everything else to the service.
func (l *Lambda) serve(w http.ResponseWriter, r *http.Request) {
	// Read once against Lambda's model; the service takes this reading.
	r, req, err := model.Attach(r, "lambda")
	if req == nil {
		writeLambdaError(w, core.Errorf("ServiceException", http.StatusInternalServerError, "%v", err))
		return
	}
	op := req.OperationName
	if fail := l.fails.next(op); fail != nil {
		writeLambdaError(w, fail)
		return
	}
	if op == "Invoke" {
		if it := r.Header.Get("X-Amz-Invocation-Type"); it == "" || it == "RequestResponse" {
			fn, qualifier := invokeTarget(req)
			l.mu.Lock()
			h := l.code[fn]
			l.mu.Unlock()
			if h != nil {
				l.invoke(w, r, h, fn, qualifier)
				return
			}
		}
	}
	l.Service.ServeHTTP(w, r)
}

// invokeTarget is the function name (without qualifier or ARN) and the
// qualifier an Invoke request names.
func invokeTarget(req *model.Request) (fn, qualifier string) {
	name, qualifier := req.Str("FunctionName"), req.Str("Qualifier")
	parts := strings.Split(name, ":")
	if strings.HasPrefix(name, "arn:") && len(parts) >= 7 {
		parts = parts[6:]
	}
	if len(parts) > 1 && qualifier == "" {
		qualifier = parts[1]
	}
	return parts[0], qualifier
}

// invoke has the service check the invoke (a DryRun answers exactly the
// errors a real invoke would before it runs anything), picks the version
// as the service routes, and answers with h's result.
func (l *Lambda) invoke(w http.ResponseWriter, r *http.Request, h Handler, fn, qualifier string) {
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		writeLambdaError(w, core.Errorf("InvalidRequestContentException", http.StatusBadRequest, "reading the payload: %v", err))
		return
	}
	dry := r.Clone(r.Context())
	dry.Body = io.NopCloser(strings.NewReader(string(payload)))
	dry.Header.Set("X-Amz-Invocation-Type", "DryRun")
	rec := httptest.NewRecorder()
	l.Service.ServeHTTP(rec, dry)
	if rec.Code != http.StatusNoContent {
		copyResponse(w, rec)
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		writeLambdaError(w, core.Errorf("InvalidRequestContentException", http.StatusBadRequest, "Could not parse request body into json: the payload is not valid JSON"))
		return
	}
	version, err := l.routedVersion(r.Context(), fn, qualifier)
	if err != nil {
		writeLambdaError(w, core.Errorf("ServiceException", http.StatusInternalServerError, "sandboxtest: %v", err))
		return
	}
	res, err := h(r.Context(), Call{Function: fn, Qualifier: qualifier, Version: version, Payload: payload})
	if err != nil {
		var apiErr *core.APIError
		if !errors.As(err, &apiErr) {
			apiErr = core.Errorf("ServiceException", http.StatusInternalServerError, "%v", err)
		}
		writeLambdaError(w, apiErr)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", version)
	if res.FunctionError != "" {
		w.Header().Set("X-Amz-Function-Error", res.FunctionError)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.Payload)
}

// routedVersion is the version an invoke of fn:qualifier runs, routing a
// weighted alias by its weights the way the service does.
func (l *Lambda) routedVersion(ctx context.Context, fn, qualifier string) (string, error) {
	if qualifier == "" || qualifier == "$LATEST" {
		return "$LATEST", nil
	}
	if _, err := strconv.Atoi(qualifier); err == nil {
		return qualifier, nil
	}
	a, err := l.Admin.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(fn), Name: aws.String(qualifier)})
	if err != nil {
		return "", fmt.Errorf("alias %s:%s: %w", fn, qualifier, err)
	}
	version := aws.ToString(a.FunctionVersion)
	if a.RoutingConfig != nil {
		for extra, weight := range a.RoutingConfig.AdditionalVersionWeights {
			if rand.Float64() < weight {
				version = extra
			}
		}
	}
	return version, nil
}

// writeLambdaError writes err as Lambda's restJson1 API does.
func writeLambdaError(w http.ResponseWriter, err *core.APIError) {
	kind := "User"
	if err.Status >= 500 {
		kind = "Service"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", err.Code)
	w.WriteHeader(err.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": kind, "message": err.Message})
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}
