package aliasflow

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawsevents"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// Alias names aliasflow promotes through.
const (
	StgAlias  = "stg"
	ProdAlias = "prod"
)

// The target's prod alarm watches the prod alias's error rate: the share
// of its calls in a minute that failed, Errors divided by Invocations with
// CloudWatch metric math ("Use metric math", Amazon CloudWatch User Guide,
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html:
// "you could divide the Errors metric by the Invocations metric to get an
// error rate"). A count of errors would fire on any busy function's
// baseline (1 error a minute is 0.03 % of 3,000 calls).
const (
	// DefaultErrorRateThreshold is the error rate that puts the alarm into
	// ALARM when TargetProps.ErrorRateThreshold is not set: 5 %, the
	// verdict's default allowance over the stable version
	// (config.DefaultMaxErrorRate).
	DefaultErrorRateThreshold = config.DefaultMaxErrorRate
	// ErrorRateMinInvocations is the fewest calls of the prod alias in a
	// minute whose error rate the alarm judges (the expression's IF; a
	// quieter minute reads 0): one failed call of three is no rate.
	ErrorRateMinInvocations = 100
)

// TargetProps configures a Target.
type TargetProps struct {
	// Pipeline promotes the function. Required.
	Pipeline *Pipeline
	// Settings say how the function is promoted: strategy, smoke checks,
	// approvers, health. Settings.Function is required and is the function's
	// literal name (the pipeline's Lambdas and IAM policies name it).
	Settings config.Target
	// Function is the target function; the target tags it
	// aliasflow:pipeline=<pipeline name>, the tag the pipeline's roles are
	// scoped by. When nil, the function named in Settings.Function is
	// imported (deployed by another app, which must put that tag on it).
	Function awslambda.IFunction
	// Stg and Prod are the function's existing aliases, managed elsewhere.
	// When nil, the target adopts the function's stg and prod aliases if
	// they exist and creates them on a version published at the first
	// deploy if not; no later deploy moves them (see ensureAlias).
	Stg, Prod awslambda.IAlias
	// ErrorRateThreshold is the share of the prod alias's calls in a
	// minute (of at least ErrorRateMinInvocations) that, failing, trips the
	// target's alarm, which fails a shift's health check: 0.05 is 5 %.
	// Default DefaultErrorRateThreshold. The alarm watches every version
	// behind prod, so a canary at weight w failing at rate r moves it by
	// about w × r.
	ErrorRateThreshold float64
	// AdvancedSettings stores the settings in an Advanced SSM parameter,
	// which holds 8 KB instead of a Standard one's 4 KB ("Managing
	// parameter tiers"; about eight invoke checks with realistic payloads
	// outgrow 4 KB). An Advanced parameter is charged per parameter-month
	// and never turns back into a Standard one, so it is an opt-in;
	// without it, settings over 4 KB fail the synth with an error saying so.
	AdvancedSettings bool
	// LogGroup is the log group the function writes to when it is not
	// Lambda's /aws/lambda/<function>: the function's
	// LoggingConfig.LogGroup, which the health verdict reads. Needed only
	// when Function is imported or names its group by a token; a function
	// of the app with a literally named group is read from.
	LogGroup string
}

// Target adds one function to a Pipeline: the pipeline's tag on it, its
// stg and prod aliases, its prod alarm, its settings parameter, the rule
// that releases its CodeBuild builds and its history query. Everything is
// created in the target's own scope (its stack): the pipeline's policies
// and template do not change with targets, except for the approvers'
// e-mail subscriptions on the pipeline's topic.
type Target struct {
	constructs.Construct

	settings  config.Target
	function  awslambda.IFunction
	stg       awslambda.IAlias
	prod      awslambda.IAlias
	invokable map[string]awslambda.IFunction
	alarm     awscloudwatch.Alarm
	parameter awsssm.StringParameter
	errs      []string
}

