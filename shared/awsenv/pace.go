package awsenv

import (
	"context"
	"fmt"
	"slices"

	"github.com/aliasflow/aliasflow/shared/deploy"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"
)

// Paced makes a client wait for a token of limiter before each attempt of
// each request (retries included), except for the operations named in
// except: a client-side rate limit under an account-wide request quota that
// many execution environments share, so a burst queues in the caller
// instead of being throttled by AWS. Use it as an APIOptions entry:
//
//	lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.APIOptions = append(o.APIOptions, awsenv.Paced(lim, "Invoke")) })
func Paced(limiter *rate.Limiter, except ...string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		// In Finalize after the retry middleware, so each attempt waits.
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("aliasflowPace",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if !slices.Contains(except, awsmiddleware.GetOperationName(ctx)) {
					if err := limiter.Wait(ctx); err != nil {
						return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("wait for the client's request rate: %w", err)
					}
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	}
}

// ControlPlanePace paces a Lambda client of the named pipeline function
// within its share of the account's Lambda control plane
// (deploy.ControlPlaneShares): one limiter for the execution environment,
// so build it once and share it between the environment's invocations.
// Invoke is no control-plane request ("Lambda quotas": the control plane
// excludes invocation, GetFunction and GetPolicy requests).
func ControlPlanePace(function string) func(*middleware.Stack) error {
	s := deploy.ControlPlaneShareOf(function)
	return Paced(rate.NewLimiter(rate.Limit(s.Rate), s.Burst), "Invoke", "InvokeAsync", "InvokeWithResponseStream", "GetFunction", "GetPolicy")
}
