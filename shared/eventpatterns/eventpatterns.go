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

// What EventBridge delivers of a Parameter Store write: CloudTrail's record
// of the API call, source "aws.ssm", detail-type "AWS API Call via
// CloudTrail" ("Events from AWS services", Amazon EventBridge User Guide:
// AWS API call events delivered via CloudTrail; an account needs a trail
// logging management events for them to be delivered).
const (
	SSMSource               = "aws.ssm"
	CloudTrailAPIDetailType = "AWS API Call via CloudTrail"
	SSMEventSource          = "ssm.amazonaws.com"
	PutParameterEvent       = "PutParameter"
)

// SettingsChanged matches the CloudTrail records of PutParameter calls on
// the parameters under a pipeline's settings path.
func SettingsChanged(path string) map[string]any {
	return map[string]any{
		"source":      []string{SSMSource},
		"detail-type": []string{CloudTrailAPIDetailType},
		"detail": map[string]any{
			"eventSource":       []string{SSMEventSource},
			"eventName":         []string{PutParameterEvent},
			"requestParameters": map[string]any{"name": []any{map[string]any{"prefix": path}}},
		},
	}
}

// What EventBridge delivers of a Lambda DeleteFunction call: CloudTrail's
// record of it, source "aws.lambda", with the API version in its event
// name as CloudTrail names Lambda's operations.
const (
	LambdaSource        = "aws.lambda"
	LambdaEventSource   = "lambda.amazonaws.com"
	DeleteFunctionEvent = "DeleteFunction20150331"
)

// VersionDeleted matches the CloudTrail records of Lambda DeleteFunction
// calls; the release Lambda audits those that deleted a target's version.
func VersionDeleted() map[string]any {
	return map[string]any{
		"source":      []string{LambdaSource},
		"detail-type": []string{CloudTrailAPIDetailType},
		"detail": map[string]any{
			"eventSource": []string{LambdaEventSource},
			"eventName":   []string{DeleteFunctionEvent},
		},
	}
}
