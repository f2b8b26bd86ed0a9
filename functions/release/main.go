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
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/release"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
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
	path := env.Getenv(deploy.EnvSettingsPath)
	if path == "" {
		return nil, fmt.Errorf("%s is not set", deploy.EnvSettingsPath)
	}
	sm := env.Getenv(deploy.EnvStateMachineARN)
	if sm == "" {
		return nil, fmt.Errorf("%s is not set", deploy.EnvStateMachineARN)
	}
	awsCfg, err := awsenv.Config()
	if err != nil {
		return nil, err
	}
	// A burst of releases meets AWS's request quotas (Lambda's control
	// plane: 15 requests/s). A throttled call is retried here, patiently;
	// one still throttled fails the invocation (never a refusal), which
	// Lambda's asynchronous invocation runs twice more, one and then two
	// minutes later, before the on-failure destination (the dead-letter
	// queue) gets it ("How Lambda handles errors and retries with
	// asynchronous invocation",
	// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
	// EventBridge's own retry policy (24 hours, 185 attempts: "How
	// EventBridge retries delivering events",
	// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html)
	// covers only the hand-over to Lambda's queue, not the function's errors.
	awsCfg.Retryer = awsenv.PatientRetryer(0, 0)
	// Built once, so its cache lives across the invocations of this
	// execution environment.
	params := ssm.NewFromConfig(awsCfg)
	store, err := settings.NewStore(params, path, nil)
	if err != nil {
		return nil, err
	}
	rec := audit.New(log, eventbridge.NewFromConfig(awsCfg), &audit.Options{BusName: env.Getenv(deploy.EnvEventBus)})
	// Caller proofs are checked only against the STS endpoint of this
	// Lambda's own region (or the sandbox's), never a host an event names.
	override := os.Getenv("AWS_ENDPOINT_URL_STS")
	if override == "" {
		override = os.Getenv("AWS_ENDPOINT_URL")
	}
	callers, err := release.NewSTSCallers(release.STSEndpoint(awsCfg.Region, override), awsenv.HTTPClient())
	if err != nil {
		return nil, err
	}
	// Each environment paces its Lambda control-plane requests (retries
	// included) within the release's share of the account's 15 requests a
	// second (deploy.ControlPlaneShares).
	pace := awsenv.ControlPlanePace(deploy.ReleaseFunction)
	lambdaClient := awslambda.NewFromConfig(awsCfg, func(o *awslambda.Options) { o.APIOptions = append(o.APIOptions, pace) })
	return release.New(store, sm, lambdaClient, sfn.NewFromConfig(awsCfg), codebuild.NewFromConfig(awsCfg), rec,
		metrics.New(os.Stdout, nil), &release.Options{Log: log, Callers: callers, SettingsPath: path, SettingsHistory: params}), nil
}
