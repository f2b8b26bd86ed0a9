package iam

import (
	"reflect"
	"strings"
	"testing"
)

const fn = "arn:aws:lambda:us-east-1:000000000000:function:hello"

// TestEvaluate follows "The difference between explicit and implicit
// denies" and the Action/Resource/Condition element pages of the IAM User
// Guide.
func TestEvaluate(t *testing.T) {
	allow := func(actions []string, resources ...string) Statement {
		return Statement{Effect: "Allow", Action: actions, Resource: resources}
	}
	tagged := func(op, value string) Statement {
		st := allow([]string{"lambda:UpdateAlias"}, "arn:aws:lambda:*:*:function:*")
		st.Condition = map[string]map[string][]string{op: {"aws:ResourceTag/aliasflow:pipeline": {value}}}
		return st
	}
	tag := map[string][]string{"aws:ResourceTag/aliasflow:pipeline": {"aliasflow"}}
	cases := []struct {
		name     string
		stmts    []Statement
		req      Request
		allowed  bool
		explicit bool
	}{
		{"default deny", nil, Request{Action: "lambda:UpdateAlias", Resource: fn}, false, false},
		{"allow exact", []Statement{allow([]string{"lambda:UpdateAlias"}, fn)}, Request{Action: "lambda:UpdateAlias", Resource: fn}, true, false},
		{"action case-insensitive", []Statement{allow([]string{"Lambda:updatealias"}, fn)}, Request{Action: "lambda:UpdateAlias", Resource: fn}, true, false},
		{"action wildcard", []Statement{allow([]string{"lambda:*Alias"}, fn)}, Request{Action: "lambda:UpdateAlias", Resource: fn}, true, false},
		{"action ? wildcard", []Statement{allow([]string{"lambda:?etAlias"}, fn)}, Request{Action: "lambda:GetAlias", Resource: fn}, true, false},
		{"other action", []Statement{allow([]string{"lambda:GetAlias"}, fn)}, Request{Action: "lambda:UpdateAlias", Resource: fn}, false, false},
		{"qualified ARN needs :*", []Statement{allow([]string{"lambda:InvokeFunction"}, fn)}, Request{Action: "lambda:InvokeFunction", Resource: fn + ":stg"}, false, false},
		{"qualified ARN by :*", []Statement{allow([]string{"lambda:InvokeFunction"}, fn+":*")}, Request{Action: "lambda:InvokeFunction", Resource: fn + ":stg"}, true, false},
		{"resource case-sensitive", []Statement{allow([]string{"lambda:GetAlias"}, strings.ToUpper(fn))}, Request{Action: "lambda:GetAlias", Resource: fn}, false, false},
		{"resource star", []Statement{allow([]string{"cloudwatch:GetMetricData"}, "*")}, Request{Action: "cloudwatch:GetMetricData", Resource: "*"}, true, false},
		{"other region segment", []Statement{allow([]string{"lambda:GetAlias"}, "arn:aws:lambda:eu-west-1:*:function:hello")}, Request{Action: "lambda:GetAlias", Resource: fn}, false, false},
		{"explicit deny wins", []Statement{allow([]string{"lambda:*"}, "*"), {Effect: "Deny", Action: []string{"lambda:UpdateAlias"}, Resource: []string{"*"}}}, Request{Action: "lambda:UpdateAlias", Resource: fn}, false, true},
		{"NotAction", []Statement{{Effect: "Allow", NotAction: []string{"lambda:UpdateAlias"}, Resource: []string{"*"}}}, Request{Action: "lambda:UpdateAlias", Resource: fn}, false, false},
		{"NotAction allows others", []Statement{{Effect: "Allow", NotAction: []string{"lambda:UpdateAlias"}, Resource: []string{"*"}}}, Request{Action: "lambda:GetAlias", Resource: fn}, true, false},
		{"NotResource", []Statement{{Effect: "Allow", Action: []string{"lambda:GetAlias"}, NotResource: []string{fn}}}, Request{Action: "lambda:GetAlias", Resource: fn}, false, false},
		{"StringEquals tag", []Statement{tagged("StringEquals", "aliasflow")}, Request{Action: "lambda:UpdateAlias", Resource: fn, Context: tag}, true, false},
		{"StringEquals other tag value", []Statement{tagged("StringEquals", "payments")}, Request{Action: "lambda:UpdateAlias", Resource: fn, Context: tag}, false, false},
		{"StringEquals untagged", []Statement{tagged("StringEquals", "aliasflow")}, Request{Action: "lambda:UpdateAlias", Resource: fn}, false, false},
		{"StringLike tag", []Statement{tagged("StringLike", "alias*")}, Request{Action: "lambda:UpdateAlias", Resource: fn, Context: tag}, true, false},
		{"StringNotEquals untagged is true", []Statement{tagged("StringNotEquals", "aliasflow")}, Request{Action: "lambda:UpdateAlias", Resource: fn}, true, false},
		{"StringEqualsIfExists untagged", []Statement{tagged("StringEqualsIfExists", "aliasflow")}, Request{Action: "lambda:UpdateAlias", Resource: fn}, true, false},
		{"Null true when absent", []Statement{tagged("Null", "true")}, Request{Action: "lambda:UpdateAlias", Resource: fn}, true, false},
		{"ArnLike", []Statement{{Effect: "Allow", Action: []string{"lambda:*"}, Resource: []string{"*"}, Condition: map[string]map[string][]string{"ArnLike": {"aws:SourceArn": {"arn:aws:states:*:*:stateMachine:*"}}}}},
			Request{Action: "lambda:InvokeFunction", Resource: fn, Context: map[string][]string{"aws:SourceArn": {"arn:aws:states:us-east-1:000000000000:stateMachine:aliasflow-promotion"}}}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := Evaluate([]Policy{{Name: "p", Statements: c.stmts}}, c.req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != c.allowed || d.ExplicitDeny != c.explicit {
				t.Errorf("Evaluate = %+v, want allowed %v explicit deny %v", d, c.allowed, c.explicit)
			}
		})
	}
}

