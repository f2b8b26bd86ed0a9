package main

import (
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/examples"
	"github.com/aliasflow/aliasflow/infra/aliasflow"
	"github.com/aliasflow/aliasflow/shared/config"
)

// The sample's names, as the seeds use them.
const (
	HelloFunctionName = "hello"
	HelloProjectName  = "aliasflow-hello"
	StageVariable     = "lambdaAlias"
	DevAlias          = "dev"
)

// Stages maps each API Gateway stage of the sample to the alias it serves.
var Stages = []struct{ Stage, Alias string }{
	{"dev", DevAlias},
	{"staging", aliasflow.StgAlias},
	{"production", aliasflow.ProdAlias},
}

// SampleStackProps configures the sample app stack.
type SampleStackProps struct {
	awscdk.StackProps
	Options options
	// Pipeline promotes hello. Required.
	Pipeline *aliasflow.Pipeline
}

// SampleStack is the seeds' scenario: hello with dev/stg/prod aliases behind
// one REST API whose stages pick the alias through a stage variable, built
// by a CodeBuild project and promoted by aliasflow.
type SampleStack struct {
	Stack   awscdk.Stack
	Hello   awslambda.Function
	Target  *aliasflow.Target
	API     awsapigateway.RestApi
	Project awscodebuild.Project
}

// NewSampleStack adds the sample app stack to scope.
func NewSampleStack(scope constructs.Construct, id string, props *SampleStackProps) SampleStack {
	if props == nil {
		props = &SampleStackProps{}
	}
	opts := props.Options
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	s := SampleStack{Stack: stack}

	logs := awslogs.NewLogGroup(stack, jsii.String("HelloLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/lambda/" + HelloFunctionName),
		Retention:     opts.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(stack, jsii.String("HelloRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Role of the sample hello function: writes its own logs, nothing else"),
	})
	logs.GrantWrite(role)
	s.Hello = awslambda.NewFunction(stack, jsii.String("Hello"), &awslambda.FunctionProps{
		FunctionName:  jsii.String(HelloFunctionName),
		Description:   jsii.String("The seeds' sample: Hello from Lambda"),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(opts.AssetDir, "hello")), nil),
		Role:          role,
		MemorySize:    jsii.Number(256),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(10)),
		LoggingFormat: awslambda.LoggingFormat_JSON,
		LogGroup:      logs,
		Tracing:       awslambda.Tracing_ACTIVE,
	})
	aliasflow.Suppress(s.Hello, map[string]string{
		"Serverless-LambdaDLQ": "hello is invoked only synchronously, by API Gateway and by aliasflow's smoke test; a dead-letter queue applies to asynchronous invocations only.",
	})
	aliasflow.SuppressFindings(role, "AwsSolutions-IAM5",
		"X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions; hello's log permissions are on its own log group.",
		aliasflow.FindingAnyResource)
	dev := awslambda.NewAlias(stack, jsii.String("Dev"), &awslambda.AliasProps{
		AliasName:   jsii.String(DevAlias),
		Version:     s.Hello.LatestVersion(),
		Description: jsii.String("$LATEST: what the last build uploaded, served by the dev stage"),
	})

	s.Target = aliasflow.NewTarget(stack, "HelloTarget", &aliasflow.TargetProps{
		Pipeline: props.Pipeline,
		Function: s.Hello,
		Settings: helloSettings(opts.ApproverEmails),
	})

	s.API = newHelloAPI(stack, opts)
	aliases := map[string]awslambda.IFunction{DevAlias: dev, aliasflow.StgAlias: s.Target.AliasFunction(aliasflow.StgAlias), aliasflow.ProdAlias: s.Target.AliasFunction(aliasflow.ProdAlias)}
	for _, st := range Stages {
		// Seed 002: with the alias chosen by a stage variable, API Gateway
		// needs an invoke permission on each alias; each is scoped to the
		// one stage that serves it.
		aliases[st.Alias].AddPermission(jsii.String("InvokeFrom"+title(st.Stage)), &awslambda.Permission{
			Principal: awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
			Action:    jsii.String("lambda:InvokeFunction"),
			SourceArn: s.API.ArnForExecuteApi(jsii.String("GET"), jsii.String("/"), jsii.String(st.Stage)),
		})
	}

	s.Project = newHelloBuild(stack, opts, s.Hello)
	// The release role reads the builds of projects tagged for its
	// pipeline only (BatchGetBuilds under aws:ResourceTag/aliasflow:pipeline).
	awscdk.Tags_Of(s.Project).Add(jsii.String(aliasflow.PipelineTag), jsii.String(props.Pipeline.Name()), nil)
	for _, st := range Stages {
		awscdk.NewCfnOutput(stack, jsii.String(title(st.Stage)+"Url"), &awscdk.CfnOutputProps{
			Value: awscdk.Fn_Join(jsii.String(""), &[]*string{
				jsii.String("https://"), s.API.RestApiId(), jsii.String(".execute-api."), stack.Region(),
				jsii.String("."), stack.UrlSuffix(), jsii.String("/" + st.Stage + "/"),
			}),
			Description: jsii.String("hello through the " + st.Stage + " stage (alias " + st.Alias + ")"),
		})
	}
	return s
}

