package lambdasvc

import (
	"context"
	"encoding/json"
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
		for attempt := range 3 {
			r, _, err := s.invoke(context.Background(), function, qualifier, payload)
			if err == nil && r.FunctionError == "" {
				return
			}
			s.log.Warn("async invocation failed", "function", function, "qualifier", qualifier, "attempt", attempt+1, "error", err, "payload", string(r.Payload))
		}
	}()
	return nil
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
