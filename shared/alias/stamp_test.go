package alias_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/alias"
)

// TestMoveStamps: a move in a context WithStamp writes the stamp on the
// same UpdateAlias/CreateAlias call, and the alias read back through
// ListAliases' shape says who left it so; a hand move after it (an
// UpdateAlias that leaves the description alone) no longer reads as
// aliasflow's.
func TestMoveStamps(t *testing.T) {
	const exec = "hello-v2-0a0a0a0a"
	tests := []struct {
		name      string
		setup     func(t *testing.T, l *sandboxtest.Lambda)
		stamp     string
		want      alias.Alias
		after     func(t *testing.T, l *sandboxtest.Lambda) // a hand move
		wantBy    string
		wantOK    bool
		wantCalls int
	}{
		{name: "a created alias is stamped", stamp: exec, want: alias.Alias{Exists: true, Version: "2"}, wantBy: exec, wantOK: true, wantCalls: 1},
		{name: "a moved alias is stamped", stamp: exec, setup: func(t *testing.T, l *sandboxtest.Lambda) { l.SetAlias(t, "fn", "prod", "1", nil) },
			want: alias.Alias{Exists: true, Version: "2"}, wantBy: exec, wantOK: true, wantCalls: 1},
		{name: "a weighted move is stamped", stamp: exec, setup: func(t *testing.T, l *sandboxtest.Lambda) { l.SetAlias(t, "fn", "prod", "1", nil) },
			want: alias.Alias{Exists: true, Version: "1", Weights: map[string]float64{"2": 0.1}}, wantBy: exec, wantOK: true, wantCalls: 1},
		{name: "a hand move after the stamp is not aliasflow's", stamp: exec, setup: func(t *testing.T, l *sandboxtest.Lambda) { l.SetAlias(t, "fn", "prod", "1", nil) },
			want:  alias.Alias{Exists: true, Version: "2"},
			after: func(t *testing.T, l *sandboxtest.Lambda) { l.SetAlias(t, "fn", "prod", "3", nil) }, wantCalls: 1},
		{name: "a hand weight after the stamp is not aliasflow's", stamp: exec, setup: func(t *testing.T, l *sandboxtest.Lambda) { l.SetAlias(t, "fn", "prod", "1", nil) },
			want: alias.Alias{Exists: true, Version: "2"},
			after: func(t *testing.T, l *sandboxtest.Lambda) {
				l.SetAlias(t, "fn", "prod", "2", map[string]float64{"3": 0.5})
			}, wantCalls: 1},
		{name: "without a stamp nothing is claimed", setup: func(t *testing.T, l *sandboxtest.Lambda) { l.SetAlias(t, "fn", "prod", "1", nil) },
			want: alias.Alias{Exists: true, Version: "2"}, wantCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := sandboxtest.NewLambda(t)
			l.AddFunction(t, "fn", 3)
			if tc.setup != nil {
				tc.setup(t, l)
			}
			ctx := context.Background()
			if tc.stamp != "" {
				ctx = alias.WithStamp(ctx, tc.stamp)
			}
			_, err := alias.Mover{Lambda: l.Client}.Move(ctx, "fn", "prod", func(alias.Alias) (alias.Alias, bool, error) { return tc.want, true, nil })
			if err != nil {
				t.Fatalf("Move: %v", err)
			}
			if tc.after != nil {
				tc.after(t, l)
			}
			if n := l.Count("UpdateAlias") + l.Count("CreateAlias"); n != tc.wantCalls {
				t.Errorf("alias writes = %d, want %d (the stamp rides on the move)", n, tc.wantCalls)
			}
			got, err := alias.Get(ctx, l.Client, "fn", "prod")
			if err != nil {
				t.Fatal(err)
			}
			if n := len(got.Description); n > 256 {
				t.Errorf("description of %d characters; UpdateAlias allows 256", n)
			}
			by, ok := got.Stamped()
			if by != tc.wantBy || ok != tc.wantOK {
				t.Errorf("Stamped() = %q, %v; want %q, %v (description %q, alias %s)", by, ok, tc.wantBy, tc.wantOK, got.Description, got)
			}
		})
	}
}

func TestReadStamp(t *testing.T) {
	two := alias.Alias{Exists: true, Version: "2"}
	long := strings.Repeat("f", 64) + "-v1234567-0a0a0a0a-r2"
	tests := []struct {
		name string
		desc string
		want alias.Stamp
		ok   bool
	}{
		{"a prod stamp", alias.StampFor("hello-v2-0a0a0a0a", two), alias.Stamp{By: "hello-v2-0a0a0a0a", Token: alias.Token(two)}, true},
		{"a stg stamp with its previous version", alias.StampWithPrevious("hello-v2-0a0a0a0a", two, "1"),
			alias.Stamp{By: "hello-v2-0a0a0a0a", Token: alias.Token(two), Previous: "1", HasPrevious: true}, true},
		{"a stg stamp of a first release", alias.StampWithPrevious("hello-v1-0a0a0a0a", two, ""),
			alias.Stamp{By: "hello-v1-0a0a0a0a", Token: alias.Token(two), HasPrevious: true}, true},
		{"the longest execution name", alias.StampWithPrevious(long, two, "1234567"),
			alias.Stamp{By: long, Token: alias.Token(two), Previous: "1234567", HasPrevious: true}, true},
		{"the default description", alias.DefaultDescription, alias.Stamp{}, false},
		{"an operator's note", "aliasflow: pinned by hand", alias.Stamp{}, false},
		{"a bad token", "aliasflow:hello-v2-0a0a0a0a:xyz", alias.Stamp{}, false},
		{"a bad previous version", "aliasflow:hello-v2-0a0a0a0a:0a0a0a0a previous=$LATEST", alias.Stamp{}, false},
		{"empty", "", alias.Stamp{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := alias.ReadStamp(tc.desc)
			if got != tc.want || ok != tc.ok {
				t.Errorf("ReadStamp(%q) = %+v, %v; want %+v, %v", tc.desc, got, ok, tc.want, tc.ok)
			}
			if len(tc.desc) > 256 {
				t.Errorf("stamp of %d characters; UpdateAlias allows 256", len(tc.desc))
			}
		})
	}
}

// TestTokenIgnoresWhatDoesNotRoute: zero weights and float noise from a
// round trip route nothing different, so they change no token.
func TestTokenIgnoresWhatDoesNotRoute(t *testing.T) {
	base := alias.Alias{Exists: true, Version: "1", Weights: map[string]float64{"2": 0.1}}
	tests := []struct {
		name string
		a    alias.Alias
		same bool
	}{
		{"a zero weight", alias.Alias{Exists: true, Version: "1", Weights: map[string]float64{"2": 0.1, "3": 0}}, true},
		{"float noise", alias.Alias{Exists: true, Version: "1", Weights: map[string]float64{"2": 0.1000000001}}, true},
		{"another weight", alias.Alias{Exists: true, Version: "1", Weights: map[string]float64{"2": 0.2}}, false},
		{"another primary", alias.Alias{Exists: true, Version: "3", Weights: map[string]float64{"2": 0.1}}, false},
		{"no routing", alias.Alias{Exists: true, Version: "1"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := alias.Token(tc.a) == alias.Token(base); got != tc.same {
				t.Errorf("Token(%s) == Token(%s) is %v, want %v", tc.a, base, got, tc.same)
			}
		})
	}
}
