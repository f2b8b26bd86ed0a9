// Package progress reads a promotion's Step Functions execution and its
// history and says where the promotion stands: which gate it waits at, what
// weight prod gives the new version, when the next step is due, and which
// version is stable. The CLI's status, watch, rollback and demo all read a
// promotion through it, so they never disagree about where it is.
package progress

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift/groupstate"
	"github.com/aliasflow/aliasflow/shared/untrusted"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Phase is the stretch of the promotion a state belongs to.
type Phase string

// The phases, in the order a successful promotion passes them.
const (
	PhaseSmoke    Phase = "smoke"
	PhaseApproval Phase = "approval"
	PhaseShift    Phase = "shift"
	PhaseFinalize Phase = "finalize"
	PhaseDone     Phase = "done"
	// PhaseFailing covers the states that lead to a failed end: restoring
	// stg, recording a rejection or expiry, aborting, rolling back.
	PhaseFailing Phase = "failing"
)

// Progress is where one promotion stands.
type Progress struct {
	Execution string    `json:"execution"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	Function  string    `json:"function"`
	Version   string    `json:"version"`
	StartTime time.Time `json:"startTime"`
	StopTime  time.Time `json:"stopTime,omitzero"`
	// State is the current state's name (the last one entered).
	State   string    `json:"state"`
	Entered time.Time `json:"enteredTime,omitzero"`
	Phase   Phase     `json:"phase"`
	// Gate is the human description of where the promotion stands.
	Gate string `json:"gate"`
	// NextAt is when the current gate ends at the latest: the approval's
	// expiry or the end of the bake.
	NextAt time.Time `json:"nextAt,omitzero"`
	// Weight is the share of prod traffic the new version gets now: a
	// step's weight counts once SetWeight has exited.
	Weight float64 `json:"weight"`
	// Step is the 1-based strategy step being set or baked (0 before the
	// shift); it advances when SetWeight is entered.
	Step  int              `json:"step"`
	Steps []promotion.Step `json:"steps"`
	// Plan is the promotion's plan (shared/plan), read from its input:
	// the stages of the bar are its weights.
	Plan plan.Plan `json:"plan"`
	// StableVersion is what prod served before the shift began; the
	// rollback target. Empty until BeginShift has run.
	StableVersion string `json:"stableVersion,omitempty"`
	// Shifting is true once BeginShift succeeded and until the execution
	// ends: prod may carry routing for this promotion and the rollback
	// target (StableVersion) is known. Prod counts as moving earlier, from
	// the entry into BeginShift (promotion.ProdMoving's rule, by which a
	// release never stops such a promotion); a promotion still retrying
	// BeginShift has no rollback target yet, so it is not Shifting.
	Shifting bool                   `json:"shifting"`
	Smoke    *promotion.SmokeResult `json:"smoke,omitempty"`
	Approval *promotion.Decision    `json:"approval,omitempty"`
	// Verdict is the last health verdict, with its evidence.
	Verdict string `json:"verdict,omitempty"`
	Error   string `json:"error,omitempty"`
	Cause   string `json:"cause,omitempty"`
	// Group names the group a group promotion moves (Input.Group), and
	// Members are its functions, each with the weight its own prod gives
	// its new version; both empty for one function.
	Group   string   `json:"group,omitempty"`
	Members []Member `json:"members,omitempty"`
	// Promotion is the newest state document seen (a state's input or
	// output), what a task sent for this promotion would carry.
	Promotion promotion.State `json:"-"`
}

// Member is one function of a group promotion and where its prod stands.
type Member struct {
	Function string `json:"function"`
	Version  string `json:"version"`
	// StableVersion is what the member's prod served when the shift
	// began: "" for a member without prod (created at Finalize) or
	// before BeginShift; Version itself for a member whose prod already
	// served it.
	StableVersion string `json:"stableVersion,omitempty"`
	// Weight is the share of the member's prod traffic on Version.
	Weight float64 `json:"weight"`
}

// Running reports whether the execution has not ended.
func (p *Progress) Running() bool { return p.Status == string(types.ExecutionStatusRunning) }

// Read builds the progress of an execution from DescribeExecution's answer
// and its history in chronological order.
func Read(exec *sfn.DescribeExecutionOutput, events []types.HistoryEvent) (*Progress, error) {
	if exec == nil {
		return nil, fmt.Errorf("progress: no execution")
	}
	p := &Progress{
		Execution: deref(exec.ExecutionArn),
		Name:      deref(exec.Name),
		Status:    string(exec.Status),
		Error:     deref(exec.Error),
		Cause:     deref(exec.Cause),
		Steps:     []promotion.Step{},
	}
	if exec.StartDate != nil {
		p.StartTime = exec.StartDate.UTC()
	}
	if exec.StopDate != nil {
		p.StopTime = exec.StopDate.UTC()
	}
	if in := deref(exec.Input); in != "" {
		if err := json.Unmarshal([]byte(in), &p.Promotion); err != nil {
			return nil, fmt.Errorf("progress: %s: execution input is not a promotion: %w", p.Name, err)
		}
	}
	// taskOK: the current state's task succeeded. A caught failure also
	// exits the state (with $.failure), and then prod did not get the
	// step's weight.
	var prodBusy, taskOK bool
	for _, ev := range events {
		at := time.Time{}
		if ev.Timestamp != nil {
			at = ev.Timestamp.UTC()
		}
		switch {
		case ev.StateEnteredEventDetails != nil:
			d := ev.StateEnteredEventDetails
			p.State, p.Entered, p.NextAt, prodBusy, taskOK = deref(d.Name), at, time.Time{}, false, false
			p.absorb(deref(d.Input))
			switch p.State {
			case promotion.StateSetWeight:
				// Each step passes SetWeight once (a retry does not
				// re-enter it), so this counts the steps begun.
				p.Step++
			case promotion.StateBake:
				// The bake clock starts here, after SetWeight put the
				// weight on prod; the task's TaskScheduled refines NextAt
				// with the timeout Step Functions applies.
				if p.Promotion.Shift != nil {
					p.NextAt = at.Add(time.Duration(p.Promotion.Shift.BakeSeconds) * time.Second)
				}
			case promotion.StateRequestApproval:
				if s := p.Promotion.Target.ApprovalTimeoutSeconds; s > 0 {
					p.NextAt = at.Add(time.Duration(s) * time.Second)
				}
			case promotion.StateFinalize:
				p.Shifting = true
			}
		case ev.StateExitedEventDetails != nil:
			d := ev.StateExitedEventDetails
			p.absorb(deref(d.Output))
			switch deref(d.Name) {
			case promotion.StateBeginShift:
				p.Shifting = true
			case promotion.StateSetWeight:
				// The weight is on prod only once SetWeight succeeded.
				if taskOK && p.Promotion.Shift != nil {
					p.Weight = p.Promotion.Shift.Weight
				}
			case promotion.StateFinalize:
				p.Weight = 1
			case promotion.StateRollback:
				p.Weight = 0
			}
		case ev.TaskScheduledEventDetails != nil:
			// The task's own timeout is the authority on when a
			// waitForTaskToken wait ends (each retry restarts it); other
			// tasks' timeouts are safety limits, not a next step.
			waits := slices.Contains(promotion.WaitStates, p.State)
			if t := ev.TaskScheduledEventDetails.TimeoutInSeconds; waits && t != nil && *t > 0 {
				p.NextAt = at.Add(time.Duration(*t) * time.Second)
			}
		case ev.TaskSucceededEventDetails != nil:
			taskOK = true
		case ev.TaskFailedEventDetails != nil:
			if deref(ev.TaskFailedEventDetails.Error) == promotion.ErrProdBusy {
				prodBusy = true
			}
		}
	}
	if p.Promotion.Function != "" {
		p.Function, p.Version = p.Promotion.Function, p.Promotion.Version
	}
	if p.Promotion.Steps != nil {
		p.Steps = p.Promotion.Steps
	}
	p.Plan = p.Promotion.Rollout()
	p.Smoke, p.Approval = p.Promotion.Smoke, p.Promotion.Approval
	if p.Promotion.Shift != nil {
		p.StableVersion = p.Promotion.Shift.StableVersion
	}
	p.describe(prodBusy)
	p.Group, p.Members = p.Promotion.Group, p.members()
	if !p.Running() {
		p.NextAt = time.Time{}
		p.Shifting = false
	}
	return p, nil
}

// members is where each member of a group stands: the group's weight on
// every member that shifts (the shift moves them in lockstep), none on a
// member without prod until it is finalized, all on a member whose prod
// already served its version.
func (p *Progress) members() []Member {
	if len(p.Promotion.Members) == 0 {
		return nil
	}
	g := groupstate.Decode("")
	if s := p.Promotion.Shift; s != nil {
		g = groupstate.Decode(s.Prod)
	}
	out := make([]Member, 0, len(p.Promotion.Members))
	for _, m := range p.Promotion.Members {
		mm := Member{Function: m.Function, Version: m.Version, Weight: p.Weight}
		if st, ok := g.Members[m.Function]; ok {
			mm.StableVersion = st.Stable
			switch {
			case st.Stable == m.Version:
				mm.Weight = 1
			case st.Stable == "" && p.Weight < 1:
				mm.Weight = 0
			}
		}
		out = append(out, mm)
	}
	return out
}

// MemberWeights says where each member of a group stands, "api-a 10%
// (1→2), api-b 0% (→2), api-c 100% (unchanged)" (no stable version: no
// prod before, or not known before BeginShift); "" for one function.
func (p *Progress) MemberWeights() string {
	var parts []string
	for _, m := range p.Members {
		from := untrusted.Show(m.StableVersion) + "→" + untrusted.Show(m.Version)
		if m.StableVersion == m.Version {
			from = "unchanged"
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s)", untrusted.Show(m.Function), alias.Percent(m.Weight), from))
	}
	return strings.Join(parts, ", ")
}

// absorb takes a state document when it parses as one; a state's input or
// output that is not a promotion (an intermediate Lambda result) is skipped.
func (p *Progress) absorb(doc string) {
	if doc == "" {
		return
	}
	var s promotion.State
	if err := json.Unmarshal([]byte(doc), &s); err != nil || s.Function == "" {
		return
	}
	p.Promotion = s
	if s.Shift != nil && s.Shift.Verdict != "" {
		p.Verdict = s.Shift.Verdict
	}
}

func (p *Progress) describe(prodBusy bool) {
	pct := alias.Percent
	stable := p.StableVersion
	if stable == "" {
		stable = "the stable version"
	}
	switch p.Status {
	case string(types.ExecutionStatusSucceeded):
		p.Phase, p.Weight, p.Gate = PhaseDone, 1, fmt.Sprintf("completed: prod on version %s", p.Version)
		if r := p.Promotion.Rollback; r != nil {
			// An operator's rollback succeeded: no promotion completed.
			p.Gate = fmt.Sprintf("an operator's rollback: prod → version %s (from %s)", r.To, r.From)
		}
		return
	case string(types.ExecutionStatusFailed), string(types.ExecutionStatusAborted), string(types.ExecutionStatusTimedOut):
		p.Phase = PhaseDone
		p.Gate = strings.ToLower(p.Status)
		if p.Error != "" {
			p.Gate += ": " + p.Error
		}
		if p.Cause != "" {
			p.Gate += " (" + p.Cause + ")"
		}
		return
	}
	switch p.State {
	case "", promotion.StateMode, promotion.StateSmokeTest, promotion.StateSmokePassed:
		p.Phase, p.Gate = PhaseSmoke, fmt.Sprintf("smoke testing stg (version %s)", p.Version)
	case promotion.StateRequestApproval:
		p.Phase, p.Gate = PhaseApproval, "awaiting approval"
		if !p.NextAt.IsZero() {
			p.Gate += " (expires " + p.NextAt.Format(time.RFC3339) + ")"
		}
	case promotion.StateRecordApproval:
		p.Phase, p.Gate = PhaseApproval, "approved; recording the decision"
		if p.Approval != nil && p.Approval.Approver != "" {
			p.Gate = "approved by " + untrusted.Show(p.Approval.Approver) + "; recording the decision"
		}
	case promotion.StateBeginShift:
		p.Phase, p.Gate = PhaseShift, "beginning the shift of prod"
		if prodBusy {
			p.Gate = "waiting: prod is shifting for another release"
		}
	case promotion.StateHasSteps, promotion.StateMoreSteps:
		p.Phase, p.Gate = PhaseShift, "shifting prod"
	case promotion.StateSetWeight:
		p.Phase, p.Gate = PhaseShift, "setting prod to "+pct(p.target())
	case promotion.StateBake:
		p.Phase, p.Gate = PhaseShift, "baking at "+pct(p.target())
		if !p.NextAt.IsZero() {
			p.Gate += " until " + p.NextAt.Format(time.RFC3339)
		}
		if sh := p.Promotion.Shift; sh != nil && sh.Extend {
			// The evidence was inconclusive: the same step bakes again.
			p.Gate += " (again; " + sh.Verdict + ")"
		}
	case promotion.StateCheckHealth:
		p.Phase, p.Gate = PhaseShift, "checking health at "+pct(p.Weight)
	case promotion.StatePause:
		p.Phase, p.Gate = PhaseShift, "paused at "+pct(p.Weight)
		switch {
		case p.Promotion.Shift != nil && p.Promotion.Shift.Kind == string(plan.KindApproval):
			p.Gate = "awaiting approval at " + pct(p.Weight)
			if a := p.stepApproval(); a != nil {
				p.Gate += " from " + untrusted.Show(strings.Join(a.Approvers, " or "))
			}
			p.Gate += fmt.Sprintf(": `aliasflow approve %s`", p.Name)
			if !p.NextAt.IsZero() {
				p.Gate += " (expires " + p.NextAt.Format(time.RFC3339) + ", then rolls back)"
			}
		case p.Promotion.Shift != nil && p.Promotion.Shift.Kind == promotion.ShiftHold:
			p.Gate += fmt.Sprintf(" by an operator, held: resume it with `aliasflow resume %s`", p.Name)
			if !p.NextAt.IsZero() {
				p.Gate += " (expires " + p.NextAt.Format(time.RFC3339) + ", then rolls back)"
			}
		case p.Promotion.Shift != nil && p.Promotion.Shift.Kind == string(plan.KindWindow):
			// The shift's verdict says why the window is closed and when
			// it opens; the wait's end is that time.
			p.Gate = fmt.Sprintf("held at %s by the deploy window (%s); break-glass: `aliasflow promote %s`",
				pct(p.Weight), p.Promotion.Shift.Verdict, p.Name)
		case p.untilContinued():
			// As an approval's: status shortens "(expires …)" to the time left.
			p.Gate += fmt.Sprintf(", held: continue it with `aliasflow promote %s`", p.Name)
			if !p.NextAt.IsZero() {
				p.Gate += " (expires " + p.NextAt.Format(time.RFC3339) + ", then rolls back)"
			}
		case !p.NextAt.IsZero():
			p.Gate += " until " + p.NextAt.Format(time.RFC3339)
		}
	case promotion.StateContinue:
		p.Phase, p.Gate = PhaseShift, "continuing after the pause at "+pct(p.Weight)
		if sh := p.Promotion.Shift; sh != nil && sh.Kind == string(plan.KindWindow) {
			p.Gate = "checking the deploy window at " + pct(p.Weight)
		}
	case promotion.StateWarm, promotion.StateWarmWait:
		p.Phase, p.Gate = PhaseShift, p.warming()
	case promotion.StateFinalize:
		p.Phase, p.Gate = PhaseFinalize, fmt.Sprintf("finalizing: prod → version %s", p.Version)
	case promotion.StateCompleted:
		p.Phase, p.Gate = PhaseDone, fmt.Sprintf("completed: prod on version %s", p.Version)
	case promotion.StateRestoreStg, promotion.StateSmokeTestsFailed:
		p.Phase, p.Gate = PhaseFailing, "smoke tests failed; restoring stg"
	case promotion.StateRecordRejection, promotion.StateRejected:
		p.Phase, p.Gate = PhaseFailing, "rejected"
	case promotion.StateRecordExpiry, promotion.StateApprovalExpired:
		p.Phase, p.Gate = PhaseFailing, "approval expired"
	case promotion.StateAbort, promotion.StateAborted:
		p.Phase, p.Gate = PhaseFailing, "aborting; prod untouched"
	case promotion.StateRollback, promotion.StateRolledBack, promotion.StateRollbackFailed:
		p.Phase, p.Gate = PhaseFailing, "rolling prod back to version "+strings.TrimPrefix(stable, "the stable version")
		if p.StableVersion == "" {
			p.Gate = "rolling prod back to the stable version"
		}
	case promotion.StateManualRollback, promotion.StateManuallyRolledBack, promotion.StateManualRollbackFailed:
		p.Phase, p.Gate = PhaseFailing, "an operator's rollback: prod → version "+p.Version
	default:
		p.Phase, p.Gate = PhaseShift, "in state "+p.State
	}
}

// warming says what a warm step of the plan is doing: how much
// provisioned concurrency it puts on the new version, before which weight,
// and once the Warm task has read it, that it is not READY yet and for how
// long it has waited (the shift's verdict).
func (p *Progress) warming() string {
	sh := p.Promotion.Shift
	if sh == nil || sh.Position < 0 || sh.Position >= len(p.Plan.Steps) || p.Plan.Steps[sh.Position].Warm == nil {
		return "warming the new version"
	}
	gate := fmt.Sprintf("warming version %s: provisioned concurrency %d at %s", p.Version, p.Plan.Steps[sh.Position].Warm.ProvisionedConcurrency, alias.Percent(p.Weight))
	if next := sh.Position + 1; next < len(p.Plan.Steps) && p.Plan.Steps[next].SetWeight != nil {
		gate += ", before " + alias.Percent(p.Plan.Steps[next].SetWeight.Weight)
	}
	if sh.Kind == promotion.ShiftWarming {
		gate += fmt.Sprintf("; not READY after %ds, read again in %ds", sh.BakedSeconds, sh.BakeSeconds)
	}
	return gate
}

// stepApproval is the approval step the promotion waits at, nil when none.
func (p *Progress) stepApproval() *plan.Approval {
	s := p.Promotion.Shift
	if s == nil || s.Position < 0 || s.Position >= len(p.Plan.Steps) {
		return nil
	}
	return p.Plan.Steps[s.Position].Approval
}

// untilContinued says the promotion is at a pause of its plan that waits
// for a person.
func (p *Progress) untilContinued() bool {
	s := p.Promotion.Shift
	if s == nil || s.Position < 0 || s.Position >= len(p.Plan.Steps) {
		return false
	}
	pause := p.Plan.Steps[s.Position].Pause
	return pause != nil && pause.Seconds == 0
}

// target is the weight the current step gives the new version (the
// shift document's), 0 before BeginShift.
func (p *Progress) target() float64 {
	if p.Promotion.Shift == nil {
		return 0
	}
	return p.Promotion.Shift.Weight
}

// Stage is one box of the progress bar: smoke, approval, each strategy
// weight, and 100%.
type Stage struct {
	Label string `json:"label"`
	// Done is true when the stage is behind the promotion; Current when
	// the promotion is in it.
	Done    bool `json:"done"`
	Current bool `json:"current"`
}

// Stages lays the promotion out as the stages of its plan: smoke,
// approval, each weight the plan sets (its analysis bakes in the same
// box), 100%.
func (p *Progress) Stages() []Stage {
	st := []Stage{{Label: "smoke"}, {Label: "approval"}}
	for _, w := range p.Plan.Weights() {
		st = append(st, Stage{Label: alias.Percent(w.Weight)})
	}
	st = append(st, Stage{Label: "100%"})
	cur := -1
	switch p.Phase {
	case PhaseSmoke:
		cur = 0
	case PhaseApproval:
		cur = 1
	case PhaseShift:
		cur = 2 + max(p.Step-1, 0)
		if p.State == promotion.StateBeginShift || p.State == promotion.StateHasSteps {
			cur = 2
		}
		if p.State == promotion.StateMoreSteps {
			cur = 2 + p.Step
		}
	case PhaseFinalize:
		cur = len(st) - 1
	case PhaseDone:
		// Succeeded, or in its Succeed state already while the execution's
		// status still reads RUNNING: history and status are two reads
		// (GetExecutionHistory, then DescribeExecution), and the history's
		// SucceedStateEntered comes before ExecutionSucceeded ("Execution
		// history events", HistoryEvent types, Step Functions API Reference).
		if p.Status == string(types.ExecutionStatusSucceeded) || p.State == promotion.StateCompleted {
			cur = len(st)
		}
	}
	if cur == -1 { // a failed end: mark what was reached
		cur = p.reached()
		if cur < len(st) {
			st[cur].Current = true
		}
	}
	for i := range st {
		st[i].Done = i < cur
		if i == cur && p.Phase != PhaseDone && p.Phase != PhaseFailing {
			st[i].Current = true
		}
	}
	return st
}

// reached is the index of the stage a failing promotion stopped in.
func (p *Progress) reached() int {
	switch {
	case p.Shifting || p.Step > 0:
		return 2 + max(p.Step-1, 0)
	case p.Approval != nil:
		return 2
	case p.Smoke != nil && p.Smoke.Passed:
		return 1
	}
	return 0
}

// Bar renders the stages as a line: "[smoke ✔] [approval ✔] [10% ◐] [100% ·]".
func (p *Progress) Bar() string {
	var b strings.Builder
	for i, s := range p.Stages() {
		if i > 0 {
			b.WriteString(" ")
		}
		mark := "·"
		switch {
		case s.Done:
			mark = "✔"
		case s.Current && p.Phase == PhaseFailing, s.Current && p.Phase == PhaseDone:
			mark = "✘"
		case s.Current:
			mark = "◐"
		}
		fmt.Fprintf(&b, "[%s %s]", s.Label, mark)
	}
	return b.String()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
