package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/local"
	logssvc "github.com/aliasflow/aliasflow/sandbox/logs"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/metrics"
)

// reconcileSchedule is the schedule the pipeline stack runs the reconciler
// on.
const reconcileSchedule = deploy.ReconcileSchedule

// reconcilerRuns counts the reconciler's runs in the world: each writes
// every target's delivery metrics, hello's DeploymentsPerDay among them,
// as one EMF line to the pipeline's log group.
func reconcilerRuns(t *testing.T, w *local.World) int {
	t.Helper()
	evs, err := w.Sandbox().Logs().Filter(logssvc.FilterQuery{Group: deploy.PipelineLogGroup, FilterPattern: `"` + metrics.DeploymentsPerDay + `"`})
	if err != nil {
		t.Fatalf("read %s: %v", deploy.PipelineLogGroup, err)
	}
	n := 0
	for _, e := range evs {
		if strings.Contains(e.Message, `"_aws"`) {
			n++
		}
	}
	return n
}

// waitRuns waits until the reconciler has run at least n times.
func waitRuns(t *testing.T, w *local.World, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := reconcilerRuns(t, w)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the reconciler ran %d times, want at least %d (schedule invocations: %v)", within, got, n, w.Fired())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// lockedBuffer is the world's log, written by its goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWorldRunsTheReconcilerOnItsSchedule: the world runs the templates'
// EventBridge Scheduler schedule as Scheduler does — the reconciler is
// invoked when the schedule is created, with the target's Input, as the
// schedule's execution role — at the template's rate unless a test
// shortens it (Options.Schedules), never by editing the template.
func TestWorldRunsTheReconcilerOnItsSchedule(t *testing.T) {
	for _, c := range []struct {
		name string
		// rate overrides the schedule's (0: the template's 5 minutes).
		rate time.Duration
		// wantRuns within a minute; with held, none in 3 s.
		wantRuns int
		held     bool
	}{
		{"the template's rate: one run when the schedule is created", 0, 1, false},
		{"a rate shortened by the test: a run each second", time.Second, 3, false},
		{"held by the test: never run", local.NoSchedule, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			opts := local.Options{BinDir: binDir(t), WorkDir: t.TempDir()}
			if c.rate != 0 {
				opts.Schedules = map[string]time.Duration{reconcileSchedule: c.rate}
			}
			w, err := local.Start(ctx, opts)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			t.Cleanup(func() { _ = w.Close() })
			if c.held {
				time.Sleep(3 * time.Second)
				if n, fired := reconcilerRuns(t, w), w.Fired()[reconcileSchedule]; n != 0 || fired != 0 {
					t.Errorf("a held schedule ran the reconciler %d times (%d invocations), want none", n, fired)
				}
				return
			}
			waitRuns(t, w, c.wantRuns, time.Minute)
			if c.rate == 0 {
				// Five minutes to the next: the one run is the creation's.
				if fired := w.Fired()[reconcileSchedule]; fired != 1 {
					t.Errorf("invocations of %s = %d, want 1 (the first, when the schedule is created)", reconcileSchedule, fired)
				}
			}
		})
	}
}

