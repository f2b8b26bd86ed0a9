package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/aliasflow/aliasflow/infra/aliasflow"
	"github.com/aliasflow/aliasflow/infra/internal/cdktest"
	"github.com/aliasflow/aliasflow/shared/config"
)

func TestPipelineOnly(t *testing.T) {
	// GIVEN -c sample=false, a targets file naming a function deployed by
	// another tool and -c githubRepository, WHEN the app is built, THEN it
	// holds the pipeline stack alone — no hello, no sample API or build —
	// promoting that function, with the operators' and approvers' policies
	// and the GitHub release role, and cdk-nag finds nothing.
	dir := t.TempDir()
	if err := cdktest.PlaceholderAssets(dir); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "targets.json")
	doc := `{"targets":[{"function":"orders","strategy":{"type":"linear","percent":25,"intervalSeconds":600},"approvers":["lead@example.com"]}]}`
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	opts, err := readOptions(context(map[string]any{
		ctxAssetDir: dir, ctxApproverEmails: "ops@example.com", ctxSample: "false", ctxTargetsFile: file,
		ctxGitHubRepository: "acme/shop",
	}))
	if err != nil {
		t.Fatal(err)
	}
	targets, err := readTargets(opts.TargetsFile)
	if err != nil {
		t.Fatal(err)
	}
	cdkApp := awscdk.NewApp(nil)
	got := build(cdkApp, opts, targets)
	if got.sample != nil {
		t.Fatal("the sample stack was built")
	}
	if n := len(*cdkApp.Node().Children()); n != 1 {
		t.Errorf("app has %d stacks, want the pipeline stack only", n)
	}
	tmpl := cdktest.TemplateJSON(t, got.pipeline.Stack)
	for id, fn := range cdktest.Resources(tmpl, "AWS::Lambda::Function") {
		if strings.HasPrefix(id, "AWS679f53fac002430cb0da5b7982bd2287") {
			continue // CDK's custom resource provider: it creates the targets' missing aliases
		}
		if name, _ := fn["FunctionName"].(string); !strings.HasPrefix(name, "aliasflow-") {
			t.Errorf("function %v in the pipeline-only stack", fn["FunctionName"])
		}
	}
	for _, typ := range []string{"AWS::CodeBuild::Project", "AWS::ApiGateway::Stage"} {
		if n := len(cdktest.Resources(tmpl, typ)); typ == "AWS::CodeBuild::Project" && n != 0 || typ == "AWS::ApiGateway::Stage" && n != 1 {
			t.Errorf("%d %s, want only the pipeline's own", n, typ)
		}
	}
	if ts := got.pipeline.Pipeline.Targets(); len(ts) != 1 || ts[0].Function != "orders" || ts[0].Strategy.Type != config.Linear {
		t.Errorf("targets = %+v, want orders from the file", ts)
	}
	if got.pipeline.GitHub == nil || got.pipeline.GitHub.Role == nil {
		t.Fatal("no GitHub release role")
	}
	names := map[any]bool{}
	for _, r := range cdktest.Resources(tmpl, "AWS::IAM::ManagedPolicy") {
		names[r["ManagedPolicyName"]] = true
	}
	if !names[aliasflow.OperatorsPolicyName] || !names[aliasflow.ApproversPolicyName] {
		t.Errorf("managed policies = %v", names)
	}
	outputs, _ := tmpl["Outputs"].(map[string]any)
	for _, o := range []string{"GitHubReleaseRoleArn", "OperatorsPolicyArn", "ApproversPolicyArn", "ApprovalUrl"} {
		if outputs[o] == nil {
			t.Errorf("no output %s", o)
		}
	}
	cdktest.AssertNagClean(t, got.pipeline.Stack)
}

func TestReadTargets(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"targets":[{"function":"orders","strategy":{"type":"sideways"},"approvers":["a@example.com"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, path, want string }{
		{"missing file", filepath.Join(dir, "nope.json"), "context targetsFile: open"},
		{"bad settings", bad, "context targetsFile: " + bad + ": "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readTargets(c.path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("readTargets error = %v, want %q", err, c.want)
			}
		})
	}
}

func TestDeployDocPipelineOnly(t *testing.T) {
	// GIVEN docs/deploy.md's "Deploy only the pipeline", THEN its example
	// targets file is valid settings and its command uses the app's own
	// context keys, so the page cannot drift from the app.
	raw, err := os.ReadFile("../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	_, rest, ok := strings.Cut(doc, "cat > aliasflow-targets.json <<'JSON'\n")
	body, _, ok2 := strings.Cut(rest, "\nJSON\n")
	if !ok || !ok2 {
		t.Fatal("docs/deploy.md has no example targets file")
	}
	file := filepath.Join(t.TempDir(), "aliasflow-targets.json")
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readTargets(file); err != nil {
		t.Errorf("the documented targets file: %v", err)
	}
	for _, want := range []string{
		`make deploy CDK_ARGS="-c ` + ctxSample + `=false -c ` + ctxTargetsFile + `=aliasflow-targets.json"`,
		`npx cdk deploy ` + PipelineStackName + ` -c ` + ctxSample + `=false`,
		`-c ` + ctxGitHubRepository + `=acme/shop -c ` + ctxGitHubBranch + `=main`,
		`-c ` + ctxGitHubProvider + `=`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("docs/deploy.md lacks %q", want)
		}
	}
}
