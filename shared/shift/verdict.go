package shift

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
)

// Verdict outcomes, as the shift names them (audit.Outcome).
const (
	Healthy      = audit.Healthy
	Unhealthy    = audit.Unhealthy
	Inconclusive = audit.Inconclusive
)

// alpha is the level of both one-sided tests (stats.go): the chance that a
// healthy version is failed by one look, or a version above the limit is
// passed by one look. A step is looked at a handful of times, so the
// overall rates stay a few times alpha at most.
const alpha = 0.01

// testName is how a verdict names its test.
var testName = fmt.Sprintf("exact one-sided binomial test vs the stable version's rate + allowance, and Clopper–Pearson upper bound to pass, alpha %.2g", alpha)

// decision is a verdict with its human reason.
type decision struct {
	audit.Verdict
	Reason string
}

// decide judges the evidence of one step. need is the end of the exposure
// the data must cover before the step can pass (the step's start plus its
// configured bake). Any source showing the new version significantly worse
// fails it; it passes only on a source that sees handled function errors
// and covers the exposure with at least MinInvocations calls whose upper
// bound is within the limit; else the verdict is inconclusive. No data is
// never healthy, and a source blind to handled errors (a log stream whose
// runtime's error line is not known: on Lambda a handled error leaves the
// REPORT line without a Status) can fail a step but never pass it.
func decide(h config.Health, need time.Time, sources []audit.Evidence) decision {
	d := decision{Verdict: audit.Verdict{Outcome: Inconclusive, Test: testName,
		MaxErrorRate: h.MaxErrorRate, MinInvocations: h.MinInvocations}}
	var waits []string
	for i := range sources {
		ev := &sources[i]
		ev.Covered = !ev.FreshThrough.Before(need)
		n, e := int(ev.NewInvocations), int(ev.NewErrors)
		ev.ErrorRateLimit = errorRateLimit(h, *ev)
		ev.UpperBound = upperBound(e, n, alpha)
		ev.CallsNeeded = callsNeeded(h, ev.ErrorRateLimit)
		if n < max(h.MinInvocations, 1) {
			what := "no invocations"
			if n > 0 {
				what = fmt.Sprintf("%d invocations", n)
			}
			waits = append(waits, fmt.Sprintf("%s: %s of version %s yet, %d needed (data through %s)",
				ev.Source, what, ev.NewVersion, max(h.MinInvocations, 1), clock(ev.FreshThrough)))
			continue
		}
		if binomTailAtLeast(e, n, ev.ErrorRateLimit) < alpha {
			d.Outcome, d.DecidedBy = Unhealthy, ev.Source
			d.Reason = fmt.Sprintf("%s: error rate %s (%d errors / %d invocations of version %s, %s–%s) is significantly above the limit %s (stable version %s: %s errors / %s)",
				ev.Source, alias.Percent(float64(e)/float64(n)), e, n, ev.NewVersion, clock(ev.From), clock(ev.To),
				alias.Percent(ev.ErrorRateLimit), ev.StableVersion, num(ev.StableErrors), num(ev.StableInvocations))
			break
		}
		if r := h.MaxP99LatencyRatio; r > 0 && ev.NewP99Ms > 0 && ev.StableP99Ms > 0 &&
			int(ev.StableInvocations) >= h.MinInvocations && ev.NewP99Ms > r*ev.StableP99Ms {
			d.Outcome, d.DecidedBy = Unhealthy, "latency"
			d.Reason = fmt.Sprintf("%s: p99 duration %.0f ms of version %s is above %.2g× the stable version's %.0f ms",
				ev.Source, ev.NewP99Ms, ev.NewVersion, r, ev.StableP99Ms)
			break
		}
		switch {
		case !ev.SeesHandledErrors:
			why := ev.Blind
			if why == "" {
				why = "it cannot see handled function errors"
			}
			waits = append(waits, fmt.Sprintf("%s: %d errors / %d invocations, but %s, so it can fail the step, never pass it",
				ev.Source, e, n, why))
		case !ev.Covered:
			waits = append(waits, fmt.Sprintf("%s: complete only through %s, the step's exposure runs to %s",
				ev.Source, clock(ev.FreshThrough), clock(need)))
		case ev.UpperBound > ev.ErrorRateLimit:
			waits = append(waits, fmt.Sprintf("%s: %d errors / %d invocations; the rate may still be up to %s, above the limit %s",
				ev.Source, e, n, alias.Percent(ev.UpperBound), alias.Percent(ev.ErrorRateLimit)))
		case d.DecidedBy == "":
			d.DecidedBy = ev.Source
		}
	}
	d.Sources = sources
	if d.Outcome != Unhealthy && d.DecidedBy != "" && h.MaxP99LatencyRatio > 0 {
		// With a latency guard, a step passes only once a source that sees
		// latency (durations: the log streams' REPORT lines, the metrics'
		// p99) has compared both versions over the step: probes see errors,
		// not how slow the version is for users.
		if why := latencyUnjudged(h, sources); why != "" {
			d.DecidedBy = ""
			waits = append(waits, why)
		}
	}
	switch {
	case d.Outcome == Unhealthy:
	case d.DecidedBy != "":
		d.Outcome = Healthy
		for _, ev := range sources {
			if ev.Source == d.DecidedBy {
				d.Reason = fmt.Sprintf("%s: %s errors / %s invocations of version %s (%s–%s), rate at most %s with %.0f%% confidence, within the limit %s",
					ev.Source, num(ev.NewErrors), num(ev.NewInvocations), ev.NewVersion, clock(ev.From), clock(ev.To),
					alias.Percent(ev.UpperBound), 100*(1-alpha), alias.Percent(ev.ErrorRateLimit))
			}
		}
	case len(sources) == 0:
		d.Reason = "no evidence read"
	default:
		d.Reason = strings.Join(waits, "; ")
	}
	return d
}

