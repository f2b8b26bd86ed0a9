// Command release is the EventBridge target that turns a finished build into
// a promotion: it publishes the build's code as a version, moves stg to it
// and starts the promotion workflow (see package release). main only wires:
// environment, AWS config, clients, handler.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/release"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

func main() {
	// Each line carries the invocation's requestId.
	log := lambdacontext.NewLogger()
	h, err := newHandler(context.Background(), log)
	if err != nil {
		log.Error("release: cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

func newHandler(ctx context.Context, log *slog.Logger) (*release.Handler, error) {
	env := deploy.Release
	cfg, err := config.FromEnv() // reads deploy.EnvConfig
	if err != nil {
		return nil, err
	}
	sm := env.Getenv(deploy.EnvStateMachineARN)
	if sm == "" {
		return nil, fmt.Errorf("%s is not set", deploy.EnvStateMachineARN)
	}
	awsCfg, err := awsenv.Config()
	if err != nil {
		return nil, err
	}
	rec := audit.New(log, eventbridge.NewFromConfig(awsCfg), &audit.Options{BusName: env.Getenv(deploy.EnvEventBus)})
	return release.New(cfg, sm, awslambda.NewFromConfig(awsCfg), sfn.NewFromConfig(awsCfg), codebuild.NewFromConfig(awsCfg), rec,
		metrics.New(os.Stdout, nil), &release.Options{Log: log}), nil
}
