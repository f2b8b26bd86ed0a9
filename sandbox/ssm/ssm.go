// Package ssmsvc is the sandbox's AWS Systems Manager Parameter Store
// (awsJson1_1, X-Amz-Target "AmazonSSM.<Op>"): GetParameter and
// PutParameter of Standard String parameters, which is what aliasflow calls
// (the release Lambda reads each target's settings; `aliasflow local`
// writes them; the approval Lambda counts approvals in parameters it
// creates and deletes with DeleteParameters). Behaviour follows the SSM API reference (GetParameter,
// PutParameter) and "Creating Systems Manager parameters" (naming rules):
// a missing name is ParameterNotFound, an existing one without Overwrite is
// ParameterAlreadyExists, a value over 4 KB is refused, and each write makes
// a new version. Other types, tiers, selectors and operations are refused
// loudly rather than half-served.
package ssmsvc

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

const (
	// maxStandardValue and maxAdvancedValue are a Standard and an Advanced
	// parameter's value limits, 4 KB and 8 KB ("Managing parameter tiers").
	maxStandardValue = 4096
	maxAdvancedValue = 8192
	// maxDepth is the deepest hierarchy Parameter Store allows: 15 levels.
	maxDepth = 15
)

// Service is the Parameter Store emulation. It is an http.Handler.
type Service struct {
	now func() time.Time

	mu     sync.Mutex
	params map[string]*parameter // by name
	bus    EventBus
}

// EventBus receives the events an AWS service emits: the sandbox's
// EventBridge.
type EventBus = core.EventBus

// SetEventBus makes each successful PutParameter API call reach bus as
// CloudTrail's record of it, as on an account with a trail ("AWS service
// events delivered via AWS CloudTrail", Amazon EventBridge User Guide).
// The sandbox's own deployment (the PutParameter method) is not an API
// call and emits nothing.
func (s *Service) SetEventBus(bus EventBus) {
	s.mu.Lock()
	s.bus = bus
	s.mu.Unlock()
}

type parameter struct {
	Name        string
	Value       string
	Description string `json:",omitempty"`
	Version     int64
	Modified    time.Time
	// Tier is "Advanced" once the parameter was put in that tier (it never
	// goes back to Standard); "" is Standard.
	Tier string `json:",omitempty"`
	// History is every version written, oldest first (the last
	// maxVersions).
	History []version `json:",omitempty"`
}

// version is one write of a parameter, as GetParameterHistory lists it.
type version struct {
	Version  int64
	Value    string
	Modified time.Time
	// User is the writer's ARN; "" for the sandbox's own deployment.
	User string `json:",omitempty"`
}

// maxVersions is how many versions Parameter Store keeps of a parameter
// ("Working with parameter versions", AWS Systems Manager User Guide).
const maxVersions = 100

// New returns an empty Parameter Store; now defaults to time.Now.
func New(now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{now: now, params: map[string]*parameter{}}
}

// ServeHTTP serves the Parameter Store API.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	core.ServeAWSJSON(w, r, "ssm", map[string]core.JSONOp{
		"GetParameter":        s.getParameter,
		"GetParametersByPath": s.getParametersByPath,
		"GetParameterHistory": s.getParameterHistory,
		"PutParameter":        s.putParameter,
		"DeleteParameters":    s.deleteParameters,
	})
}

func validation(format string, args ...any) *core.APIError {
	return core.Errorf("ValidationException", http.StatusBadRequest, format, args...)
}

