package progress_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/cli/progress"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

func TestRead(t *testing.T) {
	t0 := clitest.T0
	in := clitest.Input("hello", "2", "q83vEjRWeJA=")
	cases := []struct {
		name   string
		script func(s *clitest.Script)
		status string
		phase  progress.Phase
		gate   string
		weight float64
		step   int
		stable string
		shift  bool
		nextAt time.Time
		bar    string
	}{
		{
			name: "smoke testing", script: func(s *clitest.Script) { s.Enter("Task", "SmokeTest", s.St) },
			status: "RUNNING", phase: progress.PhaseSmoke, gate: "smoke testing stg (version 2)",
			bar: "[smoke ◐] [approval ·] [10% ·] [100% ·]",
		},
		{
			name: "awaiting approval", script: func(s *clitest.Script) { s.Smoke(true).AwaitApproval("tok") },
			status: "RUNNING", phase: progress.PhaseApproval, gate: "awaiting approval (expires 2026-11-21T13:00:01Z)",
			nextAt: t0.Add(time.Hour + time.Second + 200*time.Millisecond),
			bar:    "[smoke ✔] [approval ◐] [10% ·] [100% ·]",
		},
		{
			name: "setting the canary weight",
			script: func(s *clitest.Script) {
				s.Smoke(true).AwaitApproval("a").Approve("a", "alice@example.com").BeginShift("1")
				s.Tick(time.Second).Enter("Task", "SetWeight", s.St)
			},
			// The step has begun, but prod has no weight until SetWeight exits.
			status: "RUNNING", phase: progress.PhaseShift, gate: "setting prod to 10%", weight: 0, step: 1, stable: "1", shift: true,
			bar: "[smoke ✔] [approval ✔] [10% ◐] [100% ·]",
		},
		{
			name: "setting the weight failed and was caught: rolling back",
			script: func(s *clitest.Script) {
				s.Smoke(true).AwaitApproval("a").Approve("a", "alice@example.com").BeginShift("1")
				s.Tick(time.Second).Enter("Task", "SetWeight", s.St)
				s.FailTask("Lambda.ServiceException", "throttled")
				s.St.Failure = &promotion.Failure{Error: "Lambda.ServiceException", Cause: "throttled"}
				s.Exit("Task", "SetWeight", s.St)
				s.Enter("Task", "Rollback", s.St)
			},
			status: "RUNNING", phase: progress.PhaseFailing, gate: "rolling prod back to version 1", weight: 0, step: 1, stable: "1", shift: true,
			bar: "[smoke ✔] [approval ✔] [10% ✘] [100% ·]",
		},
		{
			name: "baking at the canary weight",
			script: func(s *clitest.Script) {
				s.Smoke(true).AwaitApproval("a").Approve("a", "alice@example.com").BeginShift("1").Bake("b")
			},
			status: "RUNNING", phase: progress.PhaseShift, gate: "baking at 10% until ", weight: 0.1, step: 1, stable: "1", shift: true,
			bar: "[smoke ✔] [approval ✔] [10% ◐] [100% ·]",
		},
		{
			name: "checking health after the bake",
			script: func(s *clitest.Script) {
				s.Smoke(true).AwaitApproval("a").Approve("a", "alice@example.com").BeginShift("1").Bake("b")
				s.Tick(30*time.Second).TimeOut("b", s.St)
				s.Enter("Task", "CheckHealth", s.St)
			},
			status: "RUNNING", phase: progress.PhaseShift, gate: "checking health at 10%", weight: 0.1, step: 1, stable: "1", shift: true,
			bar: "[smoke ✔] [approval ✔] [10% ◐] [100% ·]",
		},
		{
			name: "bake over, healthy, about to finalize",
			script: func(s *clitest.Script) {
				s.Smoke(true).AwaitApproval("a").Approve("a", "alice@example.com").BeginShift("1").Bake("b").BakeOver("b")
				s.Enter("Task", "Finalize", s.St)
			},
			status: "RUNNING", phase: progress.PhaseFinalize, gate: "finalizing: prod → version 2", weight: 0.1, step: 1, stable: "1", shift: true,
			bar: "[smoke ✔] [approval ✔] [10% ✔] [100% ◐]",
		},
		{
			name: "completed",
			script: func(s *clitest.Script) {
				s.Smoke(true).AwaitApproval("a").Approve("a", "alice@example.com").BeginShift("1").Bake("b").BakeOver("b").Finalize()
			},
			status: "SUCCEEDED", phase: progress.PhaseDone, gate: "completed: prod on version 2", weight: 1, step: 1, stable: "1",
			bar: "[smoke ✔] [approval ✔] [10% ✔] [100% ✔]",
		},
		{
			// The history has entered the Succeed state before
			// DescribeExecution says SUCCEEDED (read between the two): the
			// promotion is done and nothing failed.
			name: "Completed entered, status not yet SUCCEEDED",
			script: func(s *clitest.Script) {
				s.Smoke(true).AwaitApproval("a").Approve("a", "alice@example.com").BeginShift("1").Bake("b").BakeOver("b")
				s.Task(promotion.StateFinalize, s.St, nil, s.St)
				s.Enter("Succeed", promotion.StateCompleted, s.St)
			},
			status: "RUNNING", phase: progress.PhaseDone, gate: "completed: prod on version 2", weight: 1, step: 1, stable: "1", shift: true,
			bar: "[smoke ✔] [approval ✔] [10% ✔] [100% ✔]",
		},
		{
			name: "rolled back after an unhealthy canary",
			script: func(s *clitest.Script) {
				s.Smoke(true).AwaitApproval("a").Approve("a", "alice@example.com").BeginShift("1").Bake("b").Unhealthy("b")
			},
			status: "FAILED", phase: progress.PhaseDone, gate: "failed: RolledBack (The release failed its health check", step: 1, stable: "1",
			bar: "[smoke ✔] [approval ✔] [10% ✘] [100% ·]",
		},
		{
			name: "smoke tests failed",
			script: func(s *clitest.Script) {
				s.Smoke(false)
				s.Task("RestoreStg", s.St, nil, s.St).Fail("SmokeTestsFailed", "SmokeTestsFailed", "The smoke checks against stg failed", s.St)
			},
			status: "FAILED", phase: progress.PhaseDone, gate: "failed: SmokeTestsFailed",
			bar: "[smoke ✘] [approval ·] [10% ·] [100% ·]",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := clitest.NewStates()
			s := f.NewScript(in, t0)
			c.script(s)
			p, err := progress.Read(s.Describe(), s.Events())
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if p.Status != c.status || p.Phase != c.phase {
				t.Errorf("status, phase = %s, %s; want %s, %s", p.Status, p.Phase, c.status, c.phase)
			}
			if c.gate != "" && !strings.HasPrefix(p.Gate, c.gate) {
				t.Errorf("gate = %q; want prefix %q", p.Gate, c.gate)
			}
			if p.Weight != c.weight || p.Step != c.step || p.StableVersion != c.stable || p.Shifting != c.shift {
				t.Errorf("weight, step, stable, shifting = %v, %d, %q, %v; want %v, %d, %q, %v",
					p.Weight, p.Step, p.StableVersion, p.Shifting, c.weight, c.step, c.stable, c.shift)
			}
			if !c.nextAt.IsZero() && !p.NextAt.Equal(c.nextAt) {
				t.Errorf("nextAt = %s; want %s", p.NextAt, c.nextAt)
			}
			if got := p.Bar(); got != c.bar {
				t.Errorf("bar = %q; want %q", got, c.bar)
			}
			if p.Function != "hello" || p.Version != "2" {
				t.Errorf("function, version = %q, %q; want hello, 2", p.Function, p.Version)
			}
		})
	}
}

