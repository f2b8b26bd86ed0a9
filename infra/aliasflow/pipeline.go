// Package aliasflow holds the CDK constructs a team uses to adopt aliasflow in
// its own CDK app: a Pipeline (the four Lambdas, the promotion state machine,
// the release rules, approvals and observability) and a Target per function
// the pipeline promotes.
//
//	p := aliasflow.NewPipeline(stack, "Aliasflow", &aliasflow.PipelineProps{})
//	aliasflow.NewTarget(stack, "Orders", &aliasflow.TargetProps{
//		Pipeline: p,
//		Function: ordersFn,
//		Settings: config.Target{Function: "orders", Approvers: []string{"lead@example.com"}},
//	})
package aliasflow

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/infra/statemachine"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// Names the runtime relies on: the CLI, the sandbox and the Lambdas find the
// pipeline's parts by these names, so they are fixed rather than generated.
const (
	ReleaseFunctionName   = deploy.ReleaseFunction
	SmokeTestFunctionName = deploy.SmokeTestFunction
	ApprovalFunctionName  = deploy.ApprovalFunction
	ShiftFunctionName     = deploy.ShiftFunction
	StateMachineName      = deploy.StateMachine
	ApprovalTopicName     = deploy.ApprovalTopic
	LinkSecretName        = deploy.LinkSecret
	PipelineLogGroupName  = deploy.PipelineLogGroup
	DeadLetterQueueName   = "aliasflow-dead-letters"
	DashboardName         = "aliasflow"
	// ApprovalStageName is the approval API's stage; ApprovalUrl ends in it.
	ApprovalStageName = "v1"
	// DefaultEventBus is the bus the release rules listen on and the audit
	// events go to.
	DefaultEventBus = deploy.DefaultEventBus
)

// Environment variables of the pipeline's Lambdas.
const (
	EnvEventBus        = deploy.EnvEventBus
	EnvStateMachineArn = deploy.EnvStateMachineARN
	EnvApprovalTopic   = deploy.EnvApprovalTopic
	EnvLinkSecret      = deploy.EnvLinkSecret
)

// ApprovalTimeoutSeconds is the approval Lambda's timeout. API Gateway
// gives a REST API's integration at most 29 seconds ("Amazon API Gateway
// quotas": integration timeout, 50 milliseconds to 29 seconds) and answers
// 504 after it; the Lambda, its SDK calls and their retries included (they
// run under the invocation's deadline), must end before, so that an
// approver sees the page's own answer, never a gateway timeout while the
// decision may still be recorded behind it.
const ApprovalTimeoutSeconds = 25

// PipelineTag is the tag key the target construct puts on every target
// function (and its prod alarm): deploy.PipelineTag, which says why.
const PipelineTag = deploy.PipelineTag

// BuildRulePrefix starts the name of each target's CodeBuild rule; the dead
// letter queue accepts the events of exactly these rules.
const BuildRulePrefix = "aliasflow-build-"

// pipelineName: what a tag value and an SSM parameter path segment both accept.
var pipelineName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// PipelineProps configures a Pipeline. The zero value deploys a working
// pipeline with the Lambdas taken from dist/.
type PipelineProps struct {
	// Name names the pipeline in its targets' tag (aliasflow:pipeline) and
	// settings parameters (/aliasflow/<Name>/targets/<function>). Default
	// "aliasflow".
	Name string
	// AssetDir holds <name>/bootstrap for release, smoketest, approval and
	// shift (what `make build` writes). Default "dist".
	AssetDir string
	// ApproverEmails are subscribed to the approvals topic in addition to the
	// approvers of every registered target. Each subscription only receives
	// the messages addressed to it (filter policy on `approver`).
	ApproverEmails []string
	// LogRetention of the pipeline's log groups. The audit trail lives in
	// them, so the default is one year.
	LogRetention awslogs.RetentionDays
	// UseExistingAPIGatewayLogRole skips creating API Gateway's account-wide
	// CloudWatch Logs role, for accounts that already have one.
	UseExistingAPIGatewayLogRole bool
	// ApprovalRateLimit, when set, puts a WAF web ACL in front of the
	// approval API's stage with one rate-based rule: each client IP may
	// send that many requests per 5 minutes (10–2,000,000,000), the rest
	// are blocked. 0 (the default) adds no web ACL; the stage's own
	// throttling (5 rps, burst 10) applies to all clients together. A web
	// ACL costs $5 a month, its rule $1, plus $0.60 per million requests
	// (AWS WAF pricing).
	ApprovalRateLimit int
	// ReleasePrincipals are IAM role or user ARNs (wildcards as
	// ArnLike takes them) that may put Release Requested on the release
	// bus besides the GitHub release role, e.g. the role your operators
	// run `aliasflow release` as. A principal tagged aliasflow:releaser=true
	// may too; every other is refused by the bus's resource policy,
	// whatever its identity policies allow.
	ReleasePrincipals []string
}

