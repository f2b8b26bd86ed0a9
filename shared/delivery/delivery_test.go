package delivery

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/metrics"
)

func TestComputeDriftsAndEmptyWindows(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	since := now.Add(-7 * 24 * time.Hour)
	rec := func(ago time.Duration, ev audit.Event, from, to string) audit.Record {
		return audit.Record{Audit: true, Event: ev, Function: "hello", Alias: "prod", FromVersion: from, ToVersion: to, Time: now.Add(-ago)}
	}
	tests := []struct {
		name                   string
		recs                   []audit.Record
		changes, failures      int
		restore                time.Duration
		deployments, leadTimes int
	}{
		{"no records: zeros, no division by zero", nil, 0, 0, 0, 0, 0},
		{"a drift reverted 45 minutes later is a failed change", []audit.Record{
			rec(2*time.Hour, audit.AliasDrifted, "5", "3"), rec(75*time.Minute, audit.AliasMoved, "3", "5")}, 1, 1, 45 * time.Minute, 0, 0},
		{"a drift never reverted is a change that did not fail", []audit.Record{rec(2*time.Hour, audit.AliasDrifted, "5", "3")}, 1, 0, 0, 0, 0},
		{"a drift moved on elsewhere is not a revert", []audit.Record{
			rec(2*time.Hour, audit.AliasDrifted, "5", "3"), rec(time.Hour, audit.AliasMoved, "3", "6"), rec(30*time.Minute, audit.AliasMoved, "6", "5")}, 1, 0, 0, 0, 0},
		{"a completion without its release counts, without a lead time", []audit.Record{rec(time.Hour, audit.PromotionCompleted, "1", "2")}, 1, 0, 0, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Compute(tt.recs, since, now)
			if m.Changes != tt.changes || m.Failures != tt.failures || time.Duration(m.TimeToRestore) != tt.restore ||
				m.Deployments != tt.deployments || m.LeadTimes != tt.leadTimes {
				t.Errorf("Compute = %+v, want %d changes, %d failures, restore %s, %d deployments, %d lead times",
					m, tt.changes, tt.failures, tt.restore, tt.deployments, tt.leadTimes)
			}
		})
	}
}

// TestEmit: the four keys as EMF lines, one metric each, in the aliasflow
// namespace with the Function dimension; what has nothing to measure is
// left out rather than drawn as zero.
func TestEmit(t *testing.T) {
	tests := []struct {
		name string
		m    Metrics
		want map[string]float64
	}{
		{"every key", Metrics{DeploymentsPerDay: 0.5, LeadTime: Duration(50 * time.Minute), LeadTimes: 4, Changes: 5, Failures: 2, ChangeFailureRate: 0.4,
			TimeToRestore: Duration(90 * time.Second), Restores: 2},
			map[string]float64{"DeploymentsPerDay": 0.5, "DeliveryLeadTimeSeconds": 3000, "ChangeFailureRatePercent": 40, "TimeToRestoreSeconds": 90}},
		{"an idle function: deployments only", Metrics{}, map[string]float64{"DeploymentsPerDay": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Emit(metrics.New(&out, nil), "hello", tt.m); err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				var doc map[string]any
				if err := json.Unmarshal([]byte(line), &doc); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				if doc["Function"] != "hello" {
					t.Errorf("line %s: Function = %v, want hello", line, doc["Function"])
				}
				for k, v := range doc {
					if f, ok := v.(float64); ok {
						got[k] = f
					}
				}
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("metrics = %v, want %v", got, tt.want)
			}
		})
	}
}
