// Package asl loads and evaluates Amazon States Language definitions
// (JSONPath query language): the states, fields, paths, payload templates,
// intrinsic functions, Choice rules and error handling that the sandbox's
// Step Functions interpreter runs. It is pure: no clocks, no I/O; the
// runtime lives in the parent package.
//
// Loading is strict: a field, state type, resource, path form or intrinsic
// function this package does not implement is an error naming it, so a
// definition never runs with part of it silently ignored.
package asl

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// StateType is a state's Type.
type StateType string

// The state types this interpreter runs. Parallel and Map are refused.
const (
	TypeTask    StateType = "Task"
	TypeChoice  StateType = "Choice"
	TypeWait    StateType = "Wait"
	TypePass    StateType = "Pass"
	TypeSucceed StateType = "Succeed"
	TypeFail    StateType = "Fail"
)

// Integration is how a Task state runs its Resource.
type Integration int

// The supported Task resources.
const (
	// LambdaInvoke is arn:aws:states:::lambda:invoke (request/response).
	LambdaInvoke Integration = iota + 1
	// LambdaInvokeWait is arn:aws:states:::lambda:invoke.waitForTaskToken.
	LambdaInvokeWait
	// LambdaFunction is a Lambda function ARN as the Resource (the legacy
	// form): the effective input is the payload, the result its output.
	LambdaFunction
)

// Resource ARNs of the optimized Lambda integration.
const (
	ResourceLambdaInvoke     = "arn:aws:states:::lambda:invoke"
	ResourceLambdaInvokeWait = "arn:aws:states:::lambda:invoke.waitForTaskToken"
)

// Definition is a loaded state machine.
type Definition struct {
	Comment string
	StartAt string
	// TimeoutSeconds is the execution's timeout; 0 means none.
	TimeoutSeconds int
	States         map[string]*State
}

// OptionalPath is a path field that may be absent (the default applies),
// JSON null (a distinct meaning for InputPath, OutputPath and ResultPath),
// or a path.
type OptionalPath struct {
	Set  bool
	Null bool
	Path *Path
}

// State is one state of a definition. Only the fields of its Type are set.
type State struct {
	Name    string
	Type    StateType
	Comment string
	Next    string
	End     bool

	InputPath      OptionalPath
	OutputPath     OptionalPath
	ResultPath     OptionalPath
	Parameters     *Template
	ResultSelector *Template

	// Pass
	Result    any
	HasResult bool

	// Task
	Resource             string
	Integration          Integration
	TimeoutSeconds       int
	TimeoutSecondsPath   *Path
	HeartbeatSeconds     int
	HeartbeatSecondsPath *Path
	Retry                []Retrier
	Catch                []Catcher

	// Choice
	Choices []*Rule
	Default string

	// Wait: exactly one of these.
	Seconds       int
	HasSeconds    bool
	SecondsPath   *Path
	Timestamp     time.Time
	HasTimestamp  bool
	TimestampPath *Path

	// Fail
	Error     string
	Cause     string
	ErrorPath *Expression
	CausePath *Expression
}

// DefinitionError lists what is wrong with a definition, in the form of
// Step Functions' InvalidDefinition message.
type DefinitionError struct {
	Problems []string
}

func (e *DefinitionError) Error() string {
	return "Invalid State Machine Definition: '" + strings.Join(e.Problems, ", ") + "'"
}

// maxSeconds is the largest timeout or wait the service accepts.
const maxSeconds = 99999999

