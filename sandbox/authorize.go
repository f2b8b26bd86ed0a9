package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/aliasflow/aliasflow/sandbox/apigw"
	cwsvc "github.com/aliasflow/aliasflow/sandbox/cloudwatch"
	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/iam"
	"github.com/aliasflow/aliasflow/sandbox/model"
	snssvc "github.com/aliasflow/aliasflow/sandbox/sns"
	stssvc "github.com/aliasflow/aliasflow/sandbox/sts"
	"github.com/aws/smithy-go/encoding/cbor"
)

// IAMDecision is one authorization the sandbox's IAM made.
type IAMDecision struct {
	Principal string
	Request   iam.Request
	Allowed   bool
}

// iamState is the identity policies in force and the decisions made.
type iamState struct {
	mu        sync.Mutex
	set       *iam.Set
	decisions []IAMDecision
}

// EnableIAM turns IAM evaluation on: from now on every call signed with a
// function's access key (each function process gets its function's name as
// AWS_ACCESS_KEY_ID) is evaluated against the identity policies of that
// function's execution role in set, and every call signed with the access
// key of one of iam.People (aliasflow-operator, aliasflow-approver,
// aliasflow-ci) against that person's policies from the templates — API
// Gateway's IAM-authorized methods included (execute-api:Invoke); calls
// by anything else (the CLI's and the tests' own user) are not evaluated. So are the Lambda calls the services make on
// their own (authorize_services.go): a Task state's, as its state
// machine's execution role, and EventBridge's and API Gateway's, by the
// function's resource-based policy. nil turns it off.
func (sb *Sandbox) EnableIAM(set *iam.Set) {
	sb.iam.mu.Lock()
	sb.iam.set = set
	sb.iam.mu.Unlock()
	if set == nil {
		sb.states.SetInvokeAuthorizer(nil)
		sb.events.SetInvokeAuthorizer(nil)
		sb.apigw.SetInvokeAuthorizer(nil)
		sb.apigw.SetCallerAuthorizer(nil)
		return
	}
	sb.states.SetInvokeAuthorizer(sb.authorizeTaskInvoke)
	sb.events.SetInvokeAuthorizer(sb.authorizeEventsInvoke)
	sb.apigw.SetInvokeAuthorizer(sb.authorizeAPIInvoke)
	sb.apigw.SetCallerAuthorizer(sb.authorizeCaller)
}

// IAMDecisions returns the decisions made since Start, oldest first.
func (sb *Sandbox) IAMDecisions() []IAMDecision {
	sb.iam.mu.Lock()
	defer sb.iam.mu.Unlock()
	return append([]IAMDecision(nil), sb.iam.decisions...)
}

// IAMEnv is the account, region and resource naming the templates resolve
// to in this sandbox: a secret's Ref is the ARN the sandbox gave it.
func (sb *Sandbox) IAMEnv() iam.Env {
	return iam.Env{Account: core.Account, Region: core.Region, Resolve: func(typ, attr string, props map[string]any) (string, bool) {
		if name, _ := props["Name"].(string); typ == "AWS::SecretsManager::Secret" && (attr == "" || attr == "Id") && name != "" {
			return sb.secrets.ARN(name)
		}
		return "", false
	}}
}

// authorize evaluates a signed call when IAM is on and the caller is a
// function with a role in the templates; it answers AccessDenied and
// returns false when the role's policies do not allow every resource the
// call acts on.
func (sb *Sandbox) authorize(w http.ResponseWriter, r *http.Request, service string, req *model.Request) bool {
	sb.iam.mu.Lock()
	set := sb.iam.set
	sb.iam.mu.Unlock()
	caller := stssvc.AccessKeyID(r)
	principal, policies, person := principalOf(set, caller)
	if principal == "" {
		return true
	}
	op := req.OperationName
	reqs, err := sb.iamRequests(req, service)
	if err != nil {
		sb.log.Warn("iam: request names no resource", "service", service, "operation", op, "error", err)
		if person {
			// A person's call the sandbox cannot scope is refused rather
			// than let through unevaluated.
			writeAccessDenied(w, r, service, fmt.Sprintf("User: %s: the sandbox cannot evaluate this request: %v", principal, err))
			return false
		}
		// A function's body that does not parse names no resource: the
		// service refuses it with its own validation error.
		return true
	}
	for _, req := range reqs {
		req, err := set.Reference.Scope(req)
		if err != nil {
			writeAccessDenied(w, r, service, err.Error())
			return false
		}
		d, err := iam.Evaluate(policies, req)
		if err != nil {
			writeAccessDenied(w, r, service, err.Error())
			return false
		}
		msg := ""
		if !d.Allowed {
			msg = iam.DeniedMessage(principal, req, d)
		} else if busDenied, err := busPolicyDenies(set, principal, req); err != nil || busDenied {
			d.Allowed = false
			msg = fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s with an explicit deny in a resource-based policy", principal, req.Action, req.Resource)
			if err != nil {
				msg = err.Error()
			}
		}
		sb.recordIAM(IAMDecision{Principal: principal, Request: req, Allowed: d.Allowed})
		if !d.Allowed {
			sb.log.Warn("iam: access denied", "message", msg)
			writeAccessDenied(w, r, service, msg)
			return false
		}
	}
	return true
}

