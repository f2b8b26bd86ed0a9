package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/release"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/spf13/cobra"
)

// ReleaseRequest is the detail of a "Release Requested" event.
type ReleaseRequest struct {
	Function    string `json:"function"`
	CodeSha256  string `json:"codeSha256"`
	Commit      string `json:"commit,omitempty"`
	RequestedBy string `json:"requestedBy"`
	// Build links the CI run that built the code (shown to approvers,
	// recorded in the audit trail).
	Build string `json:"build,omitempty"`
	// Title and Author say what changed and who wrote it (shown to
	// approvers): the commit message's first line or the pull request's
	// title, and the commit's author.
	Title  string `json:"title,omitempty"`
	Author string `json:"author,omitempty"`
	// Retry asks for a fresh promotion of a build whose last promotion
	// ended without prod on it.
	Retry bool `json:"retry,omitempty"`
	// CallerProof proves RequestedBy to the release Lambda: a presigned
	// sts:GetCallerIdentity request bound to this release (package
	// release, ProofHeader). Not shown: it is a signed URL.
	CallerProof string `json:"callerProof,omitempty"`
}

// ReleaseResult is what `release` did.
type ReleaseResult struct {
	ReleaseRequest
	EventID string `json:"eventId,omitempty"`
	// Promotion is the execution name the release will most likely get
	// (see nextVersion); a hint for `watch`, not a promise.
	Promotion string `json:"expectedPromotion,omitempty"`
	// Answer is the release Lambda's answer (unless --request-only).
	Answer *ReleaseAnswer `json:"answer,omitempty"`
}

func releaseCommand(a *app) *cobra.Command {
	var commit, build, title, author, group string
	var retry bool
	var code string
	var w releaseWait
	c := &cobra.Command{
		Use:   "release <function>... | --group NAME [--commit SHA] [--build URL] [--wait]",
		Short: "request a release of the function's current $LATEST (several functions, or a group: one promotion)",
		Long: `Release asks the release Lambda to publish the function's current $LATEST code as a version,
move stg to it and start its promotion, then waits for the Lambda's answer to this request (read
from the audit trail, at most --timeout): it prints "started <promotion>", or "refused: <reason>"
and exits 7. With --wait it then follows the promotion like watch does: exit 0 only when it
completed, 5 when it was rolled back, rejected, expired or failed. A build whose promotion already
exists is answered with that promotion (no new request). --request-only puts the request and
returns, without an answer. CI jobs use it so that a refused release fails the job.`,
		Args: positional(0, release.MaxGroupMembers),
		RunE: func(c *cobra.Command, args []string) error {
			if err := w.check(); err != nil {
				return err
			}
			a.releaseWait = w
			want := ReleaseRequest{Commit: commit, Build: build, Title: title, Author: author, Retry: retry, CodeSha256: code}
			switch {
			case code != "" && (group != "" || len(args) > 1):
				return usageError("release: --code-sha256 names one function's code; release a group without it")
			case group != "" && len(args) > 0:
				return usageError("release: name the functions or --group, not both")
			case group != "":
				fns, err := a.groupMembersNamed(c.Context(), group)
				if err != nil {
					return err
				}
				return runGroupRelease(c.Context(), a, fns, want)
			case len(args) == 0:
				return usageError("usage: %s", c.UseLine())
			case len(args) > 1:
				return runGroupRelease(c.Context(), a, args, want)
			}
			return runRelease(c.Context(), a, args[0], want)
		},
	}
	c.Flags().StringVar(&group, "group", "", "release every target of the group (settings' \"group\") as one promotion")
	c.Flags().StringVar(&commit, "commit", "", "the commit the code was built from (recorded with the release)")
	c.Flags().StringVar(&build, "build", "", "a link to the CI run that built the code (shown to approvers, recorded)")
	c.Flags().StringVar(&title, "title", "", "what changed, e.g. \"$(git log -1 --format=%s)\" (shown to approvers)")
	c.Flags().StringVar(&author, "author", "", "who wrote the change, e.g. \"$(git log -1 --format='%an <%ae>')\"")
	c.Flags().BoolVar(&retry, "retry", false, "a fresh promotion of a build whose last one failed or was rolled back")
	c.Flags().StringVar(&code, "code-sha256", "", "refuse unless $LATEST is this code (the CodeSha256 the upload returned)")
	c.Flags().BoolVar(&w.follow, "wait", false, "follow the started promotion to its end (exit 0 only when it completed)")
	c.Flags().BoolVar(&w.requestOnly, "request-only", false, "put the request; do not wait for the release Lambda's answer")
	durationVar(c.Flags(), &w.timeout, "timeout", DefaultReleaseTimeout, "how long to wait for the release Lambda's answer")
	return c
}

