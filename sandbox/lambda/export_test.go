package lambdasvc

import "time"

// ReapIdle exposes the idle reaper to the external tests.
func (s *Service) ReapIdle(maxIdle time.Duration) int { return s.rt.reapIdle(maxIdle) }
