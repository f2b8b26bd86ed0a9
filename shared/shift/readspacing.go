package shift

import (
	"hash/crc32"
	"math"

	"github.com/aliasflow/aliasflow/shared/config"
)

// The health reads' account-wide request quotas, per second, and the
// promotions they are budgeted for: issue 19's 200 promotions baking at
// once may use at most 80 % of each.
const (
	// "FilterLogEvents: 5 transactions per second (TPS)/account/Region"
	// ("CloudWatch Logs quotas",
	// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html).
	filterLogEventsTPS = 5
	// "DescribeAlarms: 9 TPS", "GetMetricData: 50 TPS" ("CloudWatch
	// service quotas",
	// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html).
	describeAlarmsTPS = 9
	getMetricDataTPS  = 50
	// bakingBudget promotions checking health at once, quotaShare of each
	// quota for them.
	bakingBudget = 200
	quotaShare   = 0.8
)

// quotaFloor is the fewest seconds between two health checks of one
// promotion's step such that bakingBudget promotions checking that often
// stay within quotaShare of each read's quota: a check makes one
// DescribeAlarms (up to 100 alarms, when any are set), one GetMetricData
// and, with health.freshSignal "logs", a FilterLogEvents call (the
// function's log group, usually one page). It is a floor on when the
// verdict wants its next evidence, never a reason to check sooner.
func quotaFloor(h config.Health) int {
	perSecond := func(calls, tps float64) int {
		return int(math.Ceil(bakingBudget * calls / (quotaShare * tps)))
	}
	floor := perSecond(1, getMetricDataTPS)
	if len(h.Alarms) > 0 {
		floor = max(floor, perSecond(math.Ceil(float64(len(h.Alarms))/describeBatch), describeAlarmsTPS))
	}
	if h.FreshSignal == config.FreshSignalLogs {
		floor = max(floor, perSecond(1, filterLogEventsTPS))
	}
	return floor
}

// spacedByQuota is the next check's delay ext (seconds), raised to the
// quota floor plus a spread of up to a quarter of it, the same for a
// promotion's every round and different across promotions, so checks that
// started together do not stay in step; capped at remaining, the step's
// bake left (health.maxBakeSeconds decides when the step ends, not the
// quota).
func spacedByQuota(h config.Health, execution string, ext, remaining int) int {
	floor := quotaFloor(h)
	spread := int(crc32.ChecksumIEEE([]byte(execution)) % uint32(max(1, floor/4)))
	return min(remaining, max(ext, floor+spread))
}
