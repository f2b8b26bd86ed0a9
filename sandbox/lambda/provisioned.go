package lambdasvc

import (
	"maps"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

// Provisioned concurrency, as the Lambda API reference describes its four
// operations (PutProvisionedConcurrencyConfig,
// GetProvisionedConcurrencyConfig, DeleteProvisionedConcurrencyConfig,
// ListProvisionedConcurrencyConfigs, https://docs.aws.amazon.com/lambda/latest/api/API_PutProvisionedConcurrencyConfig.html
// and its siblings) and "Configuring provisioned concurrency"
// (https://docs.aws.amazon.com/lambda/latest/dg/provisioned-concurrency.html):
//
//   - a configuration is on a published version or an alias, never on
//     $LATEST or the unqualified function;
//   - Put answers 202 with Status IN_PROGRESS; the configuration becomes
//     READY once its environments are initialized (Options.ProvisionDuration
//     here, DefaultProvisionDuration when unset), or FAILED with a
//     StatusReason (FailProvisioning injects that);
//   - it "counts towards a function's reserved concurrency and Regional
//     quotas": within a function's reserved concurrency when it has one,
//     otherwise it must leave the account's unreserved concurrency at its
//     minimum of 100 (the same floor PutFunctionConcurrency keeps);
//   - on an alias with weighted routing the allocation is split between
//     the alias's versions by their weights
//     (AllocatedProvisionedConcurrentExecutions: "When a weighted alias is
//     used during linear and canary deployments, this value fluctuates
//     depending on the amount of concurrency that is provisioned for the
//     function versions") — ProvisionedSplit.

// DefaultProvisionDuration is how long a provisioned concurrency
// configuration stays IN_PROGRESS unless Options.ProvisionDuration says
// otherwise. AWS publishes no figure (minutes for large allocations); a
// second lets every caller see IN_PROGRESS without slowing the demo.
const DefaultProvisionDuration = time.Second

// minUnreserved is the unreserved concurrency Lambda keeps for the
// functions with no reservation: "Lambda requires at least 100 … unreserved"
// (the InvalidParameterValueException PutFunctionConcurrency and
// PutProvisionedConcurrencyConfig answer below it).
const minUnreserved = 100

// The statuses of a configuration (ProvisionedConcurrencyStatusEnum).
const (
	ProvisionedInProgress = "IN_PROGRESS"
	ProvisionedReady      = "READY"
	ProvisionedFailed     = "FAILED"
)

// provisioned is one provisioned concurrency configuration, as kept in
// state.
type provisioned struct {
	Requested    int       `json:"requested"`
	LastModified time.Time `json:"lastModified"`
	// ReadyAt is when the allocation ends: READY, or FAILED when
	// FailReason is set.
	ReadyAt    time.Time `json:"readyAt"`
	FailReason string    `json:"failReason,omitempty"`
}

// ProvisionedConcurrencyConfig is the wire shape of Put's and Get's
// answers and of one ListProvisionedConcurrencyConfigs item (which adds
// FunctionArn).
type ProvisionedConcurrencyConfig struct {
	FunctionArn                              string `json:"FunctionArn,omitempty"`
	RequestedProvisionedConcurrentExecutions int    `json:"RequestedProvisionedConcurrentExecutions"`
	AvailableProvisionedConcurrentExecutions int    `json:"AvailableProvisionedConcurrentExecutions"`
	AllocatedProvisionedConcurrentExecutions int    `json:"AllocatedProvisionedConcurrentExecutions"`
	Status                                   string `json:"Status"`
	StatusReason                             string `json:"StatusReason,omitempty"`
	LastModified                             string `json:"LastModified"`
}

// PutProvisionedConcurrencyInput is Put's body.
type PutProvisionedConcurrencyInput struct {
	ProvisionedConcurrentExecutions int `json:"ProvisionedConcurrentExecutions"`
}

// The provisioned concurrency operations, added to ops (routed by AWS's
// model: /2019-09-30/functions/{FunctionName}/provisioned-concurrency, the
// List operation by its "?List=ALL" literal).
func init() {
	ops["PutProvisionedConcurrencyConfig"] = func(s *Service, c call) (int, any, error) {
		var in PutProvisionedConcurrencyInput
		if err := decode(c.req.Body, &in); err != nil {
			return 0, nil, err
		}
		out, err := s.PutProvisionedConcurrencyConfig(c.fn, c.str("Qualifier"), in.ProvisionedConcurrentExecutions)
		return http.StatusAccepted, out, err
	}
	ops["GetProvisionedConcurrencyConfig"] = func(s *Service, c call) (int, any, error) {
		out, err := s.GetProvisionedConcurrencyConfig(c.fn, c.str("Qualifier"))
		return http.StatusOK, out, err
	}
	ops["DeleteProvisionedConcurrencyConfig"] = func(s *Service, c call) (int, any, error) {
		return http.StatusNoContent, nil, s.DeleteProvisionedConcurrencyConfig(c.fn, c.str("Qualifier"))
	}
	ops["ListProvisionedConcurrencyConfigs"] = func(s *Service, c call) (int, any, error) {
		n, err := maxItems(c.req)
		if err != nil {
			return 0, nil, err
		}
		if n == 0 || n > 50 {
			n = 50 // the API's page size at most (MaxItems: "Specify a number to limit the number of configurations returned")
		}
		cs, next, err := s.ListProvisionedConcurrencyConfigs(c.fn, c.str("Marker"), n)
		return http.StatusOK, listed("ProvisionedConcurrencyConfigs", cs, next), err
	}
}

func (s *Service) provisionDuration() time.Duration {
	if s.opts.ProvisionDuration > 0 {
		return s.opts.ProvisionDuration
	}
	return DefaultProvisionDuration
}

// provisionedTarget resolves function and qualifier to a function and a
// published version or alias that may carry provisioned concurrency; the
// caller holds s.mu.
func (s *Service) provisionedTarget(function, qualifier string) (string, string, *function, error) {
	name, q, err := resolveName(function, qualifier)
	if err != nil {
		return "", "", nil, err
	}
	f, err := s.lookup(name)
	if err != nil {
		return "", "", nil, err
	}
	switch {
	case q == "":
		return "", "", nil, invalid("The qualifier is required: provisioned concurrency is configured on a published version or an alias of %s", core.FunctionARN(name, ""))
	case q == latest:
		return "", "", nil, invalid("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
	}
	if versionRe.MatchString(q) {
		if _, ok := f.Versions[q]; !ok {
			return "", "", nil, functionNotFound(name, q)
		}
		return name, q, f, nil
	}
	if _, ok := f.Aliases[q]; !ok {
		return "", "", nil, functionNotFound(name, q)
	}
	return name, q, f, nil
}

// PutProvisionedConcurrencyConfig puts n provisioned concurrency on a
// version or alias; an existing configuration is replaced and allocates
// again.
func (s *Service) PutProvisionedConcurrencyConfig(function, qualifier string, n int) (ProvisionedConcurrencyConfig, error) {
	if n < 1 {
		return ProvisionedConcurrencyConfig{}, invalid("1 validation error detected: Value '%d' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name, q, f, err := s.provisionedTarget(function, qualifier)
	if err != nil {
		return ProvisionedConcurrencyConfig{}, err
	}
	// A version and an alias that routes to it cannot both carry a
	// configuration: their environments would be the same.
	if versionRe.MatchString(q) {
		for _, a := range slices.Sorted(maps.Keys(f.Provisioned)) {
			if al, ok := f.Aliases[a]; ok && slices.Contains(aliasVersions(al), q) {
				return ProvisionedConcurrencyConfig{}, conflict("Version %s is already provisioned through alias %s: Provisioned Concurrency Config for the alias conflicts with this version", q, a)
			}
		}
	} else {
		for _, v := range aliasVersions(f.Aliases[q]) {
			if _, ok := f.Provisioned[v]; ok {
				return ProvisionedConcurrencyConfig{}, conflict("Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version")
			}
		}
	}
	others := 0
	for k, p := range f.Provisioned {
		if k != q {
			others += p.Requested
		}
	}
	if f.Reserved != nil {
		if others+n > *f.Reserved {
			return ProvisionedConcurrencyConfig{}, invalid("Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function %s (%d reserved, %d already provisioned)", name, *f.Reserved, others)
		}
	} else if unreserved := s.unreservedLocked() - n; unreserved+provisionedOf(f, q) < minUnreserved {
		return ProvisionedConcurrencyConfig{}, invalid("Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", minUnreserved)
	}
	now := s.opts.Clock()
	p := &provisioned{Requested: n, LastModified: now, ReadyAt: now.Add(s.provisionDuration()), FailReason: f.provisionFault}
	f.provisionFault = ""
	if f.Provisioned == nil {
		f.Provisioned = map[string]*provisioned{}
	}
	f.Provisioned[q] = p
	s.log.Info("provisioned concurrency requested", "function", name, "qualifier", q, "requested", n)
	return s.provisionedView(f, q, p, now), nil
}

// GetProvisionedConcurrencyConfig reads a configuration.
func (s *Service) GetProvisionedConcurrencyConfig(function, qualifier string) (ProvisionedConcurrencyConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, q, f, err := s.provisionedTarget(function, qualifier)
	if err != nil {
		return ProvisionedConcurrencyConfig{}, err
	}
	p, ok := f.Provisioned[q]
	if !ok {
		return ProvisionedConcurrencyConfig{}, core.Errorf("ProvisionedConcurrencyConfigNotFoundException", http.StatusNotFound,
			"No Provisioned Concurrency Config found for this function: %s", core.FunctionARN(name, q))
	}
	return s.provisionedView(f, q, p, s.opts.Clock()), nil
}

// DeleteProvisionedConcurrencyConfig removes a configuration; deleting
// one that does not exist succeeds, as on AWS (the API reference lists no
// not-found error for it beyond the function's own).
func (s *Service) DeleteProvisionedConcurrencyConfig(function, qualifier string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, q, f, err := s.provisionedTarget(function, qualifier)
	if err != nil {
		return err
	}
	if _, ok := f.Provisioned[q]; ok {
		delete(f.Provisioned, q)
		s.log.Info("provisioned concurrency deleted", "function", name, "qualifier", q)
	}
	return nil
}

// ListProvisionedConcurrencyConfigs lists a function's configurations,
// versions before aliases, at most n a page.
func (s *Service) ListProvisionedConcurrencyConfigs(function, marker string, n int) ([]ProvisionedConcurrencyConfig, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, err := unqualified(function)
	if err != nil {
		return nil, "", err
	}
	f, err := s.lookup(name)
	if err != nil {
		return nil, "", err
	}
	keys := slices.SortedFunc(maps.Keys(f.Provisioned), func(a, b string) int {
		if va, vb := versionRe.MatchString(a), versionRe.MatchString(b); va != vb {
			if va {
				return -1
			}
			return 1
		} else if va && len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	start := 0
	if marker != "" {
		i := slices.Index(keys, marker)
		if i < 0 {
			return nil, "", invalid("Invalid Marker %q", marker)
		}
		start = i
	}
	now := s.opts.Clock()
	var out []ProvisionedConcurrencyConfig
	for i := start; i < len(keys); i++ {
		if len(out) == n {
			return out, keys[i], nil
		}
		c := s.provisionedView(f, keys[i], f.Provisioned[keys[i]], now)
		c.FunctionArn = core.FunctionARN(name, keys[i])
		out = append(out, c)
	}
	return out, "", nil
}

// ProvisionedSplit is how a READY configuration of function's qualifier is
// allocated per version at now: all of it on a version; on an alias, split
// between the alias's versions by their routing weights, each additional
// version's share rounded to the nearest environment and the rest on the
// primary version. Nil when there is no READY configuration.
func (s *Service) ProvisionedSplit(function, qualifier string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.functions[function]
	if !ok {
		return nil
	}
	p, ok := f.Provisioned[qualifier]
	if !ok || provisionedStatus(p, s.opts.Clock()) != ProvisionedReady {
		return nil
	}
	return split(f, qualifier, p.Requested)
}

// FailProvisioning makes the next PutProvisionedConcurrencyConfig on
// function end FAILED with reason instead of READY — as Lambda reports an
// allocation whose environments fail to initialize — for tests.
func (s *Service) FailProvisioning(function, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.lookup(function)
	if err != nil {
		return err
	}
	f.provisionFault = reason
	return nil
}

// split is the allocation of n provisioned concurrency on q per version;
// the caller holds s.mu.
func split(f *function, q string, n int) map[string]int {
	a, ok := f.Aliases[q]
	if !ok {
		return map[string]int{q: n}
	}
	out := map[string]int{}
	rest := n
	if a.RoutingConfig != nil {
		for v, w := range a.RoutingConfig.AdditionalVersionWeights {
			share := int(math.Round(w * float64(n)))
			out[v] = share
			rest -= share
		}
	}
	out[a.FunctionVersion] += max(rest, 0)
	return out
}

// provisionedView is a configuration as a caller sees it at now; the
// caller holds s.mu.
func (s *Service) provisionedView(f *function, q string, p *provisioned, now time.Time) ProvisionedConcurrencyConfig {
	c := ProvisionedConcurrencyConfig{RequestedProvisionedConcurrentExecutions: p.Requested,
		Status: provisionedStatus(p, now), LastModified: p.LastModified.UTC().Format("2006-01-02T15:04:05.000+0000")}
	switch c.Status {
	case ProvisionedReady:
		allocated := 0
		for _, n := range split(f, q, p.Requested) {
			allocated += n
		}
		c.AllocatedProvisionedConcurrentExecutions, c.AvailableProvisionedConcurrentExecutions = allocated, allocated
	case ProvisionedFailed:
		c.StatusReason = p.FailReason
	}
	return c
}

func provisionedStatus(p *provisioned, now time.Time) string {
	switch {
	case now.Before(p.ReadyAt):
		return ProvisionedInProgress
	case p.FailReason != "":
		return ProvisionedFailed
	}
	return ProvisionedReady
}

// unreservedLocked is the account's unreserved concurrency: the Region's
// concurrent executions less every reservation and every provisioned
// configuration of a function with none; the caller holds s.mu.
func (s *Service) unreservedLocked() int {
	left := concurrentExecutions
	for _, f := range s.functions {
		if f.Reserved != nil {
			left -= *f.Reserved
			continue
		}
		for _, p := range f.Provisioned {
			left -= p.Requested
		}
	}
	return left
}

// provisionedOf is what q already has provisioned (0 for none).
func provisionedOf(f *function, q string) int {
	if p, ok := f.Provisioned[q]; ok {
		return p.Requested
	}
	return 0
}

// aliasVersions are the versions an alias routes to.
func aliasVersions(a *AliasConfiguration) []string {
	if a == nil {
		return nil
	}
	vs := []string{a.FunctionVersion}
	if a.RoutingConfig != nil {
		for v := range a.RoutingConfig.AdditionalVersionWeights {
			vs = append(vs, v)
		}
	}
	return vs
}

// takeProvisioned reports whether one of version's provisioned environments
// serves an invocation now — its READY allocation, of its own
// configuration and its share of each alias's, is not all in use — and
// returns what ends the invocation's use of it.
func (s *Service) takeProvisioned(name, version string) (bool, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.functions[name]
	if !ok || len(f.Provisioned) == 0 {
		return false, func() {}
	}
	now, capacity := s.opts.Clock(), 0
	for q, p := range f.Provisioned {
		if provisionedStatus(p, now) == ProvisionedReady {
			capacity += split(f, q, p.Requested)[version]
		}
	}
	if f.provisionedBusy[version] >= capacity {
		return false, func() {}
	}
	if f.provisionedBusy == nil {
		f.provisionedBusy = map[string]int{}
	}
	f.provisionedBusy[version]++
	return true, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		f.provisionedBusy[version]--
	}
}

// initDurationRE is the REPORT line's Init Duration field as RIE prints it
// on the invocation that initialized its environment ("Init Duration:
// %.2f ms\t", internal/lambda/rie/handlers.go).
var initDurationRE = regexp.MustCompile(`Init Duration: [0-9.]+ ms\t`)

// reportLine is RIE's REPORT line as Lambda writes it for the invocation.
// RIE initializes its environment at the first invoke and reports that on
// the invocation's REPORT line; a provisioned environment is initialized
// with its allocation ("Provisioned concurrency initializes a requested
// number of execution environments so that they are prepared to respond
// immediately to your function's invocations", Configuring provisioned
// concurrency), so no invocation it serves carries an Init Duration.
func (inv *invocation) reportLine(line string) string {
	if !inv.provisioned {
		return line
	}
	return initDurationRE.ReplaceAllString(line, "")
}
