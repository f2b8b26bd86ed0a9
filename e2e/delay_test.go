package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// TestMetricsVerdictUnderDefaultDelay runs a metrics-only canary with the
// sandbox's default, AWS-like publication delay (a minute's Lambda
// datapoints readable three minutes after it ends; "Using CloudWatch
// metrics with Lambda": metrics are sent in 1-minute intervals). The canary
// of a version failing half its calls bakes the shortest step allowed
// without a fresh signal (health.metricDelaySeconds, 240 s); a check reads
// every minute CloudWatch has published — the shift's own minute is, three
// minutes after it ends — and rolls back, blaming the metrics, within
// health.metricDelaySeconds + 60 s of the shift. It is slow (about four
// minutes) by nature; traffic runs for the first minute only.
func TestMetricsVerdictUnderDefaultDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the AWS-like metric delay (about five minutes)")
	}
	t.Parallel()
	s := newScenario(t, func(tg *config.Target) {
		tg.Strategy = config.StrategyConfig{Type: config.Canary, Percent: 50, BakeSeconds: config.DefaultMetricDelaySeconds}
		tg.SmokeChecks = tg.SmokeChecks[1:]
		tg.SmokeRetries = 10
		tg.Health.Alarms = nil
		tg.Health.FreshSignal, tg.Health.LogRuntime = "", ""
		tg.Health.MetricDelaySeconds = config.DefaultMetricDelaySeconds
		tg.Health.MaxBakeSeconds = 600
		tg.Health.OnInconclusive = config.OnInconclusiveRollback
	})
	p := s.merge(helloFlaky, "f1a4e00")
	s.approveByLink(p, approver)
	s.waitWaiting(p, "Bake")
	shifted := time.Now()
	tr := s.generate("/production/")
	time.Sleep(70 * time.Second)
	split := tr.Stop()
	out := s.waitDone(p, 8*time.Minute)
	took := time.Since(shifted)

	s.wantExecution(out, sfntypes.ExecutionStatusFailed, "RolledBack")
	s.wantAliases("2", "1")
	recs, err := s.auditRecords()
	if err != nil {
		t.Fatal(err)
	}
	var failed *audit.Record
	for i := range recs {
		if recs[i].Event == audit.HealthFailed {
			failed = &recs[i]
		}
	}
	if failed == nil || failed.Verdict == nil || failed.Verdict.DecidedBy != "metrics" || !strings.Contains(failed.Reason, "error rate") {
		t.Fatalf("health.failed %+v, want the metrics' error rate to decide", failed)
	}
	if ev := failed.Verdict.Sources[0]; ev.NewErrors == 0 || ev.StableInvocations == 0 {
		t.Errorf("evidence %+v, want errors of version 2 and calls of version 1 over the same window", ev)
	}
	// Not before the delay: the step's first minute is readable 3 minutes
	// after it ends at the earliest (the sandbox's delay); and within the
	// budget, health.metricDelaySeconds + 60 s (with slack for the
	// machine: the first check comes at the bake's end, 240 s).
	if took < 3*time.Minute || took > 6*time.Minute {
		t.Errorf("verdict %s after the shift, want between the sandbox's 3 min metric delay and 6 min", took.Round(time.Second))
	}
	t.Logf("traffic %v; rolled back %s after the shift on %s", split, took.Round(time.Second), failed.Reason)
}
