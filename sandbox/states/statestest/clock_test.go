package statestest

import (
	"slices"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	var fired []string
	c.AfterFunc(2*time.Second, func() { fired = append(fired, "2s") })
	c.AfterFunc(time.Second, func() { fired = append(fired, "1s") })
	stop := c.AfterFunc(1500*time.Millisecond, func() { fired = append(fired, "stopped") })
	if !stop() {
		t.Errorf("stop of a pending timer = false, want true")
	}
	if stop() {
		t.Errorf("second stop = true, want false")
	}
	c.AfterFunc(time.Hour, func() { fired = append(fired, "1h") })

	c.Advance(999 * time.Millisecond)
	if len(fired) != 0 {
		t.Errorf("after 999ms fired %v, want nothing", fired)
	}
	c.Advance(5 * time.Second)
	if want := []string{"1s", "2s"}; !slices.Equal(fired, want) {
		t.Errorf("fired %v, want %v (due order, the stopped one and the later one not)", fired, want)
	}
	if got, want := c.Now(), t0.Add(5999*time.Millisecond); !got.Equal(want) {
		t.Errorf("Now = %v, want %v", got, want)
	}

	now := make(chan struct{})
	if c.AfterFunc(0, func() { close(now) })() {
		t.Errorf("stop of an immediate timer = true, want false")
	}
	select {
	case <-now:
	case <-time.After(5 * time.Second):
		t.Fatal("a zero-duration timer did not run")
	}
}
