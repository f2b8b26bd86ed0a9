// Package eventpatterns holds the EventBridge patterns that start a release,
// so the CDK rules and the local sandbox route by the very same patterns.
package eventpatterns

// Sources and detail types of the events a release starts from.
const (
	CodeBuildSource      = "aws.codebuild"
	CodeBuildDetailType  = "CodeBuild Build State Change"
	ReleaseSource        = "aliasflow"
	ReleaseDetailType    = "Release Requested"
	BuildStatusSucceeded = "SUCCEEDED"
)

// CodeBuildSucceeded matches successful builds of the given projects.
func CodeBuildSucceeded(projects []string) map[string]any {
	return map[string]any{
		"source":      []string{CodeBuildSource},
		"detail-type": []string{CodeBuildDetailType},
		"detail": map[string]any{
			"build-status": []string{BuildStatusSucceeded},
			"project-name": projects,
		},
	}
}

// ReleaseRequested matches "Release Requested" events from any CI or the CLI.
func ReleaseRequested() map[string]any {
	return map[string]any{
		"source":      []string{ReleaseSource},
		"detail-type": []string{ReleaseDetailType},
	}
}
