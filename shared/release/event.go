// Package release is the release Lambda's logic: it reads the event that
// says a build is ready (a CodeBuild "Build State Change" or an aliasflow
// "Release Requested"), publishes exactly that code as a version, waits for
// the version to be Active, moves the stg alias to it, stops older
// promotions that have not started moving prod and starts the promotion
// workflow — idempotently, so a duplicate event is a no-op. Code prod
// already serves is refused as nothing to release; a Release Requested
// event with retry starts a fresh promotion of a release whose last one
// ended without prod on it.
package release

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aliasflow/aliasflow/shared/untrusted"
)

// The variables a CodeBuild build exports (buildspec env.exported-variables)
// to say what it released.
const (
	VarFunction    = "ALIASFLOW_FUNCTION"
	VarCodeSha256  = "ALIASFLOW_CODE_SHA256"
	VarCommit      = "ALIASFLOW_COMMIT"
	VarRequestedBy = "ALIASFLOW_REQUESTED_BY"
	// VarTitle and VarAuthor say what changed, for the approval page:
	// the commit message's first line (or the pull request's title) and
	// the commit's author.
	VarTitle  = "ALIASFLOW_TITLE"
	VarAuthor = "ALIASFLOW_AUTHOR"
	// VarFunctions names, instead of VarFunction and VarCodeSha256, the
	// functions of a group one build built, each with its code:
	// "orders=<codeSha256> payments=<codeSha256>" (docs/settings-groups.md).
	VarFunctions = "ALIASFLOW_FUNCTIONS"
)

// varPrefix starts every variable aliasflow reads; knownVars are those it
// defines. A build exporting another ALIASFLOW_ variable (a typo) or one of
// these with an empty value is refused naming it: guessing what it meant
// could release the wrong function or record the wrong commit.
const varPrefix = "ALIASFLOW_"

var knownVars = []string{VarFunction, VarCodeSha256, VarCommit, VarRequestedBy, VarTitle, VarAuthor, VarFunctions}

// describingVars only describe the change to approvers: exported empty,
// they are not known (a build from an S3 source has no commit to read
// them from), which chooses nothing.
var describingVars = []string{VarTitle, VarAuthor}

// Release sources, as recorded in promotion.Release.Source.
const (
	SourceCodeBuild = "codebuild"
	SourceAliasflow = "aliasflow"
)

// maxEventBytes bounds what is parsed at all; EventBridge events are at most
// 256 KiB.
const maxEventBytes = 256 * 1024

// Refusal is why an event is not acted on: it is malformed or names
// something aliasflow must not release. A refusal is final — retrying the
// same event cannot succeed — so the handler audits it and returns no error.
type Refusal struct {
	// Function is the function the event named, when it named one.
	Function string
	// Release is what the event said about the build, as far as it was read.
	Release *promotion.Release
	// Reason says what is wrong, naming the field.
	Reason string
}

func (r *Refusal) Error() string { return "release refused: " + r.Reason }

func refuse(format string, args ...any) *Refusal {
	return &Refusal{Reason: fmt.Sprintf(format, args...)}
}

// Request is a validated release: which target, which code.
type Request struct {
	// Target is the configured target the release belongs to.
	Target config.Target
	// Release is the built artifact; CodeSha256 is base64 of 32 bytes.
	Release promotion.Release
	// Retry asks for a fresh promotion of a release whose last promotion
	// ended without moving prod to it (failed, expired, rejected, rolled
	// back); only a Release Requested event can ask for it.
	Retry bool
	// SettingsVersion is the version of the settings parameter Target was
	// read from, when the Targets say (settings.Store); 0 otherwise.
	SettingsVersion int64

	// Group and Members are set for a release of several functions of a
	// group (a Release Requested event's "functions"): Members, sorted by
	// function, are each member's request; Target, Release and
	// SettingsVersion above are the first member's.
	Group   string
	Members []*Request

	// proof is the event's callerProof, verified by the Handler before
	// anything moves (Release.VerifiedBy).
	proof string
}

// Function is the target function's name.
func (r *Request) Function() string { return r.Target.Function }