var (
	stateFields = map[StateType][]string{
		TypeTask:    {"Next", "End", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch", "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath"},
		TypePass:    {"Next", "End", "InputPath", "OutputPath", "Parameters", "ResultPath", "Result"},
		TypeChoice:  {"InputPath", "OutputPath", "Choices", "Default"},
		TypeWait:    {"Next", "End", "InputPath", "OutputPath", "Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
		TypeSucceed: {"InputPath", "OutputPath"},
		TypeFail:    {"Error", "Cause", "ErrorPath", "CausePath"},
	}
	// Fields that exist in the States Language but that this interpreter
	// does not implement: refused with a message saying so.
	unsupportedFields = map[string]bool{
		"Credentials": true, "Assign": true, "Arguments": true, "Output": true, "QueryLanguage": true,
		"Branches": true, "Iterator": true, "ItemProcessor": true, "ItemsPath": true, "ItemSelector": true,
		"ItemReader": true, "ItemBatcher": true, "ResultWriter": true, "MaxConcurrency": true,
		"MaxConcurrencyPath": true, "ToleratedFailureCount": true, "ToleratedFailurePercentage": true,
		"ToleratedFailureCountPath": true, "ToleratedFailurePercentagePath": true, "Label": true,
	}
	lambdaFunctionARN = regexp.MustCompile(`^arn:aws:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?$`)
	invokeParams      = map[string]bool{"FunctionName": true, "Payload": true, "Qualifier": true, "InvocationType": true}
)

type loader struct{ problems []string }

func (l *loader) errorf(where, format string, args ...any) {
	l.problems = append(l.problems, fmt.Sprintf("SCHEMA_VALIDATION_FAILED: %s at %s", fmt.Sprintf(format, args...), where))
}

func (l *loader) problem(code, where, format string, args ...any) {
	l.problems = append(l.problems, fmt.Sprintf("%s: %s at %s", code, fmt.Sprintf(format, args...), where))
}

// str reads a string field; required reports a missing one.
func (l *loader) str(where string, m map[string]any, key string, required bool) string {
	v, ok := m[key]
	if !ok {
		if required {
			l.errorf(where, "the field %q is required", key)
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		l.errorf(where+"/"+key, "must be a string")
	}
	if ok && s == "" && nonEmpty[key] {
		l.errorf(where+"/"+key, "must not be empty")
	}
	return s
}

// nonEmpty are the string fields that name something and so cannot be "".
var nonEmpty = map[string]bool{"StartAt": true, "Next": true, "Default": true, "Resource": true, "Type": true, "Variable": true}

// integer reads an integer field within [min, max].
func (l *loader) integer(where string, m map[string]any, key string, min, max int) (int, bool) {
	v, ok := m[key]
	if !ok {
		return 0, false
	}
	n, isNum := v.(json.Number)
	i, err := strconv.Atoi(string(n))
	if !isNum || err != nil {
		l.errorf(where+"/"+key, "must be an integer")
		return 0, true
	}
	if i < min || i > max {
		l.errorf(where+"/"+key, "must be between %d and %d", min, max)
	}
	return i, true
}

func (l *loader) path(where string, m map[string]any, key string) *Path {
	s := l.str(where, m, key, false)
	if _, ok := m[key]; !ok || s == "" {
		if ok && s == "" {
			l.errorf(where+"/"+key, "must be a path")
		}
		return nil
	}
	p, err := ParsePath(s)
	if err != nil {
		l.errorf(where+"/"+key, "%v", err)
	}
	return p
}

func (l *loader) optionalPath(where string, m map[string]any, key string, allowContext bool) OptionalPath {
	v, ok := m[key]
	if !ok {
		return OptionalPath{}
	}
	if v == nil {
		return OptionalPath{Set: true, Null: true}
	}
	p := l.path(where, m, key)
	if p != nil && p.IsContext() && !allowContext {
		l.errorf(where+"/"+key, "%s cannot refer to the context object", key)
	}
	return OptionalPath{Set: true, Path: p}
}

// Load parses and validates a definition.
func Load(data []byte) (*Definition, error) {
	v, err := Decode(data)
	if err != nil {
		return nil, &DefinitionError{Problems: []string{"INVALID_JSON_DESCRIPTION: " + err.Error()}}
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, &DefinitionError{Problems: []string{"SCHEMA_VALIDATION_FAILED: the definition must be a JSON object"}}
	}
	l := &loader{}
	d := &Definition{States: map[string]*State{}}
	for k := range top {
		switch k {
		case "Comment", "StartAt", "States", "TimeoutSeconds", "Version":
		case "QueryLanguage":
			if top[k] != "JSONPath" {
				l.errorf("/", "the QueryLanguage %v is not supported (only JSONPath is)", top[k])
			}
		default:
			l.errorf("/", "the field %q is not supported", k)
		}
	}
	d.Comment = l.str("/", top, "Comment", false)
	d.StartAt = l.str("/", top, "StartAt", true)
	d.TimeoutSeconds, _ = l.integer("/", top, "TimeoutSeconds", 1, maxSeconds)
	if ver, ok := top["Version"]; ok && ver != "1.0" {
		l.errorf("/Version", "must be \"1.0\"")
	}
	states, ok := top["States"].(map[string]any)
	if !ok || len(states) == 0 {
		l.errorf("/", "the field \"States\" is required and must be a non-empty object")
		return nil, &DefinitionError{Problems: l.problems}
	}
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if len(name) == 0 || len(name) > 80 {
			l.errorf("/States", "the state name %q must be 1 to 80 characters", name)
		}
		d.States[name] = l.state(name, states[name])
	}
	l.transitions(d)
	if len(l.problems) > 0 {
		return nil, &DefinitionError{Problems: l.problems}
	}
	return d, nil
}

func (l *loader) state(name string, v any) *State {
	where := "/States/" + name
	m, ok := v.(map[string]any)
	if !ok {
		l.errorf(where, "a state must be a JSON object")
		return &State{Name: name}
	}
	s := &State{Name: name, Type: StateType(l.str(where, m, "Type", true))}
	allowed, known := stateFields[s.Type]
	if !known {
		if s.Type == "Parallel" || s.Type == "Map" {
			l.errorf(where+"/Type", "the state type %q is not supported by this interpreter", s.Type)
		} else {
			l.errorf(where+"/Type", "%q is not a valid state type", s.Type)
		}
		return s
	}
	ok2 := map[string]bool{"Type": true, "Comment": true}
	for _, f := range allowed {
		ok2[f] = true
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case ok2[k]:
		case unsupportedFields[k]:
			l.errorf(where, "the field %q is not supported by this interpreter", k)
		default:
			l.errorf(where, "the field %q is not a valid %s state field", k, s.Type)
		}
	}
	s.Comment = l.str(where, m, "Comment", false)
	if ok2["Next"] {
		s.Next = l.str(where, m, "Next", false)
		if e, has := m["End"]; has {
			b, isBool := e.(bool)
			if !isBool {
				l.errorf(where+"/End", "must be a boolean")
			}
			s.End = b
		}
		_, hasNext := m["Next"]
		if hasNext == s.End {
			l.errorf(where, "a %s state must have exactly one of Next and \"End\": true", s.Type)
		}
	}
	if ok2["InputPath"] {
		s.InputPath = l.optionalPath(where, m, "InputPath", false)
		s.OutputPath = l.optionalPath(where, m, "OutputPath", false)
	}
	if ok2["ResultPath"] {
		s.ResultPath = l.optionalPath(where, m, "ResultPath", false)
	}
	if ok2["Parameters"] {
		if p, has := m["Parameters"]; has {
			s.Parameters = l.template(where+"/Parameters", p)
		}
	}
	if ok2["ResultSelector"] {
		if p, has := m["ResultSelector"]; has {
			s.ResultSelector = l.template(where+"/ResultSelector", p)
		}
	}
	switch s.Type {
	case TypePass:
		s.Result, s.HasResult = m["Result"]
	case TypeTask:
		l.task(where, m, s)
	case TypeChoice:
		l.choice(where, m, s)
	case TypeWait:
		l.wait(where, m, s)
	case TypeFail:
		l.fail(where, m, s)
	}
	return s
}

func (l *loader) template(where string, v any) *Template {
	if _, ok := v.(map[string]any); !ok {
		l.errorf(where, "must be a JSON object")
		return nil
	}
	t, err := CompileTemplate(v, where)
	if err != nil {
		l.errorf(where, "%v", err)
		return nil
	}
	return t
}

func (l *loader) task(where string, m map[string]any, s *State) {
	s.Resource = l.str(where, m, "Resource", true)
	switch {
	case s.Resource == ResourceLambdaInvoke:
		s.Integration = LambdaInvoke
	case s.Resource == ResourceLambdaInvokeWait:
		s.Integration = LambdaInvokeWait
	case lambdaFunctionARN.MatchString(s.Resource):
		s.Integration = LambdaFunction
	case s.Resource != "":
		l.errorf(where+"/Resource", "the resource %q is not supported by this interpreter (supported: %s, %s, a Lambda function ARN)", s.Resource, ResourceLambdaInvoke, ResourceLambdaInvokeWait)
	}
	if s.Integration == LambdaInvoke || s.Integration == LambdaInvokeWait {
		params, _ := m["Parameters"].(map[string]any)
		if params == nil {
			l.errorf(where, "the field \"Parameters\" is required for %s", s.Resource)
		}
		hasFn := false
		for k, v := range params {
			base := strings.TrimSuffix(k, ".$")
			if !invokeParams[base] {
				l.errorf(where+"/Parameters", "the parameter %q is not supported for %s (supported: FunctionName, Payload, Qualifier, InvocationType)", k, s.Resource)
			}
			if base == "FunctionName" {
				hasFn = true
			}
			if k == "InvocationType" && v != "RequestResponse" {
				l.errorf(where+"/Parameters/InvocationType", "only RequestResponse is supported")
			}
			if k == "FunctionName" {
				if fs, ok := v.(string); !ok || fs == "" {
					l.errorf(where+"/Parameters/FunctionName", "must be a non-empty string")
				}
			}
		}
		if params != nil && !hasFn {
			l.errorf(where+"/Parameters", "the parameter \"FunctionName\" is required")
		}
		if s.Integration == LambdaInvokeWait && params != nil && !strings.Contains(Encode(params), "$$.Task.Token") {
			l.errorf(where+"/Parameters", "a .waitForTaskToken task must pass $$.Task.Token in its Parameters")
		}
	}
	var hasTimeout, hasHB bool
	s.TimeoutSeconds, hasTimeout = l.integer(where, m, "TimeoutSeconds", 1, maxSeconds)
	s.TimeoutSecondsPath = l.path(where, m, "TimeoutSecondsPath")
	if hasTimeout && s.TimeoutSecondsPath != nil {
		l.errorf(where, "a state cannot have both TimeoutSeconds and TimeoutSecondsPath")
	}
	s.HeartbeatSeconds, hasHB = l.integer(where, m, "HeartbeatSeconds", 1, maxSeconds)
	s.HeartbeatSecondsPath = l.path(where, m, "HeartbeatSecondsPath")
	if hasHB && s.HeartbeatSecondsPath != nil {
		l.errorf(where, "a state cannot have both HeartbeatSeconds and HeartbeatSecondsPath")
	}
	if hasHB && hasTimeout && s.HeartbeatSeconds >= s.TimeoutSeconds {
		l.errorf(where, "HeartbeatSeconds must be smaller than TimeoutSeconds")
	}
	if r, has := m["Retry"]; has {
		list, ok := r.([]any)
		if !ok {
			l.errorf(where+"/Retry", "must be an array")
		}
		for i, e := range list {
			s.Retry = append(s.Retry, l.retrier(fmt.Sprintf("%s/Retry[%d]", where, i), e, i == len(list)-1))
		}
	}
	if c, has := m["Catch"]; has {
		list, ok := c.([]any)
		if !ok {
			l.errorf(where+"/Catch", "must be an array")
		}
		for i, e := range list {
			s.Catch = append(s.Catch, l.catcher(fmt.Sprintf("%s/Catch[%d]", where, i), e, i == len(list)-1))
		}
	}
}

func (l *loader) errorEquals(where string, m map[string]any, last bool) []string {
	list, ok := m["ErrorEquals"].([]any)
	if !ok || len(list) == 0 {
		l.errorf(where, "the field \"ErrorEquals\" is required and must be a non-empty array of strings")
		return nil
	}
	var out []string
	for _, e := range list {
		s, ok := e.(string)
		if !ok || s == "" {
			l.errorf(where+"/ErrorEquals", "must hold non-empty strings")
			continue
		}
		out = append(out, s)
	}
	for _, s := range out {
		if s == ErrAll && (len(out) != 1 || !last) {
			l.errorf(where+"/ErrorEquals", "States.ALL must appear alone and in the last entry")
		}
	}
	return out
}

func (l *loader) retrier(where string, v any, last bool) Retrier {
	m, ok := v.(map[string]any)
	if !ok {
		l.errorf(where, "a retrier must be a JSON object")
		return Retrier{}
	}
	for k := range m {
		switch k {
		case "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment":
		default:
			l.errorf(where, "the field %q is not a valid retrier field", k)
		}
	}
	r := Retrier{ErrorEquals: l.errorEquals(where, m, last), IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: "NONE"}
	if n, ok := l.integer(where, m, "IntervalSeconds", 1, maxSeconds); ok {
		r.IntervalSeconds = n
	}
	if n, ok := l.integer(where, m, "MaxAttempts", 0, maxSeconds); ok {
		r.MaxAttempts = n
	}
	if n, ok := l.integer(where, m, "MaxDelaySeconds", 1, maxSeconds); ok {
		r.MaxDelaySeconds = n
	}
	if b, ok := m["BackoffRate"]; ok {
		f, isNum := number(b)
		if !isNum || f < 1 {
			l.errorf(where+"/BackoffRate", "must be a number greater than or equal to 1.0")
		}
		r.BackoffRate = f
	}
	if j, ok := m["JitterStrategy"]; ok {
		if j != "FULL" && j != "NONE" {
			l.errorf(where+"/JitterStrategy", "must be FULL or NONE")
		}
		r.JitterStrategy, _ = j.(string)
	}
	return r
}

func (l *loader) catcher(where string, v any, last bool) Catcher {
	m, ok := v.(map[string]any)
	if !ok {
		l.errorf(where, "a catcher must be a JSON object")
		return Catcher{}
	}
	for k := range m {
		switch k {
		case "ErrorEquals", "Next", "ResultPath", "Comment":
		default:
			l.errorf(where, "the field %q is not a valid catcher field", k)
		}
	}
	return Catcher{
		ErrorEquals: l.errorEquals(where, m, last),
		Next:        l.str(where, m, "Next", true),
		ResultPath:  l.optionalPath(where, m, "ResultPath", false),
	}
}

func (l *loader) choice(where string, m map[string]any, s *State) {
	list, ok := m["Choices"].([]any)
	if !ok || len(list) == 0 {
		l.errorf(where, "the field \"Choices\" is required and must be a non-empty array")
	}
	for i, e := range list {
		s.Choices = append(s.Choices, compileRule(l, fmt.Sprintf("%s/Choices[%d]", where, i), e, true))
	}
	s.Default = l.str(where, m, "Default", false)
}

func (l *loader) wait(where string, m map[string]any, s *State) {
	s.Seconds, s.HasSeconds = l.integer(where, m, "Seconds", 0, maxSeconds)
	s.SecondsPath = l.path(where, m, "SecondsPath")
	if ts, ok := m["Timestamp"]; ok {
		s.HasTimestamp = true
		str, _ := ts.(string)
		t, valid := parseTimestamp(str)
		if !valid {
			l.errorf(where+"/Timestamp", "must be an RFC 3339 timestamp, e.g. 2016-03-14T01:59:00Z")
		}
		s.Timestamp = t
	}
	s.TimestampPath = l.path(where, m, "TimestampPath")
	n := 0
	for _, b := range []bool{s.HasSeconds, s.SecondsPath != nil, s.HasTimestamp, s.TimestampPath != nil} {
		if b {
			n++
		}
	}
	if n != 1 {
		l.errorf(where, "a Wait state must have exactly one of Seconds, SecondsPath, Timestamp, TimestampPath")
	}
}

func (l *loader) fail(where string, m map[string]any, s *State) {
	s.Error = l.str(where, m, "Error", false)
	s.Cause = l.str(where, m, "Cause", false)
	for _, f := range []struct {
		key string
		dst **Expression
		lit string
	}{{"ErrorPath", &s.ErrorPath, "Error"}, {"CausePath", &s.CausePath, "Cause"}} {
		str := l.str(where, m, f.key, false)
		if _, ok := m[f.key]; !ok {
			continue
		}
		if _, ok := m[f.lit]; ok {
			l.errorf(where, "a Fail state cannot have both %s and %s", f.lit, f.key)
		}
		e, err := CompileExpression(str)
		if err != nil {
			l.errorf(where+"/"+f.key, "%v", err)
			continue
		}
		*f.dst = e
	}
}

// transitions checks that StartAt and every Next, Default and Catch Next
// name a state, and that every state is reachable from StartAt.
func (l *loader) transitions(d *Definition) {
	if d.StartAt != "" && d.States[d.StartAt] == nil {
		l.problem("MISSING_TRANSITION_TARGET", "/StartAt", "Missing 'Next' target: %s", d.StartAt)
	}
	targets := func(s *State) []struct{ where, to string } {
		var out []struct{ where, to string }
		add := func(where, to string) {
			if to != "" {
				out = append(out, struct{ where, to string }{where, to})
			}
		}
		base := "/States/" + s.Name
		add(base+"/Next", s.Next)
		add(base+"/Default", s.Default)
		for i, r := range s.Choices {
			if r != nil {
				add(fmt.Sprintf("%s/Choices[%d]/Next", base, i), r.Next)
			}
		}
		for i, c := range s.Catch {
			add(fmt.Sprintf("%s/Catch[%d]/Next", base, i), c.Next)
		}
		return out
	}
	names := make([]string, 0, len(d.States))
	for n := range d.States {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, t := range targets(d.States[n]) {
			if d.States[t.to] == nil {
				l.problem("MISSING_TRANSITION_TARGET", t.where, "Missing 'Next' target: %s", t.to)
			}
		}
	}
	terminal := false
	for _, s := range d.States {
		terminal = terminal || s.End || s.Type == TypeSucceed || s.Type == TypeFail
	}
	if !terminal {
		l.problems = append(l.problems, "MISSING_END_STATE: Workflow has no terminal state")
	}
	if d.States[d.StartAt] == nil {
		return
	}
	seen := map[string]bool{d.StartAt: true}
	queue := []string{d.StartAt}
	for len(queue) > 0 {
		s := d.States[queue[0]]
		queue = queue[1:]
		for _, t := range targets(s) {
			if d.States[t.to] != nil && !seen[t.to] {
				seen[t.to] = true
				queue = append(queue, t.to)
			}
		}
	}
	for _, n := range names {
		if !seen[n] {
			l.problem("MISSING_TRANSITION_TARGET", "/States/"+n, "State %q is not reachable.", n)
		}
	}
}
