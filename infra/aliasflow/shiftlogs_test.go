package aliasflow_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/infra/aliasflow"
	"github.com/aliasflow/aliasflow/infra/internal/cdktest"
	"github.com/aliasflow/aliasflow/sandbox/iam"
	"github.com/aliasflow/aliasflow/shared/config"
)

// TestShiftReadsOnlyItsTargetsLogGroups evaluates logs:FilterLogEvents of
// the shift role in the synthesized templates with the sandbox's IAM
// evaluator: the health verdict reads a target's group (/aws/lambda/<fn>,
// or the function's LoggingConfig.LogGroup), and no other group of the
// account.
func TestShiftReadsOnlyItsTargetsLogGroups(t *testing.T) {
	app := awscdk.NewApp(nil)
	ps := awscdk.NewStack(app, jsii.String("Pipeline"), nil)
	ts := awscdk.NewStack(app, jsii.String("Team"), nil)
	p := aliasflow.NewPipeline(ps, "Aliasflow", &aliasflow.PipelineProps{AssetDir: assetDir})
	fn := func(name string, group awslogs.ILogGroup) awslambda.IFunction {
		return awslambda.NewFunction(ts, jsii.String(name+"Fn"), &awslambda.FunctionProps{
			FunctionName: jsii.String(name), Runtime: awslambda.Runtime_PROVIDED_AL2023(),
			Handler: jsii.String("bootstrap"), Code: awslambda.Code_FromAsset(jsii.String(filepath.Join(assetDir, "hello")), nil),
			LogGroup: group,
		})
	}
	settings := func(name string) config.Target {
		return config.Target{Function: name, Approvers: []string{"lead@example.com"}}
	}
	// orders logs to Lambda's default group; billing's function in the app
	// names a custom group; search is imported and its group is a prop.
	aliasflow.NewTarget(ts, "Orders", &aliasflow.TargetProps{Pipeline: p, Function: fn("orders", nil), Settings: settings("orders")})
	billingLogs := awslogs.NewLogGroup(ts, jsii.String("BillingLogs"), &awslogs.LogGroupProps{LogGroupName: jsii.String("/teams/billing")})
	aliasflow.NewTarget(ts, "Billing", &aliasflow.TargetProps{Pipeline: p, Function: fn("billing", billingLogs), Settings: settings("billing")})
	aliasflow.NewTarget(ps, "Search", &aliasflow.TargetProps{Pipeline: p, LogGroup: "/custom/search", Settings: settings("search")})

	templates := map[string][]byte{}
	for name, stack := range map[string]awscdk.Stack{"Pipeline": ps, "Team": ts} {
		raw, err := json.Marshal(cdktest.TemplateJSON(t, stack))
		if err != nil {
			t.Fatal(err)
		}
		templates[name] = raw
	}
	set, err := iam.Load(templates, iam.Env{Account: "123456789012", Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	role := set.Role(aliasflow.ShiftFunctionName)
	if role == nil {
		t.Fatalf("no role for %s in the templates", aliasflow.ShiftFunctionName)
	}
	// The groups are named: no resource of the managed policies holds a
	// wildcard but the :* of a named group's streams.
	named := 0
	for id, mp := range cdktest.Resources(cdktest.TemplateJSON(t, ps), "AWS::IAM::ManagedPolicy") {
		for _, st := range cdktest.Statements(map[string]any{"Resources": map[string]any{id: map[string]any{"Type": "AWS::IAM::Policy", "Properties": mp}}}) {
			for _, r := range st.Resources {
				named++
				if strings.Contains(strings.TrimSuffix(r, `:*"]]}`), "*") {
					t.Errorf("%s allows %v on %s, want named log groups only", id, st.Actions, r)
				}
			}
		}
	}
	if named != 6 {
		t.Errorf("managed policies name %d log-group resources, want 6 (3 targets' groups, in both spellings)", named)
	}
	cases := []struct {
		name, group string
		allowed     bool
	}{
		{"a target's Lambda log group", "/aws/lambda/orders", true},
		{"a target's custom group, read from its function", "/teams/billing", true},
		{"a target's custom group, given as a prop", "/custom/search", true},
		{"another function's log group", "/aws/lambda/payroll", false},
		{"a function whose name extends a target's", "/aws/lambda/orders-admin", false},
		{"billing's default group, which it does not write", "/aws/lambda/billing", false},
		{"the pipeline's own log group", "/aliasflow/pipeline", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			arn := "arn:aws:logs:eu-west-1:123456789012:log-group:" + c.group
			for _, resource := range []string{arn, arn + ":*"} {
				req, err := set.Reference.Scope(iam.Request{Action: "logs:FilterLogEvents", Resource: resource})
				if err != nil {
					t.Fatal(err)
				}
				d, err := iam.Evaluate(role.Policies, req)
				if err != nil {
					t.Fatal(err)
				}
				if d.Allowed != c.allowed {
					t.Errorf("logs:FilterLogEvents on %s: allowed %v, want %v", resource, d.Allowed, c.allowed)
				}
			}
		})
	}
}
