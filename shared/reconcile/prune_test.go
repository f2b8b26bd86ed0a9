package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/reconcile"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// keepLastOnHello gives hello (only) the policy prune.keepLast: 1.
func keepLastOnHello(t *config.Target) {
	if t.Function == "hello" {
		t.Prune = &config.Prune{KeepLast: 1}
	}
}

func (w *world) versions(fn string) []string {
	w.t.Helper()
	out, err := w.lambda.Admin.ListVersionsByFunction(context.Background(), &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(fn)})
	if err != nil {
		w.t.Fatal(err)
	}
	var vs []string
	for _, v := range out.Versions {
		if n := aws.ToString(v.Version); n != "$LATEST" {
			vs = append(vs, n)
		}
	}
	return vs
}

// TestRunPrunes: a run prunes the targets whose settings set
// prune.keepLast, as `aliasflow prune --yes` does — never a version an
// alias points at or one of the newest it keeps — and never touches a
// target without the policy. The deletions are audited by CloudTrail
// (version.deleted, written by the release function), not by the
// reconciler.
func TestRunPrunes(t *testing.T) {
	w := newWorldWith(t, []string{"hello", "other"}, nil, keepLastOnHello)
	w.moved("prod", "", "2", "hello-v2-0a0a0a0a")
	steps := []struct {
		name        string
		do          func()
		wantDeleted []string
		wantHello   []string
	}{
		{"the first run", func() {}, []string{"hello:1", "hello:3"}, []string{"2", "4"}},
		{"nothing left to prune", func() {}, []string{}, []string{"2", "4"}},
		{"stg moves to 4, a new version 5", func() {
			w.lambda.Deploy(t, "hello")
			if _, err := w.lambda.Admin.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String("hello")}); err != nil {
				t.Fatal(err)
			}
			w.moved("stg", "", "4", "hello-v4-0b0b0b0b")
		}, []string{}, []string{"2", "4", "5"}},
	}
	for _, s := range steps {
		s.do()
		w.advance(5 * time.Minute)
		rep := w.run()
		if !slices.Equal(rep.Deleted, s.wantDeleted) {
			t.Errorf("%s: deleted = %v, want %v", s.name, rep.Deleted, s.wantDeleted)
		}
		if got := w.versions("hello"); !slices.Equal(got, s.wantHello) {
			t.Errorf("%s: hello's versions = %v, want %v", s.name, got, s.wantHello)
		}
		if got, want := w.versions("other"), []string{"1", "2", "3", "4"}; !slices.Equal(got, want) {
			t.Errorf("%s: other's versions (no policy) = %v, want %v", s.name, got, want)
		}
	}
	if n := len(w.records(audit.VersionDeleted)); n != 0 {
		t.Errorf("the reconciler wrote %d version.deleted records; CloudTrail's event is the one record", n)
	}
}

// TestPruneTakesTurns: with more targets to prune than a run prunes, the
// runs of consecutive periods take turns: each run prunes at most
// Options.PruneTargets of them, and every one is pruned once in as many
// runs as there are turns.
func TestPruneTakesTurns(t *testing.T) {
	tests := []struct {
		name             string
		targets, perRun  int
		runs, wantPerRun int
	}{
		{"all in one run", 3, 3, 1, 3},
		{"5 targets, 2 a run: 3 turns", 5, 2, 3, 2},
		{"6 targets, 2 a run: 3 turns", 6, 2, 3, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var fns []string
			for i := range tc.targets {
				fns = append(fns, fmt.Sprintf("fn%d", i))
			}
			w := newWorldWith(t, fns, nil, func(tgt *config.Target) { tgt.Prune = &config.Prune{KeepLast: 1} },
				func(o *reconcile.Options) { o.PruneTargets = tc.perRun })
			pruned := map[string]int{}
			for run := range tc.runs {
				w.advance(reconcile.RunPeriod)
				rep := w.run()
				fnsOf := map[string]bool{}
				for _, d := range rep.Deleted {
					fn, _, _ := strings.Cut(d, ":")
					fnsOf[fn] = true
				}
				if len(fnsOf) > tc.wantPerRun {
					t.Errorf("run %d pruned %d targets %v, want at most %d", run, len(fnsOf), rep.Deleted, tc.wantPerRun)
				}
				for fn := range fnsOf {
					pruned[fn]++
				}
			}
			for _, fn := range fns {
				if pruned[fn] != 1 {
					t.Errorf("%s pruned in %d runs, want 1", fn, pruned[fn])
				}
				if got, want := w.versions(fn), []string{"4"}; !slices.Equal(got, want) {
					t.Errorf("%s's versions = %v, want %v", fn, got, want)
				}
			}
		})
	}
}

