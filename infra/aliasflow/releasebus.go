package aliasflow

import (
	"github.com/aliasflow/aliasflow/shared/deploy"
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/jsii-runtime-go"
)

// ReleaserTag, set to "true" on an IAM user or role, admits it to the
// release bus (an operator who runs `aliasflow release`): the bus's
// resource policy refuses every other principal but the GitHub release
// role and PipelineProps.ReleasePrincipals.
const ReleaserTag = "aliasflow:releaser"

// newReleaseBus creates the bus "Release Requested" events are accepted
// on. Anyone granted events:PutEvents on the default bus could put an
// aliasflow-sourced event there; on this bus an identity policy is not
// enough. Within one account an identity policy or the bus's
// resource-based policy may allow PutEvents ("Permissions for event buses
// in Amazon EventBridge", EventBridge User Guide,
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html),
// but an explicit Deny in either wins ("Policy evaluation logic", IAM User
// Guide, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
// the bus's policy denies PutEvents to every principal that is neither the
// GitHub release role, nor one of PipelineProps.ReleasePrincipals, nor
// tagged ReleaserTag=true (aws:PrincipalArn is a role's ARN for its
// sessions; a condition key absent from the request makes a negated
// operator true, so an untagged principal is refused).
func (p *Pipeline) newReleaseBus() {
	p.releaseBus = awsevents.NewEventBus(p, jsii.String("ReleaseBus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(deploy.ReleaseEventBus),
		Description:  jsii.String("aliasflow: Release Requested events, from the principals granted only"),
	})
	releasers := []string{*p.stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("iam"), Region: jsii.String(""), Resource: jsii.String("role"), ResourceName: jsii.String(GitHubReleaseRoleName),
	})}
	releasers = append(releasers, p.props.ReleasePrincipals...)
	// A CfnEventBusPolicy with the whole statement: the L2
	// AddToResourcePolicy sets the deprecated Principal property.
	awsevents.NewCfnEventBusPolicy(p, jsii.String("ReleaseBusPolicy"), &awsevents.CfnEventBusPolicyProps{
		EventBusName: p.releaseBus.EventBusName(),
		StatementId:  jsii.String("OnlyGrantedReleasers"),
		Statement: map[string]any{
			"Sid":       "OnlyGrantedReleasers",
			"Effect":    "Deny",
			"Principal": map[string]any{"AWS": "*"},
			"Action":    "events:PutEvents",
			"Resource":  p.releaseBus.EventBusArn(),
			"Condition": map[string]any{
				"ArnNotLike":      map[string]any{"aws:PrincipalArn": releasers},
				"StringNotEquals": map[string]any{"aws:PrincipalTag/" + ReleaserTag: "true"},
			},
		},
	})
}

// releaseBusArn is the release bus's ARN, built from its fixed name (the
// people's policies need it before the bus exists in their stack).
func (p *Pipeline) releaseBusArn() *string {
	return p.stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("events"), Resource: jsii.String("event-bus"), ResourceName: jsii.String(deploy.ReleaseEventBus),
	})
}

// ReleaseBus returns the bus Release Requested events are put on.
func (p *Pipeline) ReleaseBus() awsevents.EventBus { return p.releaseBus }
