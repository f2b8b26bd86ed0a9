package iam

import (
	"fmt"
	"strings"
)

// The authorizations AWS makes for a service that calls Lambda on the
// account's behalf, besides a function's own calls:
//   - a state machine's Task states invoke Lambda as the state machine's
//     execution role (StateMachineRole),
//     so its identity policies are evaluated with Evaluate: "For a state
//     machine with two AWS Lambda task states ... a policy with
//     lambda:Invoke permission to both functions must be used" ("IAM
//     policies for AWS Lambda", Step Functions Developer Guide,
//     https://docs.aws.amazon.com/step-functions/latest/dg/lambda-iam.html);
//   - an EventBridge Scheduler schedule invokes its target as the
//     schedule's execution role (ScheduleRole), whose identity policies
//     must allow the target's API operation ("Set up the execution role",
//     EventBridge Scheduler User Guide,
//     https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role);
//   - EventBridge invokes a Lambda target as the service principal
//     events.amazonaws.com, and API Gateway a Lambda integration as
//     apigateway.amazonaws.com, allowed only by the function's
//     resource-based policy (AWS::Lambda::Permission; AuthorizeService).

// ServicePrincipals are the service principals whose invocations the
// sandbox evaluates against the functions' resource-based policies:
// EventBridge's deliveries to Lambda targets and API Gateway's Lambda proxy
// integrations.
var ServicePrincipals = map[string]bool{"events.amazonaws.com": true, "apigateway.amazonaws.com": true}

// InvokeAction is the action a Lambda invocation is authorized as.
const InvokeAction = "lambda:InvokeFunction"

// Permission is one statement of a function's resource-based policy, as an
// AWS::Lambda::Permission adds it (AddPermission).
type Permission struct {
	Stack, LogicalID string
	Action           string
	// Function is the ARN of the function, version or alias the statement
	// is on: qualified when FunctionName names a version or alias.
	Function      string
	Principal     string
	SourceArn     string
	SourceAccount string
}

// ARN is the role's ARN (the role, not a session of it).
func (r *Role) ARN(account string) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/%s", account, r.Name)
}

// ScheduleRole returns the execution role of the named schedule's target,
// nil when the templates do not define it.
func (s *Set) ScheduleRole(name string) *Role {
	if s == nil {
		return nil
	}
	return s.Schedules[name]
}

// StateMachineRole returns the execution role of the named state machine,
// nil when the templates do not define it.
func (s *Set) StateMachineRole(name string) *Role {
	if s == nil {
		return nil
	}
	return s.StateMachines[name]
}

// FunctionARN turns a FunctionName in any of the forms Lambda takes (name,
// name:qualifier, partial ARN account:function:name[:qualifier], ARN) plus
// an optional separate qualifier into the function's full ARN, qualified
// when either names a version or alias ("Invoke", FunctionName, AWS Lambda
// API Reference, https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html).
func FunctionARN(function, qualifier, account, region string) (string, error) {
	parts := strings.Split(function, ":")
	var arn string
	switch {
	case strings.HasPrefix(function, "arn:") && (len(parts) == 7 || len(parts) == 8) && parts[5] == "function":
		arn = function
	case len(parts) >= 3 && len(parts) <= 4 && parts[1] == "function":
		arn = fmt.Sprintf("arn:aws:lambda:%s:%s", region, function)
	case len(parts) <= 2 && parts[0] != "":
		arn = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, function)
	default:
		return "", fmt.Errorf("%q is not a function name or ARN", function)
	}
	if qualifier != "" {
		if strings.Count(arn, ":") == 7 {
			if !strings.HasSuffix(arn, ":"+qualifier) {
				return "", fmt.Errorf("%s and qualifier %s name different versions", function, qualifier)
			}
			return arn, nil
		}
		arn += ":" + qualifier
	}
	return arn, nil
}

// permission reads an AWS::Lambda::Permission whose principal is one of
// ServicePrincipals; nil for the others.
func (t *template) permission(id string) (*Permission, error) {
	props := t.resources[id].Properties
	str := func(k string) (string, error) {
		v, err := t.resolve(props[k])
		if err != nil {
			return "", fmt.Errorf("permission %s: %s: %w", id, k, err)
		}
		s, _ := v.(string)
		return s, nil
	}
	principal, err := str("Principal")
	if err != nil || !ServicePrincipals[principal] {
		return nil, err
	}
	p := &Permission{Stack: t.stack, LogicalID: id, Principal: principal}
	for k, dst := range map[string]*string{"Action": &p.Action, "FunctionName": &p.Function, "SourceArn": &p.SourceArn, "SourceAccount": &p.SourceAccount} {
		if *dst, err = str(k); err != nil {
			return nil, err
		}
	}
	if p.Action == "" || p.Function == "" {
		return nil, fmt.Errorf("permission %s has no Action or FunctionName", id)
	}
	if p.Function, err = FunctionARN(p.Function, "", t.env.Account, t.env.Region); err != nil {
		return nil, fmt.Errorf("permission %s: FunctionName: %w", id, err)
	}
	return p, nil
}

// statement is the policy statement AddPermission writes for p: the
// principal may perform the action on the function (or the version or
// alias) named, under the ArnLike aws:SourceArn and StringEquals
// aws:SourceAccount conditions when given ("Viewing resource-based IAM
// policies in Lambda",
// https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html).
func (p Permission) statement() Statement {
	st := Statement{Sid: p.LogicalID, Effect: "Allow", Action: []string{p.Action}, Resource: []string{p.Function}}
	if p.SourceArn != "" || p.SourceAccount != "" {
		st.Condition = map[string]map[string][]string{}
	}
	if p.SourceArn != "" {
		st.Condition["ArnLike"] = map[string][]string{"AWS:SourceArn": {p.SourceArn}}
	}
	if p.SourceAccount != "" {
		st.Condition["StringEquals"] = map[string][]string{"AWS:SourceAccount": {p.SourceAccount}}
	}
	return st
}

// AuthorizeService decides whether the service principal may invoke
// function (a full ARN, qualified or not) for the resource sourceARN of
// account sourceAccount, by the function's resource-based policy alone.
//
// A statement is on exactly the ARN its FunctionName names: one on the
// function does not let the principal invoke a version or alias, and one
// on an alias does not let it invoke the function unqualified. AddPermission:
// "You can apply the policy at the function level, or specify a qualifier to
// restrict access to a single version or alias. If you use a qualifier, the
// invoker must use the full Amazon Resource Name (ARN) of that version or
// alias to invoke the function" (AddPermission, AWS Lambda API Reference,
// https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html);
// "Resource-based policies apply to a single function, version, alias, or
// layer version" (Viewing resource-based IAM policies in Lambda). The
// Resource element's matching (ARN segments, the resource part whole)
// gives exactly that.
func (s *Set) AuthorizeService(principal, function, sourceARN, sourceAccount string) (Request, Decision, error) {
	req := Request{Action: InvokeAction, Resource: function, Context: map[string][]string{}}
	if sourceARN != "" {
		req.Context["aws:SourceArn"] = []string{sourceARN}
	}
	if sourceAccount != "" {
		req.Context["aws:SourceAccount"] = []string{sourceAccount}
	}
	if s == nil {
		return req, Decision{}, nil
	}
	pol := Policy{Name: "resource-based policy of " + function}
	for _, p := range s.Permissions {
		if p.Principal == principal || p.Principal == "*" {
			pol.Statements = append(pol.Statements, p.statement())
		}
	}
	d, err := Evaluate([]Policy{pol}, req)
	return req, d, err
}
