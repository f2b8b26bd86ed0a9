package progress_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli/progress"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift/groupstate"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// The histories here are the sandbox's interpreter running the promotion
// definition, each driven to its point by answering the task calls as
// the pipeline's functions would (sandboxtest.Run).

func input() promotion.Input {
	t := config.Target{Function: "hello", Strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 30},
		Approvers: []string{"alice@example.com"}, ApprovalTimeoutSeconds: 3600}
	t.ApplyDefaults()
	return promotion.Input{Function: "hello", Version: "2", PreviousStgVersion: "1",
		Release: promotion.Release{CodeSha256: "q83vEjRWeJA=", Commit: "abc123", Source: "codebuild"}, Target: t, Steps: promotion.Plan(t.Strategy)}
}

func TestRead(t *testing.T) {
	t0 := sandboxtest.T0
	// approved drives a run through smoke, approval and the shift's start.
	approved := func(r *sandboxtest.Run) *sandboxtest.Run {
		return r.Smoke(true).AwaitApproval().Approve("alice@example.com").BeginShift("1")
	}
	cases := []struct {
		name string
		run  func(r *sandboxtest.Run)
		// read, when set, reads the run instead of Describe and Events.
		read   func(r *sandboxtest.Run) (*sfn.DescribeExecutionOutput, []types.HistoryEvent)
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
			name: "smoke testing", run: func(*sandboxtest.Run) {},
			status: "RUNNING", phase: progress.PhaseSmoke, gate: "smoke testing stg (version 2)",
			bar: "[smoke ◐] [approval ·] [10% ·] [100% ·]",
		},
		{
			name: "awaiting approval", run: func(r *sandboxtest.Run) { r.Smoke(true).AwaitApproval() },
			status: "RUNNING", phase: progress.PhaseApproval, gate: "awaiting approval (expires " + t0.Add(time.Hour).Format(time.RFC3339) + ")",
			nextAt: t0.Add(time.Hour),
			bar:    "[smoke ✔] [approval ◐] [10% ·] [100% ·]",
		},
		{
			name: "setting the canary weight", run: func(r *sandboxtest.Run) { approved(r) },
			// The step has begun, but prod has no weight until SetWeight exits.
			status: "RUNNING", phase: progress.PhaseShift, gate: "setting prod to 10%", weight: 0, step: 1, stable: "1", shift: true,
			bar: "[smoke ✔] [approval ✔] [10% ◐] [100% ·]",
		},
		{
			name: "setting the weight failed and was caught: rolling back",
			run: func(r *sandboxtest.Run) {
				approved(r).Fail(promotion.ActionSetWeight, promotion.ErrTaskFailed, "prod moved by hand")
			},
			status: "RUNNING", phase: progress.PhaseFailing, gate: "rolling prod back to version 1", weight: 0, step: 1, stable: "1", shift: true,
			bar: "[smoke ✔] [approval ✔] [10% ✘] [100% ·]",
		},
		{
			name: "baking at the canary weight", run: func(r *sandboxtest.Run) { approved(r).Bake() },
			status: "RUNNING", phase: progress.PhaseShift, gate: "baking at 10% until ", weight: 0.1, step: 1, stable: "1", shift: true,
			bar: "[smoke ✔] [approval ✔] [10% ◐] [100% ·]",
		},
		{
			name: "checking health after the bake", run: func(r *sandboxtest.Run) { approved(r).Bake().CheckHealth() },
			status: "RUNNING", phase: progress.PhaseShift, gate: "checking health at 10%", weight: 0.1, step: 1, stable: "1", shift: true,
			bar: "[smoke ✔] [approval ✔] [10% ◐] [100% ·]",
		},
		{
			name: "bake over, healthy, about to finalize", run: func(r *sandboxtest.Run) { approved(r).Bake().BakeOver() },
			status: "RUNNING", phase: progress.PhaseFinalize, gate: "finalizing: prod → version 2", weight: 0.1, step: 1, stable: "1", shift: true,
			bar: "[smoke ✔] [approval ✔] [10% ✔] [100% ◐]",
		},
		{
			name: "completed", run: func(r *sandboxtest.Run) { approved(r).Bake().BakeOver().Finalize() },
			status: "SUCCEEDED", phase: progress.PhaseDone, gate: "completed: prod on version 2", weight: 1, step: 1, stable: "1",
			bar: "[smoke ✔] [approval ✔] [10% ✔] [100% ✔]",
		},
		{
			// The history has entered the Succeed state before
			// DescribeExecution says SUCCEEDED (read between the two): the
			// promotion is done and nothing failed.
			name: "Completed entered, status not yet SUCCEEDED", run: func(r *sandboxtest.Run) { approved(r).Bake().BakeOver().Finalize() },
			read: func(r *sandboxtest.Run) (*sfn.DescribeExecutionOutput, []types.HistoryEvent) {
				d, ev := r.Describe(), r.Events()
				d.Status, d.StopDate, d.Output = types.ExecutionStatusRunning, nil, nil
				for i, e := range ev {
					if e.StateEnteredEventDetails != nil && aws.ToString(e.StateEnteredEventDetails.Name) == promotion.StateCompleted {
						return d, ev[:i+1]
					}
				}
				t.Fatalf("the run never entered %s", promotion.StateCompleted)
				return nil, nil
			},
			status: "RUNNING", phase: progress.PhaseDone, gate: "completed: prod on version 2", weight: 1, step: 1, stable: "1", shift: true,
			bar: "[smoke ✔] [approval ✔] [10% ✔] [100% ✔]",
		},
		{
			name: "rolled back after an unhealthy canary", run: func(r *sandboxtest.Run) { approved(r).Bake().Unhealthy() },
			status: "FAILED", phase: progress.PhaseDone, gate: "failed: RolledBack (The release failed its health check", step: 1, stable: "1",
			bar: "[smoke ✔] [approval ✔] [10% ✘] [100% ·]",
		},
		{
			name: "smoke tests failed", run: func(r *sandboxtest.Run) { r.Smoke(false).RestoreStg() },
			status: "FAILED", phase: progress.PhaseDone, gate: "failed: SmokeTestsFailed",
			bar: "[smoke ✘] [approval ·] [10% ·] [100% ·]",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := sandboxtest.NewPromotion(t).Run(t, input())
			c.run(r)
			d, ev := r.Describe(), r.Events()
			if c.read != nil {
				d, ev = c.read(r)
			}
			p, err := progress.Read(d, ev)
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
// its SetWeight is entered, its weight when SetWeight exits with success,
// and its bake ends at the Bake task's timeout.
func TestReadLinearSteps(t *testing.T) {
	in := input()
	in.Target.Strategy = config.StrategyConfig{Type: config.Linear, Percent: 25, IntervalSeconds: 60}
	in.Steps = promotion.Plan(in.Target.Strategy)
	type want struct {
		state, gate string
		weight      float64
		step        int
		bar         string
	}
	check := func(r *sandboxtest.Run, name string, w want) {
		t.Helper()
		p, err := progress.Read(r.Describe(), r.Events())
		if err != nil {
			t.Fatalf("%s: Read: %v", name, err)
		}
		if p.State != w.state || !strings.HasPrefix(p.Gate, w.gate) || p.Weight != w.weight || p.Step != w.step {
			t.Errorf("%s: state, gate, weight, step = %s, %q, %v, %d; want %s, %q…, %v, %d", name, p.State, p.Gate, p.Weight, p.Step, w.state, w.gate, w.weight, w.step)
		}
		if got := p.Bar(); got != w.bar {
			t.Errorf("%s: bar = %q; want %q", name, got, w.bar)
		}
		// The bar's boxes are the weights of the plan the input carries.
		if got, want := p.Plan.String(), "25% → analysis 1m → 50% → analysis 1m → 75% → analysis 1m → 100%"; got != want {
			t.Errorf("%s: plan = %q; want %q", name, got, want)
		}
	}
	r := sandboxtest.NewPromotion(t).Run(t, in)
	r.Smoke(true).AwaitApproval().Approve("alice@example.com").BeginShift("1").Bake().BakeOver()
	// The interpreter passes MoreSteps at once: the second step's
	// SetWeight is in flight.
	check(r, "setting the second step", want{"SetWeight", "setting prod to 50%", 0.25, 2, "[smoke ✔] [approval ✔] [25% ✔] [50% ◐] [75% ·] [100% ·]"})
	r.Fail(promotion.ActionSetWeight, promotion.ErrTaskFailed, "prod moved by hand") // exits SetWeight without success: not counted
	check(r, "a set-weight exit without success", want{"Rollback", "rolling prod back to version 1", 0.25, 2, "[smoke ✔] [approval ✔] [25% ✔] [50% ✘] [75% ·] [100% ·]"})

	r = sandboxtest.NewPromotion(t).Run(t, in)
	r.Smoke(true).AwaitApproval().Approve("alice@example.com").BeginShift("1").Bake().BakeOver().Bake()
	var entered time.Time
	for _, ev := range r.Events() {
		if d := ev.StateEnteredEventDetails; d != nil && *d.Name == "Bake" {
			entered = *ev.Timestamp
		}
	}
	check(r, "baking the second step", want{"Bake", "baking at 50% until " + entered.Add(time.Minute).Format(time.RFC3339), 0.5, 2, "[smoke ✔] [approval ✔] [25% ✔] [50% ◐] [75% ·] [100% ·]"})
	r.BakeOver()
	check(r, "after the second step", want{"SetWeight", "setting prod to 75%", 0.5, 3, "[smoke ✔] [approval ✔] [25% ✔] [50% ✔] [75% ◐] [100% ·]"})
	r.Bake().BakeOver()
	check(r, "after the last step", want{"Finalize", "finalizing", 0.75, 3, "[smoke ✔] [approval ✔] [25% ✔] [50% ✔] [75% ✔] [100% ◐]"})
}

// TestReadBakeEndsWithTaskTimeout: a Bake retried after a failed call
// waits its full bake from the retry's TaskScheduled, not from when the
// state was entered.
func TestReadBakeEndsWithTaskTimeout(t *testing.T) {
	r := sandboxtest.NewPromotion(t).Run(t, input())
	r.Smoke(true).AwaitApproval().Approve("alice@example.com").BeginShift("1").SetWeight()
	r.Retry(promotion.ActionBake, sandboxtest.ServiceError("ServiceException", 500)).AwaitBake()
	p, err := progress.Read(r.Describe(), r.Events())
	if err != nil {
		t.Fatal(err)
	}
	// The Bake task is scheduled with the bake as its timeout.
	var scheduled time.Time
	for _, ev := range r.Events() {
		if ev.TaskScheduledEventDetails != nil {
			scheduled = *ev.Timestamp
		}
	}
	if !scheduled.After(sandboxtest.T0) {
		t.Fatalf("the retry was scheduled at %s, want after the bake began at %s", scheduled, sandboxtest.T0)
	}
	if want := scheduled.Add(30 * time.Second); !p.NextAt.Equal(want) {
		t.Errorf("nextAt = %s; want %s (scheduled + 30 s bake)", p.NextAt, want)
	}
	if want := "baking at 10% until " + p.NextAt.Format(time.RFC3339); p.Gate != want {
		t.Errorf("gate = %q; want %q", p.Gate, want)
	}
}

func TestReadRefusesAForeignInput(t *testing.T) {
	r := sandboxtest.NewPromotion(t).Run(t, input())
	d := r.Describe()
	bad := `["not", "a", "promotion"]`
	d.Input = &bad
	if _, err := progress.Read(d, nil); err == nil || !strings.Contains(err.Error(), "not a promotion") {
		t.Errorf("Read(foreign input) error = %v; want one saying it is not a promotion", err)
	}
}

// TestReadPause: a promotion its plan holds at a pause until continued
// says so, names the command that continues it and when it rolls back if
// nobody does (the Pause task's timeout).
func TestReadPause(t *testing.T) {
	in := input()
	in.Target.Strategy = config.StrategyConfig{Type: config.Steps,
		Steps: []plan.Step{{Pause: &plan.Pause{}}, {SetWeight: &plan.SetWeight{Weight: 0.1}}, {Analysis: &plan.Analysis{BakeSeconds: 30}}}}
	in.Steps = promotion.Plan(in.Target.Strategy)
	r := sandboxtest.NewPromotion(t).Run(t, in)
	r.Smoke(true).AwaitApproval().Approve("alice@example.com")
	r.P.Answer(t, r.ARN, promotion.ActionBegin, sandboxtest.Return(promotion.Shift{StableVersion: "1", Step: -1, BakeSeconds: 3600, Kind: "pause", Position: 0}))
	r.P.Answer(t, r.ARN, promotion.ActionPause, sandboxtest.Return(map[string]any{}))
	var p *progress.Progress
	r.P.Until(t, "the Pause to wait for its token", func() bool {
		ev := r.Events()
		if ev[len(ev)-1].Type != types.HistoryEventTypeTaskSubmitted {
			return false
		}
		var err error
		p, err = progress.Read(r.Describe(), ev)
		return err == nil
	})
	want := "paused at 0%, held: continue it with `aliasflow promote " + p.Name + "` (expires "
	if p.State != promotion.StatePause || p.Phase != progress.PhaseShift || !strings.HasPrefix(p.Gate, want) || p.NextAt.IsZero() {
		t.Errorf("state, phase, gate, nextAt = %s, %s, %q, %v; want Pause, shift, %q…, the pause's timeout", p.State, p.Phase, p.Gate, p.NextAt, want)
	}
	if got := p.Plan.String(); got != "pause until continued → 10% → analysis 30s → 100%" {
		t.Errorf("plan = %q", got)
	}
}

// TestReadManualRollback: an operator's rollback (its own execution, input
// rollback) that succeeded is no completed promotion: the gate says it
// was an operator's rollback, and to which version (issue 21: status
// showed "completed" after one).
func TestReadManualRollback(t *testing.T) {
	for _, c := range []struct {
		name   string
		answer bool
		status string
		gate   string
	}{
		{"moving prod back", false, "RUNNING", "an operator's rollback: prod → version 1"},
		{"prod moved back", true, "SUCCEEDED", "an operator's rollback: prod → version 1 (from 2)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := input()
			in.Version = "1"
			in.Rollback = &promotion.ManualRollback{From: "2", To: "1", Actor: "arn:aws:iam::000000000000:user/ops", Reason: "errors"}
			r := sandboxtest.NewPromotion(t).Run(t, in)
			if c.answer {
				r.Answer(promotion.ActionManualRollback, sandboxtest.Return(map[string]any{}))
			} else {
				r.Await(promotion.ActionManualRollback)
			}
			p, err := progress.Read(r.Describe(), r.Events())
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if p.Status != c.status || p.Gate != c.gate {
				t.Errorf("status, gate = %s, %q; want %s, %q", p.Status, p.Gate, c.status, c.gate)
			}
		})
	}
}

// TestReadGroup: a group promotion's progress gives each member's weight:
// the group's on a member that shifts, none on one without prod until it
// is finalized, all on one whose prod already served its version.
func TestReadGroup(t *testing.T) {
	in := input()
	in.Group = "api"
	for _, f := range []string{"hello", "orders", "users"} {
		tg := in.Target
		tg.Function = f
		in.Members = append(in.Members, promotion.Member{Function: f, Version: "2", PreviousStgVersion: "1", Release: in.Release, Target: tg})
	}
	// BeginShift found hello's prod on 1, orders without prod, users's
	// prod on 2 already.
	g := groupstate.Prod{Members: map[string]groupstate.Member{"hello": {Stable: "1"}, "orders": {}, "users": {Stable: "2"}}}
	shift := promotion.Shift{StableVersion: "1", Weight: 0.1, BakeSeconds: 30, Kind: "setWeight", Prod: g.Encode()}
	baking := func(r *sandboxtest.Run) {
		r.Smoke(true).AwaitApproval().Approve("alice@example.com")
		r.Answer(promotion.ActionBegin, sandboxtest.Return(shift)).Answer(promotion.ActionSetWeight, sandboxtest.Return(shift)).AwaitBake()
	}
	cases := []struct {
		name string
		run  func(r *sandboxtest.Run)
		want string
	}{
		{name: "awaiting approval: no weight yet", run: func(r *sandboxtest.Run) { r.Smoke(true).AwaitApproval() },
			want: "hello 0% (→2), orders 0% (→2), users 0% (→2)"},
		{name: "baking the canary", run: baking,
			want: "hello 10% (1→2), orders 0% (→2), users 100% (unchanged)"},
		{name: "rolled back", run: func(r *sandboxtest.Run) {
			baking(r)
			r.FailWaiting(promotion.ErrHealthCheckFailed, "member users is unhealthy").Answer(promotion.ActionRollback, sandboxtest.Return(map[string]any{}))
		}, want: "hello 0% (1→2), orders 0% (→2), users 100% (unchanged)"},
		{name: "completed", run: func(r *sandboxtest.Run) {
			baking(r)
			done := shift
			done.Step, done.Weight, done.Done, done.Kind, done.BakeSeconds = 1, 1, true, "finalize", 0
			r.TimeOut(30*time.Second).Answer(promotion.ActionCheckHealth, sandboxtest.Return(done)).Answer(promotion.ActionFinalize, sandboxtest.Return(map[string]any{}))
		}, want: "hello 100% (1→2), orders 100% (→2), users 100% (unchanged)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := sandboxtest.NewPromotion(t).Run(t, in)
			c.run(r)
			var p *progress.Progress
			r.P.Until(t, "the run to settle", func() bool {
				var err error
				p, err = progress.Read(r.Describe(), r.Events())
				return err == nil && p.MemberWeights() == c.want
			})
			if got := p.MemberWeights(); got != c.want {
				t.Errorf("member weights = %q, want %q", got, c.want)
			}
			if p.Group != "api" || len(p.Members) != 3 {
				t.Errorf("group, members = %q, %+v; want api and three members", p.Group, p.Members)
			}
		})
	}
}

