package plan

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// weekdays are the names Window.Days takes, as time.Weekday numbers them.
var weekdays = []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// span is one allowed range of a day, in minutes after midnight UTC; end
// below start passes midnight.
type span struct{ start, end int }

func parseSpan(s string) (span, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return span{}, fmt.Errorf("%q is not HH:MM-HH:MM", s)
	}
	minutes := func(hm string) (int, error) {
		t, err := time.Parse("15:04", strings.TrimSpace(hm))
		if err != nil {
			return 0, fmt.Errorf("%q is not HH:MM-HH:MM", s)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	a, err := minutes(from)
	if err != nil {
		return span{}, err
	}
	b, err := minutes(to)
	if err != nil {
		return span{}, err
	}
	if a == b {
		return span{}, fmt.Errorf("%q is empty", s)
	}
	return span{a, b}, nil
}

// contains says whether minute m of a day (UTC) is in the span, and for a
// span passing midnight whether it is in its part after midnight.
func (sp span) contains(m int) (in, afterMidnight bool) {
	if sp.start < sp.end {
		return m >= sp.start && m < sp.end, false
	}
	if m >= sp.start {
		return true, false
	}
	return m < sp.end, m < sp.end
}

func (w *Window) validate() error {
	var errs []error
	for i, h := range w.Hours {
		if _, err := parseSpan(h); err != nil {
			errs = append(errs, fmt.Errorf("hours[%d]: %v (UTC)", i, err))
		}
	}
	for i, d := range w.Days {
		if !slices.Contains(weekdays, d) {
			errs = append(errs, fmt.Errorf("days[%d]: %q is not one of %s", i, d, strings.Join(weekdays, ", ")))
		}
	}
	for i, f := range w.Freezes {
		if strings.TrimSpace(f.Name) == "" {
			errs = append(errs, fmt.Errorf("freezes[%d].name: must not be empty", i))
		}
		if !f.To.After(f.From) {
			errs = append(errs, fmt.Errorf("freezes[%d]: to %s is not after from %s", i, f.To.Format(time.RFC3339), f.From.Format(time.RFC3339)))
		}
	}
	if len(w.Hours) == 0 && len(w.Days) == 0 && len(w.Freezes) == 0 {
		errs = append(errs, errors.New("window: needs hours, days or freezes"))
	}
	return errors.Join(errs...)
}

// String says what the window allows: "Mon–Fri 09:00-17:00 UTC, not in
// black-friday".
func (w *Window) String() string {
	var parts []string
	if len(w.Days) > 0 {
		parts = append(parts, strings.Join(w.Days, ","))
	}
	if len(w.Hours) > 0 {
		parts = append(parts, strings.Join(w.Hours, ",")+" UTC")
	}
	for _, f := range w.Freezes {
		parts = append(parts, "not in "+f.Name)
	}
	return strings.Join(parts, " ")
}

// allows says whether the window is open at t, and if not why.
func (w *Window) allows(t time.Time) (bool, string) {
	t = t.UTC()
	for _, f := range w.Freezes {
		if !t.Before(f.From) && t.Before(f.To) {
			return false, fmt.Sprintf("freeze %q until %s", f.Name, f.To.UTC().Format(time.RFC3339))
		}
	}
	m := t.Hour()*60 + t.Minute()
	day := func(d time.Time) bool { return len(w.Days) == 0 || slices.Contains(w.Days, weekdays[d.Weekday()]) }
	if len(w.Hours) == 0 {
		if day(t) {
			return true, ""
		}
		return false, fmt.Sprintf("%s is not one of the allowed days %s", weekdays[t.Weekday()], strings.Join(w.Days, ","))
	}
	for _, h := range w.Hours {
		sp, err := parseSpan(h)
		if err != nil {
			continue // Validate refuses it
		}
		in, afterMidnight := sp.contains(m)
		// The part of a range after midnight belongs to the day it began.
		d := t
		if afterMidnight {
			d = t.AddDate(0, 0, -1)
		}
		if in && day(d) {
			return true, ""
		}
	}
	return false, fmt.Sprintf("%s is outside the allowed hours %s", t.Format("Mon 15:04 UTC"), w)
}

// Opens says whether the window is open at now; when it is not, when it
// opens next (at most a week ahead, checked minute by minute, and after
// the freezes around it) and why it is closed. A window that does not
// open within a week reports a week from now, to be checked again then.
func (w *Window) Opens(now time.Time) (open bool, at time.Time, why string) {
	ok, why := w.allows(now)
	if ok {
		return true, now, ""
	}
	t := now.UTC().Truncate(time.Minute).Add(time.Minute)
	limit := now.Add(7 * 24 * time.Hour)
	for ; t.Before(limit); t = t.Add(time.Minute) {
		if ok, _ := w.allows(t); ok {
			return false, t, why
		}
	}
	return false, limit, why
}
