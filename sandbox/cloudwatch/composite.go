package cwsvc

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// CompositeAlarm is a composite alarm as DescribeAlarms returns it: its
// state is its AlarmRule over the states of other alarms ("Create a
// composite alarm", CloudWatch user guide; PutCompositeAlarm, CloudWatch
// API reference). DescribeAlarms lists it only when AlarmTypes includes
// CompositeAlarm.
type CompositeAlarm struct {
	AlarmName                          string
	AlarmArn                           string
	AlarmDescription                   string `xml:",omitempty"`
	AlarmRule                          string
	AlarmConfigurationUpdatedTimestamp time.Time
	ActionsEnabled                     bool
	OKActions                          []string `xml:"OKActions>member"`
	AlarmActions                       []string `xml:"AlarmActions>member"`
	InsufficientDataActions            []string `xml:"InsufficientDataActions>member"`
	StateValue                         string
	StateReason                        string
	StateUpdatedTimestamp              time.Time
	StateTransitionedTimestamp         time.Time
}

// PutCompositeAlarm creates or updates a composite alarm (the Go API the
// sandbox's setup uses, as PutMetricAlarm). The rule uses the functions
// ALARM, OK and INSUFFICIENT_DATA of an alarm name (quoted) or ARN, TRUE,
// FALSE, AND, OR, NOT and parentheses. A new composite alarm starts in
// INSUFFICIENT_DATA and takes its rule's state when next described.
func (s *Service) PutCompositeAlarm(name, rule, description string) error {
	switch {
	case name == "":
		return missing("AlarmName")
	case strings.TrimSpace(rule) == "":
		return missing("AlarmRule")
	case len(rule) > 10240:
		return validation("1 validation error detected: Value at 'alarmRule' failed to satisfy constraint: Member must have length less than or equal to 10240")
	}
	if _, err := parseRule(rule); err != nil {
		return validation("Error in alarm rule: %v", err)
	}
	now := s.now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.alarms[name] != nil {
		return validation("An alarm named %s already exists as a metric alarm.", name)
	}
	a := s.composites[name]
	if a == nil {
		a = &CompositeAlarm{AlarmName: name, AlarmArn: AlarmARN(name), StateValue: StateInsufficientData,
			StateReason: "Unchecked: Initial alarm creation", StateUpdatedTimestamp: now, StateTransitionedTimestamp: now,
			OKActions: []string{}, AlarmActions: []string{}, InsufficientDataActions: []string{}}
		s.composites[name] = a
	}
	a.AlarmRule, a.AlarmDescription, a.AlarmConfigurationUpdatedTimestamp, a.ActionsEnabled = rule, description, now, true
	return nil
}

// refreshCompositesLocked sets each composite alarm to its rule's value
// over the current states.
func (s *Service) refreshCompositesLocked() {
	now := s.now().UTC()
	for range 3 { // composites of composites settle within a few passes
		for _, a := range s.composites {
			expr, err := parseRule(a.AlarmRule)
			if err != nil {
				continue
			}
			state := StateOK
			if expr(s.stateOfLocked) {
				state = StateAlarm
			}
			if state != a.StateValue {
				a.StateValue, a.StateTransitionedTimestamp, a.StateUpdatedTimestamp = state, now, now
				a.StateReason = fmt.Sprintf("%s: rule %s is %v", state, a.AlarmRule, state == StateAlarm)
			}
		}
	}
}

// stateOfLocked is the state of the alarm a rule names (by name or ARN).
func (s *Service) stateOfLocked(ref string) string {
	name := ref
	if i := strings.LastIndex(ref, ":alarm:"); strings.HasPrefix(ref, "arn:") && i >= 0 {
		name = ref[i+len(":alarm:"):]
	}
	if a := s.alarms[name]; a != nil {
		return a.StateValue
	}
	if a := s.composites[name]; a != nil {
		return a.StateValue
	}
	return StateInsufficientData
}

// rule is a parsed alarm rule: true when the composite is in ALARM.
type rule func(state func(ref string) string) bool

// parseRule parses an alarm rule by recursive descent: or := and {OR and};
// and := not {AND not}; not := NOT not | atom; atom := TRUE | FALSE |
// FN(ref) | ( or ).
func parseRule(src string) (rule, error) {
	p := &ruleParser{src: src}
	r, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.skip(); p.pos < len(p.src) {
		return nil, fmt.Errorf("unexpected %q at %d", p.src[p.pos:], p.pos)
	}
	return r, nil
}

type ruleParser struct {
	src string
	pos int
}

func (p *ruleParser) skip() {
	for p.pos < len(p.src) && unicode.IsSpace(rune(p.src[p.pos])) {
		p.pos++
	}
}

// word reads the next keyword or function name without consuming it.
func (p *ruleParser) word() string {
	p.skip()
	end := p.pos
	for end < len(p.src) && (p.src[end] == '_' || unicode.IsLetter(rune(p.src[end]))) {
		end++
	}
	return p.src[p.pos:end]
}

func (p *ruleParser) or() (rule, error) {
	l, err := p.and()
	for err == nil && p.word() == "OR" {
		p.pos += 2
		var r rule
		if r, err = p.and(); err == nil {
			a, b := l, r
			l = func(st func(string) string) bool { return a(st) || b(st) }
		}
	}
	return l, err
}

func (p *ruleParser) and() (rule, error) {
	l, err := p.not()
	for err == nil && p.word() == "AND" {
		p.pos += 3
		var r rule
		if r, err = p.not(); err == nil {
			a, b := l, r
			l = func(st func(string) string) bool { return a(st) && b(st) }
		}
	}
	return l, err
}

func (p *ruleParser) not() (rule, error) {
	if p.word() == "NOT" {
		p.pos += 3
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		return func(st func(string) string) bool { return !r(st) }, nil
	}
	return p.atom()
}

func (p *ruleParser) atom() (rule, error) {
	p.skip()
	if p.pos < len(p.src) && p.src[p.pos] == '(' {
		p.pos++
		r, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.skip(); p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return nil, fmt.Errorf("missing ) at %d", p.pos)
		}
		p.pos++
		return r, nil
	}
	w := p.word()
	switch w {
	case "TRUE", "FALSE":
		p.pos += len(w)
		v := w == "TRUE"
		return func(func(string) string) bool { return v }, nil
	case "ALARM", "OK", "INSUFFICIENT_DATA":
		p.pos += len(w)
	default:
		return nil, fmt.Errorf("expected ALARM, OK, INSUFFICIENT_DATA, TRUE, FALSE, NOT or ( at %d", p.pos)
	}
	p.skip()
	if p.pos >= len(p.src) || p.src[p.pos] != '(' {
		return nil, fmt.Errorf("expected ( after %s at %d", w, p.pos)
	}
	end := strings.IndexByte(p.src[p.pos:], ')')
	if end < 0 {
		return nil, fmt.Errorf("missing ) after %s", w)
	}
	ref := strings.Trim(strings.TrimSpace(p.src[p.pos+1:p.pos+end]), `"`)
	p.pos += end + 1
	if ref == "" {
		return nil, fmt.Errorf("%s() names no alarm", w)
	}
	return func(st func(string) string) bool { return st(ref) == w }, nil
}
