package states

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

var (
	smokeARN    = core.FunctionARN("aliasflow-smoketest", "")
	approvalARN = core.FunctionARN("aliasflow-approval", "")
	shiftARN    = core.FunctionARN("aliasflow-shift", "")
	approvalURL = "http://127.0.0.1:4566/approvals"
)

// promotionDefinition is infra/statemachine/promotion.asl.json with its
// substitutions resolved, as the sandbox deploys it.
func promotionDefinition(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../infra/statemachine/promotion.asl.json")
	if err != nil {
		t.Fatalf("read the promotion definition: %v", err)
	}
	return strings.NewReplacer(
		"${SmokeTestFunctionArn}", smokeARN,
		"${ApprovalFunctionArn}", approvalARN,
		"${ShiftFunctionArn}", shiftARN,
		"${ApprovalUrl}", approvalURL,
	).Replace(string(b))
}

func promotionInput(t *testing.T, strategy config.StrategyConfig) string {
	t.Helper()
	target := config.Target{
		Function:               "hello",
		Strategy:               strategy,
		Approvers:              []string{"alice@example.com"},
		ApprovalTimeoutSeconds: 3600,
	}
	in := promotion.Input{
		Function: "hello", Version: "2", PreviousStgVersion: "1",
		Release: promotion.Release{CodeSha256: "abc=", Source: "codebuild", Commit: "0123abc"},
		Target:  target, Steps: promotion.Plan(strategy),
	}
	return mustJSON(in)
}

// pipeline scripts the three task Lambdas. Every call's payload must parse
// as a promotion.TaskRequest.
type pipeline struct {
	t           *testing.T
	smokePassed bool
	begin       promotion.Shift
	health      []func() (core.InvokeResult, error)
	healthCalls atomic.Int32
	// cont answers Continue, the decision after a pause of the plan.
	cont func() (core.InvokeResult, error)
	// setWeight answers the first set-weight calls; later ones succeed.
	setWeight      []func() (core.InvokeResult, error)
	setWeightCalls atomic.Int32
	requests       chan promotion.TaskRequest
}

func (p *pipeline) install(h *harness) {
	p.requests = make(chan promotion.TaskRequest, 64)
	parse := func(call fakeCall) promotion.TaskRequest {
		var req promotion.TaskRequest
		if err := json.Unmarshal([]byte(call.Raw), &req); err != nil {
			p.t.Errorf("the payload to %s is not a TaskRequest: %v\n%s", call.Function, err, call.Raw)
		}
		if !strings.HasPrefix(req.Execution, "arn:aws:states:us-east-1:000000000000:execution:aliasflow-promotion:") || req.StartTime.IsZero() {
			p.t.Errorf("payload to %s lacks execution/startTime: %+v", call.Function, req)
		}
		p.requests <- req
		return req
	}
	h.lam.handle(smokeARN, func(call fakeCall) (core.InvokeResult, error) {
		parse(call)
		return ok(promotion.SmokeResult{Passed: p.smokePassed, Checks: []promotion.CheckResult{{Name: "greets", Passed: p.smokePassed, Attempts: 1}}})
	})
	h.lam.handle(approvalARN, func(call fakeCall) (core.InvokeResult, error) {
		req := parse(call)
		if req.Action == promotion.ActionRequest && (req.TaskToken == "" || req.ApprovalURL != approvalURL || req.EnteredTime.IsZero()) {
			p.t.Errorf("the approval request lacks its token, URL or entered time: %+v", req)
		}
		return ok(map[string]any{"ok": true})
	})
	h.lam.handle(shiftARN, func(call fakeCall) (core.InvokeResult, error) {
		req := parse(call)
		switch req.Action {
		case promotion.ActionBegin:
			return ok(p.begin)
		case promotion.ActionSetWeight:
			// An ordinary task: no token, so the bake cannot start
			// before the weight is set.
			if req.TaskToken != "" {
				p.t.Errorf("set-weight carries a task token; want an ordinary lambda:invoke")
			}
			if n := int(p.setWeightCalls.Add(1)) - 1; n < len(p.setWeight) {
				return p.setWeight[n]()
			}
			// The shift, as the shift function returns it.
			return ok(*req.Promotion.Shift)
		case promotion.ActionBake:
			if req.TaskToken == "" {
				p.t.Errorf("bake lacks its task token")
			}
			return ok(map[string]any{})
		case promotion.ActionPause:
			if req.TaskToken == "" {
				p.t.Errorf("pause lacks its task token")
			}
			return ok(map[string]any{})
		case promotion.ActionContinue:
			if p.cont != nil {
				return p.cont()
			}
			return ok(promotion.Shift{StableVersion: "1", Step: 1, Weight: 1, Done: true, Kind: "finalize", Position: 3})
		case promotion.ActionCheckHealth:
			n := int(p.healthCalls.Add(1)) - 1
			if n < len(p.health) {
				return p.health[n]()
			}
			return ok(promotion.Shift{StableVersion: "1", Step: 2, Weight: 1, Done: true})
		}
		return ok(map[string]any{})
	})
}

