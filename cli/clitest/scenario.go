package clitest

import (
	"context"
	"time"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// T0 is the moment scripted runs start.
var T0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// Caller is the operator identity the fake STS answers with.
const Caller = "arn:aws:iam::000000000000:user/ops"

// Input is a release of fn's version with a canary 10%/30 s strategy, as
// the release Lambda builds it.
func Input(fn, version, sha string) promotion.Input {
	t := config.Target{Function: fn, Strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 30},
		Approvers: []string{"alice@example.com"}, ApprovalTimeoutSeconds: 3600}
	t.ApplyDefaults()
	return promotion.Input{Function: fn, Version: version, PreviousStgVersion: "1",
		Release: promotion.Release{CodeSha256: sha, Commit: "abc123", Source: "codebuild"}, Target: t, Steps: promotion.Plan(t.Strategy)}
}

// Script drives a run through the promotion definition's states; each
// method takes the run one gate further and returns the state there.
type Script struct {
	*Run
	St promotion.State
}

// NewScript starts a run of in at T0.
func (f *States) NewScript(in promotion.Input, at time.Time) *Script {
	return &Script{Run: f.Start(in, at), St: promotion.State{Input: in}}
}

// Smoke runs the smoke test (passing or not) and the choice after it.
func (s *Script) Smoke(passed bool) *Script {
	in := s.St
	s.St.Smoke = &promotion.SmokeResult{Passed: passed, Checks: []promotion.CheckResult{{Name: "greets", Passed: passed, Attempts: 1}}}
	s.Task(promotion.StateSmokeTest, in, s.St.Smoke, s.St).Choice(promotion.StateSmokePassed, s.St)
	return s
}

// AwaitApproval enters RequestApproval and leaves it waiting with token.
func (s *Script) AwaitApproval(token string) *Script {
	s.Tick(time.Second).Wait(promotion.StateRequestApproval, s.St, token, int64(s.St.Target.ApprovalTimeoutSeconds))
	return s
}

// Approve decides the approval (as the approval page would) and records it.
func (s *Script) Approve(token, approver string) *Script {
	s.Tick(10 * time.Second)
	s.St.Approval = &promotion.Decision{Approved: true, Approver: approver, Via: "link", DecidedAt: s.at}
	// A scripted token is open, so the send cannot fail.
	_, _ = s.f.SendTaskSuccess(context.Background(), sendSuccess(token, s.St.Approval))
	s.Task(promotion.StateRecordApproval, s.St, nil, s.St)
	return s
}

// BeginShift records the stable version and goes to the first step.
func (s *Script) BeginShift(stable string) *Script {
	in := s.St
	s.St.Shift = &promotion.Shift{StableVersion: stable, Step: 0, Weight: s.St.Steps[0].Weight, BakeSeconds: s.St.Steps[0].BakeSeconds}
	s.Task(promotion.StateBeginShift, in, s.St.Shift, s.St).Choice(promotion.StateHasSteps, s.St)
	return s
}

// SetWeight runs the step's SetWeight task: prod gets the step's weight.
func (s *Script) SetWeight() *Script {
	s.Tick(time.Second).Task(promotion.StateSetWeight, s.St, nil, s.St)
	return s
}

// Bake sets the step's weight, then enters Bake and leaves it waiting with
// token for the bake time (the task's timeout, from $.shift.bakeSeconds).
func (s *Script) Bake(token string) *Script {
	s.SetWeight().Wait(promotion.StateBake, s.St, token, int64(s.St.Shift.BakeSeconds))
	return s
}

// BakeOver times the bake out and checks health (healthy): the next
// shift is the next step's, or done at 100% after the last, as the shift
// Lambda's check-health answers.
func (s *Script) BakeOver(token string) *Script {
	s.Tick(time.Duration(s.St.Shift.BakeSeconds) * time.Second)
	s.St.Bake = &promotion.Bake{Error: "States.Timeout", Cause: "bake over"}
	s.TimeOut(token, s.St)
	in := s.St
	next := promotion.Shift{StableVersion: s.St.Shift.StableVersion, Step: s.St.Shift.Step + 1}
	if next.Step >= len(s.St.Steps) {
		next.Weight, next.Done = 1, true
	} else {
		next.Weight, next.BakeSeconds = s.St.Steps[next.Step].Weight, s.St.Steps[next.Step].BakeSeconds
	}
	s.St.Shift = &next
	s.Task(promotion.StateCheckHealth, in, next, s.St).Choice(promotion.StateMoreSteps, s.St)
	return s
}

// Finalize moves prod to the new version and completes the run.
func (s *Script) Finalize() *Script {
	s.Task(promotion.StateFinalize, s.St, nil, s.St).Succeed(s.St)
	return s
}

// Unhealthy times the bake out, fails the health check and rolls back.
func (s *Script) Unhealthy(token string) *Script {
	s.Tick(time.Duration(s.St.Shift.BakeSeconds) * time.Second)
	s.TimeOut(token, s.St)
	s.Enter("Task", promotion.StateCheckHealth, s.St)
	s.FailTask(promotion.ErrHealthCheckFailed, "error rate 100% > 5%")
	s.Exit("Task", promotion.StateCheckHealth, s.St)
	s.St.Failure = &promotion.Failure{Error: promotion.ErrHealthCheckFailed, Cause: "error rate 100% > 5%"}
	s.Task(promotion.StateRollback, s.St, nil, s.St)
	s.Fail(promotion.StateRolledBack, promotion.StateRolledBack, "The release failed its health check or a shift step; prod is back on the stable version with no routing.", s.St)
	return s
}
