// Package codebuild is the sandbox's AWS CodeBuild (awsJson1_1,
// "CodeBuild_20161006.<Op>"): builds that "run" when the local world says
// a merge was built (RunBuild, the sandbox's control API — the project
// never starts builds itself), each emitting its own "CodeBuild Build State
// Change" event on the sandbox EventBridge, as CodeBuild does on AWS, and
// served by BatchGetBuilds with their exported environment variables.
//
// Nothing but this service puts an "aws.codebuild" event: EventBridge
// refuses an "aws." source from anyone else, as AWS does.
package codebuild

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
)

const (
	// maxBatchIDs is BatchGetBuilds' limit on ids (BuildIds: min 1, max 100
	// in the CodeBuild API model).
	maxBatchIDs = 100
	maxBuilds   = 1000
)

// Bus is where builds emit their state-change events (the sandbox
// EventBridge's service-event entry).
type Bus interface {
	EmitServiceEvent(source, detailType, detail string, resources []string) (string, error)
}

// Options tunes a Service; the zero value is usable.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service is the CodeBuild emulation. It is an http.Handler.
type Service struct {
	bus Bus
	now func() time.Time

	mu     sync.Mutex
	builds map[string]*Build // by id ("project:uuid")
	order  []string
	counts map[string]int64             // build numbers by project
	tags   map[string]map[string]string // by project
}

// EnvironmentVariable is an exported environment variable of a build.
type EnvironmentVariable struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Logs is where a build's logs are (CloudWatch Logs).
type Logs struct {
	GroupName  string `json:"groupName"`
	StreamName string `json:"streamName"`
	DeepLink   string `json:"deepLink"`
}

// Build is a finished build as BatchGetBuilds returns it (the members the
// sandbox fills).
type Build struct {
	ID                           string                `json:"id"`
	Arn                          string                `json:"arn"`
	BuildNumber                  int64                 `json:"buildNumber"`
	StartTime                    float64               `json:"startTime"`
	EndTime                      float64               `json:"endTime"`
	CurrentPhase                 string                `json:"currentPhase"`
	BuildStatus                  string                `json:"buildStatus"`
	SourceVersion                string                `json:"sourceVersion,omitempty"`
	ProjectName                  string                `json:"projectName"`
	Initiator                    string                `json:"initiator,omitempty"`
	BuildComplete                bool                  `json:"buildComplete"`
	ExportedEnvironmentVariables []EnvironmentVariable `json:"exportedEnvironmentVariables,omitempty"`
	Logs                         Logs                  `json:"logs"`
}

// New returns a CodeBuild whose builds emit their events on bus (nil: no
// events, for tests of BatchGetBuilds alone).
func New(bus Bus, opts *Options) *Service {
	s := &Service{bus: bus, now: time.Now, builds: map[string]*Build{}, counts: map[string]int64{}, tags: map[string]map[string]string{}}
	if opts != nil && opts.Now != nil {
		s.now = opts.Now
	}
	return s
}

// ServeHTTP serves the CodeBuild API: the operations the project calls.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	core.ServeAWSJSON(w, r, "codebuild", map[string]core.JSONOp{
		"BatchGetBuilds": s.batchGetBuilds,
		"ListBuilds":     s.listBuilds,
	})
}

// listPage is how many ids ListBuilds answers at a time ("ids: ... up to
// 100 build IDs", ListBuilds, AWS CodeBuild API Reference,
// https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListBuilds.html).
const listPage = 100

// listBuilds answers the account's build ids, newest first unless
// sortOrder is ASCENDING, a page at a time (nextToken).
func (s *Service) listBuilds(_ context.Context, body []byte) (any, error) {
	var in struct {
		SortOrder string `json:"sortOrder"`
		NextToken string `json:"nextToken"`
	}
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if in.SortOrder != "" && in.SortOrder != "ASCENDING" && in.SortOrder != "DESCENDING" {
		return nil, validation("1 validation error detected: Value '%s' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [ASCENDING, DESCENDING]", in.SortOrder)
	}
	s.mu.Lock()
	ids := append([]string(nil), s.order...)
	s.mu.Unlock()
	if in.SortOrder != "ASCENDING" {
		slices.Reverse(ids)
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 || n > len(ids) {
			return nil, validation("Invalid next token")
		}
		start = n
	}
	end := min(start+listPage, len(ids))
	out := struct {
		Ids       []string `json:"ids"`
		NextToken string   `json:"nextToken,omitempty"`
	}{Ids: append([]string{}, ids[start:end]...)}
	if end < len(ids) {
		out.NextToken = strconv.Itoa(end)
	}
	return out, nil
}

func validation(format string, args ...any) *core.APIError {
	return core.Errorf("InvalidInputException", http.StatusBadRequest, format, args...)
}

// BuildARN is a build's ARN, from its id ("project:uuid").
func BuildARN(id string) string {
	return fmt.Sprintf("arn:aws:codebuild:%s:%s:build/%s", core.Region, core.Account, id)
}