// TestPruneKeepsWhatARollbackCouldNeed: a version prod served after an
// approved promotion 60 days ago is one `rollback --to` accepts, so a run
// keeps it as `aliasflow prune` does (the ledger's 90-day window), though
// the delivery metrics read only 30 days; prod's previous version is where
// `rollback` goes, also kept.
func TestPruneKeepsWhatARollbackCouldNeed(t *testing.T) {
	tests := []struct {
		name      string
		completed time.Duration // how long ago prod completed on version 1
		want      []string      // hello's versions left
	}{
		{"60 days ago", 60 * 24 * time.Hour, []string{"1", "2", "3", "4"}},
		{"100 days ago: past the ledger's window", 100 * 24 * time.Hour, []string{"2", "3", "4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorldWith(t, []string{"hello"}, nil, keepLastOnHello)
			w.audited(audit.Record{Event: audit.PromotionCompleted, Alias: "prod", FromVersion: "", ToVersion: "1",
				Execution: "arn:aws:states:us-east-1:000000000000:execution:aliasflow-promotion:hello-v1-0a0a0a0a"})
			w.advance(tc.completed)
			w.moved("prod", "1", "2", "hello-v2-0b0b0b0b")
			w.moved("prod", "2", "3", "hello-v3-0c0c0c0c") // 2: where `rollback` goes
			w.advance(5 * time.Minute)
			w.run()
			if got := w.versions("hello"); !slices.Equal(got, tc.want) {
				t.Errorf("hello's versions = %v, want %v", got, tc.want)
			}
		})
	}
}

// failing makes the reconciler's Lambda calls of op fail.
func (i *invokes) failing(op string, err error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.fail == nil {
		i.fail = map[string]error{}
	}
	i.fail[op] = err
}

func (i *invokes) failure(op string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.fail[op]
}

func (i *invokes) ListVersionsByFunction(ctx context.Context, in *lambda.ListVersionsByFunctionInput, opts ...func(*lambda.Options)) (*lambda.ListVersionsByFunctionOutput, error) {
	if err := i.failure("ListVersionsByFunction"); err != nil {
		return nil, err
	}
	return i.Client.ListVersionsByFunction(ctx, in, opts...)
}

func (i *invokes) DeleteFunction(ctx context.Context, in *lambda.DeleteFunctionInput, opts ...func(*lambda.Options)) (*lambda.DeleteFunctionOutput, error) {
	if err := i.failure("DeleteFunction"); err != nil {
		return nil, err
	}
	return i.Client.DeleteFunction(ctx, in, opts...)
}

// TestPruneFailureIsReportedLast: a prune that fails (planning or
// deleting, or the invocation nearly out of time) does not keep drift from
// being reported; its error comes with the run's, naming the failure, and
// nothing is deleted after it.
func TestPruneFailureIsReportedLast(t *testing.T) {
	tests := []struct {
		name, op string
		timeout  time.Duration // of the invocation; 0: none
		wantErr  string
	}{
		{"planning fails", "ListVersionsByFunction", 0, "the test's failure"},
		{"deleting fails", "DeleteFunction", 0, "the test's failure"},
		{"the invocation's deadline is near", "", 10 * time.Second, "context deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorldWith(t, []string{"hello"}, nil, keepLastOnHello)
			w.moved("prod", "", "1", "hello-v1-0a0a0a0a")
			w.lambda.SetAlias(t, "hello", "prod", "2", nil) // by hand: drift
			if tc.op != "" {
				w.invokes.failing(tc.op, errors.New("the test's failure"))
			}
			w.advance(5 * time.Minute)
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			rep, err := w.h.Handle(ctx, nil)
			if err == nil || !strings.Contains(err.Error(), "prune") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Handle: error %v, want the prune's failure (%s)", err, tc.wantErr)
			}
			if want := []string{"hello:prod"}; !slices.Equal(rep.Drifted, want) {
				t.Errorf("drifted = %v, want %v (drift runs whatever prune does)", rep.Drifted, want)
			}
			if len(rep.Deleted) != 0 {
				t.Errorf("deleted = %v, want none", rep.Deleted)
			}
			if got, want := w.versions("hello"), []string{"1", "2", "3", "4"}; !slices.Equal(got, want) {
				t.Errorf("hello's versions (1 was prod's) = %v, want %v", got, want)
			}
		})
	}
}

