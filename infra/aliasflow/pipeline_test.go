package aliasflow_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/infra/aliasflow"
	"github.com/aliasflow/aliasflow/infra/internal/cdktest"
	"github.com/aliasflow/aliasflow/infra/statemachine"
	"github.com/aliasflow/aliasflow/sandbox/iam"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// fixture is one app shared by the read-only tests below: a pipeline stack
// (with an imported target) and a team's stack adding its own function.
type fixture struct {
	app      awscdk.App
	pipeline awscdk.Stack
	team     awscdk.Stack
	p        *aliasflow.Pipeline
	orders   *aliasflow.Target
}

var fx fixture
var assetDir string

func TestMain(m *testing.M) {
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	dir, err := os.MkdirTemp("", "aliasflow-assets")
	if err != nil {
		panic(err)
	}
	if err := cdktest.PlaceholderAssets(dir); err != nil {
		panic(err)
	}
	assetDir = dir
	fx = newFixture(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newFixture(assets string) fixture {
	app := awscdk.NewApp(nil)
	cdktest.WithNag(app)
	pipelineStack := awscdk.NewStack(app, jsii.String("Pipeline"), nil)
	teamStack := awscdk.NewStack(app, jsii.String("Team"), nil)
	p := aliasflow.NewPipeline(pipelineStack, "Aliasflow", &aliasflow.PipelineProps{
		AssetDir:       assets,
		ApproverEmails: []string{"ops@example.com"},
	})
	fn := awslambda.NewFunction(teamStack, jsii.String("Orders"), &awslambda.FunctionProps{
		FunctionName: jsii.String("orders"),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Join(assets, "hello")), nil),
	})
	orders := aliasflow.NewTarget(teamStack, "OrdersTarget", &aliasflow.TargetProps{
		Pipeline: p,
		Function: fn,
		Settings: config.Target{
			Function:          "orders",
			CodeBuildProjects: []string{"orders-build"},
			Strategy:          config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 300},
			Approvers:         []string{"lead@example.com", "ops@example.com"},
			SmokeChecks: []config.SmokeCheck{{
				Name:   "lists orders",
				Invoke: &config.InvokeCheck{Payload: json.RawMessage(`{"path":"/orders"}`), BodyContains: "orders"},
			}},
		},
		ErrorRateThreshold: 0.02,
	})
	aliasflow.NewTarget(pipelineStack, "BillingTarget", &aliasflow.TargetProps{
		Pipeline: p,
		Settings: config.Target{
			Function:          "billing",
			CodeBuildProjects: []string{"billing-build", "orders-build"},
			Approvers:         []string{"cfo@example.com"},
			Health:            config.Health{Alarms: []string{"billing-latency"}},
		},
	})
	return fixture{app: app, pipeline: pipelineStack, team: teamStack, p: p, orders: orders}
}

func TestPipelineFunctions(t *testing.T) {
	// GIVEN the pipeline, WHEN synthesized, THEN the four Lambdas are arm64
	// provided.al2023 functions logging JSON to the one pipeline log group.
	tmpl := cdktest.TemplateJSON(t, fx.pipeline)
	fns := cdktest.Resources(tmpl, "AWS::Lambda::Function")
	var names []string
	for _, f := range fns {
		name, ok := f["FunctionName"].(string)
		if !ok {
			continue // CDK's custom resource provider (billing's aliases)
		}
		names = append(names, name)
		if got := f["Runtime"]; got != "provided.al2023" {
			t.Errorf("%s runtime = %v, want provided.al2023", f["FunctionName"], got)
		}
		if got := cdktest.Flat(f["Architectures"]); got != `["arm64"]` {
			t.Errorf("%s architectures = %s, want [arm64]", f["FunctionName"], got)
		}
		lc := f["LoggingConfig"].(map[string]any)
		if lc["LogFormat"] != "JSON" || !strings.Contains(cdktest.Flat(lc["LogGroup"]), "AliasflowLogs") {
			t.Errorf("%s logging = %s, want JSON to the pipeline log group", f["FunctionName"], cdktest.Flat(lc))
		}
		if cdktest.Flat(f["TracingConfig"]) != `{"Mode":"Active"}` {
			t.Errorf("%s tracing = %s, want Active", f["FunctionName"], cdktest.Flat(f["TracingConfig"]))
		}
		env := f["Environment"].(map[string]any)["Variables"].(map[string]any)
		if env["ALIASFLOW_EVENT_BUS"] != "default" {
			t.Errorf("%s ALIASFLOW_EVENT_BUS = %v, want default", f["FunctionName"], env["ALIASFLOW_EVENT_BUS"])
		}
	}
	sort.Strings(names)
	want := []string{"aliasflow-approval", "aliasflow-reconcile", "aliasflow-release", "aliasflow-shift", "aliasflow-smoketest"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("functions = %v, want %v", names, want)
	}
	cdktest.NoPanic(t, "log group", func() {
		assertions.Template_FromStack(fx.pipeline, nil).HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{
			"LogGroupName": "/aliasflow/pipeline", "RetentionInDays": 365,
		})
	})
}

