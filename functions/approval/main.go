// Command approval is the pipeline's approval Lambda: as the RequestApproval
// task it e-mails the approvers their signed links and records the outcome;
// behind API Gateway it serves the approval page and takes the decision.
// main only wires: environment, AWS config, clients, handler.
package main

import (
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"log/slog"
	"os"

	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := awsenv.Config()
	if err != nil {
		// Without a config there is nothing to serve; exiting makes Lambda
		// report an init error instead of failing every invoke obscurely.
		log.Error("approval: cannot start", "error", err.Error())
		os.Exit(1)
	}
	h := approval.New(approval.Deps{
		SFN:      sfn.NewFromConfig(cfg),
		SNS:      sns.NewFromConfig(cfg),
		Lambda:   awslambda.NewFromConfig(cfg),
		Keys:     approval.NewSecretKey(secretsmanager.NewFromConfig(cfg), os.Getenv(approval.EnvLinkSecretARN)),
		Audit:    audit.New(log, eventbridge.NewFromConfig(cfg), &audit.Options{BusName: os.Getenv("ALIASFLOW_EVENT_BUS")}),
		Metrics:  metrics.New(os.Stdout, nil),
		Log:      log,
		TopicARN: os.Getenv(approval.EnvTopicARN),
	})
	lambda.Start(h.Handle)
}