// busPolicyDenies says whether the resource-based policy of the event
// bus a PutEvents request is for denies it explicitly: within one account
// an explicit Deny in a resource-based policy wins over any allow ("Policy
// evaluation logic", IAM User Guide,
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
// The request context adds aws:PrincipalArn (a role session's role).
func busPolicyDenies(set *iam.Set, principal string, req iam.Request) (bool, error) {
	pol, ok := set.BusPolicies[req.Resource]
	if req.Action != "events:PutEvents" || !ok {
		return false, nil
	}
	ctx := map[string][]string{"aws:PrincipalArn": {iam.PrincipalARN(principal)}}
	for k, v := range req.Context {
		ctx[k] = v
	}
	d, err := iam.Evaluate([]iam.Policy{pol}, iam.Request{Action: req.Action, Resource: req.Resource, Context: ctx})
	return d.ExplicitDeny, err
}

// principalOf is who calls with an access key and their identity
// policies: a pipeline function (its role's session) or one of
// iam.People; "" for anyone else (the tests' and the CLI's own user),
// whose calls are not evaluated.
func principalOf(set *iam.Set, accessKey string) (arn string, policies []iam.Policy, person bool) {
	if role := set.Role(accessKey); role != nil {
		return role.AssumedRoleARN(core.Account, accessKey), role.Policies, false
	}
	if p := set.Person(accessKey); p != nil {
		return p.ARN, p.Policies, true
	}
	return "", nil, false
}

// caller is who signed r as CloudTrail would record it: a pipeline
// function's role session or one of iam.People when IAM is on, else the
// sandbox's STS user named after the key.
func (sb *Sandbox) caller(r *http.Request) core.Caller {
	sb.iam.mu.Lock()
	set := sb.iam.set
	sb.iam.mu.Unlock()
	key := stssvc.AccessKeyID(r)
	c := core.Caller{Type: "IAMUser", AccessKeyID: key, UserAgent: r.UserAgent(), SourceIP: r.RemoteAddr}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		c.SourceIP = host
	}
	if arn, _, _ := principalOf(set, key); arn != "" {
		c.ARN = arn
	} else {
		c.ARN = stssvc.Identity(key).Arn
	}
	if strings.Contains(c.ARN, ":assumed-role/") {
		c.Type = "AssumedRole"
	}
	return c
}

// authorizeCaller is API Gateway's IAM authorization of an AWS_IAM
// method: a function or one of iam.People must be allowed
// execute-api:Invoke on the method's ARN ("Control access to a REST API
// with IAM permissions"); anyone else is the sandbox's STS user named
// after the key, allowed as every unevaluated caller is.
func (sb *Sandbox) authorizeCaller(accessKey, methodARN string) (apigw.Caller, error) {
	sb.iam.mu.Lock()
	set := sb.iam.set
	sb.iam.mu.Unlock()
	principal, policies, _ := principalOf(set, accessKey)
	if principal == "" {
		id := stssvc.Identity(accessKey)
		return apigw.Caller{ARN: id.Arn, ID: id.UserId}, nil
	}
	req := iam.Request{Action: "execute-api:Invoke", Resource: methodARN}
	d, err := iam.Evaluate(policies, req)
	if err != nil {
		return apigw.Caller{}, err
	}
	sb.recordIAM(IAMDecision{Principal: principal, Request: req, Allowed: d.Allowed})
	if !d.Allowed {
		return apigw.Caller{}, errors.New(iam.DeniedMessage(principal, req, d))
	}
	return apigw.Caller{ARN: principal, ID: accessKey}, nil
}

