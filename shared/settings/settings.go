// Package settings reads a target's promotion settings from their store:
// one SSM Parameter Store String parameter per target function, named
// /aliasflow/<pipeline>/targets/<function>, holding the JSON of a
// config.Target. The target construct writes it; the release Lambda reads
// it through a Store, so that changing a target's settings needs no
// pipeline deploy and no Lambda environment (4 KB at most) carries them.
package settings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// EnvPath is the environment variable holding the path prefix of the
// settings parameters ("/aliasflow/<pipeline>/targets/").
const EnvPath = deploy.EnvSettingsPath

// DefaultPipeline is the pipeline name when none is given.
const DefaultPipeline = "aliasflow"

// Path is the prefix under which a pipeline's target settings live.
func Path(pipeline string) string { return "/aliasflow/" + pipeline + "/targets/" }

// ApprovalsPath is where the approval Lambda counts the approvals of a
// target needing more than one (approval.required), beside the settings
// path it is given: /aliasflow/<pipeline>/approvals/ for
// /aliasflow/<pipeline>/targets/. A separate path keeps those writes out
// of the settings (and of their settings.changed audit).
func ApprovalsPath(settingsPath string) (string, error) {
	base, ok := strings.CutSuffix(settingsPath, "/targets/")
	if !ok || !strings.HasPrefix(base, "/") {
		return "", fmt.Errorf("settings: path %q does not end in /targets/", settingsPath)
	}
	return base + "/approvals/", nil
}

// ParameterName is the parameter holding function's settings.
func ParameterName(pipeline, function string) string { return Path(pipeline) + function }

// DefaultTTL is how long a read is reused. Parameter Store's default
// throughput is 40 transactions per second per account and Region, shared
// by GetParameter, GetParameters and GetParametersByPath ("AWS Systems
// Manager endpoints and quotas"); a burst of releases from many builds must
// not spend it, nor pay a call per event. AWS's own Parameters and Secrets
// Lambda Extension caches for 300 s by default; 30 s keeps a settings
// change effective for the next release within half a minute.
const DefaultTTL = 30 * time.Second

// A parameter's value limit by tier: Standard 4 KB, Advanced 8 KB
// ("Managing parameter tiers", AWS Systems Manager User Guide). Settings
// larger than a Standard parameter holds are stored in an Advanced one when
// the owner opts in (it is charged per parameter-month, and Parameter Store
// never turns an Advanced parameter back into a Standard one).
const (
	MaxStandardBytes = 4096
	MaxAdvancedBytes = 8192
)

// SSM is the Parameter Store call a Store makes.
type SSM interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// Store reads and caches target settings. Build it with NewStore.
type Store struct {
	client SSM
	path   string
	ttl    time.Duration
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]entry
	// last is the version each function's last read found.
	last map[string]int64
}

type entry struct {
	target  config.Target
	version int64 // the parameter's version read
	err     error // ErrNotConfigured or a validation error, cached as well
	expires time.Time
}