// Pipeline is aliasflow: four Lambdas, the promotion state machine, the
// rules that start a release, the approvals topic and HTTP API, and the
// dashboard and saved queries. Targets register with it through NewTarget.
type Pipeline struct {
	constructs.Construct

	stack        awscdk.Stack
	props        PipelineProps
	logGroup     awslogs.LogGroup
	deadLetters  awssqs.Queue
	release      awslambda.Function
	smokeTest    awslambda.Function
	approval     awslambda.Function
	shift        awslambda.Function
	reconcile    awslambda.Function
	stateMachine awsstepfunctions.StateMachine
	topic        awssns.Topic
	secret       awssecretsmanager.Secret
	api          awsapigateway.RestApi
	// decide and override are the approval API's IAM-authorized methods
	// (approval.DecidePath, approval.OverridePath).
	decide, override awsapigateway.Method
	dashboard        awscloudwatch.Dashboard
	ruleTarget       awsevents.IRuleTarget
	releaseBus       awsevents.EventBus

	targets    []config.Target
	subscribed map[string]bool
	// shiftLogs is the statement of the log-read policy being filled, of
	// shiftLogChars characters (allowShiftLogs).
	shiftLogs        awsiam.PolicyStatement
	shiftLogChars    int
	shiftLogPolicies []awsiam.ManagedPolicy
	errs             []string
}

