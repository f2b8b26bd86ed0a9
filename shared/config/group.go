package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// groupName is what a group may be called: it starts the group's execution
// names (promotion.GroupExecutionName), so it keeps to their characters.
var groupName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidateGroupName refuses a group name other than 1–64 of A-Z a-z 0-9 - _.
func ValidateGroupName(name string) error {
	if !groupName.MatchString(name) {
		return fmt.Errorf("%q is not a valid group name (1–64 of A-Z a-z 0-9 - _)", name)
	}
	return nil
}

// groupField is a setting the members of a group must agree on: a group is
// one promotion — one plan shifting every member in lockstep, one approval,
// one verdict timing — so what says what that promotion is cannot differ
// between members. The rest (code builds, smoke checks, error thresholds,
// alarms, probes, repository, pruning) stays each member's own: each
// member is built, smoke-tested and judged by its own settings.
type groupField struct {
	name string
	get  func(Target) any
}

// groupFields are the settings a group's members must agree on.
var groupFields = []groupField{
	{"strategy", func(t Target) any { return t.Strategy }},
	{"approvers", func(t Target) any { return foldedSet(t.Approvers) }},
	{"approvalTimeoutSeconds", func(t Target) any { return t.ApprovalTimeoutSeconds }},
	{"approval", func(t Target) any { return approvalKey(t.Approval) }},
	{"environment", func(t Target) any { return t.Environment }},
	{"health.metricDelaySeconds", func(t Target) any { return t.Health.MetricDelaySeconds }},
	{"health.maxBakeSeconds", func(t Target) any { return t.Health.MaxBakeSeconds }},
	{"health.onInconclusive", func(t Target) any { return t.Health.OnInconclusive }},
}

// GroupFields names the settings the members of a group must agree on.
func GroupFields() []string {
	names := make([]string, len(groupFields))
	for i, f := range groupFields {
		names[i] = f.name
	}
	return names
}

// CheckGroup refuses a group whose members disagree on what the promotion
// is (GroupFields), naming the member and the field that differ from the
// first member's (members taken in function-name order). Members must all
// name the same group.
func CheckGroup(members []Target) error {
	if len(members) == 0 {
		return nil
	}
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b Target) int { return strings.Compare(a.Function, b.Function) })
	first := sorted[0]
	var errs []error
	for _, m := range sorted[1:] {
		if m.Group != first.Group {
			errs = append(errs, fmt.Errorf("member %q is in group %q, not %q", m.Function, m.Group, first.Group))
			continue
		}
		for _, f := range groupFields {
			if !reflect.DeepEqual(f.get(m), f.get(first)) {
				errs = append(errs, fmt.Errorf("group %q: member %q differs from %q in %s (members of a group share one promotion: %s must agree)",
					first.Group, m.Function, first.Function, f.name, strings.Join(GroupFields(), ", ")))
			}
		}
	}
	return errors.Join(errs...)
}

// foldedSet is a list of addresses as a set, case aside.
func foldedSet(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.ToLower(s)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// approvalKey is an Approval with its defaults applied, so that an unset
// field and its default agree.
func approvalKey(a Approval) any {
	principals := map[string][]string{}
	for k, v := range a.Principals {
		p := slices.Clone(v)
		slices.Sort(p)
		principals[strings.ToLower(k)] = p
	}
	return struct {
		principals map[string][]string
		separate   bool
		required   int
	}{principals, a.SeparateDuties(), a.RequiredApprovals()}
}