// recordIAM adds a decision to IAMDecisions.
func (sb *Sandbox) recordIAM(d IAMDecision) {
	sb.iam.mu.Lock()
	defer sb.iam.mu.Unlock()
	sb.iam.decisions = append(sb.iam.decisions, d)
}

// iamActions are the IAM actions of API operations whose names differ
// ("Actions defined by AWS Lambda" in the Service Authorization Reference).
var iamActions = map[string]string{"lambda:Invoke": "lambda:InvokeFunction"}

// iamPrefixes are the IAM service prefixes of SigV4 service names that
// differ.
var iamPrefixes = map[string]string{"monitoring": "cloudwatch"}

// iamRequests names the action of a call and each resource it acts on,
// with the request context keys the templates condition on, from the
// request's input as the model read it.
func (sb *Sandbox) iamRequests(in *model.Request, service string) ([]iam.Request, error) {
	op := in.OperationName
	prefix := service
	if p, ok := iamPrefixes[service]; ok {
		prefix = p
	}
	action := prefix + ":" + op
	if a, ok := iamActions[action]; ok {
		action = a
	}
	one := func(resources ...string) []iam.Request {
		out := make([]iam.Request, len(resources))
		for i, res := range resources {
			out[i] = iam.Request{Action: action, Resource: res}
		}
		return out
	}
	arn := func(svc, res string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", svc, core.Region, core.Account, res)
	}
	switch service {
	case "sts":
		// GetCallerIdentity needs no permission ("GetCallerIdentity", STS API Reference).
		return nil, nil
	case "lambda":
		return sb.lambdaRequests(in, action)
	}
	if in.Err != nil {
		return nil, in.Err
	}
	fields, str := in.Input, in.Str
	switch service {
	case "states":
		// SendTaskSuccess/SendTaskFailure name a task token, no resource:
		// they have no resource-level permissions and act on "*"
		// (iam.Reference.Scope).
		switch {
		case str("stateMachineArn") != "":
			return one(str("stateMachineArn")), nil
		case str("executionArn") != "":
			return one(str("executionArn")), nil
		}
		return one("*"), nil
	case "events":
		if op != "PutEvents" {
			return one("*"), nil
		}
		// Each entry is authorized on its bus with its source and
		// detail type as the condition keys events:source and
		// events:detail-type ("Using IAM policy conditions in Amazon
		// EventBridge", EventBridge User Guide).
		entries, _ := fields["Entries"].([]any)
		var out []iam.Request
		seen := map[string]bool{}
		for _, e := range entries {
			entry, _ := e.(map[string]any)
			bus, _ := entry["EventBusName"].(string)
			source, _ := entry["Source"].(string)
			detailType, _ := entry["DetailType"].(string)
			if bus == "" {
				bus = "default"
			}
			if !strings.HasPrefix(bus, "arn:") {
				bus = arn("events", "event-bus/"+bus)
			}
			if key := bus + "\x00" + source + "\x00" + detailType; !seen[key] {
				seen[key] = true
				out = append(out, iam.Request{Action: action, Resource: bus,
					Context: map[string][]string{"events:source": {source}, "events:detail-type": {detailType}}})
			}
		}
		return out, nil
	case "secretsmanager":
		id := str("SecretId")
		if a, ok := sb.secrets.ARN(id); ok {
			return one(a), nil
		}
		if strings.HasPrefix(id, "arn:") {
			return one(id), nil
		}
		return one(arn("secretsmanager", "secret:"+id)), nil
	case "sns":
		if a := str("TopicArn"); a != "" {
			return one(a), nil
		}
		return one("*"), nil
	case "ssm":
		// Parameter ARNs: arn:aws:ssm:region:account:parameter/name, the
		// name's leading slash dropped ("Controlling access to Systems
		// Manager parameters", Systems Manager User Guide).
		param := func(n string) string { return arn("ssm", "parameter/"+strings.TrimPrefix(n, "/")) }
		var names []string
		if n := str("Name"); n != "" {
			names = append(names, n)
		}
		if p := str("Path"); p != "" {
			names = append(names, p)
		}
		if l, ok := fields["Names"].([]any); ok {
			for _, n := range l {
				if s, ok := n.(string); ok {
					names = append(names, s)
				}
			}
		}
		if len(names) == 0 {
			return one("*"), nil
		}
		res := make([]string, len(names))
		for i, n := range names {
			res[i] = param(n)
		}
		return one(res...), nil
	case "codebuild":
		// BatchGetBuilds acts on the projects of the builds (ids are
		// project:build-id).
		// The project's tags are the aws:ResourceTag/<key> context keys.
		ids, _ := fields["ids"].([]any)
		var out []iam.Request
		seen := map[string]bool{}
		for _, id := range ids {
			s, _ := id.(string)
			project, _, _ := strings.Cut(s, ":")
			if p := arn("codebuild", "project/"+project); !seen[p] {
				seen[p] = true
				var tags map[string]string
				if sb.builds != nil {
					tags = sb.builds.ProjectTags(project)
				}
				out = append(out, iam.Request{Action: action, Resource: p, Context: tagContext(tags)})
			}
		}
		if len(out) == 0 {
			return one("*"), nil
		}
		return out, nil
	case "logs":
		// A log group's operations act on the log group
		// (arn:…:logs:region:account:log-group:NAME, Service
		// Authorization Reference, Amazon CloudWatch Logs).
		if g := str("logGroupName"); g != "" {
			return one(arn("logs", "log-group:"+g)), nil
		}
		return one("*"), nil
	case "monitoring":
		names, _ := fields["AlarmNames"].([]any)
		if op != "DescribeAlarms" || len(names) == 0 {
			return one("*"), nil
		}
		var out []iam.Request
		for _, n := range names {
			s, _ := n.(string)
			out = append(out, iam.Request{Action: action, Resource: arn("cloudwatch", "alarm:"+s), Context: tagContext(sb.cw.AlarmTags(s))})
		}
		return out, nil
	}
	return one("*"), nil
}

