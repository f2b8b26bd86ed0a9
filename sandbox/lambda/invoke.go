package lambdasvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

// target is everything one invocation needs, resolved under the lock so the
// run itself holds none.
type target struct {
	name      string
	version   string // executed version: $LATEST or N
	resource  string // name, or name:qualifier
	arn       string // the ARN the caller invoked (Lambda-Runtime-Invoked-Function-Arn)
	config    FunctionConfiguration
	codeKey   string
	poolLabel string // identifies the code+configuration a warm process runs
	// provisioned: one of the version's provisioned environments serves
	// the invocation (provisioned.go).
	provisioned bool
}

// resolveTarget picks the version an invocation runs, routing a weighted
// alias by its weights.
func (s *Service) resolveTarget(function, qualifier string) (target, error) {
	name, q, err := resolveName(function, qualifier)
	if err != nil {
		return target{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.lookup(name)
	if err != nil {
		return target{}, err
	}
	t := target{name: name, resource: name, arn: core.FunctionARN(name, q)}
	if q != "" && q != latest {
		t.resource = name + ":" + q
	}
	ver := q
	if a, ok := f.Aliases[q]; ok {
		ver = a.FunctionVersion
		if a.RoutingConfig != nil {
			for extra, w := range a.RoutingConfig.AdditionalVersionWeights {
				if s.opts.Rand() < w {
					ver = extra
				}
			}
		}
	}
	v, err := f.versionOf(name, ver)
	if err != nil {
		return target{}, err
	}
	now := s.opts.Clock()
	if v.busy(now) && v.Creating {
		return target{}, pending()
	}
	t.version = v.Config.Version
	t.config = v.view(now)
	t.codeKey = v.CodeKey
	t.poolLabel = v.Config.Version + "@" + v.Config.RevisionId
	return t, nil
}

// Invoke runs a function synchronously (InvocationType RequestResponse).
// API errors are *core.APIError; a function error is a result with
// FunctionError "Unhandled".
func (s *Service) Invoke(ctx context.Context, function, qualifier string, payload []byte) (core.InvokeResult, error) {
	r, _, err := s.invoke(ctx, function, qualifier, payload)
	return r, err
}

// InvokeAsync queues an event invocation (InvocationType Event): it returns
// at once, and a function error is retried twice as Lambda does.
func (s *Service) InvokeAsync(function, qualifier string, payload []byte) error {
	if _, err := s.resolveTarget(function, qualifier); err != nil {
		return err
	}
	go func() {
		queued, throttles := s.opts.Clock(), 0
		for attempt := 0; attempt < 3; attempt++ {
			r, _, err := s.invoke(context.Background(), function, qualifier, payload)
			if err == nil && r.FunctionError == "" {
				return
			}
			if Throttled(err) {
				// Back on the queue; not one of the two retries.
				wait, ok := AsyncRetry(throttles, s.opts.Clock().Sub(queued))
				if !ok {
					s.log.Warn("async invocation dropped: throttled for 6 hours", "function", function, "qualifier", qualifier)
					return
				}
				throttles++
				attempt--
				time.Sleep(wait)
				continue
			}
			s.log.Warn("async invocation failed", "function", function, "qualifier", qualifier, "attempt", attempt+1, "error", err, "payload", string(r.Payload))
		}
	}()
	return nil
}

// PutFunctionConcurrency sets a function's reserved concurrency: at most
// reserved of its invocations run at once, and one more is throttled
// (PutFunctionConcurrency, Lambda API reference; "Configuring reserved
// concurrency for a function",
// https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
func (s *Service) PutFunctionConcurrency(function string, reserved int) error {
	if reserved < 0 {
		return invalid("ReservedConcurrentExecutions must be at least 0, got %d", reserved)
	}
	name, _, err := resolveName(function, "")
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.lookup(name)
	if err != nil {
		return err
	}
	f.Reserved = &reserved
	return nil
}

// ErrThrottled is the code of an invocation refused for want of
// concurrency: TooManyRequestsException, HTTP 429 (Invoke, Lambda API
// reference; its Reason ReservedFunctionConcurrentInvocationLimitExceeded).
const ErrThrottled = "TooManyRequestsException"

// admit counts an invocation of function against its reserved concurrency
// and returns what ends it, or the throttle when all of it is in use.
func (s *Service) admit(function string) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.lookup(function)
	if err != nil {
		return nil, err
	}
	if f.Reserved != nil && f.running >= *f.Reserved {
		return nil, core.Errorf(ErrThrottled, http.StatusTooManyRequests,
			"Rate Exceeded. (Reason: ReservedFunctionConcurrentInvocationLimitExceeded: %s has %d reserved concurrency, all in use)", function, *f.Reserved)
	}
	f.running++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		f.running--
	}, nil
}

