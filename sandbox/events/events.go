// Package events is the sandbox's Amazon EventBridge (awsJson1_1,
// "AWSEvents.<Op>"): the default event bus and custom buses created for
// setup (CreateEventBus), rules with event patterns on either, and
// Lambda and Step Functions targets. PutEvents validates each entry as AWS
// does, builds the envelope AWS delivers, and routes it by the same
// patterns the CDK rules deploy (package eventpattern): Lambda targets are
// invoked asynchronously with Lambda's two retries, state machine targets
// start an execution. Deliveries are kept so tests can assert on them.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/eventpattern"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
)

const (
	defaultBus = "default"
	maxEntries = 10
	// maxRequestBytes bounds the entries of one PutEvents call, measured
	// as putEventsEntry.size does.
	maxRequestBytes = 256 * 1024
	maxKeptEvents   = 1000
	maxTargetsRule  = 5
)

// Options tunes a Service; the zero value is usable.
type Options struct {
	// Logger receives delivery failures; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// RetryDelays are the waits before Lambda's two async retries. AWS waits
	// about one and two minutes; the sandbox defaults to 1s and 2s so a
	// rehearsal stays quick. Its length is the number of retries.
	RetryDelays []time.Duration
}

// Service is the EventBridge emulation. It is an http.Handler.
type Service struct {
	invoker core.Invoker
	starter core.ExecutionStarter
	log     *slog.Logger
	now     func() time.Time
	delays  []time.Duration

	ctx    context.Context // deliveries outlive the PutEvents request
	cancel context.CancelFunc

	mu         sync.Mutex
	authorize  InvokeAuthorizer
	buses      map[string]bool  // by name; the default bus always exists
	rules      map[string]*rule // by ruleKey(bus, name)
	events     []Event
	deliveries []Delivery
	inflight   sync.WaitGroup
	// refuse is the error code every PutEvents entry fails with (Refuse).
	refuse string
}

type rule struct {
	Name string
	// Bus is the rule's event bus; "" is the default bus.
	Bus          string   `json:",omitempty"`
	Description  string   `json:",omitempty"`
	EventPattern string   `json:",omitempty"`
	Schedule     string   `json:",omitempty"`
	State        string   // ENABLED | DISABLED
	RoleArn      string   `json:",omitempty"`
	Targets      []Target `json:",omitempty"`
	pattern      *eventpattern.Pattern
}

// Target is a rule target as PutTargets takes it (the fields the sandbox
// implements).
type Target struct {
	Id        string
	Arn       string
	RoleArn   string `json:",omitempty"`
	Input     string `json:",omitempty"`
	InputPath string `json:",omitempty"`
}

// Event is an event as EventBridge delivers it (the envelope).
type Event struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
	// bus is the bus the event was put on: only its rules see it.
	bus string
}

// Delivery records one event delivered (or not) to one target.
type Delivery struct {
	Rule     string
	TargetID string
	Arn      string
	EventID  string
	Input    string
	// Attempts counts invocations made (1 + retries) for Lambda targets.
	Attempts int
	// Err is the last failure ("" when delivered): the invoke error or the
	// function's error payload.
	Err string
	// ExecutionArn is the execution started for a state machine target.
	ExecutionArn string
	Time         time.Time
}

// New returns an EventBridge service delivering to invoker (Lambda targets)
// and starter (state machine targets); either may be nil, and a delivery to
// a missing one is recorded as failed.
func New(invoker core.Invoker, starter core.ExecutionStarter, opts *Options) *Service {
	s := &Service{invoker: invoker, starter: starter, log: slog.Default(), now: time.Now,
		delays: []time.Duration{time.Second, 2 * time.Second}, rules: map[string]*rule{}, buses: map[string]bool{defaultBus: true}}
	if opts != nil {
		if opts.Logger != nil {
			s.log = opts.Logger
		}
		if opts.Now != nil {
			s.now = opts.Now
		}
		if opts.RetryDelays != nil {
			s.delays = opts.RetryDelays
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Close cancels deliveries under way and waits for them to end.
func (s *Service) Close() {
	s.cancel()
	s.inflight.Wait()
}

// ServeHTTP serves the EventBridge API the project calls: PutEvents.
// Rules and targets are set up through the Go API (PutRule, PutTargets);
// any other operation is refused, named.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	core.ServeAWSJSON(w, r, "events", map[string]core.JSONOp{
		"PutEvents": s.putEvents,
	})
}

