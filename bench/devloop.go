package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// devLoop times the warm developer loop: `go test ./...` and `make synth`,
// each run once to warm the caches and then timed.
func devLoop(r *report, root string) {
	var b strings.Builder
	b.WriteString("Warm wall time (each command run once before the timed run; `go test ./...` then answers from its result cache, `-count=1` runs every test again on a warm build cache).\n\n| command | wall time |\n|---|---:|\n")
	for _, c := range []struct {
		name string
		args []string
	}{
		// Results cached: what an unchanged tree costs.
		{"go test ./...", []string{"go", "test", "./..."}},
		// Build cache warm, every test run again: what a change costs at most.
		{"go test -count=1 ./...", []string{"go", "test", "-count=1", "./..."}},
		{"make synth", []string{"make", "synth"}},
	} {
		run := func() error {
			cmd := exec.Command(c.args[0], c.args[1:]...)
			cmd.Dir = root
			cmd.Env = os.Environ()
			if msg, err := cmd.CombinedOutput(); err != nil {
				if failed := failedTests(string(msg)); failed != "" {
					return fmt.Errorf("%v: %s", err, failed)
				}
				return fmt.Errorf("%v: %s", err, lastLines(string(msg), 3))
			}
			return nil
		}
		if err := run(); err != nil {
			fmt.Fprintf(&b, "| `%s` | failed: %s |\n", c.name, firstLine(err.Error()))
			r.missed = append(r.missed, c.name+": failed")
			continue
		}
		start := time.Now()
		err := run()
		d := time.Since(start)
		if err != nil {
			fmt.Fprintf(&b, "| `%s` | failed: %s |\n", c.name, firstLine(err.Error()))
			continue
		}
		fmt.Fprintf(&b, "| `%s` | %.1f s |\n", c.name, d.Seconds())
	}
	r.section("7. Developer loop", b.String())
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// failedTests names what `go test` reported failing ("--- FAIL: TestX",
// "FAIL pkg"), so the report says which test broke rather than the tail of
// the output.
func failedTests(out string) string {
	var failed []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "--- FAIL: ") || strings.HasPrefix(line, "FAIL\t") {
			failed = append(failed, strings.Join(strings.Fields(line), " "))
		}
	}
	return strings.Join(failed, "; ")
}
