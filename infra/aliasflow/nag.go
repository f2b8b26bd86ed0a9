package aliasflow

import (
	"sort"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// nagReasons maps a cdk-nag rule id to the reason it does not apply; every
// reason is written for a security reviewer.
type nagReasons map[string]string

// suppress records the reasons on c and its children.
func suppress(c constructs.IConstruct, reasons nagReasons) {
	Suppress(c, reasons)
}

// Suppress records cdk-nag suppressions (rule id → reason) on c and its
// children, for an app's own constructs next to aliasflow's.
func Suppress(c constructs.IConstruct, reasons map[string]string) {
	ids := make([]string, 0, len(reasons))
	for id := range reasons {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	list := make([]*cdknag.NagPackSuppression, 0, len(ids))
	for _, id := range ids {
		list = append(list, &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reasons[id])})
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &list, jsii.Bool(true))
}

// SuppressFindings records one rule's suppression on c and its children for
// the listed findings only (cdk-nag's appliesTo: "Resource::*",
// "Action::kms:GenerateDataKey*", …); an entry written /like this/ is a
// regular expression. A finding not listed still fails the check.
func SuppressFindings(c constructs.IConstruct, id, reason string, findings ...string) {
	appliesTo := make([]interface{}, 0, len(findings))
	for _, f := range findings {
		if len(f) > 1 && f[0] == '/' && f[len(f)-1] == '/' {
			appliesTo = append(appliesTo, &cdknag.RegexAppliesTo{Regex: jsii.String(f + "g")})
		} else {
			appliesTo = append(appliesTo, f)
		}
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String(id), Reason: jsii.String(reason), AppliesTo: &appliesTo,
	}}, jsii.Bool(true))
}

// ArnEnv matches an ARN's partition, region or account in a finding: a
// literal value, or a pseudo parameter cdk-nag renders as <AWS::Region>.
const ArnEnv = `(?:<AWS::[A-Za-z]+>|[^:]*)`

// Findings cdk-nag's IAM5 reports for the wildcards aliasflow needs.
const (
	// FindingAnyResource is an action without resource-level permissions.
	FindingAnyResource = "Resource::*"
	// FindingTagged is every function, version or alias, every alarm and
	// every CodeBuild project, each granted only under the pipeline's tag
	// condition.
	FindingTagged = `/^Resource::arn:` + ArnEnv + `:(?:lambda:` + ArnEnv + `:` + ArnEnv + `:function:\*(?::\*|:stg)?|cloudwatch:` + ArnEnv + `:` + ArnEnv + `:alarm:\*|codebuild:` + ArnEnv + `:` + ArnEnv + `:project\/\*)$/`
	// FindingSettings is the settings parameters of one pipeline.
	FindingSettings = `/^Resource::arn:` + ArnEnv + `:ssm:` + ArnEnv + `:` + ArnEnv + `:parameter\/aliasflow\/[A-Za-z0-9_.-]+\/targets\/\*$/`
	// FindingApprovals is the parameters under which one pipeline's
	// approval Lambda counts approvals (approval.required).
	FindingApprovals = `/^Resource::arn:` + ArnEnv + `:ssm:` + ArnEnv + `:` + ArnEnv + `:parameter\/aliasflow\/[A-Za-z0-9_.-]+\/approvals\/\*$/`
	// FindingExecutions is the executions of the promotion state machine.
	FindingExecutions = `/^Resource::arn:` + ArnEnv + `:states:` + ArnEnv + `:` + ArnEnv + `:execution:` + StateMachineName + `:\*$/`
	// FindingTargetLogs is the streams of a target's named log group
	// (log-group:NAME:*), which the shift reads.
	FindingTargetLogs = `/^Resource::arn:` + ArnEnv + `:logs:` + ArnEnv + `:` + ArnEnv + `:log-group:[^*]+:\*$/`
	// FindingPipelineLogs is the pipeline's own log group in the ARN form
	// that covers its streams (log-group:NAME:*), which the approval API
	// reads the audit trail from.
	FindingPipelineLogs = `/^Resource::arn:` + ArnEnv + `:logs:` + ArnEnv + `:` + ArnEnv + `:log-group:\/aliasflow\/pipeline:\*$/`
)
