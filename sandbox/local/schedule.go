package local

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/iam"
)

// The world runs the templates' EventBridge Scheduler schedules as
// Scheduler does for a templated Lambda target: at the schedule's rate,
// the first time when it is created (a rate-based schedule without a
// StartDate "starts invoking the target immediately", "Schedule types in
// EventBridge Scheduler",
// https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html),
// an asynchronous Invoke of the target function ("When you set up
// EventBridge Scheduler with Lambda, EventBridge Scheduler invokes your
// Lambda function asynchronously", "Using Lambda with Amazon EventBridge
// Scheduler", https://docs.aws.amazon.com/lambda/latest/dg/with-eventbridge-scheduler.html)
// with the target's Input as the payload, made as the target's execution
// role (RoleArn), whose identity policies must allow lambda:InvokeFunction
// on the function and whose trust policy must let scheduler.amazonaws.com
// assume it ("Set up the execution role", EventBridge Scheduler User
// Guide). What the sandbox cannot run as Scheduler would is refused by
// name when the world is created: cron() and at() expressions, a target
// that is not a Lambda function, and a target without Input (Scheduler
// then "delivers a default notification to the target", whose content the
// Target API reference does not give,
// https://docs.aws.amazon.com/scheduler/latest/APIReference/API_Target.html).

// NoSchedule, as an Options.Schedules rate, holds the schedule: the world
// never runs it (a test that invokes the target itself, when it chooses).
const NoSchedule time.Duration = -1

// schedulerPrincipal is the service that assumes a schedule's execution
// role.
const schedulerPrincipal = "scheduler.amazonaws.com"

// schedule is one schedule the world runs.
type schedule struct {
	name     string
	every    time.Duration
	function string // the target's function name, or name:qualifier
	input    []byte
}

// rateExpr is a rate expression: "rate(value unit)", value a positive
// integer and unit minute(s), hour(s) or day(s) (ScheduleExpression,
// CreateSchedule, EventBridge Scheduler API Reference,
// https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html).
var rateExpr = regexp.MustCompile(`^rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)$`)

// parseRate reads a rate expression; any other schedule expression is
// refused by its kind.
func parseRate(expr string) (time.Duration, error) {
	m := rateExpr.FindStringSubmatch(expr)
	if m == nil {
		kind, _, _ := strings.Cut(expr, "(")
		switch kind {
		case "cron", "at":
			return 0, fmt.Errorf("ScheduleExpression %q: the sandbox runs rate() schedules only, not %s()", expr, kind)
		}
		return 0, fmt.Errorf("ScheduleExpression %q is not rate(value unit) with a positive whole value and a unit of minutes, hours or days", expr)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("ScheduleExpression %q: the value must be a positive whole number", expr)
	}
	unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
	return time.Duration(n) * unit, nil
}

// scheduleProps are the properties of an AWS::Scheduler::Schedule the
// world reads; the others it refuses when set (targetKinds, unsupported).
type scheduleProps struct {
	Name, State, ScheduleExpression string
	FlexibleTimeWindow              struct{ Mode string }
	Target                          struct {
		Arn, RoleArn string
		Input        *string
	}
}

// unsupportedSchedule are the properties of a schedule the sandbox does
// not apply: each would change when or how the target runs.
var unsupportedSchedule = []string{"StartDate", "EndDate"}

// templatedTargets are the Target properties of the templated targets
// other than Lambda's Invoke, which takes none.
var templatedTargets = []string{"EcsParameters", "EventBridgeParameters", "KinesisParameters", "SageMakerPipelineParameters", "SqsParameters"}

// schedule reads a schedule and keeps it for the world to run once it has
// started (startSchedules): on a resumed world too, since no service of
// the sandbox keeps it.
func (d *deployment) schedule(s *iam.Stack, _ string, r iam.Resource) error {
	for _, k := range unsupportedSchedule {
		if _, ok := r.Properties[k]; ok {
			return fmt.Errorf("%s: the sandbox runs a schedule from its creation on, without %s", k, k)
		}
	}
	if t, ok := r.Properties["Target"].(map[string]any); ok {
		for _, k := range templatedTargets {
			if _, ok := t[k]; ok {
				return fmt.Errorf("the schedule's Target.%s: the sandbox runs Lambda targets only", k)
			}
		}
	}
	var p scheduleProps
	if err := d.resolve(s, r.Properties, &p); err != nil {
		return err
	}
	every, err := parseRate(p.ScheduleExpression)
	if err != nil {
		return err
	}
	if m := p.FlexibleTimeWindow.Mode; m != "OFF" && m != "FLEXIBLE" {
		return fmt.Errorf("FlexibleTimeWindow.Mode %q: want OFF or FLEXIBLE (the sandbox runs a flexible window's invocation at its start)", m)
	}
	fn, ok := functionOfARN(p.Target.Arn)
	if !ok {
		return fmt.Errorf("Target.Arn %s: the sandbox runs schedules whose target is a Lambda function (templated Lambda Invoke) only", p.Target.Arn)
	}
	if p.Target.Input == nil {
		return fmt.Errorf("schedule %s has no Target.Input: Scheduler would deliver its default notification, which its API reference does not describe; give the target an Input", p.Name)
	}
	if !json.Valid([]byte(*p.Target.Input)) {
		return fmt.Errorf("Target.Input %q: a Lambda target's input must be well-formed JSON", *p.Target.Input)
	}
	if err := trustsScheduler(s, r); err != nil {
		return err
	}
	switch p.State {
	case "", "ENABLED":
	case "DISABLED":
		return nil
	default:
		return fmt.Errorf("the schedule's State %q: want ENABLED or DISABLED", p.State)
	}
	if rate, ok := d.w.opts.Schedules[p.Name]; ok && rate != 0 {
		every = rate
	}
	if every < 0 {
		return nil // held by Options.Schedules
	}
	d.w.schedules = append(d.w.schedules, schedule{name: p.Name, every: every, function: fn, input: []byte(*p.Target.Input)})
	return nil
}

