package aliasflow_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/infra/aliasflow"
	"github.com/aliasflow/aliasflow/infra/internal/cdktest"
	"github.com/aliasflow/aliasflow/sandbox/iam"
	"github.com/aliasflow/aliasflow/shared/config"
)

// AWS limits the scale test holds every synthesized template to.
const (
	// "Lambda quotas": 4 KB for all environment variables of a function,
	// measured as the JSON of the Variables map.
	maxEnvironmentBytes = 4096
	// "IAM and AWS STS quotas": a role's inline policies together, 10,240
	// characters (white space not counted).
	maxRolePolicyChars = 10240
	// Same page: a customer managed policy, 6,144 characters; managed
	// policies attached to a role, 10 (the default quota).
	maxManagedPolicyChars    = 6144
	maxManagedPoliciesOnRole = 10
	// "CloudFormation quotas": template body 1 MB (in S3), 500 resources.
	maxTemplateBytes  = 1 << 20
	maxStackResources = 500
	// "Amazon EventBridge quotas": 300 rules per event bus (adjustable);
	// aliasflow's rules are on the default bus.
	maxRulesPerBus = 300
)

// scaleApp is a pipeline and n target functions, perStack targets to a
// stack, each target with two smoke checks and three approvers (of 20
// teams of three), as an organisation would deploy it.
func scaleApp(n, perStack int, outdir string) awscdk.App {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	pipelineStack := awscdk.NewStack(app, jsii.String("Pipeline"), nil)
	p := aliasflow.NewPipeline(pipelineStack, "Aliasflow", &aliasflow.PipelineProps{AssetDir: assetDir})
	var stack awscdk.Stack
	for i := range n {
		if i%perStack == 0 {
			stack = awscdk.NewStack(app, jsii.String(fmt.Sprintf("Targets%d", i/perStack+1)), nil)
		}
		addScaleTarget(stack, p, i)
	}
	return app
}

func addScaleTarget(stack awscdk.Stack, p *aliasflow.Pipeline, i int) *aliasflow.Target {
	name := fmt.Sprintf("service-%03d-api", i)
	fn := awslambda.NewFunction(stack, jsii.String(fmt.Sprintf("Fn%d", i)), &awslambda.FunctionProps{
		FunctionName: jsii.String(name),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Join(assetDir, "hello")), nil),
	})
	team := i % 20
	return aliasflow.NewTarget(stack, fmt.Sprintf("Target%d", i), &aliasflow.TargetProps{
		Pipeline: p,
		Function: fn,
		Settings: config.Target{
			Function:          name,
			CodeBuildProjects: []string{name + "-build"},
			Strategy:          config.StrategyConfig{Type: config.Linear, Percent: 20, IntervalSeconds: 300},
			SmokeChecks: []config.SmokeCheck{
				{Name: "health", Invoke: &config.InvokeCheck{Payload: json.RawMessage(`{"httpMethod":"GET","path":"/health"}`), JSONEquals: map[string]any{"statusCode": 200}, BodyContains: "ok"}},
				{Name: "staging page", HTTP: &config.HTTPCheck{URL: "https://staging.example.com/" + name + "/", BodyContains: "Welcome"}},
			},
			Approvers: []string{
				fmt.Sprintf("lead-%02d@example.com", team), fmt.Sprintf("sre-%02d@example.com", team), fmt.Sprintf("owner-%02d@example.com", team),
			},
			Health: config.Health{MaxErrorRate: 0.01, MinInvocations: 20},
		},
	})
}