// nameRE: letters, digits and . - _ / (parameter naming constraints).
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_./-]+$`)

func checkName(name string) error {
	switch {
	case name == "":
		return validation("1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case len(name) > 2048:
		return validation("1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length less than or equal to 2048")
	case !nameRE.MatchString(name):
		return validation("Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: /get/parameters2-/by1./path0_.")
	}
	first := strings.ToLower(strings.TrimPrefix(name, "/"))
	if strings.HasPrefix(first, "aws") || strings.HasPrefix(first, "ssm") {
		return validation("No access to reserved parameter name: %s.", name)
	}
	if strings.Contains(name, "/") && !strings.HasPrefix(name, "/") {
		return validation("Parameter name must be a fully qualified name.")
	}
	if strings.Count(name, "/") > maxDepth {
		return core.Errorf("HierarchyLevelLimitExceededException", http.StatusBadRequest, "The parameter hierarchy depth exceeds the limit of %d levels", maxDepth)
	}
	return nil
}

// resolve turns a GetParameter Name (name or ARN) into the parameter name.
func resolve(name string) (string, error) {
	if arn, ok := strings.CutPrefix(name, "arn:"); ok {
		// arn:aws:ssm:<region>:<account>:parameter/<name without its leading />
		parts := strings.SplitN(arn, ":", 5)
		if len(parts) != 5 || parts[1] != "ssm" || parts[2] != core.Region || parts[3] != core.Account || !strings.HasPrefix(parts[4], "parameter/") {
			return "", validation("Invalid parameter ARN: %s", name)
		}
		n := strings.TrimPrefix(parts[4], "parameter")
		if strings.Count(n, "/") == 1 {
			n = strings.TrimPrefix(n, "/") // a name outside any hierarchy
		}
		return n, nil
	}
	if strings.Contains(name, ":") {
		return "", core.Errorf("UnsupportedOperationException", http.StatusBadRequest, "the aliasflow sandbox does not implement version or label selectors (%q)", name)
	}
	return name, nil
}

func (s *Service) arn(name string) string {
	return "arn:aws:ssm:" + core.Region + ":" + core.Account + ":parameter/" + strings.TrimPrefix(name, "/")
}

func (s *Service) getParameter(_ context.Context, body []byte) (any, error) {
	var in struct {
		Name           string
		WithDecryption *bool
	}
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	name, err := resolve(in.Name)
	if err != nil {
		return nil, err
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.params[name]
	if p == nil {
		// GetParameter answers an unknown name with ParameterNotFound (SSM
		// API reference, GetParameter "Errors").
		return nil, core.Errorf("ParameterNotFound", http.StatusBadRequest, "")
	}
	return map[string]any{"Parameter": map[string]any{
		"Name": p.Name, "Type": "String", "Value": p.Value, "Version": p.Version,
		"LastModifiedDate": float64(p.Modified.UnixMilli()) / 1000, "ARN": s.arn(p.Name), "DataType": "text",
	}}, nil
}

// getParametersByPath lists the parameters under a hierarchy, in pages of
// MaxResults (1–10, default 10) with a NextToken ("GetParametersByPath",
// AWS Systems Manager API Reference: Path starts with /; Recursive false
// returns only the level right under Path). `aliasflow status` lists the
// targets of a pipeline with it.
func (s *Service) getParametersByPath(_ context.Context, body []byte) (any, error) {
	var in struct {
		Path           string
		Recursive      bool
		MaxResults     int
		NextToken      string
		WithDecryption *bool
	}
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(in.Path, "/") {
		return nil, validation("The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\".")
	}
	if err := checkName(in.Path); err != nil && in.Path != "/" {
		return nil, err
	}
	if in.MaxResults == 0 {
		in.MaxResults = 10
	}
	if in.MaxResults < 1 || in.MaxResults > 10 {
		return nil, validation("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10", in.MaxResults)
	}
	prefix := strings.TrimSuffix(in.Path, "/") + "/"
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for name := range s.params {
		rest, ok := strings.CutPrefix(name, prefix)
		if ok && rest != "" && (in.Recursive || !strings.Contains(rest, "/")) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 || n > len(names) {
			return nil, core.Errorf("ValidationException", http.StatusBadRequest, "The specified next token is invalid.")
		}
		start = n
	}
	end := min(start+in.MaxResults, len(names))
	params := []map[string]any{}
	for _, name := range names[start:end] {
		p := s.params[name]
		params = append(params, map[string]any{
			"Name": p.Name, "Type": "String", "Value": p.Value, "Version": p.Version,
			"LastModifiedDate": float64(p.Modified.UnixMilli()) / 1000, "ARN": s.arn(p.Name), "DataType": "text",
		})
	}
	out := map[string]any{"Parameters": params}
	if end < len(names) {
		out["NextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

// deleteParameters deletes up to 10 parameters; names that do not exist
// are listed as InvalidParameters, not an error (DeleteParameters, AWS
// Systems Manager API Reference: "Names: ... Maximum number of 10 items";
// "InvalidParameters: The names of parameters that weren't deleted because
// the parameters aren't valid").
func (s *Service) deleteParameters(_ context.Context, body []byte) (any, error) {
	var in struct{ Names []string }
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.Names) < 1 || len(in.Names) > 10 {
		return nil, validation("1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	deleted, invalid := []string{}, []string{}
	for _, name := range in.Names {
		if _, ok := s.params[name]; ok {
			delete(s.params, name)
			deleted = append(deleted, name)
		} else {
			invalid = append(invalid, name)
		}
	}
	return map[string]any{"DeletedParameters": deleted, "InvalidParameters": invalid}, nil
}

func (s *Service) putParameter(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Name, Value, Description string
		Type, Tier, DataType     string
		KeyId, AllowedPattern    string
		Policies                 string
		Overwrite                *bool
		Tags                     []json.RawMessage
	}
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if err := checkName(in.Name); err != nil {
		return nil, err
	}
	switch {
	case in.Type != "" && in.Type != "String":
		return nil, core.Errorf("UnsupportedParameterType", http.StatusBadRequest, "the aliasflow sandbox holds String parameters only, not %s", in.Type)
	case in.Tier != "" && in.Tier != "Standard" && in.Tier != "Advanced":
		return nil, core.Errorf("UnsupportedOperationException", http.StatusBadRequest, "the aliasflow sandbox holds Standard and Advanced parameters only, not %s", in.Tier)
	case in.DataType != "" && in.DataType != "text", in.KeyId != "", in.AllowedPattern != "", in.Policies != "":
		return nil, core.Errorf("UnsupportedOperationException", http.StatusBadRequest, "the aliasflow sandbox does not implement DataType, KeyId, AllowedPattern or Policies")
	case in.Value == "":
		return nil, validation("1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case len(in.Value) > maxAdvancedValue:
		return nil, validation("Advanced tier parameters support a maximum parameter value of %d characters.", maxAdvancedValue)
	case len(in.Value) > maxStandardValue && in.Tier != "Advanced" && !s.advanced(in.Name):
		return nil, validation("Standard tier parameters support a maximum parameter value of %d characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier.", maxStandardValue)
	case len(in.Tags) > 0 && in.Overwrite != nil && *in.Overwrite:
		return nil, validation("Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.")
	}
	// The event is put once the lock is released: a rule may deliver it to
	// a function that reads the parameter's history at once.
	var emit func()
	defer func() {
		if emit != nil {
			emit()
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.params[in.Name]
	if p != nil && (in.Overwrite == nil || !*in.Overwrite) {
		return nil, core.Errorf("ParameterAlreadyExists", http.StatusBadRequest, "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")
	}
	if p == nil {
		if in.Type == "" {
			return nil, validation("A parameter type is required when you create a parameter.")
		}
		p = &parameter{Name: in.Name}
		s.params[in.Name] = p
	}
	p.Value, p.Version, p.Modified = in.Value, p.Version+1, s.now()
	if in.Description != "" {
		p.Description = in.Description
	}
	if in.Tier == "Advanced" {
		p.Tier = "Advanced"
	}
	tier := p.Tier
	if tier == "" {
		tier = "Standard"
	}
	caller, isAPICall := core.CallerOf(ctx)
	p.History = append(p.History, version{Version: p.Version, Value: p.Value, Modified: p.Modified, User: caller.ARN})
	if len(p.History) > maxVersions {
		p.History = p.History[len(p.History)-maxVersions:]
	}
	if isAPICall && s.bus != nil {
		params := map[string]any{"name": in.Name}
		if in.Type != "" {
			params["type"] = in.Type
		}
		if in.Overwrite != nil {
			params["overwrite"] = *in.Overwrite
		}
		if in.Tier != "" {
			params["tier"] = in.Tier
		}
		bus, at, response := s.bus, p.Modified, map[string]any{"version": p.Version, "tier": tier}
		emit = func() { emitCall(bus, caller, at, "PutParameter", params, response) }
	}
	return map[string]any{"Version": p.Version, "Tier": tier}, nil
}

// emitCall puts CloudTrail's record of a successful Parameter Store API
// call on the bus (core.EmitAPICall).
func emitCall(bus EventBus, c core.Caller, at time.Time, op string, request, response map[string]any) {
	core.EmitAPICall(bus, core.APICall{Source: "aws.ssm", EventSource: "ssm.amazonaws.com", Name: op, Caller: c, At: at, Request: request, Response: response})
}

// getParameterHistory lists a parameter's versions, oldest first, in pages
// of MaxResults (1–50, default 50) with a NextToken ("GetParameterHistory",
// AWS Systems Manager API Reference). The release Lambda reads the version
// before a write to audit what the write changed.
func (s *Service) getParameterHistory(_ context.Context, body []byte) (any, error) {
	var in struct {
		Name           string
		MaxResults     int
		NextToken      string
		WithDecryption *bool
	}
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	name, err := resolve(in.Name)
	if err != nil {
		return nil, err
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	if in.MaxResults == 0 {
		in.MaxResults = 50
	}
	if in.MaxResults < 1 || in.MaxResults > 50 {
		return nil, validation("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50", in.MaxResults)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.params[name]
	if p == nil {
		return nil, core.Errorf("ParameterNotFound", http.StatusBadRequest, "")
	}
	history := p.History
	if len(history) == 0 {
		// A parameter restored from a snapshot older than the history.
		history = []version{{Version: p.Version, Value: p.Value, Modified: p.Modified}}
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 || n > len(history) {
			return nil, core.Errorf("ValidationException", http.StatusBadRequest, "The specified next token is invalid.")
		}
		start = n
	}
	end := min(start+in.MaxResults, len(history))
	tier := p.Tier
	if tier == "" {
		tier = "Standard"
	}
	out := []map[string]any{}
	for _, v := range history[start:end] {
		e := map[string]any{
			"Name": p.Name, "Type": "String", "Value": v.Value, "Version": v.Version, "Tier": tier, "DataType": "text",
			"LastModifiedDate": float64(v.Modified.UnixMilli()) / 1000, "Labels": []string{}, "Policies": []any{},
		}
		if v.User != "" {
			e["LastModifiedUser"] = v.User
		}
		out = append(out, e)
	}
	res := map[string]any{"Parameters": out}
	if end < len(history) {
		res["NextToken"] = strconv.Itoa(end)
	}
	return res, nil
}

// advanced reports whether the parameter name exists in the Advanced tier,
// which it keeps when a put names no tier.
func (s *Service) advanced(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.params[name]
	return p != nil && p.Tier == "Advanced"
}

// Snapshot returns every parameter, for persisting the sandbox's state.
func (s *Service) Snapshot() ([]byte, error) {
	return core.Snapshot(&s.mu, func() map[string]*parameter { return s.params })
}

// Restore replaces the parameters with those of a Snapshot.
func (s *Service) Restore(data []byte) error {
	return core.Restore("ssm", data, &s.mu, func(params map[string]*parameter) error {
		if params == nil {
			params = map[string]*parameter{}
		}
		s.params = params
		return nil
	})
}

// PutParameter writes a String parameter through the same checks as the
// PutParameter API, for the sandbox's own deployment (`aliasflow local`
// writing each target's settings, as the target construct does on AWS).
func (s *Service) PutParameter(name, value string, overwrite bool) (int64, error) {
	body, err := json.Marshal(map[string]any{"Name": name, "Value": value, "Type": "String", "Overwrite": overwrite})
	if err != nil {
		return 0, err
	}
	out, err := s.putParameter(context.Background(), body)
	if err != nil {
		return 0, err
	}
	return out.(map[string]any)["Version"].(int64), nil
}