// TestReadLinearSteps walks a linear 25% strategy: each step counts when
// its SetWeight is entered, its weight when SetWeight exits, and its bake
// ends at the Bake task's timeout.
func TestReadLinearSteps(t *testing.T) {
	in := clitest.Input("hello", "2", "q83vEjRWeJA=")
	in.Target.Strategy = config.StrategyConfig{Type: config.Linear, Percent: 25, IntervalSeconds: 60}
	in.Steps = promotion.Plan(in.Target.Strategy)
	f := clitest.NewStates()
	s := f.NewScript(in, clitest.T0)
	s.Smoke(true).AwaitApproval("a").Approve("a", "alice@example.com").BeginShift("1").Bake("b1").BakeOver("b1")
	type want struct {
		state, gate string
		weight      float64
		step        int
		bar         string
	}
	check := func(name string, w want) {
		t.Helper()
		p, err := progress.Read(s.Describe(), s.Events())
		if err != nil {
			t.Fatalf("%s: Read: %v", name, err)
		}
		if p.State != w.state || !strings.HasPrefix(p.Gate, w.gate) || p.Weight != w.weight || p.Step != w.step {
			t.Errorf("%s: state, gate, weight, step = %s, %q, %v, %d; want %s, %q…, %v, %d", name, p.State, p.Gate, p.Weight, p.Step, w.state, w.gate, w.weight, w.step)
		}
		if got := p.Bar(); got != w.bar {
			t.Errorf("%s: bar = %q; want %q", name, got, w.bar)
		}
	}
	check("after the first step", want{"MoreSteps", "shifting prod", 0.25, 1, "[smoke ✔] [approval ✔] [25% ✔] [50% ◐] [75% ·] [100% ·]"})
	s.Tick(time.Second).Enter("Task", "SetWeight", s.St)
	check("setting the second step", want{"SetWeight", "setting prod to 50%", 0.25, 2, "[smoke ✔] [approval ✔] [25% ✔] [50% ◐] [75% ·] [100% ·]"})
	s.Tick(200*time.Millisecond).Exit("Task", "SetWeight", s.St) // a task with no TaskSucceeded: not counted
	check("a set-weight exit without success", want{"SetWeight", "setting prod to 50%", 0.25, 2, "[smoke ✔] [approval ✔] [25% ✔] [50% ◐] [75% ·] [100% ·]"})

	f = clitest.NewStates()
	s = f.NewScript(in, clitest.T0)
	s.Smoke(true).AwaitApproval("a").Approve("a", "alice@example.com").BeginShift("1").Bake("b1").BakeOver("b1").Bake("b2")
	var entered time.Time
	for _, ev := range s.Events() {
		if d := ev.StateEnteredEventDetails; d != nil && *d.Name == "Bake" {
			entered = *ev.Timestamp
		}
	}
	check("baking the second step", want{"Bake", "baking at 50% until " + entered.Add(time.Minute).Format(time.RFC3339), 0.5, 2, "[smoke ✔] [approval ✔] [25% ✔] [50% ◐] [75% ·] [100% ·]"})
	s.BakeOver("b2")
	check("after the second step", want{"MoreSteps", "shifting prod", 0.5, 2, "[smoke ✔] [approval ✔] [25% ✔] [50% ✔] [75% ◐] [100% ·]"})
	s.Bake("b3").BakeOver("b3")
	check("after the last step", want{"MoreSteps", "shifting prod", 0.75, 3, "[smoke ✔] [approval ✔] [25% ✔] [50% ✔] [75% ✔] [100% ◐]"})
}