// Parsed is what ParseEvent read: a complete Request, a build whose exported
// variables must be read with BatchGetBuilds first (Lookup), or an event
// that is deliberately not acted on (Ignored).
type Parsed struct {
	// Request is set when the event carried everything needed.
	Request *Request
	// Lookup is the CodeBuild build id whose exported variables are missing
	// from the event; finish with Complete once BatchGetBuilds answered.
	Lookup string
	// Ignored says why the event is not acted on (a build that did not
	// succeed); nothing is audited for it.
	Ignored string

	build *buildEvent
}

// envelope is the EventBridge event around the detail.
type envelope struct {
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
}

// releaseRequested is the detail of a "Release Requested" event.
type releaseRequested struct {
	Function    string `json:"function"`
	CodeSha256  string `json:"codeSha256"`
	Commit      string `json:"commit"`
	RequestedBy string `json:"requestedBy"`
	// Build is optional: a CI may name its build for the audit trail.
	Build string `json:"build"`
	// Title and Author are optional: what changed and who wrote it, for
	// the approval page (promotion.Release).
	Title  string `json:"title"`
	Author string `json:"author"`
	// Retry asks for a new promotion of a release whose last one failed
	// (`aliasflow release --retry`).
	Retry bool `json:"retry"`
	// CallerProof is a presigned sts:GetCallerIdentity request bound to
	// this release (see ProofHeader); the aliasflow CLI sends one.
	CallerProof string `json:"callerProof"`
}

// ReleaseRequestedFields are the fields of a Release Requested detail;
// any other is refused.
var ReleaseRequestedFields = []string{"function", "functions", "codeSha256", "commit", "requestedBy", "build", "title", "author", "retry", "callerProof"}

// codeBuildDetail is the part of a "CodeBuild Build State Change" detail
// aliasflow reads. The rest (phases, logs, times in CodeBuild's own format)
// is left alone so that an unexpected shape there cannot refuse a release.
type codeBuildDetail struct {
	BuildStatus           string `json:"build-status"`
	ProjectName           string `json:"project-name"`
	BuildID               string `json:"build-id"`
	AdditionalInformation struct {
		Initiator           string        `json:"initiator"`
		SourceVersion       string        `json:"source-version"`
		ExportedEnvironment []exportedVar `json:"exported-environment-variables"`
	} `json:"additional-information"`
}

type exportedVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// buildEvent is what a CodeBuild event said, kept so Complete can finish the
// request with the variables BatchGetBuilds returns.
type buildEvent struct {
	project       string
	buildID       string
	sourceVersion string
	initiator     string
}

// Targets finds a target's settings: settings.Store reads each from its
// SSM parameter; a *config.Config serves tests. An unknown function is an
// error wrapping config.ErrNotConfigured.
type Targets interface {
	Target(ctx context.Context, function string) (config.Target, error)
}

// ParseEvent reads a raw EventBridge event and validates it, resolving the
// function it names through targets. It returns a *Refusal for anything
// aliasflow must not act on; any other error (the settings store could not
// be read) is transient.
func ParseEvent(ctx context.Context, raw []byte, targets Targets) (Parsed, error) {
	if targets == nil {
		return Parsed{}, errors.New("release: no settings store")
	}
	if len(raw) > maxEventBytes {
		return Parsed{}, refuse("event is %d bytes, more than EventBridge's %d", len(raw), maxEventBytes)
	}
	var env envelope
	if err := strictUnmarshal(raw, &env, false); err != nil {
		return Parsed{}, refuse("malformed event: %v", err)
	}
	switch {
	case env.Source == eventpatterns.CodeBuildSource && env.DetailType == eventpatterns.CodeBuildDetailType:
		return parseCodeBuild(ctx, env.Detail, targets)
	case env.Source == eventpatterns.ReleaseSource && env.DetailType == eventpatterns.ReleaseDetailType:
		parse := parseReleaseRequested
		if namesFunctions(env.Detail) {
			parse = parseGroupRequested
		}
		req, err := parse(ctx, env.Detail, targets)
		if err != nil {
			return Parsed{}, err
		}
		return Parsed{Request: req}, nil
	}
	return Parsed{}, refuse("unexpected event: source %q, detail-type %q (want %q/%q or %q/%q)",
		env.Source, env.DetailType,
		eventpatterns.CodeBuildSource, eventpatterns.CodeBuildDetailType,
		eventpatterns.ReleaseSource, eventpatterns.ReleaseDetailType)
}