// awsValues stands in for what CloudFormation resolves, so that sizes are
// measured on what AWS receives: pseudo parameters get real-looking
// values, any other reference a 100-character ARN (longer than most).
func awsValues(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				switch k {
				case "Ref":
					switch arg {
					case "AWS::Partition":
						return "aws"
					case "AWS::Region":
						return "eu-central-1"
					case "AWS::AccountId":
						return "123456789012"
					case "AWS::URLSuffix":
						return "amazonaws.com"
					}
					return strings.Repeat("r", 100)
				case "Fn::GetAtt", "Fn::ImportValue":
					return strings.Repeat("g", 100)
				case "Fn::Join":
					parts := arg.([]any)
					var out []string
					for _, p := range parts[1].([]any) {
						out = append(out, fmt.Sprint(awsValues(p)))
					}
					return strings.Join(out, parts[0].(string))
				}
			}
		}
		out := map[string]any{}
		for k, e := range x {
			out[k] = awsValues(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = awsValues(e)
		}
		return out
	}
	return v
}

// roleInlinePolicyChars sums, per role logical id, the characters of its
// inline policies (AWS::IAM::Policy attached to it and the role's own
// Policies), without white space, as IAM counts them.
func roleInlinePolicyChars(tmpl map[string]any) map[string]int {
	out := map[string]int{}
	size := func(doc any) int {
		b, _ := json.Marshal(awsValues(doc))
		return len(regexp.MustCompile(`\s`).ReplaceAll(b, nil))
	}
	for id, r := range cdktest.Resources(tmpl, "AWS::IAM::Role") {
		out[id] += 0
		if ps, ok := r["Policies"].([]any); ok {
			for _, p := range ps {
				out[id] += size(p.(map[string]any)["PolicyDocument"])
			}
		}
	}
	for _, p := range cdktest.Resources(tmpl, "AWS::IAM::Policy") {
		for _, role := range p["Roles"].([]any) {
			ref, _ := role.(map[string]any)["Ref"].(string)
			out[ref] += size(p["PolicyDocument"])
		}
	}
	return out
}