// helloSettings promotes hello as a canary: 10% of prod for five minutes,
// then all, after a smoke check that stg still greets.
func helloSettings(approvers []string) config.Target {
	return config.Target{
		Function:          HelloFunctionName,
		CodeBuildProjects: []string{HelloProjectName},
		Strategy:          config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 300},
		SmokeChecks: []config.SmokeCheck{{
			Name: "stg says hello",
			Invoke: &config.InvokeCheck{
				Payload:      json.RawMessage(`{"httpMethod":"GET","path":"/","requestContext":{"stage":"staging"}}`),
				JSONEquals:   map[string]any{"statusCode": 200},
				BodyContains: "Hello from Lambda",
			},
		}},
		Approvers: approvers,
	}
}

// newHelloAPI is the seeds' REST API: one deployment, three stages, and an
// integration whose function is hello:${stageVariables.lambdaAlias}.
func newHelloAPI(stack awscdk.Stack, opts options) awsapigateway.RestApi {
	access := awslogs.NewLogGroup(stack, jsii.String("HelloApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     opts.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	prod := Stages[len(Stages)-1]
	api := awsapigateway.NewRestApi(stack, jsii.String("HelloApi"), &awsapigateway.RestApiProps{
		RestApiName:   jsii.String("hello"),
		Description:   jsii.String("The seeds' hello API: each stage serves the alias named by its lambdaAlias stage variable"),
		EndpointTypes: &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		// The account-wide logging role comes from the pipeline stack.
		CloudWatchRole: jsii.Bool(false),
		DeployOptions:  aliasflow.StageOptions(prod.Stage, access, map[string]string{StageVariable: prod.Alias}, 50, 100),
	})
	uri := awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), stack.Partition(), jsii.String(":apigateway:"), stack.Region(),
		jsii.String(":lambda:path/2015-03-31/functions/"),
		stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("lambda"), Resource: jsii.String("function"),
			ResourceName: jsii.String(HelloFunctionName), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
		}),
		jsii.String(":${stageVariables." + StageVariable + "}/invocations"),
	})
	integration := awsapigateway.NewIntegration(&awsapigateway.IntegrationProps{
		Type:                  awsapigateway.IntegrationType_AWS_PROXY,
		IntegrationHttpMethod: jsii.String("POST"),
		Uri:                   uri,
	})
	validator := api.AddRequestValidator(jsii.String("Validator"), &awsapigateway.RequestValidatorOptions{
		ValidateRequestParameters: jsii.Bool(true),
		ValidateRequestBody:       jsii.Bool(true),
	})
	api.Root().AddMethod(jsii.String("GET"), integration, &awsapigateway.MethodOptions{RequestValidator: validator})
	public := "hello is the seeds' public sample: a read-only greeting that returns no data, shown so a reader can watch stages serve different aliases. A real API adds an authorizer (IAM, Cognito or Lambda) here."
	noWAF := map[string]string{
		"AwsSolutions-APIG3": "A public sample greeting with stage throttling (10–50 rps); a WAF web ACL would add cost and nothing to protect.",
	}
	for _, st := range Stages[:len(Stages)-1] {
		// The other stages share the production stage's deployment, which
		// CDK replaces whenever the API changes.
		stage := awsapigateway.NewStage(stack, jsii.String(title(st.Stage)+"Stage"), &awsapigateway.StageProps{
			Deployment:           api.LatestDeployment(),
			StageName:            jsii.String(st.Stage),
			Variables:            &map[string]*string{StageVariable: jsii.String(st.Alias)},
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(access),
			AccessLogFormat:      aliasflow.StageOptions(st.Stage, access, nil, 0, 0).AccessLogFormat,
			LoggingLevel:         awsapigateway.MethodLoggingLevel_ERROR,
			DataTraceEnabled:     jsii.Bool(false),
			MetricsEnabled:       jsii.Bool(true),
			TracingEnabled:       jsii.Bool(true),
			ThrottlingRateLimit:  jsii.Number(10),
			ThrottlingBurstLimit: jsii.Number(20),
		})
		aliasflow.Suppress(stage, noWAF)
	}
	aliasflow.Suppress(api, map[string]string{
		"AwsSolutions-APIG4": public,
		"AwsSolutions-COG4":  public,
		"AwsSolutions-APIG3": noWAF["AwsSolutions-APIG3"],
	})
	return api
}