// lambdaRequests: Lambda's operations act on the function named in the
// path, qualified when the call names a version or alias ("Fine-tuning the
// Resources and Conditions sections of policies",
// https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html);
// the function's tags are the aws:ResourceTag/<key> context keys.
func (sb *Sandbox) lambdaRequests(in *model.Request, action string) ([]iam.Request, error) {
	name, qualifier := in.Str("FunctionName"), in.Str("Qualifier")
	if name == "" {
		return []iam.Request{{Action: action, Resource: "*"}}, nil
	}
	if strings.HasPrefix(name, "arn:") {
		parts := strings.Split(name, ":")
		if len(parts) >= 7 {
			name = parts[6]
		}
		if len(parts) == 8 {
			qualifier = parts[7]
		}
	} else if n, q, ok := strings.Cut(name, ":"); ok {
		name, qualifier = n, q
	}
	var tags map[string]string
	if sb.lambda != nil {
		tags, _ = sb.lambda.Tags(name)
	}
	return []iam.Request{{Action: action, Resource: core.FunctionARN(name, qualifier), Context: tagContext(tags)}}, nil
}

// tagContext is a resource's tags as aws:ResourceTag/<key> context keys.
func tagContext(tags map[string]string) map[string][]string {
	ctx := map[string][]string{}
	for k, v := range tags {
		ctx["aws:ResourceTag/"+k] = []string{v}
	}
	return ctx
}

// writeAccessDenied answers a denied call as its service does: Lambda's
// AccessDeniedException (403), the awsJson and rpcv2Cbor services'
// AccessDeniedException (400, their "Common Errors"), SNS's
// AuthorizationError (403) and CloudWatch's query AccessDenied.
func writeAccessDenied(w http.ResponseWriter, r *http.Request, service, msg string) {
	switch {
	case service == "lambda":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "Message": msg})
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/cbor"):
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("AccessDeniedException"), "message": cbor.String(msg)}))
	case r.Header.Get("X-Amz-Target") != "":
		version := strings.TrimPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-")
		core.WriteAWSJSONError(w, version, core.Errorf("AccessDeniedException", http.StatusBadRequest, "%s", msg))
	case service == "sns":
		core.WriteAWSQueryError(w, snssvc.Namespace, core.Errorf("AuthorizationError", http.StatusForbidden, "%s", msg))
	default:
		core.WriteAWSQueryError(w, cwsvc.Namespace, core.Errorf("AccessDenied", http.StatusForbidden, "%s", msg))
	}
}
