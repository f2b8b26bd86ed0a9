// Package awserr is the one place that says what an AWS error means, in the
// style of go-cloud's gcerrors: Code(err) sorts any error an SDK call
// returns into a few kinds a caller branches on (not found, exists, stale,
// closed, transient, …), so that no caller matches error names or messages
// of its own.
//
// The kinds come from the error shapes of the API models (the names the
// SDK's typed errors answer with ErrorCode(), which is also what a
// smithy.APIError decoded from the wire carries), not from messages; the
// one exception is documented at staleMessage.
package awserr

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// ErrorCode is the kind of an AWS error.
type ErrorCode int

const (
	// OK is the code of a nil error; no error has it.
	OK ErrorCode = iota
	// Unknown: none of the kinds below (a failure of the call itself, a
	// fault of the service, an error shape aliasflow does not branch on).
	Unknown
	// NotFound: the function, alias, version, execution, state machine,
	// parameter, topic, alarm or log group does not exist.
	NotFound
	// AlreadyExists: a create found the resource already there (an
	// execution of that name, a parameter, a log group).
	AlreadyExists
	// Conflict: Lambda's ResourceConflictException, which its API
	// reference gives two meanings, "The resource already exists, or
	// another operation is in progress"
	// (https://docs.aws.amazon.com/lambda/latest/api/API_CreateAlias.html#API_CreateAlias_Errors):
	// after a create the resource exists; after an update, a publish or an
	// invoke the function is busy (being updated, or a version Pending),
	// which passes. Only the operation tells which, so it is its own code.
	Conflict
	// Stale: a guarded write lost its guard, the resource changed since it
	// was read (a RevisionId or CodeSha256 that no longer matches).
	Stale
	// Closed: the task a token belongs to is no longer open (decided,
	// timed out, or its execution ended).
	Closed
	// Transient: throttling, a 5xx, a timeout or a dropped connection,
	// still so after the SDK's own retries; trying again later may work.
	Transient
	// Invalid: the request itself is wrong (a parameter, the input).
	Invalid
	// Denied: the caller's credentials or permissions do not allow it.
	Denied
)

var names = [...]string{OK: "OK", Unknown: "Unknown", NotFound: "NotFound", AlreadyExists: "AlreadyExists", Conflict: "Conflict",
	Stale: "Stale", Closed: "Closed", Transient: "Transient", Invalid: "Invalid", Denied: "Denied"}

func (c ErrorCode) String() string {
	if c >= 0 && int(c) < len(names) {
		return names[c]
	}
	return "ErrorCode(" + strconv.Itoa(int(c)) + ")"
}

