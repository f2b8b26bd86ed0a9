package release

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/untrusted"
)

// MaxGroupMembers bounds the functions one release request may name: each
// member's settings travel in the promotion's input, which Step Functions
// bounds to 256 KiB, and each costs the release Lambda about three calls.
const MaxGroupMembers = 20

// groupRequested is the detail of a Release Requested event naming several
// functions ("functions"); the other fields say the same as a single
// release's and are shared by every member. function and codeSha256 are
// decoded only to refuse them beside functions.
type groupRequested struct {
	Functions   []memberRequested `json:"functions"`
	Function    string            `json:"function"`
	CodeSha256  string            `json:"codeSha256"`
	Commit      string            `json:"commit"`
	RequestedBy string            `json:"requestedBy"`
	Build       string            `json:"build"`
	Title       string            `json:"title"`
	Author      string            `json:"author"`
	Retry       bool              `json:"retry"`
	CallerProof string            `json:"callerProof"`
}

// memberRequested is one function of a group's Release Requested event:
// its code and, when it differs from the event's, its commit.
type memberRequested struct {
	Function   string `json:"function"`
	CodeSha256 string `json:"codeSha256"`
	Commit     string `json:"commit"`
}

// MemberRequestedFields are the fields of an entry of "functions".
var MemberRequestedFields = []string{"function", "codeSha256", "commit"}

// namesFunctions reports whether a Release Requested detail has the
// "functions" field: a group's release.
func namesFunctions(detail json.RawMessage) bool {
	var probe map[string]json.RawMessage
	if json.Unmarshal(detail, &probe) != nil {
		return false // the strict decoding says what is wrong
	}
	_, ok := probe["functions"]
	return ok
}

// GroupProofBinding is ProofHeader's value for a release of several
// functions: each member's ProofBinding, sorted, joined by ",".
func GroupProofBinding(members []*Request) string {
	code := make(map[string]string, len(members))
	for _, m := range members {
		code[m.Function()] = m.Release.CodeSha256
	}
	return MembersProofBinding(code)
}

