// Package config holds the per-function promotion settings (strategy, smoke
// checks, approvers, health thresholds) and validates them once at load, so a
// mistake is reported with the field that holds it before anything moves.
package config

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aliasflow/aliasflow/shared/plan"
)

// Strategy names how the prod alias moves to the new version.
type Strategy string

// The strategies aliasflow knows.
const (
	AllAtOnce Strategy = "all-at-once"
	Canary    Strategy = "canary"
	Linear    Strategy = "linear"
	// Steps is a plan written out step by step (StrategyConfig.Steps).
	Steps Strategy = "steps"
)

// Defaults applied by Parse where a field is left out.
const (
	DefaultApprovalTimeoutSeconds = 24 * 60 * 60
	DefaultMaxErrorRate           = 0.05
	DefaultMinInvocations         = 20
	// DefaultMetricDelaySeconds is how long after a minute ends its Lambda
	// metrics are taken to be readable. Lambda sends metric data to
	// CloudWatch in 1-minute intervals ("Using CloudWatch metrics with
	// Lambda", Lambda developer guide) and they become readable minutes
	// later: a 1-minute alarm was reported going to ALARM 4 minutes after
	// errors began. Four minutes, the reported figure, is the default.
	DefaultMetricDelaySeconds = 240
	// DefaultMaxBakeSeconds bounds how long a step keeps baking while its
	// evidence is inconclusive, beyond which OnInconclusive applies.
	DefaultMaxBakeSeconds      = 900
	DefaultSmokeRetries        = 2
	DefaultSmokeTimeoutSeconds = 10
	DefaultHealthWindowSeconds = 60
	// MaxProbes bounds health.probes: each check invokes both versions
	// that many times within the shift Lambda's minute.
	MaxProbes = 20
	// ProbesAtStartFactor is how many times health.probes BeginShift sends
	// each version before the first weight: the one look at a version
	// that no user has met yet, so it is the one that must be sure — at
	// 20 probes, 100 of each, which tell a version failing one call in
	// five from the allowance every time, before it serves a request.
	ProbesAtStartFactor       = 5
	MaxApprovalTimeoutSeconds = 7 * 24 * 60 * 60
)

// Config is the whole document: one entry per target function.
type Config struct {
	// Targets are the functions aliasflow promotes, each named once.
	Targets []Target `json:"targets" jsonschema:"minItems=1"`
}

// Target is one promotion target: a user's function and how it is promoted.
type Target struct {
	// Function is the target function's name (not an ARN, not qualified).
	Function string `json:"function" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$"`
	// CodeBuildProjects lists the CodeBuild projects whose successful builds
	// release this function.
	CodeBuildProjects []string `json:"codeBuildProjects,omitempty" jsonschema:"pattern=\\S" jsonschema_extras:"x-default=none"`
	// Strategy says how prod moves once the release is approved.
	Strategy StrategyConfig `json:"strategy" jsonschema_extras:"x-default=all-at-once"`
	// SmokeChecks run against the stg alias before approval is asked for.
	SmokeChecks []SmokeCheck `json:"smokeChecks,omitempty" jsonschema_extras:"x-default=none"`
	// SmokeRetries is how many times a check failing for a transient reason
	// is tried again.
	SmokeRetries int `json:"smokeRetries" jsonschema:"default=2,minimum=0,maximum=10"`
	// Approvers are the e-mail addresses that may approve a release.
	Approvers []string `json:"approvers" jsonschema:"minItems=1,uniqueItems=true,format=email"`
	// ApprovalTimeoutSeconds bounds the wait for a decision.
	ApprovalTimeoutSeconds int `json:"approvalTimeoutSeconds" jsonschema:"default=86400,minimum=1,maximum=604800"`
	// Approval says who may decide beyond the list of approvers: which IAM
	// principals decide as which approver, and separation of duties. It is
	// read at decision time, so a change applies to pending promotions.
	Approval Approval `json:"approval,omitzero" jsonschema_extras:"x-default=each field's default"`
	// Health says when a shifting release is judged unhealthy.
	Health Health `json:"health" jsonschema_extras:"x-default=each field's default"`
	// Repository, when set, makes the approval page link the release's
	// commit, the commit prod runs, and the comparison of the two.
	Repository *Repository `json:"repository,omitempty" jsonschema_extras:"x-default=none"`
	// Environment names where the function's prod is ("production",
	// "eu-live"), for approvers; optional.
	Environment string `json:"environment,omitempty" jsonschema:"maxLength=64" jsonschema_extras:"x-default=none"`
	// Prune, when set, lets `aliasflow prune` and the reconciler delete
	// the target's old published versions; absent, none is ever deleted.
	Prune *Prune `json:"prune,omitempty" jsonschema_extras:"x-default=none (no version is ever deleted)"`
	// Group makes the function a member of a group: one release naming
	// several members of a group is one promotion that moves them
	// together, approved once and rolled back together. Members
	// must agree on strategy, approvers, approvalTimeoutSeconds, approval,
	// environment and health.metricDelaySeconds, maxBakeSeconds and
	// onInconclusive (docs/settings-groups.md).
	Group string `json:"group,omitempty" jsonschema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_-]+$" jsonschema_extras:"x-default=none (released alone)"`
}

// Prune is a target's version pruning policy. Whatever it says, a version
// an alias points or routes to, one a running promotion or pending
// approval names, and one a rollback could return to are kept (package
// prune).
type Prune struct {
	// KeepLast is how many of the newest published versions are kept in
	// any case; at least 1.
	KeepLast int `json:"keepLast" jsonschema:"required,minimum=1"`
}