// Throttled reports whether err is an invocation throttled for want of
// concurrency, which an asynchronous invocation puts back on its queue.
func Throttled(err error) bool {
	var ae *core.APIError
	return errors.As(err, &ae) && ae.Code == ErrThrottled
}

// AsyncRetry is when a throttled asynchronous invocation is tried again:
// "For throttling errors (429) and system errors (500-series), Lambda
// returns the event to the queue and attempts to run the function again
// for up to 6 hours by default. The retry interval increases exponentially
// from 1 second after the first attempt to a maximum of 5 minutes" ("How
// Lambda handles errors and retries with asynchronous invocation",
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
// It returns the wait after the n-th throttle (n from 0), false once the
// event, queued at age 0, would be older than the 6 hours.
func AsyncRetry(n int, age time.Duration) (time.Duration, bool) {
	const maxWait, maxAge = 5 * time.Minute, 6 * time.Hour
	wait := maxWait
	if n < 9 { // 2^9 s > 5 min
		wait = min(time.Duration(1<<n)*time.Second, maxWait)
	}
	return wait, age+wait <= maxAge
}

// invoke runs one invocation and returns it with its log tail.
func (s *Service) invoke(ctx context.Context, function, qualifier string, payload []byte) (core.InvokeResult, string, error) {
	if len(payload) > maxPayloadBytes {
		return core.InvokeResult{}, "", core.Errorf("RequestTooLargeException", http.StatusRequestEntityTooLarge, "Request must be smaller than %d bytes for the Invoke operation", maxPayloadBytes)
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		return core.InvokeResult{}, "", core.Errorf("InvalidRequestContentException", http.StatusBadRequest, "Could not parse request body into json: the payload is not valid JSON")
	}
	t, err := s.resolveTarget(function, qualifier)
	if err != nil {
		return core.InvokeResult{}, "", err
	}
	done, err := s.admit(t.name)
	if err != nil {
		return core.InvokeResult{}, "", err
	}
	defer done()
	var free func()
	t.provisioned, free = s.takeProvisioned(t.name, t.version)
	defer free()
	start := s.opts.Clock()
	out := s.rt.run(ctx, t, payload)
	duration := s.opts.Clock().Sub(start)
	if out.ctxErr != nil {
		return core.InvokeResult{}, "", out.ctxErr
	}
	res := core.InvokeResult{Payload: out.payload, ExecutedVersion: t.version}
	if out.failed {
		res.FunctionError = "Unhandled"
	}
	if s.opts.Invocations != nil {
		s.opts.Invocations.RecordInvocation(t.name, t.resource, t.version, out.failed, duration, start)
	}
	return res, out.tail, nil
}

// errorPayload is the body Lambda returns for errors raised outside the
// function's own code (timeouts, crashes).
func errorPayload(errorType, format string, args ...any) []byte {
	b, _ := json.Marshal(map[string]string{"errorType": errorType, "errorMessage": fmt.Sprintf(format, args...)})
	return b
}

func timeoutPayload(requestID string, timeout time.Duration) []byte {
	return errorPayload("Sandbox.Timedout", "RequestId: %s Error: Task timed out after %.2f seconds", requestID, timeout.Seconds())
}

// normalizeError makes a runtime's /error body the payload Lambda returns:
// a JSON object with errorType and errorMessage.
func normalizeError(body []byte, headerType string) []byte {
	var m map[string]any
	if json.Unmarshal(body, &m) == nil && m != nil {
		if _, ok := m["errorType"]; !ok && headerType != "" {
			m["errorType"] = headerType
		}
		b, _ := json.Marshal(m)
		return b
	}
	if headerType == "" {
		headerType = "Runtime.Unknown"
	}
	return errorPayload(headerType, "%s", strings.TrimSpace(string(body)))
}
