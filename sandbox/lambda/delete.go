package lambdasvc

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

// DeleteFunction deletes a function, with its versions and aliases, or
// with a qualifier one of its published versions ("To delete a specific
// function version, use the Qualifier parameter. Otherwise, all versions
// and aliases are deleted", DeleteFunction, Lambda API Reference,
// https://docs.aws.amazon.com/lambda/latest/api/API_DeleteFunction.html).
// As on AWS, a version an alias references — its FunctionVersion or a
// weighted route (AdditionalVersionWeights) — is refused with
// ResourceConflictException naming the aliases, $LATEST only goes with the
// function, and an alias is no qualifier to delete by. The model's own
// checks (the Qualifier's pattern and length) run before, in the
// sandbox's validation. The version's warm processes stop with it.
func (s *Service) DeleteFunction(function, qualifier string) error {
	name, q, err := resolveName(function, qualifier)
	if err != nil {
		return err
	}
	s.mu.Lock()
	f, err := s.lookup(name)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	switch {
	case q == "":
		delete(s.functions, name)
	case q == latest:
		s.mu.Unlock()
		return invalid("$LATEST version cannot be deleted without deleting the function.")
	case !versionRe.MatchString(q):
		s.mu.Unlock()
		return invalid("Deletion of aliases is not currently supported.")
	default:
		if _, ok := f.Versions[q]; !ok {
			s.mu.Unlock()
			return functionNotFound(name, q)
		}
		if refs := f.aliasesReferencing(q); len(refs) > 0 {
			s.mu.Unlock()
			return conflict("Unable to delete version because the following aliases reference it: [%s]", strings.Join(refs, ", "))
		}
		delete(f.Versions, q)
	}
	s.mu.Unlock()
	s.rt.retire(name, q)
	return nil
}

// aliasesReferencing names, sorted, the aliases that point or route to
// version; the caller holds s.mu.
func (f *function) aliasesReferencing(version string) []string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(f.Aliases)) {
		a := f.Aliases[n]
		_, routed := a.RoutingConfig.weights()[version]
		if a.FunctionVersion == version || routed {
			out = append(out, n)
		}
	}
	return out
}

func (rc *RoutingConfig) weights() map[string]float64 {
	if rc == nil {
		return nil
	}
	return rc.AdditionalVersionWeights
}

// Quotas the sandbox reports in GetAccountSettings, Lambda's defaults
// ("Lambda quotas",
// https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
// "Storage for uploaded functions (.zip file archives) and layers. Each
// function version and layer version consumes storage": 75 GB per Region;
// 250 MB unzipped; 1,000 concurrent executions.
const (
	totalCodeSizeLimit   = 75 << 30
	unzippedCodeLimit    = 250 << 20
	concurrentExecutions = 1000
)

// AccountUsage is GetAccountSettings's usage: the functions and the code
// storage their versions use.
type AccountUsage struct {
	FunctionCount int64 `json:"FunctionCount"`
	TotalCodeSize int64 `json:"TotalCodeSize"`
}

// AccountLimit is GetAccountSettings's limits, in bytes and executions.
type AccountLimit struct {
	TotalCodeSize                  int64 `json:"TotalCodeSize"`
	CodeSizeUnzipped               int64 `json:"CodeSizeUnzipped"`
	CodeSizeZipped                 int64 `json:"CodeSizeZipped"`
	ConcurrentExecutions           int   `json:"ConcurrentExecutions"`
	UnreservedConcurrentExecutions int   `json:"UnreservedConcurrentExecutions"`
}

// AccountSettings is GetAccountSettings's answer.
type AccountSettings struct {
	AccountLimit AccountLimit `json:"AccountLimit"`
	AccountUsage AccountUsage `json:"AccountUsage"`
}

// GetAccountSettings reports the Region's limits and usage: the code
// storage used is the sum of the CodeSize of every function's $LATEST and
// published versions ("Each function version ... consumes storage"), so
// deleting a version frees its share.
func (s *Service) GetAccountSettings() AccountSettings {
	s.mu.Lock()
	defer s.mu.Unlock()
	var usage AccountUsage
	for _, f := range s.functions {
		usage.FunctionCount++
		usage.TotalCodeSize += f.Latest.Config.CodeSize
		for _, v := range f.Versions {
			usage.TotalCodeSize += v.Config.CodeSize
		}
	}
	return AccountSettings{
		AccountUsage: usage,
		AccountLimit: AccountLimit{
			TotalCodeSize: totalCodeSizeLimit, CodeSizeUnzipped: unzippedCodeLimit, CodeSizeZipped: maxZipBytes,
			ConcurrentExecutions: concurrentExecutions, UnreservedConcurrentExecutions: max(s.unreservedLocked(), 0),
		},
	}
}

// SetEventBus makes each successful DeleteFunction API call reach bus as
// CloudTrail's record of it, as on an account with a trail logging
// management events: EventBridge delivers it from source aws.lambda, its
// event name carrying the API version, DeleteFunction20150331.
func (s *Service) SetEventBus(bus core.EventBus) {
	s.mu.Lock()
	s.bus = bus
	s.mu.Unlock()
}

// serveDelete deletes and, for a signed API call, emits CloudTrail's
// record of it.
func (s *Service) serveDelete(r *http.Request, function, qualifier string) error {
	if err := s.DeleteFunction(function, qualifier); err != nil {
		return err
	}
	caller, isAPICall := core.CallerOf(r.Context())
	s.mu.Lock()
	bus := s.bus
	s.mu.Unlock()
	if !isAPICall || bus == nil {
		return nil
	}
	req := map[string]any{"functionName": function}
	if qualifier != "" {
		req["qualifier"] = qualifier
	}
	core.EmitAPICall(bus, core.APICall{Source: "aws.lambda", EventSource: "lambda.amazonaws.com", Name: "DeleteFunction20150331",
		Caller: caller, At: s.opts.Clock(), Request: req})
	return nil
}