func parseReleaseRequested(ctx context.Context, detail json.RawMessage, targets Targets) (*Request, error) {
	if err := requireObject(detail); err != nil {
		return nil, err
	}
	var d releaseRequested
	if err := strictUnmarshal(detail, &d, true); err != nil {
		if strings.HasPrefix(err.Error(), "unknown field") {
			return nil, refuse("Release Requested detail: %v; aliasflow defines only %s", err, strings.Join(ReleaseRequestedFields, ", "))
		}
		return nil, refuse("malformed Release Requested detail: %v", err)
	}
	rel := promotion.Release{
		Commit:      d.Commit,
		Build:       d.Build,
		CodeSha256:  d.CodeSha256,
		RequestedBy: d.RequestedBy,
		Source:      SourceAliasflow,
		Title:       d.Title,
		Author:      d.Author,
	}
	if err := validateProof(d.CallerProof); d.CallerProof != "" && err != nil {
		return nil, &Refusal{Function: d.Function, Release: &rel, Reason: "callerProof: " + err.Error()}
	}
	req, err := validate(ctx, targets, d.Function, rel, nil)
	if err != nil {
		return nil, err
	}
	req.Retry, req.proof = d.Retry, d.CallerProof
	return req, nil
}

func parseCodeBuild(ctx context.Context, detail json.RawMessage, targets Targets) (Parsed, error) {
	if err := requireObject(detail); err != nil {
		return Parsed{}, err
	}
	var d codeBuildDetail
	if err := strictUnmarshal(detail, &d, false); err != nil {
		return Parsed{}, refuse("malformed CodeBuild detail: %v", err)
	}
	if d.BuildStatus != eventpatterns.BuildStatusSucceeded {
		if d.BuildStatus == "" {
			return Parsed{}, refuse("CodeBuild detail.build-status is missing")
		}
		return Parsed{Ignored: fmt.Sprintf("build %s of %s is %s, not %s", d.BuildID, d.ProjectName, d.BuildStatus, eventpatterns.BuildStatusSucceeded)}, nil
	}
	if strings.TrimSpace(d.ProjectName) == "" {
		return Parsed{}, refuse("CodeBuild detail.project-name is missing")
	}
	buildID, err := BuildID(d.BuildID)
	if err != nil {
		return Parsed{}, refuse("CodeBuild detail.build-id: %v", err)
	}
	info := d.AdditionalInformation
	b := &buildEvent{
		project:       d.ProjectName,
		buildID:       buildID,
		sourceVersion: info.SourceVersion,
		initiator:     info.Initiator,
	}
	vars := map[string]string{}
	for _, v := range info.ExportedEnvironment {
		vars[v.Name] = v.Value
	}
	if err := checkVars(buildID, vars); err != nil {
		return Parsed{}, err
	}
	// The event is best-effort: without the code hash in it, BatchGetBuilds
	// is the authority on what the build exported.
	if vars[VarCodeSha256] == "" && vars[VarFunctions] == "" {
		return Parsed{Lookup: buildID, build: b}, nil
	}
	req, err := b.request(ctx, targets, vars)
	if err != nil {
		return Parsed{}, err
	}
	return Parsed{Request: req}, nil
}

// BuildFacts is what BatchGetBuilds says of a build.
type BuildFacts struct {
	// Vars are the variables the build exported.
	Vars map[string]string
	// Initiator is Build.initiator, who started the build; empty keeps
	// the event's.
	Initiator string
}