// byShape maps the error shapes of the API models of the services aliasflow
// calls to their kind. Several services share a shape name; they mean the
// same there.
var byShape = map[string]ErrorCode{
	// Lambda, CloudWatch Logs, Secrets Manager, EventBridge, CodeBuild.
	"ResourceNotFoundException": NotFound,
	// Step Functions.
	"ExecutionDoesNotExist":    NotFound,
	"StateMachineDoesNotExist": NotFound,
	"ActivityDoesNotExist":     NotFound,
	"ResourceNotFound":         NotFound, // and CloudWatch (SetAlarmState)
	// SSM.
	"ParameterNotFound":        NotFound,
	"ParameterVersionNotFound": NotFound,
	// SNS (NotFoundException's code).
	"NotFound": NotFound,
	// IAM.
	"NoSuchEntity": NotFound,

	"ExecutionAlreadyExists":         AlreadyExists, // Step Functions: same name, another input, or closed
	"StateMachineAlreadyExists":      AlreadyExists,
	"ParameterAlreadyExists":         AlreadyExists, // SSM
	"ResourceAlreadyExistsException": AlreadyExists, // CloudWatch Logs, EventBridge
	"ResourceExistsException":        AlreadyExists, // Secrets Manager
	"EntityAlreadyExists":            AlreadyExists, // IAM

	"ResourceConflictException": Conflict, // Lambda; see Conflict

	"PreconditionFailedException": Stale, // Lambda: RevisionId does not match

	// Step Functions answers SendTask* for a task that is no longer open
	// with one of these: TaskDoesNotExist (the execution ended),
	// TaskTimedOut, and InvalidToken for a token it no longer accepts.
	"TaskDoesNotExist": Closed,
	"TaskTimedOut":     Closed,
	"InvalidToken":     Closed,

	// Lambda: the function cannot serve the call yet (Invoke, Lambda API
	// reference; https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html).
	"ResourceNotReadyException":  Transient,
	"SnapStartNotReadyException": Transient,
	// CloudWatch reports its rate limits under this code, which the SDK's
	// throttle list (retry.DefaultThrottleErrorCodes) does not name.
	"LimitExceededFault": Transient,
	// The common errors of every AWS API (Common Errors, e.g.
	// https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html).
	"InternalFailure":             Transient,
	"ServiceException":            Transient, // Lambda's 500
	"ServiceUnavailable":          Transient,
	"ServiceUnavailableException": Transient,
	"ThrottlingException":         Transient,

	"InvalidParameterValueException":       Invalid, // Lambda, Secrets Manager
	"InvalidRequestContentException":       Invalid, // Lambda
	"InvalidParameterException":            Invalid, // CloudWatch Logs, SNS, Secrets Manager
	"InvalidParameterValue":                Invalid, // CloudWatch
	"InvalidParameterCombination":          Invalid, // CloudWatch
	"MissingParameter":                     Invalid, // CloudWatch
	"InvalidFormat":                        Invalid, // CloudWatch (SetAlarmState's reason data)
	"InvalidInputException":                Invalid, // CodeBuild
	"InvalidRequestException":              Invalid, // Secrets Manager
	"ValidationException":                  Invalid, // SSM, Step Functions, EventBridge, the sandbox's model check
	"InvalidArn":                           Invalid, // Step Functions
	"InvalidName":                          Invalid,
	"InvalidExecutionInput":                Invalid,
	"InvalidOutput":                        Invalid,
	"InvalidDefinition":                    Invalid,
	"InvalidKeyId":                         Invalid, // SSM
	"ParameterPatternMismatchException":    Invalid,
	"HierarchyLevelLimitExceededException": Invalid,
	"RequestTooLargeException":             Invalid, // Lambda: the payload

	"AccessDeniedException":       Denied, // Lambda, Step Functions, SSM, …
	"AccessDenied":                Denied, // STS, query services
	"AuthorizationError":          Denied, // SNS
	"AuthorizationErrorException": Denied,
	"UnrecognizedClientException": Denied,
	"InvalidClientTokenId":        Denied,
	"InvalidSignatureException":   Denied,
	"SignatureDoesNotMatch":       Denied,
	"ExpiredToken":                Denied,
	"ExpiredTokenException":       Denied,
	"MissingAuthenticationToken":  Denied,
	"IncompleteSignature":         Denied,
	"KMSAccessDeniedException":    Denied, // Lambda: the function's key
}

// Code sorts err into its kind; a nil error is OK. It looks through
// wrapping (fmt.Errorf %w, the SDK's OperationError and ResponseError).
func Code(err error) ErrorCode {
	if err == nil {
		return OK
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		code := api.ErrorCode()
		if code == "InvalidParameterValueException" && staleMessage(api.ErrorMessage()) {
			return Stale
		}
		if c, ok := byShape[code]; ok {
			return c
		}
		// The service's own trouble (ServiceException, 5xx shapes).
		if api.ErrorFault() == smithy.FaultServer {
			return Transient
		}
	}
	if transient(err) {
		return Transient
	}
	return Unknown
}

// Is reports whether err is of one of the kinds.
func Is(err error, codes ...ErrorCode) bool {
	c := Code(err)
	for _, want := range codes {
		if c == want {
			return true
		}
	}
	return false
}

// staleMessage reads the one message the kind depends on. PublishVersion
// with a CodeSha256 that is not $LATEST's ("Only publish a version if the
// hash value matches the value that's specified", PublishVersion, Lambda API
// reference, https://docs.aws.amazon.com/lambda/latest/api/API_PublishVersion.html)
// fails with InvalidParameterValueException ("CodeSHA256 (…) is different
// from current CodeSHA256 in $LATEST…"), the shape Lambda also uses for
// malformed requests, while a stale RevisionId gets its own shape,
// PreconditionFailedException. The API model has no other field that tells
// them apart, so the message, which names CodeSHA256, does.
func staleMessage(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "codesha256")
}

// transient is the SDK's own notion of throttling and retryable errors
// (its throttle and retryable code lists, 5xx answers, connection
// errors), plus timeouts.
func transient(err error) bool {
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
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}
