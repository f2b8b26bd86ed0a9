package aliasflow

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/jsii-runtime-go"
)

// Bounds of a rate-based rule's limit: "The lowest limit setting allowed
// is 10" ("Rate-based rule high-level settings in AWS WAF", AWS WAF
// Developer Guide); the API accepts at most 2,000,000,000
// (RateBasedStatement, AWS WAFV2 API Reference).
const (
	MinApprovalRateLimit = 10
	MaxApprovalRateLimit = 2_000_000_000
)

// ApprovalRateWindowSeconds is the window a client's requests are counted
// over: 300 s, the rate-based rule's default (60, 120, 300 and 600 are
// accepted).
const ApprovalRateWindowSeconds = 300

// newApprovalFirewall puts a regional WAF web ACL with one rate-based rule
// in front of the approval API's stage when PipelineProps.ApprovalRateLimit
// is set: each client IP may send that many requests per 5 minutes, the
// rest are blocked with 403 by WAF before API Gateway or the Lambda see
// them. The stage's own throttling is shared by everyone (one client can
// use it up for all approvers); this is per client. Cost (AWS WAF
// pricing, https://aws.amazon.com/waf/pricing/): $5 a month for the web
// ACL, $1 a month for the rule, $0.60 per million requests inspected.
func (p *Pipeline) newApprovalFirewall() {
	limit := p.props.ApprovalRateLimit
	if limit == 0 {
		return
	}
	if limit < MinApprovalRateLimit || limit > MaxApprovalRateLimit {
		p.errs = append(p.errs, fmt.Sprintf("aliasflow: PipelineProps.ApprovalRateLimit %d must be %d–%d requests per client IP per %d s (a WAF rate-based rule's limit), or 0 for no web ACL",
			limit, MinApprovalRateLimit, MaxApprovalRateLimit, ApprovalRateWindowSeconds))
		return
	}
	visibility := func(metric string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
		return &awswafv2.CfnWebACL_VisibilityConfigProperty{
			CloudWatchMetricsEnabled: jsii.Bool(true), MetricName: jsii.String(metric), SampledRequestsEnabled: jsii.Bool(true),
		}
	}
	acl := awswafv2.NewCfnWebACL(p, jsii.String("ApprovalApiFirewall"), &awswafv2.CfnWebACLProps{
		Name:             jsii.String("aliasflow-approval"),
		Description:      jsii.String("aliasflow approval API: per-client rate limit"),
		Scope:            jsii.String("REGIONAL"),
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: &awswafv2.CfnWebACL_AllowActionProperty{}},
		VisibilityConfig: visibility("aliasflow-approval"),
		Rules: &[]any{&awswafv2.CfnWebACL_RuleProperty{
			Name:     jsii.String(ApprovalRateRuleName),
			Priority: jsii.Number(0),
			Action:   &awswafv2.CfnWebACL_RuleActionProperty{Block: &awswafv2.CfnWebACL_BlockActionProperty{}},
			Statement: &awswafv2.CfnWebACL_StatementProperty{
				RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{
					Limit:               jsii.Number(float64(limit)),
					AggregateKeyType:    jsii.String("IP"),
					EvaluationWindowSec: jsii.Number(ApprovalRateWindowSeconds),
				},
			},
			VisibilityConfig: visibility("aliasflow-approval-per-client"),
		}},
	})
	awswafv2.NewCfnWebACLAssociation(p, jsii.String("ApprovalApiFirewallAssociation"), &awswafv2.CfnWebACLAssociationProps{
		ResourceArn: p.api.DeploymentStage().StageArn(),
		WebAclArn:   acl.AttrArn(),
	})
}

// ApprovalRateRuleName names the web ACL's per-client rate rule.
const ApprovalRateRuleName = "per-client-rate"
