package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/cli/progress"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/untrusted"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/spf13/cobra"
)

func watchCommand(a *app) *cobra.Command {
	var interval, timeout time.Duration
	c := &cobra.Command{
		Use:   "watch <promotion>",
		Short: "follow a promotion live until it ends",
		Long: `Watch follows a promotion until it ends, one line per change and a live countdown to the
next step. It exits 0 when the promotion completes and 5 when it ends failed, aborted or
timed out, saying which smoke check failed or who rejected it and why.`,
		Args: positional(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			return runWatch(c.Context(), a, args, &interval, &timeout)
		},
	}
	durationVar(c.Flags(), &interval, "interval", time.Second, "how often to poll (at least 100ms)")
	durationVar(c.Flags(), &timeout, "timeout", 0, "give up after this long, exit 1 (0: never)")
	return c
}

func runWatch(ctx context.Context, a *app, pos []string, interval, timeout *time.Duration) error {
	if *interval < 100*time.Millisecond || *timeout < 0 {
		return usageError("watch: --interval must be at least 100ms and --timeout not negative")
	}
	arn, err := a.executionARN(ctx, pos[0])
	if err != nil {
		return err
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	// At a terminal the current line is redrawn each poll, so the
	// countdown to the next step moves; elsewhere one line per change.
	a.live = a.env.Terminal && !a.g.json
	p, err := a.follow(ctx, arn, *interval, nil)
	if err != nil {
		if ctx.Err() != nil {
			return fail(ExitFailure, fmt.Sprintf("it is still running; `aliasflow watch %s` again", pos[0]), "stopped watching %s: %v", nameOf(arn), ctx.Err())
		}
		return err
	}
	return endOf(p)
}

// endOf turns an ended promotion into the watch exit code.
func endOf(p *progress.Progress) error {
	if p.Status == string(sfntypes.ExecutionStatusSucceeded) {
		return nil
	}
	msg := fmt.Sprintf("promotion %s ended %s", p.Name, p.Gate)
	if why := failureDetail(p); why != "" {
		msg += "\n  " + why
	}
	return &Error{Code: ExitUnsuccessful, Err: errors.New(msg),
		Hint: fmt.Sprintf("see what happened with `aliasflow history %s`", functionOr(p.Name))}
}

// rejection is the approver's decision of a rejected promotion: the
// SendTaskFailure cause the definition catches into $.failure; nil when
// the promotion was not rejected.
func rejection(p *progress.Progress) *promotion.Decision {
	f := p.Promotion.Failure
	if f == nil || f.Error != promotion.ErrRejected {
		return nil
	}
	var d promotion.Decision
	if json.Unmarshal([]byte(f.Cause), &d) != nil || d.Approver == "" {
		return nil
	}
	return &d
}

// override is an operator's rollback as the approval API recorded it: the
// Cause of the bake's ErrOperatorRollback failure.
func override(f *promotion.Failure) (promotion.Override, bool) {
	var o promotion.Override
	if f.Error != promotion.ErrOperatorRollback || json.Unmarshal([]byte(f.Cause), &o) != nil || o.Actor == "" {
		return promotion.Override{}, false
	}
	return o, true
}

// failureDetail says why a promotion failed in the words of what failed:
// the smoke checks that failed, who rejected it and why, the health
// verdict, or the expiry.
func failureDetail(p *progress.Progress) string {
	if p.Smoke != nil && !p.Smoke.Passed {
		var failed []string
		for _, c := range p.Smoke.Checks {
			if !c.Passed {
				failed = append(failed, fmt.Sprintf("smoke check %q failed: %s", c.Name, untrusted.Show(c.Detail)))
			}
		}
		if len(failed) > 0 {
			return strings.Join(failed, "\n  ")
		}
	}
	f := p.Promotion.Failure
	if f == nil {
		return ""
	}
	if d := rejection(p); d != nil {
		if d.Comment != "" {
			return fmt.Sprintf("rejected by %s: %q", untrusted.Show(d.Approver), d.Comment)
		}
		return fmt.Sprintf("rejected by %s (no comment)", untrusted.Show(d.Approver))
	}
	if o, ok := override(f); ok {
		return fmt.Sprintf("why: rolled back by %s: %s", o.Actor, o.Reason)
	}
	if f.Cause != "" {
		cause := f.Cause
		var doc struct {
			ErrorMessage string `json:"errorMessage"`
		}
		if json.Unmarshal([]byte(cause), &doc) == nil && doc.ErrorMessage != "" {
			cause = doc.ErrorMessage
		}
		return "why: " + untrusted.Show(cause)
	}
	return ""
}

// watchLine is one --json line of watch.
type watchLine struct {
	Time time.Time `json:"time"`
	*progress.Progress
	Stages []progress.Stage `json:"stages"`
}

// maxPoll bounds how far follow's polls back off while nothing changes or
// the reads are throttled.
const maxPoll = 15 * time.Second

// follow polls a promotion, printing each change, until it ends or stop
// says so; it returns the last progress read. The polls start every
// interval and back off, doubling up to maxPoll, while nothing changes; a
// poll is not put off past the next step's due time. A throttled read
// (ThrottlingException, after the SDK's own retries) is waited out the same
// way, not fatal. At a terminal the countdown is redrawn every interval
// between reads, from what was read.
func (a *app) follow(ctx context.Context, arn string, interval time.Duration, stop func(*progress.Progress) bool) (*progress.Progress, error) {
	// What was shown last survives across calls, so the demo, which
	// follows one promotion in stretches, prints each change once.
	if a.shown == nil {
		a.shown = map[string]string{}
	}
	// open: a live line was drawn without its newline yet.
	open := false
	defer func() {
		if open {
			fmt.Fprintln(a.env.Stdout)
		}
	}()
	wait := interval
	var p *progress.Progress
	for {
		next, err := a.readProgress(ctx, arn)
		switch {
		case err != nil && throttled(err) && ctx.Err() == nil:
			wait = min(2*wait, max(maxPoll, interval))
			fmt.Fprintf(a.env.Stderr, "aliasflow: reads throttled; next try in %s\n", wait)
			if err := a.env.Sleep(ctx, wait); err != nil {
				return p, err
			}
			continue
		case err != nil:
			return nil, err
		}
		p = next
		a.countApprovalsCached(ctx, p)
		key := changeKey(p)
		changed := key != a.shown[arn]
		a.shown[arn] = key
		switch {
		case a.live:
			if changed && open {
				fmt.Fprintln(a.env.Stdout)
			}
			if changed || !p.NextAt.IsZero() {
				fmt.Fprintf(a.env.Stdout, "\r\x1b[K%s", a.progressLine(p))
				open = true
			}
		case changed:
			if err := a.printProgress(p); err != nil {
				return nil, err
			}
		}
		if !p.Running() || (stop != nil && stop(p)) {
			return p, nil
		}
		if changed {
			wait = interval
		} else {
			wait = min(2*wait, max(maxPoll, interval))
		}
		// The next step's due time is when a change is expected: the poll
		// comes then. An overdue step (the shift's Lambda is slow) keeps
		// the back-off.
		if !p.NextAt.IsZero() {
			if due := p.NextAt.Sub(a.env.Now()); due > 0 && due < wait {
				wait = max(due, interval)
			}
		}
		for slept := time.Duration(0); slept < wait; {
			d := wait - slept
			if a.live {
				d = min(d, interval)
			}
			if err := a.env.Sleep(ctx, d); err != nil {
				return p, err
			}
			slept += d
			if a.live && slept < wait && !p.NextAt.IsZero() {
				fmt.Fprintf(a.env.Stdout, "\r\x1b[K%s", a.progressLine(p))
			}
		}
	}
}

// throttled says err is AWS refusing a call for its rate (the SDK's list of
// throttle error codes: ThrottlingException, TooManyRequestsException, …).
func throttled(err error) bool {
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}

// changeKey is what makes a progress line worth printing again.
func changeKey(p *progress.Progress) string {
	return fmt.Sprintf("%s|%s|%s|%d|%g|%s|%s", p.Status, p.State, p.Gate, p.Step, p.Weight, p.NextAt, p.MemberWeights())
}

func (a *app) printProgress(p *progress.Progress) error {
	now := a.env.Now().UTC()
	if a.g.json {
		b, err := json.Marshal(watchLine{Time: now, Progress: p, Stages: p.Stages()})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.env.Stdout, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintln(a.env.Stdout, a.progressLine(p))
	if m := p.MemberWeights(); err == nil && m != "" {
		// A group moves in lockstep: each member's prod, by name.
		_, err = fmt.Fprint(a.env.Stdout, wrap("          group "+untrusted.Show(p.Group)+": "+m, maxWidth, "          "))
	}
	if err == nil && p.Verdict != "" && (p.State == promotion.StateSetWeight || p.State == promotion.StateFinalize) {
		// The verdict that let the shift go on, with its evidence.
		_, err = fmt.Fprint(a.env.Stdout, wrap("          health "+untrusted.Show(p.Verdict), maxWidth, "          "))
	}
	return err
}

// progressLine is one promotion's line: time, name, stages and gate with
// the countdown to the next step.
func (a *app) progressLine(p *progress.Progress) string {
	now := a.env.Now().UTC()
	// Cut to the width: how it ended is said in full by the error after
	// it, and --json has it all.
	return cut(fmt.Sprintf("%s  %s  %s  %s", now.Format("15:04:05"), p.Name, p.Bar(), gateCountdown(p, now)), maxWidth)
}