func (p *pipeline) actions() []string {
	var out []string
	for {
		select {
		case r := <-p.requests:
			out = append(out, r.Action)
		default:
			return out
		}
	}
}

func TestPromotionDefinition(t *testing.T) {
	canary := config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 300}
	canaryBegin := promotion.Shift{StableVersion: "1", Step: 1, Weight: 0.1, BakeSeconds: 300}
	allAtOnce := config.StrategyConfig{Type: config.AllAtOnce}
	doneBegin := promotion.Shift{StableVersion: "1", Done: true}

	tests := []struct {
		name     string
		strategy config.StrategyConfig
		pipe     pipeline
		// drive moves the execution along (decisions, clock).
		drive       func(t *testing.T, h *harness, arn string)
		wantStatus  string
		wantError   string
		wantStates  []string
		wantActions []string
		check       func(t *testing.T, h *harness, arn string)
	}{
		{
			name:        "smoke tests fail: stg restored, SmokeTestsFailed",
			strategy:    allAtOnce,
			pipe:        pipeline{smokePassed: false},
			wantStatus:  StatusFailed,
			wantError:   "SmokeTestsFailed",
			wantStates:  []string{"SmokeTest", "SmokePassed", "RestoreStg", "SmokeTestsFailed"},
			wantActions: []string{"smoke", "restore-stg"},
		},
		{
			name:     "approved through SendTaskSuccess, all at once",
			strategy: allAtOnce,
			pipe:     pipeline{smokePassed: true, begin: doneBegin},
			drive: func(t *testing.T, h *harness, arn string) {
				tok := h.waiting(arn, "RequestApproval")
				if tok != h.tokenInSchedule(arn, "RequestApproval") {
					t.Errorf("the open TaskScheduled of RequestApproval does not carry the task token")
				}
				if err := h.svc.SendTaskSuccess(t.Context(), tok, `{"approved":true,"approver":"alice@example.com","via":"cli","decidedAt":"2026-11-21T09:05:00Z"}`); err != nil {
					t.Fatalf("SendTaskSuccess: %v", err)
				}
			},
			wantStatus:  StatusSucceeded,
			wantStates:  []string{"SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps", "Finalize", "Completed"},
			wantActions: []string{"smoke", "request", "granted", "begin", "finalize"},
			check: func(t *testing.T, h *harness, arn string) {
				n, _ := h.svc.Transitions(arn)
				if n != 9 {
					t.Errorf("transitions = %d, want 9 (one per state entered, Mode included)", n)
				}
				out := h.output(arn)
				approval, _ := out["approval"].(map[string]any)
				if approval["approver"] != "alice@example.com" || approval["approved"] != true {
					t.Errorf("output.approval = %v, want the decision", out["approval"])
				}
				if smoke, _ := out["smoke"].(map[string]any); smoke["passed"] != true {
					t.Errorf("output.smoke = %v, want passed", out["smoke"])
				}
			},
		},
		{
			name:     "canary: SetWeight sets the weight, the Bake wait times out after the bake, CheckHealth, Finalize",
			strategy: canary,
			pipe:     pipeline{smokePassed: true, begin: canaryBegin},
			drive: func(t *testing.T, h *harness, arn string) {
				h.approve(arn)
				h.waiting(arn, "Bake")
				if got := h.scheduled(arn, "Bake").TimeoutInSeconds; got == nil || *got != 300 {
					t.Errorf("Bake timeoutInSeconds = %v, want 300 (from $.shift.bakeSeconds)", got)
				}
				if got := h.scheduled(arn, "SetWeight").TimeoutInSeconds; got != nil {
					t.Errorf("SetWeight timeoutInSeconds = %d, want none (an ordinary task)", *got)
				}
				h.clock.Advance(299 * time.Second)
				if c := h.atCursor(arn, "Bake", func(c cursor) bool { return true }); c.State != "Bake" {
					t.Fatalf("after 299s the execution is at %s, want still baking in Bake", c.State)
				}
				h.clock.Advance(time.Second)
			},
			wantStatus:  StatusSucceeded,
			wantStates:  []string{"SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps", "SetWeight", "Bake", "CheckHealth", "MoreSteps", "Finalize", "Completed"},
			wantActions: []string{"smoke", "request", "granted", "begin", "set-weight", "bake", "check-health", "finalize"},
			check: func(t *testing.T, h *harness, arn string) {
				out := h.output(arn)
				bake, _ := out["bake"].(map[string]any)
				if bake["Error"] != "States.Timeout" {
					t.Errorf("output.bake = %v, want the States.Timeout error the Catch put there", bake)
				}
				if _, kept := out["weight"]; kept {
					t.Errorf("output = %v; SetWeight's result must be discarded (ResultPath null)", out)
				}
				if !contains(h.eventTypes(arn), EventTaskTimedOut) {
					t.Errorf("history lacks TaskTimedOut")
				}
				if n, _ := h.svc.Transitions(arn); n != 13 {
					t.Errorf("transitions = %d, want 13 (one per state entered, Mode included)", n)
				}
			},
		},
		{
			name:     "canary: promote now through SendTaskSuccess on the Bake token",
			strategy: canary,
			pipe:     pipeline{smokePassed: true, begin: canaryBegin},
			drive: func(t *testing.T, h *harness, arn string) {
				h.approve(arn)
				tok := h.waiting(arn, "Bake")
				// A decider (the CLI's promote --now) finds the token in
				// the Bake task's TaskScheduled Payload.
				if tok != h.tokenInSchedule(arn, "Bake") {
					t.Errorf("the open TaskScheduled of Bake does not carry the task token")
				}
				if err := h.svc.SendTaskSuccess(t.Context(), tok, `{"promoteNow":true,"actor":"arn:aws:iam::000000000000:user/alice"}`); err != nil {
					t.Fatalf("SendTaskSuccess: %v", err)
				}
			},
			wantStatus:  StatusSucceeded,
			wantStates:  []string{"SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps", "SetWeight", "Bake", "CheckHealth", "MoreSteps", "Finalize", "Completed"},
			wantActions: []string{"smoke", "request", "granted", "begin", "set-weight", "bake", "check-health", "finalize"},
			check: func(t *testing.T, h *harness, arn string) {
				bake, _ := h.output(arn)["bake"].(map[string]any)
				if bake["promoteNow"] != true {
					t.Errorf("output.bake = %v, want promoteNow", bake)
				}
			},
		},
		{
			// Issue 20: a plan's pause until continued holds the weight
			// until an operator's promote answers the Pause token (the
			// approval API does, for the verified caller); Continue then
			// decides the next step and the loop goes on through MoreSteps.
			name:     "a pause held until continued",
			strategy: canary,
			pipe: pipeline{smokePassed: true, begin: canaryBegin, health: []func() (core.InvokeResult, error){
				func() (core.InvokeResult, error) {
					return ok(promotion.Shift{StableVersion: "1", Step: 0, Weight: 0.1, BakeSeconds: 3600, Kind: "pause", Position: 2})
				},
			}},
			drive: func(t *testing.T, h *harness, arn string) {
				h.approve(arn)
				h.waiting(arn, "Bake")
				h.clock.Advance(300 * time.Second)
				tok := h.waiting(arn, "Pause")
				if got := h.scheduled(arn, "Pause").TimeoutInSeconds; got == nil || *got != 3600 {
					t.Errorf("Pause timeoutInSeconds = %v, want 3600 (from $.shift.bakeSeconds)", got)
				}
				if tok != h.tokenInSchedule(arn, "Pause") {
					t.Errorf("the open TaskScheduled of Pause does not carry the task token")
				}
				h.clock.Advance(3599 * time.Second)
				if c := h.atCursor(arn, "Pause", func(c cursor) bool { return true }); c.State != "Pause" {
					t.Fatalf("after 3599s the execution is at %s, want still held in Pause", c.State)
				}
				if err := h.svc.SendTaskSuccess(t.Context(), tok, `{"promoteNow":true,"actor":"arn:aws:iam::000000000000:user/alice"}`); err != nil {
					t.Fatalf("SendTaskSuccess: %v", err)
				}
			},
			wantStatus: StatusSucceeded,
			wantStates: []string{"SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps", "SetWeight", "Bake", "CheckHealth",
				"MoreSteps", "Pause", "Continue", "MoreSteps", "Finalize", "Completed"},
			wantActions: []string{"smoke", "request", "granted", "begin", "set-weight", "bake", "check-health", "pause", "continue", "finalize"},
			check: func(t *testing.T, h *harness, arn string) {
				req := h.lastRequest(arn, "continue")
				if req.Promotion.Bake == nil || !req.Promotion.Bake.PromoteNow || req.Promotion.Bake.Actor != "arn:aws:iam::000000000000:user/alice" {
					t.Errorf("continue's promotion.bake = %+v, want the operator's promote", req.Promotion.Bake)
				}
				if req.Promotion.Shift == nil || req.Promotion.Shift.Kind != "pause" || req.Promotion.Shift.Position != 2 {
					t.Errorf("continue's promotion.shift = %+v, want the pause at position 2", req.Promotion.Shift)
				}
			},
		},
		{
			name:     "a pause nobody continued: Continue fails, Rollback, RolledBack",
			strategy: canary,
			pipe: pipeline{smokePassed: true, begin: canaryBegin, health: []func() (core.InvokeResult, error){
				func() (core.InvokeResult, error) {
					return ok(promotion.Shift{StableVersion: "1", Step: 0, Weight: 0.1, BakeSeconds: 3600, Kind: "pause", Position: 2})
				},
			}, cont: func() (core.InvokeResult, error) {
				return functionError(promotion.ErrPauseExpired, "nobody continued the pause at 10%")
			}},
			drive: func(t *testing.T, h *harness, arn string) {
				h.approve(arn)
				h.waiting(arn, "Bake")
				h.clock.Advance(300 * time.Second)
				h.waiting(arn, "Pause")
				h.clock.Advance(3600 * time.Second)
			},
			wantStatus: StatusFailed,
			wantError:  "RolledBack",
			wantStates: []string{"SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps", "SetWeight", "Bake", "CheckHealth",
				"MoreSteps", "Pause", "Continue", "Rollback", "RolledBack"},
			wantActions: []string{"smoke", "request", "granted", "begin", "set-weight", "bake", "check-health", "pause", "continue", "rollback"},
			check: func(t *testing.T, h *harness, arn string) {
				if req := h.lastRequest(arn, "continue"); req.Promotion.Bake == nil || req.Promotion.Bake.Error != "States.Timeout" {
					t.Errorf("continue's promotion.bake = %+v, want the pause's States.Timeout", req.Promotion.Bake)
				}
				if req := h.lastRequest(arn, "rollback"); req.Promotion.Failure == nil || req.Promotion.Failure.Error != promotion.ErrPauseExpired {
					t.Errorf("rollback's promotion.failure = %+v, want %s", req.Promotion.Failure, promotion.ErrPauseExpired)
				}
			},
		},
		{
			name:     "rejected through SendTaskFailure(aliasflow.Rejected)",
			strategy: allAtOnce,
			pipe:     pipeline{smokePassed: true},
			drive: func(t *testing.T, h *harness, arn string) {
				tok := h.waiting(arn, "RequestApproval")
				body := mustJSON(map[string]string{"taskToken": tok, "error": promotion.ErrRejected, "cause": `{"approved":false,"approver":"alice@example.com"}`})
				if _, err := h.svc.apiSendTaskFailure([]byte(body)); err != nil {
					t.Fatalf("SendTaskFailure: %v", err)
				}
			},
			wantStatus:  StatusFailed,
			wantError:   "Rejected",
			wantStates:  []string{"SmokeTest", "SmokePassed", "RequestApproval", "RecordRejection", "Rejected"},
			wantActions: []string{"smoke", "request", "rejected"},
			check: func(t *testing.T, h *harness, arn string) {
				req := h.lastRequest(arn, "rejected")
				if req.Promotion.Failure == nil || req.Promotion.Failure.Error != promotion.ErrRejected || !strings.Contains(req.Promotion.Failure.Cause, "alice") {
					t.Errorf("RecordRejection's promotion.failure = %+v, want the rejection", req.Promotion.Failure)
				}
			},
		},
		{
			name:     "approval times out: RecordExpiry, ApprovalExpired",
			strategy: allAtOnce,
			pipe:     pipeline{smokePassed: true},
			drive: func(t *testing.T, h *harness, arn string) {
				h.waiting(arn, "RequestApproval")
				h.clock.Advance(3600 * time.Second)
			},
			wantStatus:  StatusFailed,
			wantError:   "ApprovalExpired",
			wantStates:  []string{"SmokeTest", "SmokePassed", "RequestApproval", "RecordExpiry", "ApprovalExpired"},
			wantActions: []string{"smoke", "request", "expired"},
		},
		{
			name:     "health check fails: Rollback, RolledBack",
			strategy: canary,
			pipe: pipeline{smokePassed: true, begin: canaryBegin, health: []func() (core.InvokeResult, error){
				func() (core.InvokeResult, error) {
					return functionError(promotion.ErrHealthCheckFailed, "alarm hello-prod-errors is ALARM")
				},
			}},
			drive: func(t *testing.T, h *harness, arn string) {
				h.approve(arn)
				h.waiting(arn, "Bake")
				h.clock.Advance(300 * time.Second)
			},
			wantStatus:  StatusFailed,
			wantError:   "RolledBack",
			wantStates:  []string{"SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps", "SetWeight", "Bake", "CheckHealth", "Rollback", "RolledBack"},
			wantActions: []string{"smoke", "request", "granted", "begin", "set-weight", "bake", "check-health", "rollback"},
			check: func(t *testing.T, h *harness, arn string) {
				req := h.lastRequest(arn, "rollback")
				if req.Promotion.Failure == nil || req.Promotion.Failure.Error != promotion.ErrHealthCheckFailed {
					t.Errorf("rollback's promotion.failure = %+v, want %s", req.Promotion.Failure, promotion.ErrHealthCheckFailed)
				}
			},
		},
		{
			name:     "transient Lambda.TooManyRequestsException is retried",
			strategy: canary,
			pipe: pipeline{smokePassed: true, begin: canaryBegin, health: []func() (core.InvokeResult, error){
				func() (core.InvokeResult, error) {
					return core.InvokeResult{}, core.Errorf("TooManyRequestsException", 429, "Rate Exceeded.")
				},
				func() (core.InvokeResult, error) {
					return core.InvokeResult{}, core.Errorf("TooManyRequestsException", 429, "Rate Exceeded.")
				},
			}},
			drive: func(t *testing.T, h *harness, arn string) {
				h.approve(arn)
				h.waiting(arn, "Bake")
				h.clock.Advance(300 * time.Second)
				// Retry: IntervalSeconds 1, BackoffRate 2, FULL jitter (the
				// harness's random is 0.5): 0.5 s, then 1 s.
				for i, want := range []time.Duration{500 * time.Millisecond, time.Second} {
					c := h.atCursor(arn, "CheckHealth backing off", func(c cursor) bool {
						return c.State == "CheckHealth" && c.Phase == phaseBackoff && c.RetryCount == i+1
					})
					if got := c.WakeAt.Sub(h.clock.Now()); got != want {
						t.Errorf("retry %d waits %v, want %v", i+1, got, want)
					}
					h.clock.Advance(want)
				}
			},
			wantStatus:  StatusSucceeded,
			wantStates:  []string{"SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps", "SetWeight", "Bake", "CheckHealth", "MoreSteps", "Finalize", "Completed"},
			wantActions: []string{"smoke", "request", "granted", "begin", "set-weight", "bake", "check-health", "check-health", "check-health", "finalize"},
			check: func(t *testing.T, h *harness, arn string) {
				n, _ := h.svc.Transitions(arn)
				if n != 13+2 {
					t.Errorf("transitions = %d, want 15 (13 states, Mode included, + 2 retries)", n)
				}
				var failed int
				for _, ev := range mustHistory(t, h, arn) {
					if d := ev.TaskFailedEventDetails; d != nil && d.Error == "Lambda.TooManyRequestsException" {
						failed++
					}
				}
				if failed != 2 {
					t.Errorf("TaskFailed(Lambda.TooManyRequestsException) events = %d, want 2", failed)
				}
			},
		},
		{
			name:     "a throttled SetWeight is retried and the bake starts only once the weight is set",
			strategy: canary,
			pipe: pipeline{smokePassed: true, begin: canaryBegin, setWeight: []func() (core.InvokeResult, error){
				func() (core.InvokeResult, error) {
					return core.InvokeResult{}, core.Errorf("TooManyRequestsException", 429, "Rate Exceeded.")
				},
				func() (core.InvokeResult, error) {
					return core.InvokeResult{}, core.Errorf("TooManyRequestsException", 429, "Rate Exceeded.")
				},
			}},
			drive: func(t *testing.T, h *harness, arn string) {
				h.approve(arn)
				for i, wait := range []time.Duration{500 * time.Millisecond, time.Second} {
					h.atCursor(arn, "SetWeight backing off", func(c cursor) bool {
						return c.State == "SetWeight" && c.Phase == phaseBackoff && c.RetryCount == i+1
					})
					h.clock.Advance(wait)
				}
				h.waiting(arn, "Bake")
				// The bake's clock starts after the weight landed: the full
				// 300 s are still ahead after the 1.5 s of retries.
				h.clock.Advance(299 * time.Second)
				if c := h.atCursor(arn, "Bake", func(c cursor) bool { return true }); c.State != "Bake" {
					t.Fatalf("299 s after the weight was set the execution is at %s, want still baking", c.State)
				}
				h.clock.Advance(time.Second)
			},
			wantStatus:  StatusSucceeded,
			wantStates:  []string{"SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps", "SetWeight", "Bake", "CheckHealth", "MoreSteps", "Finalize", "Completed"},
			wantActions: []string{"smoke", "request", "granted", "begin", "set-weight", "set-weight", "set-weight", "bake", "check-health", "finalize"},
			check: func(t *testing.T, h *harness, arn string) {
				var setAt, bakeAt time.Time
				var current string
				for _, ev := range mustHistory(t, h, arn) {
					if d := ev.StateEnteredEventDetails; d != nil {
						current = d.Name
					}
					switch {
					case ev.Type == EventTaskSucceeded && current == "SetWeight":
						setAt = time.Time(ev.Timestamp)
					case ev.TaskScheduledEventDetails != nil && current == "Bake":
						bakeAt = time.Time(ev.Timestamp)
					}
				}
				if setAt.IsZero() || bakeAt.IsZero() || bakeAt.Before(setAt) {
					t.Errorf("set-weight succeeded at %s, Bake scheduled at %s; want the bake scheduled after the weight is set", setAt, bakeAt)
				}
			},
		},
		{
			name:     "SetWeight fails: Rollback without baking",
			strategy: canary,
			pipe: pipeline{smokePassed: true, begin: canaryBegin, setWeight: []func() (core.InvokeResult, error){
				func() (core.InvokeResult, error) {
					return functionError("ResourceConflictException", "prod was changed by someone else")
				},
			}},
			drive:       func(t *testing.T, h *harness, arn string) { h.approve(arn) },
			wantStatus:  StatusFailed,
			wantError:   "RolledBack",
			wantStates:  []string{"SmokeTest", "SmokePassed", "RequestApproval", "RecordApproval", "BeginShift", "HasSteps", "SetWeight", "Rollback", "RolledBack"},
			wantActions: []string{"smoke", "request", "granted", "begin", "set-weight", "rollback"},
			check: func(t *testing.T, h *harness, arn string) {
				req := h.lastRequest(arn, "rollback")
				if req.Promotion.Failure == nil || req.Promotion.Failure.Error != "ResourceConflictException" {
					t.Errorf("rollback's promotion.failure = %+v, want the set-weight error", req.Promotion.Failure)
				}
			},
		},
	}
	for i := range tests {
		tc := &tests[i]
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tc.pipe.t = t
			tc.pipe.install(h)
			sm := h.machine("aliasflow-promotion", promotionDefinition(t))
			arn := h.start(sm, promotion.ExecutionName("hello", "2", "abc="), promotionInput(t, tc.strategy))
			if tc.drive != nil {
				tc.drive(t, h, arn)
			}
			status, errName, _ := h.closed(arn)
			if status != tc.wantStatus || errName != tc.wantError {
				t.Errorf("execution ended %s/%q, want %s/%q\nhistory: %v", status, errName, tc.wantStatus, tc.wantError, h.eventTypes(arn))
			}
			// Every execution enters Mode first (a promotion, not a manual
			// rollback).
			if got, want := h.states(arn), append([]string{"Mode"}, tc.wantStates...); !reflect.DeepEqual(got, want) {
				t.Errorf("states entered:\n got %v\nwant %v", got, want)
			}
			if got := tc.pipe.actions(); !reflect.DeepEqual(got, tc.wantActions) {
				t.Errorf("task actions:\n got %v\nwant %v", got, tc.wantActions)
			}
			if tc.check != nil {
				tc.check(t, h, arn)
			}
		})
	}
}