// functionOfARN is the function (name, or name:qualifier) of a Lambda
// function's ARN.
func functionOfARN(arn string) (string, bool) {
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || len(parts) > 8 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" || parts[6] == "" {
		return "", false
	}
	return strings.Join(parts[6:], ":"), true
}

// trustsScheduler checks that the schedule's role (the template's
// AWS::IAM::Role its Target.RoleArn names) lets scheduler.amazonaws.com
// assume it: Scheduler cannot invoke the target otherwise.
func trustsScheduler(s *iam.Stack, r iam.Resource) error {
	target, _ := r.Properties["Target"].(map[string]any)
	ref, _ := target["RoleArn"].(map[string]any)
	att, _ := ref["Fn::GetAtt"].([]any)
	if len(att) != 2 || att[1] != "Arn" {
		return fmt.Errorf("Target.RoleArn: want the Arn of a role of the template, got %v", target["RoleArn"])
	}
	id, _ := att[0].(string)
	role, ok := s.Resources()[id]
	if !ok || role.Type != "AWS::IAM::Role" {
		return fmt.Errorf("Target.RoleArn: %s is not an AWS::IAM::Role of the template", id)
	}
	doc, _ := role.Properties["AssumeRolePolicyDocument"].(map[string]any)
	sts, _ := doc["Statement"].([]any)
	for _, st := range sts {
		m, _ := st.(map[string]any)
		principal, _ := m["Principal"].(map[string]any)
		if m["Effect"] == "Allow" && m["Action"] == "sts:AssumeRole" && slices.Contains(asStrings(principal["Service"]), schedulerPrincipal) {
			return nil
		}
	}
	return fmt.Errorf("Target.RoleArn: role %s does not let %s assume it (its AssumeRolePolicyDocument)", id, schedulerPrincipal)
}

func asStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// scheduler runs the world's schedules until the world closes.
type scheduler struct {
	stop chan struct{}
	done sync.WaitGroup
}

// startSchedules runs each schedule: once now, then at its rate. set is
// the templates' IAM, which decides each invocation.
func (w *World) startSchedules(set *iam.Set) {
	w.scheduler = &scheduler{stop: make(chan struct{})}
	log := slog.New(slog.NewTextHandler(w.opts.Log, nil))
	for _, sch := range w.schedules {
		w.scheduler.done.Add(1)
		go func() {
			defer w.scheduler.done.Done()
			t := time.NewTicker(sch.every)
			defer t.Stop()
			for {
				w.fire(set, sch, log)
				select {
				case <-w.scheduler.stop:
					return
				case <-t.C:
				}
			}
		}()
	}
}

// stopSchedules stops the schedules and waits for them.
func (w *World) stopSchedules() {
	if w.scheduler == nil {
		return
	}
	close(w.scheduler.stop)
	w.scheduler.done.Wait()
	w.scheduler = nil
}

// fire makes one invocation of a schedule: authorized as its role, then
// queued as an asynchronous Invoke. A refused invocation is logged, as
// Scheduler counts it a failed delivery; the schedule goes on.
func (w *World) fire(set *iam.Set, sch schedule, log *slog.Logger) {
	if err := w.authorizeSchedule(set, sch); err != nil {
		log.Warn("schedule: invocation refused", "schedule", sch.name, "target", sch.function, "error", err)
		return
	}
	name, qualifier, _ := strings.Cut(sch.function, ":")
	if err := w.sb.Lambda().InvokeAsync(name, qualifier, sch.input); err != nil {
		log.Warn("schedule: invocation failed", "schedule", sch.name, "target", sch.function, "error", err)
		return
	}
	w.mu.Lock()
	w.fired[sch.name]++
	w.mu.Unlock()
}

// authorizeSchedule decides lambda:InvokeFunction on the schedule's
// target by its execution role's identity policies.
func (w *World) authorizeSchedule(set *iam.Set, sch schedule) error {
	role := set.ScheduleRole(sch.name)
	if role == nil {
		return fmt.Errorf("the templates define no execution role of schedule %s", sch.name)
	}
	name, qualifier, _ := strings.Cut(sch.function, ":")
	arn, err := iam.FunctionARN(name, qualifier, core.Account, core.Region)
	if err != nil {
		return err
	}
	tags, _ := w.sb.Lambda().Tags(name)
	ctx := map[string][]string{}
	for k, v := range tags {
		ctx["aws:ResourceTag/"+k] = []string{v}
	}
	req, err := set.Reference.Scope(iam.Request{Action: iam.InvokeAction, Resource: arn, Context: ctx})
	if err != nil {
		return err
	}
	d, err := iam.Evaluate(role.Policies, req)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return fmt.Errorf("%s", iam.DeniedMessage(role.AssumedRoleARN(core.Account, sch.name), req, d))
	}
	return nil
}

// Fired is how many invocations each schedule has made, by schedule name
// (a refused one is not counted).
func (w *World) Fired() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.fired)
}
