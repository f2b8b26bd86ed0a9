package iam

import (
	"fmt"
	"strings"
	"testing"
)

// permissionsTemplate is a stack whose n rules each add their own
// permission on one function, as a CDK LambdaFunction rule target does.
func permissionsTemplate(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"Resources":{"Release":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"aliasflow-release","Role":{"Fn::GetAtt":["Role","Arn"]}}},"Role":{"Type":"AWS::IAM::Role","Properties":{}}`)
	for i := range n {
		fmt.Fprintf(&b, `,"Rule%d":{"Type":"AWS::Events::Rule","Properties":{"Name":"aliasflow-build-service-%03d-api"}}`, i, i)
		fmt.Fprintf(&b, `,"Rule%dAllowEventRuleTargetsAliasflowRelease1A2B3C4D":{"Type":"AWS::Lambda::Permission","Properties":{"Action":"lambda:InvokeFunction","FunctionName":{"Fn::GetAtt":["Release","Arn"]},"Principal":"events.amazonaws.com","SourceArn":{"Fn::GetAtt":["Rule%d","Arn"]}}}`, i, i)
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

// TestResourcePolicySize: Lambda refuses a resource-based policy over 20 KB
// ("Lambda quotas": Function resource-based policy, 20 KB) with
// PolicyLengthExceededException; the sandbox refuses such templates as the
// deploy would fail.
func TestResourcePolicySize(t *testing.T) {
	cases := []struct {
		name    string
		rules   int
		refused bool
	}{
		{"one permission", 1, false},
		{"ten permissions", 10, false},
		{"a permission per rule for 100 rules", 100, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, err := Load(map[string][]byte{"Targets": permissionsTemplate(c.rules)}, Env{Account: "123456789012", Region: "eu-central-1"})
			if got := err != nil && strings.Contains(err.Error(), "PolicyLengthExceededException"); got != c.refused {
				t.Fatalf("refused = %v (err %v), want %v", got, err, c.refused)
			}
			if c.refused {
				return
			}
			doc := set.ResourcePolicies()["arn:aws:lambda:eu-central-1:123456789012:function:aliasflow-release"]
			if n := strings.Count(string(doc), `"Sid"`); n != c.rules {
				t.Errorf("policy has %d statements, want %d: %s", n, c.rules, doc)
			}
			if !strings.HasPrefix(string(doc), `{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"Targets-Rule`) ||
				!strings.Contains(string(doc), `"Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:events:eu-central-1:123456789012:rule/aliasflow-build-service-`) {
				t.Errorf("policy = %s, want Lambda's GetPolicy shape", doc)
			}
		})
	}
}

// TestOnePermissionForEveryBuildRule: the pipeline's one permission names
// its build rules by pattern (AddPermission compares SourceArn with
// StringLike); EventBridge's delivery from any rule of that name is
// allowed, from another rule or account it is not.
func TestOnePermissionForEveryBuildRule(t *testing.T) {
	tmpl := []byte(`{"Resources":{
 "Release":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"aliasflow-release","Role":{"Fn::GetAtt":["Role","Arn"]}}},
 "Role":{"Type":"AWS::IAM::Role","Properties":{}},
 "BuildRules":{"Type":"AWS::Lambda::Permission","Properties":{"Action":"lambda:InvokeFunction","FunctionName":{"Fn::GetAtt":["Release","Arn"]},"Principal":"events.amazonaws.com",
  "SourceAccount":{"Ref":"AWS::AccountId"},
  "SourceArn":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":events:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":rule/aliasflow-build-*"]]}}}}}`)
	set, err := Load(map[string][]byte{"Pipeline": tmpl}, Env{Account: "123456789012", Region: "eu-central-1"})
	if err != nil {
		t.Fatal(err)
	}
	const release = "arn:aws:lambda:eu-central-1:123456789012:function:aliasflow-release"
	cases := []struct {
		name, rule, account string
		allowed             bool
	}{
		{"a target's build rule", "arn:aws:events:eu-central-1:123456789012:rule/aliasflow-build-orders", "123456789012", true},
		{"a truncated, hashed rule name", "arn:aws:events:eu-central-1:123456789012:rule/aliasflow-build-a-very-long-function-name-1a2b3c4d", "123456789012", true},
		{"another rule", "arn:aws:events:eu-central-1:123456789012:rule/someone-else", "123456789012", false},
		{"a rule of that name in another account", "arn:aws:events:eu-central-1:210987654321:rule/aliasflow-build-orders", "210987654321", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, d, err := set.AuthorizeService("events.amazonaws.com", release, c.rule, c.account)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != c.allowed {
				t.Errorf("allowed = %v, want %v (%+v)", d.Allowed, c.allowed, d)
			}
		})
	}
}
