package promotion

import (
	"context"
	"fmt"

	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// DescribeAPI is the Step Functions call LastAttempt makes.
type DescribeAPI interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// MaxAttempts bounds the promotions (first and retries) one release may have.
const MaxAttempts = 100

// Attempts is what LastAttempt found of a release's promotions.
type Attempts struct {
	// Count is how many exist (0: none); Last is the newest one's name and
	// Status its status.
	Count  int
	Last   string
	Status types.ExecutionStatus
}

// Next is the execution name of the release's next promotion.
func (a Attempts) Next(function, version, codeSha256 string) string {
	return AttemptName(function, version, codeSha256, a.Count+1)
}

// LastAttempt finds a release's promotions among the executions of the
// state machine stateMachineARN, trying AttemptName 1, 2, … with
// DescribeExecution until one does not exist (at most MaxAttempts).
func LastAttempt(ctx context.Context, api DescribeAPI, stateMachineARN, function, version, codeSha256 string) (Attempts, error) {
	var found Attempts
	for a := 1; a <= MaxAttempts; a++ {
		name := AttemptName(function, version, codeSha256, a)
		out, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(ExecutionARN(stateMachineARN, name))})
		if awserr.Code(err) == awserr.NotFound {
			return found, nil
		}
		if err != nil {
			return Attempts{}, fmt.Errorf("describe promotion %s: %w", name, err)
		}
		found = Attempts{Count: a, Last: name, Status: out.Status}
	}
	return found, nil
}
