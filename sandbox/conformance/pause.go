package conformance

import "time"

// Pause is the interval between two polls of an asynchronous change; the
// number of polls, not a wall-clock deadline, bounds a wait.
func Pause() { time.Sleep(5 * time.Millisecond) }
