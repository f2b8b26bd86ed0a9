package sandbox

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/iam"
)

// eventsPrincipal is the service principal EventBridge invokes a Lambda
// target as: "For Lambda ... resources, EventBridge uses resource-based
// policies" allowing events.amazonaws.com with the rule's ARN as source
// ("Using resource-based policies for Amazon EventBridge", AWS Lambda
// permissions,
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html).
// (A target given a RoleArn is invoked as that role instead, in the
// page's newer wording; the sandbox's targets and the CDK app's have none.)
const eventsPrincipal = "events.amazonaws.com"

func (sb *Sandbox) iamSet() *iam.Set {
	sb.iam.mu.Lock()
	defer sb.iam.mu.Unlock()
	return sb.iam.set
}

// authorizeTaskInvoke is the states service's InvokeAuthorizer: a Task
// state invokes Lambda as its state machine's execution role, whose
// identity policies must allow lambda:InvokeFunction on the function, or
// the version or alias, invoked ("IAM policies for AWS Lambda", Step
// Functions Developer Guide,
// https://docs.aws.amazon.com/step-functions/latest/dg/lambda-iam.html).
// State machines the templates do not define are not evaluated, as callers
// that are not the templates' functions are not. The decision's principal
// is the role's ARN; the denial message names a session of the role as IAM
// does, the state machine's name standing for the session name Step
// Functions chooses (which the docs do not give).
func (sb *Sandbox) authorizeTaskInvoke(machine, _, function, qualifier string) error {
	set := sb.iamSet()
	role := set.StateMachineRole(machine)
	if role == nil {
		return nil
	}
	arn, err := iam.FunctionARN(function, qualifier, core.Account, core.Region)
	if err != nil {
		return nil // not a function name: Lambda refuses the call itself
	}
	tags, _ := sb.lambda.Tags(functionName(arn))
	req, err := set.Reference.Scope(iam.Request{Action: iam.InvokeAction, Resource: arn, Context: tagContext(tags)})
	if err != nil {
		return err
	}
	d, err := iam.Evaluate(role.Policies, req)
	if err != nil {
		return err
	}
	sb.recordIAM(IAMDecision{Principal: role.ARN(core.Account), Request: req, Allowed: d.Allowed})
	if !d.Allowed {
		msg := iam.DeniedMessage(role.AssumedRoleARN(core.Account, machine), req, d)
		sb.log.Warn("iam: access denied", "stateMachine", machine, "message", msg)
		return errors.New(msg)
	}
	return nil
}

// apigatewayPrincipal is the service principal API Gateway invokes a
// Lambda integration as, for the request's execute-api ARN: "If your Lambda
// function's resource-based policy doesn't include permissions for your API
// to invoke the function, API Gateway returns an Internal server error"
// (AWS Knowledge Center,
// https://repost.aws/knowledge-center/api-gateway-lambda-stage-variable-500).
const apigatewayPrincipal = "apigateway.amazonaws.com"

// authorizeEventsInvoke is the EventBridge service's InvokeAuthorizer: the
// target function's resource-based policy must allow events.amazonaws.com
// to invoke it for the rule.
func (sb *Sandbox) authorizeEventsInvoke(ruleARN, function string) error {
	return sb.authorizeService(eventsPrincipal, ruleARN, function)
}

// authorizeAPIInvoke is the API Gateway router's InvokeAuthorizer: the
// integration's function (or version or alias) must allow
// apigateway.amazonaws.com for the request's execute-api ARN.
func (sb *Sandbox) authorizeAPIInvoke(sourceARN, function, qualifier string) error {
	arn, err := iam.FunctionARN(function, qualifier, core.Account, core.Region)
	if err != nil {
		return nil // not a function name: Lambda refuses the call itself
	}
	return sb.authorizeService(apigatewayPrincipal, sourceARN, arn)
}

// authorizeService decides a service principal's invocation of function (a
// full ARN) for sourceARN by the function's resource-based policy
// (iam.Set.AuthorizeService). Functions the templates do not define are
// not evaluated.
func (sb *Sandbox) authorizeService(principal, sourceARN, function string) error {
	set := sb.iamSet()
	if set == nil || set.Functions[functionName(function)] == nil {
		return nil
	}
	req, d, err := set.AuthorizeService(principal, function, sourceARN, core.Account)
	if err != nil {
		return err
	}
	sb.recordIAM(IAMDecision{Principal: principal, Request: req, Allowed: d.Allowed})
	if !d.Allowed {
		msg := fmt.Sprintf("%s is not authorized to perform: %s on resource: %s: no statement of the function's resource-based policy allows it for source %s", principal, req.Action, req.Resource, sourceARN)
		sb.log.Warn("iam: access denied", "source", sourceARN, "message", msg)
		return errors.New(msg)
	}
	return nil
}

// functionName is the name in a function's ARN.
func functionName(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) >= 7 {
		return parts[6]
	}
	return arn
}
