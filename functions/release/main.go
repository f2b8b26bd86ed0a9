// Command release is the EventBridge target that turns a finished build into
// a promotion: it publishes the build's code as a version, moves stg to it
// and starts the promotion workflow (see package release).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/release"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := newHandler(context.Background(), log)
	if err != nil {
		log.Error("release: cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

func newHandler(ctx context.Context, log *slog.Logger) (*release.Handler, error) {
	path := os.Getenv(settings.EnvPath)
	if path == "" {
		return nil, fmt.Errorf("%s is not set", settings.EnvPath)
	}
	sm := os.Getenv("ALIASFLOW_STATE_MACHINE_ARN")
	if sm == "" {
		return nil, fmt.Errorf("ALIASFLOW_STATE_MACHINE_ARN is not set")
	}
	awsCfg, err := awsenv.Config()
	if err != nil {
		return nil, err
	}
	// Built once, so its cache lives across the invocations of this
	// execution environment.
	store, err := settings.NewStore(ssm.NewFromConfig(awsCfg), path, nil)
	if err != nil {
		return nil, err
	}
	return &release.Handler{
		Targets:         store,
		StateMachineARN: sm,
		Lambda:          awslambda.NewFromConfig(awsCfg),
		SFN:             sfn.NewFromConfig(awsCfg),
		Builds:          codebuild.NewFromConfig(awsCfg),
		Audit:           audit.New(log, eventbridge.NewFromConfig(awsCfg), &audit.Options{BusName: os.Getenv("ALIASFLOW_EVENT_BUS")}),
		Metrics:         metrics.New(os.Stdout, nil),
		Log:             log,
	}, nil
}