func TestFunctionEnvironment(t *testing.T) {
	tmpl := cdktest.TemplateJSON(t, fx.pipeline)
	env := map[string]map[string]any{}
	for _, f := range cdktest.Resources(tmpl, "AWS::Lambda::Function") {
		if name, ok := f["FunctionName"].(string); ok {
			env[name] = f["Environment"].(map[string]any)["Variables"].(map[string]any)
		}
	}
	release := env["aliasflow-release"]
	if got := cdktest.Flat(release["ALIASFLOW_STATE_MACHINE_ARN"]); !strings.Contains(got, ":stateMachine:aliasflow-promotion") {
		t.Errorf("ALIASFLOW_STATE_MACHINE_ARN = %s, want the aliasflow-promotion ARN", got)
	}
	approval := env["aliasflow-approval"]
	if got := cdktest.Flat(approval["ALIASFLOW_APPROVAL_TOPIC_ARN"]); !strings.Contains(got, "AliasflowApprovals") {
		t.Errorf("ALIASFLOW_APPROVAL_TOPIC_ARN = %s, want a Ref to the approvals topic", got)
	}
	if got := cdktest.Flat(approval["ALIASFLOW_LINK_SECRET_ARN"]); !strings.Contains(got, "AliasflowLinkKey") {
		t.Errorf("ALIASFLOW_LINK_SECRET_ARN = %s, want a Ref to the link secret", got)
	}
	for _, fn := range []string{"aliasflow-smoketest", "aliasflow-shift"} {
		if len(env[fn]) != 1 {
			t.Errorf("%s environment = %v, want only ALIASFLOW_EVENT_BUS", fn, env[fn])
		}
	}
}

func TestSettingsParameters(t *testing.T) {
	// GIVEN two targets, one in a team's stack, WHEN synthesized, THEN each
	// target's settings are a String parameter in its own stack, named
	// /aliasflow/aliasflow/targets/<function>, holding what the release
	// Lambda parses; the release Lambda is told the path, not the settings.
	params := map[string]string{}
	for _, stack := range []awscdk.Stack{fx.pipeline, fx.team} {
		for _, r := range cdktest.Resources(cdktest.TemplateJSON(t, stack), "AWS::SSM::Parameter") {
			if r["Type"] != "String" || r["Tier"] != "Standard" {
				t.Errorf("parameter %v = %s, want a Standard String", r["Name"], cdktest.Flat(r))
			}
			params[*stack.StackName()+" "+r["Name"].(string)], _ = r["Value"].(string)
		}
	}
	orders, err := settings.Parse([]byte(params["Team /aliasflow/aliasflow/targets/orders"]), "orders")
	if err != nil {
		t.Fatalf("orders parameter: %v (parameters: %v)", err, params)
	}
	if orders.Strategy.Type != config.Canary || orders.Strategy.Percent != 10 {
		t.Errorf("orders strategy = %+v, want canary 10%%", orders.Strategy)
	}
	if got := strings.Join(orders.Health.Alarms, ","); got != "aliasflow-orders-prod-errors" {
		t.Errorf("orders alarms = %s, want aliasflow-orders-prod-errors", got)
	}
	billing, err := settings.Parse([]byte(params["Pipeline /aliasflow/aliasflow/targets/billing"]), "billing")
	if err != nil {
		t.Fatalf("billing parameter: %v (parameters: %v)", err, params)
	}
	if got := strings.Join(billing.Health.Alarms, ","); got != "billing-latency,aliasflow-billing-prod-errors" {
		t.Errorf("billing alarms = %s, want the team's alarm and aliasflow's", got)
	}
	for _, f := range cdktest.Resources(cdktest.TemplateJSON(t, fx.pipeline), "AWS::Lambda::Function") {
		if f["FunctionName"] == "aliasflow-release" {
			env := f["Environment"].(map[string]any)["Variables"].(map[string]any)
			if env[settings.EnvPath] != "/aliasflow/aliasflow/targets/" {
				t.Errorf("%s = %v, want /aliasflow/aliasflow/targets/", settings.EnvPath, env[settings.EnvPath])
			}
		}
	}
}

