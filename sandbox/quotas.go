package sandbox

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/model"
	"github.com/aliasflow/aliasflow/sandbox/quota"
)

// Quotas reports how much of each request quota was used since Start, when
// Options.Quotas is set (nil otherwise).
func (sb *Sandbox) Quotas() []quota.Usage {
	if sb.quotas == nil {
		return nil
	}
	return sb.quotas.Usage()
}

// withinQuota takes a token for the request from its quota's bucket
// (Options.Quotas), per account and the Region of its credential scope, and
// answers AWS's throttling error when the bucket is empty. It reports
// whether the request may go on. It runs after the model's validation, as
// a request AWS refuses as invalid is not what a quota meters here.
func (sb *Sandbox) withinQuota(w http.ResponseWriter, r *http.Request, service, op string) bool {
	if sb.quotas == nil {
		return true
	}
	d := sb.quotas.Take(core.Account, credentialRegion(r), service, op)
	if d.Allowed {
		return true
	}
	sb.log.Debug("sandbox: throttled", "service", service, "operation", op, "quota", d.Rule.Name)
	writeThrottled(w, r, sb.models, service)
	return false
}

// emailPerSecond is the SNS e-mail delivery rate of limits (0, none, when
// quotas are off or the rule is removed).
func emailPerSecond(limits quota.Limits) int {
	if r, ok := limits.Rule(quota.SNSEmail); ok {
		return int(r.Rate)
	}
	return 0
}

// credentialRegion is the Region of a SigV4 credential scope.
func credentialRegion(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if auth := r.Header.Get("Authorization"); auth != "" {
		if _, v, ok := strings.Cut(auth, "Credential="); ok {
			cred, _, _ = strings.Cut(v, ",")
		}
	}
	if parts := strings.Split(cred, "/"); len(parts) == 5 {
		return parts[2]
	}
	return core.Region
}

// throttleMessage is what AWS's throttling errors say.
const throttleMessage = "Rate exceeded"

// writeThrottled answers a throttled request as its service does:
//   - Lambda: HTTP 429 TooManyRequestsException with Reason
//     CallerRateLimitExceeded and a Retry-After header (the
//     TooManyRequestsException shape of the Lambda API model: "The request
//     throughput limit was exceeded", members Type, message, Reason and
//     retryAfterSeconds in Retry-After);
//   - the awsQuery services and those awsQueryCompatible (SNS, CloudWatch):
//     HTTP 400 "Throttling" ("Common Errors": Throttling, "The request was
//     denied due to request throttling");
//   - the JSON services (Step Functions, CloudWatch Logs, SSM,
//     EventBridge): HTTP 400 ThrottlingException.
//
// Each of these codes is one the AWS SDKs retry with backoff.
func writeThrottled(w http.ResponseWriter, r *http.Request, models *model.Models, service string) {
	svc, err := models.Service(service)
	if err != nil {
		writeAuthError(w, http.StatusBadRequest, "ThrottlingException", throttleMessage)
		return
	}
	protocol := svc.Protocol
	if req, ok := model.FromContext(r.Context()); ok && req.Protocol != "" {
		protocol = req.Protocol
	}
	switch {
	case service == "lambda":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprintf(w, "{\"Type\":\"User\",\"message\":%q,\"Reason\":\"CallerRateLimitExceeded\"}\n", throttleMessage)
	case protocol == model.ProtoQuery || svc.QueryCompatible:
		writeModelError(w, svc, protocol, core.Errorf("Throttling", http.StatusBadRequest, throttleMessage))
	default:
		writeModelError(w, svc, protocol, core.Errorf("ThrottlingException", http.StatusBadRequest, throttleMessage))
	}
}