// Complete finishes a Lookup with what BatchGetBuilds returned.
func (p Parsed) Complete(ctx context.Context, targets Targets, facts BuildFacts) (*Request, error) {
	if p.build == nil {
		return nil, errors.New("release: Complete called on an event that needs no build lookup")
	}
	vars := facts.Vars
	if facts.Initiator != "" {
		b := *p.build
		b.initiator = facts.Initiator
		p.build = &b
	}
	if err := checkVars(p.build.buildID, vars); err != nil {
		return nil, err
	}
	if vars[VarCodeSha256] == "" && vars[VarFunctions] == "" {
		return nil, refuse("build %s exported no %s (add it to the buildspec's env.exported-variables)", p.build.buildID, VarCodeSha256)
	}
	return p.build.request(ctx, targets, vars)
}

func (b *buildEvent) request(ctx context.Context, targets Targets, vars map[string]string) (*Request, error) {
	// The build's source version is its commit only when it is one: it
	// may name a branch, a pull request or an S3 object version.
	commit := vars[VarCommit]
	if commit == "" && promotion.ValidateCommit(b.sourceVersion) == nil {
		commit = b.sourceVersion
	}
	rel := promotion.Release{
		Commit:      commit,
		Build:       b.buildID,
		CodeSha256:  vars[VarCodeSha256],
		RequestedBy: vars[VarRequestedBy],
		// Only CodeBuild writes an aws.codebuild event (EventBridge refuses
		// PutEvents of an "aws." source) or answers BatchGetBuilds.
		VerifiedBy: b.initiator,
		Source:     SourceCodeBuild,
		Title:      strings.TrimSpace(vars[VarTitle]),
		Author:     strings.TrimSpace(vars[VarAuthor]),
	}
	if vars[VarFunctions] != "" {
		return b.groupRequest(ctx, targets, vars, rel)
	}
	// An exported variable is never empty here (checkVars): absent means
	// the build did not export it. Each target's settings live in their own
	// store entry, read by function name: a project does not imply its
	// function, the build names it.
	fn := vars[VarFunction]
	if fn == "" {
		return nil, &Refusal{Release: &rel, Reason: fmt.Sprintf("build %s of CodeBuild project %q: the build must export %s (buildspec env.exported-variables) naming the function it released",
			b.buildID, b.project, VarFunction)}
	}
	return validate(ctx, targets, fn, rel, b)
}

// validate checks the function name and code hash and resolves the target.
// b, when set, limits the functions to those the build's project releases.
func validate(ctx context.Context, targets Targets, fn string, rel promotion.Release, b *buildEvent) (*Request, error) {
	bad := func(format string, args ...any) error {
		r := rel
		return &Refusal{Function: fn, Release: &r, Reason: fmt.Sprintf(format, args...)}
	}
	if err := config.ValidateFunctionName(fn); err != nil {
		return nil, bad("function: %v", err)
	}
	if err := ValidateCodeSha256(rel.CodeSha256); err != nil {
		return nil, bad("codeSha256: %v", err)
	}
	names := ReleaseRequestedNames
	if rel.Source == SourceCodeBuild {
		names = codeBuildNames
	}
	if err := ValidateFacts(rel, names); err != nil {
		return nil, bad("%v", err)
	}
	t, err := targets.Target(ctx, fn)
	var invalid *settings.InvalidError
	switch {
	case errors.Is(err, config.ErrNotConfigured):
		// The error names the function and, from the store, its parameter.
		return nil, bad("%v", err)
	case errors.As(err, &invalid):
		// A broken settings entry: no retry of this event can succeed
		// until someone fixes it, and nothing may move on a guess.
		return nil, bad("the settings of %q are invalid: %v", fn, err)
	case err != nil:
		return nil, fmt.Errorf("read the settings of %s: %w", fn, err)
	}
	if b != nil && !slices.Contains(t.CodeBuildProjects, b.project) {
		return nil, bad("CodeBuild project %q does not release function %q (its settings list %v)", b.project, fn, t.CodeBuildProjects)
	}
	r := &Request{Target: t, Release: rel}
	if v, ok := targets.(versionedTargets); ok {
		r.SettingsVersion = v.Version(fn)
	}
	return r, nil
}

// versionedTargets are Targets that say which version of a target's
// settings their last read found (settings.Store): the promotion carries
// it to the approval page and the decision's audit record.
type versionedTargets interface {
	Version(function string) int64
}