// Approval is a target's decision policy.
type Approval struct {
	// Principals maps an approver (an entry of Approvers) to the IAM
	// principal ARNs that decide as that approver through the aliasflow
	// command line, e.g. {"lead@example.com": ["arn:aws:iam::123456789012:user/lead",
	// "arn:aws:sts::123456789012:assumed-role/Approvers/lead"]}: the ARN
	// API Gateway verified (an IAM-authorized request's caller) must equal
	// one of them. An approver without principals decides only with the
	// signed link e-mailed to the address.
	Principals map[string][]string `json:"principals,omitempty" jsonschema_extras:"x-default=none"`
	// DistinctFromReleaser refuses a decision by whoever requested the
	// release (the release's requestedBy, compared with the approver's
	// address and principal). Unset means true.
	DistinctFromReleaser *bool `json:"distinctFromReleaser,omitempty" jsonschema:"default=true"`
	// Required is how many distinct approvers must approve before prod
	// moves ("four eyes": 2); one rejection ends the promotion whatever
	// the count. Unset means 1; at most the number of approvers.
	Required int `json:"required,omitempty" jsonschema:"default=1,minimum=1"`
}

// RequiredApprovals is how many distinct approvers must approve: Required,
// or 1 when unset.
func (a Approval) RequiredApprovals() int {
	return max(a.Required, 1)
}

// principalARN matches the caller ARNs API Gateway reports for IAM
// users, roles and assumed-role sessions ("IAM identifiers", IAM User
// Guide).
var principalARN = regexp.MustCompile(`^arn:aws[a-z-]*:(iam::\d{12}:(user|role)/[\w+=,.@/-]+|sts::\d{12}:assumed-role/[\w+=,.@-]+/[\w+=,.@-]+)$`)

// SeparateDuties says whether the releaser is refused as the approver.
func (a Approval) SeparateDuties() bool {
	return a.DistinctFromReleaser == nil || *a.DistinctFromReleaser
}

// Repository holds URL templates of the function's source repository.
// {commit}, {from} and {to} are replaced by commit identifiers, escaped
// as URL path segments.
type Repository struct {
	// CommitURL links one commit, e.g.
	// https://github.com/acme/orders/commit/{commit}
	CommitURL string `json:"commitUrl" jsonschema:"pattern=^https://"`
	// CompareURL links the changes between two commits, e.g.
	// https://github.com/acme/orders/compare/{from}...{to}; optional.
	CompareURL string `json:"compareUrl,omitempty" jsonschema:"pattern=^https://" jsonschema_extras:"x-default=none"`
}

// Commit is the link of one commit, "" without a commit.
func (r *Repository) Commit(commit string) string {
	if r == nil || r.CommitURL == "" || commit == "" {
		return ""
	}
	return strings.ReplaceAll(r.CommitURL, "{commit}", url.PathEscape(commit))
}

// Compare is the link of the changes from one commit to another, "" when
// either is unknown or they are the same.
func (r *Repository) Compare(from, to string) string {
	if r == nil || r.CompareURL == "" || from == "" || to == "" || from == to {
		return ""
	}
	return strings.NewReplacer("{from}", url.PathEscape(from), "{to}", url.PathEscape(to)).Replace(r.CompareURL)
}

// StrategyConfig is the strategy with its parameters. Percent and the
// seconds fields are read according to Type.
type StrategyConfig struct {
	// Type names the strategy: all-at-once, canary, linear or steps.
	Type Strategy `json:"type" jsonschema:"default=all-at-once,enum=all-at-once,enum=canary,enum=linear,enum=steps"`
	// Percent is the canary's share of traffic (canary) or the size of each
	// step (linear), in whole percent, 1–99.
	Percent int `json:"percent,omitempty" jsonschema:"minimum=1,maximum=99" jsonschema_extras:"x-default=none (required by canary and linear)"`
	// BakeSeconds is how long the canary serves before it is judged.
	BakeSeconds int `json:"bakeSeconds,omitempty" jsonschema:"minimum=1,maximum=86400" jsonschema_extras:"x-default=none (required by canary)"`
	// IntervalSeconds is how long each linear step serves before the next.
	IntervalSeconds int `json:"intervalSeconds,omitempty" jsonschema:"minimum=1,maximum=86400" jsonschema_extras:"x-default=none (required by linear)"`
	// FallbackAllAtOnce lets a canary or linear promotion move prod all at
	// once when the stable and new versions cannot share a weighted alias
	// (they differ in execution role or dead-letter queue, which Lambda
	// refuses); without it the promotion stops before prod moves.
	FallbackAllAtOnce bool `json:"fallbackAllAtOnce,omitempty" jsonschema:"default=false"`
	// Steps is the plan of a "steps" strategy (shared/plan): weights,
	// each followed by the analysis that judges it, and pauses. An
	// analysis that names no criteria is judged by the health settings.
	Steps []plan.Step `json:"steps,omitempty" jsonschema_extras:"x-default=none (required by steps)"`
}

// Plan is the plan the strategy makes (shared/plan), each analysis judged
// by h's criteria unless it names its own: the presets for all-at-once,
// canary and linear; the steps as written for "steps".
func (s StrategyConfig) Plan(h Health) plan.Plan {
	c := plan.Criteria{MaxErrorRate: h.MaxErrorRate, MinInvocations: h.MinInvocations}
	switch s.Type {
	case Canary:
		return plan.Canary(s.Percent, s.BakeSeconds, c)
	case Linear:
		return plan.Linear(s.Percent, s.IntervalSeconds, c)
	case Steps:
		return plan.WithCriteria(plan.Plan{Steps: s.Steps}, c)
	}
	return plan.AllAtOnce()
}

