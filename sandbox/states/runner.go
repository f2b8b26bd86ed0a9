package states

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/states/asl"
)

// timestampLayout is how the context object and the Lambda integration
// render times (ISO 8601 with milliseconds, UTC), as Step Functions does.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// launch starts the goroutine of a RUNNING execution and its execution
// timeout; the caller holds s.mu.
func (s *Service) launch(e *execution) {
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.wake = make(chan struct{}, 1)
	if t := e.def.TimeoutSeconds; t > 0 {
		d := max(e.Start.Add(time.Duration(t)*time.Second).Sub(s.now()), 0)
		e.stopTimeout = s.afterFunc(d, func() { s.timeOut(e) })
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(e)
	}()
}

// timeOut ends an execution that ran past the definition's TimeoutSeconds.
func (s *Service) timeOut(e *execution) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Status != StatusRunning || e.ctx.Err() != nil {
		return
	}
	err := &asl.Error{Name: asl.ErrTimeout, Cause: "The execution ran longer than the state machine's TimeoutSeconds."}
	s.add(e, HistoryEvent{Type: EventExecutionTimedOut, ExecutionTimedOutEventDetails: &FailureDetails{Error: err.Name, Cause: err.Cause}})
	s.finish(e, StatusTimedOut, nil, err)
}

// finish closes an execution; the caller holds s.mu and has recorded the
// closing event. The open task token, if any, closes with it, so a late
// SendTaskSuccess gets TaskTimedOut.
func (s *Service) finish(e *execution, status string, output *string, err *asl.Error) {
	if e.Status != StatusRunning {
		return // already closed (the history limit closes an execution mid-step)
	}
	e.Status = status
	e.Stop = s.now().UTC()
	e.Output = output
	if err != nil && err.Name != "" {
		e.Error = &err.Name
	}
	if err != nil && err.Cause != "" {
		e.Cause = &err.Cause
	}
	if c := e.Cursor; c != nil && c.Token != "" {
		if t := s.tokens[c.Token]; t != nil {
			t.Open = false
		}
	}
	e.Cursor = nil
	if e.cancel != nil {
		e.cancel()
	}
	if e.stopTimeout != nil {
		e.stopTimeout()
	}
	s.touch()
}

// running reports whether the execution's goroutine should go on; the
// caller holds s.mu.
func running(e *execution) bool { return e.Status == StatusRunning && e.ctx.Err() == nil }

// run interprets an execution until it closes or the service stops.
func (s *Service) run(e *execution) {
	for {
		s.mu.Lock()
		if !running(e) {
			s.mu.Unlock()
			return
		}
		c := e.Cursor
		st := e.def.States[c.State]
		if !c.Entered {
			c.Entered = true
			c.EnteredTime = s.now().UTC()
			c.Retries = make([]int, len(st.Retry))
			e.Transitions++
			in, det := data(c.Input)
			s.add(e, HistoryEvent{Type: string(st.Type) + "StateEntered", StateEnteredEventDetails: &InputDetails{Name: st.Name, Input: in, InputDetails: det}})
		}
		s.mu.Unlock()

		// The cursor's State and Input never change once it is created, so
		// they are read without the lock.
		raw, err := asl.Decode([]byte(c.Input))
		if err != nil {
			s.failExecution(e, &asl.Error{Name: asl.ErrRuntime, Cause: "the state input is not JSON: " + err.Error()})
			return
		}
		var fail *asl.Error
		switch st.Type {
		case asl.TypePass:
			fail = s.pass(e, st, c, raw)
		case asl.TypeChoice:
			fail = s.choice(e, st, c, raw)
		case asl.TypeWait:
			fail = s.wait(e, st, c, raw)
		case asl.TypeSucceed:
			fail = s.succeedState(e, st, c, raw)
		case asl.TypeFail:
			fail = s.failState(e, st, c, raw)
		case asl.TypeTask:
			s.task(e, st, c, raw)
		}
		if fail != nil {
			s.failExecution(e, fail)
		}
	}
}

// contextObject is the $$ of a state: execution, state machine, state and,
// for a callback task, its token.
func (s *Service) contextObject(e *execution, c *cursor, token string) map[string]any {
	input, _ := asl.Decode([]byte(e.Input))
	s.mu.Lock()
	retries := c.RetryCount
	entered := c.EnteredTime
	s.mu.Unlock()
	ctx := map[string]any{
		"Execution": map[string]any{
			"Id":           e.ARN,
			"Name":         e.Name,
			"StartTime":    e.Start.UTC().Format(timestampLayout),
			"Input":        input,
			"RoleArn":      e.RoleARN,
			"RedriveCount": json.Number("0"),
		},
		"StateMachine": map[string]any{"Id": e.StateMachineARN, "Name": e.Machine},
		"State": map[string]any{
			"Name":        c.State,
			"EnteredTime": entered.UTC().Format(timestampLayout),
			"RetryCount":  json.Number(strconv.Itoa(retries)),
		},
	}
	if token != "" {
		ctx["Task"] = map[string]any{"Token": token}
	}
	return ctx
}

