package promotion

import (
	"errors"

	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aws/aws-lambda-go/lambda/messages"
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

// IsTransient reports whether err is worth retrying as a whole task: a
// Transient error (throttling, a 5xx, a timeout, a dropped connection) or
// Lambda's Conflict, which for the calls a task makes (UpdateAlias,
// PublishVersion, Invoke) means the function cannot serve the call yet:
// "The operation cannot be performed at this time" while a version is
// Pending or an update in progress ("Lambda does not invoke a function
// during pending state", Lambda function states,
// https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html).
func IsTransient(err error) bool {
	return awserr.Is(err, awserr.Transient, awserr.Conflict)
}