func validation(format string, args ...any) *core.APIError {
	return core.Errorf("ValidationException", http.StatusBadRequest, format, args...)
}

func notFound(format string, args ...any) *core.APIError {
	return core.Errorf("ResourceNotFoundException", http.StatusBadRequest, format, args...)
}

// busName resolves an EventBusName parameter (name or ARN of this
// account's bus) to a bus that exists. The caller holds s.mu.
func (s *Service) busName(name string) (string, error) {
	n := strings.TrimPrefix(name, BusARN(""))
	if n == "" {
		n = defaultBus
	}
	if !s.buses[n] {
		return "", notFound("Event bus %s does not exist.", name)
	}
	return n, nil
}

// lockedBusName is busName for a caller not holding s.mu.
func (s *Service) lockedBusName(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busName(name)
}

// BusARN is an event bus's ARN.
func BusARN(name string) string {
	return fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s", core.Region, core.Account, name)
}

// RuleARN is a rule's ARN on the default bus.
func RuleARN(name string) string {
	return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", core.Region, core.Account, name)
}

// BusRuleARN is a rule's ARN on bus: a custom bus's rules are named
// rule/<bus>/<rule> ("Amazon EventBridge resource types", Service
// Authorization Reference: arn:${Partition}:events:${Region}:${Account}:rule/[${EventBusName}/]${RuleName}).
func BusRuleARN(bus, name string) string {
	if bus == "" || bus == defaultBus {
		return RuleARN(name)
	}
	return RuleARN(bus + "/" + name)
}

func ruleKey(bus, name string) string {
	if bus == "" || bus == defaultBus {
		return name
	}
	return bus + "/" + name
}

