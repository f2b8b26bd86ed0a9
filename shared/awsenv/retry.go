package awsenv

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Defaults of PatientRetryer.
const (
	// PatientAttempts is how many times a throttled call is tried: with
	// MaxBackoff 10 s the jittered waits add up to at most about 55 s.
	PatientAttempts = 8
	// PatientMaxBackoff bounds one wait, so a call does not sleep past a
	// bucket's refill (AWS's buckets refill every second).
	PatientMaxBackoff = 10 * time.Second
)

// PatientRetryer is the SDK's standard retryer, which treats throttles
// (ThrottlingException, TooManyRequestsException, …) as retryable, tuned for
// a burst: more attempts than the SDK's 3, waits bounded by maxBackoff and
// no client-side retry quota. The standard retryer's quota (500 tokens, 5
// per retried throttle) runs dry after about 100 retries per client and then
// fails calls at once with "retry quota exceeded" — in a burst, exactly when
// retrying is what is needed; the server's buckets already pace the calls.
// attempts ≤ 0 and maxBackoff ≤ 0 take PatientAttempts and
// PatientMaxBackoff.
func PatientRetryer(attempts int, maxBackoff time.Duration) func() aws.Retryer {
	if attempts <= 0 {
		attempts = PatientAttempts
	}
	if maxBackoff <= 0 {
		maxBackoff = PatientMaxBackoff
	}
	return func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.MaxBackoff = maxBackoff
			o.RateLimiter = ratelimit.None
		})
	}
}