func TestTwoHundredTargets(t *testing.T) {
	// GIVEN an organisation's 200 targets (two smoke checks and three
	// approvers each) in stacks of 50, WHEN the app is synthesized, THEN
	// every function's environment, every role's inline policies and
	// every template stay inside AWS's limits, and cfn-lint finds no error.
	if testing.Short() {
		t.Skip("synthesizes 5 stacks of up to ~450 resources")
	}
	// A target brings 9 resources with its function (function, role,
	// version, two alias custom resources, alarm, parameter, build rule,
	// query; the rule adds no permission): 40 to a stack stays under 500.
	const n, perStack = 200, 40
	dir := t.TempDir()
	start := time.Now()
	var asm string
	cdktest.NoPanic(t, "synth", func() {
		asm = *scaleApp(n, perStack, dir).Synth(nil).Directory()
	})
	t.Logf("synth of %d targets: %s", n, time.Since(start).Round(time.Second))
	files, _ := filepath.Glob(filepath.Join(asm, "*.template.json"))
	if len(files) != 1+n/perStack {
		t.Fatalf("templates = %v, want the pipeline's and %d target stacks'", files, n/perStack)
	}
	var maxEnv, maxPolicy, maxManaged, maxAttached, rules int
	var maxEnvFn, maxPolicyRole, maxManagedID, maxAttachedRole string
	templates := map[string][]byte{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		templates[strings.TrimSuffix(filepath.Base(f), ".template.json")] = raw
		var tmpl map[string]any
		if err := json.Unmarshal(raw, &tmpl); err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		resources := len(tmpl["Resources"].(map[string]any))
		t.Logf("%s: %d bytes, %d resources", name, len(raw), resources)
		if len(raw) > maxTemplateBytes || resources > maxStackResources {
			t.Errorf("%s: %d bytes and %d resources, want at most %d and %d (CloudFormation quotas)", name, len(raw), resources, maxTemplateBytes, maxStackResources)
		}
		for id, fn := range cdktest.Resources(tmpl, "AWS::Lambda::Function") {
			env, _ := fn["Environment"].(map[string]any)
			b, _ := json.Marshal(awsValues(env["Variables"]))
			if env == nil {
				b = nil
			}
			if len(b) > maxEnv {
				maxEnv, maxEnvFn = len(b), name+" "+id
			}
			if len(b) > maxEnvironmentBytes {
				t.Errorf("%s %s environment is %d bytes, Lambda allows %d", name, id, len(b), maxEnvironmentBytes)
			}
		}
		for _, r := range cdktest.Resources(tmpl, "AWS::Events::Rule") {
			if bus, named := r["EventBusName"]; !named || bus == "default" {
				rules++
			}
		}
		attached := map[string]int{}
		for id, mp := range cdktest.Resources(tmpl, "AWS::IAM::ManagedPolicy") {
			b, _ := json.Marshal(awsValues(mp["PolicyDocument"]))
			chars := len(regexp.MustCompile(`\s`).ReplaceAll(b, nil))
			if chars > maxManaged {
				maxManaged, maxManagedID = chars, name+" "+id
			}
			if chars > maxManagedPolicyChars {
				t.Errorf("%s managed policy %s is %d characters, IAM allows %d", name, id, chars, maxManagedPolicyChars)
			}
			roles, _ := mp["Roles"].([]any)
			for _, r := range roles {
				ref, _ := r.(map[string]any)["Ref"].(string)
				attached[ref]++
			}
		}
		for role, n := range attached {
			if n > maxAttached {
				maxAttached, maxAttachedRole = n, name+" "+role
			}
			if n > maxManagedPoliciesOnRole {
				t.Errorf("%s role %s has %d managed policies attached, IAM allows %d", name, role, n, maxManagedPoliciesOnRole)
			}
		}
		for role, chars := range roleInlinePolicyChars(tmpl) {
			if chars > maxPolicy {
				maxPolicy, maxPolicyRole = chars, name+" "+role
			}
			if chars > maxRolePolicyChars {
				t.Errorf("%s role %s inline policies are %d characters, IAM allows %d", name, role, chars, maxRolePolicyChars)
			}
		}
	}
	t.Logf("largest environment: %d bytes (%s); largest role inline policies: %d characters (%s)", maxEnv, maxEnvFn, maxPolicy, maxPolicyRole)
	t.Logf("largest managed policy: %d characters (%s); most managed policies on a role: %d (%s)", maxManaged, maxManagedID, maxAttached, maxAttachedRole)
	if maxEnv == 0 || maxPolicy == 0 || maxManaged == 0 {
		t.Errorf("measured nothing: environment %d, policies %d, managed policies %d", maxEnv, maxPolicy, maxManaged)
	}
	// The release Lambda's resource-based policy, as Lambda would hold it
	// after CloudFormation added every AWS::Lambda::Permission on it: at
	// most 20 KB (iam.MaxResourcePolicyBytes), else the deploy of the
	// target that crosses it fails with PolicyLengthExceededException.
	set, err := iam.Load(templates, iam.Env{Account: "123456789012", Region: "eu-central-1"})
	if err != nil {
		t.Fatalf("the templates as deployed: %v", err)
	}
	release := "arn:aws:lambda:eu-central-1:123456789012:function:" + aliasflow.ReleaseFunctionName
	policy := set.ResourcePolicies()[release]
	t.Logf("%s resource-based policy: %d bytes (Lambda allows %d); rules on the default bus: %d (EventBridge allows %d)", aliasflow.ReleaseFunctionName, len(policy), iam.MaxResourcePolicyBytes, rules, maxRulesPerBus)
	if len(policy) == 0 || len(policy) > iam.MaxResourcePolicyBytes {
		t.Errorf("%s resource-based policy is %d bytes, want some and at most %d", aliasflow.ReleaseFunctionName, len(policy), iam.MaxResourcePolicyBytes)
	}
	if rules < n || rules > maxRulesPerBus {
		t.Errorf("rules on the default bus = %d, want one per target (%d) and at most %d", rules, n, maxRulesPerBus)
	}
	lint(t, files)
}