func TestStateMachine(t *testing.T) {
	// GIVEN the committed definition, WHEN synthesized, THEN every
	// placeholder is substituted with the pipeline's Lambdas and the API's
	// URL, and logging leaves execution data (task tokens) out.
	tmpl := cdktest.TemplateJSON(t, fx.pipeline)
	sms := cdktest.Resources(tmpl, "AWS::StepFunctions::StateMachine")
	if len(sms) != 1 {
		t.Fatalf("state machines = %d, want 1", len(sms))
	}
	for _, sm := range sms {
		if sm["StateMachineName"] != "aliasflow-promotion" || sm["StateMachineType"] != "STANDARD" {
			t.Errorf("state machine = %v %v, want aliasflow-promotion STANDARD", sm["StateMachineName"], sm["StateMachineType"])
		}
		// Every placeholder of the definition has a substitution naming the
		// pipeline's own resource, and there is none the definition lacks.
		def := cdktest.Flat(sm["DefinitionString"])
		placeholders := map[string]bool{}
		for _, m := range regexp.MustCompile(`\$\{([A-Za-z]+)\}`).FindAllStringSubmatch(def, -1) {
			placeholders[m[1]] = true
		}
		subs, _ := sm["DefinitionSubstitutions"].(map[string]any)
		want := map[string]string{
			statemachine.SmokeTestFunctionArn: "AliasflowSmokeTest",
			statemachine.ApprovalFunctionArn:  "AliasflowApproval",
			statemachine.ShiftFunctionArn:     "AliasflowShift",
			statemachine.ApprovalURL:          "AliasflowApprovalApi",
		}
		if len(placeholders) != len(want) || len(subs) != len(want) {
			t.Errorf("placeholders %v, substitutions %s; want exactly %v", placeholders, cdktest.Flat(subs), want)
		}
		for key, ref := range want {
			if !placeholders[key] {
				t.Errorf("definition has no ${%s}", key)
			}
			if got := cdktest.Flat(subs[key]); !strings.Contains(got, ref) {
				t.Errorf("substitution %s = %s, want a reference to %s", key, got, ref)
			}
		}
		logging := sm["LoggingConfiguration"].(map[string]any)
		if logging["IncludeExecutionData"] != false || logging["Level"] != "ALL" {
			t.Errorf("logging = %s, want level ALL without execution data", cdktest.Flat(logging))
		}
		if cdktest.Flat(sm["TracingConfiguration"]) != `{"Enabled":true}` {
			t.Errorf("tracing = %s, want enabled", cdktest.Flat(sm["TracingConfiguration"]))
		}
	}
}