// runRelease requests a release of fn with what the flags give of want
// (commit, build, title, author, retry).
func runRelease(ctx context.Context, a *app, fn string, want ReleaseRequest) error {
	if err := checkFunction(fn); err != nil {
		return err
	}
	if err := checkReleaseFlags(want); err != nil {
		return err
	}
	w := a.releaseWait
	requested := a.env.Now()
	res, err := a.release(ctx, fn, want)
	var existing *existingPromotion
	if errors.As(err, &existing) && !w.requestOnly && (existing.running || w.follow) {
		// A duplicate request: answered with the build's promotion.
		return a.answer(ctx, w, ReleaseAnswer{Outcome: AnswerStarted, Function: fn, Execution: existing.arn, Existing: true},
			&ReleaseResult{ReleaseRequest: ReleaseRequest{Function: fn, CodeSha256: existing.sha}})
	}
	if err != nil {
		return err
	}
	if !w.requestOnly {
		if !a.g.json {
			fmt.Fprintf(a.env.Stdout, "release of %s requested (code %s, event %s); waiting for the release Lambda's answer\n", fn, res.CodeSha256, res.EventID)
		}
		ans, err := a.awaitAnswer(ctx, map[string]string{fn: res.CodeSha256}, requested, w.timeout)
		if err != nil {
			return err
		}
		return a.answer(ctx, w, ans, res)
	}
	if a.g.json {
		return printJSON(a.env.Stdout, res)
	}
	what := "release"
	if res.Retry {
		what = "retry of the release"
	}
	fmt.Fprintf(a.env.Stdout, "%s of %s requested (code %s, event %s)\n", what, fn, res.CodeSha256, res.EventID)
	fmt.Fprintf(a.env.Stdout, "the release Lambda publishes a version and moves stg; then:\n  aliasflow status %s\n", fn)
	if res.Promotion != "" {
		fmt.Fprintf(a.env.Stdout, "  aliasflow watch %s\n", res.Promotion)
	}
	return nil
}

// checkReleaseFlags refuses what the release Lambda would refuse of the
// flags: saying so here costs no event and names the flag.
func checkReleaseFlags(want ReleaseRequest) error {
	if err := promotion.ValidateCommit(want.Commit); want.Commit != "" && err != nil {
		return fail(ExitUsage, "give the commit's hex id, e.g. --commit $(git rev-parse --short HEAD)", "--commit: %v", err)
	}
	if err := release.ValidateBuild(want.Build); want.Build != "" && err != nil {
		return fail(ExitUsage, "give the CI run's link or id, without spaces", "--build: %v", err)
	}
	if err := release.ValidateFacts(promotion.Release{Title: want.Title, Author: want.Author}, release.FactNames{Title: "--title", Author: "--author"}); err != nil {
		return fail(ExitUsage, "give one line of text, e.g. the commit message's first line", "%v", err)
	}
	return nil
}

// How long release waits for a code update of $LATEST to finish.
const (
	releaseSettlePoll = 500 * time.Millisecond
	releaseSettleMax  = 2 * time.Minute
)

