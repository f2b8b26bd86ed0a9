package cli_test

import (
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift/groupstate"
)

// TestWatchGroup: watching a group promotion prints, under each progress
// line, every member's weight on its own prod.
func TestWatchGroup(t *testing.T) {
	w := newWorld(t)
	in := w.input("2")
	in.Group = "api"
	for _, f := range []string{"hello", "orders", "users"} {
		tg := in.Target
		tg.Function = f
		in.Members = append(in.Members, promotion.Member{Function: f, Version: "2", PreviousStgVersion: "1", Release: in.Release, Target: tg})
	}
	g := groupstate.Prod{Members: map[string]groupstate.Member{"hello": {Stable: "1"}, "orders": {}, "users": {Stable: "2"}}}
	first := in.Steps[0]
	shift := promotion.Shift{StableVersion: "1", Weight: first.Weight, BakeSeconds: first.BakeSeconds, Kind: "setWeight", Prod: g.Encode()}
	s := w.startWith(t, in)
	s.Smoke(true).AwaitApproval()
	w.onSleep = func(n int) {
		switch n {
		case 2:
			s.Approve("bob@example.com").Answer(promotion.ActionBegin, sandboxtest.Return(shift)).
				Answer(promotion.ActionSetWeight, sandboxtest.Return(shift)).AwaitBake()
		case 4:
			s.FailWaiting(promotion.ErrHealthCheckFailed, "member users is unhealthy").Answer(promotion.ActionRollback, sandboxtest.Return(map[string]any{}))
		}
	}
	code, out, errs := w.run(t, "watch", s.Name(), "--interval", "2s")
	wantCode(t, code, cli.ExitUnsuccessful, out, errs)
	tests := []struct {
		name, gate, members string
	}{
		{"awaiting approval", "awaiting approval", "group api: hello 0% (→2), orders 0% (→2), users 0% (→2)"},
		{"baking", "baking at 10%", "group api: hello 10% (1→2), orders 0% (→2), users 100% (unchanged)"},
		{"rolled back", "failed: RolledBack", "group api: hello 0% (1→2), orders 0% (→2), users 100% (unchanged)"},
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2*len(tests) {
		t.Fatalf("got %d lines; want a progress line and a group line for each of %d changes:\n%s", len(lines), len(tests), out)
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Each change: its progress line, then the members (which may
			// wrap onto more lines).
			at := -1
			for j, l := range lines {
				if strings.Contains(l, tc.gate) {
					at = j
					break
				}
			}
			if at < 0 || at+1 >= len(lines) {
				t.Fatalf("change %d: no line with %q:\n%s", i, tc.gate, out)
			}
			var group []string
			for _, l := range lines[at+1:] {
				if !strings.HasPrefix(l, "          ") {
					break
				}
				group = append(group, strings.TrimSpace(l))
			}
			if got := strings.Join(group, " "); !strings.HasPrefix(got, tc.members) {
				t.Errorf("after %q: %q, want it to begin with %q", tc.gate, got, tc.members)
			}
		})
	}
}