// ValidateCodeSha256 accepts only what Lambda reports as CodeSha256: the
// standard base64 encoding of a 32-byte SHA-256 digest.
func ValidateCodeSha256(s string) error {
	if s == "" {
		return errors.New("missing (want the base64 CodeSha256 Lambda reports for the code)")
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err == nil && strings.ContainsAny(s, "\r\n") {
		// Go's decoder skips \r and \n even in Strict mode; Lambda's
		// CodeSha256 has none.
		err = errors.New("it contains a line break")
	}
	if err != nil {
		return fmt.Errorf("%q is not base64: %v", s, err)
	}
	if len(raw) != 32 {
		return fmt.Errorf("%q decodes to %d bytes, a SHA-256 digest has 32", s, len(raw))
	}
	return nil
}

// Bounds on what a release says of itself, in bytes.
const (
	// MaxBuild is the longest build id or link.
	MaxBuild = 2048
	// MaxRequestedBy is the longest requester: an IAM ARN with a long path
	// fits, a text meant to be read as something else does not. An
	// author is bounded alike.
	MaxRequestedBy = 1024
	// MaxTitle is the longest title: a commit's subject line or a pull
	// request's title (GitHub allows 256 characters) fits.
	MaxTitle = 512
)

// FactNames are the names of a release's claimed fields in the event that
// carried them, so that a refusal names the field its sender wrote.
type FactNames struct{ Commit, Build, RequestedBy, Title, Author string }

// ReleaseRequestedNames are the fields of a Release Requested detail.
var ReleaseRequestedNames = FactNames{Commit: "commit", Build: "build", RequestedBy: "requestedBy", Title: "title", Author: "author"}

// codeBuildNames are the variables a build exports and its event's build-id.
var codeBuildNames = FactNames{Commit: VarCommit, Build: "build-id", RequestedBy: VarRequestedBy, Title: VarTitle, Author: VarAuthor}

// ValidateFacts checks what a release says of itself before anyone is shown
// it as a fact: the commit, the build, the requester, the title and the
// author (each optional) and the build's initiator. The error names the field as names spells it.
func ValidateFacts(rel promotion.Release, names FactNames) error {
	if err := promotion.ValidateCommit(rel.Commit); rel.Commit != "" && err != nil {
		return fmt.Errorf("%s: %v", names.Commit, err)
	}
	if err := ValidateBuild(rel.Build); rel.Build != "" && err != nil {
		return fmt.Errorf("%s: %v", names.Build, err)
	}
	if err := validateName(rel.RequestedBy); rel.RequestedBy != "" && err != nil {
		return fmt.Errorf("%s: %v", names.RequestedBy, err)
	}
	if err := validateName(rel.VerifiedBy); rel.VerifiedBy != "" && err != nil {
		return fmt.Errorf("initiator: %v", err)
	}
	if err := validateTitle(rel.Title); rel.Title != "" && err != nil {
		return fmt.Errorf("%s: %v", names.Title, err)
	}
	if err := validateName(rel.Author); rel.Author != "" && err != nil {
		return fmt.Errorf("%s: %v", names.Author, err)
	}
	return nil
}

// validateTitle accepts one line of text: bounded, not blank, no control
// or format character (a newline would let it pose as another section of
// the e-mail).
func validateTitle(s string) error {
	if len(s) > MaxTitle {
		return fmt.Errorf("%d bytes, at most %d (send the commit message's first line)", len(s), MaxTitle)
	}
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("%q is blank", s)
	}
	return untrusted.Check(s)
}

// ValidateBuild accepts what may name a build: a CodeBuild build id
// ("project:uuid"), an ARN, an http(s) link to a CI run, or another id — at
// most MaxBuild bytes of printable ASCII without spaces, so it reads as one
// token wherever it is shown.
func ValidateBuild(s string) error {
	if len(s) > MaxBuild {
		return fmt.Errorf("%d bytes, at most %d", len(s), MaxBuild)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return fmt.Errorf("%s has a space or a character other than printable ASCII at byte %d (want a CodeBuild build id, an ARN, a link or an id without spaces)", untrusted.Show(s), i)
		}
	}
	switch {
	case strings.HasPrefix(s, "arn:"):
		if parts := strings.SplitN(s, ":", 6); len(parts) != 6 || parts[1] == "" || parts[2] == "" || parts[5] == "" {
			return fmt.Errorf("%q is not an ARN (arn:partition:service:region:account:resource)", s)
		}
	case strings.Contains(s, "://"):
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%q is not an http(s) link", s)
		}
	}
	return nil
}

