package promotion

import (
	"context"
	"errors"
	"net"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// Names for task failures that are not one of the definition's own errors.
const (
	// ErrTransient: an AWS call failed for a reason that passes (throttling,
	// a 5xx, a dropped connection) after the SDK's own retries; the
	// definition retries the task.
	ErrTransient = "aliasflow.Transient"
	// ErrTaskFailed: any other failure; the definition's Catch decides.
	ErrTaskFailed = "aliasflow.TaskFailed"
)

// AsTaskError gives a handler's error the name Step Functions matches on:
// a TaskError passes through, a transient AWS failure becomes ErrTransient,
// anything else ErrTaskFailed. Without it the runtime would report the Go
// type name ("wrapError"), which no Retry could sensibly match.
func AsTaskError(err error) error {
	if err == nil {
		return nil
	}
	var ive messages.InvokeResponse_Error
	if errors.As(err, &ive) {
		return ive
	}
	if IsTransient(err) {
		return TaskError(ErrTransient, "%s", err.Error())
	}
	return TaskError(ErrTaskFailed, "%s", err.Error())
}

// IsTransient reports whether err is worth retrying as a whole task: the
// SDK's own notion of throttling and retryable errors, and timeouts.
func IsTransient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		return true
	}
	if NotReady(err) {
		return true
	}
	// CloudWatch reports its rate limits under these codes, which the SDK's
	// throttle list does not name.
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "LimitExceededException", "LimitExceededFault":
			return true
		}
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// NotReady reports whether err is Lambda saying that a function or version
// cannot serve the call yet, which passes: ResourceConflictException ("The
// operation cannot be performed at this time": the version is Pending, or
// an update is in progress), ResourceNotReadyException and
// SnapStartNotReadyException (Invoke, Lambda API reference; "Lambda does
// not invoke a function during pending state", Lambda function states,
// https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html).
func NotReady(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "ResourceConflictException", "ResourceNotReadyException", "SnapStartNotReadyException":
		return true
	}
	return false
}
