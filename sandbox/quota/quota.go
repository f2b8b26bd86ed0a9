// Package quota meters the sandbox's AWS API requests against AWS's
// published request quotas, as token buckets per account and Region: each
// request takes a token from its rule's bucket, which holds Burst tokens
// and refills at Rate a second; a request finding it empty is throttled, as
// AWS throttles it. The values are AWS's defaults, each cited to its quota
// page; tests and benchmarks tighten or loosen them (Limits.With).
package quota

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// Rule is one token bucket and the operations that take from it.
type Rule struct {
	// Name names the quota in reports ("lambda control plane").
	Name string
	// Service is the SigV4 service name (lambda, states, logs, monitoring,
	// ssm, events, sns).
	Service string
	// Operations take from this bucket; empty means every operation of the
	// service that no other rule names and Except does not exempt.
	Operations []string
	// Except are operations a catch-all rule does not meter.
	Except []string
	// Rate is the refill in tokens per second, Burst the bucket's size.
	Rate, Burst float64
	// Large, when set, is Rate and Burst in the Regions where AWS publishes
	// larger buckets (US East (N. Virginia), US West (Oregon), Europe
	// (Ireland) for Step Functions).
	Large *Size
	// Source is the AWS page the values are from.
	Source string
}

// Size is a bucket's refill rate and size.
type Size struct{ Rate, Burst float64 }

// LargeRegions are the Regions Step Functions publishes its larger API
// buckets for ("Step Functions service quotas", API action throttling).
var LargeRegions = []string{"us-east-1", "us-west-2", "eu-west-1"}

func (r Rule) size(region string) Size {
	if r.Large != nil && slices.Contains(LargeRegions, region) {
		return *r.Large
	}
	return Size{r.Rate, r.Burst}
}

func (r Rule) covers(service, op string) bool {
	if r.Service != service {
		return false
	}
	if len(r.Operations) > 0 {
		return slices.Contains(r.Operations, op)
	}
	return !slices.Contains(r.Except, op)
}

// Limits are the rules in force; a request is metered by the first rule
// naming its operation, else by its service's catch-all rule.
type Limits []Rule

// With returns l with the rule named name replaced by r (or added).
func (l Limits) With(r Rule) Limits {
	out := slices.Clone(l)
	for i := range out {
		if out[i].Name == r.Name {
			out[i] = r
			return out
		}
	}
	return append(out, r)
}

// Scaled returns l with every rate and burst multiplied by f (a benchmark's
// accelerated clock, or a loosened sandbox).
func (l Limits) Scaled(f float64) Limits {
	out := slices.Clone(l)
	for i := range out {
		out[i].Rate *= f
		out[i].Burst *= f
		if out[i].Large != nil {
			out[i].Large = &Size{out[i].Large.Rate * f, out[i].Large.Burst * f}
		}
	}
	return out
}

func (l Limits) rule(service, op string) (Rule, bool) {
	for _, r := range l {
		if len(r.Operations) > 0 && r.covers(service, op) {
			return r, true
		}
	}
	for _, r := range l {
		if len(r.Operations) == 0 && r.covers(service, op) {
			return r, true
		}
	}
	return Rule{}, false
}

// Pages the values are from.
const (
	lambdaQuotas = "Lambda quotas, API requests (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html#api-requests)"
	sfnQuotas    = "Step Functions service quotas, API action throttling (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html)"
	logsQuotas   = "CloudWatch Logs quotas (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html)"
	cwQuotas     = "CloudWatch service quotas (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html)"
	ssmQuotas    = "AWS Systems Manager endpoints and quotas (https://docs.aws.amazon.com/general/latest/gr/ssm.html)"
	ebQuotas     = "Amazon EventBridge quotas (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html)"
	snsQuotas    = "Amazon SNS endpoints and quotas (https://docs.aws.amazon.com/general/latest/gr/sns.html)"
)