// busNameRE: what CreateEventBus accepts as a custom bus's name
// (CreateEventBus, EventBridge API Reference: [/\.\-_A-Za-z0-9]+, 1–256;
// "aws." names are partner buses, not created here).
var busNameRE = regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,256}$`)

// CreateEventBus creates a custom event bus (the Go API behind
// CreateEventBus, for setup) and returns its ARN; an existing name is
// ResourceAlreadyExistsException, as on AWS.
func (s *Service) CreateEventBus(name string) (string, error) {
	if !busNameRE.MatchString(name) || name == defaultBus || strings.HasPrefix(name, "aws.") {
		return "", validation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [/\\.\\-_A-Za-z0-9]+", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buses[name] {
		return "", core.Errorf("ResourceAlreadyExistsException", http.StatusBadRequest, "Event bus %s already exists.", name)
	}
	s.buses[name] = true
	return BusARN(name), nil
}

// --- PutEvents ---

type putEventsEntry struct {
	Source       *string
	DetailType   *string
	Detail       *string
	Resources    []string
	EventBusName string
	Time         *float64 // awsJson timestamps are epoch seconds
	TraceHeader  string
}

// size is the entry's size as EventBridge calculates it ("Calculating
// Amazon EventBridge PutEvents event entry size",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html):
// 14 bytes for Time when given, plus the UTF-8 bytes of Source, DetailType,
// Detail and each Resources entry.
func (e putEventsEntry) size() int {
	n := 0
	if e.Time != nil {
		n += 14
	}
	for _, p := range []*string{e.Source, e.DetailType, e.Detail} {
		if p != nil {
			n += len(*p)
		}
	}
	for _, r := range e.Resources {
		n += len(r)
	}
	return n
}

// awsSourcePrefix marks the sources AWS services emit events under; only
// they may put such events ("NotAuthorizedForSourceException: You do not
// have permissions to publish events with this source onto this event
// bus", PutEventsResultEntry in the EventBridge API Reference,
// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html).
const awsSourcePrefix = "aws."

type putEventsResultEntry struct {
	EventId      string `json:",omitempty"`
	ErrorCode    string `json:",omitempty"`
	ErrorMessage string `json:",omitempty"`
}

func (s *Service) putEvents(_ context.Context, body []byte) (any, error) {
	var in struct {
		Entries    []putEventsEntry
		EndpointId string
	}
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.Entries) < 1 || len(in.Entries) > maxEntries {
		return nil, validation("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to %d and greater than or equal to 1", maxEntries)
	}
	// The 256 KB limit is on the whole call, not each entry ("The total
	// entry size must be less than 256KB", Calculating Amazon EventBridge
	// PutEvents event entry size, EventBridge User Guide): an over-size call
	// fails as a whole, with "ValidationException … Total size of the
	// entries in the request is over the limit." as AWS answers it (quoted
	// in awslabs/aws-service-catalog-puppet#563).
	total := 0
	for _, e := range in.Entries {
		total += e.size()
	}
	if total > maxRequestBytes {
		return nil, validation("Total size of the entries in the request is over the limit.")
	}
	out := struct {
		Entries          []putEventsResultEntry
		FailedEntryCount int
	}{}
	var accepted []Event
	for _, e := range in.Entries {
		ev, res := s.buildEvent(e, false)
		if res.ErrorCode != "" {
			out.FailedEntryCount++
		} else {
			accepted = append(accepted, ev)
		}
		out.Entries = append(out.Entries, res)
	}
	for _, ev := range accepted {
		s.route(ev)
	}
	return out, nil
}

// buildEvent validates one entry and builds its envelope. byAWS says the
// event comes from an AWS service of the sandbox (EmitServiceEvent), the
// only putter allowed an "aws." source.
func (s *Service) buildEvent(e putEventsEntry, byAWS bool) (Event, putEventsResultEntry) {
	fail := func(code, format string, args ...any) (Event, putEventsResultEntry) {
		return Event{}, putEventsResultEntry{ErrorCode: code, ErrorMessage: fmt.Sprintf(format, args...)}
	}
	s.mu.Lock()
	refuse := s.refuse
	s.mu.Unlock()
	if refuse != "" {
		return fail(refuse, "refused by the sandbox's fault hook (Refuse)")
	}
	bus, err := s.lockedBusName(e.EventBusName)
	if err != nil {
		return fail("ResourceNotFoundException", "Event bus %s does not exist.", e.EventBusName)
	}
	for _, req := range []struct {
		name string
		v    *string
	}{{"Source", e.Source}, {"DetailType", e.DetailType}, {"Detail", e.Detail}} {
		if req.v == nil || strings.TrimSpace(*req.v) == "" {
			return fail("InvalidArgument", "Parameter %s is not valid. Reason: %s is a required argument.", req.name, req.name)
		}
	}
	if !byAWS && strings.HasPrefix(*e.Source, awsSourcePrefix) {
		return fail("NotAuthorizedForSourceException", "Not authorized for the source.")
	}
	var detail map[string]any
	if err := json.Unmarshal([]byte(*e.Detail), &detail); err != nil || detail == nil {
		return fail("MalformedDetail", "Detail is malformed.")
	}
	for _, r := range e.Resources {
		if !strings.HasPrefix(r, "arn:") {
			return fail("InvalidArgument", "Parameter Resources is not valid. Reason: %q is not an ARN.", r)
		}
	}
	at := s.now()
	if e.Time != nil {
		sec := int64(*e.Time)
		at = time.Unix(sec, int64((*e.Time-float64(sec))*1e9))
	}
	ev := Event{
		Version:    "0",
		ID:         core.UUID(),
		DetailType: *e.DetailType,
		Source:     *e.Source,
		Account:    core.Account,
		Time:       at.UTC().Format("2006-01-02T15:04:05Z"),
		Region:     core.Region,
		Resources:  append([]string{}, e.Resources...),
		Detail:     json.RawMessage(*e.Detail),
		bus:        bus,
	}
	return ev, putEventsResultEntry{EventId: ev.ID}
}

// route matches ev against every enabled rule and delivers it to their
// targets; deliveries run in the background, as EventBridge's do.
func (s *Service) route(ev Event) {
	raw, err := json.Marshal(ev)
	if err != nil {
		s.log.Error("events: encode event", "error", err.Error())
		return
	}
	var decoded map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&decoded); err != nil {
		s.log.Error("events: decode event", "error", err.Error())
		return
	}
	type job struct {
		rule   string // its ARN's resource: name, or bus/name
		target Target
	}
	var jobs []job
	s.mu.Lock()
	s.events = append(s.events, ev)
	if len(s.events) > maxKeptEvents {
		s.events = s.events[len(s.events)-maxKeptEvents:]
	}
	for _, r := range core.SortedValues(s.rules) {
		if r.State != "ENABLED" || r.pattern == nil || ruleKey(r.Bus, "") != ruleKey(ev.bus, "") || !r.pattern.MatchValue(decoded) {
			continue
		}
		for _, t := range r.Targets {
			jobs = append(jobs, job{rule: ruleKey(r.Bus, r.Name), target: t})
		}
	}
	s.inflight.Add(len(jobs))
	s.mu.Unlock()
	for _, j := range jobs {
		go func() {
			defer s.inflight.Done()
			s.deliver(j.rule, j.target, ev, decoded, raw)
		}()
	}
}

func (s *Service) deliver(ruleName string, t Target, ev Event, decoded map[string]any, raw []byte) {
	d := Delivery{Rule: ruleName, TargetID: t.Id, Arn: t.Arn, EventID: ev.ID, Time: s.now()}
	input, err := targetInput(t, decoded, raw)
	if err != nil {
		d.Err = err.Error()
		s.record(d)
		return
	}
	d.Input = string(input)
	switch {
	case strings.HasPrefix(t.Arn, "arn:aws:lambda:"):
		s.deliverLambda(&d, input)
	case strings.HasPrefix(t.Arn, "arn:aws:states:"):
		if s.starter == nil {
			d.Err = "no Step Functions in this sandbox"
			break
		}
		// EventBridge names the execution itself; a UUID as it does.
		arn, err := s.starter.StartExecution(s.ctx, t.Arn, core.UUID(), string(input))
		if err != nil {
			d.Err = err.Error()
		}
		d.ExecutionArn = arn
	default:
		d.Err = "unsupported target " + t.Arn
	}
	if d.Err != "" {
		s.log.Error("events: delivery failed", "rule", ruleName, "target", t.Id, "arn", t.Arn, "event", ev.ID, "error", d.Err)
	}
	s.record(d)
}

// InvokeAuthorizer decides whether EventBridge may invoke the Lambda
// function (a target's ARN) for the rule ruleARN; a non-nil error denies
// it and says why.
type InvokeAuthorizer func(ruleARN, function string) error

// SetInvokeAuthorizer makes every delivery to a Lambda target ask f first;
// nil (the default) allows every delivery.
func (s *Service) SetInvokeAuthorizer(f InvokeAuthorizer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorize = f
}

// noPermissions is the error code of a delivery the target's resource-based
// policy does not allow (the ERROR_CODE NO_PERMISSIONS of "Using
// dead-letter queues to process undelivered events in EventBridge",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
const noPermissions = "NO_PERMISSIONS"

// deliverLambda invokes asynchronously as Lambda does for EventBridge: the
// first attempt, then up to two retries when the invoke or the function fails.
//
// A delivery the function's resource-based policy does not allow is not
// made at all and not retried: "for errors that result from missing
// permissions to a target ... no retry attempts will happen until action
// is taken to resolve the underlying issue. EventBridge sends these events
// directly to the target DLQ" (same page). It is recorded as failed with
// no attempt, as every undelivered event is.
func (s *Service) deliverLambda(d *Delivery, input []byte) {
	if s.invoker == nil {
		d.Err = "no Lambda in this sandbox"
		return
	}
	s.mu.Lock()
	authorize := s.authorize
	s.mu.Unlock()
	if authorize != nil {
		if err := authorize(RuleARN(d.Rule), d.Arn); err != nil {
			d.Err = noPermissions + ": " + err.Error()
			return
		}
	}
	queued, throttles := time.Now(), 0
	for attempt := 0; ; attempt++ {
		d.Attempts++
		res, err := s.invoker.Invoke(s.ctx, d.Arn, "", input) // the Invoker takes an ARN, qualified or not
		if lambdasvc.Throttled(err) {
			// No concurrency free (the function's reserved concurrency):
			// the event goes back to Lambda's queue, tried again with
			// backoff for up to 6 hours, not one of the two retries.
			wait, ok := lambdasvc.AsyncRetry(throttles, time.Since(queued))
			if ok {
				throttles++
				d.Attempts--
				attempt--
				select {
				case <-s.ctx.Done():
					d.Err = err.Error()
					return
				case <-time.After(wait):
				}
				continue
			}
		}
		switch {
		case err != nil:
			d.Err = err.Error()
		case res.FunctionError != "":
			d.Err = res.FunctionError + ": " + string(res.Payload)
		default:
			d.Err = ""
			return
		}
		if attempt >= len(s.delays) {
			return
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(s.delays[attempt]):
		}
	}
}

func targetInput(t Target, decoded map[string]any, raw []byte) ([]byte, error) {
	switch {
	case t.Input != "":
		return []byte(t.Input), nil
	case t.InputPath != "":
		v, ok := jsonPath(decoded, t.InputPath)
		if !ok {
			return nil, fmt.Errorf("InputPath %s selects nothing", t.InputPath)
		}
		return json.Marshal(v)
	}
	return raw, nil
}

var inputPathRE = regexp.MustCompile(`^\$(\.[A-Za-z0-9_-]+)*$`)

// jsonPath follows the dotted paths InputPath allows ($, $.a.b).
func jsonPath(v any, path string) (any, bool) {
	for _, part := range strings.Split(strings.TrimPrefix(path, "$"), ".")[1:] {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[part]; !ok {
			return nil, false
		}
	}
	return v, true
}

func (s *Service) record(d Delivery) {
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
}

// --- rules ---

var ruleNameRE = regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`)

