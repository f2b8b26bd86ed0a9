package e2e

import (
	"fmt"
	"testing"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestKilledProcess kills a pipeline Lambda's process in the middle of its
// task, once for each of release (an asynchronous EventBridge delivery,
// retried by Lambda), smoketest and shift (Step Functions tasks, retried by
// the definition's Retry on Lambda.Unknown, the name Step Functions gives a
// crashed runtime): every step is retried and
// the promotion completes with each change audited once.
func TestKilledProcess(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(tg *config.Target) {
		tg.Strategy = config.StrategyConfig{Type: config.Canary, Percent: 50, BakeSeconds: 1}
	})
	faults := s.world().Sandbox().Lambda().Faults()
	for _, f := range []string{"aliasflow-release", "aliasflow-smoketest", "aliasflow-shift"} {
		faults.CrashNext(f, 1)
	}
	p := s.merge(helloV2, "c0ffee2")
	s.approveByLink(p, approver)
	out := s.waitDone(p, stepTimeout)

	s.wantCanaryOneToTwo(p, out)
	// The history shows the two killed tasks failing and being retried.
	crashed := s.failedTasks(p)
	for _, state := range []string{"SmokeTest", "BeginShift"} {
		if crashed[state] != 1 {
			t.Errorf("history: %d Lambda.Unknown failures in %s, want 1 (the killed process): %v", crashed[state], state, crashed)
		}
	}
	if n := len(crashed); n != 2 {
		t.Errorf("history: task failures in %d states (%v), want 2", n, crashed)
	}
	// The release Lambda's crash shows in the EventBridge delivery: it took
	// a second attempt.
	if err := s.world().Sandbox().Events().Drain(s.ctx); err != nil {
		t.Fatal(err)
	}
	var deliveries []string
	for _, d := range s.world().Sandbox().Events().Deliveries() {
		deliveries = append(deliveries, fmt.Sprintf("%s attempts=%d err=%q", d.Rule, d.Attempts, d.Err))
		if d.Attempts != 2 || d.Err != "" {
			t.Errorf("delivery of the build event to %s: %d attempts, last error %q; want 2 attempts (the killed one and its retry), delivered", d.Arn, d.Attempts, d.Err)
		}
	}
	if len(deliveries) != 1 {
		t.Errorf("deliveries: %v, want the build event's one delivery to aliasflow-release", deliveries)
	}
	if got := s.versions(); len(got) != 3 {
		t.Errorf("versions of hello: %v, want $LATEST,1,2 (the retried release publishes once)", got)
	}
}

// failedTasks counts, per state, the Lambda task failures in p's history,
// each of which must be named Lambda.Unknown as Step Functions names an
// unhandled error ("Handle Lambda service exceptions").
func (s *scenario) failedTasks(p *promo) map[string]int {
	s.t.Helper()
	events, err := s.history(p.arn)
	if err != nil {
		s.t.Fatal(err)
	}
	state := ""
	out := map[string]int{}
	for _, e := range events {
		if d := e.StateEnteredEventDetails; d != nil {
			state = aws.ToString(d.Name)
		}
		var errName string
		switch {
		case e.LambdaFunctionFailedEventDetails != nil:
			errName = aws.ToString(e.LambdaFunctionFailedEventDetails.Error)
		case e.TaskFailedEventDetails != nil:
			errName = aws.ToString(e.TaskFailedEventDetails.Error)
		default:
			continue
		}
		if errName != "Lambda.Unknown" {
			s.t.Errorf("history: %s failed with %q, want Lambda.Unknown from the killed process", state, errName)
		}
		out[state]++
	}
	return out
}

// TestThrottling throttles 30% of the Lambda API calls (UpdateAlias,
// PublishVersion, GetAlias, Invoke, …) for the whole promotion: the
// pipeline retries them and the canary completes, audited exactly once.
func TestThrottling(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(tg *config.Target) {
		tg.Strategy = config.StrategyConfig{Type: config.Linear, Percent: 50, IntervalSeconds: 1}
		tg.SmokeRetries = 4
	})
	faults := s.world().Sandbox().Lambda().Faults()
	faults.Throttle(0.3)
	defer faults.Throttle(0)

	p := s.merge(helloV2, "c0ffee2")
	s.approveByLink(p, approver)
	s.waitWaiting(p, "Bake")
	tr := s.generate("/production/")
	out := s.waitDone(p, 2*stepTimeout)
	split := tr.Stop()

	s.wantCanaryOneToTwo(p, out)
	if n := faults.Throttled(); n == 0 {
		t.Errorf("no Lambda API call was throttled; the scenario tested nothing")
	} else {
		t.Logf("%d Lambda API calls throttled; prod traffic during the shift: %v", n, split)
	}
	if split["error"] > 0 {
		t.Errorf("prod traffic during the shift: %v, want no errors (API throttling must not reach users)", split)
	}
	// Once everything has been audited no task is still retrying a
	// throttled call: prod must still be on one version, unweighted.
	s.wantAliases("2", "2")
}