// exit records the state's Exited event and moves to next, or ends the
// execution successfully when end is set.
func (s *Service) exit(e *execution, st *asl.State, next string, end bool, output any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !running(e) {
		return
	}
	text := asl.Encode(output)
	out, det := data(text)
	s.add(e, HistoryEvent{Type: string(st.Type) + "StateExited", StateExitedEventDetails: &OutputDetails{Name: st.Name, Output: out, OutputDetails: det}})
	if end {
		out, det := data(text)
		s.add(e, HistoryEvent{Type: EventExecutionSucceeded, ExecutionSucceededEventDetails: &OutputDetails{Output: out, OutputDetails: det}})
		s.finish(e, StatusSucceeded, &text, nil)
		return
	}
	e.Cursor = &cursor{State: next, Input: text}
	s.touch()
}

// failExecution ends the execution with an error.
func (s *Service) failExecution(e *execution, err *asl.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !running(e) {
		return
	}
	s.add(e, HistoryEvent{Type: EventExecutionFailed, ExecutionFailedEventDetails: &FailureDetails{Error: err.Name, Cause: err.Cause}})
	s.finish(e, StatusFailed, nil, err)
	s.log.Info("states: execution failed", "executionArn", e.ARN, "error", err.Name)
}

func (s *Service) pass(e *execution, st *asl.State, c *cursor, raw any) *asl.Error {
	ctx := s.contextObject(e, c, "")
	result, err := st.EffectiveInput(raw, ctx)
	if err != nil {
		return err
	}
	if st.HasResult {
		result = st.Result
	}
	out, err := st.Output(raw, result, ctx)
	if err != nil {
		return err
	}
	s.exit(e, st, st.Next, st.End, out)
	return nil
}

func (s *Service) choice(e *execution, st *asl.State, c *cursor, raw any) *asl.Error {
	ctx := s.contextObject(e, c, "")
	in, err := st.PathInput(raw, ctx)
	if err != nil {
		return err
	}
	next, err := st.Choose(in, ctx)
	if err != nil {
		return err
	}
	out, err := st.ApplyOutputPath(in, ctx)
	if err != nil {
		return err
	}
	s.exit(e, st, next, false, out)
	return nil
}

func (s *Service) wait(e *execution, st *asl.State, c *cursor, raw any) *asl.Error {
	ctx := s.contextObject(e, c, "")
	in, err := st.PathInput(raw, ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	wakeAt := c.WakeAt
	s.mu.Unlock()
	if wakeAt.IsZero() {
		if wakeAt, err = st.WaitUntil(in, ctx, s.now()); err != nil {
			return err
		}
		// Kept in the cursor so that a restored execution waits only for
		// what remains.
		s.mu.Lock()
		c.WakeAt = wakeAt
		s.touch()
		s.mu.Unlock()
	}
	if !s.sleepUntil(e, wakeAt) {
		return nil
	}
	out, err := st.ApplyOutputPath(in, ctx)
	if err != nil {
		return err
	}
	s.exit(e, st, st.Next, st.End, out)
	return nil
}

func (s *Service) succeedState(e *execution, st *asl.State, c *cursor, raw any) *asl.Error {
	ctx := s.contextObject(e, c, "")
	in, err := st.PathInput(raw, ctx)
	if err != nil {
		return err
	}
	out, err := st.ApplyOutputPath(in, ctx)
	if err != nil {
		return err
	}
	s.exit(e, st, "", true, out)
	return nil
}

func (s *Service) failState(e *execution, st *asl.State, c *cursor, raw any) *asl.Error {
	failure, err := st.FailError(raw, s.contextObject(e, c, ""))
	if err != nil {
		return err
	}
	return failure
}

// timerAt returns a channel closed when the clock reaches at, and a function
// that cancels the timer.
func (s *Service) timerAt(at time.Time) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	var once sync.Once
	fire := func() { once.Do(func() { close(ch) }) }
	stop := s.afterFunc(max(at.Sub(s.now()), 0), fire)
	// A manual clock moved between reading it and setting the timer set
	// the timer past the move, where it would never fire: check again.
	if !s.now().Before(at) {
		fire()
	}
	return ch, func() { stop() }
}

// sleepUntil waits until the clock reaches at; false if the execution was
// stopped meanwhile.
func (s *Service) sleepUntil(e *execution, at time.Time) bool {
	for s.now().Before(at) {
		fired, stop := s.timerAt(at)
		select {
		case <-e.ctx.Done():
			stop()
			return false
		case <-fired:
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return running(e)
}