// NewTarget registers a function with a pipeline. Mistakes in the props are
// reported when the app is synthesized, each naming the field at fault.
func NewTarget(scope constructs.Construct, id string, props *TargetProps) *Target {
	t := &Target{invokable: map[string]awslambda.IFunction{}}
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

	p := props.Pipeline
	t.function = props.Function
	if t.function == nil {
		t.function = awslambda.Function_FromFunctionName(t, jsii.String("Function"), jsii.String(name))
	} else if _, owned := t.function.Node().DefaultChild().(awslambda.CfnFunction); owned {
		awscdk.Tags_Of(t.function).Add(jsii.String(PipelineTag), jsii.String(p.Name()), nil)
	}
	t.stg, t.prod = props.Stg, props.Prod
	if t.stg == nil || t.prod == nil {
		// A version CloudFormation publishes once and never replaces: its
		// properties do not change with the code. It is only what a new
		// alias starts on; the aliases themselves are not CloudFormation
		// resources (ensureAlias).
		initial := awslambda.NewVersion(t, jsii.String("InitialVersion"), &awslambda.VersionProps{
			Lambda:        t.function,
			Description:   jsii.String("aliasflow: the version stg and prod start on; aliasflow moves them afterwards"),
			RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		})
		if t.stg == nil {
			t.stg, t.invokable[StgAlias] = ensureAlias(t, "Stg", name, StgAlias, initial, p.Name())
		}
		if t.prod == nil {
			t.prod, t.invokable[ProdAlias] = ensureAlias(t, "Prod", name, ProdAlias, initial, p.Name())
		}
	}

	threshold := props.ErrorRateThreshold
	switch {
	case threshold == 0:
		threshold = DefaultErrorRateThreshold
	case threshold < 0 || threshold > 1:
		t.errs = append(t.errs, fmt.Sprintf("aliasflow target %s: ErrorRateThreshold: a share of the prod alias's calls, above 0 and at most 1 (0.05 is 5 %%), got %v", name, threshold))
		return t
	}
	alarmName := ProdErrorsAlarmName(name)
	sum := func(metric string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:  jsii.String("AWS/Lambda"),
			MetricName: jsii.String(metric),
			DimensionsMap: &map[string]*string{
				"FunctionName": jsii.String(name),
				"Resource":     jsii.String(name + ":" + ProdAlias),
			},
			Statistic: jsii.String("Sum"),
			Period:    awscdk.Duration_Minutes(jsii.Number(1)),
		})
	}
	t.alarm = awscloudwatch.NewAlarm(t, jsii.String("ProdErrors"), &awscloudwatch.AlarmProps{
		AlarmName: jsii.String(alarmName),
		AlarmDescription: jsii.String(fmt.Sprintf("Error rate of %s:%s (minutes of at least %d calls) at or above %v; aliasflow rolls a shifting release back while this is in ALARM.",
			name, ProdAlias, ErrorRateMinInvocations, threshold)),
		Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String(fmt.Sprintf("IF(invocations >= %d, errors / invocations, 0)", ErrorRateMinInvocations)),
			UsingMetrics: &map[string]awscloudwatch.IMetric{"errors": sum("Errors"), "invocations": sum("Invocations")},
			Label:        jsii.String(fmt.Sprintf("error rate of %s:%s", name, ProdAlias)),
			Period:       awscdk.Duration_Minutes(jsii.Number(1)),
		}),
		Threshold:          jsii.Number(threshold),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	// The shift may describe only alarms carrying the pipeline's tag; an
	// alarm of the team's own named in Settings.Health.Alarms needs it too.
	awscdk.Tags_Of(t.alarm).Add(jsii.String(PipelineTag), jsii.String(p.Name()), nil)
	if !contains(t.settings.Health.Alarms, alarmName) {
		t.settings.Health.Alarms = append(t.settings.Health.Alarms, alarmName)
	}

	if err := t.settings.Validate("aliasflow target " + name); err != nil {
		t.errs = append(t.errs, err.Error())
		return t
	}
	group, err := targetLogGroup(props.Function, props.LogGroup, name)
	if err != nil {
		t.errs = append(t.errs, err.Error())
		return t
	}
	if err := p.register(t.settings, group); err != nil {
		t.errs = append(t.errs, err.Error())
		return t
	}
	encode, tier := settings.Encode, awsssm.ParameterTier_STANDARD
	if props.AdvancedSettings {
		encode, tier = settings.EncodeAdvanced, awsssm.ParameterTier_ADVANCED
	}
	doc, err := encode(t.settings)
	if err != nil {
		t.errs = append(t.errs, "aliasflow target "+name+": "+err.Error())
		return t
	}
	// The release Lambda reads the settings from here at each release
	// (cached briefly): changing them redeploys this parameter only.
	t.parameter = awsssm.NewStringParameter(t, jsii.String("Settings"), &awsssm.StringParameterProps{
		ParameterName: jsii.String(settings.ParameterName(p.Name(), name)),
		StringValue:   jsii.String(doc),
		Description:   jsii.String("aliasflow: how " + name + " is promoted (JSON)"),
		Tier:          tier,
	})
	t.newBuildRule(p)
	p.query(t, "HistoryQuery", HistoryQueryName+"/"+name, []string{fmt.Sprintf(`function = %q`, name)})
	return t
}

