package aliasflow_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/infra/aliasflow"
	"github.com/aliasflow/aliasflow/infra/internal/cdktest"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// apiGatewayMaxIntegrationSeconds is a REST API integration's longest
// timeout ("Amazon API Gateway quotas": 50 milliseconds to 29 seconds).
const apiGatewayMaxIntegrationSeconds = 29

func TestApprovalLambdaEndsInsideTheAPIsTimeout(t *testing.T) {
	// GIVEN the pipeline, WHEN synthesized, THEN the approval Lambda's
	// timeout (which bounds its SDK calls and their retries) is shorter
	// than every integration timeout of the approval API, itself at most
	// API Gateway's 29 s.
	tmpl := cdktest.TemplateJSON(t, fx.pipeline)
	var timeout float64
	for _, fn := range cdktest.Resources(tmpl, "AWS::Lambda::Function") {
		if fn["FunctionName"] == aliasflow.ApprovalFunctionName {
			timeout, _ = fn["Timeout"].(float64)
		}
	}
	if timeout == 0 {
		t.Fatalf("no timeout on %s", aliasflow.ApprovalFunctionName)
	}
	methods := cdktest.Resources(tmpl, "AWS::ApiGateway::Method")
	if len(methods) == 0 {
		t.Fatal("no API Gateway method")
	}
	for id, m := range methods {
		integration, _ := m["Integration"].(map[string]any)
		limit := float64(apiGatewayMaxIntegrationSeconds)
		if ms, ok := integration["TimeoutInMillis"].(float64); ok {
			limit = ms / 1000
		}
		if limit > apiGatewayMaxIntegrationSeconds {
			t.Errorf("method %s integration timeout %v s, API Gateway allows %d", id, limit, apiGatewayMaxIntegrationSeconds)
		}
		if timeout >= limit {
			t.Errorf("method %s: the approval Lambda's timeout is %v s, want less than the integration's %v s", id, timeout, limit)
		}
	}
}

func TestSettingsOverFourKilobytes(t *testing.T) {
	// GIVEN a target whose settings (fourteen invoke checks with realistic
	// payloads) outgrow a Standard SSM parameter's 4 KB, WHEN synthesized
	// without and with AdvancedSettings, THEN without it the synth fails
	// naming the opt-in, and with it the settings are one Advanced
	// parameter the release Lambda reads back whole.
	var checks []config.SmokeCheck
	for i := range 14 {
		checks = append(checks, config.SmokeCheck{Name: fmt.Sprintf("order flow %d", i), Invoke: &config.InvokeCheck{
			Payload:      json.RawMessage(fmt.Sprintf(`{"httpMethod":"POST","path":"/orders/%d","headers":{"content-type":"application/json","x-request-id":"smoke-%d"},"body":"{\"sku\":\"ABC-%04d\",\"quantity\":2,\"customer\":\"smoke-test@example.com\"}"}`, i, i, i)),
			JSONEquals:   map[string]any{"statusCode": 201},
			BodyContains: "orderId",
		}})
	}
	cases := []struct {
		name     string
		advanced bool
		wantErr  string
	}{
		{"standard by default: refused, naming the opt-in", false, "AdvancedSettings"},
		{"advanced when the owner opts in", true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app := awscdk.NewApp(nil)
			stack := awscdk.NewStack(app, jsii.String("Big"), nil)
			p := aliasflow.NewPipeline(stack, "Aliasflow", &aliasflow.PipelineProps{AssetDir: assetDir})
			aliasflow.NewTarget(stack, "Orders", &aliasflow.TargetProps{Pipeline: p, AdvancedSettings: c.advanced,
				Settings: config.Target{Function: "orders", SmokeChecks: checks, Approvers: []string{"lead@example.com"}}})
			if c.wantErr != "" {
				if got := cdktest.PanicMessage(func() { app.Synth(nil) }); !strings.Contains(got, c.wantErr) || !strings.Contains(got, "4096") {
					t.Errorf("synth error = %q, want it to name %q and the 4096-byte limit", got, c.wantErr)
				}
				return
			}
			var param map[string]any
			for _, prm := range cdktest.Resources(cdktest.TemplateJSON(t, stack), "AWS::SSM::Parameter") {
				param = prm
			}
			value, _ := param["Value"].(string)
			if param["Tier"] != "Advanced" || len(value) <= settings.MaxStandardBytes {
				t.Fatalf("parameter tier %v, %d bytes; want Advanced and over %d", param["Tier"], len(value), settings.MaxStandardBytes)
			}
			got, err := settings.Parse([]byte(value), "orders")
			if err != nil || len(got.SmokeChecks) != len(checks) {
				t.Errorf("Parse = %d checks, %v; want %d", len(got.SmokeChecks), err, len(checks))
			}
		})
	}
}