// validateProof accepts what may be a presigned URL: bounded printable
// ASCII without spaces. Whether it proves anything is for STS to say.
func validateProof(s string) error {
	if len(s) > maxProof {
		return fmt.Errorf("%d bytes, at most %d", len(s), maxProof)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return fmt.Errorf("a space or a character other than printable ASCII at byte %d", i)
		}
	}
	return nil
}

// validateName accepts a person's or a principal's name: bounded, not
// blank, no control or format character.
func validateName(s string) error {
	if len(s) > MaxRequestedBy {
		return fmt.Errorf("%d bytes, at most %d", len(s), MaxRequestedBy)
	}
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("%q is blank", s)
	}
	return untrusted.Check(s)
}

// BuildID returns the CodeBuild build id ("project:uuid") of a build ARN
// ("arn:aws:codebuild:region:account:build/project:uuid"), or the id itself.
func BuildID(arnOrID string) (string, error) {
	id := arnOrID
	if strings.HasPrefix(arnOrID, "arn:") {
		parts := strings.SplitN(arnOrID, ":", 6)
		if len(parts) != 6 || parts[2] != "codebuild" || !strings.HasPrefix(parts[5], "build/") {
			return "", fmt.Errorf("%q is not a CodeBuild build ARN", arnOrID)
		}
		id = strings.TrimPrefix(parts[5], "build/")
	}
	if !buildIDPattern.MatchString(id) {
		return "", fmt.Errorf("%q is not a build id (project:uuid)", arnOrID)
	}
	return id, nil
}

// buildIDPattern is a CodeBuild build id: the project's name, as CodeBuild's
// API model constrains ProjectName ([A-Za-z0-9][A-Za-z0-9\-_]{1,149},
// botocore data/codebuild/2016-10-06/service-2.json; Build.id itself is
// only a NonEmptyString there), a colon and the build's UUID.
var buildIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9\-_]{1,149}:[A-Za-z0-9-]{1,64}$`)

// checkVars refuses a build whose exported aliasflow variables include one
// with an empty value (CodeBuild exports a listed but unset variable as "")
// or one aliasflow does not define, naming it: neither may be defaulted.
func checkVars(buildID string, vars map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if !strings.HasPrefix(name, varPrefix) {
			continue
		}
		if !slices.Contains(knownVars, name) {
			return refuse("build %s exported %s, which aliasflow does not define (it reads %s)", buildID, name, strings.Join(knownVars, ", "))
		}
		if strings.TrimSpace(vars[name]) == "" && !slices.Contains(describingVars, name) {
			return refuse("build %s exported %s with an empty value; set it in the buildspec, or do not export it", buildID, name)
		}
	}
	return nil
}

// requireObject refuses a missing, null or non-object detail before it is
// decoded, so "detail": null cannot pass as an empty detail.
func requireObject(detail json.RawMessage) error {
	d := bytes.TrimSpace(detail)
	if len(d) == 0 || d[0] != '{' {
		return refuse("event detail must be a JSON object")
	}
	return nil
}

// strictUnmarshal decodes one JSON value and refuses trailing data. A type
// mismatch is reported by field, in JSON terms. With closed, a field v does
// not declare is refused by name: aliasflow's own events carry only what
// aliasflow defines, so a misspelt field cannot pass as an absent one.
func strictUnmarshal(data []byte, v any, closed bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if closed {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("unknown field %s", field)
		}
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			want := typ.Type.Kind().String()
			if typ.Type.Kind() == reflect.Struct || typ.Type.Kind() == reflect.Map {
				want = "object"
			}
			if typ.Field == "" {
				return fmt.Errorf("want a JSON %s, got %s", want, typ.Value)
			}
			return fmt.Errorf("%s must be a %s, got %s", typ.Field, want, typ.Value)
		}
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
