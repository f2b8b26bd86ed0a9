package cli

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

// TestClassifyByKind: the exit code follows the kind of the AWS error
// (shared/awserr), whichever service answered, and the hint names what is
// missing where the CLI knows it.
func TestClassifyByKind(t *testing.T) {
	wrap := func(op string, err error) error {
		return fmt.Errorf("%s: %w", op, &smithy.OperationError{ServiceID: "Svc", OperationName: op, Err: err})
	}
	cases := []struct {
		name     string
		err      error
		wantCode int
		wantHint string
	}{
		{"a missing execution", wrap("DescribeExecution", &sfntypes.ExecutionDoesNotExist{}), ExitNotFound, "list promotions with `aliasflow status <function>`"},
		{"a missing function", wrap("GetAlias", &lambdatypes.ResourceNotFoundException{}), ExitNotFound, "check the function name and --region"},
		{"a missing parameter", wrap("GetParameter", &ssmtypes.ParameterNotFound{}), ExitNotFound, ""},
		{"a missing log group", wrap("FilterLogEvents", &logtypes.ResourceNotFoundException{}), ExitNotFound, ""},
		{"a task timed out", wrap("SendTaskSuccess", &sfntypes.TaskTimedOut{}), ExitConflict, "the promotion has moved on; see `aliasflow status`"},
		{"a stale revision", wrap("UpdateAlias", &lambdatypes.PreconditionFailedException{}), ExitConflict, "the function changed meanwhile; try again"},
		{"a code hash no longer $LATEST's", wrap("PublishVersion", &lambdatypes.InvalidParameterValueException{
			Message: aws.String("CodeSHA256 (a) is different from current CodeSHA256 in $LATEST (b). Please try again.")}), ExitConflict, "the function changed meanwhile; try again"},
		{"a busy function", wrap("UpdateFunctionCode", &lambdatypes.ResourceConflictException{}), ExitConflict, "the function changed meanwhile; try again"},
		{"an invalid parameter", wrap("CreateAlias", &lambdatypes.InvalidParameterValueException{Message: aws.String("bad name")}), ExitFailure, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.err)
			if got.Code != tc.wantCode || got.Hint != tc.wantHint {
				t.Errorf("classify(%v) = code %d hint %q, want code %d hint %q", tc.err, got.Code, got.Hint, tc.wantCode, tc.wantHint)
			}
		})
	}
}
