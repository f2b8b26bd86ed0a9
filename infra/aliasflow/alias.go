package aliasflow

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ensureAlias makes sure function has the alias name, without CloudFormation
// ever owning it. An AWS::Lambda::Alias resource would be updated in place
// whenever its properties change ("AWS::Lambda::Alias", FunctionVersion:
// Update requires no interruption) — putting prod back on the version the
// template names, behind aliasflow's back — and cannot adopt an alias that
// already exists. Instead a custom resource calls CreateAlias once, when it
// is created, and treats ResourceConflictException (the alias exists) as
// adoption. It makes no call on update (a changed version, description or
// settings) and none on delete (the alias keeps serving: removing a target
// from aliasflow must not take prod away). It never calls UpdateAlias.
func ensureAlias(t *Target, id, function, alias string, initial awslambda.IVersion, pipeline string) (awslambda.IAlias, awslambda.IFunction) {
	role, logs, first := aliasRole(t, pipeline)
	cr := customresources.NewAwsCustomResource(t, jsii.String(id), &customresources.AwsCustomResourceProps{
		ResourceType: jsii.String("Custom::AliasflowAlias"),
		OnCreate: &customresources.AwsSdkCall{
			Service: jsii.String("Lambda"),
			Action:  jsii.String("CreateAlias"),
			Parameters: map[string]any{
				"FunctionName":    function,
				"Name":            alias,
				"FunctionVersion": initial.Version(),
				"Description":     "aliasflow: created on the version published at the first deploy; moved only by aliasflow",
			},
			PhysicalResourceId:       customresources.PhysicalResourceId_Of(jsii.String(function + ":" + alias)),
			IgnoreErrorCodesMatching: jsii.String("ResourceConflictException"),
		},
		Role:                role,
		LogGroup:            logs,
		InstallLatestAwsSdk: jsii.Bool(false),
		Timeout:             awscdk.Duration_Minutes(jsii.Number(2)),
	})
	if first {
		suppressAliasProvider(awscdk.Stack_Of(t).Node().FindChild(jsii.String(aliasProviderID)))
	}
	a := awslambda.Alias_FromAliasAttributes(t, jsii.String(id+"Alias"), &awslambda.AliasAttributes{
		AliasName: jsii.String(alias), AliasVersion: initial,
	})
	// CDK's imported alias adds no permission in an environment-agnostic
	// stack; a qualified function reference in the same environment does.
	fn := awslambda.Function_FromFunctionAttributes(t, jsii.String(id+"Function"), &awslambda.FunctionAttributes{
		FunctionArn:     jsii.String(*t.function.FunctionArn() + ":" + alias),
		SameEnvironment: jsii.Bool(true),
	})
	// What is added to the alias (an invoke permission) waits for it.
	a.Node().AddDependency(cr)
	fn.Node().AddDependency(cr)
	return a, fn
}

// aliasRole is the role (and log group) of the custom resources that create
// missing aliases: one per stack and pipeline, allowed CreateAlias only on
// the functions carrying the pipeline's tag, so that it does not grow with
// the targets of the stack.
func aliasRole(scope constructs.Construct, pipeline string) (role awsiam.IRole, logs awslogs.ILogGroup, created bool) {
	stack := awscdk.Stack_Of(scope)
	id := "AliasflowAliases" + shortHash(pipeline)
	if c, ok := stack.Node().TryFindChild(jsii.String(id)).(constructs.Construct); ok && c != nil {
		return c.Node().FindChild(jsii.String("Role")).(awsiam.IRole), c.Node().FindChild(jsii.String("Logs")).(awslogs.ILogGroup), false
	}
	holder := constructs.NewConstruct(stack, jsii.String(id))
	logGroup := awslogs.NewLogGroup(holder, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	r := awsiam.NewRole(holder, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("aliasflow: creates a target's stg/prod alias when it is missing (never moves one)"),
	})
	r.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("lambda:CreateAlias"),
		Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("lambda"), Resource: jsii.String("function"),
			ResourceName: jsii.String("*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
		})),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/" + PipelineTag: pipeline}},
	}))
	logGroup.GrantWrite(r)
	SuppressFindings(r, "AwsSolutions-IAM5",
		"function:* is allowed CreateAlias only under the condition aws:ResourceTag/aliasflow:pipeline = the pipeline's name (attribute-based access control; the policy does not grow with targets); the log stream wildcard is this role's own log group.",
		FindingTagged, `/^Resource::<AliasflowAliases[0-9a-f]+Logs[0-9A-F]+\.Arn>:\*$/`)
	return r, logGroup, true
}

// aliasProviderID is the construct id of CDK's AwsCustomResource provider
// function, a singleton per stack.
const aliasProviderID = "AWS679f53fac002430cb0da5b7982bd2287"

// suppressAliasProvider records why the custom resources' provider function
// passes the rule packs.
func suppressAliasProvider(c constructs.IConstruct) {
	{
		{
			suppress(c, nagReasons{
				"AwsSolutions-L1":                    "CDK's AwsCustomResource provider: its runtime is chosen and updated by the CDK release, not by aliasflow.",
				"Serverless-LambdaDLQ":               "Invoked synchronously by CloudFormation for a custom resource; a dead-letter queue applies to asynchronous invocations only.",
				"Serverless-LambdaTracing":           "A deploy-time helper that makes one CreateAlias call per alias created; tracing it would add nothing an operator reads.",
				"Serverless-LambdaDefaultMemorySize": "A deploy-time helper making one SDK call; the default memory is ample.",
				"Serverless-LambdaLatestVersion":     "CDK's AwsCustomResource provider: its runtime is chosen and updated by the CDK release, not by aliasflow.",
			})
		}
	}
}
