package asl

import (
	"math"
	"time"
)

// The predefined error names of the States Language that this interpreter
// raises or matches.
const (
	ErrAll              = "States.ALL"
	ErrTaskFailed       = "States.TaskFailed"
	ErrTimeout          = "States.Timeout"
	ErrHeartbeatTimeout = "States.HeartbeatTimeout"
	ErrRuntime          = "States.Runtime"
	ErrNoChoiceMatched  = "States.NoChoiceMatched"
	ErrIntrinsicFailure = "States.IntrinsicFailure"
)

// Error is a state's failure: the name Retry and Catch match, and its cause.
type Error struct {
	Name  string
	Cause string
}

func (e *Error) Error() string {
	if e.Cause == "" {
		return e.Name
	}
	return e.Name + ": " + e.Cause
}

// Output is the JSON object a Catch passes on ({"Error","Cause"}); Cause is
// left out when there is none.
func (e *Error) Output() map[string]any {
	out := map[string]any{"Error": e.Name}
	if e.Cause != "" {
		out["Cause"] = e.Cause
	}
	return out
}

// MatchesError reports whether an ErrorEquals list matches the error name.
// States.Runtime is never matched: the spec makes it fatal to the execution,
// and States.TaskFailed matches everything but States.Timeout.
func MatchesError(equals []string, name string) bool {
	if name == ErrRuntime {
		return false
	}
	for _, e := range equals {
		switch {
		case e == name, e == ErrAll:
			return true
		case e == ErrTaskFailed && name != ErrTimeout:
			return true
		}
	}
	return false
}

// Retrier is one entry of a Retry field.
type Retrier struct {
	ErrorEquals     []string
	IntervalSeconds int
	MaxAttempts     int
	BackoffRate     float64
	// MaxDelaySeconds caps the interval; 0 means no cap.
	MaxDelaySeconds int
	// JitterStrategy is "FULL" or "NONE".
	JitterStrategy string
}

// Delay is how long to wait before retry number attempt (0 for the first
// retry): IntervalSeconds × BackoffRate^attempt, capped at MaxDelaySeconds,
// then with FULL jitter scaled by random (a number in [0,1)).
func (r Retrier) Delay(attempt int, random func() float64) time.Duration {
	secs := float64(r.IntervalSeconds) * math.Pow(r.BackoffRate, float64(attempt))
	if r.MaxDelaySeconds > 0 && secs > float64(r.MaxDelaySeconds) {
		secs = float64(r.MaxDelaySeconds)
	}
	if r.JitterStrategy == "FULL" && random != nil {
		secs *= random()
	}
	return time.Duration(secs * float64(time.Second))
}

// Catcher is one entry of a Catch field.
type Catcher struct {
	ErrorEquals []string
	Next        string
	ResultPath  OptionalPath
}

// Retry picks the retrier for an error and whether another attempt is due:
// only the first retrier whose ErrorEquals matches applies (the spec); counts
// holds how many retries each retrier has made.
func Retry(retriers []Retrier, counts []int, name string) (index int, ok bool) {
	for i, r := range retriers {
		if MatchesError(r.ErrorEquals, name) {
			return i, counts[i] < r.MaxAttempts
		}
	}
	return -1, false
}

// Catch picks the catcher for an error, if any.
func Catch(catchers []Catcher, name string) (Catcher, bool) {
	for _, c := range catchers {
		if MatchesError(c.ErrorEquals, name) {
			return c, true
		}
	}
	return Catcher{}, false
}
