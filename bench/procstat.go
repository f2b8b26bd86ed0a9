package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// statusKB reads a "VmRSS:"-style field of /proc/<pid>/status in kB; 0
// when it cannot be read.
func statusKB(pid, field string) int {
	data, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// resetPeakRSS asks the kernel to restart this process's VmHWM from its
// current RSS (clear_refs 5), so the peak of a later run is that run's.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// children lists the pids whose parent is this process: the function
// processes the sandbox's Lambda started.
func children() []string {
	self := strconv.Itoa(os.Getpid())
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after ')'.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) > 1 && fields[1] == self {
			out = append(out, pid)
		}
	}
	return out
}

// rssSampler samples the function processes (this process's children)
// until stopped: their peak count and peak total RSS.
type rssSampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	// peakProcs and peakKB are the highest count and total RSS seen.
	peakProcs, peakKB int
}

func sampleChildren(every time.Duration) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			pids := children()
			kb := 0
			for _, pid := range pids {
				kb += statusKB(pid, "VmRSS")
			}
			s.mu.Lock()
			s.peakProcs = max(s.peakProcs, len(pids))
			s.peakKB = max(s.peakKB, kb)
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the peaks.
func (s *rssSampler) Stop() (procs, kb int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakProcs, s.peakKB
}
