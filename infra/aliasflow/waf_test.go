package aliasflow_test

import (
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/infra/aliasflow"
	"github.com/aliasflow/aliasflow/infra/internal/cdktest"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// TestApprovalRateLimit (issue 18 item 5, per-client throttling): with
// PipelineProps.ApprovalRateLimit the approval API's stage gets a regional
// WAF web ACL whose one rule blocks a client IP past the limit per 5
// minutes, and the stack stays cdk-nag clean without the APIG3
// suppression; without it there is no web ACL (it costs money) and APIG3
// is suppressed with the reason. A limit WAF refuses fails the synth.
func TestApprovalRateLimit(t *testing.T) {
	tests := []struct {
		name    string
		limit   int
		wantACL bool
		wantErr string
	}{
		{name: "off by default", limit: 0},
		{name: "100 a client per 5 minutes", limit: 100, wantACL: true},
		{name: "below WAF's lowest limit", limit: 9, wantErr: "ApprovalRateLimit 9 must be 10–2000000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := awscdk.NewApp(nil)
			cdktest.WithNag(app)
			stack := awscdk.NewStack(app, jsii.String("Pipeline"), nil)
			p := aliasflow.NewPipeline(stack, "Aliasflow", &aliasflow.PipelineProps{AssetDir: assetDir, ApproverEmails: []string{"ops@example.com"}, ApprovalRateLimit: tc.limit})
			aliasflow.NewTarget(stack, "BillingTarget", &aliasflow.TargetProps{Pipeline: p, Settings: config.Target{
				Function: "billing", CodeBuildProjects: []string{"billing-build"}, Approvers: []string{"cfo@example.com"},
				Health: config.Health{Alarms: []string{"billing-latency"}},
			}})
			if tc.wantErr != "" {
				if got := cdktest.PanicMessage(func() { app.Synth(nil) }); !strings.Contains(got, tc.wantErr) {
					t.Fatalf("synth error %q, want one containing %q", got, tc.wantErr)
				}
				return
			}
			tmpl := cdktest.TemplateJSON(t, stack)
			acls := cdktest.Resources(tmpl, "AWS::WAFv2::WebACL")
			assocs := cdktest.Resources(tmpl, "AWS::WAFv2::WebACLAssociation")
			if !tc.wantACL {
				if len(acls)+len(assocs) != 0 {
					t.Errorf("web ACLs %v, associations %v; want none", acls, assocs)
				}
				cdktest.AssertNagClean(t, stack)
				return
			}
			if len(acls) != 1 || len(assocs) != 1 {
				t.Fatalf("%d web ACLs, %d associations; want one of each", len(acls), len(assocs))
			}
			for _, acl := range acls {
				flat := cdktest.Flat(acl)
				for _, want := range []string{`"Scope":"REGIONAL"`, `"DefaultAction":{"Allow":{}}`, `"Action":{"Block":{}}`,
					`"RateBasedStatement":{"AggregateKeyType":"IP","EvaluationWindowSec":300,"Limit":100}`} {
					if !strings.Contains(flat, want) {
						t.Errorf("web ACL lacks %s: %s", want, flat)
					}
				}
			}
			for _, a := range assocs {
				// The stage's ARN: arn:<partition>:apigateway:<region>::/restapis/<id>/stages/v1.
				if flat := cdktest.Flat(a["ResourceArn"]); !strings.Contains(flat, "/restapis/") || !strings.Contains(flat, "/stages/") {
					t.Errorf("association resource %s, want the approval API's stage", flat)
				}
			}
			cdktest.AssertNagClean(t, stack)
		})
	}
}
