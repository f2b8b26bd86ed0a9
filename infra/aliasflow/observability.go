package aliasflow

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/metrics"
)

// Saved Logs Insights queries, under one folder of the console.
const (
	HistoryQueryName   = "aliasflow/promotion-history"
	ApprovalsQueryName = "aliasflow/approvals"
	RollbacksQueryName = "aliasflow/rollbacks"
)

// auditFilter selects audit records whatever Logs Insights makes of a JSON
// boolean.
const auditFilter = `@message like /"audit":\s*true/`

var auditFields = jsii.Strings("@timestamp", "function", "event", "alias", "fromVersion", "toVersion",
	"weight", "actor", "release.commit", "execution", "reason")

func (p *Pipeline) newObservability() {
	awscloudwatch.NewAlarm(p, jsii.String("DeadLettersAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String("aliasflow-dead-letters"),
		AlarmDescription:   jsii.String("A release event, async release invocation or approval e-mail could not be delivered; inspect " + DeadLetterQueueName + "."),
		Metric:             p.deadLetters.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})

	p.dashboard = awscloudwatch.NewDashboard(p, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String(DashboardName),
		DefaultInterval: awscdk.Duration_Days(jsii.Number(7)),
	})
	hour := awscdk.Duration_Hours(jsii.Number(1))
	p.dashboard.AddWidgets(
		graph("Promotions", hour,
			search(metrics.PromotionsStarted, "Sum", hour, "started"),
			search(metrics.PromotionsCompleted, "Sum", hour, "completed"),
			search(metrics.PromotionsRejected, "Sum", hour, "rejected")),
		graph("Rollbacks", hour, search(metrics.PromotionsRolledBack, "Sum", hour, "rolled back")),
		graph("Lead time, merge to prod (s)", hour, search(metrics.LeadTime, "Average", hour, "lead time")),
		graph("Approval wait (s)", hour, search(metrics.ApprovalWait, "Average", hour, "approval wait")),
	)
	// DORA's four keys over the last 30 days, per target, as the reconciler
	// computes them from the audit trail (package delivery; `aliasflow
	// report` prints the same).
	day := awscdk.Duration_Days(jsii.Number(1))
	p.dashboard.AddWidgets(
		graph("Deployments a day (DORA, 30 days)", day, search(metrics.DeploymentsPerDay, "Average", day, "deployments a day")),
		graph("Lead time, release to prod, median (s)", day, search(metrics.DeliveryLeadTime, "Average", day, "lead time")),
		graph("Change failure rate (%)", day, search(metrics.ChangeFailureRate, "Average", day, "change failure rate")),
		graph("Time to restore, median (s)", day, search(metrics.TimeToRestore, "Average", day, "time to restore")),
	)
	minute := awscdk.Duration_Minutes(jsii.Number(5))
	var errs []awscloudwatch.IMetric
	for _, fn := range p.Functions() {
		errs = append(errs, fn.MetricErrors(&awscloudwatch.MetricOptions{Period: minute, Label: fn.FunctionName()}))
	}
	p.dashboard.AddWidgets(
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Pipeline Lambda errors"), Left: &errs, Width: jsii.Number(12)}),
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String("Promotion executions"),
			Left: &[]awscloudwatch.IMetric{
				p.stateMachine.MetricSucceeded(&awscloudwatch.MetricOptions{Period: hour}),
				p.stateMachine.MetricFailed(&awscloudwatch.MetricOptions{Period: hour}),
				p.stateMachine.MetricAborted(&awscloudwatch.MetricOptions{Period: hour}),
			},
			Width: jsii.Number(12),
		}),
	)

	// Every function's prod errors by the version that served them; SEARCH
	// finds the targets at run time, so the dashboard does not change with
	// targets (ExecutedVersion is only known at run time anyway).
	p.dashboard.AddWidgets(awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String("Errors on prod by version, every function"),
		Left: &[]awscloudwatch.IMetric{awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String(`SEARCH('{AWS/Lambda,FunctionName,Resource,ExecutedVersion} MetricName="Errors" prod', 'Sum', 60)`),
			Label:        jsii.String(""),
			Period:       awscdk.Duration_Minutes(jsii.Number(1)),
			UsingMetrics: &map[string]awscloudwatch.IMetric{},
		})},
		Width: jsii.Number(24),
	}))

	p.query(p, "HistoryQuery", HistoryQueryName, nil)
	p.query(p, "ApprovalsQuery", ApprovalsQueryName, []string{
		fmt.Sprintf(`event like /^%s/`, strings.TrimSuffix(string(audit.ApprovalRequested), "requested")),
	})
	p.query(p, "RollbacksQuery", RollbacksQueryName, []string{
		fmt.Sprintf(`event in [%q, %q]`, audit.PromotionRolledBack, audit.HealthFailed),
	})
}

// query saves a Logs Insights query over the audit records, in scope (the
// pipeline, or a target's own).
func (p *Pipeline) query(scope constructs.Construct, id, name string, filters []string) {
	// By name, not by reference: a target's stack then imports nothing.
	logGroup := awslogs.LogGroup_FromLogGroupName(scope, jsii.String(id+"LogGroup"), jsii.String(PipelineLogGroupName))
	awslogs.NewQueryDefinition(scope, jsii.String(id), &awslogs.QueryDefinitionProps{
		QueryDefinitionName: jsii.String(name),
		QueryString: awslogs.NewQueryString(&awslogs.QueryStringProps{
			Fields:           auditFields,
			FilterStatements: jsii.Strings(append([]string{auditFilter}, filters...)...),
			Sort:             jsii.String("@timestamp desc"),
			Limit:            jsii.Number(1000),
		}),
		LogGroups: &[]interfacesawslogs.ILogGroupRef{logGroup},
	})
}

// search is a SEARCH over one aliasflow metric for every Function.
func search(metric, stat string, period awscdk.Duration, label string) awscloudwatch.IMetric {
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(fmt.Sprintf(`SEARCH('{%s,Function} MetricName="%s"', '%s', %d)`,
			metrics.Namespace, metric, stat, int(*period.ToSeconds(nil)))),
		Label:        jsii.String(label),
		Period:       period,
		UsingMetrics: &map[string]awscloudwatch.IMetric{},
	})
}

func graph(title string, period awscdk.Duration, ms ...awscloudwatch.IMetric) awscloudwatch.IWidget {
	return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title:  jsii.String(title),
		Left:   &ms,
		Width:  jsii.Number(6),
		Period: period,
	})
}