func TestReleaseRules(t *testing.T) {
	// GIVEN targets built by CodeBuild projects, WHEN synthesized, THEN each
	// target's stack has a rule matching its projects' SUCCEEDED builds, the
	// pipeline one matching Release Requested, and all deliver to the
	// release Lambda with retries and the aliasflow DLQ.
	rules := map[string]map[string]any{}
	for _, stack := range []awscdk.Stack{fx.pipeline, fx.team} {
		for _, r := range cdktest.Resources(cdktest.TemplateJSON(t, stack), "AWS::Events::Rule") {
			rules[*stack.StackName()+" "+r["Name"].(string)] = r
		}
	}
	cases := []struct {
		rule, pattern string
	}{
		{"Team aliasflow-build-orders", `{"detail":{"build-status":["SUCCEEDED"],"project-name":["orders-build"]},"detail-type":["CodeBuild Build State Change"],"source":["aws.codebuild"]}`},
		{"Pipeline aliasflow-build-billing", `{"detail":{"build-status":["SUCCEEDED"],"project-name":["billing-build","orders-build"]},"detail-type":["CodeBuild Build State Change"],"source":["aws.codebuild"]}`},
		{"Pipeline aliasflow-release-requested", `{"detail-type":["Release Requested"],"source":["aliasflow"]}`},
		// CloudTrail's records of writes of the settings parameters, which
		// the release Lambda audits as settings.changed.
		{"Pipeline aliasflow-settings-changed", `{"detail":{"eventName":["PutParameter"],"eventSource":["ssm.amazonaws.com"],"requestParameters":{"name":[{"prefix":"/aliasflow/aliasflow/targets/"}]}},"detail-type":["AWS API Call via CloudTrail"],"source":["aws.ssm"]}`},
		// CloudTrail's records of Lambda DeleteFunction calls, which the
		// release Lambda audits as version.deleted for a target's version.
		{"Pipeline aliasflow-version-deleted", `{"detail":{"eventName":["DeleteFunction20150331"],"eventSource":["lambda.amazonaws.com"]},"detail-type":["AWS API Call via CloudTrail"],"source":["aws.lambda"]}`},
	}
	if len(rules) != len(cases) {
		t.Errorf("rules = %d, want %d", len(rules), len(cases))
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			r, ok := rules[c.rule]
			if !ok {
				t.Fatalf("rules = %v, want %s", rules, c.rule)
			}
			if got := cdktest.Flat(r["EventPattern"]); got != c.pattern {
				t.Errorf("pattern = %s\nwant %s", got, c.pattern)
			}
			targets := r["Targets"].([]any)
			if len(targets) != 1 {
				t.Fatalf("targets = %d, want 1", len(targets))
			}
			target := targets[0].(map[string]any)
			if !strings.Contains(cdktest.Flat(target["Arn"]), "AliasflowRelease") {
				t.Errorf("target = %s, want the release Lambda", cdktest.Flat(target["Arn"]))
			}
			if cdktest.Flat(target["RetryPolicy"]) != `{"MaximumEventAgeInSeconds":7200,"MaximumRetryAttempts":8}` {
				t.Errorf("retry policy = %s", cdktest.Flat(target["RetryPolicy"]))
			}
			if !strings.Contains(cdktest.Flat(target["DeadLetterConfig"]), "AliasflowDeadLetters") {
				t.Errorf("dead-letter config = %s, want the aliasflow DLQ", cdktest.Flat(target["DeadLetterConfig"]))
			}
		})
	}
	// The DLQ accepts the build rules' events by their name prefix, once.
	policy := cdktest.Flat(cdktest.Resources(cdktest.TemplateJSON(t, fx.pipeline), "AWS::SQS::QueuePolicy"))
	if !strings.Contains(policy, `rule/aliasflow-build-*`) {
		t.Errorf("queue policy = %s, want the build rules allowed by name prefix", policy)
	}
}

func TestLogRetention(t *testing.T) {
	tmpl := cdktest.TemplateJSON(t, fx.pipeline)
	groups := cdktest.Resources(tmpl, "AWS::Logs::LogGroup")
	if len(groups) != 4 {
		t.Errorf("log groups = %d, want 4 (pipeline, state machine, approval API access, alias custom resources)", len(groups))
	}
	for id, g := range groups {
		if g["RetentionInDays"] != float64(365) {
			t.Errorf("%s retention = %v, want 365 days", id, g["RetentionInDays"])
		}
	}
}