// MembersProofBinding is GroupProofBinding for the code (CodeSha256) of
// each function named, as the aliasflow CLI signs it.
func MembersProofBinding(code map[string]string) string {
	parts := make([]string, 0, len(code))
	for fn, sha := range code {
		parts = append(parts, ProofBinding(fn, sha))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// parseGroupRequested validates a Release Requested detail naming several
// functions: every member must be a target of one group, whose members
// agree on the promotion (config.CheckGroup). Any bad member refuses the
// whole request, naming it, before anything moves. A list of one function
// is that function's single release.
func parseGroupRequested(ctx context.Context, detail json.RawMessage, targets Targets) (*Request, error) {
	var d groupRequested
	if err := strictUnmarshal(detail, &d, true); err != nil {
		if strings.HasPrefix(err.Error(), "unknown field") {
			return nil, refuse("Release Requested detail: %v; aliasflow defines only %s, and in each of functions %s", err,
				strings.Join(ReleaseRequestedFields, ", "), strings.Join(MemberRequestedFields, ", "))
		}
		return nil, refuse("malformed Release Requested detail: %v", err)
	}
	shared := promotion.Release{
		Commit:      d.Commit,
		Build:       d.Build,
		RequestedBy: d.RequestedBy,
		Source:      SourceAliasflow,
		Title:       d.Title,
		Author:      d.Author,
	}
	switch {
	case d.Function != "" || d.CodeSha256 != "":
		return nil, &Refusal{Function: d.Function, Release: &shared,
			Reason: "functions: name the functions and their code either in functions or in function and codeSha256, not both"}
	case len(d.Functions) == 0:
		return nil, &Refusal{Release: &shared, Reason: "functions: name at least one function"}
	case len(d.Functions) > MaxGroupMembers:
		return nil, &Refusal{Release: &shared, Reason: fmt.Sprintf("functions: %d functions, at most %d", len(d.Functions), MaxGroupMembers)}
	case d.Retry && len(d.Functions) > 1:
		return nil, &Refusal{Release: &shared, Reason: "retry: a group's release cannot be retried yet; release the group again with new code, or retry each function alone"}
	}
	if err := validateProof(d.CallerProof); d.CallerProof != "" && err != nil {
		return nil, &Refusal{Release: &shared, Reason: "callerProof: " + err.Error()}
	}
	req, err := groupRequest(ctx, targets, d.Functions, shared, nil, "functions")
	if err != nil {
		return nil, err
	}
	req.Retry, req.proof = d.Retry, d.CallerProof
	return req, nil
}

// groupRequest validates the members of a group's release, each with its
// code (and commit, when its own) and the facts they share: every member
// must be a target of one group whose members agree (config.CheckGroup),
// and, for a build (b), one its project releases. field names the list in
// the refusals. A list of one function is that function's request.
func groupRequest(ctx context.Context, targets Targets, entries []memberRequested, shared promotion.Release, b *buildEvent, field string) (*Request, error) {
	var members []*Request
	seen := map[string]bool{}
	for i, m := range entries {
		rel := shared
		rel.CodeSha256 = m.CodeSha256
		if m.Commit != "" {
			rel.Commit = m.Commit
		}
		if seen[m.Function] {
			return nil, &Refusal{Function: m.Function, Release: &rel, Reason: fmt.Sprintf("%s[%d]: %q is named twice", field, i, m.Function)}
		}
		seen[m.Function] = true
		req, err := validate(ctx, targets, m.Function, rel, b)
		if refusal, ok := err.(*Refusal); ok {
			refusal.Reason = fmt.Sprintf("%s[%d] (%s): %s", field, i, m.Function, refusal.Reason)
		}
		if err != nil {
			return nil, err
		}
		members = append(members, req)
	}
	if len(members) == 1 {
		return members[0], nil
	}
	slices.SortFunc(members, func(a, b *Request) int { return strings.Compare(a.Function(), b.Function()) })
	group := members[0].Target.Group
	ts := make([]config.Target, len(members))
	for i, m := range members {
		if m.Target.Group == "" {
			return nil, &Refusal{Function: m.Function(), Release: &m.Release,
				Reason: fmt.Sprintf("%s: %q is in no group; functions released together must be members of one group (settings \"group\")", field, m.Function())}
		}
		ts[i] = m.Target
	}
	if err := config.CheckGroup(ts); err != nil {
		return nil, &Refusal{Function: members[0].Function(), Release: &members[0].Release, Reason: field + ": " + err.Error()}
	}
	lead := *members[0]
	lead.Group, lead.Members = group, members
	return &lead, nil
}

// parseFunctionsVar reads a build's VarFunctions: whitespace-separated
// "function=codeSha256" pairs, one per member of the group it built.
func parseFunctionsVar(buildID, value string) ([]memberRequested, error) {
	fields := strings.Fields(value)
	if len(fields) > MaxGroupMembers {
		return nil, refuse("build %s exported %s with %d functions, at most %d", buildID, VarFunctions, len(fields), MaxGroupMembers)
	}
	out := make([]memberRequested, 0, len(fields))
	for i, f := range fields {
		fn, sha, ok := strings.Cut(f, "=")
		if !ok || fn == "" || sha == "" {
			return nil, refuse("build %s exported %s whose entry %d is %s; want function=codeSha256 pairs separated by spaces", buildID, VarFunctions, i+1, untrusted.Show(f))
		}
		out = append(out, memberRequested{Function: fn, CodeSha256: sha})
	}
	return out, nil
}

// groupRequest is a build's release of the group it built (VarFunctions):
// each member's code from the variable, the facts the build says of itself
// shared by all, and every member one the build's project releases.
func (b *buildEvent) groupRequest(ctx context.Context, targets Targets, vars map[string]string, rel promotion.Release) (*Request, error) {
	if vars[VarFunction] != "" || vars[VarCodeSha256] != "" {
		return nil, &Refusal{Release: &rel, Reason: fmt.Sprintf("build %s of CodeBuild project %q exported %s beside %s or %s: export the functions and their code either way, not both",
			b.buildID, b.project, VarFunctions, VarFunction, VarCodeSha256)}
	}
	entries, err := parseFunctionsVar(b.buildID, vars[VarFunctions])
	if err != nil {
		return nil, err
	}
	return groupRequest(ctx, targets, entries, rel, b, VarFunctions)
}
