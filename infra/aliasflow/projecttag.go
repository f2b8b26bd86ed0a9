package aliasflow

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// projectTagger puts the pipeline's tag on every CodeBuild project of the
// app that a target names in Settings.CodeBuildProjects: the release
// Lambda reads a build's exported variables with BatchGetBuilds, which its
// role may call only on projects tagged aliasflow:pipeline=<name>
// (allowOnTargets). A project deployed by another app or tool must carry
// the tag itself (docs/deploy.md). It is an aspect, so a project defined
// after its target, or in another stack of the app, is tagged too.
type projectTagger struct{ p *Pipeline }

// Visit implements awscdk.IAspect.
func (a *projectTagger) Visit(node constructs.IConstruct) {
	cfn, ok := node.(awscodebuild.CfnProject)
	if !ok {
		return
	}
	name := cfn.Name()
	if name == nil || *awscdk.Token_IsUnresolved(name) {
		return
	}
	for _, t := range a.p.targets {
		if contains(t.CodeBuildProjects, *name) {
			cfn.Tags().SetTag(jsii.String(PipelineTag), jsii.String(a.p.Name()), jsii.Number(100), jsii.Bool(true))
			return
		}
	}
}
