package aliasflow

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// IAM quotas the shift role's log-read policies are sized by ("IAM and AWS
// STS quotas", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html):
// a customer managed policy holds 6,144 characters (white space not
// counted) and a role has at most 10 managed policies attached by default.
// The role's inline policies share 10,240 characters, which 200 targets'
// groups would outgrow, hence managed policies.
const (
	MaxManagedPolicyChars     = 6144
	MaxManagedPoliciesPerRole = 10
	// logArnPrefixChars bounds what CloudFormation makes of
	// arn:${Partition}:logs:${Region}:${Account}:log-group: (57 characters
	// with aws-us-gov and us-gov-west-1), plus the quotes and comma around
	// a resource in the document.
	logArnPrefixChars = 60
	// logPolicyOverheadChars is a document's Version, Statement, Effect and
	// Action, with room to spare.
	logPolicyOverheadChars = 200
)

// DefaultLogGroup is the group Lambda writes a function's logs to unless its
// LoggingConfig names another ("Sending Lambda function logs to CloudWatch
// Logs").
func DefaultLogGroup(function string) string { return "/aws/lambda/" + function }

// allowShiftLogs lets the shift read the log groups of one target, which
// its health verdict's fresh signal filters by the new version's stream
// prefix. Lambda creates /aws/lambda/<function> untagged, so no tag
// condition can scope the grant: each group is named, in both spellings of
// its ARN (the Service Authorization Reference's log-group:NAME and the :*
// form). The names go into customer managed policies attached to the shift
// role, filled up to IAM's size quota, so the grant grows with targets
// without outgrowing the role.
func (p *Pipeline) allowShiftLogs(function string, groups []string) error {
	var chars int
	for _, g := range groups {
		chars += 2*(logArnPrefixChars+len(g)) + 2
	}
	if p.shiftLogs == nil || p.shiftLogChars+chars > MaxManagedPolicyChars-logPolicyOverheadChars {
		if len(p.shiftLogPolicies) == MaxManagedPoliciesPerRole {
			return fmt.Errorf("aliasflow target %s: the shift role's log-read policies are full: %d managed policies of %d characters, IAM's default quota per role (IAM and AWS STS quotas); split the targets over another pipeline", function, MaxManagedPoliciesPerRole, MaxManagedPolicyChars)
		}
		p.shiftLogs = awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("logs:FilterLogEvents")})
		policy := awsiam.NewManagedPolicy(p, jsii.String(fmt.Sprintf("ShiftReadsTargetLogs%d", len(p.shiftLogPolicies)+1)), &awsiam.ManagedPolicyProps{
			Description: jsii.String("aliasflow: the shift reads its targets' log groups for the health verdict"),
			Statements:  &[]awsiam.PolicyStatement{p.shiftLogs},
			Roles:       &[]awsiam.IRole{p.shift.Role()},
		})
		SuppressFindings(policy, "AwsSolutions-IAM5",
			"log-group:NAME:* is the form of a named log group's ARN IAM matches for its streams (Service Authorization Reference, CloudWatch Logs); each group named is a target's own.",
			FindingTargetLogs)
		p.shiftLogPolicies = append(p.shiftLogPolicies, policy)
		p.shiftLogChars = 0
	}
	p.shiftLogChars += chars
	for _, g := range groups {
		for _, name := range []string{g, g + ":*"} {
			p.shiftLogs.AddResources(p.stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("logs"), Resource: jsii.String("log-group"),
				ResourceName: jsii.String(name), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
			}))
		}
	}
	return nil
}

// targetLogGroup is the group a target's function logs to: the prop when
// given, else the custom group its function's LoggingConfig names when the
// function is in the app, else Lambda's default group.
func targetLogGroup(fn awslambda.IFunction, prop, function string) (string, error) {
	if prop != "" {
		return prop, nil
	}
	if fn == nil {
		return DefaultLogGroup(function), nil
	}
	cfn, owned := fn.Node().DefaultChild().(awslambda.CfnFunction)
	if !owned || cfn.LoggingConfig() == nil {
		return DefaultLogGroup(function), nil
	}
	stack := awscdk.Stack_Of(cfn)
	resolved, _ := stack.Resolve(cfn.LoggingConfig()).(map[string]any)
	switch g := resolved["logGroup"].(type) {
	case nil:
		return DefaultLogGroup(function), nil
	case string:
		return g, nil
	case map[string]any:
		// A group of the app: its name is a Ref; the group's own resource
		// holds the literal.
		if ref, ok := g["Ref"].(string); ok {
			for _, c := range *stack.Node().FindAll(constructs.ConstructOrder_PREORDER) {
				if lg, ok := c.(awslogs.CfnLogGroup); ok && *stack.GetLogicalId(lg) == ref {
					if name := lg.LogGroupName(); name != nil && !*awscdk.Token_IsUnresolved(name) {
						return *name, nil
					}
				}
			}
		}
	}
	return "", fmt.Errorf("aliasflow target %s: the function's LoggingConfig.LogGroup is not a name known at synth; set TargetProps.LogGroup to it", function)
}
