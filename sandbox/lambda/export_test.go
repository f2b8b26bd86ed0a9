package lambdasvc

import "time"

// ReapIdle exposes the idle reaper to the external tests.
func (s *Service) ReapIdle(maxIdle time.Duration) int { return s.rt.reapIdle(maxIdle) }

// RIE is the aws-lambda-rie binary the sandbox runs, for tests that run it
// directly.
func RIE() (string, error) { return riePath() }