// bakes are the shortest and the longest bake of the strategy's steps.
func (s StrategyConfig) bakes() (shortest, longest int) {
	switch s.Type {
	case Canary:
		return s.BakeSeconds, s.BakeSeconds
	case Linear:
		return s.IntervalSeconds, s.IntervalSeconds
	case Steps:
		return plan.Plan{Steps: s.Steps}.Bakes()
	}
	return 0, 0
}

// The fresh signals a health check can read besides the metrics.
const (
	// FreshSignalLogs reads the versions' own log streams (Lambda names
	// them YYYY/MM/DD/[version]…) through CloudWatch Logs FilterLogEvents.
	FreshSignalLogs = "logs"
)

// The runtimes whose handled-error log line the "logs" source reads
// (Health.LogRuntime). On Lambda a handled error (a Go handler's returned
// error, a Node.js handler's throw) leaves the REPORT line without a
// Status; only the runtime's own line shows it.
const (
	// LogRuntimeGo: aws-lambda-go, whose reportFailure (lambda/invoke_loop.go)
	// writes the error document with log.Printf to stderr.
	LogRuntimeGo = "aws-lambda-go"
	// LogRuntimeNode: the Node.js runtime interface client (npm
	// aws-lambda-ric, LifecycleManager.fail), which logs "Invoke Error".
	LogRuntimeNode = "nodejs"
)

// What a step does when its evidence is still inconclusive at MaxBakeSeconds.
const (
	OnInconclusiveRollback = "rollback"
	OnInconclusivePromote  = "promote"
)

// Health is how a shifting release is judged: the new version against the
// stable version over the step's exposure (see shared/shift, verdict.go).
type Health struct {
	// Alarms are CloudWatch alarm names (metric or composite); any that goes
	// to ALARM during the shift fails the check.
	Alarms []string `json:"alarms,omitempty" jsonschema:"pattern=\\S" jsonschema_extras:"x-default=none"`
	// AllowAlarmsFiringAtStart lets a shift begin while one of Alarms is
	// already in ALARM (refused by default: the canary would be blamed for
	// it). Alarms firing since before the shift are then not held against
	// the new version.
	AllowAlarmsFiringAtStart bool `json:"allowAlarmsFiringAtStart,omitempty" jsonschema:"default=false"`
	// MaxErrorRate is the error rate (0–1) the new version may show above
	// the stable version's over the same window before it is unhealthy.
	MaxErrorRate float64 `json:"maxErrorRate" jsonschema:"default=0.05,minimum=0,maximum=1"`
	// MinInvocations is how many invocations of the new version a source
	// needs in the window before it is judged at all; below it the verdict
	// is inconclusive.
	MinInvocations int `json:"minInvocations" jsonschema:"default=20,minimum=0"`
	// WindowSeconds is kept for older documents; the window judged is the
	// step's exposure.
	WindowSeconds int `json:"windowSeconds" jsonschema:"default=60,minimum=1,maximum=86400"`
	// MetricDelaySeconds is how long after a minute ends its Lambda metrics
	// are taken to be complete.
	MetricDelaySeconds int `json:"metricDelaySeconds" jsonschema:"default=240,minimum=60,maximum=3600"`
	// FreshSignal names a source that reflects the new version within
	// seconds ("logs"); needed for steps shorter than MetricDelaySeconds.
	FreshSignal string `json:"freshSignal,omitempty" jsonschema:"enum=logs" jsonschema_extras:"x-default=none"`
	// LogRuntime names the runtime whose handled-error line the logs
	// source reads: "aws-lambda-go" or "nodejs". Without it the logs see
	// crashes and timeouts only (REPORT lines), so they may fail a step
	// but never pass one.
	LogRuntime string `json:"logRuntime,omitempty" jsonschema:"enum=aws-lambda-go,enum=nodejs" jsonschema_extras:"x-default=none"`
	// Probes is how many synthetic invocations of the new and of the
	// stable version (by version number) each health check makes;
	// BeginShift makes ProbesAtStartFactor times as many of both before
	// the first weight, so a version that fails its probes never serves a
	// user (0: none; at most MaxProbes).
	// Counted by the invoke response's FunctionError, they see handled
	// errors at once, for the inputs they send.
	Probes int `json:"probes,omitempty" jsonschema:"default=0,minimum=0,maximum=20"`
	// ProbePayload is the event each probe sends; without it the probes
	// send the payloads of the target's invoke smoke checks in turn.
	ProbePayload json.RawMessage `json:"probePayload,omitempty" jsonschema_extras:"x-default=the invoke smoke checks' payloads"`
	// MaxBakeSeconds is the longest one step may bake, extensions for
	// inconclusive evidence included.
	MaxBakeSeconds int `json:"maxBakeSeconds" jsonschema:"maximum=86400" jsonschema_extras:"x-default=the longer of 900 and the longest bake + metricDelaySeconds + 120"`
	// OnInconclusive is what happens when the evidence is still
	// inconclusive at MaxBakeSeconds: "rollback" (default) or "promote".
	OnInconclusive string `json:"onInconclusive" jsonschema:"default=rollback,enum=rollback,enum=promote"`
	// MaxP99LatencyRatio, when set, fails the new version whose p99
	// duration exceeds the stable version's times this ratio.
	MaxP99LatencyRatio float64 `json:"maxP99LatencyRatio,omitempty" jsonschema:"minimum=1" jsonschema_extras:"x-default=none"`
}

// ProbesAtStart is how many probes of each version BeginShift sends
// before the first weight.
func (h Health) ProbesAtStart() int { return h.Probes * ProbesAtStartFactor }

