package aliasflow

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/shared/config"
)

// Alias names aliasflow promotes through.
const (
	StgAlias  = "stg"
	ProdAlias = "prod"
)

// DefaultErrorThreshold is how many errors per minute on the prod alias put
// a target's alarm into ALARM.
const DefaultErrorThreshold = 1

// TargetProps configures a Target.
type TargetProps struct {
	// Pipeline promotes the function. Required.
	Pipeline *Pipeline
	// Settings say how the function is promoted: strategy, smoke checks,
	// approvers, health. Settings.Function is required and is the function's
	// literal name (the pipeline's Lambdas and IAM policies name it).
	Settings config.Target
	// Function is the target function. When nil, the function named in
	// Settings.Function is imported (it is deployed by another app).
	Function awslambda.IFunction
	// Stg and Prod are the function's existing aliases. When nil, they are
	// created on a version published at the first deploy; aliasflow moves
	// them from then on.
	Stg, Prod awslambda.IAlias
	// ErrorThreshold is the number of errors per minute on the prod alias
	// that trips the target's alarm, which fails a shift's health check.
	// Default 1.
	ErrorThreshold float64
}

// Target adds one function to a Pipeline: its stg and prod aliases, its
// prod alarm, its settings in the pipeline's configuration and the
// pipeline's least-privilege permissions on it.
type Target struct {
	constructs.Construct

	settings config.Target
	function awslambda.IFunction
	stg      awslambda.IAlias
	prod     awslambda.IAlias
	alarm    awscloudwatch.Alarm
	errs     []string
}

// NewTarget registers a function with a pipeline. Mistakes in the props are
// reported when the app is synthesized, each naming the field at fault.
func NewTarget(scope constructs.Construct, id string, props *TargetProps) *Target {
	t := &Target{}
	constructs.NewConstruct_Override(t, scope, jsii.String(id))
	t.Node().AddValidation(&targetValidation{t: t})
	if props == nil {
		props = &TargetProps{}
	}
	if props.Pipeline == nil {
		t.errs = append(t.errs, "aliasflow target: Pipeline is required")
		return t
	}
	t.settings = props.Settings
	t.settings.ApplyDefaults()
	name := t.settings.Function
	if err := config.ValidateFunctionName(name); err != nil {
		t.errs = append(t.errs, fmt.Sprintf("aliasflow target: Settings.Function: %v", err))
		return t
	}
	t.checkFunctionName(props.Function, name)

	t.function = props.Function
	if t.function == nil {
		t.function = awslambda.Function_FromFunctionName(t, jsii.String("Function"), jsii.String(name))
	}
	t.stg, t.prod = props.Stg, props.Prod
	if t.stg == nil || t.prod == nil {
		// A version CloudFormation publishes once and never replaces: its
		// properties do not change with the code, so a later deploy does not
		// move the aliases behind aliasflow's back.
		initial := awslambda.NewVersion(t, jsii.String("InitialVersion"), &awslambda.VersionProps{
			Lambda:        t.function,
			Description:   jsii.String("aliasflow: the version stg and prod start on; aliasflow moves them afterwards"),
			RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		})
		if t.stg == nil {
			t.stg = awslambda.NewAlias(t, jsii.String("Stg"), &awslambda.AliasProps{
				AliasName: jsii.String(StgAlias), Version: initial,
				Description: jsii.String("aliasflow: the release candidate, smoke-tested before approval"),
			})
		}
		if t.prod == nil {
			t.prod = awslambda.NewAlias(t, jsii.String("Prod"), &awslambda.AliasProps{
				AliasName: jsii.String(ProdAlias), Version: initial,
				Description: jsii.String("aliasflow: what users get; moved only by an approved promotion"),
			})
		}
	}

	threshold := props.ErrorThreshold
	if threshold <= 0 {
		threshold = DefaultErrorThreshold
	}
	alarmName := ProdErrorsAlarmName(name)
	t.alarm = awscloudwatch.NewAlarm(t, jsii.String("ProdErrors"), &awscloudwatch.AlarmProps{
		AlarmName:        jsii.String(alarmName),
		AlarmDescription: jsii.String(fmt.Sprintf("Errors of %s:%s; aliasflow rolls a shifting release back while this is in ALARM.", name, ProdAlias)),
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:  jsii.String("AWS/Lambda"),
			MetricName: jsii.String("Errors"),
			DimensionsMap: &map[string]*string{
				"FunctionName": jsii.String(name),
				"Resource":     jsii.String(name + ":" + ProdAlias),
			},
			Statistic: jsii.String("Sum"),
			Period:    awscdk.Duration_Minutes(jsii.Number(1)),
		}),
		Threshold:          jsii.Number(threshold),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	if !contains(t.settings.Health.Alarms, alarmName) {
		t.settings.Health.Alarms = append(t.settings.Health.Alarms, alarmName)
	}

	if err := t.settings.Validate("aliasflow target " + name); err != nil {
		t.errs = append(t.errs, err.Error())
		return t
	}
	if err := props.Pipeline.register(t.settings); err != nil {
		t.errs = append(t.errs, err.Error())
	}
	return t
}

