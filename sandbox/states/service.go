// Package states is the sandbox's AWS Step Functions: the awsJson1_0 API the
// project calls (state machines, executions, history, task tokens) and an
// interpreter that runs Standard workflows written in the Amazon States
// Language (JSONPath), calling Lambda through a core.Invoker.
//
// Executions run in goroutines and wait on an injectable clock, so tests
// drive timeouts, waits and retry backoff without sleeping. Snapshot and
// Restore persist state machines and executions, history included; a
// restored RUNNING execution resumes where it was: a task waiting for its
// token keeps the token and the remaining timeout, a Wait or a retry backoff
// keeps its end time, and a task whose Lambda call was in flight when the
// snapshot was taken is run again (new TaskScheduled event and, for a
// callback task, a new token), because the sandbox cannot know whether that
// call finished.
package states

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/states/asl"
)

// Options configure a Service. Nil fields take the real clock, timers,
// randomness and a discarding logger.
type Options struct {
	// Now is the clock.
	Now func() time.Time
	// AfterFunc runs f once d has passed on the clock Now reads, and returns
	// a function that cancels it (as time.AfterFunc's Timer.Stop). Tests
	// pass a fake clock's so that waits and timeouts need no sleeping.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// Random returns a number in [0,1): the FULL retry jitter.
	Random func() float64
	// Logger receives the service's records (requests refused, executions
	// started, stopped, failed).
	Logger *slog.Logger
}

// Service is the Step Functions service: an http.Handler for the API and a
// core.ExecutionStarter for EventBridge targets.
type Service struct {
	invoker   core.Invoker
	now       func() time.Time
	afterFunc func(time.Duration, func()) func() bool
	random    func() float64
	log       *slog.Logger
	api       map[string]core.JSONOp // the HTTP API's operations (ServeHTTP)

	mu         sync.Mutex
	authorize  InvokeAuthorizer
	machines   map[string]*stateMachine
	executions map[string]*execution
	tokens     map[string]*taskToken
	version    uint64
	seq        int64 // the last execution's Seq
	changed    chan struct{}
	closed     bool
	wg         sync.WaitGroup
}

var (
	_ core.ExecutionStarter = (*Service)(nil)
	_ http.Handler          = (*Service)(nil)
)

