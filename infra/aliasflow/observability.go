package aliasflow

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawslogs"
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

	p.query("HistoryQuery", HistoryQueryName, nil)
	p.query("ApprovalsQuery", ApprovalsQueryName, []string{
		fmt.Sprintf(`event like /^%s/`, strings.TrimSuffix(string(audit.ApprovalRequested), "requested")),
	})
	p.query("RollbacksQuery", RollbacksQueryName, []string{
		fmt.Sprintf(`event in [%q, %q]`, audit.PromotionRolledBack, audit.HealthFailed),
	})
}

// query saves a Logs Insights query over the audit records.
func (p *Pipeline) query(id, name string, filters []string) {
	awslogs.NewQueryDefinition(p, jsii.String(id), &awslogs.QueryDefinitionProps{
		QueryDefinitionName: jsii.String(name),
		QueryString: awslogs.NewQueryString(&awslogs.QueryStringProps{
			Fields:           auditFields,
			FilterStatements: jsii.Strings(append([]string{auditFilter}, filters...)...),
			Sort:             jsii.String("@timestamp desc"),
			Limit:            jsii.Number(1000),
		}),
		LogGroups: &[]interfacesawslogs.ILogGroupRef{p.logGroup},
	})
}

// addTargetObservability adds a target's history query and its errors by
// version widget.
func (p *Pipeline) addTargetObservability(function string) {
	p.query("HistoryQuery"+logicalSuffix(function), HistoryQueryName+"/"+function, []string{
		fmt.Sprintf(`function = %q`, function),
	})
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	// ExecutedVersion is only known at run time; SEARCH finds every version
	// that served the alias.
	byVersion := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(fmt.Sprintf(
			`SEARCH('{AWS/Lambda,FunctionName,Resource,ExecutedVersion} MetricName="Errors" FunctionName="%s" Resource="%s:prod"', 'Sum', 60)`,
			function, function)),
		Label:        jsii.String(""),
		Period:       minute,
		UsingMetrics: &map[string]awscloudwatch.IMetric{},
	})
	p.dashboard.AddWidgets(awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String(function + ": prod errors by version"),
		Left:  &[]awscloudwatch.IMetric{byVersion},
		Width: jsii.Number(24),
	}))
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

// logicalSuffix turns a function name into construct-id characters.
func logicalSuffix(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String() + shortHash(name)
}