// NewPipeline builds the whole pipeline under scope.
func NewPipeline(scope constructs.Construct, id string, props *PipelineProps) *Pipeline {
	p := &Pipeline{subscribed: map[string]bool{}}
	// Override makes p itself the jsii object, so p can be passed as a scope.
	constructs.NewConstruct_Override(p, scope, jsii.String(id))
	if props != nil {
		p.props = *props
	}
	if p.props.AssetDir == "" {
		p.props.AssetDir = "dist"
	}
	if p.props.Name == "" {
		p.props.Name = settings.DefaultPipeline
	}
	if !pipelineName.MatchString(p.props.Name) {
		p.errs = append(p.errs, fmt.Sprintf("aliasflow: PipelineProps.Name %q must be 1–64 of A-Z a-z 0-9 _ . - (it is a tag value and an SSM parameter path segment)", p.props.Name))
	}
	if p.props.LogRetention == "" {
		p.props.LogRetention = awslogs.RetentionDays_ONE_YEAR
	}
	p.stack = awscdk.Stack_Of(p)

	p.logGroup = awslogs.NewLogGroup(p, jsii.String("Logs"), &awslogs.LogGroupProps{
		LogGroupName: jsii.String(PipelineLogGroupName),
		Retention:    p.props.LogRetention,
		// The audit trail must outlive the stack that wrote it.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	p.deadLetters = awssqs.NewQueue(p, jsii.String("DeadLetters"), &awssqs.QueueProps{
		QueueName:       jsii.String(DeadLetterQueueName),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	suppress(p.deadLetters, nagReasons{
		"AwsSolutions-SQS3":           "This queue is the dead-letter queue of the release rules, the release Lambda's async invocations and the approval e-mail subscriptions; a DLQ of a DLQ would only move the same messages again. Its depth is alarmed.",
		"Serverless-SQSRedrivePolicy": "This queue is itself the dead-letter queue; messages land here after their source gave up and are inspected by an operator (its depth is alarmed).",
	})

	p.newFunctions()
	p.newReconciler()
	p.newApprovals()
	p.newApprovalFirewall()
	p.newStateMachine()
	p.newRules()
	p.newObservability()
	for _, e := range p.props.ApproverEmails {
		p.subscribe(e)
	}
	p.Node().AddValidation(&pipelineValidation{p: p})
	awscdk.Aspects_Of(p.Node().Root()).Add(&projectTagger{p: p}, nil)
	return p
}

// ReleaseFunction returns the Lambda that turns a build into a promotion.
func (p *Pipeline) ReleaseFunction() awslambda.Function { return p.release }

// SmokeTestFunction returns the Lambda that runs the smoke checks on stg.
func (p *Pipeline) SmokeTestFunction() awslambda.Function { return p.smokeTest }

// ApprovalFunction returns the Lambda that asks for, shows and records approvals.
func (p *Pipeline) ApprovalFunction() awslambda.Function { return p.approval }

// ShiftFunction returns the Lambda that moves prod and rolls it back.
func (p *Pipeline) ShiftFunction() awslambda.Function { return p.shift }

// StateMachine returns the promotion state machine.
func (p *Pipeline) StateMachine() awsstepfunctions.StateMachine { return p.stateMachine }

// ApprovalTopic returns the SNS topic approval links are sent through.
func (p *Pipeline) ApprovalTopic() awssns.Topic { return p.topic }

// LinkSecret returns the secret holding the approval links' HMAC key.
func (p *Pipeline) LinkSecret() awssecretsmanager.Secret { return p.secret }

// ApprovalAPI returns the REST API serving the approval page.
func (p *Pipeline) ApprovalAPI() awsapigateway.RestApi { return p.api }

// ApprovalURL returns the approval page's URL (the API's stage URL).
func (p *Pipeline) ApprovalURL() *string { return p.api.Url() }

// LogGroup returns /aliasflow/pipeline, where every audit record lands.
func (p *Pipeline) LogGroup() awslogs.LogGroup { return p.logGroup }

// DeadLetterQueue returns the queue undeliverable events end up in.
func (p *Pipeline) DeadLetterQueue() awssqs.Queue { return p.deadLetters }

// Dashboard returns the aliasflow CloudWatch dashboard.
func (p *Pipeline) Dashboard() awscloudwatch.Dashboard { return p.dashboard }

// Targets returns the settings of the targets registered in this app,
// defaults applied.
func (p *Pipeline) Targets() []config.Target {
	return append([]config.Target(nil), p.targets...)
}

// Name is the pipeline's name: its targets' tag value and settings path.
func (p *Pipeline) Name() string { return p.props.Name }

// SettingsPath is where the release Lambda reads the targets' settings:
// /aliasflow/<Name>/targets/.
func (p *Pipeline) SettingsPath() string { return settings.Path(p.props.Name) }

// ApprovalsPath is where the approval Lambda counts the approvals of
// targets needing more than one (settings.ApprovalsPath).
func (p *Pipeline) ApprovalsPath() string {
	path, err := settings.ApprovalsPath(p.SettingsPath())
	if err != nil {
		panic(err) // settings.Path always ends in /targets/
	}
	return path
}

func (p *Pipeline) newFunctions() {
	bus := map[string]*string{EnvEventBus: jsii.String(DefaultEventBus)}
	with := func(extra map[string]*string) *map[string]*string {
		env := map[string]*string{}
		for k, v := range bus {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return &env
	}
	p.release = p.newFunction("Release", ReleaseFunctionName, "release",
		"Publishes a version of a built function, moves stg to it and starts its promotion.",
		awscdk.Duration_Minutes(jsii.Number(2)),
		with(map[string]*string{
			// The settings are read from one parameter per target, not
			// carried here: Lambda caps a function's environment at 4 KB.
			deploy.EnvSettingsPath: jsii.String(p.SettingsPath()),
			// The ARN is built from the fixed name: the state machine invokes
			// the other Lambdas, so referencing it here would close a cycle.
			EnvStateMachineArn: p.stateMachineArn(),
		}))
	p.smokeTest = p.newFunction("SmokeTest", SmokeTestFunctionName, "smoketest",
		"Runs a target's smoke checks against its stg alias.",
		awscdk.Duration_Minutes(jsii.Number(15)), with(nil))
	p.approval = p.newFunction("Approval", ApprovalFunctionName, "approval",
		"Sends approval links, serves the approval page and records decisions.",
		awscdk.Duration_Seconds(jsii.Number(ApprovalTimeoutSeconds)), with(nil))
	p.shift = p.newFunction("Shift", ShiftFunctionName, "shift",
		"Moves a target's prod alias step by step, checks health, finalizes or rolls back.",
		awscdk.Duration_Minutes(jsii.Number(1)), with(nil))

	// A burst of merges queues in the release Lambda's asynchronous
	// queue, drained by this many environments (deploy.ReleaseConcurrency
	// says why).
	p.release.Node().DefaultChild().(awslambda.CfnFunction).SetReservedConcurrentExecutions(jsii.Number(deploy.ReleaseConcurrency))
	// The release Lambda is the only one invoked asynchronously (by
	// EventBridge); its failed invocations are kept for an operator.
	p.release.ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{
		RetryAttempts: jsii.Number(2),
		MaxEventAge:   awscdk.Duration_Hours(jsii.Number(6)),
		OnFailure:     awslambdadestinations.NewSqsDestination(p.deadLetters),
	})
	suppress(p.release, nagReasons{
		"Serverless-LambdaDLQ": "Failed asynchronous invocations go to the on-failure destination (the aliasflow dead-letter queue), whose records carry the error and the request; a DeadLetterConfig on the same queue would store each failure twice.",
	})
	for _, fn := range []awslambda.Function{p.smokeTest, p.approval, p.shift} {
		suppress(fn, nagReasons{
			"Serverless-LambdaDLQ": "Invoked only synchronously (by the promotion state machine's lambda:invoke tasks, or by API Gateway); a dead-letter queue applies to asynchronous invocations only. Failures are handled by the state machine's Retry/Catch.",
		})
	}

	busArn := p.stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("events"), Resource: jsii.String("event-bus"), ResourceName: jsii.String(DefaultEventBus),
	})
	sm, executions := p.stateMachineArn(), p.executionsArn()
	for _, fn := range p.Functions() {
		allow(fn, []string{"events:PutEvents"}, busArn)
	}
	allow(p.release, []string{"states:StartExecution", "states:ListExecutions"}, sm)
	allow(p.release, []string{"states:DescribeExecution", "states:StopExecution", "states:GetExecutionHistory"}, executions)
	// SendTaskSuccess and SendTaskFailure have no resource-level
	// permissions: the Service Authorization Reference lists no resource
	// type for them ("Actions, resources, and condition keys for AWS Step
	// Functions"), so IAM authorizes them against "*" and a statement
	// naming the state machine would never match. The task token is the
	// capability: only the promotion state machine's tasks hand it out.
	allow(p.approval, []string{"states:SendTaskSuccess", "states:SendTaskFailure"}, jsii.String("*"))
	allow(p.approval, []string{"states:DescribeExecution", "states:GetExecutionHistory"}, executions)
	// An operator's rollback with no promotion shifting (POST /override,
	// shared/approval rollback.go): the approval API lists the running
	// executions, decides the version from the audit trail and starts the
	// rollback's execution of the promotion state machine (prod moves only
	// inside an execution; the shift's ManualRollback task moves it).
	allow(p.approval, []string{"states:StartExecution", "states:ListExecutions"}, sm)
	allow(p.approval, []string{"logs:FilterLogEvents"}, p.trailArns()...)
	// The shift verifies that each invocation is the task a running
	// promotion scheduled for it (shared/shift scheduled.go).
	allow(p.shift, []string{"states:DescribeExecution", "states:GetExecutionHistory"}, executions)
	// GetMetricData has no resource-level permissions; the shift reads the
	// targets' Errors/Invocations with it.
	allow(p.shift, []string{"cloudwatch:GetMetricData"}, jsii.String("*"))
	p.allowOnTargets()
}