// release puts a Release Requested event for fn's current $LATEST code,
// unless there is nothing to do: prod already serves that code, or the
// build's promotion exists (running, or ended — then only with retry).
func (a *app) release(ctx context.Context, fn string, want ReleaseRequest) (*ReleaseResult, error) {
	commit, build, retry := want.Commit, want.Build, want.Retry
	sha, err := a.latestCode(ctx, fn)
	if err != nil {
		return nil, err
	}
	if want.CodeSha256 != "" && want.CodeSha256 != sha {
		// Another upload came in since the CI's: releasing $LATEST would
		// release code this run did not build.
		return nil, fail(ExitConflict, "upload the code again, or release what $LATEST holds without --code-sha256",
			"$LATEST of %s is code %s, not %s (--code-sha256): another upload came in between", fn, sha, want.CodeSha256)
	}
	expected, err := a.checkRelease(ctx, fn, sha, retry)
	if err != nil {
		return nil, err
	}
	caller, err := a.callerARN(ctx)
	if err != nil {
		return nil, err
	}
	proof, err := a.callerProof(ctx, fn, sha)
	if err != nil {
		return nil, err
	}
	req := ReleaseRequest{Function: fn, CodeSha256: sha, Commit: commit, RequestedBy: caller, Build: build, Title: want.Title, Author: want.Author,
		Retry: retry, CallerProof: proof}
	id, err := a.putRelease(ctx, req)
	if err != nil {
		return nil, err
	}
	res := &ReleaseResult{ReleaseRequest: req, EventID: id, Promotion: expected}
	res.CallerProof = "" // a signed URL: not for the terminal nor --json
	return res, nil
}

// putRelease puts a Release Requested event with req as its detail (a
// ReleaseRequest or a GroupReleaseRequest) and returns the event's id.
func (a *app) putRelease(ctx context.Context, req any) (string, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return "", err
	}
	detail, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	out, err := c.Events.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source:       aws.String(eventpatterns.ReleaseSource),
		DetailType:   aws.String(eventpatterns.ReleaseDetailType),
		Detail:       aws.String(string(detail)),
		EventBusName: aws.String(a.g.eventBus),
	}}})
	if err != nil {
		return "", fmt.Errorf("put the Release Requested event on %s: %w", a.g.eventBus, err)
	}
	if out.FailedEntryCount > 0 || len(out.Entries) == 0 {
		msg := "no entry accepted"
		if len(out.Entries) > 0 {
			msg = aws.ToString(out.Entries[0].ErrorCode) + ": " + aws.ToString(out.Entries[0].ErrorMessage)
		}
		return "", fail(ExitFailure, "check --event-bus and the bus's permissions", "EventBridge refused the Release Requested event: %s", msg)
	}
	return aws.ToString(out.Entries[0].EventId), nil
}

// latestCode is the CodeSha256 of fn's $LATEST once Lambda has finished
// updating it: the code a build just uploaded is not final until Lambda
// says so, so the update is waited for rather than a hash released that
// may change.
func (a *app) latestCode(ctx context.Context, fn string) (string, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return "", err
	}
	for waited := time.Duration(0); ; waited += releaseSettlePoll {
		cfg, err := c.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn), Qualifier: aws.String("$LATEST")})
		if err != nil {
			if awserr.Code(err) == awserr.NotFound {
				return "", a.noSuchFunction(ctx, fn, "check the function name and --region")
			}
			return "", fmt.Errorf("read $LATEST of %s: %w", fn, err)
		}
		if cfg.LastUpdateStatus == lambdatypes.LastUpdateStatusFailed {
			return "", fail(ExitConflict, "fix the build and deploy $LATEST again", "the last code update of %s failed: %s", fn, aws.ToString(cfg.LastUpdateStatusReason))
		}
		if cfg.LastUpdateStatus != lambdatypes.LastUpdateStatusInProgress {
			return aws.ToString(cfg.CodeSha256), nil
		}
		if waited >= releaseSettleMax {
			return "", fail(ExitConflict, "wait for the code update to finish, then run release again", "$LATEST of %s is still being updated after %s", fn, releaseSettleMax)
		}
		if err := a.env.Sleep(ctx, releaseSettlePoll); err != nil {
			return "", err
		}
	}
}

// callerProof presigns sts:GetCallerIdentity with the release's binding in
// a signed header, so that the release Lambda can ask STS who asked for the
// release; "" when there is no presigner.
func (a *app) callerProof(ctx context.Context, fn, sha string) (string, error) {
	return a.signedProof(ctx, release.ProofBinding(fn, sha))
}