// lint runs cfn-lint (AWS's CloudFormation linter) on the templates and
// fails on any error. Warnings are logged: those seen are explained in
// lintWarningsExplained.
func lint(t *testing.T, files []string) {
	t.Helper()
	if _, err := exec.LookPath("cfn-lint"); err != nil {
		t.Fatalf("cfn-lint is not installed (it comes with the machine's Python): %v", err)
	}
	start := time.Now()
	out, err := exec.Command("cfn-lint", append([]string{"--format", "parseable", "--"}, files...)...).CombinedOutput()
	t.Logf("cfn-lint on %d templates: %s", len(files), time.Since(start).Round(time.Second))
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("cfn-lint: %v\n%s", err, out)
	}
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		// file:line:col:line:col:RULE:message
		parts := strings.SplitN(line, ":", 7)
		if len(parts) < 7 {
			t.Errorf("cfn-lint: %s", line)
			continue
		}
		rule := parts[5]
		seen[rule]++
		switch {
		case strings.HasPrefix(rule, "E"):
			t.Errorf("cfn-lint error %s", line)
		case lintWarningsExplained[rule] == "":
			t.Errorf("cfn-lint %s not explained: %s", rule, line)
		case seen[rule] == 1:
			t.Logf("cfn-lint %s (accepted: %s), first: %s", rule, lintWarningsExplained[rule], line)
		}
	}
	rules := make([]string, 0, len(seen))
	for r, c := range seen {
		rules = append(rules, fmt.Sprintf("%s×%d", r, c))
	}
	sort.Strings(rules)
	t.Logf("cfn-lint findings: %v", rules)
}

// lintWarningsExplained are the cfn-lint warnings accepted, and why.
var lintWarningsExplained = map[string]string{
	// CDK adds DependsOn from a function to its role (and the role's default
	// policy) so that the function is created only once its permissions
	// exist; the role is also named through GetAtt, which cfn-lint reports
	// as redundant. The dependency on the policy is what matters and only
	// DependsOn expresses it.
	"W3005": "CDK's DependsOn on a role a GetAtt already names; harmless, and the same DependsOn carries the policy dependency",
}

// statements lists a template's IAM statements as comparable strings.
func statements(t *testing.T, stack awscdk.Stack) []string {
	var out []string
	for _, s := range cdktest.Statements(cdktest.TemplateJSON(t, stack)) {
		out = append(out, fmt.Sprintf("%s %v %v %s", s.Policy, s.Actions, s.Resources, s.Condition))
	}
	sort.Strings(out)
	return out
}

func TestPoliciesDoNotGrowWithTargets(t *testing.T) {
	// GIVEN the same app with 1 and with 3 targets in one team's stack,
	// WHEN synthesized, THEN every IAM statement of the pipeline stack and
	// of the team's stack is the same: adding a target adds none. (The
	// shift's read of each target's log group is the one grant that names
	// targets, in managed policies sized in TestTwoHundredTargets.)
	synth := func(n int) (pipeline, team []string) {
		app := awscdk.NewApp(nil)
		ps := awscdk.NewStack(app, jsii.String("Pipeline"), nil)
		ts := awscdk.NewStack(app, jsii.String("Team"), nil)
		p := aliasflow.NewPipeline(ps, "Aliasflow", &aliasflow.PipelineProps{AssetDir: assetDir})
		for i := range n {
			addScaleTarget(ts, p, i)
		}
		return statements(t, ps), statements(t, ts)
	}
	p1, t1 := synth(1)
	p3, t3 := synth(3)
	if len(p1) == 0 || len(t1) == 0 {
		t.Fatalf("no statements: pipeline %d, team %d", len(p1), len(t1))
	}
	if !reflect.DeepEqual(p1, p3) {
		t.Errorf("pipeline statements differ between 1 and 3 targets:\n1: %v\n3: %v", p1, p3)
	}
	if !reflect.DeepEqual(t1, t3) {
		t.Errorf("team stack statements differ between 1 and 3 targets:\n1: %v\n3: %v", t1, t3)
	}
}

