package approval

import (
	"fmt"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/untrusted"
)

// An approval step of the plan (issue 20) is asked and decided as the
// approval at the start is: the same request code e-mails each of the
// step's approvers their own signed link, and the same page decides it.
// What differs is only who is asked (the step's approvers), how long the
// links live (the step's wait, shift.bakeSeconds) and the words: the page
// and e-mail name the step, where prod stands and the health so far.

// StepAt is the approval step of the plan the promotion waits at, or nil
// when it waits at the approval before the first weight (no shift yet).
func StepAt(st promotion.State) *plan.Approval {
	s := st.Shift
	if s == nil || s.Kind != string(plan.KindApproval) {
		return nil
	}
	pl := st.Rollout()
	if s.Position < 0 || s.Position >= len(pl.Steps) {
		return nil
	}
	return pl.Steps[s.Position].Approval
}

// StepText names an approval step in one line: "second approval before
// 100 % — prod at 10 % for 5 minutes". The time is how long the plan has
// held prod at its weight before the step (its analyses and pauses).
func StepText(st promotion.State) string {
	s := st.Shift
	pl := st.Rollout()
	next := "100 %"
	for _, later := range pl.Steps[min(s.Position+1, len(pl.Steps)):] {
		if later.SetWeight != nil {
			next = percent(later.SetWeight.Weight)
			break
		}
	}
	held := 0
	for i := s.Position - 1; i >= 0 && pl.Steps[i].SetWeight == nil; i-- {
		switch {
		case pl.Steps[i].Analysis != nil:
			held += pl.Steps[i].Analysis.BakeSeconds
		case pl.Steps[i].Pause != nil:
			held += pl.Steps[i].Pause.Seconds
		}
	}
	if s.Weight == 0 {
		return fmt.Sprintf("second approval before %s — no prod traffic on the new version yet", next)
	}
	out := fmt.Sprintf("second approval before %s — prod at %s", next, percent(s.Weight))
	if held > 0 {
		out += " for " + seconds(held)
	}
	return out
}

// percent writes a weight as the step names it: "10 %".
func percent(w float64) string {
	return strings.TrimSuffix(alias.Percent(w), "%") + " %"
}

// StepSubject is the e-mail subject of an approval step's request.
func StepSubject(in promotion.Input) string {
	s := fmt.Sprintf("Second approval of %s version %s? (aliasflow)", untrusted.Show(in.Function), untrusted.Show(in.Version))
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

// StepBody is the plain-text e-mail of an approval step's request to one
// of its approvers: the genuine link first, as Body has it.
func StepBody(st promotion.State, approver string, expires, now time.Time, link string) string {
	var b strings.Builder
	show := untrusted.Show
	row := func(k, v string) {
		if v == "" {
			v = "(unknown)"
		}
		fmt.Fprintf(&b, "%-13s %s\n", k+":", v)
	}
	fmt.Fprintf(&b, "aliasflow asks you for the %s of %s version %s.\n\n", StepText(st), show(st.Function), show(st.Version))
	b.WriteString("Review and decide here. The link is yours alone: do not forward it.\n")
	b.WriteString(link)
	b.WriteString("\n\n")
	row("Function", show(st.Function))
	row("Version", show(st.Version))
	row("Plan", PlanText(st.Input))
	row("Health so far", show(st.Shift.Verdict))
	row("Expires", fmt.Sprintf("%s (in %s)", expires.UTC().Format("2006-01-02 15:04 MST"), Remaining(expires, now)))
	row("Commit", show(st.Release.Commit))
	row("Build", show(st.Release.Build))
	if step := StepAt(st); step != nil {
		if others := Others(step.Approvers, approver); len(others) > 0 {
			for i := range others {
				others[i] = show(others[i])
			}
			fmt.Fprintf(&b, "\nAlso asked: %s. The first decision counts.\n", strings.Join(others, ", "))
		}
	}
	b.WriteString("\nApproving moves prod on along the plan; rejecting rolls prod back to the version it served before.\n")
	fmt.Fprintf(&b, "Approvers can also decide with: aliasflow approve %s  (or: aliasflow reject %s --comment \"why\")\n", show(st.Function), show(st.Function))
	return b.String()
}