func TestLeastPrivilege(t *testing.T) {
	tmpl := cdktest.TemplateJSON(t, fx.pipeline)
	sts := cdktest.Statements(tmpl)
	cdktest.AssertLeastPrivilege(t, tmpl)
	const tagged = `{"StringEquals":{"aws:ResourceTag/aliasflow:pipeline":"aliasflow"}}`
	cases := []struct {
		name, policy, action, resource string
		want                           bool
	}{
		{"release publishes tagged functions", "ReleaseRole", "lambda:PublishVersion", `function:\*"`, true},
		{"release moves tagged functions' aliases", "ReleaseRole", "lambda:UpdateAlias", `function:\*:\*"`, true},
		{"release reads the builds of tagged projects", "ReleaseRole", "codebuild:BatchGetBuilds", `project/\*"`, true},
		{"release reads the settings", "ReleaseRole", "ssm:GetParameter", `parameter/aliasflow/aliasflow/targets/\*"`, true},
		{"release reads the settings' versions for settings.changed", "ReleaseRole", "ssm:GetParameterHistory", `parameter/aliasflow/aliasflow/targets/\*"`, true},
		{"release writes no settings", "ReleaseRole", "ssm:PutParameter", `.`, false},
		{"release starts promotions", "ReleaseRole", "states:StartExecution", `stateMachine:aliasflow-promotion"`, true},
		{"release stops superseded promotions", "ReleaseRole", "states:StopExecution", `execution:aliasflow-promotion:\*"`, true},
		{"smoke test invokes stg", "SmokeTestRole", "lambda:InvokeFunction", `function:\*:stg"`, true},
		{"smoke test never invokes prod", "SmokeTestRole", "lambda:InvokeFunction", `(:prod|function:\*|:\*:\*)"`, false},
		{"smoke test never publishes", "SmokeTestRole", "lambda:PublishVersion", `.`, false},
		{"smoke test reads no settings", "SmokeTestRole", "ssm:GetParameter", `.`, false},
		{"approval reads the settings at decision time", "ApprovalRole", "ssm:GetParameter", `parameter/aliasflow/aliasflow/targets/\*"`, true},
		{"approval counts approvals on their own path", "ApprovalRole", "ssm:PutParameter", `parameter/aliasflow/aliasflow/approvals/\*"`, true},
		{"approval deletes counted approvals", "ApprovalRole", "ssm:DeleteParameters", `parameter/aliasflow/aliasflow/approvals/\*"`, true},
		{"approval writes no settings", "ApprovalRole", "ssm:PutParameter", `targets`, false},
		{"approval starts manual rollbacks", "ApprovalRole", "states:StartExecution", `stateMachine:aliasflow-promotion"`, true},
		{"approval reads the audit trail", "ApprovalRole", "logs:FilterLogEvents", `log-group:/aliasflow/pipeline`, true},
		{"approval reads no Lambda's log group", "ApprovalRole", "logs:FilterLogEvents", `log-group:/aws/lambda`, false},
		{"shift moves prod", "ShiftRole", "lambda:UpdateAlias", `function:\*:\*"`, true},
		{"shift warms a version", "ShiftRole", "lambda:PutProvisionedConcurrencyConfig", `function:\*:\*"`, true},
		{"shift reads a warm", "ShiftRole", "lambda:GetProvisionedConcurrencyConfig", `function:\*:\*"`, true},
		{"shift removes a warm", "ShiftRole", "lambda:DeleteProvisionedConcurrencyConfig", `function:\*:\*"`, true},
		{"shift warms no unqualified function", "ShiftRole", "lambda:PutProvisionedConcurrencyConfig", `function:\*"`, false},
		{"shift lists what stays warm", "ShiftRole", "lambda:ListProvisionedConcurrencyConfigs", `function:\*"`, true},
		{"release warms nothing", "ReleaseRole", "lambda:PutProvisionedConcurrencyConfig", `.`, false},
		// Composite alarms are returned only with DescribeAlarms on *
		// (DescribeAlarms, CloudWatch API reference).
		{"shift reads every alarm, composite ones included", "ShiftRole", "cloudwatch:DescribeAlarms", `^\*$`, true},
		// Each target's log group is granted by name in a managed policy
		// (TestShiftReadsOnlyItsTargetsLogGroups); no wildcard over groups.
		{"shift reads no log group by wildcard", "ShiftRole", "logs:FilterLogEvents", `log-group:/aws/lambda/\*`, false},
		{"shift reads no other log group", "ShiftRole", "logs:FilterLogEvents", `log-group:/aliasflow`, false},
		{"shift cannot publish", "ShiftRole", "lambda:PublishVersion", `.`, false},
		{"shift verifies its caller's execution", "ShiftRole", "states:DescribeExecution", `execution:aliasflow-promotion:\*"`, true},
		{"shift reads its caller's history", "ShiftRole", "states:GetExecutionHistory", `execution:aliasflow-promotion:\*"`, true},
		{"shift answers no task", "ShiftRole", "states:SendTaskSuccess", `.`, false},
		// SendTask* have no resource type in the Service Authorization
		// Reference: only a grant on * matches ("Actions, resources, and
		// condition keys for AWS Step Functions").
		{"approval answers the task token", "ApprovalRole", "states:SendTaskSuccess", `^\*$`, true},
		{"approval rejects with the task token", "ApprovalRole", "states:SendTaskFailure", `^\*$`, true},
		{"approval reads execution history", "ApprovalRole", "states:GetExecutionHistory", `execution:aliasflow-promotion:\*"`, true},
		{"approval reads aliases", "ApprovalRole", "lambda:GetAlias", `function:\*"`, true},
		{"approval reads the commit of prod's version", "ApprovalRole", "lambda:GetFunctionConfiguration", `function:\*"`, true},
		{"approval cannot move aliases", "ApprovalRole", "lambda:UpdateAlias", `.`, false},
		{"approval publishes to the topic", "ApprovalRole", "sns:Publish", `AliasflowApprovals`, true},
		{"approval reads the link key", "ApprovalRole", "secretsmanager:GetSecretValue", `AliasflowLinkKey`, true},
		// The reconciler (issue 21): reads, one Invoke of the release, never a move.
		{"reconciler lists tagged functions' aliases", "ReconcileRole", "lambda:ListAliases", `function:\*"`, true},
		{"reconciler moves no alias", "ReconcileRole", "lambda:UpdateAlias", `.`, false},
		{"reconciler publishes nothing", "ReconcileRole", "lambda:PublishVersion", `.`, false},
		{"reconciler hands a missed build to the release", "ReconcileRole", "lambda:InvokeFunction", `AliasflowRelease`, true},
		{"reconciler invokes no target", "ReconcileRole", "lambda:InvokeFunction", `function:`, false},
		{"reconciler lists builds (no resource type)", "ReconcileRole", "codebuild:ListBuilds", `^\*$`, true},
		{"reconciler reads the builds of tagged projects", "ReconcileRole", "codebuild:BatchGetBuilds", `project/\*"`, true},
		{"reconciler lists the targets' settings", "ReconcileRole", "ssm:GetParametersByPath", `parameter/aliasflow/aliasflow/targets/\*"`, true},
		{"reconciler writes no settings", "ReconcileRole", "ssm:PutParameter", `.`, false},
		{"reconciler lists the promotions", "ReconcileRole", "states:ListExecutions", `stateMachine:aliasflow-promotion"`, true},
		{"reconciler starts no promotion", "ReconcileRole", "states:StartExecution", `.`, false},
		{"reconciler reads the audit trail", "ReconcileRole", "logs:FilterLogEvents", `log-group:/aliasflow/pipeline`, true},
		// Pruning (issue 21): what `aliasflow prune` needs of the operators'
		// grants (OperatorStatements), on the tagged targets only.
		{"reconciler lists tagged functions' versions", "ReconcileRole", "lambda:ListVersionsByFunction", `function:\*"`, true},
		{"reconciler deletes tagged functions' versions", "ReconcileRole", "lambda:DeleteFunction", `function:\*:\*"`, true},
		{"reconciler never deletes a whole function", "ReconcileRole", "lambda:DeleteFunction", `function:\*"`, false},
		{"reconciler reads the code storage (no resource type)", "ReconcileRole", "lambda:GetAccountSettings", `^\*$`, true},
		{"reconciler reads the running promotions' input", "ReconcileRole", "states:DescribeExecution", `execution:aliasflow-promotion:\*"`, true},
		{"reconciler stops no promotion", "ReconcileRole", "states:StopExecution", `.`, false},
		{"reconciler deletes no settings", "ReconcileRole", "ssm:DeleteParameter", `.`, false},
		{"the schedule invokes the reconciler", "ReconcileScheduleRole", "lambda:InvokeFunction", `AliasflowReconcile`, true},
		{"the schedule invokes nothing else", "ReconcileScheduleRole", "lambda:InvokeFunction", `AliasflowRelease`, false},
		{"state machine invokes the smoke test", "PromotionRole", "lambda:InvokeFunction", `AliasflowSmokeTest`, true},
		{"state machine cannot invoke release", "PromotionRole", "lambda:InvokeFunction", `AliasflowRelease`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := cdktest.Grants(sts, c.policy, c.action, c.resource); got != c.want {
				t.Errorf("%s %s on /%s/ = %v, want %v", c.policy, c.action, c.resource, got, c.want)
			}
		})
	}
	// Every wildcard over functions, alarms and projects is conditioned on
	// the pipeline's tag (ABAC), with a standard StringEquals on
	// aws:ResourceTag/…; no statement names a target.
	for _, s := range sts {
		for _, r := range s.Resources {
			wild := regexp.MustCompile(`:(function:\*|alarm:\*|project/\*)`).MatchString(r)
			if wild && s.Condition != tagged {
				t.Errorf("%s allows %v on %s with condition %q, want %s", s.Policy, s.Actions, r, s.Condition, tagged)
			}
			if regexp.MustCompile(`orders|billing`).MatchString(r) {
				t.Errorf("%s names a target: %v on %s", s.Policy, s.Actions, r)
			}
		}
	}
}

