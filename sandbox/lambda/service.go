// Package lambdasvc is the sandbox's AWS Lambda: functions with $LATEST,
// published versions and (weighted) aliases, served over Lambda's restJson1
// API, and invocations that run each function's real `bootstrap` in a warm
// execution environment: AWS's Runtime Interface Emulator (aws-lambda-rie),
// which serves the Runtime API and writes the platform's log lines (see
// runtime.go and rie.go). Its validation, preconditions and
// error codes follow the Lambda API reference, so the pipeline's code meets
// the same answers here as on AWS.
package lambdasvc

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

// Options configure a Service. Zero values default sanely.
type Options struct {
	// WorkDir holds the unpacked code of each deployment package and the
	// stored zips (unless CodeDir says otherwise). Required.
	WorkDir string
	// CodeDir keeps each deployment package as <sha256 hex>.zip; set it under
	// the state directory so a restart finds the code its versions name.
	CodeDir string
	// Logger receives the service's own diagnostics.
	Logger *slog.Logger
	// Clock is the time source for LastModified, pending updates and log
	// timestamps.
	Clock func() time.Time
	// UpdateDuration is how long a create or a code update stays Pending /
	// InProgress, during which Lambda refuses conflicting calls.
	UpdateDuration time.Duration
	// PublishDuration is how long a published version stays Pending before
	// it is Active; invoking it meanwhile fails as Lambda documents ("Lambda
	// does not invoke a function during pending state", Lambda function
	// states, https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html).
	// Zero or less takes DefaultPublishDuration: the sandbox never makes a
	// version Active the instant it is published, as AWS does not promise to.
	PublishDuration time.Duration
	// MaxProcessesPerVersion bounds the warm processes of one version; further
	// concurrent invokes queue for a free one. Default 10.
	MaxProcessesPerVersion int
	// IdleTimeout stops a warm process nobody has used for that long.
	// Default 10 minutes; negative keeps processes until Close.
	IdleTimeout time.Duration
	// Invocations receives every finished invocation (CloudWatch metrics).
	Invocations core.InvocationSink
	// Logs receives every output line of a function process.
	Logs core.LogSink
	// Rand picks the version a weighted alias routes to; default math/rand.
	Rand func() float64
	// ProvisionDuration is how long a provisioned concurrency
	// configuration stays IN_PROGRESS (provisioned.go); zero or less takes
	// DefaultProvisionDuration.
	ProvisionDuration time.Duration
}

// DefaultPublishDuration is how long a published version stays Pending
// unless Options.PublishDuration says otherwise. AWS publishes no figure
// (a SnapStart version takes minutes); half a second makes every caller
// meet the Pending state without slowing the demo down.
const DefaultPublishDuration = 500 * time.Millisecond

// Service is the emulated Lambda. It is an http.Handler for the restJson1
// API and a core.Invoker for the other services.
type Service struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	functions map[string]*function

	rt        *runtime
	faults    *Faults
	closeOnce sync.Once
	// bus receives CloudTrail's records of the API calls that delete
	// (SetEventBus); nil for none.
	bus core.EventBus
}

var _ core.Invoker = (*Service)(nil)
var _ http.Handler = (*Service)(nil)