// allowOnTargets grants each Lambda what promoting any target needs, once
// for all targets: Lambda actions on functions, versions and aliases that
// carry the pipeline's tag. The Service Authorization Reference lists
// aws:ResourceTag/${TagKey} for Lambda's function, function version and
// function alias resources, which PublishVersion, GetAlias, ListAliases,
// UpdateAlias, CreateAlias, GetFunctionConfiguration and InvokeFunction act
// on; a
// qualified ARN is authorized by its function's tags ("Tags apply at the
// function level, not to versions or aliases", Using tags on Lambda
// functions). CloudWatch alarms and CodeBuild projects take the same
// condition. The settings parameters are read by their path prefix.
func (p *Pipeline) allowOnTargets() {
	functions := p.lambdaArn("*")
	qualified := p.lambdaArn("*:*")
	tagged := map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/" + PipelineTag: p.props.Name}}
	allowIf(p.release, tagged, []string{"lambda:PublishVersion", "lambda:GetAlias", "lambda:ListAliases", "lambda:UpdateAlias", "lambda:CreateAlias", "lambda:GetFunctionConfiguration"}, functions, qualified)
	allowIf(p.smokeTest, tagged, []string{"lambda:InvokeFunction"}, p.lambdaArn("*:"+StgAlias))
	allowIf(p.shift, tagged, []string{"lambda:GetAlias", "lambda:UpdateAlias", "lambda:CreateAlias", "lambda:GetFunctionConfiguration"}, functions, qualified)
	// A warm step of the plan (shared/shift, warm.go) puts provisioned
	// concurrency on the new version by number, reads it until READY and
	// removes it on a rollback: the qualified ARN only.
	allowIf(p.shift, tagged, []string{"lambda:PutProvisionedConcurrencyConfig", "lambda:GetProvisionedConcurrencyConfig", "lambda:DeleteProvisionedConcurrencyConfig"}, qualified)
	// At 100 % it lists what stays (ListProvisionedConcurrencyConfigs acts
	// on the function).
	allowIf(p.shift, tagged, []string{"lambda:ListProvisionedConcurrencyConfigs"}, functions)
	// Probes (health.probes) invoke the new and the stable version by number.
	allowIf(p.shift, tagged, []string{"lambda:InvokeFunction"}, qualified)
	// The page shows what prod serves and the commit of its version (its
	// description, written by the release Lambda).
	allowIf(p.approval, tagged, []string{"lambda:GetAlias", "lambda:GetFunctionConfiguration"}, functions, qualified)
	// DescribeAlarms returns composite alarms only when granted on "*"
	// (DescribeAlarms, CloudWatch API reference: "To use this operation and
	// return information about composite alarms, you must be signed on with
	// the cloudwatch:DescribeAlarms permission that is scoped to *"). Scoped
	// to alarm ARNs or a tag, a composite alarm would fail every shift.
	allow(p.shift, []string{"cloudwatch:DescribeAlarms"}, jsii.String("*"))
	// The health check's fresh signal reads each target's own log group,
	// granted as the target registers (allowShiftLogs).
	allowIf(p.release, tagged, []string{"codebuild:BatchGetBuilds"}, p.stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("codebuild"), Resource: jsii.String("project"), ResourceName: jsii.String("*"),
	}))
	settingsParams := p.settingsArn()
	allow(p.release, []string{"ssm:GetParameter"}, settingsParams)
	// settings.changed compares a written version with the one before it.
	allow(p.release, []string{"ssm:GetParameterHistory"}, settingsParams)
	allow(p.approval, []string{"ssm:GetParameter"}, settingsParams)
	// approval.required > 1: the approvals counted so far wait in
	// parameters of their own path (approval.ParameterTally), created one
	// at a time without Overwrite — the conditional write that counts two
	// concurrent clicks right — and deleted with the outcome. Never the
	// settings path.
	allow(p.approval, []string{"ssm:PutParameter", "ssm:GetParametersByPath", "ssm:DeleteParameters"}, p.stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("ssm"), Resource: jsii.String("parameter"), ResourceName: jsii.String(strings.TrimPrefix(p.ApprovalsPath(), "/") + "*"),
	}))
	// Each target's CodeBuild rule (in the target's stack) dead-letters here.
	p.deadLetters.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  &[]*string{p.deadLetters.QueueArn()},
		Conditions: &map[string]any{"ArnLike": map[string]any{"aws:SourceArn": p.stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("events"), Resource: jsii.String("rule"), ResourceName: jsii.String(BuildRulePrefix + "*"),
		})}},
	}))
}

