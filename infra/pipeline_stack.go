package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/infra/aliasflow"
	"github.com/aliasflow/aliasflow/shared/config"
)

// PipelineStackProps configures the pipeline stack.
type PipelineStackProps struct {
	awscdk.StackProps
	Options options
	// Targets are registered in this stack, their functions imported by
	// name (Options.TargetsFile, read by the app).
	Targets []config.Target
}

// PipelineStack holds aliasflow's pipeline; targets register with Pipeline.
type PipelineStack struct {
	Stack    awscdk.Stack
	Pipeline *aliasflow.Pipeline
	// Access holds the operators' and approvers' managed policies.
	Access *aliasflow.Access
	// GitHub is the GitHub Actions release role (nil without
	// Options.GitHubRepository).
	GitHub *aliasflow.GitHubReleaseRole
	// Targets are the functions of Options.TargetsFile.
	Targets []*aliasflow.Target
	// TargetStacks hold the targets past the first TargetsPerStack.
	TargetStacks []awscdk.Stack
}

// TargetsPerStack bounds the targets of the targets file one stack holds:
// an imported target adds 6 resources (its first version, the stg and prod
// alias custom resources, the prod errors alarm, the settings parameter
// and the history query) and CloudFormation allows 500 resources a stack
// ("Resources: 500", CloudFormation quotas,
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
// The pipeline stack holds the first TargetsPerStack beside its own ~70
// resources; each further TargetsPerStack go to a stack of their own,
// TargetsStackName(2), (3), …, deployed after it.
const TargetsPerStack = 60

// TargetsStackName is the name of the n-th stack of targets (n ≥ 2; the
// pipeline stack holds the first).
func TargetsStackName(n int) string { return fmt.Sprintf("AliasflowTargets%d", n) }

// NewPipelineStack adds the pipeline stack to scope.
func NewPipelineStack(scope constructs.Construct, id string, props *PipelineStackProps) PipelineStack {
	if props == nil {
		props = &PipelineStackProps{}
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	p := aliasflow.NewPipeline(stack, "Aliasflow", &aliasflow.PipelineProps{
		AssetDir:                     props.Options.AssetDir,
		ApproverEmails:               props.Options.ApproverEmails,
		LogRetention:                 props.Options.LogRetention,
		UseExistingAPIGatewayLogRole: props.Options.UseExistingAPIGatewayLogRole,
		ApprovalRateLimit:            props.Options.ApprovalRateLimit,
	})
	awscdk.NewCfnOutput(stack, jsii.String("ApprovalUrl"), &awscdk.CfnOutputProps{
		Value:       p.ApprovalURL(),
		Description: jsii.String("The approval page approvers' links point at"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("StateMachineArn"), &awscdk.CfnOutputProps{
		Value:       p.StateMachine().StateMachineArn(),
		Description: jsii.String("The promotion state machine"),
	})
	ps := PipelineStack{Stack: stack, Pipeline: p, Access: aliasflow.NewAccess(stack, "Access", p)}
	in := stack
	for i, t := range props.Targets {
		if i > 0 && i%TargetsPerStack == 0 {
			// The next TargetsPerStack in a stack of their own.
			n := i/TargetsPerStack + 1
			in = awscdk.NewStack(scope, jsii.String(TargetsStackName(n)), &awscdk.StackProps{
				Description: jsii.String(fmt.Sprintf("aliasflow: targets %d–%d of the targets file", i+1, min(i+TargetsPerStack, len(props.Targets)))),
			})
			in.AddStackDependency(stack, jsii.String("the targets register with the pipeline"))
			ps.TargetStacks = append(ps.TargetStacks, in)
		}
		// Imported by name: the function is deployed by another tool.
		ps.Targets = append(ps.Targets, aliasflow.NewTarget(in, "Target-"+t.Function, &aliasflow.TargetProps{Pipeline: p, Settings: t}))
	}
	awscdk.NewCfnOutput(stack, jsii.String("OperatorsPolicyArn"), &awscdk.CfnOutputProps{
		Value:       ps.Access.Operators.ManagedPolicyArn(),
		Description: jsii.String("Attach to the IAM identities that run the aliasflow CLI"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("ApproversPolicyArn"), &awscdk.CfnOutputProps{
		Value:       ps.Access.Approvers.ManagedPolicyArn(),
		Description: jsii.String("Attach to the IAM identities that approve or reject through the CLI"),
	})
	if o := props.Options; o.GitHubRepository != "" {
		ps.GitHub = aliasflow.NewGitHubReleaseRole(stack, "GitHub", &aliasflow.GitHubReleaseRoleProps{
			Pipeline: p, Repository: o.GitHubRepository, Branch: o.GitHubBranch, ProviderArn: o.GitHubProviderArn,
		})
		if ps.GitHub.Role != nil {
			awscdk.NewCfnOutput(stack, jsii.String("GitHubReleaseRoleArn"), &awscdk.CfnOutputProps{
				Value:       ps.GitHub.Role.RoleArn(),
				Description: jsii.String("role-to-assume of examples/github-actions/release.yml"),
			})
		}
	}
	return ps
}