// signedProof presigns sts:GetCallerIdentity with binding in ProofHeader.
func (a *app) signedProof(ctx context.Context, binding string) (string, error) {
	c, err := a.aws(ctx)
	if err != nil || c.Proofs == nil {
		return "", err
	}
	out, err := c.Proofs.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.PresignOptions) {
		o.ClientOptions = append(o.ClientOptions, func(o *sts.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(release.ProofHeader, binding))
		})
	})
	if err != nil {
		return "", fmt.Errorf("presign the proof of the caller: %w", err)
	}
	// The binding must be under the signature, or the proof could serve
	// another release.
	if out.SignedHeader.Get(release.ProofHeader) != binding {
		return "", fmt.Errorf("presign the proof of the caller: %s is not among the signed headers", release.ProofHeader)
	}
	return out.URL, nil
}

// checkRelease refuses, before any event is put, a release that would start
// nothing: the code prod already serves (the release Lambda refuses it too),
// a build whose promotion runs, or one whose promotion ended — which only
// --retry starts again. It returns the execution name the release will
// most likely get; "" when the versions could not be read (a guess only).
func (a *app) checkRelease(ctx context.Context, fn, sha string, retry bool) (string, error) {
	next, err := a.nextVersion(ctx, fn, sha)
	if err != nil || next == "" {
		return "", nil
	}
	c, err := a.aws(ctx)
	if err != nil {
		return "", err
	}
	aliases, err := c.Lambda.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String(fn)})
	if err != nil {
		return "", fmt.Errorf("list the aliases of %s: %w", fn, err)
	}
	for _, al := range aliases.Aliases {
		weighted := al.RoutingConfig != nil && len(al.RoutingConfig.AdditionalVersionWeights) > 0
		if aws.ToString(al.Name) == promotion.AliasProd && aws.ToString(al.FunctionVersion) == next && !weighted {
			return "", fail(ExitConflict, "deploy new code to $LATEST, then release it",
				"nothing to release: prod of %s already serves version %s, which is this code (%s)", fn, next, sha)
		}
	}
	sm, err := a.stateMachine(ctx)
	if err != nil {
		return "", err
	}
	found, err := promotion.LastAttempt(ctx, c.States, sm, fn, next, sha)
	if err != nil {
		return "", err
	}
	switch {
	case found.Count == 0:
		return promotion.ExecutionName(fn, next, sha), nil
	case found.Status == types.ExecutionStatusRunning:
		return "", &existingPromotion{conflict: fail(ExitConflict, "follow it with `aliasflow watch "+found.Last+"`",
			"this build of %s is already being promoted: %s", fn, found.Last), arn: promotion.ExecutionARN(sm, found.Last), sha: sha, running: true}
	case !retry:
		return "", &existingPromotion{conflict: fail(ExitConflict, "run `aliasflow release --retry "+fn+"` to start a fresh promotion of it",
			"the promotion %s of this build ended %s; releasing it again starts nothing", found.Last, found.Status), arn: promotion.ExecutionARN(sm, found.Last), sha: sha}
	}
	return found.Next(fn, next, sha), nil
}

// existingPromotion is checkRelease's refusal of a build whose promotion
// exists: with --request-only a conflict; waiting for the answer, the
// answer (a duplicate request starts nothing new) when it runs, or with
// --wait, whose answer is how it ended.
type existingPromotion struct {
	conflict *Error
	arn, sha string
	running  bool
}

func (e *existingPromotion) Error() string { return e.conflict.Error() }

// Unwrap is the conflict, for the exit code and hint.
func (e *existingPromotion) Unwrap() error { return e.conflict }

// nextVersion guesses the version the release publishes: PublishVersion
// returns the newest version when its code is unchanged, else the next
// number.
func (a *app) nextVersion(ctx context.Context, fn, sha string) (string, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return "", err
	}
	newest, newestSha := 0, ""
	p := lambda.NewListVersionsByFunctionPaginator(c.Lambda, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(fn)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", err
		}
		for _, v := range page.Versions {
			var n int
			if _, err := fmt.Sscanf(aws.ToString(v.Version), "%d", &n); err != nil {
				continue
			}
			if n > newest {
				newest, newestSha = n, aws.ToString(v.CodeSha256)
			}
		}
	}
	if newest > 0 && newestSha == sha {
		return fmt.Sprint(newest), nil
	}
	return fmt.Sprint(newest + 1), nil
}
