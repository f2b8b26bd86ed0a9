// Command shift is the pipeline's shift Lambda: the promotion definition's
// BeginShift, SetWeight, Bake, CheckHealth, Finalize, Rollback, Abort and
// RestoreStg states invoke it with a promotion.TaskRequest; it runs only
// the tasks the promotion state machine scheduled. main only wires: environment, AWS config, clients,
// handler.
package main

import (
	"os"

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
	h := shift.New(awslambda.NewFromConfig(cfg), cloudwatch.NewFromConfig(cfg), sfn.NewFromConfig(cfg), rec, metrics.New(os.Stdout, nil), &shift.Options{Log: log, Logs: cloudwatchlogs.NewFromConfig(cfg)})
	lambda.Start(h.Handle)
}