func TestCodeBuildProjectsInTheAppAreTagged(t *testing.T) {
	// GIVEN a pipeline named "payments" and, in a team's stack, a target
	// whose CodeBuild project is defined after it in the same app, and a
	// project no target names, WHEN synthesized, THEN the named project
	// carries aliasflow:pipeline=payments (the release Lambda may read its
	// builds with BatchGetBuilds only then) and the other does not.
	app := awscdk.NewApp(nil)
	p := aliasflow.NewPipeline(awscdk.NewStack(app, jsii.String("Pipeline"), nil), "Aliasflow", &aliasflow.PipelineProps{Name: "payments", AssetDir: assetDir})
	team := awscdk.NewStack(app, jsii.String("Team"), nil)
	aliasflow.NewTarget(team, "Orders", &aliasflow.TargetProps{Pipeline: p,
		Settings: config.Target{Function: "orders", CodeBuildProjects: []string{"orders-build"}, Approvers: []string{"lead@example.com"}}})
	for _, name := range []string{"orders-build", "unrelated-build"} {
		awscodebuild.NewProject(team, jsii.String(name), &awscodebuild.ProjectProps{
			ProjectName: jsii.String(name),
			BuildSpec:   awscodebuild.BuildSpec_FromObject(&map[string]any{"version": "0.2"}),
		})
	}
	projects := cdktest.Resources(cdktest.TemplateJSON(t, team), "AWS::CodeBuild::Project")
	cases := []struct {
		project string
		tagged  bool
	}{
		{"orders-build", true},
		{"unrelated-build", false},
	}
	for _, c := range cases {
		t.Run(c.project, func(t *testing.T) {
			var tags string
			found := false
			for _, pr := range projects {
				if pr["Name"] == c.project {
					found, tags = true, cdktest.Flat(pr["Tags"])
				}
			}
			if !found {
				t.Fatalf("no project %s in %s", c.project, cdktest.Flat(projects))
			}
			want := `{"Key":"` + aliasflow.PipelineTag + `","Value":"payments"}`
			if got := strings.Contains(tags, want); got != c.tagged {
				t.Errorf("tags = %s, tagged %v, want %v", tags, got, c.tagged)
			}
		})
	}
}

func TestReleaseConcurrencyIsReserved(t *testing.T) {
	// GIVEN the pipeline, WHEN synthesized, THEN the release Lambda has
	// deploy.ReleaseConcurrency reserved (the buffer a burst of merges
	// queues in: throttled asynchronous events go back to Lambda's queue)
	// and no other pipeline Lambda has any (the state machine invokes them
	// synchronously; a throttled task would fail).
	tmpl := cdktest.TemplateJSON(t, fx.pipeline)
	want := map[string]any{aliasflow.ReleaseFunctionName: float64(deploy.ReleaseConcurrency),
		aliasflow.ShiftFunctionName: nil, aliasflow.ApprovalFunctionName: nil, aliasflow.SmokeTestFunctionName: nil}
	seen := 0
	for _, fn := range cdktest.Resources(tmpl, "AWS::Lambda::Function") {
		name, _ := fn["FunctionName"].(string)
		w, ok := want[name]
		if !ok {
			continue
		}
		seen++
		if got := fn["ReservedConcurrentExecutions"]; got != w {
			t.Errorf("%s ReservedConcurrentExecutions = %v, want %v", name, got, w)
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d pipeline Lambdas", seen, len(want))
	}
}
