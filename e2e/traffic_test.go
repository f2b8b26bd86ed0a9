package e2e

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"sync"
	"time"
)

// traffic calls a stage in the background until stopped, as users do.
type traffic struct {
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	split map[string]int
}

// generate starts calling path (such as "/production/") about every
// 10 ms.
func (s *scenario) generate(path string) *traffic {
	tr := &traffic{stop: make(chan struct{}), done: make(chan struct{}), split: map[string]int{}}
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tr.stop:
				return
			case <-s.ctx.Done():
				return
			case <-tick.C:
			}
			key := "error"
			if resp, err := s.http.Get(s.ep + path); err == nil {
				var a struct{ Version string }
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &a) == nil {
					key = a.Version
				}
			}
			tr.mu.Lock()
			tr.split[key]++
			tr.mu.Unlock()
		}
	}()
	return tr
}

// Stop stops the traffic and returns the answers counted by version
// ("error" for failed calls).
func (tr *traffic) Stop() map[string]int {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	<-tr.done
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return maps.Clone(tr.split)
}
