package plan_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/plan"
)

func TestWindowOpens(t *testing.T) {
	// Monday 2026-12-07.
	at := func(day, hm string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04", "2026-12-"+day+" "+hm)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	office := plan.Window{Days: []string{"Mon", "Tue", "Wed", "Thu", "Fri"}, Hours: []string{"09:00-17:00"}}
	night := plan.Window{Hours: []string{"22:00-02:00"}}
	frozen := plan.Window{Hours: []string{"00:00-23:59"}, Freezes: []plan.Freeze{{Name: "year-end", From: at("07", "12:00"), To: at("09", "08:30")}}}
	tests := []struct {
		name     string
		w        plan.Window
		now      time.Time
		open     bool
		opens    time.Time
		whyPart  string
		wantDesc string
	}{
		{name: "inside office hours", w: office, now: at("07", "10:15"), open: true, opens: at("07", "10:15")},
		{name: "before office hours", w: office, now: at("07", "07:59"), opens: at("07", "09:00"), whyPart: "Mon 07:59 UTC is outside the allowed hours"},
		{name: "office hours end at their end", w: office, now: at("07", "17:00"), opens: at("08", "09:00"), whyPart: "outside the allowed hours"},
		{name: "friday evening waits for monday", w: office, now: at("11", "18:30"), opens: at("14", "09:00"), whyPart: "Fri 18:30 UTC"},
		{name: "a range past midnight, before it", w: night, now: at("07", "21:00"), opens: at("07", "22:00"), whyPart: "outside"},
		{name: "a range past midnight, after midnight", w: night, now: at("08", "01:30"), open: true, opens: at("08", "01:30")},
		{name: "a freeze closes allowed hours", w: frozen, now: at("08", "10:00"), opens: at("09", "08:30"), whyPart: `freeze "year-end" until 2026-12-09T08:30:00Z`},
		{name: "after the freeze", w: frozen, now: at("09", "09:00"), open: true, opens: at("09", "09:00")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			open, opens, why := tc.w.Opens(tc.now)
			if open != tc.open || !opens.Equal(tc.opens) {
				t.Errorf("Opens(%s) = %v, %s; want %v, %s", tc.now.Format(time.RFC3339), open, opens.Format(time.RFC3339), tc.open, tc.opens.Format(time.RFC3339))
			}
			if !strings.Contains(why, tc.whyPart) {
				t.Errorf("why = %q, want it to contain %q", why, tc.whyPart)
			}
		})
	}
}

func TestValidateWindow(t *testing.T) {
	weight := plan.Step{SetWeight: &plan.SetWeight{Weight: 0.1}}
	analysis := plan.Step{Analysis: &plan.Analysis{BakeSeconds: 60, Test: plan.TestBinomial, MaxErrorRate: 0.01, MinInvocations: 10}}
	tests := []struct {
		name string
		w    plan.Window
		want string
	}{
		{"office hours", plan.Window{Days: []string{"Mon"}, Hours: []string{"09:00-17:00"}}, ""},
		{"hours not a range", plan.Window{Hours: []string{"9-5"}}, `steps[0]: window.hours[0]: "9-5" is not HH:MM-HH:MM (UTC)`},
		{"empty range", plan.Window{Hours: []string{"09:00-09:00"}}, `"09:00-09:00" is empty`},
		{"unknown day", plan.Window{Days: []string{"Monday"}}, `days[0]: "Monday" is not one of Sun, Mon`},
		{"freeze ending before it starts", plan.Window{Freezes: []plan.Freeze{{Name: "x", From: time.Unix(100, 0), To: time.Unix(50, 0)}}}, "freezes[0]: to"},
		{"nameless freeze", plan.Window{Freezes: []plan.Freeze{{From: time.Unix(0, 0), To: time.Unix(50, 0)}}}, "freezes[0].name: must not be empty"},
		{"nothing to wait for", plan.Window{}, "needs hours, days or freezes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.w
			err := plan.Validate(plan.Plan{Steps: []plan.Step{{Window: &w}, weight, analysis}})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
