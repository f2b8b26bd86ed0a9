// Command smoketest is the pipeline's smoke test Lambda: the promotion
// definition's SmokeTest state invokes it with a promotion.TaskRequest and
// routes on the SmokeResult it returns. main only wires: environment, AWS
// config, clients, handler.
package main

import (
	"os"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/smoke"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

func main() {
	// Each line carries the invocation's requestId.
	log := lambdacontext.NewLogger()
	cfg, err := awsenv.Config()
	if err != nil {
		// Without a config no check can run; exiting makes Lambda report an
		// init error instead of failing every invoke obscurely.
		log.Error("smoketest: cannot start", "error", err.Error())
		os.Exit(1)
	}
	env := deploy.SmokeTest
	rec := audit.New(log, eventbridge.NewFromConfig(cfg), &audit.Options{BusName: env.Getenv(deploy.EnvEventBus)})
	// The HTTP checks obey the same loopback fence as the SDK clients.
	h := smoke.New(awslambda.NewFromConfig(cfg), rec, &smoke.Options{HTTP: awsenv.HTTPClient(), Log: log})
	lambda.Start(h.Handle)
}
