package aliasflow_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/infra/aliasflow"
	"github.com/aliasflow/aliasflow/infra/internal/cdktest"
	"github.com/aliasflow/aliasflow/shared/config"
)

func TestAccessPoliciesUseThePipelinesName(t *testing.T) {
	// GIVEN a pipeline named "payments", WHEN its people's policies and the
	// GitHub release role are synthesized, THEN every statement scoped by
	// the pipeline's tag asks for the value the target construct puts on
	// the targets, "payments" (not the default name: anything else would be
	// AccessDenied on every target).
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Access"), nil)
	p := aliasflow.NewPipeline(stack, "Aliasflow", &aliasflow.PipelineProps{Name: "payments", AssetDir: assetDir})
	aliasflow.NewTarget(stack, "Orders", &aliasflow.TargetProps{Pipeline: p, Settings: config.Target{Function: "orders", Approvers: []string{"lead@example.com"}}})
	aliasflow.NewAccess(stack, "Access", p)
	aliasflow.NewGitHubReleaseRole(stack, "GitHub", &aliasflow.GitHubReleaseRoleProps{Pipeline: p, Repository: "acme/shop"})
	tmpl := cdktest.TemplateJSON(t, stack)
	pipelineTag := `"aws:ResourceTag/` + aliasflow.TagKey + `":"payments"`
	cases := []struct {
		name       string
		statements []policyStatement
		want       string
	}{
		{"operators", documentStatements(t, tmpl, "AWS::IAM::ManagedPolicy", "ManagedPolicyName", aliasflow.OperatorsPolicyName),
			`{"StringEquals":{` + pipelineTag + `}}`},
		// The CI role is also held to its repository's functions.
		{"github release role", documentStatements(t, tmpl, "AWS::IAM::Policy", "", "GitHubRole"),
			`{"StringEquals":{` + pipelineTag + `,"aws:ResourceTag/` + aliasflow.RepositoryTag + `":"acme/shop"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tagged := 0
			for _, s := range c.statements {
				cond := cdktest.Flat(s.Condition)
				if !strings.Contains(cond, "aws:ResourceTag/") {
					continue
				}
				tagged++
				if cond != c.want {
					t.Errorf("statement %s condition = %s, want %s", s.Sid, cond, c.want)
				}
			}
			if tagged == 0 {
				t.Errorf("no statement scoped by the pipeline's tag in %+v", c.statements)
			}
		})
	}
}
