// Package deploy names the parts of a deployed aliasflow pipeline — its
// Lambdas, state machine, topic, secret, log group and event bus — and the
// environment each Lambda reads. The CDK app (infra/aliasflow), the sandbox
// (sandbox/local), the CLI and every functions/*/main.go take these names from
// here, so they cannot drift apart; infra/aliasflow's tests hold the
// synthesized template to Functions.
package deploy

import (
	"fmt"
	"os"
	"slices"
)

// Names the runtime relies on: the CLI, the sandbox and the Lambdas find the
// pipeline's parts by these names, so they are fixed rather than generated.
const (
	ReleaseFunction   = "aliasflow-release"
	SmokeTestFunction = "aliasflow-smoketest"
	ApprovalFunction  = "aliasflow-approval"
	ShiftFunction     = "aliasflow-shift"
	// ReconcileFunction compares the world with the ledger on a schedule.
	ReconcileFunction = "aliasflow-reconcile"
	// ReconcileSchedule is the EventBridge Scheduler schedule that runs
	// the reconciler.
	ReconcileSchedule = "aliasflow-reconcile"
	StateMachine      = "aliasflow-promotion"
	ApprovalTopic     = "aliasflow-approvals"
	LinkSecret        = "aliasflow/link-key"
	PipelineLogGroup  = "/aliasflow/pipeline"
	// ReleaseRequestedRule starts a release when `aliasflow release` asks.
	ReleaseRequestedRule = "aliasflow-release-requested"
	// SettingsChangedRule delivers CloudTrail's records of the writes of
	// the targets' settings parameters to the release Lambda, which audits
	// each as settings.changed.
	SettingsChangedRule = "aliasflow-settings-changed"
	// VersionDeletedRule delivers CloudTrail's records of Lambda
	// DeleteFunction calls to the release Lambda, which audits each
	// deletion of a target's version as version.deleted.
	VersionDeletedRule = "aliasflow-version-deleted"
	// DefaultEventBus is the bus CodeBuild's build events arrive on (the
	// build rules listen there) and the audit events go to.
	DefaultEventBus = "default"
	// ReleaseEventBus is the bus "Release Requested" events are accepted
	// on: ReleaseRequestedRule listens there alone, and the bus's
	// resource policy refuses every principal but those granted (the CI
	// release role, releasers), so that anyone with events:PutEvents on
	// the default bus cannot start a release.
	ReleaseEventBus = "aliasflow-releases"
	// PipelineTag is the tag key every target function (and its prod
	// alarm) carries, valued with the pipeline's name. The pipeline's roles
	// act on Lambda functions and alarms only under an
	// aws:ResourceTag/aliasflow:pipeline condition (attribute-based access
	// control, "Use attribute-based access control in Lambda",
	// https://docs.aws.amazon.com/lambda/latest/dg/attribute-based-access-control.html),
	// so adding a target adds no statement to any role.
	PipelineTag = "aliasflow:pipeline"
	// DefaultPipelineName is the name of a pipeline given none, the value
	// of PipelineTag on its targets (a named pipeline's targets carry its
	// name).
	DefaultPipelineName = "aliasflow"
)

// ProdErrorsAlarm is the name of the alarm on the errors of a target
// function's prod alias, which the target construct creates.
func ProdErrorsAlarm(function string) string {
	return "aliasflow-" + function + "-prod-errors"
}

// Environment variables of the pipeline's Lambdas.
const (
	// EnvSettingsPath is the SSM Parameter Store path under which each
	// target's settings live, one parameter per target (shared/settings).
	EnvSettingsPath = "ALIASFLOW_SETTINGS_PATH"
	// EnvEventBus is the bus audit records go to.
	EnvEventBus        = "ALIASFLOW_EVENT_BUS"
	EnvStateMachineARN = "ALIASFLOW_STATE_MACHINE_ARN"
	EnvApprovalTopic   = "ALIASFLOW_APPROVAL_TOPIC_ARN"
	EnvLinkSecret      = "ALIASFLOW_LINK_SECRET_ARN"
	// EnvLoopbackOnly ("1") fences every client to loopback addresses: the
	// sandbox sets it, a deployed pipeline never does.
	EnvLoopbackOnly = "ALIASFLOW_LOOPBACK_ONLY"
)

// Function is one of the pipeline's Lambdas.
type Function struct {
	// Name is the function's name.
	Name string
	// Command is its main package under functions/ (and its asset
	// directory, <dist>/<Command>/bootstrap).
	Command string
	// Env is every ALIASFLOW_* variable the function reads; the pipeline
	// sets exactly these. (The AWS_* variables come from the Lambda
	// runtime, and EnvLoopbackOnly from the sandbox alone.)
	Env []string
}

// The pipeline's Lambdas.
var (
	Release   = Function{Name: ReleaseFunction, Command: "release", Env: []string{EnvEventBus, EnvSettingsPath, EnvStateMachineARN}}
	SmokeTest = Function{Name: SmokeTestFunction, Command: "smoketest", Env: []string{EnvEventBus}}
	Approval  = Function{Name: ApprovalFunction, Command: "approval", Env: []string{EnvApprovalTopic, EnvEventBus, EnvLinkSecret, EnvSettingsPath, EnvStateMachineARN}}
	Shift     = Function{Name: ShiftFunction, Command: "shift", Env: []string{EnvEventBus}}
	Reconcile = Function{Name: ReconcileFunction, Command: "reconcile", Env: []string{EnvEventBus, EnvSettingsPath, EnvStateMachineARN}}
)

// Functions lists the pipeline's Lambdas.
var Functions = []Function{Release, SmokeTest, Approval, Shift, Reconcile}

// Getenv reads one of the function's declared variables from the process
// environment. Reading a variable the function does not declare is a
// programming error: the pipeline would not set it.
func (f Function) Getenv(key string) string {
	if !slices.Contains(f.Env, key) {
		panic(fmt.Sprintf("deploy: %s reads %s, which deploy.%s.Env does not declare", f.Name, key, f.Command))
	}
	return os.Getenv(key)
}
