package deploy_test

import (
	"math"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/quota"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"golang.org/x/time/rate"
)

// TestControlPlaneBudget: the shares of the Lambda control plane, each
// environment's bucket full and all of them drawing as fast as their
// pacing lets them, stay within ControlPlaneBudget of the account's 15
// requests a second as the sandbox meters it (sandbox/quota.Default, AWS's
// "Lambda quotas" page) — and PeakPerSecond says what each share does.
func TestControlPlaneBudget(t *testing.T) {
	rule, ok := quota.Default().Rule("lambda control plane")
	if !ok || rule.Rate != deploy.LambdaControlPlaneRate {
		t.Fatalf("sandbox/quota's lambda control plane rule = %+v; want its rate %g, deploy.LambdaControlPlaneRate", rule, deploy.LambdaControlPlaneRate)
	}
	budget := int(math.Floor(deploy.ControlPlaneBudget * deploy.LambdaControlPlaneRate))
	sum := 0
	tests := []struct {
		name   string
		shares []deploy.ControlPlaneShare
	}{
		{name: "all shares at once", shares: deploy.ControlPlaneShares},
	}
	for _, s := range deploy.ControlPlaneShares {
		tests = append(tests, struct {
			name   string
			shares []deploy.ControlPlaneShare
		}{name: s.Function, shares: []deploy.ControlPlaneShare{s}})
		sum += s.PeakPerSecond()
	}
	if sum > budget {
		t.Errorf("the shares' peaks sum to %d requests a second; want ≤ %d (%.0f %% of %g)", sum, budget, 100*deploy.ControlPlaneBudget, deploy.LambdaControlPlaneRate)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := 0
			for _, s := range tc.shares {
				want += s.PeakPerSecond()
			}
			if got := simulatedPeak(tc.shares, 30*time.Second); got != want || got > budget {
				t.Errorf("peak requests in one second = %d; want %d (PeakPerSecond), ≤ %d", got, want, budget)
			}
		})
	}
}

// simulatedPeak runs every environment of shares for d on a simulated
// clock, each making a control-plane request whenever its pacing allows,
// and returns the sandbox's peak in one second.
func simulatedPeak(shares []deploy.ControlPlaneShare, d time.Duration) int {
	start := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	now := start
	q := quota.New(quota.Default().Scaled(1000), func() time.Time { return now })
	var lims []*rate.Limiter
	for _, s := range shares {
		for range s.Environments {
			l := rate.NewLimiter(rate.Limit(s.Rate), s.Burst)
			l.AllowN(start, 0)
			lims = append(lims, l)
		}
	}
	for ; now.Before(start.Add(d)); now = now.Add(time.Millisecond) {
		for _, l := range lims {
			for l.AllowN(now, 1) {
				q.Take("123456789012", "us-east-1", "lambda", "UpdateAlias")
			}
		}
	}
	for _, u := range q.Usage() {
		if u.Rule == "lambda control plane" {
			return u.PeakPerSecond
		}
	}
	return 0
}

func TestControlPlaneShareOf(t *testing.T) {
	for _, fn := range []string{deploy.ReleaseFunction, deploy.ShiftFunction, deploy.ReconcileFunction} {
		if got := deploy.ControlPlaneShareOf(fn); got.Function != fn || got.Environments < 1 || got.Rate <= 0 || got.Burst < 1 {
			t.Errorf("ControlPlaneShareOf(%s) = %+v; want its share", fn, got)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("ControlPlaneShareOf of a function without a share did not panic")
		}
	}()
	deploy.ControlPlaneShareOf(deploy.SmokeTestFunction)
}