// checkFunctionName refuses a function whose deployed name is not the
// literal name the settings give: the policies and configuration would
// otherwise name a function that does not exist.
func (t *Target) checkFunctionName(fn awslambda.IFunction, name string) {
	if fn == nil {
		return
	}
	cfn, ok := fn.Node().DefaultChild().(awslambda.CfnFunction)
	if !ok {
		return // imported: its name is whatever the caller says it is
	}
	got := cfn.FunctionName()
	switch {
	case got == nil || *awscdk.Token_IsUnresolved(got):
		t.errs = append(t.errs, fmt.Sprintf("aliasflow target %s: give the function the literal FunctionName %q (not a generated name or a token): the pipeline's configuration and policies name it", name, name))
	case *got != name:
		t.errs = append(t.errs, fmt.Sprintf("aliasflow target: Settings.Function is %q but the function is named %q", name, *got))
	}
}

// ProdErrorsAlarmName is the name of a target's prod errors alarm.
func ProdErrorsAlarmName(function string) string {
	return "aliasflow-" + function + "-prod-errors"
}

// Settings returns the target's settings as the pipeline received them.
func (t *Target) Settings() config.Target { return t.settings }

// Function returns the target function.
func (t *Target) Function() awslambda.IFunction { return t.function }

// Stg returns the stg alias.
func (t *Target) Stg() awslambda.IAlias { return t.stg }

// Prod returns the prod alias.
func (t *Target) Prod() awslambda.IAlias { return t.prod }

// ProdErrorsAlarm returns the alarm on the prod alias's errors.
func (t *Target) ProdErrorsAlarm() awscloudwatch.Alarm { return t.alarm }

type targetValidation struct{ t *Target }

// Validate implements constructs.IValidation.
func (v *targetValidation) Validate() *[]*string { return jsii.Strings(v.t.errs...) }

// register adds a target's settings to the pipeline and grants the
// pipeline's Lambdas exactly what promoting it needs.
func (p *Pipeline) register(t config.Target) error {
	for _, have := range p.targets {
		if have.Function == t.Function {
			return fmt.Errorf("aliasflow target %s: the function is already a target of this pipeline", t.Function)
		}
	}
	p.targets = append(p.targets, t)

	name := t.Function
	fn := p.lambdaArn(name)
	versionsAndAliases := p.lambdaArn(name + ":*")
	allow(p.release, []string{"lambda:PublishVersion", "lambda:GetAlias", "lambda:UpdateAlias", "lambda:CreateAlias", "lambda:GetFunctionConfiguration"}, fn, versionsAndAliases)
	allow(p.smokeTest, []string{"lambda:InvokeFunction"}, p.lambdaArn(name+":"+StgAlias))
	allow(p.shift, []string{"lambda:GetAlias", "lambda:UpdateAlias", "lambda:CreateAlias"}, fn, versionsAndAliases)
	// The page shows what prod serves and the commit of its version (its
	// description, written by the release Lambda).
	allow(p.approval, []string{"lambda:GetAlias", "lambda:GetFunctionConfiguration"}, fn, versionsAndAliases)

	var alarms []*string
	for _, a := range t.Health.Alarms {
		alarms = append(alarms, p.stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("cloudwatch"), Resource: jsii.String("alarm"),
			ResourceName: jsii.String(a), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
		}))
	}
	allow(p.shift, []string{"cloudwatch:DescribeAlarms"}, alarms...)

	if len(t.CodeBuildProjects) > 0 {
		var projects []*string
		for _, pr := range t.CodeBuildProjects {
			projects = append(projects, p.stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("codebuild"), Resource: jsii.String("project"), ResourceName: jsii.String(pr),
			}))
		}
		allow(p.release, []string{"codebuild:BatchGetBuilds"}, projects...)
		p.addProjects(t.CodeBuildProjects)
	}
	for _, a := range t.Approvers {
		p.subscribe(a)
	}
	p.addTargetObservability(name)
	return nil
}

func (p *Pipeline) lambdaArn(resourceName string) *string {
	return p.stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("lambda"), Resource: jsii.String("function"),
		ResourceName: jsii.String(resourceName), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}

// shortHash gives construct ids derived from user strings a stable,
// collision-resistant suffix.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}
