// Command infra is aliasflow's CDK app: the pipeline stack and the sample
// app stack (the seeds' hello scenario), both checked by cdk-nag's
// AwsSolutions and Serverless rule packs. `make synth` runs it through the
// pinned CDK CLI; context values are documented in docs/deploy.md.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Stack names, as `cdk deploy <name>` takes them.
const (
	PipelineStackName = "AliasflowPipeline"
	SampleStackName   = "AliasflowSample"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	opts, err := readOptions(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		fmt.Fprintf(os.Stderr, "aliasflow infra: %v\n", err)
		os.Exit(2)
	}
	build(app, opts)
	app.Synth(nil)
}

// stacks are what build adds to an app.
type stacks struct {
	pipeline PipelineStack
	sample   SampleStack
}

// build adds both stacks and the cdk-nag rule packs to app. Stacks are
// environment-agnostic: the account and region come from the credentials
// `cdk deploy` runs with, never from code.
func build(app awscdk.App, opts options) stacks {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewServerlessChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)

	pipeline := NewPipelineStack(app, PipelineStackName, &PipelineStackProps{
		StackProps: awscdk.StackProps{Description: jsii.String("aliasflow: promotes Lambda functions from a merge to prod through aliases")},
		Options:    opts,
	})
	sample := NewSampleStack(app, SampleStackName, &SampleStackProps{
		StackProps: awscdk.StackProps{Description: jsii.String("aliasflow sample: hello behind API Gateway stages dev, staging, production")},
		Options:    opts,
		Pipeline:   pipeline.Pipeline,
	})
	if !opts.UseExistingAPIGatewayLogRole {
		// The sample API's stages log through API Gateway's account-wide
		// CloudWatch role, which the pipeline stack sets.
		sample.Stack.AddStackDependency(pipeline.Stack, jsii.String("API Gateway's CloudWatch Logs role is set by the pipeline stack"))
	}
	return stacks{pipeline: pipeline, sample: sample}
}
