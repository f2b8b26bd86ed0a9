package asl

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// RuntimeError wraps a data-processing failure (a path that does not
// resolve, a bad TimeoutSecondsPath value, a failed intrinsic) into the
// States.Runtime / States.IntrinsicFailure error the service reports.
func RuntimeError(state, field string, err error) *Error {
	var ie *IntrinsicError
	if errors.As(err, &ie) {
		return &Error{Name: ErrIntrinsicFailure, Cause: fmt.Sprintf("An error occurred while executing the state '%s'. %s", state, ie.Msg)}
	}
	return &Error{Name: ErrRuntime, Cause: fmt.Sprintf("An error occurred while executing the state '%s'. The %s field could not be applied: %v", state, field, err)}
}

func applyOptional(op OptionalPath, data, ctx any) (any, error) {
	switch {
	case !op.Set:
		return data, nil
	case op.Null:
		// A null InputPath / OutputPath passes an empty object, per the spec.
		return map[string]any{}, nil
	}
	return op.Path.Resolve(data, ctx)
}

// EffectiveInput applies InputPath, then Parameters when present, to a
// state's raw input.
func (s *State) EffectiveInput(raw, ctx any) (any, *Error) {
	v, err := applyOptional(s.InputPath, raw, ctx)
	if err != nil {
		return nil, RuntimeError(s.Name, "InputPath", err)
	}
	if s.Parameters != nil {
		v, err = s.Parameters.Eval(v, ctx)
		if err != nil {
			return nil, RuntimeError(s.Name, "Parameters", err)
		}
	}
	return v, nil
}

// PathInput applies only InputPath: what a Task's TimeoutSecondsPath and a
// Wait's SecondsPath read (the effective input before Parameters).
func (s *State) PathInput(raw, ctx any) (any, *Error) {
	v, err := applyOptional(s.InputPath, raw, ctx)
	if err != nil {
		return nil, RuntimeError(s.Name, "InputPath", err)
	}
	return v, nil
}

// Output applies ResultSelector (Task), ResultPath and OutputPath to a
// state's result, given its raw input.
func (s *State) Output(raw, result, ctx any) (any, *Error) {
	var err error
	if s.ResultSelector != nil {
		result, err = s.ResultSelector.Eval(result, ctx)
		if err != nil {
			return nil, RuntimeError(s.Name, "ResultSelector", err)
		}
	}
	v, rerr := ApplyResultPath(s.Name, s.ResultPath, raw, result)
	if rerr != nil {
		return nil, rerr
	}
	return s.ApplyOutputPath(v, ctx)
}

// ApplyOutputPath applies OutputPath.
func (s *State) ApplyOutputPath(v, ctx any) (any, *Error) {
	out, err := applyOptional(s.OutputPath, v, ctx)
	if err != nil {
		return nil, RuntimeError(s.Name, "OutputPath", err)
	}
	return out, nil
}

// ApplyResultPath places result into raw as a ResultPath says: absent
// replaces the input, null discards the result, a path writes at it.
func ApplyResultPath(state string, rp OptionalPath, raw, result any) (any, *Error) {
	switch {
	case !rp.Set:
		return result, nil
	case rp.Null:
		return raw, nil
	}
	v, err := rp.Path.Set(raw, result)
	if err != nil {
		return nil, RuntimeError(state, "ResultPath", err)
	}
	return v, nil
}

// Choose evaluates a Choice state's rules against its effective input and
// returns the next state's name.
func (s *State) Choose(input, ctx any) (string, *Error) {
	for _, r := range s.Choices {
		ok, err := r.Eval(input, ctx)
		if err != nil {
			return "", RuntimeError(s.Name, "Choices", err)
		}
		if ok {
			return r.Next, nil
		}
	}
	if s.Default != "" {
		return s.Default, nil
	}
	return "", &Error{Name: ErrNoChoiceMatched, Cause: fmt.Sprintf("No Choice Rules matched and no Default was specified in the state '%s'", s.Name)}
}

// WaitUntil is when a Wait state entered at now ends, given its effective
// input.
func (s *State) WaitUntil(input, ctx any, now time.Time) (time.Time, *Error) {
	switch {
	case s.HasSeconds:
		return now.Add(time.Duration(s.Seconds) * time.Second), nil
	case s.HasTimestamp:
		return s.Timestamp, nil
	case s.SecondsPath != nil:
		n, err := s.secondsAt(s.SecondsPath, input, ctx, 0)
		if err != nil {
			return time.Time{}, RuntimeError(s.Name, "SecondsPath", err)
		}
		return now.Add(time.Duration(n) * time.Second), nil
	}
	v, err := s.TimestampPath.Resolve(input, ctx)
	if err != nil {
		return time.Time{}, RuntimeError(s.Name, "TimestampPath", err)
	}
	str, _ := v.(string)
	t, ok := parseTimestamp(str)
	if !ok {
		return time.Time{}, RuntimeError(s.Name, "TimestampPath", fmt.Errorf("the value %s is not an RFC 3339 timestamp", Encode(v)))
	}
	return t, nil
}

// TaskTimeouts resolves a Task's timeout and heartbeat in seconds (0: none)
// against its effective input before Parameters.
func (s *State) TaskTimeouts(input, ctx any) (timeout, heartbeat int, e *Error) {
	timeout, heartbeat = s.TimeoutSeconds, s.HeartbeatSeconds
	var err error
	if s.TimeoutSecondsPath != nil {
		if timeout, err = s.secondsAt(s.TimeoutSecondsPath, input, ctx, 1); err != nil {
			return 0, 0, RuntimeError(s.Name, "TimeoutSecondsPath", err)
		}
	}
	if s.HeartbeatSecondsPath != nil {
		if heartbeat, err = s.secondsAt(s.HeartbeatSecondsPath, input, ctx, 1); err != nil {
			return 0, 0, RuntimeError(s.Name, "HeartbeatSecondsPath", err)
		}
	}
	return timeout, heartbeat, nil
}

func (s *State) secondsAt(p *Path, input, ctx any, min int) (int, error) {
	v, err := p.Resolve(input, ctx)
	if err != nil {
		return 0, err
	}
	n, ok := v.(json.Number)
	i, perr := strconv.Atoi(string(n))
	if !ok || perr != nil || i < min || i > maxSeconds {
		return 0, fmt.Errorf("the value %s at %s is not an integer between %d and %d", Encode(v), p.raw, min, maxSeconds)
	}
	return i, nil
}

// FailError is the error and cause a Fail state ends the execution with.
func (s *State) FailError(raw, ctx any) (*Error, *Error) {
	e := &Error{Name: s.Error, Cause: s.Cause}
	for _, f := range []struct {
		expr *Expression
		dst  *string
		name string
	}{{s.ErrorPath, &e.Name, "ErrorPath"}, {s.CausePath, &e.Cause, "CausePath"}} {
		if f.expr == nil {
			continue
		}
		v, err := f.expr.Eval(raw, ctx)
		if err != nil {
			return nil, RuntimeError(s.Name, f.name, err)
		}
		str, ok := v.(string)
		if !ok {
			return nil, RuntimeError(s.Name, f.name, fmt.Errorf("the value %s is not a string", Encode(v)))
		}
		*f.dst = str
	}
	return e, nil
}
