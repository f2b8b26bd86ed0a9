package core

import "context"

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