// latencyUnjudged says why no source has judged the step's latency yet
// ("" when one has): one that sees latency, covers the step and read at
// least MinInvocations calls of each version.
func latencyUnjudged(h config.Health, sources []audit.Evidence) string {
	var seen []string
	for _, ev := range sources {
		if !ev.SeesLatency {
			continue
		}
		if ev.Covered && ev.NewP99Ms > 0 && ev.StableP99Ms > 0 &&
			int(ev.NewInvocations) >= max(h.MinInvocations, 1) && int(ev.StableInvocations) >= max(h.MinInvocations, 1) {
			return ""
		}
		seen = append(seen, ev.Source)
	}
	if len(seen) == 0 {
		return "latency: health.maxP99LatencyRatio is set and no source read sees latency, so the step cannot pass yet"
	}
	return fmt.Sprintf("latency: %s has not yet compared the p99 duration of both versions over the step", strings.Join(seen, ", "))
}

// callsNeeded is how many calls of the new version, none failing, the
// step needs before it can pass against limit: the smallest n whose
// Clopper–Pearson upper bound of 0 errors in n is within the limit, which
// solves (1-limit)^n <= alpha (stats.go), and at least MinInvocations.
// 0 when no number of calls can pass (a limit of 0).
func callsNeeded(h config.Health, limit float64) int {
	if limit <= 0 {
		return 0
	}
	n := 1
	if limit < 1 {
		n = int(math.Ceil(math.Log(alpha) / math.Log1p(-limit)))
		// Round-off at the boundary: hold it to the bound itself.
		for n > 1 && upperBound(0, n-1, alpha) <= limit {
			n--
		}
		for upperBound(0, n, alpha) > limit {
			n++
		}
	}
	return max(n, h.MinInvocations, 1)
}

// errorRateLimit is the rate the new version is held to: the stable
// version's rate over the same window, when it has enough calls to be
// read, plus the allowed excess.
func errorRateLimit(h config.Health, ev audit.Evidence) float64 {
	base := 0.0
	if ev.StableInvocations >= float64(max(h.MinInvocations, 1)) {
		base = ev.StableErrors / ev.StableInvocations
	}
	return min(1, base+h.MaxErrorRate)
}

func clock(t time.Time) string { return t.UTC().Format("15:04:05") }
