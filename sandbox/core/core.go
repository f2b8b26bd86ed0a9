// Package core holds what the sandbox's emulated services share: the
// account and region they pretend to be, ARNs, the AWS error shape, the
// awsJson wire helpers, and the small interfaces one service calls another
// through (declared here because the root package wires them together).
package core

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The identity the sandbox answers as.
const (
	Account = "000000000000"
	Region  = "us-east-1"
)

// FunctionARN is a Lambda function's ARN, qualified when qualifier is set.
func FunctionARN(name, qualifier string) string {
	arn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", Region, Account, name)
	if qualifier != "" {
		arn += ":" + qualifier
	}
	return arn
}

// APIError is an AWS error: its code (the shape name, as
// "ResourceNotFoundException"), HTTP status and message.
type APIError struct {
	Code    string
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an APIError.
func Errorf(code string, status int, format string, args ...any) *APIError {
	return &APIError{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

// WriteAWSJSON writes an awsJson1_0 / awsJson1_1 success response.
func WriteAWSJSON(w http.ResponseWriter, version string, body any) {
	w.Header().Set("Content-Type", "application/x-amz-json-"+version)
	if body == nil {
		body = struct{}{}
	}
	_ = json.NewEncoder(w).Encode(body)
}

// WriteAWSJSONError writes an awsJson1_0 / awsJson1_1 error response.
func WriteAWSJSONError(w http.ResponseWriter, version string, err *APIError) {
	w.Header().Set("Content-Type", "application/x-amz-json-"+version)
	w.Header().Set("X-Amzn-ErrorType", err.Code)
	w.WriteHeader(err.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": err.Code, "message": err.Message})
}

// InvokeResult is the outcome of a synchronous invoke.
type InvokeResult struct {
	Payload []byte
	// FunctionError is "Unhandled" when the function returned an error
	// (Payload then holds {"errorType","errorMessage"}), else "".
	FunctionError   string
	ExecutedVersion string
}

// Invoker invokes a function synchronously, as Lambda's Invoke does.
// function is a name or ARN (an ARN may carry the qualifier); qualifier is
// a version or alias, "" for $LATEST.
type Invoker interface {
	Invoke(ctx context.Context, function, qualifier string, payload []byte) (InvokeResult, error)
}

// InvocationSink receives each finished invocation, so CloudWatch can derive
// the AWS/Lambda metrics (Invocations, Errors, Duration) from real runs.
// resource is "name" or "name:alias"; executedVersion is the version run.
type InvocationSink interface {
	RecordInvocation(function, resource, executedVersion string, failed bool, duration time.Duration, at time.Time)
}

// LogSink receives a function's output lines for CloudWatch Logs.
type LogSink interface {
	Append(group, stream string, at time.Time, message string)
}

// ExecutionStarter starts a state machine execution (an EventBridge target).
type ExecutionStarter interface {
	StartExecution(ctx context.Context, stateMachineARN, name, input string) (executionARN string, err error)
}