// newHelloBuild is the CI of the sample: on every push it builds hello for
// arm64, uploads it to $LATEST and exports what the release Lambda reads.
func newHelloBuild(stack awscdk.Stack, opts options, hello awslambda.Function) awscodebuild.Project {
	owner, repo, _ := strings.Cut(opts.SourceRepository, "/")
	// The buildspec teams copy, examples/codebuild/buildspec.yml, which
	// builds hello.
	spec, err := examples.BuildSpec()
	if err != nil {
		panic(err) // embedded and checked by the examples tests
	}
	key := awskms.NewKey(stack, jsii.String("BuildKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the hello build's artifacts and logs"),
		EnableKeyRotation: jsii.Bool(true),
	})
	logs := awslogs.NewLogGroup(stack, jsii.String("BuildLogs"), &awslogs.LogGroupProps{
		Retention:     opts.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	project := awscodebuild.NewProject(stack, jsii.String("Build"), &awscodebuild.ProjectProps{
		ProjectName: jsii.String(HelloProjectName),
		Description: jsii.String("Builds examples/hello and updates hello's $LATEST; aliasflow promotes it from there"),
		Source: awscodebuild.Source_GitHub(&awscodebuild.GitHubSourceProps{
			Owner:       jsii.String(owner),
			Repo:        jsii.String(repo),
			BranchOrRef: jsii.String(opts.SourceBranch),
			Webhook:     jsii.Bool(true),
			WebhookFilters: &[]awscodebuild.FilterGroup{
				awscodebuild.FilterGroup_InEventOf(awscodebuild.EventAction_PUSH).AndBranchIs(jsii.String(opts.SourceBranch)),
			},
		}),
		Environment: &awscodebuild.BuildEnvironment{
			BuildImage:  awscodebuild.LinuxArmBuildImage_AMAZON_LINUX_2023_STANDARD_3_0(),
			ComputeType: awscodebuild.ComputeType_SMALL,
		},
		BuildSpec:     awscodebuild.BuildSpec_FromObject(&spec),
		EncryptionKey: key,
		Logging:       &awscodebuild.LoggingOptions{CloudWatch: &awscodebuild.CloudWatchLoggingOptions{LogGroup: logs}},
		Timeout:       awscdk.Duration_Minutes(jsii.Number(20)),
	})
	// UpdateFunctionCode on hello ($LATEST) and the reads of
	// `wait function-updated-v2` and the CodeSha256 check (GetFunction; of a
	// tagged function it also needs ListTags); never a version or an alias.
	project.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:UpdateFunctionCode", "lambda:GetFunction", "lambda:ListTags"),
		Resources: &[]*string{hello.FunctionArn()},
	}))
	aliasflow.SuppressFindings(project, "AwsSolutions-IAM5",
		"The wildcards are CodeBuild's own: log streams of /aws/codebuild/aliasflow-hello, and the report groups named after this project (report-group/aliasflow-hello-*) that CodeBuild creates per build; kms:GenerateDataKey*/ReEncrypt* are on this project's own key only.",
		`/^Resource::arn:`+aliasflow.ArnEnv+`:logs:`+aliasflow.ArnEnv+`:`+aliasflow.ArnEnv+`:log-group:\/aws\/codebuild\/<Build[0-9A-F]+>:\*$/`,
		`/^Resource::arn:`+aliasflow.ArnEnv+`:codebuild:`+aliasflow.ArnEnv+`:`+aliasflow.ArnEnv+`:report-group\/<Build[0-9A-F]+>-\*$/`,
		"Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*")
	return project
}

// title upper-cases the first letter, for construct ids.
func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
