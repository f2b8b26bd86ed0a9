// Package metrics writes CloudWatch embedded metric format (EMF) lines: a
// metric is a log line, so a task adds no PutMetricData call.
package metrics

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of aliasflow's metrics.
const Namespace = "aliasflow"

// The metric names the dashboard and alarms read.
const (
	PromotionsStarted    = "PromotionsStarted"
	PromotionsCompleted  = "PromotionsCompleted"
	PromotionsRolledBack = "PromotionsRolledBack"
	PromotionsRejected   = "PromotionsRejected"
	LeadTime             = "LeadTimeSeconds"
	ApprovalWait         = "ApprovalWaitSeconds"
	// The reconciler's findings, one per finding, to alarm on.
	AliasesDrifted  = "AliasesDrifted"
	ReleasesSwept   = "ReleasesSwept"
	PromotionsStuck = "PromotionsStuck"
	// DORA's four keys over the last 30 days (package delivery), as the
	// reconciler computes them from the trail.
	DeploymentsPerDay = "DeploymentsPerDay"
	DeliveryLeadTime  = "DeliveryLeadTimeSeconds"
	ChangeFailureRate = "ChangeFailureRatePercent"
	TimeToRestore     = "TimeToRestoreSeconds"
)

// Units used by the metrics above.
const (
	Count   = "Count"
	Seconds = "Seconds"
	Percent = "Percent"
)

// Emitter writes EMF lines to one writer (a Lambda's stdout).
type Emitter struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// New returns an Emitter writing to w; now defaults to time.Now.
func New(w io.Writer, now func() time.Time) *Emitter {
	if now == nil {
		now = time.Now
	}
	return &Emitter{w: w, now: now}
}

// Emit writes one metric with the Function dimension.
func (e *Emitter) Emit(function, name string, value float64, unit string) error {
	doc := map[string]any{
		"_aws": map[string]any{
			"Timestamp": e.now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  Namespace,
				"Dimensions": [][]string{{"Function"}},
				"Metrics":    []any{map[string]string{"Name": name, "Unit": unit}},
			}},
		},
		"Function": function,
		name:       value,
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err = e.w.Write(append(line, '\n'))
	return err
}
