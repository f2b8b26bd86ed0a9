// Package iam evaluates AWS identity-based policies the way IAM does, for
// the sandbox: each pipeline Lambda's calls are checked against the
// policies its role has in the synthesized CloudFormation templates
// (cdk.out), so a permission the CDK app forgets fails locally as it would
// on AWS.
//
// What it implements, each from the IAM User Guide:
//   - explicit deny wins, an allow is needed, everything else is denied
//     ("The difference between explicit and implicit denies",
//     https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html);
//   - Action/NotAction (case-insensitive, * and ? wildcards) and
//     Resource/NotResource (ARN segments, * and ? wildcards)
//     ("IAM JSON policy elements: Action / NotAction / Resource / NotResource");
//   - the condition operators the templates use: String*, Arn*, Bool, Null,
//     with ...IfExists and ForAnyValue:/ForAllValues:
//     ("IAM JSON policy elements: Condition operators",
//     https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html);
//   - the AccessDenied message as AWS words it ("Troubleshoot access denied
//     error messages",
//     https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
package iam

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Statement is one statement of a policy document, with every intrinsic
// already resolved to strings.
type Statement struct {
	Sid         string
	Effect      string // "Allow" or "Deny"
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	// Condition is operator → key → values.
	Condition map[string]map[string][]string
}

// Policy is a named policy document.
type Policy struct {
	Name       string
	Statements []Statement
}

// Request is what a call asks for: one action on one resource, with the
// request context's keys (aws:ResourceTag/<key>, ...).
type Request struct {
	Action   string
	Resource string
	Context  map[string][]string
}

// Decision is the outcome of evaluating a request.
type Decision struct {
	Allowed bool
	// ExplicitDeny is set when a Deny statement matched.
	ExplicitDeny bool
	// Policy names the policy of the matching Deny, or of the Allow.
	Policy string
}

// Evaluate decides req against policies: denied when any Deny statement
// applies, else allowed when an Allow statement applies, else denied.
func Evaluate(policies []Policy, req Request) (Decision, error) {
	var allow *Policy
	for i := range policies {
		p := &policies[i]
		for _, st := range p.Statements {
			ok, err := st.applies(req)
			if err != nil {
				return Decision{}, fmt.Errorf("iam: policy %s: %w", p.Name, err)
			}
			if !ok {
				continue
			}
			if strings.EqualFold(st.Effect, "Deny") {
				return Decision{ExplicitDeny: true, Policy: p.Name}, nil
			}
			if allow == nil {
				allow = p
			}
		}
	}
	if allow != nil {
		return Decision{Allowed: true, Policy: allow.Name}, nil
	}
	return Decision{}, nil
}

// DeniedMessage is the message AWS gives a denied request of principal
// (an assumed-role ARN), as the IAM troubleshooting page quotes it.
func DeniedMessage(principal string, req Request, d Decision) string {
	if d.ExplicitDeny {
		return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s with an explicit deny in an identity-based policy", principal, req.Action, req.Resource)
	}
	return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", principal, req.Action, req.Resource, req.Action)
}

func (st Statement) applies(req Request) (bool, error) {
	switch {
	case len(st.Action) > 0:
		if !anyMatch(st.Action, req.Action, matchAction) {
			return false, nil
		}
	case len(st.NotAction) > 0:
		if anyMatch(st.NotAction, req.Action, matchAction) {
			return false, nil
		}
	default:
		return false, fmt.Errorf("statement %q has neither Action nor NotAction", st.Sid)
	}
	switch {
	case len(st.Resource) > 0:
		if !anyMatch(st.Resource, req.Resource, matchResource) {
			return false, nil
		}
	case len(st.NotResource) > 0:
		if anyMatch(st.NotResource, req.Resource, matchResource) {
			return false, nil
		}
	default:
		return false, fmt.Errorf("statement %q has neither Resource nor NotResource", st.Sid)
	}
	for op, keys := range st.Condition {
		for key, values := range keys {
			ok, err := condition(op, key, values, req.Context)
			if err != nil {
				return false, fmt.Errorf("statement %q: %w", st.Sid, err)
			}
			if !ok {
				return false, nil
			}
		}
	}
	return true, nil
}

func anyMatch(patterns []string, value string, match func(p, v string) bool) bool {
	for _, p := range patterns {
		if match(p, value) {
			return true
		}
	}
	return false
}

