package main

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/shared/deploy"
)

const (
	budgetFreshRelease     = 6
	budgetDuplicateRelease = 3
	budgetAllAtOnceTrans   = 15
)

// succeeded keeps the promotions that ended well; failed describes the rest.
func succeeded(rs []*result) (ok []*result, failed []string) {
	for _, r := range rs {
		if r.err == nil {
			ok = append(ok, r)
		} else {
			failed = append(failed, r.err.Error())
		}
	}
	return ok, failed
}

// failures is a note on promotions that did not succeed, for a section.
func failures(what string, failed []string) string {
	if len(failed) == 0 {
		return ""
	}
	const show = 3
	more := ""
	if len(failed) > show {
		more = fmt.Sprintf(" (and %d more)", len(failed)-show)
		failed = failed[:show]
	}
	return fmt.Sprintf("\n%d %s promotion(s) failed and are left out: %s%s\n", len(failed), what, strings.Join(failed, "; "), more)
}

// spread is "m" when every sample is m, else "median (min–max)".
func spread(xs []int) string {
	if len(xs) == 0 {
		return "—"
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if s[0] == s[len(s)-1] {
		return fmt.Sprint(med)
	}
	return fmt.Sprintf("%d (%d–%d)", med, s[0], s[len(s)-1])
}

// opCounts counts calls by "caller service:Operation".
func opCounts(calls []sandbox.Call) map[string]int {
	m := map[string]int{}
	for _, c := range calls {
		m[c.Caller+"\x00"+c.Service+":"+c.Operation]++
	}
	return m
}

func callsSection(r *report, seq, can []*result) {
	var b strings.Builder
	okSeq, failedSeq := succeeded(seq)
	okCan, failedCan := succeeded(can)
	if len(okSeq) == 0 {
		r.section("3. AWS API calls per promotion", "not measured: "+errNoSamples.Error()+failures("all-at-once", failedSeq))
		r.missed = append(r.missed, "AWS calls per promotion: not measured")
		return
	}
	fmt.Fprintf(&b, "Counted by the sandbox: every AWS API call it answered, attributed to its caller by the SigV4 access key id (the sandbox starts each function process with its function's name as `AWS_ACCESS_KEY_ID`; the operator's CLI signs as `%s`). "+
		"Per promotion of hello (CodeBuild event → release → smoke checks: an invoke of stg and a GET of the staging stage → approval requested → `aliasflow approve` → prod moved), "+
		"median over %d all-at-once promotions and %d two-step canary promotions (10%% baked 1 s, then 100%%); \"m (min–max)\" where they varied. "+
		"The Step Functions → Lambda task invocations and EventBridge → Lambda deliveries are the services' own, not calls by the pipeline, and are not counted; neither are the smoke check's unsigned HTTP request to the stage.\n\n",
		operator, len(okSeq), len(okCan))

	perSeq := make([]map[string]int, len(okSeq))
	perCan := make([]map[string]int, len(okCan))
	keys := map[string]bool{}
	for i, res := range okSeq {
		perSeq[i] = opCounts(res.calls)
		if res.dup {
			// The first promotion's event was put twice: count its fresh
			// release only, as every other promotion's.
			perSeq[i] = opCounts(slices.DeleteFunc(slices.Clone(res.calls), func(c sandbox.Call) bool { return containsCall(res.dupRelease, c) }))
		}
		for k := range perSeq[i] {
			keys[k] = true
		}
	}
	for i, res := range okCan {
		perCan[i] = opCounts(res.calls)
		for k := range perCan[i] {
			keys[k] = true
		}
	}
	order := append(slices.Clone(pipeline), operator)
	rank := func(k string) int {
		caller, _, _ := strings.Cut(k, "\x00")
		if i := slices.Index(order, caller); i >= 0 {
			return i
		}
		return len(order)
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Slice(sorted, func(i, j int) bool {
		if ri, rj := rank(sorted[i]), rank(sorted[j]); ri != rj {
			return ri < rj
		}
		return sorted[i] < sorted[j]
	})
	column := func(per []map[string]int, keep func(string) bool) string {
		xs := make([]int, len(per))
		for i, m := range per {
			for k, n := range m {
				if keep(k) {
					xs[i] += n
				}
			}
		}
		return spread(xs)
	}
	b.WriteString("| caller | operation | all-at-once | canary (2 steps) |\n|---|---|---:|---:|\n")
	for _, k := range sorted {
		caller, op, _ := strings.Cut(k, "\x00")
		name := "`" + caller + "`"
		if caller == operator {
			name = "operator (`aliasflow approve`)"
		}
		is := func(x string) bool { return x == k }
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, op, column(perSeq, is), column(perCan, is))
	}
	isCaller := func(caller string) func(string) bool {
		return func(k string) bool { return strings.HasPrefix(k, caller+"\x00") }
	}
	for _, caller := range pipeline {
		fmt.Fprintf(&b, "| **`%s`** | **total** | **%s** | **%s** |\n", caller, column(perSeq, isCaller(caller)), column(perCan, isCaller(caller)))
	}
	isPipeline := func(k string) bool { return rank(k) < len(pipeline) }
	fmt.Fprintf(&b, "| **the pipeline** | **total** | **%s** | **%s** |\n", column(perSeq, isPipeline), column(perCan, isPipeline))
	fmt.Fprintf(&b, "| **operator** | **total** | **%s** | **%s** |\n", column(perSeq, isCaller(operator)), column(perCan, isCaller(operator)))
	var errs []int
	for _, res := range okSeq {
		n := 0
		for _, c := range res.calls {
			if c.Status >= 400 {
				n++
			}
		}
		errs = append(errs, n)
	}
	fmt.Fprintf(&b, "\nCalls answered with an error status (retried or expected) per all-at-once promotion: %s.\n", spread(errs))

	// The release Lambda's budget: every sequential promotion's release was
	// fresh; the first one's event was then put a second time.
	var fresh []int
	for _, res := range okSeq {
		if res.dup {
			fresh = append(fresh, len(res.freshRelease))
		} else {
			fresh = append(fresh, len(callsBy(res.calls, deploy.ReleaseFunction)))
		}
	}
	maxFresh := slices.Max(fresh)
	fmt.Fprintf(&b, "\n**Release Lambda** (`aliasflow-release`), from the counts above:\n\n")
	fmt.Fprintf(&b, "- fresh release: %s calls per release over %d releases; ops of the first: %s — %s\n", spread(fresh), len(fresh),
		describeOps(firstFresh(okSeq)), r.budget("fresh release AWS calls", maxFresh <= budgetFreshRelease, fmt.Sprintf("at most %d of %d", maxFresh, budgetFreshRelease)))
	var dup []sandbox.Call
	dupMeasured := false
	for _, res := range seq {
		if res.dup {
			dup, dupMeasured = res.dupRelease, true
			break
		}
	}
	if dupMeasured {
		fmt.Fprintf(&b, "- duplicate release (the same CodeBuild event delivered a second time, as EventBridge's at-least-once delivery may, after the first was handled): %d calls: %s — %s\n", len(dup), describeOps(dup),
			r.budget("duplicate release AWS calls", len(dup) <= budgetDuplicateRelease, fmt.Sprintf("%d of %d", len(dup), budgetDuplicateRelease)))
	} else {
		b.WriteString("- duplicate release: not measured (the first promotion failed) — **MISSED**\n")
		r.missed = append(r.missed, "duplicate release AWS calls: not measured")
	}
	b.WriteString(failures("all-at-once", failedSeq))
	b.WriteString(failures("canary", failedCan))
	r.section("3. AWS API calls per promotion", b.String())
}

func containsCall(calls []sandbox.Call, c sandbox.Call) bool {
	for _, x := range calls {
		if x == c {
			return true
		}
	}
	return false
}

func firstFresh(ok []*result) []sandbox.Call {
	for _, res := range ok {
		if res.dup {
			return res.freshRelease
		}
	}
	if len(ok) > 0 {
		return callsBy(ok[0].calls, deploy.ReleaseFunction)
	}
	return nil
}

// describeOps is "lambda:PublishVersion, states:StartExecution, …" in call order.
func describeOps(calls []sandbox.Call) string {
	if len(calls) == 0 {
		return "none"
	}
	parts := make([]string, len(calls))
	for i, c := range calls {
		parts[i] = c.Service + ":" + c.Operation
		if c.Status >= 400 {
			parts[i] += fmt.Sprintf(" (%d)", c.Status)
		}
	}
	return strings.Join(parts, ", ")
}

func transitionsSection(r *report, seq, can []*result) {
	var b strings.Builder
	okSeq, failedSeq := succeeded(seq)
	okCan, failedCan := succeeded(can)
	b.WriteString("Counted by the sandbox's Step Functions as Standard workflows bill them: one per state entered, plus one per retry. Budget: all-at-once ≤ 15.\n\n")
	b.WriteString("| strategy | promotions | transitions per promotion | budget | path |\n|---|---:|---:|---|---|\n")
	row := func(name string, ok []*result, budget int) {
		if len(ok) == 0 {
			fmt.Fprintf(&b, "| %s | 0 | — | not measured | — |\n", name)
			r.missed = append(r.missed, name+" transitions: not measured")
			return
		}
		xs := make([]int, len(ok))
		for i, res := range ok {
			xs[i] = res.transitions
		}
		verdict := "—"
		if budget > 0 {
			verdict = r.budget(name+" state transitions", slices.Max(xs) <= budget, fmt.Sprintf("at most %d of %d", slices.Max(xs), budget))
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", name, len(ok), spread(xs), verdict, strings.Join(ok[0].states, " → "))
	}
	row("all-at-once", okSeq, budgetAllAtOnceTrans)
	row("canary, 2 steps (10% → 100%)", okCan, 0)
	b.WriteString(failures("all-at-once", failedSeq))
	b.WriteString(failures("canary", failedCan))
	r.section("4. State transitions per promotion", b.String())
}

// percentile is the nearest-rank p-th percentile of ds (sorted in place).
func percentile(ds []time.Duration, p float64) time.Duration {
	slices.Sort(ds)
	i := int(math.Ceil(p/100*float64(len(ds)))) - 1
	return ds[max(i, 0)]
}

// latencyRow is one measured interval over the promotions.
func latencyRow(b *strings.Builder, name string, ok []*result, from, to func(*result) time.Time) {
	var ds []time.Duration
	for _, res := range ok {
		if f, t := from(res), to(res); !f.IsZero() && !t.IsZero() {
			ds = append(ds, t.Sub(f))
		}
	}
	if len(ds) == 0 {
		fmt.Fprintf(b, "| %s | 0 | — | — | — | — |\n", name)
		return
	}
	n := len(ds)
	fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s |\n", name, n, ms(percentile(ds, 50)), ms(percentile(ds, 95)), ms(ds[0]), ms(ds[n-1]))
}

func latencySection(r *report, seq []*result) {
	var b strings.Builder
	ok, failed := succeeded(seq)
	fmt.Fprintf(&b, "hello promoted all at once, %d promotions one after another in one world (each a new build). "+
		"Every moment is a timestamp the sandbox recorded, not the benchmark's polling:\n\n"+
		"- *release event*: the benchmark's clock just before the sandbox's CodeBuild runs the build that emits its event on the sandbox's EventBridge (in process, the same clock);\n"+
		"- *stg moved*: when the sandbox answered the release Lambda's `UpdateAlias` of `stg` (its call log);\n"+
		"- *approval*: the `TaskSucceeded` event of `RequestApproval` in the execution history — when the sandbox accepted `aliasflow approve`'s `SendTaskSuccess`;\n"+
		"- *prod final*: when the sandbox answered the shift Lambda's last `UpdateAlias` of `prod` (its call log);\n"+
		"- *succeeded*: the `ExecutionSucceeded` event in the execution history.\n\n", len(seq))
	b.WriteString("| interval | samples | p50 | p95 | min | max |\n|---|---:|---:|---:|---:|---:|\n")
	latencyRow(&b, "release event → stg moved", ok, func(x *result) time.Time { return x.put }, func(x *result) time.Time { return x.stgMoved })
	latencyRow(&b, "approval → prod final", ok, func(x *result) time.Time { return x.approved }, func(x *result) time.Time { return x.prodFinal })
	latencyRow(&b, "approval → execution succeeded", ok, func(x *result) time.Time { return x.approved }, func(x *result) time.Time { return x.succeeded })
	latencyRow(&b, "release event → execution succeeded (incl. smoke checks and the approve command)", ok, func(x *result) time.Time { return x.put }, func(x *result) time.Time { return x.succeeded })
	if len(ok) < 50 {
		fmt.Fprintf(&b, "\nOnly %d promotions succeeded; the issue asks for at least 50. **MISSED**\n", len(ok))
		r.missed = append(r.missed, fmt.Sprintf("latency: %d samples, fewer than 50", len(ok)))
	}
	b.WriteString(failures("all-at-once", failed))
	r.section("5. Sandbox latency", b.String())
}

func scaleSection(r *report, run *scaleRun) {
	var b strings.Builder
	fmt.Fprintf(&b, "%d functions `fn01…fn%02d` (hello's code, version 1 on `stg` and `prod`) in one world, all the release Lambda's targets (all at once, no smoke checks, one approver). "+
		"All %d \"Release Requested\" events put at once; each promotion approved through `aliasflow approve` as soon as its approval e-mail is out; waited until every execution ended.\n\n", run.n, run.n, run.n)
	if run.setupErr != nil {
		fmt.Fprintf(&b, "not measured: setup failed: %v\n", run.setupErr)
		r.missed = append(r.missed, "scale: not measured")
		r.section("6. Scale", b.String())
		return
	}
	ok, failed := succeeded(run.results)
	errs := 0
	for _, c := range run.calls {
		if c.Status >= 400 {
			errs++
		}
	}
	pipelineCalls := 0
	for _, c := range run.calls {
		if slices.Contains(pipeline, c.Caller) {
			pipelineCalls++
		}
	}
	b.WriteString("| figure | value |\n|---|---:|\n")
	fmt.Fprintf(&b, "| promotions succeeded | %d of %d |\n", len(ok), run.n)
	fmt.Fprintf(&b, "| errors | %d — %s |\n", len(failed), r.budget("scale: zero errors", len(failed) == 0, fmt.Sprintf("%d failed promotions", len(failed))))
	fmt.Fprintf(&b, "| wall time, first event put → last promotion ended | %.1f s |\n", run.wall.Seconds())
	var ds []time.Duration
	for _, res := range ok {
		if !res.approved.IsZero() && !res.prodFinal.IsZero() {
			ds = append(ds, res.prodFinal.Sub(res.approved))
		}
	}
	if len(ds) > 0 {
		fmt.Fprintf(&b, "| approval → prod final under load, p50 / p95 | %s / %s |\n", ms(percentile(ds, 50)), ms(percentile(ds, 95)))
	}
	hwm := fmt.Sprintf("%.0f MB", float64(run.hwmKB)/1024)
	if !run.hwmReset {
		hwm += " (peak since the benchmark started: the kernel refused to reset VmHWM)"
	}
	fmt.Fprintf(&b, "| peak RSS of the sandbox process (VmHWM; it also hosts the benchmark's driver and the CLI) | %s |\n", hwm)
	fmt.Fprintf(&b, "| function processes (separate; sampled every 250 ms; the sandbox runs at most 10 per function version and queues further invokes): peak count / peak total RSS | %d / %.0f MB |\n", run.procs, float64(run.procKB)/1024)
	fmt.Fprintf(&b, "| AWS API calls answered (pipeline / all, incl. the CLI) | %d / %d |\n", pipelineCalls, len(run.calls))
	fmt.Fprintf(&b, "| calls answered with an error status | %d |\n", errs)
	b.WriteString(failures("concurrent", failed))
	r.section("6. Scale", b.String())
}

// runtimeGC returns the garbage of earlier runs to the OS, so the scale
// run's peak RSS is its own.
func runtimeGC() {
	runtime.GC()
	debug.FreeOSMemory()
}