func TestReadBakeEndsWithTaskTimeout(t *testing.T) {
	f := clitest.NewStates()
	s := f.NewScript(clitest.Input("hello", "2", "q83vEjRWeJA="), clitest.T0)
	s.Smoke(true).AwaitApproval("a").Approve("a", "alice@example.com").BeginShift("1").Bake("b")
	p, err := progress.Read(s.Describe(), s.Events())
	if err != nil {
		t.Fatal(err)
	}
	// The Bake task is scheduled with the bake as its timeout.
	var scheduled time.Time
	for _, ev := range s.Events() {
		if ev.TaskScheduledEventDetails != nil {
			scheduled = *ev.Timestamp
		}
	}
	if want := scheduled.Add(30 * time.Second); !p.NextAt.Equal(want) {
		t.Errorf("nextAt = %s; want %s (scheduled + 30 s bake)", p.NextAt, want)
	}
	if want := "baking at 10% until " + p.NextAt.Format(time.RFC3339); p.Gate != want {
		t.Errorf("gate = %q; want %q", p.Gate, want)
	}
}

func TestReadRefusesAForeignInput(t *testing.T) {
	f := clitest.NewStates()
	s := f.NewScript(clitest.Input("hello", "2", "q83vEjRWeJA="), clitest.T0)
	d := s.Describe()
	bad := `["not", "a", "promotion"]`
	d.Input = &bad
	if _, err := progress.Read(d, nil); err == nil || !strings.Contains(err.Error(), "not a promotion") {
		t.Errorf("Read(foreign input) error = %v; want one saying it is not a promotion", err)
	}
}
