package main

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/infra/internal/cdktest"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// app is the whole CDK app as `make synth` builds it, with placeholder
// Lambda assets; the read-only tests below share it.
var app stacks

func TestMain(m *testing.M) {
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	dir, err := os.MkdirTemp("", "aliasflow-assets")
	if err != nil {
		panic(err)
	}
	if err := cdktest.PlaceholderAssets(dir); err != nil {
		panic(err)
	}
	opts, err := readOptions(context(map[string]any{
		ctxAssetDir:       dir,
		ctxApproverEmails: []any{"alice@example.com", "bob@example.com"},
	}))
	if err != nil {
		panic(err)
	}
	app = build(awscdk.NewApp(nil), opts, nil)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// context turns a map into the lookup readOptions takes.
func context(m map[string]any) func(string) any {
	return func(k string) any { return m[k] }
}

func TestReadOptions(t *testing.T) {
	cases := []struct {
		name    string
		ctx     map[string]any
		want    func(options) bool
		wantErr string
	}{
		{"cdk.json list", map[string]any{ctxApproverEmails: []any{"a@example.com", " b@example.com "}},
			func(o options) bool {
				return strings.Join(o.ApproverEmails, ",") == "a@example.com,b@example.com" && o.AssetDir == "dist" &&
					o.LogRetention == awslogs.RetentionDays_ONE_YEAR && o.SourceRepository == "aliasflow/aliasflow" && o.SourceBranch == "main"
			}, ""},
		{"-c comma list and overrides", map[string]any{ctxApproverEmails: "a@example.com,b@example.com", ctxLogRetentionDays: "90",
			ctxSourceRepository: "acme/shop", ctxSourceBranch: "release", ctxExistingLogRole: "true", ctxAssetDir: "/tmp/x"},
			func(o options) bool {
				return len(o.ApproverEmails) == 2 && o.LogRetention == awslogs.RetentionDays_THREE_MONTHS &&
					o.SourceRepository == "acme/shop" && o.SourceBranch == "release" && o.UseExistingAPIGatewayLogRole && o.AssetDir == "/tmp/x"
			}, ""},
		{"json number retention", map[string]any{ctxApproverEmails: "a@example.com", ctxLogRetentionDays: float64(30)},
			func(o options) bool { return o.LogRetention == awslogs.RetentionDays_ONE_MONTH }, ""},
		{"no approvers", map[string]any{}, nil, "approverEmails: at least one approver"},
		{"display name", map[string]any{ctxApproverEmails: []any{"Alice <a@example.com>"}}, nil, `"Alice <a@example.com>" is not a plain e-mail address`},
		{"not a list", map[string]any{ctxApproverEmails: float64(3)}, nil, "want a list of strings"},
		{"retention CloudWatch refuses", map[string]any{ctxApproverEmails: "a@example.com", ctxLogRetentionDays: float64(42)}, nil, "logRetentionDays: 42 is not a CloudWatch Logs retention"},
		{"repository without owner", map[string]any{ctxApproverEmails: "a@example.com", ctxSourceRepository: "shop"}, nil, `"shop" is not a GitHub owner/name`},
		{"bad boolean", map[string]any{ctxApproverEmails: "a@example.com", ctxExistingLogRole: "yes"}, nil, "useExistingApiGatewayLogRole: yes is not true or false"},
		{"pipeline only", map[string]any{ctxApproverEmails: "a@example.com", ctxSample: "false", ctxTargetsFile: "targets.json",
			ctxGitHubRepository: "acme/shop", ctxGitHubBranch: "release"},
			func(o options) bool {
				return !o.Sample && o.TargetsFile == "targets.json" && o.GitHubRepository == "acme/shop" && o.GitHubBranch == "release"
			}, ""},
		{"sample by default", map[string]any{ctxApproverEmails: "a@example.com"},
			func(o options) bool { return o.Sample && o.GitHubRepository == "" && o.GitHubBranch == "main" }, ""},
		{"pipeline only without targets", map[string]any{ctxApproverEmails: "a@example.com", ctxSample: false}, nil, "sample: false needs the targets the pipeline promotes: -c targetsFile=<file>"},
		{"github repository without owner", map[string]any{ctxApproverEmails: "a@example.com", ctxGitHubRepository: "shop"}, nil, `githubRepository: "shop" is not a GitHub owner/name`},
		{"per-client rate limit", map[string]any{ctxApproverEmails: "a@example.com", ctxApprovalRateLimit: "300"},
			func(o options) bool { return o.ApprovalRateLimit == 300 }, ""},
		{"rate limit WAF refuses", map[string]any{ctxApproverEmails: "a@example.com", ctxApprovalRateLimit: float64(5)}, nil, "approvalRateLimit: 5 is not 0 (no web ACL) or a WAF rate limit of 10–2000000000"},
		{"github wildcard branch", map[string]any{ctxApproverEmails: "a@example.com", ctxGitHubBranch: "feature/*"}, nil, `githubBranch: "feature/*" is not a branch name`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readOptions(context(c.ctx))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("readOptions error = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("readOptions: %v", err)
			}
			if !c.want(got) {
				t.Errorf("readOptions = %+v", got)
			}
		})
	}
}