// Functions returns the four pipeline Lambdas.
func (p *Pipeline) Functions() []awslambda.Function {
	return []awslambda.Function{p.release, p.smokeTest, p.approval, p.shift}
}

func (p *Pipeline) newFunction(id, name, asset, description string, timeout awscdk.Duration, env *map[string]*string) awslambda.Function {
	// An own role per function, without the AWS managed basic execution
	// policy: it may write to the pipeline log group and nothing else until a
	// grant says so.
	role := awsiam.NewRole(p, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Role of " + name),
	})
	fn := awslambda.NewFunction(p, jsii.String(id), &awslambda.FunctionProps{
		FunctionName:  jsii.String(name),
		Description:   jsii.String(description),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(p.props.AssetDir, asset)), nil),
		Role:          role,
		MemorySize:    jsii.Number(256),
		Timeout:       timeout,
		Environment:   env,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		LogGroup:      p.logGroup,
		Tracing:       awslambda.Tracing_ACTIVE,
	})
	p.logGroup.GrantWrite(role)
	SuppressFindings(role, "AwsSolutions-IAM5",
		"Each wildcard is scoped: X-Ray PutTraceSegments/PutTelemetryRecords, CloudWatch GetMetricData and Step Functions SendTaskSuccess/SendTaskFailure and CodeBuild ListBuilds (the reconciler's sweep) and Lambda GetAccountSettings (the reconciler's pruning reports the Region's code storage) support no resource-level permissions (the Service Authorization Reference lists no resource type for them, so only Resource * matches; a SendTask* call is only as good as its task token, which only the promotion state machine hands out); CloudWatch DescribeAlarms must be on * to return composite alarms (DescribeAlarms API reference); function:*, function:*:* and function:*:stg (Lambda), alarm:* (CloudWatch) and project/* (CodeBuild) are allowed only under the condition aws:ResourceTag/aliasflow:pipeline = this pipeline's name, which the target construct puts on each target (attribute-based access control, so the policy does not grow with targets); parameter/aliasflow/<pipeline>/targets/* is this pipeline's settings and nothing else; parameter/aliasflow/<pipeline>/approvals/* holds only the approvals the approval Lambda counts toward approval.required (created, listed and deleted there, never the settings); execution:aliasflow-promotion:* is the executions of the one promotion state machine, whose names are derived from each release; kms:GenerateDataKey* is on the approvals topic's own key only; log-group:/aliasflow/pipeline:* is the pipeline's own log group (the :* form names it with its streams), whose audit trail the approval API reads to decide an operator's rollback.",
		FindingAnyResource, FindingTagged, FindingSettings, FindingApprovals, FindingExecutions, FindingPipelineLogs, "Action::kms:GenerateDataKey*")
	return fn
}

func (p *Pipeline) stateMachineArn() *string {
	return p.stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("states"), Resource: jsii.String("stateMachine"),
		ResourceName: jsii.String(StateMachineName), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}

