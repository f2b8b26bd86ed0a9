package iam

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/aliasflow/aliasflow/sandbox/internal/pydata"
)

// ReferenceEnv names the IAM action data file (cfn-lint's Policies.json);
// when unset, it is found by asking python3 where cfn-lint is installed.
const ReferenceEnv = "ALIASFLOW_IAM_REFERENCE"

// Reference is the Service Authorization Reference's table of actions as
// cfn-lint ships it (data/AdditionalSpecs/Policies.json: service prefix →
// Actions → action → Resources, the resource types the action can be
// scoped to). It is read where cfn-lint is installed, never copied into
// the repository.
type Reference struct {
	// actions maps "prefix:action" (lower case) to its resource types.
	actions map[string][]string
}

// ResourceTypes returns the resource types of action ("states:SendTaskSuccess",
// any case); an action the reference does not know is an error.
func (r *Reference) ResourceTypes(action string) ([]string, error) {
	types, ok := r.actions[strings.ToLower(action)]
	if !ok {
		return nil, fmt.Errorf("iam: %s is not an action of the Service Authorization Reference (%s)", action, ReferenceEnv)
	}
	return types, nil
}

// Matching returns the actions ("prefix:action", lower case) a policy's
// Action entry names, wildcards expanded; none for an unknown action.
func (r *Reference) Matching(pattern string) []string {
	var out []string
	for a := range r.actions {
		if matchAction(pattern, a) {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// Scope returns req as IAM authorizes it. An action the reference lists
// with no resource type does not support resource-level permissions: the
// request's resource is "*", so only a statement whose Resource matches
// "*" allows it, and no resource condition key (aws:ResourceTag/…) is in
// its context (the "Resource types" column of the Service Authorization
// Reference, "Actions, resources, and condition keys for AWS services",
// https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html;
// for Step Functions' SendTaskSuccess, SendTaskFailure and
// SendTaskHeartbeat the column is empty:
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html).
func (r *Reference) Scope(req Request) (Request, error) {
	types, err := r.ResourceTypes(req.Action)
	if err != nil || len(types) > 0 {
		return req, err
	}
	req.Resource = "*"
	var ctx map[string][]string
	for k, v := range req.Context {
		if strings.HasPrefix(strings.ToLower(k), "aws:resourcetag/") {
			continue
		}
		if ctx == nil {
			ctx = map[string][]string{}
		}
		ctx[k] = v
	}
	req.Context = ctx
	return req, nil
}

// LoadReference reads a Policies.json.
func LoadReference(path string) (*Reference, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("iam: the Service Authorization Reference data: %w", err)
	}
	var doc map[string]struct {
		Actions map[string]struct{ Resources []string }
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("iam: %s: %w", path, err)
	}
	ref := &Reference{actions: map[string][]string{}}
	for prefix, svc := range doc {
		for action, a := range svc.Actions {
			ref.actions[strings.ToLower(prefix+":"+action)] = a.Resources
		}
	}
	if len(ref.actions) == 0 {
		return nil, fmt.Errorf("iam: %s holds no actions", path)
	}
	return ref, nil
}

var (
	defaultRefOnce sync.Once
	defaultRef     *Reference
	defaultRefErr  error
)

// DefaultReference reads the reference from ReferenceEnv, or from the
// cfn-lint python3 finds, once per process.
func DefaultReference() (*Reference, error) {
	defaultRefOnce.Do(func() {
		path := os.Getenv(ReferenceEnv)
		if path == "" {
			dir, err := pydata.PackageDir("cfnlint")
			if err != nil {
				defaultRefErr = fmt.Errorf("iam: the Service Authorization Reference data comes with cfn-lint, not found (%v); install cfn-lint or set %s to its data/AdditionalSpecs/Policies.json", err, ReferenceEnv)
				return
			}
			path = filepath.Join(dir, "data", "AdditionalSpecs", "Policies.json")
		}
		defaultRef, defaultRefErr = LoadReference(path)
	})
	return defaultRef, defaultRefErr
}