// TestReadWarm: a promotion at a warm step of its plan says what it puts
// on the new version and before which weight, and once read, that it is
// not READY yet (WarmWait).
func TestReadWarm(t *testing.T) {
	tests := []struct {
		name      string
		warming   *promotion.Shift // the Warm task's answer; nil: the first Warm in flight
		wantState string
		wantGate  string
	}{
		{name: "the first read", wantState: promotion.StateWarm,
			wantGate: "warming version 2: provisioned concurrency 5 at 0%, before 10%"},
		{name: "not READY yet", warming: &promotion.Shift{StableVersion: "1", Step: -1, BakeSeconds: 3600, BakedSeconds: 2, Kind: promotion.ShiftWarming, Position: 0},
			wantState: promotion.StateWarmWait,
			wantGate:  "warming version 2: provisioned concurrency 5 at 0%, before 10%; not READY after 2s, read again in 3600s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := input()
			in.Target.Strategy = config.StrategyConfig{Type: config.Steps,
				Steps: []plan.Step{{Warm: &plan.Warm{ProvisionedConcurrency: 5}}, {SetWeight: &plan.SetWeight{Weight: 0.1}}, {Analysis: &plan.Analysis{BakeSeconds: 30}}}}
			in.Steps = promotion.Plan(in.Target.Strategy)
			r := sandboxtest.NewPromotion(t).Run(t, in)
			r.Smoke(true).AwaitApproval().Approve("alice@example.com")
			r.P.Answer(t, r.ARN, promotion.ActionBegin, sandboxtest.Return(promotion.Shift{StableVersion: "1", Step: -1, Kind: "warm", Position: 0}))
			if tc.warming != nil {
				r.P.Answer(t, r.ARN, promotion.ActionWarm, sandboxtest.Return(*tc.warming))
			}
			var p *progress.Progress
			r.P.Until(t, "the promotion to reach "+tc.wantState, func() bool {
				var err error
				p, err = progress.Read(r.Describe(), r.Events())
				return err == nil && p.State == tc.wantState
			})
			if p.Phase != progress.PhaseShift || p.Gate != tc.wantGate {
				t.Errorf("phase, gate = %s, %q; want shift, %q", p.Phase, p.Gate, tc.wantGate)
			}
			if got := p.Plan.String(); got != "warm 5 → 10% → analysis 30s → 100%" {
				t.Errorf("plan = %q", got)
			}
		})
	}
}