func TestApprovals(t *testing.T) {
	// GIVEN approvers from the props and from two targets, WHEN synthesized,
	// THEN each is subscribed once, receives only its own messages, and the
	// approval API is logged, throttled and validated.
	tmpl := cdktest.TemplateJSON(t, fx.pipeline)
	subs := cdktest.Resources(tmpl, "AWS::SNS::Subscription")
	var emails []string
	for _, s := range subs {
		email := s["Endpoint"].(string)
		emails = append(emails, email)
		if got := cdktest.Flat(s["FilterPolicy"]); got != `{"approver":["`+email+`"]}` {
			t.Errorf("%s filter policy = %s, want only its own messages", email, got)
		}
		if s["Protocol"] != "email" || s["RedrivePolicy"] == nil {
			t.Errorf("%s = %s, want an email subscription with a redrive policy", email, cdktest.Flat(s))
		}
	}
	sort.Strings(emails)
	if got := strings.Join(emails, ","); got != "cfo@example.com,lead@example.com,ops@example.com" {
		t.Errorf("subscriptions = %s", got)
	}
	cdktest.NoPanic(t, "approvals", func() {
		tm := assertions.Template_FromStack(fx.pipeline, nil)
		tm.HasResourceProperties(jsii.String("AWS::SNS::Topic"), map[string]any{
			"TopicName": "aliasflow-approvals", "KmsMasterKeyId": assertions.Match_AnyValue(),
		})
		tm.HasResourceProperties(jsii.String("AWS::SecretsManager::Secret"), map[string]any{
			"Name": "aliasflow/link-key", "GenerateSecretString": map[string]any{"PasswordLength": 64, "ExcludePunctuation": true},
		})
		tm.HasResourceProperties(jsii.String("AWS::ApiGateway::Method"), map[string]any{
			"HttpMethod":        "GET",
			"RequestParameters": map[string]any{"method.request.querystring.t": true},
		})
		tm.HasResourceProperties(jsii.String("AWS::ApiGateway::Method"), map[string]any{"HttpMethod": "POST"})
		// Issue 18: decisions and overrides of people with an IAM identity
		// go through IAM-authorized methods only.
		tm.ResourcePropertiesCountIs(jsii.String("AWS::ApiGateway::Method"), map[string]any{"HttpMethod": "POST", "AuthorizationType": "AWS_IAM"}, jsii.Number(2))
		tm.HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), map[string]any{
			"StageName":        "v1",
			"AccessLogSetting": assertions.Match_ObjectLike(&map[string]any{"DestinationArn": assertions.Match_AnyValue()}),
			"TracingEnabled":   true,
			"MethodSettings":   assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{"LoggingLevel": "ERROR", "DataTraceEnabled": false, "ThrottlingRateLimit": 5})}),
		})
	})
}