// newBuildRule starts a release on each successful build of the target's
// CodeBuild projects. One rule per target, in the target's scope: a rule
// listing every target's projects would grow the pipeline with targets and
// outgrow EventBridge's 2,048-character event pattern (PutRule,
// EventPattern). Its target is the release Lambda, with the same retries
// and dead-letter queue as the pipeline's own rule, and no permission of
// its own: the pipeline's one permission admits every rule named
// BuildRulePrefix* (Pipeline.allowBuildRules).
func (t *Target) newBuildRule(p *Pipeline) {
	if len(t.settings.CodeBuildProjects) == 0 {
		return
	}
	name := t.settings.Function
	ruleName := BuildRulePrefix + name
	if len(ruleName) > 64 {
		ruleName = ruleName[:55] + "-" + shortHash(name)
	}
	awsevents.NewRule(t, jsii.String("BuildSucceeded"), &awsevents.RuleProps{
		RuleName:     jsii.String(ruleName),
		Description:  jsii.String("A CodeBuild project of " + name + " built successfully: aliasflow releases it."),
		EventPattern: eventPattern(eventpatterns.CodeBuildSucceeded(t.settings.CodeBuildProjects)),
		Targets:      &[]awsevents.IRuleTarget{&releaseTarget{release: p.release, deadLetters: p.deadLetters.QueueArn()}},
	})
}

// releaseTarget delivers a build rule's events to the release Lambda. CDK's
// LambdaFunction target would add an AWS::Lambda::Permission per rule to the
// release Lambda's resource-based policy, about 400 bytes each, which Lambda
// caps at 20 KB ("Lambda quotas": Function resource-based policy): the
// ~50th target's deploy would fail with PolicyLengthExceededException. It
// names the dead-letter queue by ARN so that the queue's policy (one
// statement for every build rule, by name prefix) is not edited per target.
type releaseTarget struct {
	release     awslambda.IFunction
	deadLetters *string
}

// Bind implements awsevents.IRuleTarget.
func (r *releaseTarget) Bind(_ interfacesawsevents.IRuleRef, _ *string) *awsevents.RuleTargetConfig {
	return &awsevents.RuleTargetConfig{
		Arn:              r.release.FunctionArn(),
		DeadLetterConfig: &awsevents.CfnRule_DeadLetterConfigProperty{Arn: r.deadLetters},
		RetryPolicy: &awsevents.CfnRule_RetryPolicyProperty{
			MaximumEventAgeInSeconds: jsii.Number(2 * 60 * 60),
			MaximumRetryAttempts:     jsii.Number(8),
		},
	}
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
func ProdErrorsAlarmName(function string) string { return deploy.ProdErrorsAlarm(function) }

// Parameter returns the SSM parameter holding the target's settings.
func (t *Target) Parameter() awsssm.StringParameter { return t.parameter }

// Settings returns the target's settings as the pipeline received them.
func (t *Target) Settings() config.Target { return t.settings }

// Function returns the target function.
func (t *Target) Function() awslambda.IFunction { return t.function }

// Stg returns the stg alias. To add an invoke permission to it, use
// AliasFunction: an alias the target ensures is not a CloudFormation
// resource, and CDK's imported alias adds no permission in an
// environment-agnostic stack.
func (t *Target) Stg() awslambda.IAlias { return t.stg }

// Prod returns the prod alias (see Stg about permissions).
func (t *Target) Prod() awslambda.IAlias { return t.prod }

// AliasFunction returns the stg or prod alias as a function reference on
// which AddPermission and grants work; anything added waits for the alias
// to exist.
func (t *Target) AliasFunction(alias string) awslambda.IFunction {
	if fn, ok := t.invokable[alias]; ok {
		return fn
	}
	if alias == StgAlias {
		return t.stg
	}
	return t.prod
}

// ProdErrorsAlarm returns the alarm on the prod alias's errors.
func (t *Target) ProdErrorsAlarm() awscloudwatch.Alarm { return t.alarm }

type targetValidation struct{ t *Target }

// Validate implements constructs.IValidation.
func (v *targetValidation) Validate() *[]*string { return jsii.Strings(v.t.errs...) }

// register records a target's settings with the pipeline, subscribes its
// approvers and lets the shift read the target's log group. It grants
// nothing else: the pipeline's roles already act on every function carrying
// its tag.
func (p *Pipeline) register(t config.Target, logGroup string) error {
	for _, have := range p.targets {
		if have.Function == t.Function {
			return fmt.Errorf("aliasflow target %s: the function is already a target of this pipeline", t.Function)
		}
	}
	if err := p.allowShiftLogs(t.Function, []string{logGroup}); err != nil {
		return err
	}
	p.targets = append(p.targets, t)

	for _, a := range t.Approvers {
		p.subscribe(a)
	}
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