// New builds a Service.
func New(opts Options) (*Service, error) {
	if opts.WorkDir == "" {
		return nil, errors.New("lambda: WorkDir is required")
	}
	if opts.CodeDir == "" {
		opts.CodeDir = filepath.Join(opts.WorkDir, "packages")
	}
	for _, d := range []string{opts.WorkDir, opts.CodeDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("lambda: %w", err)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.MaxProcessesPerVersion <= 0 {
		opts.MaxProcessesPerVersion = 10
	}
	if opts.Rand == nil {
		opts.Rand = mrand.Float64
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 10 * time.Minute
	}
	if opts.PublishDuration <= 0 {
		opts.PublishDuration = DefaultPublishDuration
	}
	s := &Service{opts: opts, log: opts.Logger, functions: map[string]*function{}, faults: &Faults{}}
	s.rt = newRuntime(s)
	return s, nil
}

// Close stops every function process.
func (s *Service) Close() {
	s.closeOnce.Do(func() { close(s.rt.stop) })
	s.rt.shutdown()
}

// Faults is the fault-injection hook for tests.
func (s *Service) Faults() *Faults { return s.faults }

// ---- errors ---------------------------------------------------------------

func notFound(format string, args ...any) *core.APIError {
	return core.Errorf("ResourceNotFoundException", http.StatusNotFound, format, args...)
}

func invalid(format string, args ...any) *core.APIError {
	return core.Errorf("InvalidParameterValueException", http.StatusBadRequest, format, args...)
}

// validationErr is the error of a request that breaks a constraint of the
// API model, as AWS words it.
func validationErr(format string, args ...any) *core.APIError {
	return core.Errorf("ValidationException", http.StatusBadRequest, format, args...)
}

func conflict(format string, args ...any) *core.APIError {
	return core.Errorf("ResourceConflictException", http.StatusConflict, format, args...)
}

func precondition(format string, args ...any) *core.APIError {
	return core.Errorf("PreconditionFailedException", http.StatusPreconditionFailed, format, args...)
}

func functionNotFound(name, qualifier string) *core.APIError {
	return notFound("Function not found: %s", core.FunctionARN(name, qualifier))
}

func updateInProgress(name string) *core.APIError {
	return conflict("The operation cannot be performed at this time. An update is in progress for resource: %s", core.FunctionARN(name, ""))
}

// pending is the conflict AWS answers while a function is still being
// created.
func pending() *core.APIError {
	return conflict("The operation cannot be performed at this time. The function is currently in the following state: Pending")
}

// checkRevision refuses a change made against a revision that is no longer
// the latest; an empty want asks for no check (optimistic locking, as on
// AWS).
func checkRevision(want, latest string) error {
	if want != "" && want != latest {
		return precondition("The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
	}
	return nil
}

// ---- names ------------------------------------------------------------------

var (
	functionNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	aliasNameRe    = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
	versionRe      = regexp.MustCompile(`^[0-9]+$`)
	qualifierRe    = regexp.MustCompile(`^(\$LATEST|[a-zA-Z0-9_-]{1,128})$`)
)

// parseFunctionName splits a name, name:qualifier, full ARN or partial ARN
// (account:function:name[:qualifier]) into the name and the qualifier.
func parseFunctionName(s string) (name, qualifier string, err error) {
	parts := strings.Split(s, ":")
	switch {
	case strings.HasPrefix(s, "arn:"):
		// arn:aws:lambda:region:account:function:name[:qualifier]
		if len(parts) < 7 || len(parts) > 8 || parts[1] != "aws" || parts[2] != "lambda" || parts[5] != "function" {
			return "", "", invalid("%q is not a Lambda function ARN", s)
		}
		if parts[3] != core.Region || parts[4] != core.Account {
			return "", "", notFound("Function not found: %s (the sandbox is account %s in %s)", s, core.Account, core.Region)
		}
		parts = parts[6:]
	case len(parts) >= 3 && parts[1] == "function":
		if parts[0] != core.Account {
			return "", "", notFound("Function not found: %s (the sandbox is account %s)", s, core.Account)
		}
		parts = parts[2:]
	}
	if len(parts) > 2 {
		return "", "", invalid("%q is not a valid function name", s)
	}
	name = parts[0]
	if !functionNameRe.MatchString(name) {
		return "", "", invalid("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?", s)
	}
	if len(parts) == 2 {
		qualifier = parts[1]
		if !qualifierRe.MatchString(qualifier) {
			return "", "", invalid("%q is not a valid qualifier", qualifier)
		}
	}
	return name, qualifier, nil
}

// resolveName combines the name's own qualifier with an explicit one, which
// must agree when both are given.
func resolveName(function, qualifier string) (string, string, error) {
	name, q, err := parseFunctionName(function)
	if err != nil {
		return "", "", err
	}
	if qualifier != "" {
		if !qualifierRe.MatchString(qualifier) {
			return "", "", invalid("%q is not a valid qualifier", qualifier)
		}
		if q != "" && q != qualifier {
			return "", "", invalid("The derived qualifier from the function name does not match the specified qualifier.")
		}
		q = qualifier
	}
	return name, q, nil
}

// unqualified refuses a qualifier for the operations that act on the
// function itself.
func unqualified(function string) (string, error) {
	name, q, err := parseFunctionName(function)
	if err != nil {
		return "", err
	}
	if q != "" {
		return "", invalid("Current operation does not support versions other than $LATEST. Please set the function name without a qualifier: %s", function)
	}
	return name, nil
}

func newRevision() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ---- code -------------------------------------------------------------------

// storeCode validates a deployment package and keeps it by its hash. It
// returns Lambda's CodeSha256 (base64 of the SHA-256 of the zip bytes).
func (s *Service) storeCode(zipBytes []byte) (codeSha256, key string, err error) {
	if len(zipBytes) == 0 {
		return "", "", invalid("ZipFile is required")
	}
	if len(zipBytes) > maxZipBytes {
		return "", "", core.Errorf("RequestTooLargeException", http.StatusRequestEntityTooLarge, "Request must be smaller than %d bytes for the CreateFunction operation", maxZipBytes)
	}
	if _, err := zip.NewReader(bytes.NewReader(zipBytes), int64(len(zipBytes))); err != nil {
		return "", "", invalid("Could not unzip uploaded file. Please check your file, then try to upload again.")
	}
	sum := sha256.Sum256(zipBytes)
	key = hex.EncodeToString(sum[:])
	path := filepath.Join(s.opts.CodeDir, key+".zip")
	if _, err := os.Stat(path); err != nil {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, zipBytes, 0o644); err != nil {
			return "", "", fmt.Errorf("store code: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return "", "", fmt.Errorf("store code: %w", err)
		}
	}
	return base64.StdEncoding.EncodeToString(sum[:]), key, nil
}

// ---- inputs -----------------------------------------------------------------

// FunctionCode is CreateFunction's Code: the deployment package.
type FunctionCode struct {
	ZipFile []byte `json:"ZipFile"`
}

// CreateFunctionInput is CreateFunction's request.
type CreateFunctionInput struct {
	FunctionName     string            `json:"FunctionName"`
	Runtime          string            `json:"Runtime"`
	Role             string            `json:"Role"`
	Handler          string            `json:"Handler"`
	Code             FunctionCode      `json:"Code"`
	Description      string            `json:"Description"`
	Timeout          *int              `json:"Timeout"`
	MemorySize       *int              `json:"MemorySize"`
	Environment      *Environment      `json:"Environment"`
	LoggingConfig    *LoggingConfig    `json:"LoggingConfig"`
	DeadLetterConfig *DeadLetterConfig `json:"DeadLetterConfig"`
	Architectures    []string          `json:"Architectures"`
	PackageType      string            `json:"PackageType"`
	Publish          bool              `json:"Publish"`
	Tags             map[string]string `json:"Tags"`
}

// UpdateFunctionCodeInput is UpdateFunctionCode's request.
type UpdateFunctionCodeInput struct {
	ZipFile       []byte   `json:"ZipFile"`
	Publish       bool     `json:"Publish"`
	DryRun        bool     `json:"DryRun"`
	RevisionId    string   `json:"RevisionId"`
	Architectures []string `json:"Architectures"`
}

// UpdateFunctionConfigurationInput is UpdateFunctionConfiguration's request.
type UpdateFunctionConfigurationInput struct {
	Environment   *Environment   `json:"Environment"`
	Description   *string        `json:"Description"`
	Timeout       *int           `json:"Timeout"`
	MemorySize    *int           `json:"MemorySize"`
	Handler       *string        `json:"Handler"`
	Runtime       *string        `json:"Runtime"`
	Role          *string        `json:"Role"`
	LoggingConfig *LoggingConfig `json:"LoggingConfig"`
	// DeadLetterConfig replaces the queue; an empty TargetArn removes it.
	DeadLetterConfig *DeadLetterConfig `json:"DeadLetterConfig"`
	RevisionId       string            `json:"RevisionId"`
}

// PublishVersionInput is PublishVersion's request.
type PublishVersionInput struct {
	CodeSha256  string `json:"CodeSha256"`
	Description string `json:"Description"`
	RevisionId  string `json:"RevisionId"`
}

// CreateAliasInput is CreateAlias's request.
type CreateAliasInput struct {
	Name            string         `json:"Name"`
	FunctionVersion string         `json:"FunctionVersion"`
	Description     string         `json:"Description"`
	RoutingConfig   *RoutingConfig `json:"RoutingConfig"`
}

// UpdateAliasInput is UpdateAlias's request; nil fields stay as they are.
type UpdateAliasInput struct {
	FunctionVersion string         `json:"FunctionVersion"`
	Description     *string        `json:"Description"`
	RoutingConfig   *RoutingConfig `json:"RoutingConfig"`
	RevisionId      string         `json:"RevisionId"`
}

// Environment variable names Lambda reserves for itself.
var reservedEnv = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_REGION": true, "AWS_EXECUTION_ENV": true,
	"AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true, "AWS_LAMBDA_FUNCTION_VERSION": true,
	"AWS_LAMBDA_INITIALIZATION_TYPE": true, "AWS_LAMBDA_LOG_GROUP_NAME": true, "AWS_LAMBDA_LOG_STREAM_NAME": true,
	"AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true,
	"AWS_LAMBDA_RUNTIME_API": true, "LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true,
}

var envKeyRe = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9_])+$`)

// envJSON is the environment as Lambda measures it against the 4 KB
// quota: the JSON of the whole Variables map, quotes, separators and
// escapes included ("Function environment variables: 4 KB, for all
// environment variables associated with the function, in aggregate",
// Lambda quotas, https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html;
// Lambda's refusal quotes that JSON as "String measured").
func envJSON(vars map[string]string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // only JSON's own escapes: ", \ and control characters
	if vars == nil {
		vars = map[string]string{}
	}
	_ = enc.Encode(vars)
	return strings.TrimSuffix(b.String(), "\n")
}

func checkEnvironment(env *Environment) error {
	if env == nil {
		return nil
	}
	var reserved []string
	for k := range env.Variables {
		if !envKeyRe.MatchString(k) {
			return invalid("Environment variable name %q is not valid: names start with a letter and contain only letters, digits and underscores", k)
		}
		if reservedEnv[k] {
			reserved = append(reserved, k)
		}
	}
	if measured := envJSON(env.Variables); len(measured) > maxEnvBytes {
		return invalid("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %s", measured)
	}
	if len(reserved) > 0 {
		slices.Sort(reserved)
		return invalid("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", strings.Join(reserved, ","))
	}
	return nil
}

func checkTimeoutMemory(timeout, memory *int) error {
	if timeout != nil && (*timeout < 1 || *timeout > maxTimeout) {
		return invalid("1 validation error detected: Value '%d' at 'timeout' failed to satisfy constraint: Member must have value between 1 and %d", *timeout, maxTimeout)
	}
	if memory != nil && (*memory < minMemory || *memory > maxMemory) {
		return invalid("1 validation error detected: Value '%d' at 'memorySize' failed to satisfy constraint: Member must have value between %d and %d", *memory, minMemory, maxMemory)
	}
	return nil
}

func checkLogging(l *LoggingConfig) error {
	if l == nil {
		return nil
	}
	if l.LogFormat != "" && l.LogFormat != "JSON" && l.LogFormat != "Text" {
		return invalid("LoggingConfig.LogFormat must be JSON or Text, got %q", l.LogFormat)
	}
	if (l.ApplicationLogLevel != "" || l.SystemLogLevel != "") && l.LogFormat != "JSON" {
		return invalid("To set ApplicationLogLevel or SystemLogLevel, LogFormat must be JSON")
	}
	return nil
}

func (s *Service) stamp() string { return s.opts.Clock().UTC().Format(lastModifiedStyle) }

// ---- operations ---------------------------------------------------------------

// CreateFunction creates a function's $LATEST from a zip holding bootstrap.
func (s *Service) CreateFunction(in CreateFunctionInput) (FunctionConfiguration, error) {
	name := in.FunctionName
	if !functionNameRe.MatchString(name) {
		return FunctionConfiguration{}, invalid("%q is not a valid function name (1-64 of a-z A-Z 0-9 - _)", name)
	}
	if in.PackageType != "" && in.PackageType != "Zip" {
		return FunctionConfiguration{}, invalid("PackageType %q is not supported by the sandbox; use Zip", in.PackageType)
	}
	if !supportedRuntimes[in.Runtime] {
		return FunctionConfiguration{}, invalid("The runtime parameter of %q is not supported by the sandbox: it runs %s functions", in.Runtime, supportedRuntimesText)
	}
	if nodeMajor(in.Runtime) != "" && in.Handler == "" {
		// The runtime loads the handler the function names (module.export).
		return FunctionConfiguration{}, invalid("Handler is required for runtime %s (e.g. index.handler: the export handler of index.mjs or index.js)", in.Runtime)
	}
	if in.Role == "" {
		return FunctionConfiguration{}, invalid("Role is required")
	}
	if err := checkEnvironment(in.Environment); err != nil {
		return FunctionConfiguration{}, err
	}
	if err := checkTimeoutMemory(in.Timeout, in.MemorySize); err != nil {
		return FunctionConfiguration{}, err
	}
	if err := checkLogging(in.LoggingConfig); err != nil {
		return FunctionConfiguration{}, err
	}
	arch, err := checkArchitectures(in.Architectures)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	sha, key, err := s.storeCode(in.Code.ZipFile)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	cfg := FunctionConfiguration{
		FunctionName: name, FunctionArn: core.FunctionARN(name, ""), Runtime: in.Runtime, Role: in.Role,
		Handler: in.Handler, CodeSize: int64(len(in.Code.ZipFile)), Description: in.Description,
		Timeout: defaultTimeout, MemorySize: defaultMemory, LastModified: s.stamp(), CodeSha256: sha,
		Version: latest, RevisionId: newRevision(), State: "Active", LastUpdateStatus: "Successful",
		PackageType: "Zip", Architectures: arch, EphemeralStorage: EphemeralStorage{Size: 512},
		TracingConfig: TracingConfig{Mode: "PassThrough"},
		LoggingConfig: LoggingConfig{LogFormat: "Text", LogGroup: "/aws/lambda/" + name},
	}
	if in.Timeout != nil {
		cfg.Timeout = *in.Timeout
	}
	if in.MemorySize != nil {
		cfg.MemorySize = *in.MemorySize
	}
	if in.Environment != nil {
		cfg.Environment = &EnvironmentResponse{Variables: maps.Clone(in.Environment.Variables)}
	}
	cfg.DeadLetterConfig = deadLetter(in.DeadLetterConfig)
	applyLogging(&cfg, in.LoggingConfig)

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.functions[name]; ok {
		return FunctionConfiguration{}, conflict("Function already exist: %s", name)
	}
	v := &version{Config: cfg, CodeKey: key, Creating: true, SettlesAt: s.opts.Clock().Add(s.opts.UpdateDuration)}
	f := &function{Latest: v, Versions: map[string]*version{}, Aliases: map[string]*AliasConfiguration{}, Tags: maps.Clone(in.Tags)}
	s.functions[name] = f
	out := v.view(s.opts.Clock())
	if in.Publish {
		// Lambda publishes the first version as part of the create.
		pv := s.publishLocked(name, f, "")
		out = pv.view(s.opts.Clock())
	}
	return out, nil
}

func checkArchitectures(a []string) ([]string, error) {
	if len(a) == 0 {
		return []string{"x86_64"}, nil
	}
	if len(a) != 1 || (a[0] != "x86_64" && a[0] != "arm64") {
		return nil, invalid("Architectures must be exactly one of x86_64, arm64")
	}
	return []string{a[0]}, nil
}

func applyLogging(cfg *FunctionConfiguration, l *LoggingConfig) {
	if l == nil {
		return
	}
	if l.LogFormat != "" {
		cfg.LoggingConfig.LogFormat = l.LogFormat
	}
	if l.LogGroup != "" {
		cfg.LoggingConfig.LogGroup = l.LogGroup
	}
	if cfg.LoggingConfig.LogFormat == "JSON" {
		cfg.LoggingConfig.ApplicationLogLevel = or(l.ApplicationLogLevel, or(cfg.LoggingConfig.ApplicationLogLevel, "INFO"))
		cfg.LoggingConfig.SystemLogLevel = or(l.SystemLogLevel, or(cfg.LoggingConfig.SystemLogLevel, "INFO"))
	} else {
		cfg.LoggingConfig.ApplicationLogLevel, cfg.LoggingConfig.SystemLogLevel = "", ""
	}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// lookup finds a function; the caller holds s.mu.
// lookupChangeable finds a function whose $LATEST may be changed or
// published at now: not being created (Pending) or updated, and still at
// revisionID when one is given, as AWS checks; the caller holds s.mu.
func (s *Service) lookupChangeable(name, revisionID string, now time.Time) (*function, error) {
	f, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	if f.Latest.busy(now) {
		if f.Latest.Creating {
			return nil, pending()
		}
		return nil, updateInProgress(name)
	}
	if err := checkRevision(revisionID, f.Latest.Config.RevisionId); err != nil {
		return nil, err
	}
	return f, nil
}

// Tags returns a function's tags (nil for none); ok is false when there is
// no such function. The sandbox's IAM reads them for aws:ResourceTag
// conditions.
func (s *Service) Tags(name string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.functions[name]
	if !ok {
		return nil, false
	}
	return maps.Clone(f.Tags), true
}

func (s *Service) lookup(name string) (*function, error) {
	f, ok := s.functions[name]
	if !ok {
		return nil, functionNotFound(name, "")
	}
	return f, nil
}

// versionOf finds a version or alias's configuration; the caller holds s.mu.
func (f *function) versionOf(name, qualifier string) (*version, error) {
	switch {
	case qualifier == "" || qualifier == latest:
		return f.Latest, nil
	case versionRe.MatchString(qualifier):
		if v, ok := f.Versions[qualifier]; ok {
			return v, nil
		}
	default:
		if a, ok := f.Aliases[qualifier]; ok {
			return f.versionOf(name, a.FunctionVersion)
		}
	}
	return nil, functionNotFound(name, qualifier)
}

// GetFunctionConfiguration returns the configuration of $LATEST, a version or
// the version an alias points to.
func (s *Service) GetFunctionConfiguration(function, qualifier string) (FunctionConfiguration, error) {
	name, q, err := resolveName(function, qualifier)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.lookup(name)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	v, err := f.versionOf(name, q)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	return v.view(s.opts.Clock()), nil
}

// UpdateFunctionCode replaces $LATEST's code. The update stays InProgress
// for Options.UpdateDuration.
func (s *Service) UpdateFunctionCode(function string, in UpdateFunctionCodeInput) (FunctionConfiguration, error) {
	name, err := unqualified(function)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	if in.Architectures != nil {
		if _, err := checkArchitectures(in.Architectures); err != nil {
			return FunctionConfiguration{}, err
		}
	}
	s.mu.Lock()
	_, err = s.lookup(name)
	s.mu.Unlock()
	if err != nil {
		return FunctionConfiguration{}, err
	}
	sha, key, err := s.storeCode(in.ZipFile)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock()
	f, err := s.lookupChangeable(name, in.RevisionId, now)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	v := f.Latest
	if in.DryRun {
		c := v.view(now)
		c.CodeSha256, c.CodeSize = sha, int64(len(in.ZipFile))
		return c, nil
	}
	v.Config.CodeSha256, v.Config.CodeSize, v.CodeKey = sha, int64(len(in.ZipFile)), key
	if in.Architectures != nil {
		v.Config.Architectures = []string{in.Architectures[0]}
	}
	v.Config.LastModified = s.stamp()
	v.Config.RevisionId = newRevision()
	v.Creating = false
	v.SettlesAt = now.Add(s.opts.UpdateDuration)
	if in.Publish {
		// Publish waits for nothing here: the new code is already in place.
		pv := s.publishLocked(name, f, "")
		return pv.view(now), nil
	}
	return v.view(now), nil
}

// UpdateFunctionConfiguration changes $LATEST's settings.
func (s *Service) UpdateFunctionConfiguration(function string, in UpdateFunctionConfigurationInput) (FunctionConfiguration, error) {
	name, err := unqualified(function)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	if err := checkEnvironment(in.Environment); err != nil {
		return FunctionConfiguration{}, err
	}
	if err := checkTimeoutMemory(in.Timeout, in.MemorySize); err != nil {
		return FunctionConfiguration{}, err
	}
	if err := checkLogging(in.LoggingConfig); err != nil {
		return FunctionConfiguration{}, err
	}
	if in.Runtime != nil && !supportedRuntimes[*in.Runtime] {
		return FunctionConfiguration{}, invalid("The runtime parameter of %q is not supported by the sandbox: it runs %s functions", *in.Runtime, supportedRuntimesText)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.lookup(name)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	now := s.opts.Clock()
	v := f.Latest
	runtime, handler := v.Config.Runtime, v.Config.Handler
	if in.Runtime != nil {
		runtime = *in.Runtime
	}
	if in.Handler != nil {
		handler = *in.Handler
	}
	if nodeMajor(runtime) != "" && handler == "" {
		return FunctionConfiguration{}, invalid("Handler is required for runtime %s (e.g. index.handler: the export handler of index.mjs or index.js)", runtime)
	}
	if v.busy(now) {
		return FunctionConfiguration{}, updateInProgress(name)
	}
	if err := checkRevision(in.RevisionId, v.Config.RevisionId); err != nil {
		return FunctionConfiguration{}, err
	}
	c := &v.Config
	if in.Environment != nil {
		c.Environment = &EnvironmentResponse{Variables: maps.Clone(in.Environment.Variables)}
		if c.Environment.Variables == nil {
			c.Environment.Variables = map[string]string{}
		}
	}
	if in.Description != nil {
		c.Description = *in.Description
	}
	if in.Timeout != nil {
		c.Timeout = *in.Timeout
	}
	if in.MemorySize != nil {
		c.MemorySize = *in.MemorySize
	}
	if in.Handler != nil {
		c.Handler = *in.Handler
	}
	if in.Runtime != nil {
		c.Runtime = *in.Runtime
	}
	if in.Role != nil {
		c.Role = *in.Role
	}
	if in.DeadLetterConfig != nil {
		c.DeadLetterConfig = deadLetter(in.DeadLetterConfig)
	}
	applyLogging(c, in.LoggingConfig)
	c.LastModified = s.stamp()
	c.RevisionId = newRevision()
	v.Creating = false
	v.SettlesAt = now.Add(s.opts.UpdateDuration)
	return v.view(now), nil
}

// PublishVersion publishes $LATEST as a new version, or returns the newest
// version when $LATEST has not changed since it was published.
func (s *Service) PublishVersion(function string, in PublishVersionInput) (FunctionConfiguration, error) {
	name, err := unqualified(function)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock()
	f, err := s.lookupChangeable(name, in.RevisionId, now)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	l := f.Latest
	if in.CodeSha256 != "" && in.CodeSha256 != l.Config.CodeSha256 {
		return FunctionConfiguration{}, invalid("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", in.CodeSha256, l.Config.CodeSha256)
	}
	return s.publishLocked(name, f, in.Description).view(now), nil
}

// publishLocked cuts a version from $LATEST unless the newest version was
// cut from this very revision; the caller holds s.mu.
func (s *Service) publishLocked(name string, f *function, description string) *version {
	if f.LastVersion > 0 {
		if last, ok := f.Versions[strconv.Itoa(f.LastVersion)]; ok && last.PublishedFrom == f.Latest.Config.RevisionId {
			return last
		}
	}
	f.LastVersion++
	n := strconv.Itoa(f.LastVersion)
	c := f.Latest.Config
	if c.Environment != nil {
		c.Environment = &EnvironmentResponse{Variables: maps.Clone(c.Environment.Variables)}
	}
	c.Version = n
	c.FunctionArn = core.FunctionARN(name, n)
	c.RevisionId = newRevision()
	c.State, c.StateReason, c.StateReasonCode, c.LastUpdateStatus = "Active", "", "", "Successful"
	if description != "" {
		c.Description = description
	}
	// A new version is Pending until Lambda has prepared it, then Active
	// (Lambda function states); view reports it, invoke refuses it.
	v := &version{Config: c, CodeKey: f.Latest.CodeKey, PublishedFrom: f.Latest.Config.RevisionId,
		Creating: true, SettlesAt: s.opts.Clock().Add(s.opts.PublishDuration)}
	f.Versions[n] = v
	return v
}

// ListVersionsByFunction lists $LATEST and every published version, oldest
// first, paginated by Marker/MaxItems.
func (s *Service) ListVersionsByFunction(function, marker string, maxItems int) ([]FunctionConfiguration, string, error) {
	name, err := unqualified(function)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.lookup(name)
	if err != nil {
		return nil, "", err
	}
	now := s.opts.Clock()
	// Here $LATEST carries its qualified ARN (…:function:name:$LATEST), as
	// AWS lists it (ListVersionsByFunction example, AWS CLI Command
	// Reference / Lambda code examples), unlike GetFunctionConfiguration.
	head := f.Latest.view(now)
	head.FunctionArn = core.FunctionARN(name, latest)
	all := []FunctionConfiguration{head}
	for _, n := range f.versionNumbers() {
		all = append(all, f.Versions[n].view(now))
	}
	return paginate(all, marker, maxItems)
}

func (f *function) versionNumbers() []string {
	ns := slices.Collect(maps.Keys(f.Versions))
	slices.SortFunc(ns, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	return ns
}

func paginate[T any](all []T, marker string, maxItems int) ([]T, string, error) {
	start := 0
	if marker != "" {
		n, err := strconv.Atoi(marker)
		if err != nil || n < 0 || n > len(all) {
			return nil, "", invalid("Invalid marker %q", marker)
		}
		start = n
	}
	if maxItems <= 0 || maxItems > 10000 {
		maxItems = 50
	}
	end := min(start+maxItems, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[start:end], next, nil
}

// ListFunctions lists the $LATEST configuration of every function.
func (s *Service) ListFunctions(marker string, maxItems int) ([]FunctionConfiguration, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := slices.Sorted(maps.Keys(s.functions))
	now := s.opts.Clock()
	all := make([]FunctionConfiguration, 0, len(names))
	for _, n := range names {
		all = append(all, s.functions[n].Latest.view(now))
	}
	return paginate(all, marker, maxItems)
}

// checkAlias validates an alias's target and routing; the caller holds s.mu.
func (f *function) checkAlias(name, version string, rc *RoutingConfig) error {
	if version == "" {
		return invalid("FunctionVersion is required")
	}
	if version != latest && !versionRe.MatchString(version) {
		return invalid("1 validation error detected: Value '%s' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)", version)
	}
	if version != latest {
		if _, ok := f.Versions[version]; !ok {
			return functionNotFound(name, version)
		}
	}
	if rc == nil || len(rc.AdditionalVersionWeights) == 0 {
		return nil
	}
	if err := checkWeights(rc.AdditionalVersionWeights); err != nil {
		return err
	}
	if len(rc.AdditionalVersionWeights) > 1 {
		return invalid("Number of items in AdditionalVersionWeights must be at most 1: an alias can point to at most two versions")
	}
	if version == latest {
		return invalid("$LATEST is not supported for an alias pointing to more than 1 version")
	}
	for v := range rc.AdditionalVersionWeights {
		if v == version {
			return invalid("Alias cannot point to the same version %s in FunctionVersion and AdditionalVersionWeights", v)
		}
		extra, ok := f.Versions[v]
		if !ok {
			return functionNotFound(name, v)
		}
		if err := sameRoleAndDeadLetter(f.Versions[version].Config, extra.Config); err != nil {
			return err
		}
	}
	return nil
}

// sameRoleAndDeadLetter applies the rule of weighted aliases: "Both
// versions must have the same execution role" and "the same dead-letter
// queue configuration, or no dead-letter queue configuration" (Lambda
// aliases, https://docs.aws.amazon.com/lambda/latest/dg/configuration-aliases.html).
// AWS refuses such a CreateAlias or UpdateAlias with
// InvalidParameterValueException.
func sameRoleAndDeadLetter(primary, extra FunctionConfiguration) error {
	if primary.Role != extra.Role {
		return invalid("Alias can only point to versions with the same execution role: version %s has role %s, version %s has role %s",
			primary.Version, primary.Role, extra.Version, extra.Role)
	}
	if dlq(primary) != dlq(extra) {
		return invalid("Alias can only point to versions with the same dead-letter queue configuration: version %s has %q, version %s has %q",
			primary.Version, dlq(primary), extra.Version, dlq(extra))
	}
	return nil
}

func dlq(c FunctionConfiguration) string {
	if c.DeadLetterConfig == nil {
		return ""
	}
	return c.DeadLetterConfig.TargetArn
}

// deadLetter stores a DeadLetterConfig; an empty TargetArn is none.
func deadLetter(d *DeadLetterConfig) *DeadLetterConfig {
	if d == nil || d.TargetArn == "" {
		return nil
	}
	return &DeadLetterConfig{TargetArn: d.TargetArn}
}

// checkWeights applies the constraints of AdditionalVersionWeights in
// Lambda's API model — keys AdditionalVersion (pattern [0-9]+, length
// 1–1024), values Weight (0.0–1.0) — which AWS checks before anything else
// and refuses with ValidationException, not InvalidParameterValueException
// (AliasRoutingConfiguration, Lambda API Reference).
func checkWeights(weights map[string]float64) error {
	for _, v := range slices.Sorted(maps.Keys(weights)) {
		w := weights[v]
		if len(v) > 1024 || !versionRe.MatchString(v) {
			return validationErr("1 validation error detected: Value '{%s=%v}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]", v, w)
		}
		if math.IsNaN(w) || w < 0 || w > 1 {
			return validationErr("1 validation error detected: Value '{%s=%v}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]", v, w)
		}
	}
	return nil
}

func routing(rc *RoutingConfig) *RoutingConfig {
	if rc == nil || len(rc.AdditionalVersionWeights) == 0 {
		return nil
	}
	return &RoutingConfig{AdditionalVersionWeights: maps.Clone(rc.AdditionalVersionWeights)}
}

// checkAliasDescription applies the model's limit on an alias's
// description, "Maximum length of 256" (CreateAlias, UpdateAlias, Lambda
// API Reference); AWS refuses a longer one with ValidationException.
func checkAliasDescription(d string) error {
	if len(d) > 256 {
		return validationErr("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256")
	}
	return nil
}

// CreateAlias creates an alias for a version.
func (s *Service) CreateAlias(function string, in CreateAliasInput) (AliasConfiguration, error) {
	name, err := unqualified(function)
	if err != nil {
		return AliasConfiguration{}, err
	}
	if !aliasNameRe.MatchString(in.Name) || versionRe.MatchString(in.Name) || in.Name == latest {
		return AliasConfiguration{}, validationErr("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)", in.Name)
	}
	if err := checkAliasDescription(in.Description); err != nil {
		return AliasConfiguration{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.lookup(name)
	if err != nil {
		return AliasConfiguration{}, err
	}
	if err := f.checkAlias(name, in.FunctionVersion, in.RoutingConfig); err != nil {
		return AliasConfiguration{}, err
	}
	if _, ok := f.Aliases[in.Name]; ok {
		return AliasConfiguration{}, conflict("Alias already exists: %s", core.FunctionARN(name, in.Name))
	}
	a := &AliasConfiguration{
		AliasArn: core.FunctionARN(name, in.Name), Name: in.Name, FunctionVersion: in.FunctionVersion,
		Description: in.Description, RoutingConfig: routing(in.RoutingConfig), RevisionId: newRevision(),
	}
	f.Aliases[in.Name] = a
	return cloneAlias(a), nil
}

// GetAlias returns an alias.
func (s *Service) GetAlias(function, alias string) (AliasConfiguration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _, a, err := s.lookupAlias(function, alias)
	if err != nil {
		return AliasConfiguration{}, err
	}
	return cloneAlias(a), nil
}

// lookupAlias finds a function (by name or ARN) and one of its aliases,
// returning the plain function name too; the caller holds s.mu.
func (s *Service) lookupAlias(function, alias string) (string, *function, *AliasConfiguration, error) {
	name, err := unqualified(function)
	if err != nil {
		return "", nil, nil, err
	}
	f, err := s.lookup(name)
	if err != nil {
		return "", nil, nil, err
	}
	a, ok := f.Aliases[alias]
	if !ok {
		return "", nil, nil, notFound("Alias not found: %s", core.FunctionARN(name, alias))
	}
	return name, f, a, nil
}

// UpdateAlias moves an alias and/or changes its routing; RevisionId, when
// given, must be the alias's current one.
func (s *Service) UpdateAlias(function, alias string, in UpdateAliasInput) (AliasConfiguration, error) {
	if in.Description != nil {
		if err := checkAliasDescription(*in.Description); err != nil {
			return AliasConfiguration{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name, f, a, err := s.lookupAlias(function, alias)
	if err != nil {
		return AliasConfiguration{}, err
	}
	if err := checkRevision(in.RevisionId, a.RevisionId); err != nil {
		return AliasConfiguration{}, err
	}
	next := cloneAlias(a)
	if in.FunctionVersion != "" {
		next.FunctionVersion = in.FunctionVersion
	}
	if in.Description != nil {
		next.Description = *in.Description
	}
	if in.RoutingConfig != nil {
		next.RoutingConfig = routing(in.RoutingConfig)
	}
	if err := f.checkAlias(name, next.FunctionVersion, next.RoutingConfig); err != nil {
		return AliasConfiguration{}, err
	}
	next.RevisionId = newRevision()
	f.Aliases[alias] = &next
	return cloneAlias(&next), nil
}

// ListAliases lists a function's aliases by name, optionally only those
// pointing at functionVersion.
func (s *Service) ListAliases(function, functionVersion, marker string, maxItems int) ([]AliasConfiguration, string, error) {
	name, err := unqualified(function)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.lookup(name)
	if err != nil {
		return nil, "", err
	}
	var all []AliasConfiguration
	for _, n := range slices.Sorted(maps.Keys(f.Aliases)) {
		a := f.Aliases[n]
		if functionVersion != "" && a.FunctionVersion != functionVersion {
			continue
		}
		all = append(all, cloneAlias(a))
	}
	return paginate(all, marker, maxItems)
}

// ---- persistence ------------------------------------------------------------

type snapshot struct {
	Functions map[string]*function `json:"functions"`
}

// Snapshot returns the whole state (functions, versions, aliases) as JSON.
// The code itself stays in CodeDir.
func (s *Service) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return json.Marshal(snapshot{Functions: s.functions})
}

// Restore replaces the state with a Snapshot.
func (s *Service) Restore(data []byte) error {
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("lambda: restore: %w", err)
	}
	if snap.Functions == nil {
		snap.Functions = map[string]*function{}
	}
	for name, f := range snap.Functions {
		if f.Latest == nil {
			return fmt.Errorf("lambda: restore: function %s has no $LATEST", name)
		}
		if f.Versions == nil {
			f.Versions = map[string]*version{}
		}
		if f.Aliases == nil {
			f.Aliases = map[string]*AliasConfiguration{}
		}
		// Whatever was settling when the state was saved has settled since.
		f.Latest.SettlesAt, f.Latest.Creating = time.Time{}, false
		for _, v := range f.Versions {
			v.SettlesAt, v.Creating = time.Time{}, false
		}
		for _, v := range append([]*version{f.Latest}, slices.Collect(maps.Values(f.Versions))...) {
			if _, err := os.Stat(filepath.Join(s.opts.CodeDir, v.CodeKey+".zip")); err != nil {
				return fmt.Errorf("lambda: restore: code of %s:%s: %w", name, v.Config.Version, err)
			}
		}
	}
	s.rt.closeAll()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.functions = snap.Functions
	return nil
}