func (p *Pipeline) executionsArn() *string {
	return p.stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("states"), Resource: jsii.String("execution"),
		ResourceName: jsii.String(StateMachineName + ":*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}

// newApprovals builds the approval topic, link secret and HTTP API.
func (p *Pipeline) newApprovals() {
	key := awskms.NewKey(p, jsii.String("ApprovalsKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the aliasflow approvals topic"),
		EnableKeyRotation: jsii.Bool(true),
	})
	p.topic = awssns.NewTopic(p, jsii.String("Approvals"), &awssns.TopicProps{
		TopicName:   jsii.String(ApprovalTopicName),
		DisplayName: jsii.String("aliasflow approvals"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	p.topic.GrantPublish(p.approval)

	p.secret = awssecretsmanager.NewSecret(p, jsii.String("LinkKey"), &awssecretsmanager.SecretProps{
		SecretName:  jsii.String(LinkSecretName),
		Description: jsii.String("HMAC key that signs aliasflow approval links"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
			IncludeSpace:       jsii.Bool(false),
		},
	})
	p.secret.GrantRead(p.approval, nil)
	suppress(p.secret, nagReasons{
		"AwsSolutions-SMG4": "The secret is the HMAC key of approval links. Rotating it would invalidate every link still waiting for a decision (up to the 7-day approval timeout) without any gain a rotation schedule would give; rotate it by hand between promotions if it is ever exposed.",
	})

	p.approval.AddEnvironment(jsii.String(EnvApprovalTopic), p.topic.TopicArn(), nil)
	p.approval.AddEnvironment(jsii.String(EnvLinkSecret), p.secret.SecretArn(), nil)
	// A decision is checked against the target's settings as they are when
	// it is made (approvers, approval.principals, separation of duties).
	p.approval.AddEnvironment(jsii.String(deploy.EnvSettingsPath), jsii.String(p.SettingsPath()), nil)
	// An operator's rollback starts an execution of the promotion state
	// machine; the ARN is built from the fixed name (no cycle, as for the
	// release Lambda).
	p.approval.AddEnvironment(jsii.String(EnvStateMachineArn), p.stateMachineArn(), nil)

	access := awslogs.NewLogGroup(p, jsii.String("ApprovalApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     p.props.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	p.api = awsapigateway.NewRestApi(p, jsii.String("ApprovalApi"), &awsapigateway.RestApiProps{
		RestApiName:                 jsii.String("aliasflow-approval"),
		Description:                 jsii.String("aliasflow approval page: GET ?t=<link> shows a release, POST decides."),
		EndpointTypes:               &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		CloudWatchRole:              jsii.Bool(!p.props.UseExistingAPIGatewayLogRole),
		CloudWatchRoleRemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		DeployOptions:               stageOptions(ApprovalStageName, access, nil, 5, 10),
	})
	validator := p.api.AddRequestValidator(jsii.String("LinkRequired"), &awsapigateway.RequestValidatorOptions{
		ValidateRequestParameters: jsii.Bool(true),
		ValidateRequestBody:       jsii.Bool(true),
	})
	integration := awsapigateway.NewLambdaIntegration(p.approval, &awsapigateway.LambdaIntegrationOptions{AllowTestInvoke: jsii.Bool(false)})
	p.api.Root().AddMethod(jsii.String("GET"), integration, &awsapigateway.MethodOptions{
		RequestParameters: &map[string]*bool{"method.request.querystring.t": jsii.Bool(true)},
		RequestValidator:  validator,
	})
	p.api.Root().AddMethod(jsii.String("POST"), integration, &awsapigateway.MethodOptions{
		RequestValidator: validator,
	})
	// The one path a person with an IAM identity decides or overrides by:
	// API Gateway verifies the SigV4 signature and execute-api:Invoke
	// (AWS_IAM), and hands the approval Lambda the caller it verified
	// (requestContext.identity.userArn), which the Lambda checks against
	// the target's approvers and records. People get no task tokens.
	iamOnly := &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_IAM}
	p.decide = p.api.Root().AddResource(jsii.String(strings.TrimPrefix(approval.DecidePath, "/")), nil).
		AddMethod(jsii.String("POST"), integration, iamOnly)
	p.override = p.api.Root().AddResource(jsii.String(strings.TrimPrefix(approval.OverridePath, "/")), nil).
		AddMethod(jsii.String("POST"), integration, iamOnly)
	publicEndpoint := "Approvers are people without an AWS identity reached by e-mail: the page is public on purpose. Every request must carry a link that is HMAC-signed with a Secrets Manager key, expires, is bound to one allow-listed approver and decides at most once; the Lambda verifies it before anything is shown or decided. The stage is throttled (5 rps, burst 10) and logs no request data. People with an IAM identity decide through the CLI instead, on the IAM-authorized POST /decide and /override (AWS_IAM: SigV4 and execute-api:Invoke checked by API Gateway)."
	reasons := nagReasons{
		"AwsSolutions-APIG4": publicEndpoint,
		"AwsSolutions-COG4":  publicEndpoint,
		"AwsSolutions-IAM4":  "The AmazonAPIGatewayPushToCloudWatchLogs managed policy is the documented policy of API Gateway's account-wide logging role (needed for the access and execution logs this API writes); it only allows writing to CloudWatch Logs.",
	}
	if p.props.ApprovalRateLimit == 0 {
		reasons["AwsSolutions-APIG3"] = "The API serves two low-volume methods behind signed, expiring links and stage throttling; per-client throttling is an option (PipelineProps.ApprovalRateLimit, context approvalRateLimit: a WAF web ACL with a rate-based rule, $5 a month plus $1 per rule and $0.60 per million requests) left off by default."
	}
	suppress(p.api, reasons)
}

// stageOptions are the stage settings every REST API here uses: JSON access
// logs without query strings (they carry approval links), error-level
// execution logs without request data, X-Ray and throttling.
func stageOptions(name string, access awslogs.ILogGroup, variables map[string]string, rate, burst float64) *awsapigateway.StageOptions {
	var vars *map[string]*string
	if variables != nil {
		m := map[string]*string{}
		for k, v := range variables {
			m[k] = jsii.String(v)
		}
		vars = &m
	}
	return &awsapigateway.StageOptions{
		StageName:            jsii.String(name),
		Variables:            vars,
		AccessLogDestination: awsapigateway.NewLogGroupLogDestination(access),
		AccessLogFormat: awsapigateway.AccessLogFormat_JsonWithStandardFields(&awsapigateway.JsonWithStandardFieldProps{
			Caller: jsii.Bool(true), HttpMethod: jsii.Bool(true), Ip: jsii.Bool(true), Protocol: jsii.Bool(true),
			RequestTime: jsii.Bool(true), ResourcePath: jsii.Bool(true), ResponseLength: jsii.Bool(true),
			Status: jsii.Bool(true), User: jsii.Bool(true),
		}),
		LoggingLevel:         awsapigateway.MethodLoggingLevel_ERROR,
		DataTraceEnabled:     jsii.Bool(false),
		MetricsEnabled:       jsii.Bool(true),
		TracingEnabled:       jsii.Bool(true),
		ThrottlingRateLimit:  jsii.Number(rate),
		ThrottlingBurstLimit: jsii.Number(burst),
	}
}

// StageOptions returns the stage settings aliasflow uses for its own REST
// API (access logs, error-level execution logs without data, X-Ray,
// throttling), for an app's API to follow the same rules.
func StageOptions(name string, access awslogs.ILogGroup, variables map[string]string, rateLimit, burstLimit float64) *awsapigateway.StageOptions {
	return stageOptions(name, access, variables, rateLimit, burstLimit)
}

func (p *Pipeline) newStateMachine() {
	logs := awslogs.NewLogGroup(p, jsii.String("PromotionLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/vendedlogs/states/" + StateMachineName),
		Retention:     p.props.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	p.stateMachine = awsstepfunctions.NewStateMachine(p, jsii.String("Promotion"), &awsstepfunctions.StateMachineProps{
		StateMachineName: jsii.String(StateMachineName),
		StateMachineType: awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:   awsstepfunctions.DefinitionBody_FromString(jsii.String(statemachine.Definition)),
		DefinitionSubstitutions: &map[string]*string{
			statemachine.SmokeTestFunctionArn: p.smokeTest.FunctionArn(),
			statemachine.ApprovalFunctionArn:  p.approval.FunctionArn(),
			statemachine.ShiftFunctionArn:     p.shift.FunctionArn(),
			statemachine.ApprovalURL:          p.ApprovalURL(),
		},
		// ALL events, but never their data: inputs and outputs carry the
		// task tokens of the two callback tasks.
		Logs: &awsstepfunctions.LogOptions{
			Destination:          logs,
			Level:                awsstepfunctions.LogLevel_ALL,
			IncludeExecutionData: jsii.Bool(false),
		},
		TracingEnabled: jsii.Bool(true),
	})
	// Exactly the unqualified ARNs the definition names, no version or alias.
	p.stateMachine.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: &[]*string{p.smokeTest.FunctionArn(), p.approval.FunctionArn(), p.shift.FunctionArn()},
	}))
	SuppressFindings(p.stateMachine, "AwsSolutions-IAM5",
		"CloudWatch Logs vended-log delivery (logs:CreateLogDelivery, PutResourcePolicy, DescribeLogGroups, …) and X-Ray PutTraceSegments/PutTelemetryRecords/GetSampling* support no resource-level permissions; Step Functions documents exactly these statements with Resource *.",
		FindingAnyResource)
}

func (p *Pipeline) newRules() {
	p.ruleTarget = awseventstargets.NewLambdaFunction(p.release, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: p.deadLetters,
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(2)),
		RetryAttempts:   jsii.Number(8),
	})
	p.newReleaseBus()
	awsevents.NewRule(p, jsii.String("ReleaseRequested"), &awsevents.RuleProps{
		RuleName:     jsii.String(deploy.ReleaseRequestedRule),
		Description:  jsii.String("A CI or the aliasflow CLI asks for a release of a built function."),
		EventBus:     p.releaseBus,
		EventPattern: eventPattern(eventpatterns.ReleaseRequested()),
		Targets:      &[]awsevents.IRuleTarget{p.ruleTarget},
	})
	// Every write of a target's settings, as CloudTrail records it (who
	// called, from its userIdentity), reaches EventBridge as an "AWS API
	// Call via CloudTrail" event from aws.ssm — only AWS can put an aws.
	// source — when the account has a trail logging management events
	// (docs/deploy.md). The release Lambda audits it as settings.changed.
	awsevents.NewRule(p, jsii.String("SettingsChanged"), &awsevents.RuleProps{
		RuleName:     jsii.String(deploy.SettingsChangedRule),
		Description:  jsii.String("A target's settings parameter was written: aliasflow audits who changed what."),
		EventPattern: eventPattern(eventpatterns.SettingsChanged(p.SettingsPath())),
		Targets:      &[]awsevents.IRuleTarget{p.ruleTarget},
	})
	// Every deletion of a function version, as CloudTrail records it (who
	// called), likewise: the release Lambda audits those of a target's
	// versions as version.deleted, whoever deleted them (`aliasflow prune`,
	// the reconciler, the console).
	awsevents.NewRule(p, jsii.String("VersionDeleted"), &awsevents.RuleProps{
		RuleName:     jsii.String(deploy.VersionDeletedRule),
		Description:  jsii.String("A Lambda function version was deleted: aliasflow audits who deleted a target's version."),
		EventPattern: eventPattern(eventpatterns.VersionDeleted()),
		Targets:      &[]awsevents.IRuleTarget{p.ruleTarget},
	})
	p.allowBuildRules()
}