// SeesHandledErrorsFresh reports whether a source fresher than the metrics
// sees handled function errors: the log streams read with the runtime's
// error line, or probes.
func (h Health) SeesHandledErrorsFresh() bool {
	return h.FreshSignal == FreshSignalLogs && h.LogRuntime != "" || h.Probes > 0
}

// ProbePayloads are the events the probes send, in turn: ProbePayload, or
// the payloads of the invoke smoke checks ("{}" for one without).
func (t Target) ProbePayloads() [][]byte {
	if len(t.Health.ProbePayload) > 0 {
		return [][]byte{t.Health.ProbePayload}
	}
	var out [][]byte
	for _, c := range t.SmokeChecks {
		if c.Invoke == nil {
			continue
		}
		p := []byte(c.Invoke.Payload)
		if len(p) == 0 {
			p = []byte("{}")
		}
		out = append(out, p)
	}
	return out
}

// The execution history's budget. A standard workflow's history holds at
// most 25,000 events ("Quotas related to state machine executions", AWS
// Step Functions Developer Guide); an execution that reaches it fails,
// with prod wherever the shift left it. Each bake of a step — Bake (entered,
// scheduled, started, submitted, timed out, exited), CheckHealth (entered,
// scheduled, started, succeeded, exited) and MoreSteps (entered, exited) —
// adds 13 events, counted as EventsPerBake with one to spare; each step
// adds its SetWeight. HistoryReserve is left for the states before and
// after the shift and for retries.
const (
	HistoryLimit   = 25000
	HistoryReserve = 5000
	EventsPerBake  = 14
	EventsPerStep  = 6
)

// BakeRounds is how many times each of steps may bake (its first bake
// included) for the execution to stay within the history budget.
func BakeRounds(steps int) int {
	if steps <= 0 {
		return 0
	}
	return (HistoryLimit - HistoryReserve - steps*EventsPerStep) / (steps * EventsPerBake)
}

// StepCount is how many weighted steps the strategy makes (promotion.Plan).
func (s StrategyConfig) StepCount() int {
	switch s.Type {
	case Steps:
		return len(plan.Plan{Steps: s.Steps}.Weights())
	case Canary:
		return 1
	case Linear:
		if s.Percent < 1 {
			return 0
		}
		return (99) / s.Percent
	}
	return 0
}

// roundsToJudge is how many bakes a step of step seconds needs before a
// source that sees handled errors covers it: on the logs with the
// runtime's line, the first bake and one more for the lines to settle;
// on the metrics, their delay and the minute after, at most a minute a
// bake (shift.extension).
func (h Health) roundsToJudge(step int) int {
	rounds := 2 + (max(0, h.MetricDelaySeconds+60-step)+59)/60
	if h.FreshSignal == FreshSignalLogs && h.LogRuntime != "" {
		rounds = 2
	}
	if h.FreshSignal == FreshSignalLogs && step >= 30 {
		rounds++ // the log streams' first look, 15 s in (shift.firstLook)
	}
	if h.Probes > 0 {
		// The calls the exact test needs to pass with none failing at
		// the 1 % level, (1-rate)^n <= 0.01 (shared/shift, stats.go).
		need := max(h.MinInvocations, 1)
		if r := h.MaxErrorRate; r > 0 && r < 1 {
			need = max(need, int(math.Ceil(math.Log(0.01)/math.Log1p(-r))))
		}
		rounds = min(rounds, 1+(need+h.Probes-1)/h.Probes)
	}
	return rounds
}

func (h Health) evidenceName() string {
	switch {
	case h.FreshSignal == FreshSignalLogs && h.LogRuntime != "":
		return "the log streams"
	case h.Probes > 0:
		return fmt.Sprintf("%d probes a check", h.Probes)
	}
	return fmt.Sprintf("the metrics, %d s late", h.MetricDelaySeconds)
}

// Criteria says in one paragraph how a step of the shift will be judged,
// for the people approving it. Call it on a Health with defaults applied.
func (h Health) Criteria() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Each step is judged on its own exposure: the new version's errors against the stable version's over the same window (by ExecutedVersion), failing when its error rate is significantly more than %s above the stable version's (exact binomial test, 1%% level) and passing only once at least %d invocations bound it within that (Clopper–Pearson, 99%%).",
		strconv.FormatFloat(h.MaxErrorRate*100, 'f', -1, 64)+" %", h.MinInvocations)
	b.WriteString(" Evidence:")
	if h.Probes > 0 {
		fmt.Fprintf(&b, " %d probes of each version a check (and before the first weight), counted by their function errors;", h.Probes)
	}
	switch {
	case h.FreshSignal == FreshSignalLogs && h.LogRuntime != "":
		fmt.Fprintf(&b, " the versions' own log streams, within seconds (REPORT lines and the %s runtime's error line, so handled errors count), and the CloudWatch metrics", h.LogRuntime)
	case h.FreshSignal == FreshSignalLogs && h.Probes == 0:
		b.WriteString(" the versions' own log streams, within seconds, which show crashes and timeouts but not handled errors, so only the CloudWatch metrics can pass a step")
	case h.FreshSignal == FreshSignalLogs:
		b.WriteString(" the versions' own log streams, within seconds, which show crashes and timeouts but not handled errors; the CloudWatch metrics")
	default:
		b.WriteString(" the CloudWatch metrics")
	}
	fmt.Fprintf(&b, ", taken as complete %d s after each minute.", h.MetricDelaySeconds)
	if h.MaxP99LatencyRatio > 0 {
		fmt.Fprintf(&b, " A p99 duration above %s× the stable version's fails it.", strconv.FormatFloat(h.MaxP99LatencyRatio, 'f', -1, 64))
	}
	if len(h.Alarms) > 0 {
		fmt.Fprintf(&b, " Alarms watched: %s", strings.Join(h.Alarms, ", "))
		if h.AllowAlarmsFiringAtStart {
			b.WriteString(" (one already firing before a step is not held against it).")
		} else {
			b.WriteString("; one already in ALARM stops the shift before traffic moves.")
		}
	}
	fmt.Fprintf(&b, " Too little evidence keeps a step baking, up to %d s, then %s.", h.MaxBakeSeconds,
		map[string]string{OnInconclusivePromote: "it goes on", OnInconclusiveRollback: "prod rolls back"}[h.OnInconclusive])
	return b.String()
}

