// Command smoketest is the pipeline's smoke test Lambda: the promotion
// definition's SmokeTest state invokes it with a promotion.TaskRequest and
// routes on the SmokeResult it returns. main only wires: environment, AWS
// config, clients, handler.
package main

import (
	"log/slog"
	"net/http"
	"os"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/smoke"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := awsenv.Config()
	if err != nil {
		// Without a config no check can run; exiting makes Lambda report an
		// init error instead of failing every invoke obscurely.
		log.Error("smoketest: cannot start", "error", err.Error())
		os.Exit(1)
	}
	// The HTTP checks obey the same loopback fence as the SDK clients.
	var web smoke.HTTPDoer = http.DefaultClient
	if os.Getenv(awsenv.LoopbackOnlyEnv) == "1" {
		web = awsenv.LoopbackOnlyClient()
	}
	rec := audit.New(log, eventbridge.NewFromConfig(cfg), &audit.Options{BusName: os.Getenv("ALIASFLOW_EVENT_BUS")})
	h := smoke.New(awslambda.NewFromConfig(cfg), rec, &smoke.Options{HTTP: web, Log: log})
	lambda.Start(h.Handle)
}