func TestCDKJSONContextReads(t *testing.T) {
	// GIVEN the committed cdk.json, WHEN its context is read, THEN it is
	// valid, so `make synth` works with no -c flags.
	raw, err := os.ReadFile("../cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		App     string         `json:"app"`
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	if !strings.Contains(doc.App, "./infra") {
		t.Errorf("cdk.json app = %q, want it to run ./infra", doc.App)
	}
	if _, err := readOptions(context(doc.Context)); err != nil {
		t.Errorf("cdk.json context: %v", err)
	}
}

func TestResourceCounts(t *testing.T) {
	cases := []struct {
		stack awscdk.Stack
		typ   string
		want  float64
	}{
		{app.pipeline.Stack, "AWS::Lambda::Function", 5},    // release, smoke test, approval, shift, reconcile
		{app.pipeline.Stack, "AWS::Scheduler::Schedule", 1}, // the reconciler's
		{app.pipeline.Stack, "AWS::StepFunctions::StateMachine", 1},
		{app.pipeline.Stack, "AWS::Events::Rule", 3}, // release requested, settings changed, version deleted
		{app.pipeline.Stack, "AWS::SNS::Topic", 1},
		{app.pipeline.Stack, "AWS::SNS::Subscription", 2},
		{app.pipeline.Stack, "AWS::SecretsManager::Secret", 1},
		{app.pipeline.Stack, "AWS::ApiGateway::RestApi", 1},
		{app.pipeline.Stack, "AWS::CloudWatch::Dashboard", 1},
		{app.pipeline.Stack, "AWS::Logs::QueryDefinition", 3},
		{app.pipeline.Stack, "AWS::IAM::ManagedPolicy", 3}, // operators, approvers, and the shift's read of the targets' log groups
		{app.sample.Stack, "AWS::Lambda::Function", 2},     // hello and CDK's custom resource provider
		{app.sample.Stack, "AWS::Lambda::Alias", 1},
		{app.sample.Stack, "Custom::AliasflowAlias", 2},
		{app.sample.Stack, "AWS::Lambda::Version", 1},
		{app.sample.Stack, "AWS::Lambda::Permission", 3}, // three stages; hello's build rule is admitted by the pipeline's one permission for every build rule
		{app.sample.Stack, "AWS::Events::Rule", 1},
		{app.sample.Stack, "AWS::SSM::Parameter", 1},
		{app.sample.Stack, "AWS::Logs::QueryDefinition", 1},
		{app.sample.Stack, "AWS::ApiGateway::RestApi", 1},
		{app.sample.Stack, "AWS::ApiGateway::Stage", 3},
		{app.sample.Stack, "AWS::ApiGateway::Deployment", 1},
		{app.sample.Stack, "AWS::CodeBuild::Project", 1},
		{app.sample.Stack, "AWS::CloudWatch::Alarm", 1},
	}
	for _, c := range cases {
		t.Run(*c.stack.StackName()+" "+c.typ, func(t *testing.T) {
			cdktest.NoPanic(t, c.typ, func() {
				assertions.Template_FromStack(c.stack, nil).ResourceCountIs(jsii.String(c.typ), jsii.Number(c.want))
			})
		})
	}
}

func TestSampleAliases(t *testing.T) {
	// GIVEN the seeds' scenario, THEN hello has dev on $LATEST, and stg and
	// prod are created on the initial published version only if missing.
	tmpl := cdktest.TemplateJSON(t, app.sample.Stack)
	got := map[string]string{}
	for _, a := range cdktest.Resources(tmpl, "AWS::Lambda::Alias") {
		got[a["Name"].(string)] = cdktest.Flat(a["FunctionVersion"])
	}
	if got["dev"] != `"$LATEST"` || len(got) != 1 {
		t.Errorf("AWS::Lambda::Alias = %v, want only dev on $LATEST", got)
	}
	created := map[string]string{}
	for _, a := range cdktest.Resources(tmpl, "Custom::AliasflowAlias") {
		create := cdktest.Flat(a["Create"])
		for _, alias := range []string{"stg", "prod"} {
			if strings.Contains(create, `"Name":"`+alias+`"`) {
				created[alias] = create
			}
		}
	}
	for _, alias := range []string{"stg", "prod"} {
		if !strings.Contains(created[alias], "InitialVersion") || !strings.Contains(created[alias], "CreateAlias") {
			t.Errorf("%s → %s, want CreateAlias on the initial published version", alias, created[alias])
		}
	}
}

func TestSampleStages(t *testing.T) {
	// GIVEN the REST API, THEN each stage names its alias in lambdaAlias and
	// the one integration invokes hello:${stageVariables.lambdaAlias}.
	tmpl := cdktest.TemplateJSON(t, app.sample.Stack)
	got := map[string]string{}
	for _, s := range cdktest.Resources(tmpl, "AWS::ApiGateway::Stage") {
		vars, _ := s["Variables"].(map[string]any)
		got[s["StageName"].(string)], _ = vars["lambdaAlias"].(string)
		if s["TracingEnabled"] != true || s["AccessLogSetting"] == nil {
			t.Errorf("stage %s = %s, want tracing and access logs", s["StageName"], cdktest.Flat(s))
		}
	}
	want := map[string]string{"dev": "dev", "staging": "stg", "production": "prod"}
	for stage, alias := range want {
		if got[stage] != alias {
			t.Errorf("stage %s lambdaAlias = %q, want %q", stage, got[stage], alias)
		}
	}
	methods := cdktest.Resources(tmpl, "AWS::ApiGateway::Method")
	if len(methods) != 1 {
		t.Fatalf("methods = %d, want 1", len(methods))
	}
	for _, m := range methods {
		uri := cdktest.Flat(m["Integration"].(map[string]any)["Uri"])
		if !strings.Contains(uri, ":function:hello:${stageVariables.lambdaAlias}/invocations") {
			t.Errorf("integration URI = %s, want hello:${stageVariables.lambdaAlias}", uri)
		}
		if m["Integration"].(map[string]any)["Type"] != "AWS_PROXY" {
			t.Errorf("integration type = %v, want AWS_PROXY", m["Integration"].(map[string]any)["Type"])
		}
	}
}

func TestOnePermissionPerAlias(t *testing.T) {
	// Seed 002: API Gateway needs permission on each alias it invokes; each
	// permission is scoped to the stage serving that alias.
	tmpl := cdktest.TemplateJSON(t, app.sample.Stack)
	aliasIDs := map[string]string{}
	for id, a := range cdktest.Resources(tmpl, "AWS::Lambda::Alias") {
		aliasIDs[`"`+id+`"`] = a["Name"].(string)
	}
	// stg and prod are not CloudFormation resources: their permissions name
	// hello's ARN qualified with the alias.
	aliasIDs[`:stg"`], aliasIDs[`:prod"`] = "stg", "prod"
	seen := map[string]string{}
	for _, p := range cdktest.Resources(tmpl, "AWS::Lambda::Permission") {
		if p["Principal"] == "events.amazonaws.com" {
			continue // hello's build rule invoking the release Lambda
		}
		fn := cdktest.Flat(p["FunctionName"])
		for id, name := range aliasIDs {
			if strings.Contains(fn, id) {
				seen[name] = cdktest.Flat(p["SourceArn"])
			}
		}
		if p["Principal"] != "apigateway.amazonaws.com" {
			t.Errorf("permission principal = %v", p["Principal"])
		}
	}
	want := map[string]string{"dev": "/dev/GET/", "stg": "/staging/GET/", "prod": "/production/GET/"}
	if len(seen) != len(want) {
		t.Errorf("permissions per alias = %v, want one for each of %v", seen, want)
	}
	for alias, stage := range want {
		if !strings.Contains(seen[alias], stage) {
			t.Errorf("%s permission source = %s, want the %s stage only", alias, seen[alias], stage)
		}
	}
}

func TestSampleBuild(t *testing.T) {
	// GIVEN the CodeBuild project, THEN its buildspec updates $LATEST, waits,
	// reads CodeSha256 and exports what the release Lambda reads, and its
	// role may update hello's code and nothing else of Lambda.
	tmpl := cdktest.TemplateJSON(t, app.sample.Stack)
	for _, p := range cdktest.Resources(tmpl, "AWS::CodeBuild::Project") {
		if p["Name"] != HelloProjectName {
			t.Errorf("project = %v, want %s", p["Name"], HelloProjectName)
		}
		var spec struct {
			Env struct {
				Exported []string `json:"exported-variables"`
			} `json:"env"`
			Phases struct {
				Build struct {
					Commands []string `json:"commands"`
				} `json:"build"`
			} `json:"phases"`
		}
		raw := p["Source"].(map[string]any)["BuildSpec"].(string)
		if err := json.Unmarshal([]byte(raw), &spec); err != nil {
			t.Fatalf("buildspec: %v\n%s", err, raw)
		}
		sort.Strings(spec.Env.Exported)
		if got := strings.Join(spec.Env.Exported, ","); got != "ALIASFLOW_AUTHOR,ALIASFLOW_CODE_SHA256,ALIASFLOW_COMMIT,ALIASFLOW_FUNCTION,ALIASFLOW_REQUESTED_BY,ALIASFLOW_TITLE" {
			t.Errorf("exported-variables = %s", got)
		}
		script := strings.Join(spec.Phases.Build.Commands, "\n")
		for _, want := range []string{"GOARCH", "./examples/hello", "aws lambda update-function-code", "fileb://",
			"aws lambda wait function-updated-v2", "--query CodeSha256", `"ALIASFLOW_FUNCTION": "` + HelloFunctionName + `"`, "ALIASFLOW_COMMIT=\"$CODEBUILD_RESOLVED_SOURCE_VERSION\"", "ALIASFLOW_REQUESTED_BY="} {
			if !strings.Contains(script+raw, want) {
				t.Errorf("buildspec lacks %q", want)
			}
		}
		if p["EncryptionKey"] == nil {
			t.Errorf("project has no KMS key")
		}
	}
	sts := cdktest.Statements(tmpl)
	if !cdktest.Grants(sts, "BuildRole", "lambda:UpdateFunctionCode", `Hello`) {
		t.Errorf("the build role cannot update hello's code")
	}
	for _, s := range sts {
		for _, a := range s.Actions {
			// The calls of examples/codebuild/buildspec.yml: update, the
			// function-updated-v2 waiter and the CodeSha256 check
			// (GetFunction, which on a tagged function needs ListTags).
			if strings.HasPrefix(a, "lambda:") && strings.Contains(s.Policy, "BuildRole") && a != "lambda:UpdateFunctionCode" && a != "lambda:GetFunction" && a != "lambda:ListTags" {
				t.Errorf("build role allows %s", a)
			}
		}
	}
}

func TestSampleSettings(t *testing.T) {
	// GIVEN the sample's target, THEN hello's settings are its own
	// parameter in the sample stack, its build rule listens to the hello
	// project, and hello carries the pipeline's tag.
	tmpl := cdktest.TemplateJSON(t, app.sample.Stack)
	var hello *config.Target
	for _, p := range cdktest.Resources(tmpl, "AWS::SSM::Parameter") {
		if p["Name"] == "/aliasflow/aliasflow/targets/hello" {
			got, err := settings.Parse([]byte(p["Value"].(string)), "hello")
			if err != nil {
				t.Fatalf("hello's settings: %v", err)
			}
			hello = &got
		}
	}
	if hello == nil || strings.Join(hello.Approvers, ",") != "alice@example.com,bob@example.com" || hello.Strategy.Type != config.Canary {
		t.Errorf("hello target = %+v", hello)
	}
	found := false
	for _, r := range cdktest.Resources(tmpl, "AWS::Events::Rule") {
		if strings.Contains(cdktest.Flat(r["EventPattern"]), `"project-name":["aliasflow-hello"]`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no rule matches the aliasflow-hello project's builds")
	}
	for _, f := range cdktest.Resources(tmpl, "AWS::Lambda::Function") {
		if f["FunctionName"] == HelloFunctionName && !strings.Contains(cdktest.Flat(f["Tags"]), `{"Key":"aliasflow:pipeline","Value":"aliasflow"}`) {
			t.Errorf("hello tags = %s, want aliasflow:pipeline=aliasflow", cdktest.Flat(f["Tags"]))
		}
	}
}

func TestStackOrder(t *testing.T) {
	deps := app.sample.Stack.Dependencies()
	if len(*deps) != 1 || *(*deps)[0].StackName() != PipelineStackName {
		t.Errorf("sample stack dependencies = %d, want the pipeline stack", len(*deps))
	}
}

func TestLeastPrivilege(t *testing.T) {
	for _, s := range []awscdk.Stack{app.pipeline.Stack, app.sample.Stack} {
		t.Run(*s.StackName(), func(t *testing.T) {
			tmpl := cdktest.TemplateJSON(t, s)
			cdktest.AssertLeastPrivilege(t, tmpl)
			for _, r := range cdktest.Resources(tmpl, "AWS::Logs::LogGroup") {
				if r["RetentionInDays"] != float64(365) {
					t.Errorf("log group %v retention = %v, want 365", r["LogGroupName"], r["RetentionInDays"])
				}
			}
		})
	}
}

func TestNagClean(t *testing.T) {
	for _, s := range []awscdk.Stack{app.pipeline.Stack, app.sample.Stack} {
		t.Run(*s.StackName(), func(t *testing.T) { cdktest.AssertNagClean(t, s) })
	}
}
