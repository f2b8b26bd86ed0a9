package core

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Caller is who signed an API call, as CloudTrail's userIdentity records
// it ("CloudTrail userIdentity element", AWS CloudTrail User Guide).
type Caller struct {
	// Type is "IAMUser" or "AssumedRole".
	Type string
	// ARN is the user's or the assumed-role session's ARN.
	ARN string
	// AccessKeyID is the key the request was signed with.
	AccessKeyID string
	// UserAgent and SourceIP are the request's.
	UserAgent, SourceIP string
}

type callerKey struct{}

// WithCaller returns ctx carrying the caller of the request being served,
// for a service that records it (Parameter Store's CloudTrail events).
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerOf returns the caller WithCaller put on ctx; false for a call the
// sandbox makes itself (its own deployment).
func CallerOf(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// EventBus receives the events an AWS service emits: the sandbox's
// EventBridge.
type EventBus interface {
	EmitServiceEvent(source, detailType, detail string, resources []string) (string, error)
}

// APICall is one API call as CloudTrail records it.
type APICall struct {
	// Source is the EventBridge source of the service ("aws.ssm") and
	// EventSource CloudTrail's ("ssm.amazonaws.com").
	Source, EventSource string
	// Name is CloudTrail's event name (for Lambda, with the API version:
	// "DeleteFunction20150331").
	Name              string
	Caller            Caller
	At                time.Time
	Request, Response map[string]any
}

// EmitAPICall puts CloudTrail's record of a successful API call on bus, as
// EventBridge delivers it on an account with a trail: the record is an "AWS
// API Call via CloudTrail" event's detail ("CloudTrail record contents for
// management events", AWS CloudTrail User Guide; "AWS service events
// delivered via AWS CloudTrail", Amazon EventBridge User Guide).
// requestParameters hold what the call named, not the value it wrote.
// Best effort, as CloudTrail's delivery to EventBridge is.
func EmitAPICall(bus EventBus, c APICall) {
	if bus == nil {
		return
	}
	id := fmt.Sprintf("%d-%s", c.At.UnixNano(), c.Name)
	detail, err := json.Marshal(map[string]any{
		"eventVersion": "1.09",
		"userIdentity": map[string]any{"type": c.Caller.Type, "arn": c.Caller.ARN, "accountId": Account, "accessKeyId": c.Caller.AccessKeyID, "principalId": c.Caller.AccessKeyID},
		"eventTime":    c.At.UTC().Format(time.RFC3339), "eventSource": c.EventSource, "eventName": c.Name,
		"awsRegion": Region, "sourceIPAddress": c.Caller.SourceIP, "userAgent": c.Caller.UserAgent,
		"requestParameters": c.Request, "responseElements": c.Response,
		"requestID": id, "eventID": id, "readOnly": false, "eventType": "AwsApiCall",
		"managementEvent": true, "recipientAccountId": Account, "eventCategory": "Management",
	})
	if err == nil {
		_, _ = bus.EmitServiceEvent(c.Source, "AWS API Call via CloudTrail", string(detail), nil)
	}
}