// BatchGetBuilds takes build ids or ARNs; those it does not know come back
// in buildsNotFound (BatchGetBuilds, AWS CodeBuild API Reference,
// https://docs.aws.amazon.com/codebuild/latest/APIReference/API_BatchGetBuilds.html).
func (s *Service) batchGetBuilds(_ context.Context, body []byte) (any, error) {
	var in struct {
		Ids []string `json:"ids"`
	}
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.Ids) < 1 || len(in.Ids) > maxBatchIDs {
		return nil, validation("1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must have length less than or equal to %d and greater than or equal to 1", maxBatchIDs)
	}
	out := struct {
		Builds         []Build  `json:"builds"`
		BuildsNotFound []string `json:"buildsNotFound"`
	}{Builds: []Build{}, BuildsNotFound: []string{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range in.Ids {
		if strings.TrimSpace(id) == "" {
			return nil, validation("Build id must not be empty")
		}
		b := s.builds[strings.TrimPrefix(id, BuildARN(""))]
		if b == nil {
			out.BuildsNotFound = append(out.BuildsNotFound, id)
			continue
		}
		cp := *b
		cp.ExportedEnvironmentVariables = append([]EnvironmentVariable(nil), b.ExportedEnvironmentVariables...)
		out.Builds = append(out.Builds, cp)
	}
	return out, nil
}

// RunInput says what build to "run" (RunBuild).
type RunInput struct {
	// Project is the build project's name.
	Project string
	// Status is the build's final status: SUCCEEDED (when empty), FAILED,
	// FAULT, TIMED_OUT or STOPPED.
	Status string
	// SourceVersion is the commit built.
	SourceVersion string
	// Initiator is who started the build ("codebuild-webhook" for a push).
	Initiator string
	// Exported are the variables the buildspec exports.
	Exported []EnvironmentVariable
	// EventWithoutExported emits the state-change event without the
	// exported variables, in the documented sample's shape (Build
	// notifications input format reference), so a consumer must read them
	// with BatchGetBuilds.
	EventWithoutExported bool
	// NoEvent records the build and emits no event: the delivery that
	// CodeBuild's best-effort events may miss. EmitEvent delivers it late.
	NoEvent bool
}

var projectRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9\-_]{1,254}$`)

var buildStatuses = map[string]bool{"SUCCEEDED": true, "FAILED": true, "FAULT": true, "TIMED_OUT": true, "STOPPED": true}

// RunBuild records a finished build of in.Project and emits its "CodeBuild
// Build State Change" event; it returns the build (its ID is
// "project:uuid", as CodeBuild's are) and the event's id.
func (s *Service) RunBuild(in RunInput) (Build, string, error) {
	if !projectRE.MatchString(in.Project) {
		return Build{}, "", fmt.Errorf("codebuild: project name %q is not valid (2–255 letters, digits, - and _)", in.Project)
	}
	if in.Status == "" {
		in.Status = eventpatterns.BuildStatusSucceeded
	}
	if !buildStatuses[in.Status] {
		return Build{}, "", fmt.Errorf("codebuild: build status %q is not a final status (SUCCEEDED, FAILED, FAULT, TIMED_OUT, STOPPED)", in.Status)
	}
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6], u[8] = u[6]&0x0f|0x40, u[8]&0x3f|0x80
	h := hex.EncodeToString(u[:])
	uuid := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	id := in.Project + ":" + uuid
	end := s.now().UTC()
	start := end.Add(-time.Minute)

	s.mu.Lock()
	s.counts[in.Project]++
	b := &Build{
		ID: id, Arn: BuildARN(id), BuildNumber: s.counts[in.Project],
		StartTime: epoch(start), EndTime: epoch(end), CurrentPhase: "COMPLETED", BuildStatus: in.Status,
		SourceVersion: in.SourceVersion, ProjectName: in.Project, Initiator: in.Initiator, BuildComplete: true,
		ExportedEnvironmentVariables: append([]EnvironmentVariable(nil), in.Exported...),
		Logs: Logs{GroupName: "/aws/codebuild/" + in.Project, StreamName: uuid,
			DeepLink: fmt.Sprintf("https://console.aws.amazon.com/cloudwatch/home?region=%s#logEvent:group=/aws/codebuild/%s;stream=%s", core.Region, in.Project, uuid)},
	}
	s.builds[id] = b
	s.order = append(s.order, id)
	if len(s.order) > maxBuilds {
		delete(s.builds, s.order[0])
		s.order = s.order[1:]
	}
	s.mu.Unlock()

	if s.bus == nil || in.NoEvent {
		return *b, "", nil
	}
	eventID, err := s.emit(b, start, end, !in.EventWithoutExported)
	return *b, eventID, err
}

// EmitEvent emits build id's state-change event now: a late delivery of
// the event RunBuild did not emit (RunInput.NoEvent).
func (s *Service) EmitEvent(id string) (string, error) {
	s.mu.Lock()
	b := s.builds[id]
	s.mu.Unlock()
	if b == nil {
		return "", fmt.Errorf("codebuild: no build %s", id)
	}
	if s.bus == nil {
		return "", nil
	}
	at := func(sec float64) time.Time { return time.UnixMilli(int64(sec * 1000)).UTC() }
	return s.emit(b, at(b.StartTime), at(b.EndTime), true)
}

func (s *Service) emit(b *Build, start, end time.Time, withExported bool) (string, error) {
	detail, err := json.Marshal(stateChangeDetail(b, start, end, withExported))
	if err != nil {
		return "", fmt.Errorf("codebuild: encode event: %w", err)
	}
	eventID, err := s.bus.EmitServiceEvent(eventpatterns.CodeBuildSource, eventpatterns.CodeBuildDetailType, string(detail), []string{b.Arn})
	if err != nil {
		return "", fmt.Errorf("codebuild: emit build state change: %w", err)
	}
	return eventID, nil
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// eventTime is how CodeBuild writes times inside the detail
// ("Sep 1, 2017 4:12:29 PM").
func eventTime(t time.Time) string { return t.Format("Jan 2, 2006 3:04:05 PM") }

// stateChangeDetail is the detail of a build's "CodeBuild Build State
// Change" event, in the shape of "Build notifications input format
// reference" (AWS CodeBuild User Guide,
// https://docs.aws.amazon.com/codebuild/latest/userguide/sample-build-notifications-ref.html).
func stateChangeDetail(b *Build, start, end time.Time, withExported bool) map[string]any {
	info := map[string]any{
		"artifact": map[string]any{"location": ""},
		"environment": map[string]any{
			"image": "aws/codebuild/amazonlinux-aarch64-standard:3.0", "privileged-mode": false,
			"compute-type": "BUILD_GENERAL1_SMALL", "type": "ARM_CONTAINER", "environment-variables": []any{},
		},
		"timeout-in-minutes": 60,
		"build-complete":     true,
		"build-number":       b.BuildNumber,
		"initiator":          b.Initiator,
		"build-start-time":   eventTime(start),
		"source":             map[string]any{"type": "GITHUB", "location": "https://github.com/example/" + b.ProjectName + ".git"},
		"logs":               map[string]any{"group-name": b.Logs.GroupName, "stream-name": b.Logs.StreamName, "deep-link": b.Logs.DeepLink},
		"phases": []map[string]any{
			{"phase-context": []any{}, "start-time": eventTime(start), "end-time": eventTime(start), "duration-in-seconds": 0, "phase-type": "SUBMITTED", "phase-status": "SUCCEEDED"},
			{"phase-context": []any{}, "start-time": eventTime(start), "end-time": eventTime(end), "duration-in-seconds": int(end.Sub(start).Seconds()), "phase-type": "BUILD", "phase-status": b.BuildStatus},
			{"start-time": eventTime(end), "phase-type": "COMPLETED"},
		},
	}
	if b.SourceVersion != "" {
		info["source-version"] = b.SourceVersion
	}
	if withExported && len(b.ExportedEnvironmentVariables) > 0 {
		info["exported-environment-variables"] = b.ExportedEnvironmentVariables
	}
	return map[string]any{
		"build-status":           b.BuildStatus,
		"project-name":           b.ProjectName,
		"build-id":               b.Arn,
		"additional-information": info,
		"current-phase":          "COMPLETED",
		"current-phase-context":  "[]",
		"version":                "1",
	}
}

// TagProject sets a project's tags, as TagResource or CreateProject's tags
// do on AWS; the sandbox's IAM reads them for aws:ResourceTag conditions on
// the project's builds ("Using tags to control access to AWS CodeBuild
// resources").
func (s *Service) TagProject(project string, tags map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tags[project] == nil {
		s.tags[project] = map[string]string{}
	}
	for k, v := range tags {
		s.tags[project][k] = v
	}
}

// ProjectTags returns a copy of a project's tags.
func (s *Service) ProjectTags(project string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, v := range s.tags[project] {
		out[k] = v
	}
	return out
}

// Builds returns the builds run so far, oldest first.
func (s *Service) Builds() []Build {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Build, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, *s.builds[id])
	}
	return out
}

type snapshot struct {
	Builds []*Build
	Counts map[string]int64
	Tags   map[string]map[string]string `json:",omitempty"`
}

// Snapshot returns the builds as JSON, so BatchGetBuilds still answers for
// them after a restart.
func (s *Service) Snapshot() ([]byte, error) {
	return core.Snapshot(&s.mu, func() snapshot {
		snap := snapshot{Counts: s.counts, Tags: s.tags}
		for _, id := range s.order {
			snap.Builds = append(snap.Builds, s.builds[id])
		}
		return snap
	})
}

// Restore replaces the builds with those of a Snapshot.
func (s *Service) Restore(data []byte) error {
	return core.Restore("codebuild", data, &s.mu, func(snap snapshot) error {
		var order []string
		for _, b := range snap.Builds {
			order = append(order, b.ID)
		}
		if snap.Counts == nil {
			snap.Counts = map[string]int64{}
		}
		if snap.Tags == nil {
			snap.Tags = map[string]map[string]string{}
		}
		s.builds, s.order, s.counts, s.tags = core.Keyed(snap.Builds, func(b *Build) string { return b.ID }), order, snap.Counts, snap.Tags
		return nil
	})
}