// emf reads the EMF lines the run wrote: metric → function → values.
func (w *world) emfValues() map[string]map[string][]float64 {
	w.t.Helper()
	out := map[string]map[string][]float64{}
	for _, line := range strings.Split(strings.TrimSpace(w.emf.String()), "\n") {
		if line == "" {
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			w.t.Fatalf("EMF line %q: %v", line, err)
		}
		fn, _ := doc["Function"].(string)
		for k, v := range doc {
			if f, ok := v.(float64); ok {
				if out[k] == nil {
					out[k] = map[string][]float64{}
				}
				out[k][fn] = append(out[k][fn], f)
			}
		}
	}
	return out
}

// TestRunEmitsDeliveryMetrics: every run writes each target's four keys
// (shared/delivery over the last 30 days) as EMF for the dashboard's
// delivery row, from the one trail read the run makes anyway.
func TestRunEmitsDeliveryMetrics(t *testing.T) {
	c := &counter{n: map[string]int{}}
	w := newWorldWith(t, []string{"hello", "other"}, c, nil)
	w.audited(audit.Record{Event: audit.ReleasePublished, Alias: "stg", ToVersion: "2"})
	w.advance(time.Hour)
	w.audited(audit.Record{Event: audit.TrafficShifted, Alias: "prod", FromVersion: "1", ToVersion: "2"})
	w.advance(30 * time.Minute)
	w.audited(audit.Record{Event: audit.PromotionCompleted, Alias: "prod", FromVersion: "1", ToVersion: "2"})
	w.advance(time.Hour)
	w.audited(audit.Record{Event: audit.ReleasePublished, Alias: "stg", ToVersion: "3"})
	w.advance(time.Hour)
	w.audited(audit.Record{Event: audit.TrafficShifted, Alias: "prod", FromVersion: "2", ToVersion: "3"})
	w.advance(20 * time.Minute)
	w.audited(audit.Record{Event: audit.PromotionRolledBack, Alias: "prod", FromVersion: "3", ToVersion: "2"})
	w.advance(time.Minute)
	w.run()
	got := w.emfValues()
	tests := []struct {
		name, metric, function string
		want                   []float64 // nil: not emitted
	}{
		{"hello's deployments a day", metrics.DeploymentsPerDay, "hello", []float64{1.0 / 30}},
		{"hello's lead time: release to prod at 100 %", metrics.DeliveryLeadTime, "hello", []float64{90 * 60}},
		{"hello's change failure rate: 2 changes, 1 rolled back", metrics.ChangeFailureRate, "hello", []float64{50}},
		{"hello's time to restore: first shift to rollback", metrics.TimeToRestore, "hello", []float64{20 * 60}},
		{"an idle target deploys 0 a day", metrics.DeploymentsPerDay, "other", []float64{0}},
		{"an idle target has no lead time", metrics.DeliveryLeadTime, "other", nil},
		{"an idle target has no failure rate", metrics.ChangeFailureRate, "other", nil},
		{"an idle target has no time to restore", metrics.TimeToRestore, "other", nil},
	}
	for _, tc := range tests {
		vs := got[tc.metric][tc.function]
		if len(vs) != len(tc.want) {
			t.Errorf("%s: %s of %s = %v, want %v", tc.name, tc.metric, tc.function, vs, tc.want)
			continue
		}
		for i := range vs {
			if math.Abs(vs[i]-tc.want[i]) > 1e-9 {
				t.Errorf("%s: %s of %s = %v, want %v", tc.name, tc.metric, tc.function, vs, tc.want)
			}
		}
	}
	if n := c.n["FilterLogEvents"]; n != 1 {
		t.Errorf("FilterLogEvents calls = %d, want 1 (the run's one read of the trail)", n)
	}
}
