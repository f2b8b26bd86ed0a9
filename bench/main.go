// Command bench measures what users pay for and wait on — binary size, init
// time, AWS calls and state transitions per promotion, sandbox latency and
// scale, the developer loop — and writes BENCHMARKS.md. It reports a missed
// budget plainly and never fails because a machine is slow.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// report collects the sections of BENCHMARKS.md.
type report struct {
	sections []string
	missed   []string
}

func (r *report) section(title, body string) {
	r.sections = append(r.sections, "## "+title+"\n\n"+strings.TrimRight(body, "\n")+"\n")
	fmt.Printf("\n== %s\n%s\n", title, body)
}

// budget records a figure against its budget and says plainly when missed.
func (r *report) budget(name string, ok bool, detail string) string {
	if ok {
		return "within budget (" + detail + ")"
	}
	r.missed = append(r.missed, name+": "+detail)
	return "**MISSED** (" + detail + ")"
}

func main() {
	out := flag.String("out", "BENCHMARKS.md", "where to write the report")
	starts := flag.Int("starts", 25, "process starts per binary for the init-time median")
	promotions := flag.Int("promotions", 50, "sequential promotions for the latency percentiles")
	concurrent := flag.Int("concurrent", 50, "concurrent promotions of distinct functions for the scale run")
	skipLoop := flag.Bool("skip-dev-loop", false, "skip the warm go test / make synth timings")
	skipBuild := flag.Bool("skip-build-figures", false, "skip binary size and init time (sections 1 and 2)")
	verdictTrials := flag.Int("verdict-trials", 50, "simulated canaries per mode and kind (healthy, broken) for the verdicts section")
	onlyVerdicts := flag.Bool("only-verdicts", false, "measure the health verdicts section only")
	quotaPromotions := flag.Int("quota-promotions", 200, "baking promotions released in a burst with the sandbox's AWS quotas on (0 skips the section)")
	quotaWindow := flag.Duration("quota-window", time.Minute, "the burst's length: the quota section's releases are spread evenly over it")
	quotaControl := flag.Bool("quota-control", true, "also run the quota section's promotions without quotas (the control)")
	quotaBakeFlag := flag.Duration("quota-bake", 0, "each step's bake in the quota section (0: longer than the release Lambda takes to start them all)")
	onlyQuotas := flag.Bool("only-quotas", false, "measure the AWS quotas section only")
	groupSize := flag.Int("group", 5, "functions in the group-release section: one group vs as many separate promotions (0 skips it)")
	onlyGroup := flag.Bool("only-group", false, "measure the group-release section only")
	flag.Parse()

	root, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	work, err := os.MkdirTemp("", "aliasflow-bench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(work)

	r := &report{}
	began := time.Now()
	if *onlyVerdicts {
		verdictFigures(r, *verdictTrials)
		write(r, *out, began)
		return
	}
	if *onlyGroup {
		groupFigures(r, root, *groupSize)
		write(r, *out, began)
		return
	}
	if *onlyQuotas {
		quotaFigures(r, root, quotaOptions{n: *quotaPromotions, window: *quotaWindow, control: *quotaControl, bake: *quotaBakeFlag})
		write(r, *out, began)
		return
	}
	if !*skipBuild {
		sizes(r, root, work)
		initTimes(r, root, work, *starts)
	}
	promotionFigures(r, root, *promotions, *concurrent)
	verdictFigures(r, *verdictTrials)
	if *quotaPromotions > 0 {
		quotaFigures(r, root, quotaOptions{n: *quotaPromotions, window: *quotaWindow, control: *quotaControl, bake: *quotaBakeFlag})
	}
	if !*skipLoop {
		devLoop(r, root)
	}
	if *groupSize > 0 {
		groupFigures(r, root, *groupSize)
	}
	write(r, *out, began)
}

func write(r *report, path string, began time.Time) {
	var b bytes.Buffer
	b.WriteString("# aliasflow benchmarks\n\n")
	b.WriteString("Written by `make bench` (`go run ./bench`); every figure below comes from one run on one machine.\n\n")
	fmt.Fprintf(&b, "- when: %s (run took %s)\n", time.Now().UTC().Format(time.RFC3339), time.Since(began).Round(time.Second))
	fmt.Fprintf(&b, "- machine: %s/%s, %d CPUs, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel())
	fmt.Fprintf(&b, "- toolchain: %s\n", runtime.Version())
	b.WriteString("- command: `make bench`\n\n")
	if len(r.missed) == 0 {
		b.WriteString("All budgets held.\n\n")
	} else {
		b.WriteString("Budgets missed:\n\n")
		for _, m := range r.missed {
			b.WriteString("- " + m + "\n")
		}
		b.WriteString("\n")
	}
	for _, s := range r.sections {
		b.WriteString(s + "\n")
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		fail(err)
	}
	fmt.Printf("\nwrote %s\n", path)
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "cpu model unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "cpu model unknown"
}

// lambdaTags are the build tags of the Lambdas, as the Makefile's
// GOFLAGS_LAMBDA has them.
const lambdaTags = "lambda.norpc,nethttpomithttp2"

// goBuild builds pkg into out with the Lambda flags; goarch "" is the host.
func goBuild(root, pkg, out, goarch string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-tags", lambdaTags, "-gcflags=all=-l", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if goarch != "" {
		cmd.Env = append(cmd.Env, "GOOS=linux", "GOARCH="+goarch)
	}
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	return nil
}

// lambdas are the binaries measured, with their packages.
var lambdas = []struct{ name, pkg string }{
	{"release", "./functions/release"},
	{"smoketest", "./functions/smoketest"},
	{"approval", "./functions/approval"},
	{"shift", "./functions/shift"},
	{"hello", "./examples/hello"},
}

func sizes(r *report, root, work string) {
	const budgetMB = 10.0
	var b strings.Builder
	b.WriteString("linux/arm64, `CGO_ENABLED=0 go build -trimpath -tags " + lambdaTags + " -gcflags=all=-l -ldflags='-s -w'` (what `make build` ships). Budget: ≤ 10 MB each.\n\n")
	b.WriteString("| binary | size (MB) | vs floor | budget |\n|---|---:|---:|---|\n")
	floor := filepath.Join(work, "arm64", "floor", "bootstrap")
	if err := goBuild(root, "./bench/floor", floor, "arm64"); err != nil {
		r.section("1. Binary size", "not measured: "+err.Error())
		return
	}
	floorMB := sizeMB(floor)
	fmt.Fprintf(&b, "| hello-world floor (aws-lambda-go) | %.2f | 1.00× | — |\n", floorMB)
	for _, l := range lambdas {
		out := filepath.Join(work, "arm64", l.name, "bootstrap")
		if err := goBuild(root, l.pkg, out, "arm64"); err != nil {
			fmt.Fprintf(&b, "| %s | — | — | not built: %v |\n", l.name, firstLine(err.Error()))
			r.missed = append(r.missed, l.name+" size: not built")
			continue
		}
		mb := sizeMB(out)
		fmt.Fprintf(&b, "| %s | %.2f | %.2f× | %s |\n", l.name, mb, mb/floorMB,
			r.budget(l.name+" binary size", mb <= budgetMB, fmt.Sprintf("%.2f MB of %.0f MB", mb, budgetMB)))
	}
	r.section("1. Binary size", b.String())
}

func sizeMB(path string) float64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(st.Size()) / 1e6
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
