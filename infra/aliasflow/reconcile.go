package aliasflow

import (
	"strings"

	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/jsii-runtime-go"
)

// The reconciler's names and schedule.
const (
	ReconcileFunctionName = deploy.ReconcileFunction
	ReconcileScheduleName = deploy.ReconcileSchedule
	// ReconcileRate is how often the reconciler runs: a hand move or a
	// missed build is noticed within minutes, at a handful of calls a run
	// (shared/reconcile).
	ReconcileRate = "rate(5 minutes)"
)

// ReconcileFunction returns the Lambda that compares the world with the
// ledger on a schedule.
func (p *Pipeline) ReconcileFunction() awslambda.Function { return p.reconcile }

// newReconciler deploys the reconciler and the EventBridge Scheduler
// schedule that runs it. Scheduler invokes a Lambda target asynchronously,
// with the schedule's own execution role ("Invoke a Lambda function on a
// schedule", AWS Lambda Developer Guide,
// https://docs.aws.amazon.com/lambda/latest/dg/with-eventbridge-scheduler.html;
// AWS::Scheduler::Schedule, CloudFormation). Its grants are what one run
// calls, no more.
func (p *Pipeline) newReconciler() {
	p.reconcile = p.newFunction("Reconcile", ReconcileFunctionName, "reconcile",
		"Compares the world with the audit trail: drift, missed builds, stuck promotions; prunes old versions; delivery metrics.",
		// A run paces one ListAliases a target (its share, deploy.ControlPlaneShares):
		// 100 s at 200 targets, and pruning's calls for at most 50 of them
		// (reconcile.DefaultPruneTargets) about 50 s more, 125 s when they
		// each delete a version; a pass stops short of this timeout.
		awscdk.Duration_Minutes(jsii.Number(5)), &map[string]*string{
			EnvEventBus:            jsii.String(DefaultEventBus),
			deploy.EnvSettingsPath: jsii.String(p.SettingsPath()),
			EnvStateMachineArn:     p.stateMachineArn(),
		})
	// One run at a time: two would each report the same finding once.
	p.reconcile.Node().DefaultChild().(awslambda.CfnFunction).SetReservedConcurrentExecutions(jsii.Number(deploy.ReconcileConcurrency))
	suppress(p.reconcile, nagReasons{
		"Serverless-LambdaDLQ": "Invoked only by its schedule; a failed run is not replayed, the next run (minutes later) reconciles from the world as it then is, so a dead-letter queue would hold nothing worth redoing.",
	})
	tagged := map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/" + PipelineTag: p.props.Name}}
	allow(p.reconcile, []string{"events:PutEvents"}, p.stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("events"), Resource: jsii.String("event-bus"), ResourceName: jsii.String(DefaultEventBus),
	}))
	allow(p.reconcile, []string{"ssm:GetParametersByPath"}, p.settingsArn())
	allowIf(p.reconcile, tagged, []string{"lambda:ListAliases", "lambda:ListVersionsByFunction"}, p.lambdaArn("*"))
	// Pruning (shared/prune, the targets whose settings set
	// prune.keepLast) deletes old published versions of the tagged targets
	// as the operators' `aliasflow prune` may (OperatorStatements): only
	// qualified ARNs (function:NAME:VERSION), so never a whole function;
	// Lambda itself refuses a version an alias references, and $LATEST.
	allowIf(p.reconcile, tagged, []string{"lambda:DeleteFunction"}, p.lambdaArn("*:*"))
	// It reports the Region's code storage: GetAccountSettings has no
	// resource-level permission ("Actions, resources, and condition keys
	// for AWS Lambda", Service Authorization Reference).
	allow(p.reconcile, []string{"lambda:GetAccountSettings"}, jsii.String("*"))
	// A swept build goes the release function's own way (async Invoke).
	allow(p.reconcile, []string{"lambda:InvokeFunction"}, p.release.FunctionArn())
	// ListBuilds has no resource-level permissions (Service Authorization
	// Reference, AWS CodeBuild); BatchGetBuilds is held to the targets'
	// projects by their tag.
	allow(p.reconcile, []string{"codebuild:ListBuilds"}, jsii.String("*"))
	allowIf(p.reconcile, tagged, []string{"codebuild:BatchGetBuilds"}, p.stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("codebuild"), Resource: jsii.String("project"), ResourceName: jsii.String("*"),
	}))
	allow(p.reconcile, []string{"states:ListExecutions"}, p.stateMachineArn())
	// Pruning keeps the versions a running promotion's input names.
	allow(p.reconcile, []string{"states:DescribeExecution"}, p.executionsArn())
	allow(p.reconcile, []string{"logs:FilterLogEvents"}, p.trailArns()...)

	role := awsiam.NewRole(p, jsii.String("ReconcileScheduleRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			// Only this account's schedules may use the role (the confused
			// deputy guard of "Set up the execution role", EventBridge
			// Scheduler User Guide).
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": p.stack.Account()}},
		}),
		Description: jsii.String("Role of the " + ReconcileScheduleName + " schedule: invokes the reconciler"),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: &[]*string{p.reconcile.FunctionArn()},
	}))
	awsscheduler.NewCfnSchedule(p, jsii.String("ReconcileSchedule"), &awsscheduler.CfnScheduleProps{
		Name:               jsii.String(ReconcileScheduleName),
		Description:        jsii.String("Runs " + ReconcileFunctionName + ": drift, missed builds, stuck promotions, pruning, delivery metrics."),
		ScheduleExpression: jsii.String(ReconcileRate),
		FlexibleTimeWindow: &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
		State:              jsii.String("ENABLED"),
		Target: &awsscheduler.CfnSchedule_TargetProperty{
			Arn:     p.reconcile.FunctionArn(),
			RoleArn: role.RoleArn(),
			// An empty input, stated: without one Scheduler delivers "a
			// default notification", whose content the Target API reference
			// does not give, and the reconciler refuses fields it does not
			// know (reconcile.Input).
			Input: jsii.String("{}"),
			// A run that did not start is not worth redoing: the next one
			// comes in five minutes.
			RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{MaximumRetryAttempts: jsii.Number(0), MaximumEventAgeInSeconds: jsii.Number(300)},
		},
	})
}

// settingsArn is the targets' settings parameters (parameter/<path>*).
func (p *Pipeline) settingsArn() *string {
	return p.stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("ssm"), Resource: jsii.String("parameter"), ResourceName: jsii.String(strings.TrimPrefix(p.SettingsPath(), "/") + "*"),
	})
}
