// Package delivery computes the four key metrics of software delivery that
// DORA's research uses — deployment frequency, lead time for changes,
// change failure rate and time to restore service ("DORA's software
// delivery metrics: the four keys", https://dora.dev/guides/dora-metrics-four-keys/)
// — from aliasflow's audit trail, where every fact they need is recorded:
//
//   - a deployment is a promotion that put prod at 100 % on its version
//     (promotion.completed);
//   - its lead time runs from the release (release.published: the build
//     succeeded and its version was published) to that completion — the
//     trail records no commit time, so "from commit" is "from build";
//   - a change is a version that reached prod (completed, or rolled back
//     after prod met it) or a move of prod outside aliasflow
//     (alias.drifted); it failed when it was rolled back, or the drift was
//     reverted;
//   - the time to restore runs from the first moment prod served the
//     failed change (its first traffic shift, or the drift) to the
//     rollback or revert.
//
// Lead time and time to restore are medians, as DORA reports them.
package delivery

import (
	"fmt"
	"slices"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// Metrics are the four keys over a window.
type Metrics struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Deployments is how many promotions completed in the window;
	// DeploymentsPerDay divides them by the window's days.
	Deployments       int     `json:"deployments"`
	DeploymentsPerDay float64 `json:"deploymentsPerDay"`
	// LeadTime is the median time from release to prod at 100 %, over
	// LeadTimes deployments; zero when there is none.
	LeadTime  Duration `json:"leadTime"`
	LeadTimes int      `json:"leadTimes"`
	// Changes reached prod in the window; Failures of them were rolled
	// back or reverted. ChangeFailureRate is their ratio, 0 with no change.
	Changes           int     `json:"changes"`
	Failures          int     `json:"failures"`
	ChangeFailureRate float64 `json:"changeFailureRate"`
	// TimeToRestore is the median time from prod first serving a failed
	// change to its rollback, over Restores failures.
	TimeToRestore Duration `json:"timeToRestore"`
	Restores      int      `json:"restores"`
}

// Duration is a time.Duration written as its string in JSON ("1h22m30s")
// and read back from it.
type Duration time.Duration

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads what MarshalText writes.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

type change struct{ function, version string }

// Compute reads the four keys off recs (any order, duplicates allowed: a
// retried task may log a record twice) for the window [since, until).
// Records before the window are read for what happened earlier to a change
// counted in it (its release, its first exposure).
func Compute(recs []audit.Record, since, until time.Time) Metrics {
	recs = slices.Clone(recs)
	slices.SortStableFunc(recs, func(a, b audit.Record) int { return a.Time.Compare(b.Time) })
	in := func(r audit.Record) bool { return !r.Time.Before(since) && r.Time.Before(until) }
	m := Metrics{Since: since, Until: until}

	released := map[change]time.Time{} // first release.published
	exposed := map[change]time.Time{}  // first time prod served it
	for _, r := range recs {
		c := change{r.Function, r.ToVersion}
		if r.Event == audit.ReleasePublished && r.ToVersion != "" {
			if _, ok := released[c]; !ok {
				released[c] = r.Time
			}
		}
		if r.Alias == promotion.AliasProd && r.ToVersion != "" && exposes(r.Event) {
			if _, ok := exposed[c]; !ok {
				exposed[c] = r.Time
			}
		}
	}

	changes := map[change]bool{}
	completed := map[change]bool{}
	failed := map[change]bool{}
	var leads, restores []time.Duration
	for i, r := range recs {
		if !in(r) || r.Alias != promotion.AliasProd {
			continue
		}
		switch r.Event {
		case audit.PromotionCompleted:
			c := change{r.Function, r.ToVersion}
			if completed[c] {
				continue
			}
			completed[c], changes[c] = true, true
			m.Deployments++
			if t, ok := released[c]; ok && !t.After(r.Time) {
				leads = append(leads, r.Time.Sub(t))
			}
		case audit.PromotionRolledBack:
			c := change{r.Function, r.FromVersion}
			if failed[c] {
				continue
			}
			failed[c], changes[c] = true, true
			if t, ok := exposed[c]; ok && !t.After(r.Time) {
				restores = append(restores, r.Time.Sub(t))
			}
		case audit.AliasDrifted:
			c := change{r.Function, "drift@" + r.Time.String()}
			changes[c] = true
			if revert, ok := reverted(recs[i+1:], r); ok {
				failed[c] = true
				restores = append(restores, revert.Sub(r.Time))
			}
		}
	}
	if days := until.Sub(since).Hours() / 24; days > 0 {
		m.DeploymentsPerDay = float64(m.Deployments) / days
	}
	m.Changes, m.Failures = len(changes), len(failed)
	if m.Changes > 0 {
		m.ChangeFailureRate = float64(m.Failures) / float64(m.Changes)
	}
	m.LeadTime, m.LeadTimes = median(leads), len(leads)
	m.TimeToRestore, m.Restores = median(restores), len(restores)
	return m
}

// exposes says whether an event puts prod (partly) on its ToVersion.
func exposes(e audit.Event) bool {
	switch e {
	case audit.TrafficShifted, audit.AliasMoved, audit.PromotionCompleted, audit.AliasDrifted:
		return true
	}
	return false
}

// reverted finds when prod went back to the version a drift moved it from.
func reverted(later []audit.Record, drift audit.Record) (time.Time, bool) {
	for _, r := range later {
		if r.Function == drift.Function && r.Alias == promotion.AliasProd && exposes(r.Event) && r.ToVersion != "" {
			if r.ToVersion == drift.FromVersion {
				return r.Time, true
			}
			return time.Time{}, false // moved on elsewhere: not a revert
		}
	}
	return time.Time{}, false
}

func median(ds []time.Duration) Duration {
	if len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return Duration(ds[n/2])
	}
	return Duration((ds[n/2-1] + ds[n/2]) / 2)
}

// Window is the span the four keys are reported over, as DORA's survey
// asks of them and `aliasflow report` does by default.
const Window = 30 * 24 * time.Hour

// Emitter writes one metric (metrics.Emitter, an EMF line).
type Emitter interface {
	Emit(function, name string, value float64, unit string) error
}

// Emit writes a function's four keys as CloudWatch metrics (EMF), for the
// stack's dashboard: deployments a day always; lead time, change failure
// rate and time to restore only when there is something to measure, so an
// idle function draws no false zero.
func Emit(e Emitter, function string, m Metrics) error {
	type metric struct {
		name, unit string
		value      float64
		ok         bool
	}
	for _, x := range []metric{
		{metrics.DeploymentsPerDay, metrics.Count, m.DeploymentsPerDay, true},
		{metrics.DeliveryLeadTime, metrics.Seconds, time.Duration(m.LeadTime).Seconds(), m.LeadTimes > 0},
		{metrics.ChangeFailureRate, metrics.Percent, 100 * m.ChangeFailureRate, m.Changes > 0},
		{metrics.TimeToRestore, metrics.Seconds, time.Duration(m.TimeToRestore).Seconds(), m.Restores > 0},
	} {
		if !x.ok {
			continue
		}
		if err := e.Emit(function, x.name, x.value, x.unit); err != nil {
			return fmt.Errorf("delivery: emit %s of %s: %w", x.name, function, err)
		}
	}
	return nil
}