// Default returns AWS's default request quotas for the APIs aliasflow
// calls. Where AWS publishes a rate but no bucket size, the bucket holds
// one second's worth.
func Default() Limits {
	perSecond := func(name, service string, rate float64, source string, ops ...string) Rule {
		return Rule{Name: name, Service: service, Operations: ops, Rate: rate, Burst: rate, Source: source}
	}
	sfn := func(op string, otherBurst, otherRate, largeBurst, largeRate float64) Rule {
		return Rule{Name: "states " + op, Service: "states", Operations: []string{op}, Rate: otherRate, Burst: otherBurst,
			Large: &Size{Rate: largeRate, Burst: largeBurst}, Source: sfnQuotas}
	}
	return Limits{
		// "Control plane API requests (excludes invocation, GetFunction, and
		// GetPolicy requests): 15 requests per second across all APIs";
		// "GetFunction API requests: 100 requests per second"; "GetPolicy API
		// requests: 15 requests per second". Invocations are limited by
		// concurrency, not by a request rate.
		{Name: "lambda control plane", Service: "lambda", Except: []string{"Invoke", "InvokeAsync", "InvokeWithResponseStream", "GetFunction", "GetPolicy"}, Rate: 15, Burst: 15, Source: lambdaQuotas},
		perSecond("lambda GetFunction", "lambda", 100, lambdaQuotas, "GetFunction"),
		perSecond("lambda GetPolicy", "lambda", 15, lambdaQuotas, "GetPolicy"),
		// Bucket size and refill rate per second; all other Regions, then
		// US East (N. Virginia), US West (Oregon) and Europe (Ireland).
		sfn("StartExecution", 800, 150, 1300, 300),
		sfn("DescribeExecution", 250, 10, 300, 15),
		sfn("GetExecutionHistory", 400, 20, 400, 20),
		sfn("ListExecutions", 100, 2, 200, 5),
		sfn("ListStateMachines", 100, 5, 100, 5),
		sfn("StopExecution", 500, 25, 1000, 200),
		sfn("SendTaskSuccess", 1500, 300, 3000, 500),
		sfn("SendTaskFailure", 1500, 300, 3000, 500),
		sfn("SendTaskHeartbeat", 1500, 300, 3000, 500),
		// "FilterLogEvents: 5 transactions per second (TPS)/account/Region";
		// "GetLogEvents: 25 TPS/account/Region".
		perSecond("logs FilterLogEvents", "logs", 5, logsQuotas, "FilterLogEvents"),
		perSecond("logs GetLogEvents", "logs", 25, logsQuotas, "GetLogEvents"),
		// "DescribeAlarms: 9 TPS"; "GetMetricData: 50 TPS".
		perSecond("cloudwatch DescribeAlarms", "monitoring", 9, cwQuotas, "DescribeAlarms"),
		perSecond("cloudwatch GetMetricData", "monitoring", 50, cwQuotas, "GetMetricData"),
		// "Max throughput (transactions per second)" of GetParameter,
		// GetParameters and GetParametersByPath together: 40 by default.
		perSecond("ssm GetParameter", "ssm", 40, ssmQuotas, "GetParameter", "GetParameters", "GetParametersByPath"),
		// "PutEvents throttle limit in transactions per second": 10,000 in
		// us-east-1, us-west-2 and eu-west-1; other Regions have lower,
		// per-Region values (2,400 in us-east-2), taken here for all.
		{Name: "events PutEvents", Service: "events", Operations: []string{"PutEvents"}, Rate: 2400, Burst: 2400,
			Large: &Size{Rate: 10000, Burst: 10000}, Source: ebQuotas},
		// Not a request quota: SNS's delivery rate for e-mail, per
		// subscription (sandbox/sns applies it to its deliveries).
		{Name: SNSEmail, Service: "sns-email", Rate: 10, Burst: 10, Source: snsQuotas},
	}
}

// SNSEmail names the rule holding SNS's e-mail delivery rate per
// subscription: 10 messages per second ("Amazon SNS endpoints and quotas").
const SNSEmail = "sns e-mail deliveries per subscription"

// Rule returns the rule named name.
func (l Limits) Rule(name string) (Rule, bool) {
	for _, r := range l {
		if r.Name == name {
			return r, true
		}
	}
	return Rule{}, false
}

// Limiter takes tokens from the buckets of one set of Limits, each bucket
// per account and Region.
type Limiter struct {
	limits Limits
	now    func() time.Time

	mu      sync.Mutex
	buckets map[bucketKey]*bucket
}

type bucketKey struct{ rule, account, region string }

type bucket struct {
	rule   Rule
	size   Size
	tokens float64
	last   time.Time
	// Usage.
	requests, throttled int
	minTokens           float64
	window              time.Time
	inWindow, peak      int
}

// New returns a Limiter for limits on the clock now (time.Now when nil).
func New(limits Limits, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{limits: limits, now: now, buckets: map[bucketKey]*bucket{}}
}

// Decision is the outcome of Take.
type Decision struct {
	// Metered is false when no rule covers the operation.
	Metered bool
	// Allowed is false when the request is throttled.
	Allowed bool
	Rule    Rule
}

// Take takes a token for one request of service's operation op by account
// in region.
func (l *Limiter) Take(account, region, service, op string) Decision {
	r, ok := l.limits.rule(service, op)
	if !ok {
		return Decision{Allowed: true}
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := bucketKey{r.Name, account, region}
	b := l.buckets[k]
	if b == nil {
		size := r.size(region)
		b = &bucket{rule: r, size: size, tokens: size.Burst, last: now, minTokens: size.Burst}
		l.buckets[k] = b
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(b.size.Burst, b.tokens+dt*b.size.Rate)
		b.last = now
	}
	b.requests++
	if now.Sub(b.window) >= time.Second {
		b.window, b.inWindow = now, 0
	}
	b.inWindow++
	b.peak = max(b.peak, b.inWindow)
	if b.tokens < 1 {
		b.throttled++
		return Decision{Metered: true, Rule: r}
	}
	b.tokens--
	b.minTokens = min(b.minTokens, b.tokens)
	return Decision{Metered: true, Allowed: true, Rule: r}
}

// Usage is how much of one bucket was used.
type Usage struct {
	Rule            string
	Account, Region string
	Rate, Burst     float64
	// Requests were metered, Throttled of them refused.
	Requests, Throttled int
	// PeakPerSecond is the most requests in a one-second window, and
	// PeakShare that over Rate: above 1 only a full bucket absorbed it.
	PeakPerSecond int
	PeakShare     float64
	// Depth is the deepest the bucket was drawn, as a share of Burst.
	Depth float64
	// Source is the quota's page.
	Source string
}

// Usage reports every bucket used so far, by rule name.
func (l *Limiter) Usage() []Usage {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Usage, 0, len(l.buckets))
	for k, b := range l.buckets {
		out = append(out, Usage{Rule: k.rule, Account: k.account, Region: k.region, Rate: b.size.Rate, Burst: b.size.Burst,
			Requests: b.requests, Throttled: b.throttled, PeakPerSecond: b.peak, PeakShare: float64(b.peak) / b.size.Rate,
			Depth: 1 - b.minTokens/b.size.Burst, Source: b.rule.Source})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out
}

func (u Usage) String() string {
	return fmt.Sprintf("%s: %d requests, %d throttled, peak %d/s (%.0f%% of %g/s), bucket drawn to %.0f%% of %g",
		u.Rule, u.Requests, u.Throttled, u.PeakPerSecond, 100*u.PeakShare, u.Rate, 100*u.Depth, u.Burst)
}
