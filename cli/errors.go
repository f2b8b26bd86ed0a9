package cli

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aliasflow/aliasflow/shared/awserr"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Exit codes scripts can rely on (listed by `aliasflow help`).
const (
	ExitOK = 0
	// ExitFailure: anything else went wrong (an AWS call, the network).
	ExitFailure = 1
	// ExitUsage: the command line is wrong.
	ExitUsage = 2
	// ExitNotFound: the function, promotion or state machine does not exist.
	ExitNotFound = 3
	// ExitConflict: the promotion is not in a state the command applies to
	// (already decided, not baking, nothing to roll back).
	ExitConflict = 4
	// ExitUnsuccessful: the watched promotion ended failed, aborted or timed out.
	ExitUnsuccessful = 5
	// ExitRefused: a confirmation was declined, or was needed and could
	// not be asked (no terminal and no --yes).
	ExitRefused = 6
	// ExitReleaseRefused: the release Lambda refused the release request
	// (`release`; the message gives its reason).
	ExitReleaseRefused = 7
	// ExitInterrupted: the demo was stopped with Ctrl-C (SIGINT) or
	// SIGTERM; 128+2, the shell's code for a SIGINT.
	ExitInterrupted = 130
)

// Error is a command's failure: what went wrong, the exit code it maps to,
// and what the operator can do next.
type Error struct {
	Code int
	Err  error
	// Hint says what to do next; printed under the error.
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func fail(code int, hint, format string, args ...any) *Error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...), Hint: hint}
}

func usageError(format string, args ...any) *Error {
	return &Error{Code: ExitUsage, Err: fmt.Errorf(format, args...), Hint: "run `aliasflow help` for the commands and their flags"}
}

// classify maps an error to its exit code and hint: typed SDK errors that
// mean "not found" or "not in that state" get their own codes so scripts
// can tell them from an outage.
func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var (
		execMissing *sfntypes.ExecutionDoesNotExist
		smMissing   *sfntypes.StateMachineDoesNotExist
		fnMissing   *lambdatypes.ResourceNotFoundException
		opErr       *net.OpError
	)
	// Without credentials the SDK fails before sending anything (the
	// chain ends at the EC2 instance metadata, which may itself be
	// unreachable): that is not a network problem.
	if msg := err.Error(); strings.Contains(msg, "get credentials:") || strings.Contains(msg, "failed to refresh cached credentials") {
		return &Error{Code: ExitFailure, Err: err,
			Hint: "no AWS credentials found: sign in (aws sso login, or set AWS_PROFILE / AWS_ACCESS_KEY_ID); for the sandbox pass --endpoint " + DefaultLocalEndpoint + " with any dummy keys"}
	}
	switch awserr.Code(err) {
	case awserr.NotFound:
		// The kind gives the exit code; which thing is missing, the hint.
		hint := ""
		switch {
		case errors.As(err, &execMissing):
			hint = "list promotions with `aliasflow status <function>`"
		case errors.As(err, &smMissing):
			hint = "is aliasflow deployed here? pass --state-machine NAME|ARN, or --endpoint for the sandbox"
		case errors.As(err, &fnMissing):
			hint = "check the function name and --region"
		}
		return &Error{Code: ExitNotFound, Err: err, Hint: hint}
	case awserr.Closed:
		return &Error{Code: ExitConflict, Err: err, Hint: "the promotion has moved on; see `aliasflow status`"}
	case awserr.Conflict, awserr.Stale:
		return &Error{Code: ExitConflict, Err: err, Hint: "the function changed meanwhile; try again"}
	}
	switch {
	case errors.As(err, &opErr):
		if loopbackAddr(opErr.Addr) {
			return &Error{Code: ExitFailure, Err: err, Hint: "nothing answers on this machine at that address: start the sandbox with `aliasflow local`, or check --endpoint / AWS_ENDPOINT_URL"}
		}
		return &Error{Code: ExitFailure, Err: err, Hint: "cannot reach AWS: check the network, --region, and --endpoint / AWS_ENDPOINT_URL if set"}
	}
	return &Error{Code: ExitFailure, Err: err}
}

// loopbackAddr reports whether a dialled address is on this machine.
func loopbackAddr(addr net.Addr) bool {
	if addr == nil {
		return false
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		host = addr.String()
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