// RuleInput is what PutRule takes (the fields the sandbox implements).
type RuleInput struct {
	Name         string
	EventPattern string
	// ScheduleExpression is refused: the sandbox runs no scheduler.
	ScheduleExpression string
	// State is ENABLED (the default when empty) or DISABLED.
	State        string
	Description  string
	RoleArn      string
	EventBusName string
}

// PutRule creates or updates a rule on the default bus and returns its ARN
// (the Go API behind the PutRule operation, for setup).
func (s *Service) PutRule(in RuleInput) (string, error) {
	bus, err := s.lockedBusName(in.EventBusName)
	if err != nil {
		return "", err
	}
	if bus == defaultBus {
		bus = ""
	}
	if !ruleNameRE.MatchString(in.Name) {
		return "", validation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", in.Name)
	}
	if in.EventPattern == "" && in.ScheduleExpression == "" {
		return "", validation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
	}
	if in.ScheduleExpression != "" {
		// Scheduled rules need a clock-driven trigger the sandbox does not run.
		return "", validation("ScheduleExpression is not supported by the aliasflow sandbox")
	}
	state := in.State
	switch state {
	case "":
		state = "ENABLED"
	case "ENABLED", "DISABLED":
	default:
		return "", validation("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]", state)
	}
	p, err := eventpattern.Compile(in.EventPattern)
	if err != nil {
		return "", core.Errorf("InvalidEventPatternException", http.StatusBadRequest, "Event pattern is not valid. Reason: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rules[ruleKey(bus, in.Name)]
	if r == nil {
		r = &rule{Name: in.Name, Bus: bus}
		s.rules[ruleKey(bus, in.Name)] = r
	}
	r.EventPattern, r.pattern, r.State, r.Description, r.RoleArn = in.EventPattern, p, state, in.Description, in.RoleArn
	return BusRuleARN(bus, in.Name), nil
}

// lookupRule finds a rule of a bus; the caller holds s.mu.
func (s *Service) lookupRule(name, bus string) (*rule, error) {
	b, err := s.busName(bus)
	if err != nil {
		return nil, err
	}
	r := s.rules[ruleKey(b, name)]
	if r == nil {
		return nil, notFound("Rule %s does not exist on EventBus %s.", name, b)
	}
	return r, nil
}

// --- targets ---

// FailedTarget is a PutTargets/RemoveTargets failed entry.
type FailedTarget struct {
	TargetId, ErrorCode, ErrorMessage string
}

var targetIDRE = regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`)

// PutTargets adds or replaces targets of a rule (the Go API behind the
// PutTargets operation). Targets that are neither Lambda functions nor state
// machines come back as failed entries.
func (s *Service) PutTargets(ruleName, bus string, targets []Target) ([]FailedTarget, error) {
	if len(targets) == 0 || len(targets) > 10 {
		return nil, validation("1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1")
	}
	for _, t := range targets {
		if !targetIDRE.MatchString(t.Id) {
			return nil, validation("Value '%s' at 'targets.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", t.Id)
		}
		if t.Input != "" && t.InputPath != "" {
			return nil, validation("Only one of Input, InputPath, or InputTransformer must be provided for target %s.", t.Id)
		}
		if t.Input != "" && !json.Valid([]byte(t.Input)) {
			return nil, validation("Target %s: Input is not valid JSON.", t.Id)
		}
		if t.InputPath != "" && !inputPathRE.MatchString(t.InputPath) {
			return nil, validation("Target %s: InputPath %s is not valid.", t.Id, t.InputPath)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.lookupRule(ruleName, bus)
	if err != nil {
		return nil, err
	}
	failed := []FailedTarget{}
	for _, t := range targets {
		if !strings.HasPrefix(t.Arn, "arn:aws:lambda:") && !strings.HasPrefix(t.Arn, "arn:aws:states:") {
			failed = append(failed, FailedTarget{TargetId: t.Id, ErrorCode: "ValidationException",
				ErrorMessage: fmt.Sprintf("target %s: the aliasflow sandbox delivers only to Lambda functions and state machines, not %s", t.Id, t.Arn)})
			continue
		}
		replaced := false
		for i := range r.Targets {
			if r.Targets[i].Id == t.Id {
				r.Targets[i], replaced = t, true
			}
		}
		if !replaced {
			if len(r.Targets) >= maxTargetsRule {
				return nil, core.Errorf("LimitExceededException", http.StatusBadRequest, "The requested resource exceeds the maximum number allowed.")
			}
			r.Targets = append(r.Targets, t)
		}
	}
	return failed, nil
}

// --- Go API for setup and tests ---

// Refuse is a fault hook: every PutEvents entry from now on fails with
// code (as AccessDeniedException or ThrottlingException) in its result
// entry, the call itself succeeding with FailedEntryCount set, as
// EventBridge answers an entry it did not ingest (PutEventsResultEntry,
// Amazon EventBridge API Reference,
// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html).
// Refuse("") stops it.
func (s *Service) Refuse(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = code
}

// Bus is the name of the bus the event was put on.
func (e Event) Bus() string { return e.bus }

// PutEvent puts one event on the default bus, validated and routed exactly
// as a one-entry PutEvents call is — so an "aws." source is refused — and
// returns its id.
func (s *Service) PutEvent(source, detailType, detail string, resources []string) (string, error) {
	return s.put(putEventsEntry{Source: &source, DetailType: &detailType, Detail: &detail, Resources: resources}, false)
}

// PutBusEvent is PutEvent on the named bus.
func (s *Service) PutBusEvent(bus, source, detailType, detail string, resources []string) (string, error) {
	return s.put(putEventsEntry{Source: &source, DetailType: &detailType, Detail: &detail, Resources: resources, EventBusName: bus}, false)
}

// EmitServiceEvent puts an event an AWS service of the sandbox emits (as
// CodeBuild's "Build State Change"): the one way an "aws." source reaches
// the bus, as on AWS, where only the service itself emits its events. It
// returns the event's id.
func (s *Service) EmitServiceEvent(source, detailType, detail string, resources []string) (string, error) {
	if !strings.HasPrefix(source, awsSourcePrefix) {
		return "", fmt.Errorf("events: a service event's source must start with %q, not %q", awsSourcePrefix, source)
	}
	return s.put(putEventsEntry{Source: &source, DetailType: &detailType, Detail: &detail, Resources: resources}, true)
}

func (s *Service) put(e putEventsEntry, byAWS bool) (string, error) {
	if e.size() > maxRequestBytes {
		return "", validation("Total size of the entries in the request is over the limit.")
	}
	ev, res := s.buildEvent(e, byAWS)
	if res.ErrorCode != "" {
		return "", core.Errorf(res.ErrorCode, http.StatusBadRequest, "%s", res.ErrorMessage)
	}
	s.route(ev)
	return ev.ID, nil
}

// Redeliver routes an accepted event (by id) again, times more times: the
// duplicate deliveries EventBridge's at-least-once delivery may make
// ("EventBridge ... delivers events at least once", Amazon EventBridge
// User Guide, "Event retry policy and using dead-letter queues"). The
// duplicates carry the same event id, as AWS's do.
func (s *Service) Redeliver(id string, times int) error {
	s.mu.Lock()
	var ev *Event
	for i := range s.events {
		if s.events[i].ID == id {
			e := s.events[i]
			ev = &e
		}
	}
	s.mu.Unlock()
	if ev == nil {
		return fmt.Errorf("events: redeliver: no accepted event %s", id)
	}
	for range times {
		s.route(*ev)
	}
	return nil
}

// Events returns the events accepted so far (the most recent 1000), oldest first.
func (s *Service) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Deliveries returns the finished deliveries, in the order they ended.
func (s *Service) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// Drain waits until every delivery under way has finished, or ctx ends.
func (s *Service) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("events: drain: %w", ctx.Err())
	}
}

type snapshot struct {
	Rules []*rule
	// Buses are the custom buses.
	Buses []string `json:",omitempty"`
}

// Snapshot returns the rules and their targets as JSON (events and
// deliveries are history, not state, and are not kept).
func (s *Service) Snapshot() ([]byte, error) {
	return core.Snapshot(&s.mu, func() snapshot {
		var buses []string
		for b := range s.buses {
			if b != defaultBus {
				buses = append(buses, b)
			}
		}
		slices.Sort(buses)
		return snapshot{Rules: core.SortedValues(s.rules), Buses: buses}
	})
}

// Restore replaces the rules with those of a Snapshot.
func (s *Service) Restore(data []byte) error {
	return core.Restore("events", data, &s.mu, func(snap snapshot) error {
		for _, r := range snap.Rules {
			p, err := eventpattern.Compile(r.EventPattern)
			if err != nil {
				return fmt.Errorf("rule %s: %w", r.Name, err)
			}
			r.pattern = p
		}
		buses := map[string]bool{defaultBus: true}
		for _, b := range snap.Buses {
			buses[b] = true
		}
		s.rules, s.buses = core.Keyed(snap.Rules, func(r *rule) string { return ruleKey(r.Bus, r.Name) }), buses
		return nil
	})
}
