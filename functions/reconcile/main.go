// Command reconcile is the pipeline's reconciler, run by an EventBridge
// Scheduler schedule: it compares the world with the ledger and records
// drift, missed builds (handed to the release function) and stuck
// promotions, once each, prunes the targets whose settings set
// prune.keepLast, and writes the delivery metrics (see package reconcile).
// main only wires: environment, AWS config, clients, handler.
package main

import (
	"os"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/ledger"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/reconcile"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"golang.org/x/time/rate"
)

func main() {
	// Each line carries the invocation's requestId.
	log := lambdacontext.NewLogger()
	cfg, err := awsenv.Config()
	if err != nil {
		log.Error("reconcile: cannot start", "error", err.Error())
		os.Exit(1)
	}
	env := deploy.Reconcile
	for _, k := range []string{deploy.EnvSettingsPath, deploy.EnvStateMachineARN} {
		if env.Getenv(k) == "" {
			log.Error("reconcile: cannot start", "error", k+" is not set")
			os.Exit(1)
		}
	}
	// A run is a handful of calls; a throttle waits rather than failing
	// the run (the next one comes anyway).
	cfg.Retryer = awsenv.PatientRetryer(0, 0)
	rec := audit.New(log, eventbridge.NewFromConfig(cfg), &audit.Options{BusName: env.Getenv(deploy.EnvEventBus)})
	// The trail's pages (the ledger's 90 days when a run prunes, one read
	// a target whose alias aliasflow did not write last) are read at most
	// 1 a second: FilterLogEvents' quota, 5 a second per account and
	// Region ("CloudWatch Logs quotas"), is budgeted at 80 % for the
	// health checks of 200 baking promotions (shared/shift readspacing.go),
	// and the approval API and the CLI read it too. 200 such targets are
	// read in 200 s, inside the run's 5 minutes.
	logsPace := awsenv.Paced(rate.NewLimiter(1, 1))
	logs := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.APIOptions = append(o.APIOptions, logsPace) })
	trail := ledger.Ledger{Logs: logs, Group: deploy.PipelineLogGroup, Now: time.Now}
	// One ListAliases a target, and pruning's reads and deletions, paced
	// within the reconciler's share (deploy.ControlPlaneShares); the one
	// Invoke of a swept build is no control-plane request.
	pace := awsenv.ControlPlanePace(deploy.ReconcileFunction)
	lambdaClient := awslambda.NewFromConfig(cfg, func(o *awslambda.Options) { o.APIOptions = append(o.APIOptions, pace) })
	h := reconcile.New(lambdaClient, codebuild.NewFromConfig(cfg), sfn.NewFromConfig(cfg), ssm.NewFromConfig(cfg), trail, rec,
		metrics.New(os.Stdout, nil), env.Getenv(deploy.EnvSettingsPath), env.Getenv(deploy.EnvStateMachineARN), deploy.ReleaseFunction,
		&reconcile.Options{Log: log})
	lambda.Start(h.Handle)
}