// allowBuildRules lets every target's CodeBuild rule invoke the release
// Lambda with one statement, whatever the number of targets: the rules are
// named BuildRulePrefix*, and Lambda compares a permission's SourceArn
// "using the StringLike operator" (AddPermission, SourceArn, AWS Lambda API
// Reference), so a pattern admits exactly the rules of that name on the
// default bus of this account. Lambda caps a function's resource-based
// policy at 20 KB ("Lambda quotas"); a permission per rule outgrew it at
// about 50 targets.
func (p *Pipeline) allowBuildRules() {
	p.release.AddPermission(jsii.String("BuildRules"), &awslambda.Permission{
		Principal: awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
		Action:    jsii.String("lambda:InvokeFunction"),
		SourceArn: p.stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("events"), Resource: jsii.String("rule"), ResourceName: jsii.String(BuildRulePrefix + "*"),
		}),
		SourceAccount: p.stack.Account(),
	})
}

// eventPattern turns a shared pattern into CDK's type, so the rules and
// the sandbox route by the very same document.
func eventPattern(m map[string]any) *awsevents.EventPattern {
	ep := &awsevents.EventPattern{}
	if v, ok := m["source"].([]string); ok {
		ep.Source = jsii.Strings(v...)
	}
	if v, ok := m["detail-type"].([]string); ok {
		ep.DetailType = jsii.Strings(v...)
	}
	if v, ok := m["detail"].(map[string]any); ok {
		detail := map[string]any{}
		for k, x := range v {
			detail[k] = x
		}
		ep.Detail = &detail
	}
	return ep
}