// TestDeniedMessage: the wording of "Troubleshoot access denied error
// messages" (IAM User Guide).
func TestDeniedMessage(t *testing.T) {
	req := Request{Action: "lambda:UpdateAlias", Resource: fn}
	p := "arn:aws:sts::000000000000:assumed-role/R/aliasflow-shift"
	if got, want := DeniedMessage(p, req, Decision{}), "User: "+p+" is not authorized to perform: lambda:UpdateAlias on resource: "+fn+" because no identity-based policy allows the lambda:UpdateAlias action"; got != want {
		t.Errorf("implicit: %q, want %q", got, want)
	}
	if got := DeniedMessage(p, req, Decision{ExplicitDeny: true}); !strings.HasSuffix(got, "with an explicit deny in an identity-based policy") {
		t.Errorf("explicit: %q", got)
	}
}

// TestLoad resolves the intrinsics CDK writes (Fn::Join of pseudo
// parameters, Fn::GetAtt, Ref, Fn::Sub) and refuses what it cannot.
func TestLoad(t *testing.T) {
	tpl := `{"Parameters":{"Pipeline":{"Type":"String","Default":"aliasflow"}},"Resources":{
 "Fn":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"aliasflow-shift","Role":{"Fn::GetAtt":["Role","Arn"]}}},
 "Role":{"Type":"AWS::IAM::Role","Properties":{}},
 "Logs":{"Type":"AWS::Logs::LogGroup","Properties":{"LogGroupName":"/aliasflow/pipeline"}},
 "Topic":{"Type":"AWS::SNS::Topic","Properties":{"TopicName":"t"}},
 "Pol":{"Type":"AWS::IAM::Policy","Properties":{"Roles":[{"Ref":"Role"}],"PolicyDocument":{"Statement":[
  {"Effect":"Allow","Action":"lambda:UpdateAlias","Resource":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":lambda:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":function:*"]]},
   "Condition":{"StringEquals":{"aws:ResourceTag/aliasflow:pipeline":{"Ref":"Pipeline"}}}},
  {"Effect":"Allow","Action":["logs:PutLogEvents"],"Resource":{"Fn::GetAtt":["Logs","Arn"]}},
  {"Effect":"Allow","Action":"sns:Publish","Resource":{"Ref":"Topic"}},
  {"Effect":"Allow","Action":"states:StartExecution","Resource":{"Fn::Sub":"arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:x"}}]}}}}}`
	set, err := Load(map[string][]byte{"S": []byte(tpl)}, Env{Account: "000000000000", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	role := set.Role("aliasflow-shift")
	if role == nil || role.Name != "S-Role" {
		t.Fatalf("role of aliasflow-shift: %+v", role)
	}
	checks := []struct {
		req  Request
		want bool
	}{
		{Request{Action: "lambda:UpdateAlias", Resource: fn, Context: map[string][]string{"aws:ResourceTag/aliasflow:pipeline": {"aliasflow"}}}, true},
		{Request{Action: "lambda:UpdateAlias", Resource: fn}, false},
		{Request{Action: "logs:PutLogEvents", Resource: "arn:aws:logs:us-east-1:000000000000:log-group:/aliasflow/pipeline:log-stream:x"}, true},
		{Request{Action: "sns:Publish", Resource: "arn:aws:sns:us-east-1:000000000000:t"}, true},
		{Request{Action: "states:StartExecution", Resource: "arn:aws:states:us-east-1:000000000000:stateMachine:x"}, true},
	}
	for _, c := range checks {
		d, err := Evaluate(role.Policies, c.req)
		if err != nil || d.Allowed != c.want {
			t.Errorf("%s on %s: %+v %v, want allowed %v", c.req.Action, c.req.Resource, d, err, c.want)
		}
	}
	basic := `{"Resources":{"Fn":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"f","Role":{"Fn::GetAtt":["Role","Arn"]}}},"Role":{"Type":"AWS::IAM::Role","Properties":{"ManagedPolicyArns":[{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]]}]}}}}`
	set, err = Load(map[string][]byte{"S": []byte(basic)}, Env{Account: "1", Region: "r"})
	if err != nil {
		t.Fatalf("AWSLambdaBasicExecutionRole: %v", err)
	}
	if d, _ := Evaluate(set.Role("f").Policies, Request{Action: "logs:PutLogEvents", Resource: "arn:aws:logs:r:1:log-group:g:*"}); !d.Allowed {
		t.Errorf("AWSLambdaBasicExecutionRole does not allow logs:PutLogEvents")
	}
	for name, bad := range map[string]string{
		"unknown operator":   `{"Resources":{"Fn":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"f","Role":{"Fn::GetAtt":["Role","Arn"]}}},"Role":{"Type":"AWS::IAM::Role","Properties":{"Policies":[{"PolicyName":"p","PolicyDocument":{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020"}}}]}}]}}}}`,
		"unknown resource":   `{"Resources":{"Fn":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"f","Role":{"Fn::GetAtt":["Role","Arn"]}}},"Role":{"Type":"AWS::IAM::Role","Properties":{"Policies":[{"PolicyName":"p","PolicyDocument":{"Statement":[{"Effect":"Allow","Action":"*","Resource":{"Ref":"Nope"}}]}}]}}}}`,
		"AWS managed policy": `{"Resources":{"Fn":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"f","Role":{"Fn::GetAtt":["Role","Arn"]}}},"Role":{"Type":"AWS::IAM::Role","Properties":{"ManagedPolicyArns":["arn:aws:iam::aws:policy/AdministratorAccess"]}}}}`,
	} {
		if _, err := Load(map[string][]byte{"S": []byte(bad)}, Env{Account: "1", Region: "r"}); err == nil {
			t.Errorf("%s: Load accepted it", name)
		}
	}
}

// TestPeopleFromTheTemplates: the managed policies aliasflow-operators and
// aliasflow-approvers, and the role aliasflow-github-release, become the
// principals reached with the access keys of People; a template without
// them defines no one.
func TestPeopleFromTheTemplates(t *testing.T) {
	const tpl = `{"Resources":{
 "Ops":{"Type":"AWS::IAM::ManagedPolicy","Properties":{"ManagedPolicyName":"aliasflow-operators","PolicyDocument":{"Statement":[
  {"Effect":"Allow","Action":"states:DescribeExecution","Resource":{"Fn::Sub":"arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:aliasflow-promotion:*"}}]}}},
 "CI":{"Type":"AWS::IAM::Role","Properties":{"RoleName":"aliasflow-github-release"}},
 "CIPolicy":{"Type":"AWS::IAM::Policy","Properties":{"Roles":[{"Ref":"CI"}],"PolicyDocument":{"Statement":[
  {"Effect":"Allow","Action":"lambda:UpdateFunctionCode","Resource":"*"}]}}}}}`
	set, err := Load(map[string][]byte{"Pipeline": []byte(tpl)}, Env{Account: "000000000000", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		key, wantARN string
		req          Request
	}{
		{"aliasflow-operator", "arn:aws:iam::000000000000:user/aliasflow-operator",
			Request{Action: "states:DescribeExecution", Resource: "arn:aws:states:us-east-1:000000000000:execution:aliasflow-promotion:x"}},
		{"aliasflow-ci", "arn:aws:sts::000000000000:assumed-role/aliasflow-github-release/aliasflow-ci",
			Request{Action: "lambda:UpdateFunctionCode", Resource: "arn:aws:lambda:us-east-1:000000000000:function:hello"}},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			p := set.Person(c.key)
			if p == nil || p.ARN != c.wantARN {
				t.Fatalf("Person(%s) = %+v, want %s", c.key, p, c.wantARN)
			}
			if d, err := Evaluate(p.Policies, c.req); err != nil || !d.Allowed {
				t.Errorf("%s %s: %+v %v, want allowed", c.req.Action, c.req.Resource, d, err)
			}
			if d, _ := Evaluate(p.Policies, Request{Action: "lambda:UpdateAlias", Resource: "*"}); d.Allowed {
				t.Errorf("lambda:UpdateAlias allowed, want denied")
			}
		})
	}
	if p := set.Person("aliasflow-approver"); p != nil {
		t.Errorf("Person(aliasflow-approver) = %+v, want nil (the template has no aliasflow-approvers)", p)
	}
	if p := set.Person("test"); p != nil {
		t.Errorf("Person(test) = %+v, want nil", p)
	}
}

// TestSelectSplit resolves Fn::Select over Fn::Split as CDK writes the
// name of a function imported by name (Function.fromFunctionName: the
// seventh field of its ARN), and refuses what CloudFormation refuses
// ("Fn::Select", "Fn::Split", intrinsic function reference,
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-select.html).
func TestSelectSplit(t *testing.T) {
	arn := `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":lambda:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":function:fn01"]]}`
	tests := []struct {
		name, value string
		want        any
		wantErr     string
	}{
		{name: "the imported function's name", value: `{"Fn::Select":[6,{"Fn::Split":[":",` + arn + `]}]}`, want: "fn01"},
		{name: "an index as a string", value: `{"Fn::Select":["1",["a","b"]]}`, want: "b"},
		{name: "a split alone", value: `{"Fn::Split":[",","a,b"]}`, want: []any{"a", "b"}},
		{name: "an index past the list", value: `{"Fn::Select":[2,["a","b"]]}`, wantErr: "Fn::Select"},
		{name: "a negative index", value: `{"Fn::Select":[-1,["a"]]}`, wantErr: "Fn::Select"},
		{name: "a split without a delimiter", value: `{"Fn::Split":["a,b"]}`, wantErr: "Fn::Split"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl := `{"Resources":{"V":{"Type":"AWS::Lambda::Version","Properties":{"FunctionName":` + tc.value + `}}}}`
			stacks, err := Parse(map[string][]byte{"S": []byte(tpl)}, Env{Account: "000000000000", Region: "us-east-1"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := stacks[0].Resolve(stacks[0].Resources()["V"].Properties["FunctionName"])
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Resolve = %v, %v; want an error naming %s", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Resolve = %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
}
