// Command infra is aliasflow's CDK app: the pipeline stack and the sample
// app stack (the seeds' hello scenario; -c sample=false leaves it out), both checked by cdk-nag's
// AwsSolutions and Serverless rule packs. `make synth` runs it through the
// pinned CDK CLI; context values are documented in docs/deploy.md.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/aliasflow/aliasflow/shared/config"
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
	targets, err := readTargets(opts.TargetsFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "aliasflow infra: %v\n", err)
		os.Exit(2)
	}
	build(app, opts, targets)
	app.Synth(nil)
}

// stacks are what build adds to an app.
type stacks struct {
	pipeline PipelineStack
	// sample is nil when opts.Sample is false.
	sample *SampleStack
}

// readTargets reads the targets file (-c targetsFile=…): a shared/config
// document, validated as the release Lambda validates its configuration.
func readTargets(path string) ([]config.Target, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", ctxTargetsFile, err)
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("context %s: %s: %w", ctxTargetsFile, path, err)
	}
	return cfg.Targets, nil
}

// build adds the pipeline stack, the sample stack unless opts.Sample is
// false, and the cdk-nag rule packs to app. Stacks are
// environment-agnostic: the account and region come from the credentials
// `cdk deploy` runs with, never from code.
func build(app awscdk.App, opts options, targets []config.Target) stacks {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewServerlessChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)

	pipeline := NewPipelineStack(app, PipelineStackName, &PipelineStackProps{
		StackProps: awscdk.StackProps{Description: jsii.String("aliasflow: promotes Lambda functions from a merge to prod through aliases")},
		Options:    opts,
		Targets:    targets,
	})
	if !opts.Sample {
		return stacks{pipeline: pipeline}
	}
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
	return stacks{pipeline: pipeline, sample: &sample}
}
