package alias_test

import (
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/fakes/lambdafake"
)

var _ alias.Lambda = (*lambdafake.Fake)(nil)

func TestMove(t *testing.T) {
	to := func(v string) alias.Plan {
		return func(alias.Alias) (alias.Alias, bool, error) { return alias.Alias{Exists: true, Version: v}, true, nil }
	}
	tests := []struct {
		name      string
		setup     func(f *lambdafake.Fake)
		plan      alias.Plan
		attempts  int
		wantErr   string
		want      string // alias version after
		wantCalls int    // UpdateAlias + CreateAlias calls
	}{
		{name: "creates a missing alias", plan: to("2"), want: "2", wantCalls: 1},
		{name: "moves an existing alias", setup: func(f *lambdafake.Fake) { f.SetAlias("fn", "prod", "1", nil) }, plan: to("2"), want: "2", wantCalls: 1},
		{name: "writes nothing when already there", setup: func(f *lambdafake.Fake) { f.SetAlias("fn", "prod", "2", nil) }, plan: to("2"), want: "2"},
		{name: "refuses $LATEST", setup: func(f *lambdafake.Fake) { f.SetAlias("fn", "prod", "1", nil) }, plan: to("$LATEST"), want: "1", wantErr: "refusing target version"},
		{name: "refuses nothing", setup: func(f *lambdafake.Fake) { f.SetAlias("fn", "prod", "1", nil) }, plan: to(""), want: "1", wantErr: "refusing target version"},
		{name: "reads again after a lost race", setup: func(f *lambdafake.Fake) {
			f.SetAlias("fn", "prod", "1", nil)
			f.Before("UpdateAlias", func() { f.SetAlias("fn", "prod", "3", nil) })
		}, plan: to("2"), want: "2", wantCalls: 2},
		{name: "gives up after Attempts lost races", attempts: 2, setup: func(f *lambdafake.Fake) {
			f.SetAlias("fn", "prod", "1", nil)
			for range 5 {
				f.Before("UpdateAlias", func() { f.SetAlias("fn", "prod", "1", nil) })
			}
		}, plan: to("2"), want: "1", wantErr: "changed under us 2 times", wantCalls: 2},
		{name: "a racing create is read again", setup: func(f *lambdafake.Fake) {
			f.Before("CreateAlias", func() { f.SetAlias("fn", "prod", "3", nil) })
		}, plan: to("2"), want: "2", wantCalls: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := lambdafake.New()
			f.AddFunction("fn", "c2hh", 3)
			if tc.setup != nil {
				tc.setup(f)
			}
			_, err := alias.Mover{Lambda: f, Attempts: tc.attempts}.Move(t.Context(), "fn", "prod", tc.plan)
			if (err != nil) != (tc.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Move = %v, want error %q", err, tc.wantErr)
			}
			if a, _ := f.Alias("fn", "prod"); a.Version != tc.want {
				t.Errorf("alias on %q, want %q", a.Version, tc.want)
			}
			if got := f.Count("UpdateAlias") + f.Count("CreateAlias"); got != tc.wantCalls {
				t.Errorf("writes = %d, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		w    float64
		want string
	}{{0.1, "10%"}, {0.3, "30%"}, {0.125, "12.5%"}, {1, "100%"}, {0, "0%"}, {0.33333, "33.33%"}} {
		if got := alias.Percent(c.w); got != c.want {
			t.Errorf("Percent(%v) = %q; want %q", c.w, got, c.want)
		}
	}
}
