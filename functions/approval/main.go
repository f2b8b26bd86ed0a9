// Command approval is the pipeline's approval Lambda: as the RequestApproval
// task it e-mails the approvers their signed links and records the outcome;
// behind API Gateway it serves the approval page and takes the decision.
// main only wires: environment, AWS config, clients, handler.
package main

import (
	"os"
	"time"

	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/ledger"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

func main() {
	// Each line carries the invocation's requestId.
	log := lambdacontext.NewLogger()
	cfg, err := awsenv.Config()
	if err != nil {
		// Without a config there is nothing to serve; exiting makes Lambda
		// report an init error instead of failing every invoke obscurely.
		log.Error("approval: cannot start", "error", err.Error())
		os.Exit(1)
	}
	env := deploy.Approval
	keys := approval.NewSecretKey(secretsmanager.NewFromConfig(cfg), env.Getenv(deploy.EnvLinkSecret))
	rec := audit.New(log, eventbridge.NewFromConfig(cfg), &audit.Options{BusName: env.Getenv(deploy.EnvEventBus)})
	// Built once, so its cache lives across the invocations of this
	// execution environment.
	params := ssm.NewFromConfig(cfg)
	store, err := settings.NewStore(params, env.Getenv(deploy.EnvSettingsPath), nil)
	if err != nil {
		log.Error("approval: cannot start", "error", err.Error())
		os.Exit(1)
	}
	approvals, err := settings.ApprovalsPath(env.Getenv(deploy.EnvSettingsPath))
	if err != nil {
		log.Error("approval: cannot start", "error", err.Error())
		os.Exit(1)
	}
	states := sfn.NewFromConfig(cfg)
	// Manual rollbacks are decided from the audit trail the pipeline's
	// Lambdas log (as far back as the CLI's status reads it).
	trail := ledger.Ledger{Logs: cloudwatchlogs.NewFromConfig(cfg), Group: deploy.PipelineLogGroup, Window: ledger.DefaultWindow, Now: time.Now}
	h := approval.New(states, sns.NewFromConfig(cfg), awslambda.NewFromConfig(cfg), keys, rec, metrics.New(os.Stdout, nil),
		&approval.Options{TopicARN: env.Getenv(deploy.EnvApprovalTopic), Log: log, Settings: store,
			Tally:     approval.ParameterTally{Client: params, Path: approvals},
			Rollbacks: states, Trail: trail, StateMachine: env.Getenv(deploy.EnvStateMachineARN)})
	lambda.Start(h.Handle)
}