// SmokeCheck is one check against stg: an invoke of the alias, an HTTP
// request to the staging stage, or both.
type SmokeCheck struct {
	// Name identifies the check in reports; unique within the target.
	Name string `json:"name" jsonschema:"pattern=\\S"`
	// Invoke invokes the stg alias (set invoke, http or both).
	Invoke *InvokeCheck `json:"invoke,omitempty" jsonschema_extras:"x-default=none"`
	// HTTP requests the staging stage (set invoke, http or both).
	HTTP *HTTPCheck `json:"http,omitempty" jsonschema_extras:"x-default=none"`
	// TimeoutSeconds bounds one try of the check.
	TimeoutSeconds int `json:"timeoutSeconds" jsonschema:"default=10,minimum=1,maximum=300"`
}

// InvokeCheck invokes the stg alias with Payload and asserts on the answer.
// A function error always fails the check.
type InvokeCheck struct {
	// Payload is the event sent to the alias.
	Payload json.RawMessage `json:"payload,omitempty" jsonschema_extras:"x-default={}"`
	// JSONEquals maps a dotted path in the response JSON ("statusCode",
	// "headers.content-type") to the value it must equal.
	JSONEquals map[string]any `json:"jsonEquals,omitempty" jsonschema_extras:"x-default=none"`
	// BodyContains must appear in the response; when the response is an API
	// Gateway proxy response, in its body.
	BodyContains string `json:"bodyContains,omitempty" jsonschema_extras:"x-default=none"`
}

// HTTPCheck requests the staging stage URL.
type HTTPCheck struct {
	// URL is the http(s) URL requested.
	URL string `json:"url" jsonschema:"format=uri,pattern=^https?://"`
	// Method is the request's HTTP method.
	Method string `json:"method,omitempty" jsonschema:"default=GET"`
	// Headers are sent with the request.
	Headers map[string]string `json:"headers,omitempty" jsonschema_extras:"x-default=none"`
	// Body is the request's body.
	Body string `json:"body,omitempty" jsonschema_extras:"x-default=none"`
	// ExpectStatus is the HTTP status the response must have.
	ExpectStatus int `json:"expectStatus,omitempty" jsonschema:"default=200,minimum=100,maximum=599"`
	// BodyContains must appear in the response body.
	BodyContains string `json:"bodyContains,omitempty" jsonschema_extras:"x-default=none"`
}

