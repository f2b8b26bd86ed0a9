package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aliasflow/aliasflow/cli/progress"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/ledger"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// How release waits for the release Lambda's answer: the trail is read
// from the request on, first after answerPollFirst, then less often, up to
// answerPollMax apart. FilterLogEvents is 5 requests per second per
// account and Region, shared with every reader of every log group
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html),
// so a CI waiting on many releases at once stays well inside it.
const (
	answerPollFirst       = time.Second
	answerPollMax         = 10 * time.Second
	DefaultReleaseTimeout = 2 * time.Minute
	// answerSlack reads the trail from a little before the request: the
	// release Lambda's clock stamps the records, not this machine's.
	answerSlack = 5 * time.Second
	// answerOverlap: each read starts this long before the newest record
	// the last one returned, not after it — log streams are ingested
	// independently, so a record can arrive after a newer one of another
	// stream.
	answerOverlap = 10 * time.Second
)

// Outcomes of a release request, as `release` prints them and --json
// gives them.
const (
	AnswerStarted = "started"
	AnswerRefused = "refused"
)

// ReleaseAnswer is the release Lambda's answer to one request, as the
// trail records it: a release.published (or release.retried) record of the
// request's code (started, naming the execution) or a release.refused one
// (refused, and why).
type ReleaseAnswer struct {
	Outcome   string `json:"outcome"`
	Function  string `json:"function,omitempty"`
	Execution string `json:"execution,omitempty"`
	Reason    string `json:"reason,omitempty"`
	// Existing: the build's promotion existed before this request; no
	// event was put and the answer names it.
	Existing bool `json:"existing,omitempty"`
	// Result is how the promotion ended, with --wait.
	Result string `json:"result,omitempty"`
}

// releaseWait says how far `release` follows a request.
type releaseWait struct {
	// requestOnly: put the request and return (no answer read).
	requestOnly bool
	// timeout bounds the wait for the answer.
	timeout time.Duration
	// follow (--wait): follow the started promotion to its end.
	follow bool
}

func (w releaseWait) check() error {
	switch {
	case w.timeout <= 0:
		return usageError("release: --timeout must be positive (use --request-only not to wait for the answer)")
	case w.requestOnly && w.follow:
		return usageError("release: --wait follows the promotion; --request-only does not wait: give one")
	}
	return nil
}

// matchAnswer finds the answer to a request of code (function →
// CodeSha256) among recs: a refusal of any function named (a group's
// release is refused as a whole), or a release.published record of its
// code (release.retried for --retry, whose promotion is the release's next
// attempt). A refusal that could not read the request's code (a malformed
// event) names the function only.
func matchAnswer(recs ledger.Trail, code map[string]string) (ReleaseAnswer, bool) {
	var started *audit.Record
	for i := len(recs) - 1; i >= 0; i-- { // oldest first: the first answer
		r := &recs[i]
		sha, ok := code[r.Function]
		if !ok {
			continue
		}
		switch {
		case r.Event == audit.ReleaseRefused && (r.Release == nil || r.Release.CodeSha256 == "" || r.Release.CodeSha256 == sha):
			return ReleaseAnswer{Outcome: AnswerRefused, Function: r.Function, Reason: r.Reason}, true
		case (r.Event == audit.ReleasePublished || r.Event == audit.ReleaseRetried) && r.Release != nil && r.Release.CodeSha256 == sha && started == nil:
			started = r
		}
	}
	if started == nil {
		return ReleaseAnswer{}, false
	}
	return ReleaseAnswer{Outcome: AnswerStarted, Function: started.Function, Execution: started.Execution}, true
}

// awaitAnswer reads the trail from the request's time on until it holds
// the release Lambda's answer to the request of code, or timeout passes.
// A read AWS throttles, or of a log group not written yet, is waited out.
func (a *app) awaitAnswer(ctx context.Context, code map[string]string, requested time.Time, timeout time.Duration) (ReleaseAnswer, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return ReleaseAnswer{}, err
	}
	deadline := a.env.Now().Add(timeout)
	// Every record since the request is read (the answer's three events
	// cannot be selected on the server together), each read from where
	// the last left off, less answerOverlap.
	q := ledger.Query{Since: requested.Add(-answerSlack)}
	history := "aliasflow history"
	if len(code) == 1 {
		for fn := range code {
			q.Function = fn
			history += " " + fn
		}
	}
	wait := answerPollFirst
	for {
		// The Lambda answers within seconds: the first read comes after
		// the first wait, not at once.
		if left := deadline.Sub(a.env.Now()); left < wait {
			wait = max(left, 0)
		}
		if err := a.env.Sleep(ctx, wait); err != nil {
			return ReleaseAnswer{}, err
		}
		recs, err := a.ledger(c).Read(ctx, q)
		switch {
		case err == nil:
			if ans, ok := matchAnswer(recs, code); ok {
				return ans, nil
			}
			if len(recs) > 0 {
				if from := recs[0].Time.Add(-answerOverlap); from.After(q.Since) {
					q.Since = from
				}
			}
		case errors.Is(err, ledger.ErrNoTrail):
		case throttled(err):
			fmt.Fprintf(a.env.Stderr, "aliasflow: reads of the trail throttled; trying again\n")
		default:
			return ReleaseAnswer{}, err
		}
		if !a.env.Now().Before(deadline) {
			return ReleaseAnswer{}, fail(ExitFailure, "see whether the release Lambda ran: `"+history+"`, or wait longer with --timeout",
				"no answer from the release Lambda within %s (it records release.published or release.refused in %s)", timeout, a.g.logGroup)
		}
		wait = min(2*wait, answerPollMax)
	}
}

// answer prints the answer to a request and, with --wait, follows the
// started promotion to its end. A refusal is ExitReleaseRefused. With
// --json, res with the answer is the output.
func (a *app) answer(ctx context.Context, w releaseWait, ans ReleaseAnswer, res any) error {
	var ended *progress.Progress
	if ans.Outcome == AnswerStarted && w.follow {
		if !a.g.json {
			fmt.Fprintf(a.env.Stdout, "started %s\n", promotion.ExecutionNameOf(ans.Execution))
		}
		p, err := a.follow(ctx, ans.Execution, time.Second, nil)
		if err != nil {
			return err
		}
		ended, ans.Result = p, p.Status
	}
	if a.g.json {
		switch r := res.(type) {
		case *ReleaseResult:
			r.Answer = &ans
		case *GroupReleaseResult:
			r.Answer = &ans
		}
		if err := printJSON(a.env.Stdout, res); err != nil {
			return err
		}
	}
	switch {
	case ans.Outcome == AnswerRefused:
		if !a.g.json {
			fmt.Fprintf(a.env.Stdout, "refused: %s\n", ans.Reason)
		}
		return &Error{Code: ExitReleaseRefused, Err: fmt.Errorf("the release of %s was refused: %s", ans.Function, ans.Reason),
			Hint: "fix what the reason names, then release again; `aliasflow history " + ans.Function + "` has the record"}
	case ended != nil:
		return endOf(ended)
	}
	if !a.g.json {
		note := ""
		if ans.Existing {
			note = " (this build's promotion already existed; no new request)"
		}
		fmt.Fprintf(a.env.Stdout, "started %s%s\n  aliasflow watch %s\n", promotion.ExecutionNameOf(ans.Execution), note, promotion.ExecutionNameOf(ans.Execution))
	}
	return nil
}
