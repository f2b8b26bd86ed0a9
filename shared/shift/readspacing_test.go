package shift

import (
	"testing"

	"github.com/aliasflow/aliasflow/shared/config"
)

// TestQuotaFloor: 200 promotions checking health every floor seconds use at
// most 80 % of each read's quota (FilterLogEvents 5/s, DescribeAlarms 9/s,
// GetMetricData 50/s per account and Region).
func TestQuotaFloor(t *testing.T) {
	tests := []struct {
		name string
		h    config.Health
		want int
	}{
		{name: "metrics only", h: config.Health{}, want: 5},
		{name: "an alarm", h: config.Health{Alarms: []string{"a"}}, want: 28},
		{name: "log streams and an alarm", h: config.Health{Alarms: []string{"a"}, FreshSignal: config.FreshSignalLogs}, want: 50},
		{name: "150 alarms: two DescribeAlarms a check", h: config.Health{Alarms: make([]string, 150)}, want: 56},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := quotaFloor(tc.h)
			if got != tc.want {
				t.Errorf("quotaFloor = %d, want %d", got, tc.want)
			}
			// The floor's own arithmetic: bakingBudget checks per floor
			// seconds stay within the share of the tightest quota.
			if rate := float64(bakingBudget) / float64(got); tc.h.FreshSignal == config.FreshSignalLogs && rate > quotaShare*filterLogEventsTPS {
				t.Errorf("%d checks every %d s = %.2f/s, above %g/s", bakingBudget, got, rate, quotaShare*filterLogEventsTPS)
			}
		})
	}
}

// TestSpacedByQuota: never sooner than asked, at least the floor, spread
// per promotion, never past the step's remaining bake.
func TestSpacedByQuota(t *testing.T) {
	logs := config.Health{FreshSignal: config.FreshSignalLogs}
	tests := []struct {
		name           string
		ext, remaining int
		wantMin        int
		wantMax        int
	}{
		{name: "raised to the floor", ext: 15, remaining: 900, wantMin: 50, wantMax: 62},
		{name: "a longer wait kept", ext: 120, remaining: 900, wantMin: 120, wantMax: 120},
		{name: "capped at the bake left", ext: 15, remaining: 20, wantMin: 20, wantMax: 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := spacedByQuota(logs, "arn:aws:states:us-east-1:000000000000:execution:aliasflow-promotion:hello-v5-9f86d081", tc.ext, tc.remaining)
			if got < tc.wantMin || got > tc.wantMax {
				t.Errorf("spacedByQuota = %d, want %d–%d", got, tc.wantMin, tc.wantMax)
			}
		})
	}
}
