package alias_test

import (
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

var _ alias.Lambda = (*lambda.Client)(nil)

// TestMove moves aliases of a function on the sandbox's Lambda, through
// the real SDK client; another writer's changes come between the mover's
// read and write (Before).
func TestMove(t *testing.T) {
	to := func(v string) alias.Plan {
		return func(alias.Alias) (alias.Alias, bool, error) { return alias.Alias{Exists: true, Version: v}, true, nil }
	}
	tests := []struct {
		name      string
		setup     func(t *testing.T, l *sandboxtest.Lambda)
		plan      alias.Plan
		attempts  int
		wantErr   string
		want      string // alias version after
		wantCalls int    // UpdateAlias + CreateAlias calls
	}{
		{name: "creates a missing alias", plan: to("2"), want: "2", wantCalls: 1},
		{name: "moves an existing alias", setup: func(t *testing.T, l *sandboxtest.Lambda) { l.SetAlias(t, "fn", "prod", "1", nil) }, plan: to("2"), want: "2", wantCalls: 1},
		{name: "writes nothing when already there", setup: func(t *testing.T, l *sandboxtest.Lambda) { l.SetAlias(t, "fn", "prod", "2", nil) }, plan: to("2"), want: "2"},
		{name: "refuses $LATEST", setup: func(t *testing.T, l *sandboxtest.Lambda) { l.SetAlias(t, "fn", "prod", "1", nil) }, plan: to("$LATEST"), want: "1", wantErr: "refusing target version"},
		{name: "refuses nothing", setup: func(t *testing.T, l *sandboxtest.Lambda) { l.SetAlias(t, "fn", "prod", "1", nil) }, plan: to(""), want: "1", wantErr: "refusing target version"},
		{name: "reads again after a lost race", setup: func(t *testing.T, l *sandboxtest.Lambda) {
			l.SetAlias(t, "fn", "prod", "1", nil)
			l.Before("UpdateAlias", func() { l.SetAlias(t, "fn", "prod", "3", nil) })
		}, plan: to("2"), want: "2", wantCalls: 2},
		{name: "gives up after Attempts lost races", attempts: 2, setup: func(t *testing.T, l *sandboxtest.Lambda) {
			l.SetAlias(t, "fn", "prod", "1", nil)
			for range 5 {
				l.Before("UpdateAlias", func() { l.SetAlias(t, "fn", "prod", "1", nil) })
			}
		}, plan: to("2"), want: "1", wantErr: "changed under us 2 times", wantCalls: 2},
		{name: "a racing create is read again", setup: func(t *testing.T, l *sandboxtest.Lambda) {
			l.Before("CreateAlias", func() { l.SetAlias(t, "fn", "prod", "3", nil) })
		}, plan: to("2"), want: "2", wantCalls: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := sandboxtest.NewLambda(t)
			l.AddFunction(t, "fn", 3)
			if tc.setup != nil {
				tc.setup(t, l)
			}
			_, err := alias.Mover{Lambda: l.Client, Attempts: tc.attempts}.Move(t.Context(), "fn", "prod", tc.plan)
			if (err != nil) != (tc.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Move = %v, want error %q", err, tc.wantErr)
			}
			got := ""
			if a, ok := l.Alias(t, "fn", "prod"); ok {
				got = *a.FunctionVersion
			}
			if got != tc.want {
				t.Errorf("alias on %q, want %q", got, tc.want)
			}
			if got := l.Count("UpdateAlias") + l.Count("CreateAlias"); got != tc.wantCalls {
				t.Errorf("writes = %d, want %d (calls %v)", got, tc.wantCalls, l.Calls())
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
