package deploy

import (
	"fmt"
	"math"
)

// The Lambda control plane: "Control plane API requests (excludes
// invocation, GetFunction, and GetPolicy requests): 15 requests per second
// across all APIs", per account and Region ("Lambda quotas",
// https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html#api-requests).
// Every caller in the account shares it — aliasflow's Lambdas, but also
// CloudFormation deploying functions and people's consoles and CLIs — so
// aliasflow plans to use at most ControlPlaneBudget of it (issue 19's
// budget), split between its Lambdas by ControlPlaneShares.
const (
	LambdaControlPlaneRate = 15.0
	ControlPlaneBudget     = 0.8
)

// Reserved concurrency of the Lambdas whose share is bounded by it ("Lambda
// function scaling", reserved concurrency,
// https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html).
//
// The release Lambda is the buffer a burst of merges queues in: EventBridge
// invokes it asynchronously, and with ReleaseConcurrency environments in
// use a further event is throttled and Lambda puts it back on the
// function's queue, retried for up to 6 hours ("How Lambda handles errors
// and retries with asynchronous invocation",
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
// The reconciler runs one at a time (two runs would each report the same
// finding).
const (
	ReleaseConcurrency   = 4
	ReconcileConcurrency = 1
)

// The shares' per-environment pacing (see ControlPlaneShares for why).
const (
	ReleaseControlPlaneRate    = 0.5
	ReleaseControlPlaneBurst   = 1
	ShiftControlPlaneRate      = 1.0
	ShiftControlPlaneBurst     = 1
	ReconcileControlPlaneRate  = 2.0
	ReconcileControlPlaneBurst = 1
	// ShiftControlPlaneTasks is the shift's planned environments calling
	// the control plane in the same second; see ControlPlaneShares.
	ShiftControlPlaneTasks = 6
	// ReleaseControlPlaneCalls are one release's control-plane requests
	// (GetFunctionConfiguration, ListAliases, PublishVersion, UpdateAlias).
	ReleaseControlPlaneCalls = 4
)

// ControlPlaneShare is one Lambda's share of the control plane: each of
// its Environments execution environments paces its control-plane requests
// (retries included; awsenv.ControlPlanePace) with a token bucket of Burst
// refilled at Rate a second.
type ControlPlaneShare struct {
	Function     string
	Environments int
	Rate         float64
	Burst        int
	// Reserved is true when Environments is the function's reserved
	// concurrency, so Lambda itself bounds the share; false when it is a
	// planning figure (the shift, see ControlPlaneShares).
	Reserved bool
}

// PeakPerSecond is the most requests the share's environments can make in
// any one second: each environment's bucket full at the second's start
// (Burst), then the tokens that arrive strictly within it (every 1/Rate s).
func (s ControlPlaneShare) PeakPerSecond() int {
	return s.Environments * (s.Burst + int(math.Ceil(s.Rate)) - 1)
}

// ControlPlaneShares split ControlPlaneBudget of the account's Lambda
// control plane between the pipeline's Lambdas that call it (the smoke test
// and the approval Lambda make no control-plane request; Invoke is none):
//
//   - release: ReleaseConcurrency environments (reserved) at 0.5 a second,
//     one at a time (burst 1), at most 4 requests in any second. A release
//     makes ReleaseControlPlaneCalls requests, so the pipeline admits at
//     most 4 × 0.5 / 4 = 0.5 promotions a second however fast merges come;
//     a burst waits on the release Lambda's asynchronous queue.
//   - shift: its concurrency is not reserved — the definition invokes it
//     synchronously, and a throttled task would fail towards a rollback
//     once the state machine's retries ran out — so its figure plans what
//     the release's admission makes: only BeginShift (4 requests: stg,
//     prod, the two versions' configurations; 3 s at 1 a second, burst 1),
//     each SetWeight and Finalize (1: prod's move) and a rollback's moves
//     call the control plane; the health checks read what the execution's
//     state carries. At 0.5 promotions a second that is about 1.5
//     environments in BeginShift and one move a second on average; 6 leaves
//     room for approvals that arrive together. The quota section of `make
//     bench` measures it at 200 concurrent promotions.
//   - reconcile: one run at a time (reserved), 2 a second, one at a time:
//     at 200 targets a run reads each one's aliases in 100 s and prunes up
//     to reconcile.DefaultPruneTargets more inside its 5-minute schedule.
//
// TestControlPlaneBudget holds the peaks' sum to the budget.
var ControlPlaneShares = []ControlPlaneShare{
	{Function: ReleaseFunction, Environments: ReleaseConcurrency, Rate: ReleaseControlPlaneRate, Burst: ReleaseControlPlaneBurst, Reserved: true},
	{Function: ShiftFunction, Environments: ShiftControlPlaneTasks, Rate: ShiftControlPlaneRate, Burst: ShiftControlPlaneBurst},
	{Function: ReconcileFunction, Environments: ReconcileConcurrency, Rate: ReconcileControlPlaneRate, Burst: ReconcileControlPlaneBurst, Reserved: true},
}

// ControlPlaneShareOf returns the named function's share; a function
// without one making control-plane requests is a programming error.
func ControlPlaneShareOf(function string) ControlPlaneShare {
	for _, s := range ControlPlaneShares {
		if s.Function == function {
			return s
		}
	}
	panic(fmt.Sprintf("deploy: %s has no share of the Lambda control plane (deploy.ControlPlaneShares)", function))
}

// ReleaseAdmissionRate is how many promotions a second the release Lambda
// starts at most, however fast merges come.
func ReleaseAdmissionRate() float64 {
	s := ControlPlaneShareOf(ReleaseFunction)
	return float64(s.Environments) * s.Rate / ReleaseControlPlaneCalls
}
