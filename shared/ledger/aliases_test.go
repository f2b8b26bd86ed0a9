package ledger_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/ledger"
)

// shifted1to2 is the trail of a promotion that shifted prod 1 → 2 through
// a 10 % step.
func shifted1to2() ledger.Trail {
	step := rec(time.Minute, "hello", audit.TrafficShifted, "prod", "1", "2", "hello-v2-0a0a0a0a")
	step.Weight = audit.Weight(0.1)
	return ledger.NewTrail([]audit.Record{
		rec(0, "hello", audit.ReleasePublished, "stg", "1", "2", "hello-v2-0a0a0a0a"),
		step,
		rec(2*time.Minute, "hello", audit.AliasMoved, "prod", "1", "2", "hello-v2-0a0a0a0a"),
		rec(2*time.Minute, "hello", audit.PromotionCompleted, "prod", "1", "2", "hello-v2-0a0a0a0a"),
	})
}

func on(v string, weights map[string]float64, desc string) alias.Alias {
	return alias.Alias{Exists: true, Version: v, Weights: weights, Description: desc}
}

func TestLastWrite(t *testing.T) {
	tr := shifted1to2()
	tests := []struct {
		name  string
		trail ledger.Trail
		alias string
		want  string
		ok    bool
	}{
		{"after the promotion", tr, "prod", "2", true},
		{"mid-shift", tr[2:], "prod", "1 + 2@10%", true},
		{"stg, moved by the release", tr, "stg", "", false}, // release.published is no move record
		{"another function", tr.Of("other"), "prod", "", false},
		{"a drift record is no write", append(ledger.Trail{ledger.Drift{Function: "hello", Alias: "prod", Actual: on("3", nil, "")}.Record()}, tr...), "prod", "2", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, ok := tc.trail.LastWrite("hello", tc.alias)
			got := ""
			if ok {
				got = w.State.String()
			}
			if got != tc.want || ok != tc.ok {
				t.Errorf("LastWrite = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestDrifted: the stamp answers first (one ListAliases); without it the
// trail's last write does.
func TestDrifted(t *testing.T) {
	stamped := func(v string, w map[string]float64) alias.Alias {
		a := on(v, w, "")
		a.Description = alias.StampFor("hello-v2-0a0a0a0a", a)
		return a
	}
	handMoved := stamped("2", nil)
	handMoved.Version = "3" // UpdateAlias by hand keeps the description
	tests := []struct {
		name    string
		trail   ledger.Trail
		cur     alias.Alias
		drift   bool
		wantStr string
	}{
		{"where the trail left it", shifted1to2(), on("2", nil, alias.DefaultDescription), false, ""},
		{"stamped where it is, whatever the trail says", nil, stamped("2", nil), false, ""},
		{"stamped mid-shift before the record is readable", shifted1to2()[2:], stamped("2", nil), false, ""},
		{"moved by hand, unstamped", shifted1to2(), on("3", nil, alias.DefaultDescription), true, "prod of hello is on 3, not on 2 by hello-v2-0a0a0a0a: it moved outside aliasflow"},
		{"weighted by hand", shifted1to2(), on("2", map[string]float64{"3": 0.5}, ""), true, "prod of hello is on 2 + 3@50%, not on 2"},
		{"moved by hand under the stamp, no trail", nil, handMoved, true, "prod of hello is on 3, not on where aliasflow left it by hello-v2-0a0a0a0a"},
		{"never moved by aliasflow", nil, on("3", nil, "pinned by hand"), false, ""},
		{"no alias", shifted1to2(), alias.Alias{}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, drift := tc.trail.Drifted("hello", "prod", tc.cur)
			if drift != tc.drift {
				t.Fatalf("Drifted = %v (%s); want %v", drift, d, tc.drift)
			}
			if drift && !strings.Contains(d.String(), tc.wantStr) {
				t.Errorf("drift = %q; want it to say %q", d, tc.wantStr)
			}
		})
	}
}

// TestReported: a drift is reported once; a further hand move, or a drift
// after aliasflow moved the alias again, is reported anew.
func TestReported(t *testing.T) {
	base := shifted1to2()
	d3, _ := base.Drifted("hello", "prod", on("3", nil, ""))
	withRecord := func(tr ledger.Trail, d ledger.Drift, at time.Duration) ledger.Trail {
		r := d.Record()
		r.Time = t0.Add(at)
		return ledger.NewTrail(append(append([]audit.Record(nil), tr...), r))
	}
	after := withRecord(base, d3, time.Hour)
	d4, _ := after.Drifted("hello", "prod", on("4", nil, ""))
	moveAgain := ledger.NewTrail(append(append([]audit.Record(nil), after...),
		rec(2*time.Hour, "hello", audit.PromotionCompleted, "prod", "2", "3", "hello-v3-0b0b0b0b")))
	tests := []struct {
		name  string
		trail ledger.Trail
		d     ledger.Drift
		want  bool
	}{
		{"not yet", base, d3, false},
		{"once recorded", after, d3, true},
		{"moved by hand again", after, d4, false},
		{"a new write since", moveAgain, d3, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.trail.Reported(tc.d); got != tc.want {
				t.Errorf("Reported(%s) = %v, want %v", tc.d, got, tc.want)
			}
		})
	}
}

// TestOpenDrifts: a drift record stays open until aliasflow moves that
// alias again; another alias's move or another function's records do not
// close it.
func TestOpenDrifts(t *testing.T) {
	drift := func(at time.Duration, fn, name, from, to string) audit.Record {
		return rec(at, fn, audit.AliasDrifted, name, from, to, "")
	}
	tests := []struct {
		name string
		recs []audit.Record
		want []string // "alias to" of the open drifts, newest first
	}{
		{"none", []audit.Record{rec(0, "hello", audit.PromotionCompleted, "prod", "1", "2", "hello-v2-0a0a0a0a")}, nil},
		{"one open", []audit.Record{rec(0, "hello", audit.PromotionCompleted, "prod", "1", "2", "hello-v2-0a0a0a0a"), drift(time.Hour, "hello", "prod", "2", "3")}, []string{"prod 3"}},
		{"closed by aliasflow's move", []audit.Record{drift(time.Hour, "hello", "prod", "2", "3"),
			rec(2*time.Hour, "hello", audit.TrafficShifted, "prod", "3", "4", "hello-v4-0c0c0c0c")}, nil},
		{"closed by a rollback", []audit.Record{drift(time.Hour, "hello", "prod", "2", "3"),
			rec(2*time.Hour, "hello", audit.PromotionRolledBack, "prod", "4", "3", "hello-v4-0c0c0c0c")}, nil},
		{"another alias's move leaves it open", []audit.Record{drift(time.Hour, "hello", "stg", "2", "1"),
			rec(2*time.Hour, "hello", audit.AliasMoved, "prod", "2", "3", "hello-v3-0b0b0b0b")}, []string{"stg 1"}},
		{"two hand moves, both open", []audit.Record{drift(time.Hour, "hello", "prod", "2", "3"), drift(2*time.Hour, "hello", "prod", "2", "5")}, []string{"prod 5", "prod 3"}},
		{"a drift before the last move is closed, one after open", []audit.Record{drift(time.Hour, "hello", "prod", "2", "3"),
			rec(2*time.Hour, "hello", audit.PromotionCompleted, "prod", "3", "4", "hello-v4-0c0c0c0c"), drift(3*time.Hour, "hello", "prod", "4", "1")}, []string{"prod 1"}},
		{"another function's drift", []audit.Record{drift(time.Hour, "other", "prod", "2", "3")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range ledger.NewTrail(tc.recs).OpenDrifts("hello") {
				got = append(got, r.Alias+" "+r.ToVersion)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("OpenDrifts = %q, want %q", got, tc.want)
			}
		})
	}
}