// New returns an empty service that invokes Lambda functions through invoker.
func New(invoker core.Invoker, opts *Options) *Service {
	if opts == nil {
		opts = &Options{}
	}
	s := &Service{
		invoker:    invoker,
		now:        opts.Now,
		afterFunc:  opts.AfterFunc,
		random:     opts.Random,
		log:        opts.Logger,
		machines:   map[string]*stateMachine{},
		executions: map[string]*execution{},
		tokens:     map[string]*taskToken{},
		changed:    make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.afterFunc == nil {
		s.afterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	if s.random == nil {
		s.random = rand.Float64
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.api = s.jsonOps()
	return s
}

// InvokeAuthorizer decides, before a Task state invokes Lambda, whether
// the state machine's execution role may: machine is the state machine's
// name, role its RoleArn, function and qualifier the function as the task
// names it. A non-nil error denies the call; its text is the message of
// Lambda's AccessDeniedException.
type InvokeAuthorizer func(machine, role, function, qualifier string) error

// SetInvokeAuthorizer makes every Lambda call of a Task state ask f first;
// nil (the default) allows every call.
func (s *Service) SetInvokeAuthorizer(f InvokeAuthorizer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorize = f
}

// Close stops every running execution's goroutine (the executions stay
// RUNNING, as a snapshot taken afterwards records them) and waits for them.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	for _, e := range s.executions {
		if e.cancel != nil {
			e.cancel()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Version increases on every change of the service's state, so that a
// caller persisting snapshots can tell whether one is due.
func (s *Service) Version() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// touch records a change; the caller holds s.mu.
func (s *Service) touch() {
	s.version++
	close(s.changed)
	s.changed = make(chan struct{})
}

// changes returns a channel closed at the next change.
func (s *Service) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

type stateMachine struct {
	ARN        string    `json:"arn"`
	Name       string    `json:"name"`
	Definition string    `json:"definition"`
	RoleARN    string    `json:"roleArn"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated,omitzero"`
	RevisionID string    `json:"revisionId"`
	def        *asl.Definition
}

// Execution statuses.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

type execution struct {
	ARN             string    `json:"arn"`
	Name            string    `json:"name"`
	StateMachineARN string    `json:"stateMachineArn"`
	Machine         string    `json:"stateMachineName"`
	RoleARN         string    `json:"roleArn"`
	Definition      string    `json:"definition"`
	Input           string    `json:"input"`
	Status          string    `json:"status"`
	Output          *string   `json:"output,omitempty"`
	Error           *string   `json:"error,omitempty"`
	Cause           *string   `json:"cause,omitempty"`
	Start           time.Time `json:"start"`
	// Seq orders executions started at the same instant (newest first).
	Seq         int64          `json:"seq"`
	Stop        time.Time      `json:"stop,omitzero"`
	Events      []HistoryEvent `json:"events"`
	Transitions int            `json:"transitions"`
	Cursor      *cursor        `json:"cursor,omitempty"`

	def         *asl.Definition
	ctx         context.Context
	cancel      context.CancelFunc
	wake        chan struct{}
	stopTimeout func() bool
}

// Task phases recorded in the cursor.
const (
	phaseAttempt = ""        // about to schedule (or re-run) the task
	phaseRunning = "running" // the Lambda call is in flight
	phaseWaiting = "waiting" // the call returned; waiting for the token
	phaseBackoff = "backoff" // waiting before a retry
)

// cursor is where a running execution is: everything needed to resume it.
type cursor struct {
	State       string    `json:"state"`
	Input       string    `json:"input"`
	Entered     bool      `json:"entered"`
	EnteredTime time.Time `json:"enteredTime,omitzero"`
	Retries     []int     `json:"retries,omitempty"`
	RetryCount  int       `json:"retryCount"`
	Phase       string    `json:"phase,omitempty"`
	WakeAt      time.Time `json:"wakeAt,omitzero"`
	Token       string    `json:"token,omitempty"`
	TimeoutAt   time.Time `json:"timeoutAt,omitzero"`
	HeartbeatAt time.Time `json:"heartbeatAt,omitzero"`
	Heartbeat   int       `json:"heartbeat,omitempty"`
}

// taskToken is a callback task's token: open until the task closes.
type taskToken struct {
	Execution string       `json:"execution"`
	Open      bool         `json:"open"`
	result    *tokenResult // set by SendTaskSuccess / SendTaskFailure
}

type tokenResult struct {
	output string
	err    *asl.Error
}

// add appends an event to the history; the caller holds s.mu.
func (s *Service) add(e *execution, ev HistoryEvent) {
	if e.Status != StatusRunning {
		return // a closed execution's history is complete
	}
	if !closing(ev.Type) && len(e.Events)+1 >= maxHistoryEvents {
		// The event would leave no room for the closing one: the execution
		// fails instead, its ExecutionFailed the last of 25,000 events.
		err := &asl.Error{Name: asl.ErrRuntime, Cause: fmt.Sprintf("The execution reached the maximum number of history events (%d).", maxHistoryEvents)}
		s.add(e, HistoryEvent{Type: EventExecutionFailed, ExecutionFailedEventDetails: &FailureDetails{Error: err.Name, Cause: err.Cause}})
		s.finish(e, StatusFailed, nil, err)
		s.log.Info("states: execution failed", "executionArn", e.ARN, "error", err.Name, "cause", err.Cause)
		return
	}
	ev.ID = int64(len(e.Events) + 1)
	ev.PreviousEventID = ev.ID - 1
	ev.Timestamp = Epoch(s.now().UTC())
	e.Events = append(e.Events, ev)
	s.touch()
}

// maxHistoryEvents is Step Functions' quota on one Standard execution's
// history: "Maximum execution history size: 25,000 events in a single
// state machine execution history. If the execution history reaches this
// quota, the execution fails." (Step Functions service quotas,
// https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
const maxHistoryEvents = 25000

// closing reports whether an event type closes an execution.
func closing(eventType string) bool {
	switch eventType {
	case EventExecutionSucceeded, EventExecutionFailed, EventExecutionAborted, EventExecutionTimedOut:
		return true
	}
	return false
}

func machineARN(name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", core.Region, core.Account, name)
}

func executionARN(machine, name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", core.Region, core.Account, machine, name)
}

// newUUID returns a random RFC 4122 version 4 UUID: the name of an
// execution started without one.
func newUUID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// CreateStateMachine creates (or, with the same definition, returns) a
// Standard state machine: the Go API the sandbox's setup uses.
func (s *Service) CreateStateMachine(name, definition, roleARN string) (string, error) {
	arn, _, err := s.createStateMachine(name, definition, roleARN)
	if err != nil {
		return "", err
	}
	return arn, nil
}

// StartExecution starts an execution (core.ExecutionStarter); an empty name
// gets a UUID.
func (s *Service) StartExecution(_ context.Context, stateMachineARN, name, input string) (string, error) {
	arn, _, err := s.startExecution(stateMachineARN, name, input)
	return arn, err
}

// Transitions is the number of state transitions an execution has made,
// counted as Standard workflows are billed: one per state entered plus one
// per retry.
func (s *Service) Transitions(executionARN string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookupExecution(executionARN)
	if err != nil {
		return 0, err
	}
	return e.Transitions, nil
}

// History returns a copy of an execution's events, oldest first.
func (s *Service) History(executionARN string) ([]HistoryEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookupExecution(executionARN)
	if err != nil {
		return nil, err
	}
	return append([]HistoryEvent(nil), e.Events...), nil
}

// ExecutionStatus returns an execution's status.
func (s *Service) ExecutionStatus(executionARN string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookupExecution(executionARN)
	if err != nil {
		return "", err
	}
	return e.Status, nil
}

// sortedExecutions returns the executions of a machine, newest first.
func (s *Service) sortedExecutions(machine string) []*execution {
	var out []*execution
	for _, e := range s.executions {
		if e.StateMachineARN == machine {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.After(out[j].Start)
		}
		return out[i].Seq > out[j].Seq
	})
	return out
}