// approve waits for RequestApproval and approves through its token.
func (h *harness) approve(arn string) {
	h.t.Helper()
	tok := h.waiting(arn, "RequestApproval")
	if err := h.svc.SendTaskSuccess(h.t.Context(), tok, `{"approved":true,"approver":"alice@example.com","via":"link","decidedAt":"2026-11-21T09:05:00Z"}`); err != nil {
		h.t.Fatalf("approve: %v", err)
	}
}

// scheduled returns the last TaskScheduled details of a state.
func (h *harness) scheduled(arn, state string) *TaskScheduledDetails {
	h.t.Helper()
	var current string
	var got *TaskScheduledDetails
	for _, ev := range mustHistory(h.t, h, arn) {
		if d := ev.StateEnteredEventDetails; d != nil {
			current = d.Name
		}
		if d := ev.TaskScheduledEventDetails; d != nil && current == state {
			got = d
		}
	}
	if got == nil {
		h.t.Fatalf("no TaskScheduled for %s", state)
	}
	return got
}

// tokenInSchedule finds the task token the way a decider does: in the
// Payload of the state's TaskScheduled parameters.
func (h *harness) tokenInSchedule(arn, state string) string {
	var params struct {
		Payload struct {
			TaskToken string `json:"taskToken"`
		}
	}
	if err := json.Unmarshal([]byte(h.scheduled(arn, state).Parameters), &params); err != nil {
		h.t.Fatalf("TaskScheduled parameters: %v", err)
	}
	return params.Payload.TaskToken
}

// lastRequest returns the last payload the execution sent with action.
func (h *harness) lastRequest(arn, action string) promotion.TaskRequest {
	h.t.Helper()
	var got *promotion.TaskRequest
	for _, c := range h.lam.callList() {
		var req promotion.TaskRequest
		if json.Unmarshal([]byte(c.Raw), &req) == nil && req.Action == action && req.Execution == arn {
			got = &req
		}
	}
	if got == nil {
		h.t.Fatalf("no %s request", action)
	}
	return *got
}

func mustHistory(t *testing.T, h *harness, arn string) []HistoryEvent {
	t.Helper()
	events, err := h.svc.History(arn)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	return events
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
