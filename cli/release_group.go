package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/release"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// GroupReleaseRequest is the detail of a "Release Requested" event naming
// several functions of a group; the fields beside Functions say what
// ReleaseRequest's do, for every member.
type GroupReleaseRequest struct {
	Functions   []ReleaseMember `json:"functions"`
	Commit      string          `json:"commit,omitempty"`
	RequestedBy string          `json:"requestedBy"`
	Build       string          `json:"build,omitempty"`
	Title       string          `json:"title,omitempty"`
	Author      string          `json:"author,omitempty"`
	CallerProof string          `json:"callerProof,omitempty"`
}

// ReleaseMember is one function of a group's Release Requested detail
// (GroupReleaseRequest.Functions): its name and the code of its $LATEST.
type ReleaseMember struct {
	Function   string `json:"function"`
	CodeSha256 string `json:"codeSha256"`
}

// GroupReleaseResult is what `release` of several functions did.
type GroupReleaseResult struct {
	GroupReleaseRequest
	EventID string `json:"eventId"`
	// Unchanged are the functions whose code prod already runs: the
	// release leaves them out of the promotion.
	Unchanged []string `json:"unchanged,omitempty"`
	// Answer is the release Lambda's answer (unless --request-only).
	Answer *ReleaseAnswer `json:"answer,omitempty"`
}

// runGroupRelease requests one release of several functions of a group:
// one Release Requested event naming each with its $LATEST code, which the
// release Lambda makes one promotion of (the functions must be members of
// one group in their settings; it refuses them otherwise, naming why).
func runGroupRelease(ctx context.Context, a *app, fns []string, want ReleaseRequest) error {
	if want.Retry {
		return fail(ExitUsage, "retry each function alone (`aliasflow release --retry <function>`), or release the group again with new code",
			"--retry takes one function: a group's release cannot be retried yet")
	}
	seen := map[string]bool{}
	for _, fn := range fns {
		if err := checkFunction(fn); err != nil {
			return err
		}
		if seen[fn] {
			return fail(ExitUsage, "name each function once", "%s is named twice", fn)
		}
		seen[fn] = true
	}
	if err := checkReleaseFlags(want); err != nil {
		return err
	}
	requested := a.env.Now()
	res, err := a.releaseGroup(ctx, fns, want)
	if err != nil {
		return err
	}
	w := a.releaseWait
	if !w.requestOnly && a.g.json {
		return a.awaitGroupAnswer(ctx, w, res, requested)
	}
	if a.g.json {
		return printJSON(a.env.Stdout, res)
	}
	fmt.Fprintf(a.env.Stdout, "release of %d functions requested as one promotion (event %s):\n", len(res.Functions), res.EventID)
	for _, m := range res.Functions {
		note := ""
		if slices.Contains(res.Unchanged, m.Function) {
			note = "  (prod already runs this code: left out of the promotion)"
		}
		fmt.Fprintf(a.env.Stdout, "  %s  code %s%s\n", m.Function, m.CodeSha256, note)
	}
	if !w.requestOnly {
		fmt.Fprintln(a.env.Stdout, "waiting for the release Lambda's answer")
		return a.awaitGroupAnswer(ctx, w, res, requested)
	}
	fmt.Fprintf(a.env.Stdout, "the release Lambda publishes a version of each and moves their stg; then:\n  aliasflow status %s\n", strings.Join(fns, " "))
	return nil
}

// awaitGroupAnswer waits for the release Lambda's answer to a group's
// request: a refusal of any member, or the one promotion started.
func (a *app) awaitGroupAnswer(ctx context.Context, w releaseWait, res *GroupReleaseResult, requested time.Time) error {
	code := map[string]string{}
	for _, m := range res.Functions {
		code[m.Function] = m.CodeSha256
	}
	ans, err := a.awaitAnswer(ctx, code, requested, w.timeout)
	if err != nil {
		return err
	}
	return a.answer(ctx, w, ans, res)
}

// releaseGroup puts one Release Requested event naming each function with
// its current $LATEST code, unless prod already runs the code of every one
// (nothing to release).
func (a *app) releaseGroup(ctx context.Context, fns []string, want ReleaseRequest) (*GroupReleaseResult, error) {
	res := &GroupReleaseResult{}
	code := map[string]string{}
	var members []ReleaseMember
	for _, fn := range fns {
		sha, err := a.latestCode(ctx, fn)
		if err != nil {
			return nil, err
		}
		serves, err := a.prodRuns(ctx, fn, sha)
		if err != nil {
			return nil, err
		}
		if serves {
			res.Unchanged = append(res.Unchanged, fn)
		}
		code[fn] = sha
		members = append(members, ReleaseMember{Function: fn, CodeSha256: sha})
	}
	if len(res.Unchanged) == len(fns) {
		return nil, fail(ExitConflict, "deploy new code to $LATEST, then release it",
			"nothing to release: prod of every function named already runs its $LATEST code (%s)", strings.Join(fns, ", "))
	}
	caller, err := a.callerARN(ctx)
	if err != nil {
		return nil, err
	}
	proof, err := a.signedProof(ctx, release.MembersProofBinding(code))
	if err != nil {
		return nil, err
	}
	req := GroupReleaseRequest{Functions: members, Commit: want.Commit, RequestedBy: caller, Build: want.Build, Title: want.Title, Author: want.Author,
		CallerProof: proof}
	id, err := a.putRelease(ctx, req)
	if err != nil {
		return nil, err
	}
	res.GroupReleaseRequest, res.EventID = req, id
	res.CallerProof = "" // a signed URL: not for the terminal nor --json
	return res, nil
}

// prodRuns reports whether fn's prod serves, alone, a version of code sha:
// the version PublishVersion would return (nextVersion) when prod is on it.
func (a *app) prodRuns(ctx context.Context, fn, sha string) (bool, error) {
	next, err := a.nextVersion(ctx, fn, sha)
	if err != nil || next == "" {
		return false, nil // a guess only: the release Lambda decides
	}
	c, err := a.aws(ctx)
	if err != nil {
		return false, err
	}
	out, err := c.Lambda.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String(fn)})
	if err != nil {
		return false, fmt.Errorf("list the aliases of %s: %w", fn, err)
	}
	for _, al := range out.Aliases {
		weighted := al.RoutingConfig != nil && len(al.RoutingConfig.AdditionalVersionWeights) > 0
		if aws.ToString(al.Name) == promotion.AliasProd && aws.ToString(al.FunctionVersion) == next && !weighted {
			return true, nil
		}
	}
	return false, nil
}

// groupMembersNamed lists the targets whose settings put them in group,
// by function name, from the pipeline's settings parameters.
func (a *app) groupMembersNamed(ctx context.Context, group string) ([]string, error) {
	if err := config.ValidateGroupName(group); err != nil {
		return nil, usageError("--group: %v", err)
	}
	params, err := a.targetParameters(ctx)
	if err != nil {
		return nil, err
	}
	var fns []string
	for _, p := range params {
		t, err := settings.Parse([]byte(p.value), p.function)
		if err != nil {
			return nil, fail(ExitFailure, "fix it with `aliasflow settings set "+p.function+"`", "the settings of %s (%s) do not read: %v", p.function, p.name, err)
		}
		if t.Group == group {
			fns = append(fns, t.Function)
		}
	}
	if len(fns) == 0 {
		return nil, fail(ExitNotFound, "put targets in it with their settings' \"group\" (`aliasflow settings set <function>`)",
			"no target of pipeline %s is in group %s", a.g.pipeline, group)
	}
	slices.Sort(fns)
	return fns, nil
}
