package iam

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// MaxResourcePolicyBytes is Lambda's cap on one function's resource-based
// policy: "Function resource-based policy: 20 KB", not adjustable ("Lambda
// quotas", https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
// AddPermission beyond it fails with PolicyLengthExceededException ("The
// permissions policy for the resource is too large"), and so does the
// deploy of the AWS::Lambda::Permission that asked for it.
const MaxResourcePolicyBytes = 20 * 1024

// cfnSuffix stands in for the random suffix CloudFormation appends to the
// physical ID of an AWS::Lambda::Permission (stack-LogicalId-SUFFIX), which
// Lambda keeps as the statement's Sid.
const cfnSuffix = "ABCDEFGHIJKLM"

// lambdaStatement is one statement as Lambda's GetPolicy returns it (the
// field order Lambda writes).
type lambdaStatement struct {
	Sid       string                       `json:"Sid"`
	Effect    string                       `json:"Effect"`
	Principal map[string]string            `json:"Principal"`
	Action    string                       `json:"Action"`
	Resource  string                       `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// ResourcePolicies returns, by the ARN each applies to (a function, or a
// version or alias of it: each has its own policy), the resource-based
// policy documents Lambda would hold for the templates' permissions, as
// GetPolicy returns them: {"Version","Id":"default","Statement":[…]}.
// Only the permissions for ServicePrincipals are counted (the others are
// not read; aliasflow adds none).
func (s *Set) ResourcePolicies() map[string][]byte {
	by := map[string][]lambdaStatement{}
	for _, p := range s.Permissions {
		st := lambdaStatement{
			Sid: p.Stack + "-" + p.LogicalID + "-" + cfnSuffix, Effect: "Allow",
			Principal: map[string]string{"Service": p.Principal}, Action: p.Action, Resource: p.Function,
		}
		if p.SourceArn != "" || p.SourceAccount != "" {
			st.Condition = map[string]map[string]string{}
		}
		if p.SourceArn != "" {
			st.Condition["ArnLike"] = map[string]string{"AWS:SourceArn": p.SourceArn}
		}
		if p.SourceAccount != "" {
			st.Condition["StringEquals"] = map[string]string{"AWS:SourceAccount": p.SourceAccount}
		}
		by[p.Function] = append(by[p.Function], st)
	}
	out := map[string][]byte{}
	for fn, sts := range by {
		doc, _ := json.Marshal(struct {
			Version   string            `json:"Version"`
			ID        string            `json:"Id"`
			Statement []lambdaStatement `json:"Statement"`
		}{"2012-10-17", "default", sts})
		out[fn] = doc
	}
	return out
}

// checkPolicySizes refuses templates whose permissions would grow a
// function's resource-based policy beyond MaxResourcePolicyBytes, with the
// error Lambda gives, as the deploy would fail.
func (s *Set) checkPolicySizes() error {
	var over []string
	for fn, doc := range s.ResourcePolicies() {
		if len(doc) > MaxResourcePolicyBytes {
			over = append(over, fmt.Sprintf("%s: %d bytes", fn, len(doc)))
		}
	}
	if len(over) == 0 {
		return nil
	}
	sort.Strings(over)
	return fmt.Errorf("PolicyLengthExceededException: The final policy size is bigger than the limit: the resource-based policy of %s, Lambda allows %d bytes (Lambda quotas)", strings.Join(over, ", "), MaxResourcePolicyBytes)
}