// Parse reads a configuration document, applies the defaults and validates
// it. Unknown fields are refused: a misspelt setting must not be ignored.
func Parse(data []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// ErrNotConfigured is wrapped by a Targets lookup when a function is not a
// target of the pipeline.
var ErrNotConfigured = errors.New("not configured for aliasflow")

// Target returns function's settings, or an error wrapping ErrNotConfigured.
// It makes a Config a settings source for tests and one-off tools; the
// pipeline reads each target's settings from its own store entry (package
// settings).
func (c *Config) Target(_ context.Context, function string) (Target, error) {
	if t, ok := c.Lookup(function); ok {
		return *t, nil
	}
	return Target{}, fmt.Errorf("function %q is %w", function, ErrNotConfigured)
}

// Lookup returns the target for a function name.
func (c *Config) Lookup(function string) (*Target, bool) {
	for i := range c.Targets {
		if c.Targets[i].Function == function {
			return &c.Targets[i], true
		}
	}
	return nil, false
}

// ForProject returns the targets a CodeBuild project releases.
func (c *Config) ForProject(project string) []*Target {
	var out []*Target
	for i := range c.Targets {
		for _, p := range c.Targets[i].CodeBuildProjects {
			if p == project {
				out = append(out, &c.Targets[i])
			}
		}
	}
	return out
}

// Projects lists every CodeBuild project named by any target, once each.
func (c *Config) Projects() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range c.Targets {
		for _, p := range t.CodeBuildProjects {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

func (c *Config) applyDefaults() {
	for i := range c.Targets {
		c.Targets[i].ApplyDefaults()
	}
}

// ApplyDefaults fills the fields left at their zero value.
func (t *Target) ApplyDefaults() {
	if t.Strategy.Type == "" {
		t.Strategy.Type = AllAtOnce
	}
	if t.ApprovalTimeoutSeconds == 0 {
		t.ApprovalTimeoutSeconds = DefaultApprovalTimeoutSeconds
	}
	if t.SmokeRetries == 0 {
		t.SmokeRetries = DefaultSmokeRetries
	}
	if t.Health.MaxErrorRate == 0 {
		t.Health.MaxErrorRate = DefaultMaxErrorRate
	}
	if t.Health.MinInvocations == 0 {
		t.Health.MinInvocations = DefaultMinInvocations
	}
	if t.Health.WindowSeconds == 0 {
		t.Health.WindowSeconds = DefaultHealthWindowSeconds
	}
	if t.Health.MetricDelaySeconds == 0 {
		t.Health.MetricDelaySeconds = DefaultMetricDelaySeconds
	}
	if t.Health.OnInconclusive == "" {
		t.Health.OnInconclusive = OnInconclusiveRollback
	}
	if t.Health.MaxBakeSeconds == 0 {
		// Long enough for the metrics of the longest step to be read.
		_, longest := t.Strategy.bakes()
		t.Health.MaxBakeSeconds = max(DefaultMaxBakeSeconds, longest+t.Health.MetricDelaySeconds+120)
	}
	for j := range t.SmokeChecks {
		s := &t.SmokeChecks[j]
		if s.TimeoutSeconds == 0 {
			s.TimeoutSeconds = DefaultSmokeTimeoutSeconds
		}
		if s.HTTP != nil {
			if s.HTTP.Method == "" {
				s.HTTP.Method = "GET"
			}
			if s.HTTP.ExpectStatus == 0 {
				s.HTTP.ExpectStatus = 200
			}
		}
	}
}

// Validate reports every problem in the document, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Targets) == 0 {
		errs = append(errs, errors.New("targets: at least one target is required"))
	}
	seen := map[string]bool{}
	for i, t := range c.Targets {
		p := fmt.Sprintf("targets[%d]", i)
		if err := t.Validate(p); err != nil {
			errs = append(errs, err)
		}
		if seen[t.Function] {
			errs = append(errs, fmt.Errorf("%s.function: %q is configured twice", p, t.Function))
		}
		seen[t.Function] = true
	}
	groups := map[string][]Target{}
	for _, t := range c.Targets {
		if t.Group != "" {
			groups[t.Group] = append(groups[t.Group], t)
		}
	}
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		if err := CheckGroup(groups[g]); err != nil {
			errs = append(errs, fmt.Errorf("targets: %w", err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return nil
}

// Validate checks one target; prefix names it in the errors ("targets[0]").
func (t *Target) Validate(prefix string) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: "+format, append([]any{prefix, field}, args...)...))
	}
	if err := ValidateFunctionName(t.Function); err != nil {
		bad("function", "%v", err)
	}
	if err := ValidateGroupName(t.Group); t.Group != "" && err != nil {
		bad("group", "%v", err)
	}
	if t.Prune != nil && t.Prune.KeepLast < 1 {
		bad("prune.keepLast", "must be at least 1 (the newest published version is always kept), got %d", t.Prune.KeepLast)
	}
	for j, p := range t.CodeBuildProjects {
		if strings.TrimSpace(p) == "" {
			bad(fmt.Sprintf("codeBuildProjects[%d]", j), "must not be empty")
		}
	}
	s := t.Strategy
	switch s.Type {
	case AllAtOnce:
		if s.Percent != 0 || s.BakeSeconds != 0 || s.IntervalSeconds != 0 {
			bad("strategy", "all-at-once takes no percent, bakeSeconds or intervalSeconds")
		}
	case Canary:
		if s.Percent < 1 || s.Percent > 99 {
			bad("strategy.percent", "canary percent must be 1–99, got %d", s.Percent)
		}
		if s.BakeSeconds < 1 || s.BakeSeconds > 86400 {
			bad("strategy.bakeSeconds", "must be 1–86400 seconds, got %d", s.BakeSeconds)
		}
		if s.IntervalSeconds != 0 {
			bad("strategy.intervalSeconds", "is for linear; canary uses bakeSeconds")
		}
	case Linear:
		if s.Percent < 1 || s.Percent > 99 {
			bad("strategy.percent", "linear step must be 1–99 percent, got %d", s.Percent)
		}
		if s.IntervalSeconds < 1 || s.IntervalSeconds > 86400 {
			bad("strategy.intervalSeconds", "must be 1–86400 seconds, got %d", s.IntervalSeconds)
		}
		if s.BakeSeconds != 0 {
			bad("strategy.bakeSeconds", "is for canary; linear uses intervalSeconds")
		}
	case Steps:
		if s.Percent != 0 || s.BakeSeconds != 0 || s.IntervalSeconds != 0 {
			bad("strategy", "steps takes its weights and bakes from strategy.steps, not percent, bakeSeconds or intervalSeconds")
		}
		if len(plan.Plan{Steps: s.Steps}.Weights()) == 0 {
			bad("strategy.steps", "must set at least one weight (setWeight, then its analysis); use all-at-once for none")
		}
		h := t.Health
		if h.MaxErrorRate == 0 {
			h.MaxErrorRate = DefaultMaxErrorRate
		}
		if h.MinInvocations == 0 {
			h.MinInvocations = DefaultMinInvocations
		}
		if err := plan.Validate(s.Plan(h)); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				errs = append(errs, fmt.Errorf("%s.strategy.%s", prefix, line))
			}
		}
		for i, st := range s.Steps {
			if st.Approval == nil {
				continue
			}
			for j, a := range st.Approval.Approvers {
				if !slices.ContainsFunc(t.Approvers, func(b string) bool { return strings.EqualFold(a, b) }) {
					bad(fmt.Sprintf("strategy.steps[%d].approval.approvers[%d]", i, j), "%q is not one of the approvers", a)
				}
			}
		}
	default:
		bad("strategy.type", "must be one of all-at-once, canary, linear, steps; got %q", s.Type)
	}
	if s.Type != Steps && len(s.Steps) > 0 {
		bad("strategy.steps", "is for the steps strategy; %s makes its own", s.Type)
	}
	if len(t.Approvers) == 0 {
		bad("approvers", "at least one approver e-mail is required")
	}
	approvers := map[string]bool{}
	for j, a := range t.Approvers {
		if addr, err := mail.ParseAddress(a); err != nil || addr.Address != a {
			bad(fmt.Sprintf("approvers[%d]", j), "%q is not a plain e-mail address", a)
		}
		if approvers[strings.ToLower(a)] {
			bad(fmt.Sprintf("approvers[%d]", j), "%q is listed twice", a)
		}
		approvers[strings.ToLower(a)] = true
	}
	for _, a := range slices.Sorted(maps.Keys(t.Approval.Principals)) {
		field := fmt.Sprintf("approval.principals[%q]", a)
		if !approvers[strings.ToLower(a)] {
			bad(field, "%q is not one of the approvers", a)
		}
		for j, p := range t.Approval.Principals[a] {
			if !principalARN.MatchString(p) {
				bad(fmt.Sprintf("%s[%d]", field, j), "%q is not the ARN of an IAM user, role or assumed-role session", p)
			}
		}
	}
	if r := t.Approval.Required; r != 0 && (r < 1 || r > len(t.Approvers)) {
		bad("approval.required", "must be 1–%d (the number of approvers), got %d", len(t.Approvers), r)
	}
	if t.ApprovalTimeoutSeconds < 1 || t.ApprovalTimeoutSeconds > MaxApprovalTimeoutSeconds {
		bad("approvalTimeoutSeconds", "must be 1–%d, got %d", MaxApprovalTimeoutSeconds, t.ApprovalTimeoutSeconds)
	}
	if t.SmokeRetries < 0 || t.SmokeRetries > 10 {
		bad("smokeRetries", "must be 0–10, got %d", t.SmokeRetries)
	}
	h := t.Health
	if h.MaxErrorRate < 0 || h.MaxErrorRate > 1 {
		bad("health.maxErrorRate", "must be between 0 and 1, got %v", h.MaxErrorRate)
	}
	if h.MinInvocations < 0 {
		bad("health.minInvocations", "must not be negative, got %d", h.MinInvocations)
	}
	if h.WindowSeconds < 1 || h.WindowSeconds > 86400 {
		bad("health.windowSeconds", "must be 1–86400, got %d", h.WindowSeconds)
	}
	if h.MetricDelaySeconds < 60 || h.MetricDelaySeconds > 3600 {
		// Never zero: Lambda's metrics are never readable at once.
		bad("health.metricDelaySeconds", "must be 60–3600 (Lambda metrics are published in 1-minute periods, minutes later), got %d", h.MetricDelaySeconds)
	}
	switch h.FreshSignal {
	case "", FreshSignalLogs:
	default:
		bad("health.freshSignal", "must be %q or absent, got %q", FreshSignalLogs, h.FreshSignal)
	}
	switch h.LogRuntime {
	case "":
	case LogRuntimeGo, LogRuntimeNode:
		if h.FreshSignal != FreshSignalLogs {
			bad("health.logRuntime", "is read only by health.freshSignal %q, which is not set", FreshSignalLogs)
		}
	default:
		bad("health.logRuntime", "must be %q, %q or absent, got %q", LogRuntimeGo, LogRuntimeNode, h.LogRuntime)
	}
	if h.Probes < 0 || h.Probes > MaxProbes {
		bad("health.probes", "must be 0–%d, got %d", MaxProbes, h.Probes)
	}
	if len(h.ProbePayload) > 0 && !json.Valid(h.ProbePayload) {
		bad("health.probePayload", "is not valid JSON")
	}
	if h.Probes > 0 && len(t.ProbePayloads()) == 0 {
		bad("health.probes", "needs health.probePayload or an invoke smoke check, whose payload the probes send")
	}
	switch h.OnInconclusive {
	case OnInconclusiveRollback, OnInconclusivePromote:
	default:
		bad("health.onInconclusive", "must be %q or %q, got %q", OnInconclusiveRollback, OnInconclusivePromote, h.OnInconclusive)
	}
	if h.MaxP99LatencyRatio != 0 && h.MaxP99LatencyRatio < 1 {
		bad("health.maxP99LatencyRatio", "must be at least 1 when set, got %v", h.MaxP99LatencyRatio)
	}
	if step, _ := s.bakes(); s.Type != AllAtOnce && step > 0 {
		field := "strategy.bakeSeconds"
		switch s.Type {
		case Linear:
			field = "strategy.intervalSeconds"
		case Steps:
			field = "strategy.steps"
		}
		// The bake the metrics need to cover a step: the step, their
		// delay, and the minute the last datapoint falls in.
		metricsCover := step + h.MetricDelaySeconds + 60
		switch {
		case step >= h.MetricDelaySeconds, h.SeesHandledErrorsFresh():
		case h.FreshSignal == "":
			bad(field, "%d s is shorter than health.metricDelaySeconds (%d s): the step would end before its metrics are readable; set health.freshSignal to %q with health.logRuntime, or health.probes, or bake at least %d s",
				step, h.MetricDelaySeconds, FreshSignalLogs, h.MetricDelaySeconds)
		case h.MaxBakeSeconds < metricsCover:
			// The log stream shows a handled error only through the
			// runtime's own line; without it only the metrics can pass
			// the step, and they need the bake to last.
			bad(field, "%d s is shorter than health.metricDelaySeconds (%d s) and the logs cannot see handled errors without health.logRuntime, so only the metrics can pass the step: set health.logRuntime to %q or %q (the function's runtime), or health.probes, or health.maxBakeSeconds to at least %d, or bake at least %d s",
				step, h.MetricDelaySeconds, LogRuntimeGo, LogRuntimeNode, metricsCover, h.MetricDelaySeconds)
		}
		if h.MaxBakeSeconds < step || h.MaxBakeSeconds > 86400 {
			bad("health.maxBakeSeconds", "must be at least the step's %d s and at most 86400, got %d", step, h.MaxBakeSeconds)
		}
		// A latency guard is judged only by sources that see durations:
		// the log streams' REPORT lines, or the metrics' p99 (probes do
		// not); without the logs, the step waits for the metrics.
		if h.MaxP99LatencyRatio > 0 && h.FreshSignal == "" && step < h.MetricDelaySeconds && h.MaxBakeSeconds < metricsCover {
			bad("health.maxP99LatencyRatio", "needs a source that sees durations to judge a %d s step, shorter than health.metricDelaySeconds (%d s): set health.freshSignal to %q (REPORT lines carry each call's duration), or health.maxBakeSeconds to at least %d, or bake at least %d s",
				step, h.MetricDelaySeconds, FreshSignalLogs, metricsCover, h.MetricDelaySeconds)
		}
		if h.OnInconclusive == OnInconclusivePromote && !h.SeesHandledErrorsFresh() && h.MaxBakeSeconds < metricsCover {
			bad("health.onInconclusive", "promote would let a step through before any source that sees handled errors could judge it (the metrics need a bake of %d s, health.maxBakeSeconds is %d): set health.maxBakeSeconds to at least %d, or health.freshSignal %q with health.logRuntime, or health.probes, or onInconclusive %q",
				metricsCover, h.MaxBakeSeconds, metricsCover, FreshSignalLogs, OnInconclusiveRollback)
		}
		steps := s.StepCount()
		rounds, needed := BakeRounds(steps), h.roundsToJudge(step)
		if rounds < needed {
			bad(field, "%d steps of %d s leave each step %d bakes within Step Functions' %d-event execution history, fewer than the %d its evidence needs (%s): use fewer steps (a larger strategy.percent), or health.freshSignal %q with health.logRuntime, or more health.probes",
				steps, step, rounds, HistoryLimit, needed, h.evidenceName(), FreshSignalLogs)
		}
	}
	for j, a := range h.Alarms {
		if strings.TrimSpace(a) == "" {
			bad(fmt.Sprintf("health.alarms[%d]", j), "must not be empty")
		}
	}
	if r := t.Repository; r != nil {
		checkTemplate := func(field, tmpl string, placeholders ...string) {
			u, err := url.Parse(tmpl)
			if err != nil || u.Scheme != "https" || u.Host == "" {
				bad(field, "%q is not an https URL", tmpl)
				return
			}
			for _, p := range placeholders {
				if !strings.Contains(tmpl, p) {
					bad(field, "%q lacks %s", tmpl, p)
				}
			}
		}
		checkTemplate("repository.commitUrl", r.CommitURL, "{commit}")
		if r.CompareURL != "" {
			checkTemplate("repository.compareUrl", r.CompareURL, "{from}", "{to}")
		}
	}
	if len(t.Environment) > 64 {
		bad("environment", "must be at most 64 characters, got %d", len(t.Environment))
	}
	names := map[string]bool{}
	for j, c := range t.SmokeChecks {
		f := fmt.Sprintf("smokeChecks[%d]", j)
		if strings.TrimSpace(c.Name) == "" {
			bad(f+".name", "must not be empty")
		}
		if names[c.Name] {
			bad(f+".name", "%q is used twice", c.Name)
		}
		names[c.Name] = true
		if c.Invoke == nil && c.HTTP == nil {
			bad(f, "needs invoke, http or both")
		}
		if c.TimeoutSeconds < 1 || c.TimeoutSeconds > 300 {
			bad(f+".timeoutSeconds", "must be 1–300, got %d", c.TimeoutSeconds)
		}
		if c.Invoke != nil && len(c.Invoke.Payload) > 0 && !json.Valid(c.Invoke.Payload) {
			bad(f+".invoke.payload", "is not valid JSON")
		}
		if c.HTTP != nil {
			u, err := url.Parse(c.HTTP.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(f+".http.url", "%q is not an http(s) URL", c.HTTP.URL)
			}
			if c.HTTP.ExpectStatus < 100 || c.HTTP.ExpectStatus > 599 {
				bad(f+".http.expectStatus", "must be an HTTP status, got %d", c.HTTP.ExpectStatus)
			}
		}
	}
	return errors.Join(errs...)
}

