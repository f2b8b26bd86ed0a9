package lambdasvc

import (
	"math/rand/v2"
	"sync"
)

// Faults injects the failures a test wants to survive: throttled API calls
// and function processes that die mid-invocation. The zero value injects
// nothing.
type Faults struct {
	mu        sync.Mutex
	throttle  float64
	ops       map[string]bool
	crashNext map[string]int
	rand      func() float64
	throttled int
}

// Throttle makes the given share (0–1) of Lambda API calls over HTTP answer
// TooManyRequestsException (429), as Lambda does past its rate limits. With
// ops given (operation names such as "PublishVersion"), only those are
// throttled. Throttle(0) stops it.
func (f *Faults) Throttle(fraction float64, ops ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttle = fraction
	f.ops = nil
	if len(ops) > 0 {
		f.ops = map[string]bool{}
		for _, op := range ops {
			f.ops[op] = true
		}
	}
}

// Throttled reports how many calls were throttled so far.
func (f *Faults) Throttled() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.throttled
}

func (f *Faults) shouldThrottle(op string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.throttle <= 0 || (f.ops != nil && !f.ops[op]) {
		return false
	}
	r := rand.Float64
	if f.rand != nil {
		r = f.rand
	}
	if r() < f.throttle {
		f.throttled++
		return true
	}
	return false
}

// CrashNext makes the next n invocations of function kill their process
// right after it has received the event: each such invoke ends with the
// function error Runtime.ExitError and the next one starts a fresh process.
func (f *Faults) CrashNext(function string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.crashNext == nil {
		f.crashNext = map[string]int{}
	}
	f.crashNext[function] += n
}

func (f *Faults) takeCrash(function string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.crashNext[function] > 0 {
		f.crashNext[function]--
		return true
	}
	return false
}

// KillProcesses kills every running process of a function now, busy or
// idle; it returns how many it killed.
func (s *Service) KillProcesses(function string) int { return s.rt.killAll(function) }
