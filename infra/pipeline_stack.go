package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/aliasflow/aliasflow/infra/aliasflow"
)

// PipelineStackProps configures the pipeline stack.
type PipelineStackProps struct {
	awscdk.StackProps
	Options options
}

// PipelineStack holds aliasflow's pipeline; targets register with Pipeline.
type PipelineStack struct {
	Stack    awscdk.Stack
	Pipeline *aliasflow.Pipeline
}

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
	})
	awscdk.NewCfnOutput(stack, jsii.String("ApprovalUrl"), &awscdk.CfnOutputProps{
		Value:       p.ApprovalURL(),
		Description: jsii.String("The approval page approvers' links point at"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("StateMachineArn"), &awscdk.CfnOutputProps{
		Value:       p.StateMachine().StateMachineArn(),
		Description: jsii.String("The promotion state machine"),
	})
	return PipelineStack{Stack: stack, Pipeline: p}
}