// TestScheduleRunsAsItsRole: an invocation is made as the schedule's
// execution role; a role whose policies do not allow
// lambda:InvokeFunction on the target invokes nothing, and the world's
// log says why.
func TestScheduleRunsAsItsRole(t *testing.T) {
	dir := templatesWith(t, func(res map[string]any) {
		for _, r := range res {
			m := r.(map[string]any)
			props, _ := m["Properties"].(map[string]any)
			if m["Type"] != "AWS::IAM::Policy" || !strings.Contains(fmt.Sprint(props["Roles"]), "ReconcileScheduleRole") {
				continue
			}
			doc := props["PolicyDocument"].(map[string]any)
			for _, st := range doc["Statement"].([]any) {
				st.(map[string]any)["Action"] = "lambda:GetFunction"
			}
		}
	})
	log := &lockedBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := local.Start(ctx, local.Options{BinDir: binDir(t), WorkDir: t.TempDir(), Templates: dir, Log: log,
		Schedules: map[string]time.Duration{reconcileSchedule: 500 * time.Millisecond}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(log.String(), "is not authorized to perform: lambda:InvokeFunction") {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal of the schedule's invocation in the world's log:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a refused invocation would have run by now
	if n, fired := reconcilerRuns(t, w), w.Fired()[reconcileSchedule]; n != 0 || fired != 0 {
		t.Errorf("a role without lambda:InvokeFunction ran the reconciler %d times (%d invocations), want none", n, fired)
	}
	if want := "assumed-role/"; !strings.Contains(log.String(), want) {
		t.Errorf("the refusal does not name the role's session (%s):\n%s", want, log.String())
	}
}

// TestSchedulesTheSandboxCannotRunAreRefused: a schedule the sandbox
// cannot run as EventBridge Scheduler would is refused by name when the
// world is created, rather than run otherwise or left out.
func TestSchedulesTheSandboxCannotRunAreRefused(t *testing.T) {
	for _, c := range []struct {
		name     string
		change   func(props, target map[string]any, res map[string]any)
		wantErrs []string
	}{
		{"a cron expression", func(p, _, _ map[string]any) { p["ScheduleExpression"] = "cron(0/5 * * * ? *)" }, []string{`"cron(0/5 * * * ? *)"`, "rate() schedules only"}},
		{"a one-time schedule", func(p, _, _ map[string]any) { p["ScheduleExpression"] = "at(2026-12-24T18:00:00)" }, []string{"at()"}},
		{"a rate of no whole number", func(p, _, _ map[string]any) { p["ScheduleExpression"] = "rate(0.5 minutes)" }, []string{`"rate(0.5 minutes)"`, "positive whole"}},
		{"a rate in seconds", func(p, _, _ map[string]any) { p["ScheduleExpression"] = "rate(30 seconds)" }, []string{`"rate(30 seconds)"`, "minutes, hours or days"}},
		{"a target without input", func(_, tg, _ map[string]any) { delete(tg, "Input") }, []string{"no Target.Input", "default notification"}},
		{"an input that is not JSON", func(_, tg, _ map[string]any) { tg["Input"] = "run" }, []string{`Target.Input "run"`, "well-formed JSON"}},
		{"an SQS target", func(_, tg, _ map[string]any) {
			tg["Arn"] = "arn:aws:sqs:us-east-1:000000000000:q"
			tg["SqsParameters"] = map[string]any{"MessageGroupId": "g"}
		}, []string{"Target.SqsParameters", "Lambda targets only"}},
		{"a start date", func(p, _, _ map[string]any) { p["StartDate"] = "2030-01-01T00:00:00Z" }, []string{"StartDate"}},
		{"a role Scheduler may not assume", func(_, tg, res map[string]any) {
			id := tg["RoleArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
			doc := res[id].(map[string]any)["Properties"].(map[string]any)["AssumeRolePolicyDocument"].(map[string]any)
			for _, st := range doc["Statement"].([]any) {
				st.(map[string]any)["Principal"] = map[string]any{"Service": "lambda.amazonaws.com"}
			}
		}, []string{"does not let scheduler.amazonaws.com assume it"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := templatesWith(t, func(res map[string]any) {
				for _, r := range res {
					m := r.(map[string]any)
					if m["Type"] == "AWS::Scheduler::Schedule" {
						props := m["Properties"].(map[string]any)
						c.change(props, props["Target"].(map[string]any), res)
					}
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			w, err := local.Start(ctx, local.Options{BinDir: binDir(t), WorkDir: t.TempDir(), Templates: dir})
			if err == nil {
				_ = w.Close()
				t.Fatalf("Start = nil error, want one naming %q", c.wantErrs)
			}
			for _, want := range append([]string{"AWS::Scheduler::Schedule"}, c.wantErrs...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Start error = %v, want it to name %q", err, want)
				}
			}
		})
	}
}

// templatesWith writes the synthesized templates to a directory with the
// pipeline stack's resources changed by change, and returns it.
func templatesWith(t *testing.T, change func(resources map[string]any)) string {
	t.Helper()
	src, dir := templatesDir(t), t.TempDir()
	found := false
	for _, stack := range []string{"AliasflowPipeline", "AliasflowSample"} {
		b, err := os.ReadFile(filepath.Join(src, stack+".template.json"))
		if err != nil {
			t.Fatal(err)
		}
		if stack == "AliasflowPipeline" {
			var tpl map[string]any
			if err := json.Unmarshal(b, &tpl); err != nil {
				t.Fatal(err)
			}
			res := tpl["Resources"].(map[string]any)
			for _, r := range res {
				found = found || r.(map[string]any)["Type"] == "AWS::Scheduler::Schedule"
			}
			change(res)
			b, _ = json.Marshal(tpl)
		}
		if err := os.WriteFile(filepath.Join(dir, stack+".template.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatal("the pipeline template has no AWS::Scheduler::Schedule")
	}
	return dir
}
