package shift

import (
	"context"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// maxVersionConfigs bounds versionConfigs: an execution environment serves
// many promotions over its life.
const maxVersionConfigs = 512

// versionConfigs keeps what GetFunctionConfiguration said of published
// versions, for the life of the execution environment: "After you publish
// a function version, its code, runtime, architecture, memory, layers, and
// most other configuration settings are immutable" ("Manage Lambda
// function versions",
// https://docs.aws.amazon.com/lambda/latest/dg/configuration-versions.html)
// — the role, dead-letter queue and logging configuration the shift reads
// among them. A promotion's tasks read the same two versions' settings
// (BeginShift's role and DLQ check, each step's log groups), and every read
// is a Lambda control-plane request, 15 a second for the whole account. Only
// an Active version's answer is kept (a Pending one's state changes), and
// $LATEST or an alias is never cached.
type versionConfigs struct {
	Lambda
	mu   sync.Mutex
	seen map[string]*lambda.GetFunctionConfigurationOutput
}

func (c *versionConfigs) GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error) {
	q := aws.ToString(in.Qualifier)
	if _, err := strconv.ParseUint(q, 10, 64); err != nil {
		return c.Lambda.GetFunctionConfiguration(ctx, in, opts...)
	}
	key := aws.ToString(in.FunctionName) + ":" + q
	c.mu.Lock()
	out, ok := c.seen[key]
	c.mu.Unlock()
	if ok {
		return out, nil
	}
	out, err := c.Lambda.GetFunctionConfiguration(ctx, in, opts...)
	if err != nil || out.State != lambdatypes.StateActive {
		return out, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil || len(c.seen) >= maxVersionConfigs {
		c.seen = map[string]*lambda.GetFunctionConfigurationOutput{}
	}
	c.seen[key] = out
	return out, nil
}