func TestObservability(t *testing.T) {
	tmpl := cdktest.TemplateJSON(t, fx.pipeline)
	var queries []string
	for _, q := range cdktest.Resources(tmpl, "AWS::Logs::QueryDefinition") {
		queries = append(queries, q["Name"].(string))
		if s := q["QueryString"].(string); !strings.Contains(s, `"audit"`) {
			t.Errorf("query %s = %q, want it to select audit records", q["Name"], s)
		}
	}
	sort.Strings(queries)
	// billing's target is in the pipeline stack; orders' query is in the
	// team's.
	want := "aliasflow/approvals,aliasflow/promotion-history,aliasflow/promotion-history/billing,aliasflow/rollbacks"
	if got := strings.Join(queries, ","); got != want {
		t.Errorf("queries = %s\nwant %s", got, want)
	}
	dashboards := cdktest.Resources(tmpl, "AWS::CloudWatch::Dashboard")
	if len(dashboards) != 1 {
		t.Fatalf("dashboards = %d, want 1", len(dashboards))
	}
	for _, d := range dashboards {
		body := cdktest.Flat(d["DashboardBody"])
		for _, w := range []string{"Promotions", "Rollbacks", "Lead time", "Approval wait", "Errors on prod by version", "ExecutedVersion",
			// DORA's four keys (package delivery).
			"DeploymentsPerDay", "DeliveryLeadTimeSeconds", "ChangeFailureRatePercent", "TimeToRestoreSeconds"} {
			if !strings.Contains(body, w) {
				t.Errorf("dashboard has no %q", w)
			}
		}
	}
}

