// Command shift is the pipeline's shift Lambda: the promotion definition's
// BeginShift, SetWeight, Bake, CheckHealth, Finalize, Rollback, Abort and
// RestoreStg states invoke it with a promotion.TaskRequest; it runs only
// the tasks the promotion state machine scheduled. main only wires: environment, AWS config, clients,
// handler.
package main

import (
	"os"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/shift"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

func main() {
	// Each line carries the invocation's requestId.
	log := lambdacontext.NewLogger()
	cfg, err := awsenv.Config()
	if err != nil {
		// Without a config no task can run; exiting makes Lambda report an
		// init error instead of failing every invoke obscurely.
		log.Error("shift: cannot start", "error", err.Error())
		os.Exit(1)
	}
	env := deploy.Shift
	rec := audit.New(log, eventbridge.NewFromConfig(cfg), &audit.Options{BusName: env.Getenv(deploy.EnvEventBus)})
	// The caller check (one GetExecutionHistory page) runs on every task:
	// a throttle there waits (6 attempts, ≤ 4 s apart, then the handler's
	// own backoff while the Lambda's minute lasts) rather than failing the
	// task into a rollback.
	states := sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.Retryer = awsenv.PatientRetryer(6, 4*time.Second)() })
	// The environment's Lambda control-plane requests are paced within
	// the shift's share (deploy.ControlPlaneShares; Invoke, the probes, is
	// not a control-plane request).
	pace := awsenv.ControlPlanePace(deploy.ShiftFunction)
	lambdaClient := awslambda.NewFromConfig(cfg, func(o *awslambda.Options) { o.APIOptions = append(o.APIOptions, pace) })
	h := shift.New(lambdaClient, cloudwatch.NewFromConfig(cfg), states, rec, metrics.New(os.Stdout, nil), &shift.Options{Log: log, Logs: cloudwatchlogs.NewFromConfig(cfg)})
	lambda.Start(h.Handle)
}
