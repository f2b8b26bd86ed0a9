package main

import (
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/sandbox/local"
)

// TestGroupSectionBudget: the group is held to fewer transitions and fewer
// calls than the separate promotions, and a miss is said plainly.
func TestGroupSectionBudget(t *testing.T) {
	calls := func(n int) []sandbox.Call {
		out := make([]sandbox.Call, n)
		for i := range out {
			out[i] = sandbox.Call{Caller: local.ShiftFunction, Service: "lambda", Operation: "UpdateAlias"}
		}
		return out
	}
	tests := []struct {
		name         string
		separate     *groupRun
		group        *groupRun
		wantMissed   bool
		wantInReport string
	}{
		{name: "fewer of both", separate: &groupRun{what: "5 separate", executions: 5, transitions: 65, calls: calls(200)},
			group: &groupRun{what: "group", executions: 1, transitions: 13, calls: calls(120)}, wantInReport: "| group | 1 | 13 | 120 | 120 |"},
		{name: "more calls", separate: &groupRun{what: "5 separate", executions: 5, transitions: 65, calls: calls(100)},
			group: &groupRun{what: "group", executions: 1, transitions: 13, calls: calls(120)}, wantMissed: true, wantInReport: "**MISSED**"},
		{name: "more transitions", separate: &groupRun{what: "5 separate", executions: 5, transitions: 10, calls: calls(200)},
			group: &groupRun{what: "group", executions: 1, transitions: 13, calls: calls(120)}, wantMissed: true, wantInReport: "**MISSED**"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &report{}
			groupSection(r, 5, tc.separate, tc.group)
			if got := len(r.missed) > 0; got != tc.wantMissed {
				t.Errorf("missed = %v (%q), want %v", got, r.missed, tc.wantMissed)
			}
			if len(r.sections) != 1 || !strings.Contains(r.sections[0], tc.wantInReport) {
				t.Errorf("section = %q, want it to contain %q", r.sections, tc.wantInReport)
			}
		})
	}
}