func TestPipelineNagClean(t *testing.T) {
	cdktest.AssertNagClean(t, fx.pipeline)
}

// TestApprovalRoleAnswersTaskTokensAsIAMAuthorizes evaluates the approval
// Lambda's calls against its role's policy in the synthesized template
// with the sandbox's IAM evaluator, which scopes each action as the
// Service Authorization Reference says: SendTaskSuccess and
// SendTaskFailure have no resource type ("Actions, resources, and
// condition keys for AWS Step Functions"), so IAM authorizes them against
// "*" and a grant on the state machine's ARN would deny every approval on
// a real account.
func TestApprovalRoleAnswersTaskTokensAsIAMAuthorizes(t *testing.T) {
	raw, err := json.Marshal(cdktest.TemplateJSON(t, fx.pipeline))
	if err != nil {
		t.Fatal(err)
	}
	set, err := iam.Load(map[string][]byte{"Pipeline": raw}, iam.Env{Account: "123456789012", Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	role := set.Role("aliasflow-approval")
	if role == nil {
		t.Fatalf("no role for aliasflow-approval in the template (functions: %v)", set.Functions)
	}
	machine := "arn:aws:states:eu-west-1:123456789012:stateMachine:" + aliasflow.StateMachineName
	for _, c := range []struct {
		action, resource string
		allowed          bool
	}{
		{"states:SendTaskSuccess", machine, true},
		{"states:SendTaskFailure", machine, true},
		{"states:SendTaskHeartbeat", machine, false},
		// A manual rollback is an execution the approval API starts.
		{"states:StartExecution", machine, true},
		{"states:GetExecutionHistory", "arn:aws:states:eu-west-1:123456789012:execution:" + aliasflow.StateMachineName + ":r-1", true},
	} {
		t.Run(c.action, func(t *testing.T) {
			req, err := set.Reference.Scope(iam.Request{Action: c.action, Resource: c.resource})
			if err != nil {
				t.Fatal(err)
			}
			d, err := iam.Evaluate(role.Policies, req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != c.allowed {
				t.Errorf("%s on %s (as IAM scopes it: %s): allowed %v, want %v", c.action, c.resource, req.Resource, d.Allowed, c.allowed)
			}
		})
	}
}