// Options tune a Store; nil defaults sanely.
type Options struct {
	// TTL of a cached read (found or not found); DefaultTTL when zero,
	// no caching when negative.
	TTL time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// NewStore reads the settings under path (see Path) with client.
func NewStore(client SSM, path string, opts *Options) (*Store, error) {
	if !strings.HasPrefix(path, "/") || !strings.HasSuffix(path, "/") {
		return nil, fmt.Errorf("settings: path %q must start and end with /", path)
	}
	s := &Store{client: client, path: path, ttl: DefaultTTL, now: time.Now, cache: map[string]entry{}, last: map[string]int64{}}
	if opts != nil {
		if opts.TTL != 0 {
			s.ttl = opts.TTL
		}
		if opts.Now != nil {
			s.now = opts.Now
		}
	}
	return s, nil
}

// Target returns function's settings, defaults applied and validated. A
// function without a parameter yields an error wrapping ErrNotConfigured;
// settings that do not validate yield an error naming the parameter and the
// field. Both are cached like a success; a failed call is not.
func (s *Store) Target(ctx context.Context, function string) (config.Target, error) {
	if err := config.ValidateFunctionName(function); err != nil {
		return config.Target{}, fmt.Errorf("settings: %w", err)
	}
	now := s.now()
	s.mu.Lock()
	e, ok := s.cache[function]
	s.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.target, e.err
	}
	name := s.path + function
	out, err := s.client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	switch {
	case awserr.Code(err) == awserr.NotFound:
		e = entry{err: fmt.Errorf("function %q is %w (no parameter %s)", function, config.ErrNotConfigured, name)}
	case err != nil:
		return config.Target{}, fmt.Errorf("settings: get parameter %s: %w", name, err)
	default:
		var value string
		var version int64
		if out.Parameter != nil {
			value, version = aws.ToString(out.Parameter.Value), out.Parameter.Version
		}
		t, perr := Parse([]byte(value), function)
		if perr != nil {
			perr = &InvalidError{Parameter: name, Err: perr}
		}
		e = entry{target: t, version: version, err: perr}
	}
	s.mu.Lock()
	s.last[function] = e.version
	if s.ttl > 0 {
		e.expires = now.Add(s.ttl)
		s.cache[function] = e
	}
	s.mu.Unlock()
	return e.target, e.err
}

// Version is the version of function's settings parameter that the last
// Target call read (Parameter Store numbers each write of a parameter,
// "Working with parameter versions"); 0 before any read or when the
// parameter is missing.
func (s *Store) Version(function string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[function]
}

// InvalidError is a settings parameter whose value does not validate; Err
// names the field.
type InvalidError struct {
	Parameter string
	Err       error
}

func (e *InvalidError) Error() string { return "parameter " + e.Parameter + ": " + e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// Parse reads one target's settings document: the JSON of a config.Target
// for function. Unknown fields are refused (a misspelt setting must not be
// ignored), defaults applied, and every problem reported naming its field.
func Parse(data []byte, function string) (config.Target, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return config.Target{}, errors.New("the value is empty (want the JSON of the target's settings)")
	}
	if len(data) > MaxAdvancedBytes {
		return config.Target{}, fmt.Errorf("the value is %d bytes; an Advanced parameter holds at most %d", len(data), MaxAdvancedBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var t config.Target
	if err := dec.Decode(&t); err != nil {
		return config.Target{}, fmt.Errorf("malformed settings: %w", err)
	}
	if dec.More() {
		return config.Target{}, errors.New("malformed settings: more than one JSON value")
	}
	if t.Function != function {
		return config.Target{}, fmt.Errorf("function: the settings name %q, but the parameter is %q's", t.Function, function)
	}
	t.ApplyDefaults()
	if err := t.Validate("settings"); err != nil {
		return config.Target{}, err
	}
	return t, nil
}

// Encode renders settings as the value of a Standard parameter (what Parse
// reads).
func Encode(t config.Target) (string, error) { return encode(t, false) }

// EncodeAdvanced renders settings as the value of an Advanced parameter.
func EncodeAdvanced(t config.Target) (string, error) { return encode(t, true) }

func encode(t config.Target, advanced bool) (string, error) {
	doc, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("settings: encode %s: %w", t.Function, err)
	}
	switch {
	case len(doc) > MaxAdvancedBytes:
		return "", fmt.Errorf("settings of %s are %d bytes; an Advanced SSM parameter, the largest, holds at most %d (fewer or shorter smoke checks)", t.Function, len(doc), MaxAdvancedBytes)
	case len(doc) > MaxStandardBytes && !advanced:
		return "", fmt.Errorf("settings of %s are %d bytes; a Standard SSM parameter holds at most %d: opt in to an Advanced parameter (up to %d bytes, charged per parameter-month; TargetProps.AdvancedSettings) or use fewer or shorter smoke checks", t.Function, len(doc), MaxStandardBytes, MaxAdvancedBytes)
	}
	return string(doc), nil
}