func TestDeployNeverMovesAnAlias(t *testing.T) {
	// GIVEN a target deployed once, WHEN its props change (new code, new
	// settings, another alarm threshold) and the app is synthesized again,
	// THEN no AWS::Lambda::Alias exists in either template, the custom
	// resources that ensure stg and prod have exactly the same properties
	// (CloudFormation sends them no update), and nothing anywhere calls
	// UpdateAlias: a deploy can create a missing alias, never move one.
	synth := func(code string, settings config.Target, threshold float64) map[string]any {
		app := awscdk.NewApp(nil)
		// The pipeline's own roles may move aliases; the team's stack, where
		// the target lives, must not be able to.
		p := aliasflow.NewPipeline(awscdk.NewStack(app, jsii.String("Pipeline"), nil), "Aliasflow", &aliasflow.PipelineProps{AssetDir: assetDir})
		stack := awscdk.NewStack(app, jsii.String("Team"), nil)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte(code), 0o755); err != nil {
			t.Fatal(err)
		}
		fn := awslambda.NewFunction(stack, jsii.String("Orders"), &awslambda.FunctionProps{
			FunctionName: jsii.String("orders"), Runtime: awslambda.Runtime_PROVIDED_AL2023(),
			Handler: jsii.String("bootstrap"), Code: awslambda.Code_FromAsset(jsii.String(dir), nil),
		})
		aliasflow.NewTarget(stack, "OrdersTarget", &aliasflow.TargetProps{Pipeline: p, Function: fn, Settings: settings, ErrorRateThreshold: threshold})
		return cdktest.TemplateJSON(t, stack)
	}
	before := synth("v1", config.Target{Function: "orders", Approvers: []string{"a@example.com"}}, 0.05)
	after := synth("v2 with a fix", config.Target{Function: "orders", Approvers: []string{"a@example.com", "b@example.com"},
		Strategy: config.StrategyConfig{Type: config.Canary, Percent: 5, BakeSeconds: 600}}, 0.1)
	for name, tmpl := range map[string]map[string]any{"before": before, "after": after} {
		if n := len(cdktest.Resources(tmpl, "AWS::Lambda::Alias")); n != 0 {
			t.Errorf("%s: %d AWS::Lambda::Alias resources, want none", name, n)
		}
		if flat := cdktest.Flat(tmpl); strings.Contains(flat, "UpdateAlias") || strings.Contains(flat, "updateAlias") {
			t.Errorf("%s: the template calls UpdateAlias", name)
		}
	}
	b, a := cdktest.Resources(before, "Custom::AliasflowAlias"), cdktest.Resources(after, "Custom::AliasflowAlias")
	if len(b) != 2 || !reflect.DeepEqual(b, a) {
		t.Errorf("alias custom resources changed with the props:\nbefore %s\nafter  %s", cdktest.Flat(b), cdktest.Flat(a))
	}
	// The initial version they start on is not replaced either.
	bv, av := cdktest.Resources(before, "AWS::Lambda::Version"), cdktest.Resources(after, "AWS::Lambda::Version")
	if len(bv) != 1 || !reflect.DeepEqual(bv, av) {
		t.Errorf("initial version changed with the props:\nbefore %s\nafter  %s", cdktest.Flat(bv), cdktest.Flat(av))
	}
	// Sanity: the props did change the template (code and settings).
	if reflect.DeepEqual(cdktest.Resources(before, "AWS::SSM::Parameter"), cdktest.Resources(after, "AWS::SSM::Parameter")) ||
		reflect.DeepEqual(cdktest.Resources(before, "AWS::Lambda::Function"), cdktest.Resources(after, "AWS::Lambda::Function")) {
		t.Errorf("the changed props did not change the settings parameter and the function: the test compares nothing")
	}
}