// matchAction: actions are case-insensitive; * and ? are wildcards.
func matchAction(pattern, action string) bool {
	return glob(strings.ToLower(pattern), strings.ToLower(action))
}

// matchResource matches an ARN against a Resource pattern: "*" matches
// everything; otherwise the five leading colon-separated segments are
// matched one by one and the resource part (which may hold colons, as
// function:hello:stg) as a whole, * and ? matching within a segment.
func matchResource(pattern, arn string) bool {
	if pattern == "*" {
		return true
	}
	return arnLike(pattern, arn)
}

func arnLike(pattern, arn string) bool {
	ps := strings.SplitN(pattern, ":", 6)
	as := strings.SplitN(arn, ":", 6)
	if len(ps) != 6 || len(as) != 6 {
		return glob(pattern, arn)
	}
	for i := range ps {
		if !glob(ps[i], as[i]) {
			return false
		}
	}
	return true
}

// glob matches s against p where * is any run and ? any one character.
func glob(p, s string) bool {
	star, match := -1, 0
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(p) && (p[i] == '?' || p[i] == s[j]):
			i++
			j++
		case i < len(p) && p[i] == '*':
			star, match = i, j
			i++
		case star >= 0:
			i = star + 1
			match++
			j = match
		default:
			return false
		}
	}
	for i < len(p) && p[i] == '*' {
		i++
	}
	return i == len(p)
}

// condition evaluates one operator on one key. A key absent from the
// context makes a positive operator false and a negated one true (the
// Condition operators page); ...IfExists makes an absent key true.
func condition(op, key string, values []string, ctx map[string][]string) (bool, error) {
	set := ""
	if s, rest, ok := strings.Cut(op, ":"); ok {
		set, op = s, rest
	}
	ifExists := strings.HasSuffix(op, "IfExists")
	op = strings.TrimSuffix(op, "IfExists")
	got, present := lookupKey(ctx, key)
	if op == "Null" {
		want := len(values) > 0 && strings.EqualFold(values[0], "true")
		return want == !present, nil
	}
	match, negated, err := operator(op)
	if err != nil {
		return false, err
	}
	if !present {
		return ifExists || negated, nil
	}
	one := func(v string) bool {
		for _, want := range values {
			if match(want, v) {
				return true
			}
		}
		return false
	}
	var ok bool
	switch set {
	case "", "ForAnyValue":
		for _, v := range got {
			if one(v) {
				ok = true
				break
			}
		}
	case "ForAllValues":
		ok = true
		for _, v := range got {
			ok = ok && one(v)
		}
	default:
		return false, fmt.Errorf("condition set operator %q is not one IAM has (ForAnyValue, ForAllValues)", set)
	}
	if negated {
		return !ok, nil
	}
	return ok, nil
}

func lookupKey(ctx map[string][]string, key string) ([]string, bool) {
	// Condition key names are case-insensitive.
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// operator returns the comparison of a condition operator and whether it
// is a negated one.
func operator(op string) (func(want, got string) bool, bool, error) {
	switch op {
	case "StringEquals", "ArnEquals":
		if op == "ArnEquals" {
			return arnLike, false, nil
		}
		return func(w, g string) bool { return w == g }, false, nil
	case "StringNotEquals":
		return func(w, g string) bool { return w == g }, true, nil
	case "StringEqualsIgnoreCase":
		return strings.EqualFold, false, nil
	case "StringNotEqualsIgnoreCase":
		return strings.EqualFold, true, nil
	case "StringLike":
		return glob, false, nil
	case "StringNotLike":
		return glob, true, nil
	case "ArnLike":
		return arnLike, false, nil
	case "ArnNotEquals", "ArnNotLike":
		return arnLike, true, nil
	case "Bool":
		return strings.EqualFold, false, nil
	}
	return nil, false, fmt.Errorf("condition operator %q is not implemented by the sandbox's IAM", op)
}

// stringList reads a policy field that is a string or a list of strings.
func stringList(v any) ([]string, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{t}, nil
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("want a string, got %s", jsonString(e))
			}
			out = append(out, s)
		}
		return out, nil
	case []string:
		return t, nil
	}
	return nil, fmt.Errorf("want a string or a list of strings, got %s", jsonString(v))
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
