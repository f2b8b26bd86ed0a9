package prune

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/ledger"
)

func versions(n int, size int64) []Version {
	out := make([]Version, n)
	for i := range out {
		out[i] = Version{Number: strconv.Itoa(i + 1), CodeSize: size}
	}
	return out
}

// deleted lists the versions a plan deletes.
func deleted(p Plan) string {
	var out []string
	for _, d := range p.Decisions {
		if d.Delete {
			out = append(out, d.Version.Number)
		}
	}
	return strings.Join(out, ",")
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name  string
		facts Facts
		keep  int
		want  string // versions deleted
		why   map[string]string
	}{
		{"keeps the newest N and nothing else referenced", Facts{Versions: versions(6, 10)}, 2, "1,2,3,4", map[string]string{"6": "one of the newest 2"}},
		{"keeps what an alias points or routes to", Facts{Versions: versions(6, 10), Aliases: []Alias{
			{Name: "prod", Version: "2", Routes: []string{"3"}}, {Name: "stg", Version: "6"}}}, 1, "1,4,5",
			map[string]string{"2": "alias prod points at it", "3": "alias prod routes traffic to it"}},
		{"keeps what a running promotion or pending approval names", Facts{Versions: versions(6, 10),
			InFlight: map[string]string{"4": "promotion hello-v4-aa (running)", "1": "promotion hello-v5-bb restores stg to it"}}, 1, "2,3,5",
			map[string]string{"4": "promotion hello-v4-aa (running)"}},
		{"keeps what a rollback could need", Facts{Versions: versions(4, 10), Rollback: map[string]string{"2": "prod's rollback target"}}, 1, "1,3",
			map[string]string{"2": "prod's rollback target"}},
		{"keeps everything when fewer versions than the policy", Facts{Versions: versions(3, 10)}, 5, "", nil},
		{"no versions", Facts{}, 1, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.facts.Function = "hello"
			p := Decide(tt.facts, config.Prune{KeepLast: tt.keep})
			if got := deleted(p); got != tt.want {
				t.Errorf("deleted = %q, want %q\n%+v", got, tt.want, p.Decisions)
			}
			for v, want := range tt.why {
				found := false
				for _, d := range p.Decisions {
					if d.Version.Number == v {
						found = true
						if d.Delete || !strings.Contains(strings.Join(d.Kept, "; "), want) {
							t.Errorf("version %s: delete=%v kept=%q, want kept for %q", v, d.Delete, d.Kept, want)
						}
					}
				}
				if !found {
					t.Errorf("version %s not in the plan", v)
				}
			}
			var freed int64
			for _, d := range p.Decisions {
				if d.Delete {
					freed += d.Version.CodeSize
				}
			}
			if p.Freed != freed {
				t.Errorf("Freed = %d, want %d (the deleted versions' CodeSize)", p.Freed, freed)
			}
		})
	}
}

// TestRollbackNeeds: pruning keeps where `aliasflow rollback` would take
// prod (the version the last promotion replaced, by the ledger's rule) and
// every version `rollback --to` accepts (prod served it after an approved
// promotion completed).
func TestRollbackNeeds(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rec := func(ev audit.Event, alias, from, to string, ago time.Duration) audit.Record {
		return audit.Record{Audit: true, Event: ev, Function: "hello", Alias: alias, FromVersion: from, ToVersion: to, Time: at.Add(-ago)}
	}
	on := func(v string) alias.Alias { return alias.Alias{Exists: true, Version: v} }
	tests := []struct {
		name string
		recs []audit.Record
		prod alias.Alias
		want string
	}{
		{"completed promotions", []audit.Record{
			rec(audit.PromotionCompleted, "prod", "4", "5", 0), rec(audit.AliasMoved, "prod", "4", "5", 0),
			rec(audit.PromotionCompleted, "prod", "3", "4", time.Hour)}, on("5"), "4,5"},
		{"stg moves are not prod's", []audit.Record{rec(audit.AliasMoved, "stg", "7", "8", 0), rec(audit.AliasMoved, "prod", "2", "3", time.Hour)}, on("3"), "2"},
		{"past a rollback only the approved versions", []audit.Record{rec(audit.PromotionRolledBack, "prod", "5", "4", 0),
			rec(audit.PromotionCompleted, "prod", "4", "5", time.Hour)}, on("4"), "5"},
		{"prod moved outside aliasflow: no automatic target", []audit.Record{rec(audit.AliasMoved, "prod", "2", "3", time.Hour)}, on("6"), ""},
		{"no record", nil, on("1"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RollbackNeeds(ledger.NewTrail(tt.recs), "hello", tt.prod)
			if vs := strings.Join(slices.Sorted(maps.Keys(got)), ","); vs != tt.want {
				t.Errorf("RollbackNeeds = %v, want %q", got, tt.want)
			}
		})
	}
}