// plainFunctionName reports whether name is 1 to 64 letters, digits,
// hyphens or underscores: a function name with no ARN or qualifier
// ("CreateFunction", FunctionName, AWS Lambda API Reference,
// https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html:
// pattern [a-zA-Z0-9-_]+, "If you specify only the function name, it is
// limited to 64 characters in length"). A loop,
// not the regexp ^[A-Za-z0-9_-]{1,64}$: compiling that one at package init
// cost every pipeline Lambda about 0.4 ms of its cold start
// (GODEBUG=inittrace=1).
func plainFunctionName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// allDigits reports whether name is digits only (a version number).
func allDigits(name string) bool {
	return name != "" && strings.Trim(name, "0123456789") == ""
}

// ValidateFunctionName refuses anything but a plain function name: no ARN,
// no qualifier, not $LATEST and not a version number.
func ValidateFunctionName(name string) error {
	switch {
	case name == "":
		return errors.New("function name is empty")
	case strings.Contains(name, "$LATEST"):
		return fmt.Errorf("%q: $LATEST is never promoted; name the function", name)
	case strings.HasPrefix(name, "arn:"):
		return fmt.Errorf("%q: give the function name, not an ARN", name)
	case strings.Contains(name, ":"):
		return fmt.Errorf("%q: give the function name without a qualifier", name)
	case allDigits(name):
		return fmt.Errorf("%q looks like a version number, not a function name", name)
	case !plainFunctionName(name):
		return fmt.Errorf("%q is not a valid function name (1–64 of A-Z a-z 0-9 - _)", name)
	}
	return nil
}
