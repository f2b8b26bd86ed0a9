package lambdasvc

import "time"

// ReapIdle exposes the idle reaper to the external tests.
func (s *Service) ReapIdle(maxIdle time.Duration) int { return s.rt.reapIdle(maxIdle) }

// RIE is the aws-lambda-rie binary the sandbox runs, for tests that run it
// directly.
func RIE() (string, error) { return riePath() }

// TakeRuntimeAPIPortOnce makes the next environment's Runtime API port one
// that is already taken (held by ln), as another process may take a port
// between its choice and RIE binding it at the first invoke.
func TakeRuntimeAPIPortOnce(taken string) (restore func()) { return takePortOnce(1, taken) }

// TakeInvokePortOnce makes the next environment's invoke endpoint port one
// that another process already listens on (taken), as another sandbox in
// another test process may bind a port between this one's choice and RIE
// binding it.
func TakeInvokePortOnce(taken string) (restore func()) { return takePortOnce(0, taken) }

// takePortOnce replaces the i-th of the next environment's two ports
// (0 invoke endpoint, 1 Runtime API) with taken.
func takePortOnce(i int, taken string) (restore func()) {
	orig := pickPorts
	first := true
	pickPorts = func(n int) ([]string, error) {
		ports, err := orig(n)
		if err == nil && first && n == 2 {
			first = false
			ports[i] = taken
		}
		return ports, err
	}
	return func() { pickPorts = orig }
}

// Running is how many invocations of function are in flight.
func (s *Service) Running(function string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.functions[function].running
}
