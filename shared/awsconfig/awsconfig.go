// Package awsconfig loads the AWS SDK configuration from the default chain,
// for the CLI and tests (the Lambdas read theirs from the environment with
// package awsenv), fenced to loopback when ALIASFLOW_LOOPBACK_ONLY=1 so a
// test or a sandbox run can never reach a real AWS host by accident.
package awsconfig

import (
	"context"
	"fmt"
	"os"

	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"
)

// Load returns the SDK configuration from the default chain
// (AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> included), with
// awsenv.WithPlainRequestBodies among its API options.
func Load(ctx context.Context, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	optFns = append([]func(*config.LoadOptions) error{config.WithAPIOptions([]func(*middleware.Stack) error{awsenv.WithPlainRequestBodies})}, optFns...)
	if os.Getenv(awsenv.LoopbackOnlyEnv) == "1" {
		optFns = append([]func(*config.LoadOptions) error{config.WithHTTPClient(awsenv.LoopbackOnlyClient())}, optFns...)
	}
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	return cfg, nil
}