// pipelineValidation fails synth when the pipeline could not run.
type pipelineValidation struct{ p *Pipeline }

// Validate implements constructs.IValidation.
func (v *pipelineValidation) Validate() *[]*string {
	errs := append([]string(nil), v.p.errs...)
	if len(v.p.targets) == 0 {
		errs = append(errs, "aliasflow: the pipeline has no targets; add one with aliasflow.NewTarget")
	}
	return jsii.Strings(errs...)
}

// subscribe adds an e-mail subscription that only receives the messages
// addressed to that approver.
func (p *Pipeline) subscribe(email string) {
	key := strings.ToLower(strings.TrimSpace(email))
	if key == "" || p.subscribed[key] {
		return
	}
	p.subscribed[key] = true
	awssns.NewSubscription(p, jsii.String("Approver"+shortHash(key)), &awssns.SubscriptionProps{
		Topic:    p.topic,
		Protocol: awssns.SubscriptionProtocol_EMAIL,
		Endpoint: jsii.String(email),
		FilterPolicy: &map[string]awssns.SubscriptionFilter{
			"approver": awssns.SubscriptionFilter_StringFilter(&awssns.StringConditions{Allowlist: jsii.Strings(email)}),
		},
		DeadLetterQueue: p.deadLetters,
	})
}

// Subscriptions lists the approver e-mails subscribed so far, sorted.
func (p *Pipeline) Subscriptions() []string {
	out := make([]string, 0, len(p.subscribed))
	for e := range p.subscribed {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// allow adds one statement to a function's own role.
func allow(fn awslambda.IFunction, actions []string, resources ...*string) {
	allowIf(fn, nil, actions, resources...)
}

// allowIf adds one statement with a condition block (nil for none).
func allowIf(fn awslambda.IFunction, conditions map[string]any, actions []string, resources ...*string) {
	props := &awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	}
	if conditions != nil {
		props.Conditions = &conditions
	}
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(props))
}

// trailArns are the pipeline's log group, which holds the audit trail, in
// both forms of its ARN: the Service Authorization Reference's
// log-group:NAME and the log-group:NAME:* that covers its streams.
func (p *Pipeline) trailArns() []*string {
	var out []*string
	for _, g := range []string{PipelineLogGroupName, PipelineLogGroupName + ":*"} {
		out = append(out, p.stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("logs"), Resource: jsii.String("log-group"),
			ResourceName: jsii.String(g), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
		}))
	}
	return out
}
