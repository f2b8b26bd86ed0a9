package sandbox

import (
	"net/http"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	stssvc "github.com/aliasflow/aliasflow/sandbox/sts"
)

// Call is one AWS API call the sandbox answered, attributed to its caller.
// The sandbox starts each function process with its function's name as
// AWS_ACCESS_KEY_ID (each Lambda has its own identity on AWS too), so the
// calls a pipeline Lambda makes carry that name as Caller.
type Call struct {
	// Caller is the access key id of the request's SigV4 credential.
	Caller string
	// Service is the credential scope's service (lambda, states, events,
	// logs, secretsmanager, sns, sts, monitoring, codebuild, ssm).
	Service string
	// Operation is the API operation ("PublishVersion", "StartExecution"),
	// or "METHOD path" when the request names none the sandbox knows.
	Operation string
	// Path is the request path; for Lambda's REST operations it names the
	// function and alias (/2015-03-31/functions/hello/aliases/stg).
	Path string
	// Status is the HTTP status of the answer.
	Status int
	// At is when the answer was complete, on the sandbox's clock.
	At time.Time
	// Arrived is when the request arrived, on the sandbox's clock: what a
	// caller's pacing bounds (an answer's latency moves At, not Arrived).
	Arrived time.Time
}

// maxCalls bounds the call log: a long-running `aliasflow local` keeps the
// most recent calls, not all of them.
const maxCalls = 50000

// callLog keeps the calls answered, oldest first.
type callLog struct {
	mu    sync.Mutex
	calls []Call
}

func (l *callLog) add(c Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.calls) >= maxCalls {
		// Drop the oldest tenth at once so appends stay amortized O(1).
		l.calls = append(l.calls[:0], l.calls[maxCalls/10:]...)
	}
	l.calls = append(l.calls, c)
}

// Calls returns the AWS API calls answered since Start or the last
// ResetCalls (at most the latest 50,000), oldest first.
func (sb *Sandbox) Calls() []Call {
	sb.calls.mu.Lock()
	defer sb.calls.mu.Unlock()
	return append([]Call(nil), sb.calls.calls...)
}

// ResetCalls forgets the calls recorded so far.
func (sb *Sandbox) ResetCalls() {
	sb.calls.mu.Lock()
	defer sb.calls.mu.Unlock()
	sb.calls.calls = nil
}

// serveCounted serves a signed request with its service's handler and
// records the call. The request is read once, against AWS's model of its
// service (model.Models.Attach); IAM evaluation, validation, the quota and
// the service all take that reading from the request's context.
func (sb *Sandbox) serveCounted(w http.ResponseWriter, r *http.Request, service string, h http.Handler) {
	arrived := sb.opts.Clock()
	rec := &statusRecorder{ResponseWriter: w}
	r, req, err := sb.models.Attach(r, service)
	op := r.Method + " " + r.URL.Path
	if req != nil {
		op = req.OperationName
	}
	switch {
	case req == nil:
		writeAuthError(rec, http.StatusInternalServerError, "InternalFailure", err.Error())
	// The caller's identity is checked first, then the request against
	// AWS's model of its operation, then the request quota it draws on.
	case sb.authorize(rec, r, service, req) && sb.validate(rec, req) && sb.withinQuota(rec, r, service, op):
		h.ServeHTTP(rec, r.WithContext(core.WithCaller(r.Context(), sb.caller(r))))
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	sb.calls.add(Call{Caller: stssvc.AccessKeyID(r), Service: service, Operation: op, Path: r.URL.Path, Status: rec.status, At: sb.opts.Clock(), Arrived: arrived})
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes flushes through, for handlers that stream.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
