package iam

import "testing"

// serviceTemplates: a pipeline stack exporting its release function's ARN,
// with an EventBridge rule allowed to invoke it, a second rule with no
// permission, a rule of a custom bus allowed to invoke it, a state machine whose role may invoke only "smoke", and an
// app stack whose rule reaches the release function through
// Fn::ImportValue and whose permission is on the alias hello:stg.
var serviceTemplates = map[string][]byte{
	"Pipeline": []byte(`{"Resources":{
 "Release":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"release","Role":{"Fn::GetAtt":["ReleaseRole","Arn"]}}},
 "ReleaseRole":{"Type":"AWS::IAM::Role","Properties":{}},
 "Rule":{"Type":"AWS::Events::Rule","Properties":{"Name":"release-requested"}},
 "Other":{"Type":"AWS::Events::Rule","Properties":{"Name":"other"}},
 "Bus":{"Type":"AWS::Events::EventBus","Properties":{"Name":"aliasflow-releases"}},
 "BusRule":{"Type":"AWS::Events::Rule","Properties":{"Name":"on-bus","EventBusName":{"Ref":"Bus"}}},
 "AllowBus":{"Type":"AWS::Lambda::Permission","Properties":{"Action":"lambda:InvokeFunction","FunctionName":{"Fn::GetAtt":["Release","Arn"]},"Principal":"events.amazonaws.com","SourceArn":{"Fn::GetAtt":["BusRule","Arn"]}}},
 "Allow":{"Type":"AWS::Lambda::Permission","Properties":{"Action":"lambda:InvokeFunction","FunctionName":{"Fn::GetAtt":["Release","Arn"]},"Principal":"events.amazonaws.com","SourceArn":{"Fn::GetAtt":["Rule","Arn"]}}},
 "Machine":{"Type":"AWS::StepFunctions::StateMachine","Properties":{"StateMachineName":"promotion","RoleArn":{"Fn::GetAtt":["MachineRole","Arn"]}}},
 "MachineRole":{"Type":"AWS::IAM::Role","Properties":{"RoleName":"promotion-role"}},
 "MachinePolicy":{"Type":"AWS::IAM::Policy","Properties":{"Roles":[{"Ref":"MachineRole"}],"PolicyDocument":{"Statement":[
  {"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":{"Fn::Sub":"arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:smoke"}}]}}}},
 "Outputs":{"ReleaseArn":{"Value":{"Fn::GetAtt":["Release","Arn"]},"Export":{"Name":"Pipeline:ReleaseArn"}}}}`),
	"App": []byte(`{"Resources":{
 "Build":{"Type":"AWS::Events::Rule","Properties":{"Name":"build-hello"}},
 "AllowBuild":{"Type":"AWS::Lambda::Permission","Properties":{"Action":"lambda:InvokeFunction","FunctionName":{"Fn::ImportValue":"Pipeline:ReleaseArn"},"Principal":"events.amazonaws.com","SourceArn":{"Fn::GetAtt":["Build","Arn"]},"SourceAccount":{"Ref":"AWS::AccountId"}}},
 "AllowStg":{"Type":"AWS::Lambda::Permission","Properties":{"Action":"lambda:InvokeFunction","FunctionName":"hello:stg","Principal":"events.amazonaws.com","SourceArn":{"Fn::GetAtt":["Build","Arn"]}}},
 "Api":{"Type":"AWS::ApiGateway::RestApi","Properties":{"Name":"hello"}},
 "Staging":{"Type":"AWS::ApiGateway::Stage","Properties":{"StageName":"staging","RestApiId":{"Ref":"Api"}}},
 "Prod":{"Type":"AWS::Lambda::Alias","Properties":{"FunctionName":"hello","Name":"prod","FunctionVersion":"1"}},
 "ApiProd":{"Type":"AWS::Lambda::Permission","Properties":{"Action":"lambda:InvokeFunction","FunctionName":{"Ref":"Prod"},"Principal":"apigateway.amazonaws.com",
  "SourceArn":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":execute-api:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":",{"Ref":"Api"},"/",{"Ref":"Staging"},"/GET/"]]}}},
 "Sns":{"Type":"AWS::Lambda::Permission","Properties":{"Action":"lambda:InvokeFunction","FunctionName":"hello","Principal":"sns.amazonaws.com","SourceArn":{"Ref":"NotResolvable"}}}}}`),
}

// TestAuthorizeService follows the resource-based policy rules of
// "AddPermission" (AWS Lambda API Reference,
// https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html) and
// "Viewing resource-based IAM policies in Lambda"
// (https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html):
// a permission on the function does not cover a version or alias, nor the
// reverse, and the SourceArn and SourceAccount must match.
func TestAuthorizeService(t *testing.T) {
	set, err := Load(serviceTemplates, Env{Account: "000000000000", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	const (
		release = "arn:aws:lambda:us-east-1:000000000000:function:release"
		hello   = "arn:aws:lambda:us-east-1:000000000000:function:hello"
		rule    = "arn:aws:events:us-east-1:000000000000:rule/"
		events  = "events.amazonaws.com"
		api     = "arn:aws:execute-api:us-east-1:000000000000:hello/"
	)
	cases := []struct {
		name, principal, function, source, account string
		allowed                                    bool
	}{
		{"allowed by its rule", events, release, rule + "release-requested", "000000000000", true},
		{"allowed with no SourceAccount in the permission", events, release, rule + "release-requested", "", true},
		{"allowed through Fn::ImportValue, SourceAccount matching", events, release, rule + "build-hello", "000000000000", true},
		{"wrong SourceAccount", events, release, rule + "build-hello", "111111111111", false},
		{"wrong SourceArn", events, release, rule + "other", "000000000000", false},
		{"allowed by a custom bus's rule (rule/<bus>/<name>)", events, release, rule + "aliasflow-releases/on-bus", "000000000000", true},
		{"a custom bus's rule named as the default bus's", events, release, rule + "on-bus", "000000000000", false},
		{"no SourceArn in the request", events, release, "", "000000000000", false},
		{"other principal", "sns.amazonaws.com", release, rule + "release-requested", "000000000000", false},
		{"missing permission", events, "arn:aws:lambda:us-east-1:000000000000:function:smoke", rule + "release-requested", "000000000000", false},
		{"unqualified permission, qualified ARN", events, release + ":prod", rule + "release-requested", "000000000000", false},
		{"unqualified permission, version ARN", events, release + ":1", rule + "release-requested", "000000000000", false},
		{"alias permission, alias ARN", events, hello + ":stg", rule + "build-hello", "000000000000", true},
		{"alias permission, unqualified ARN", events, hello, rule + "build-hello", "000000000000", false},
		{"alias permission, other alias", events, hello + ":prod", rule + "build-hello", "000000000000", false},
		{"API Gateway, the stage's method", "apigateway.amazonaws.com", hello + ":prod", api + "staging/GET/", "", true},
		{"API Gateway, another method", "apigateway.amazonaws.com", hello + ":prod", api + "staging/POST/", "", false},
		{"API Gateway, another path", "apigateway.amazonaws.com", hello + ":prod", api + "staging/GET/x", "", false},
		{"API Gateway, another stage", "apigateway.amazonaws.com", hello + ":prod", api + "dev/GET/", "", false},
		{"API Gateway, the function unqualified", "apigateway.amazonaws.com", hello, api + "staging/GET/", "", false},
		{"API Gateway as EventBridge", events, hello + ":prod", api + "staging/GET/", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, d, err := set.AuthorizeService(c.principal, c.function, c.source, c.account)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != c.allowed {
				t.Errorf("%+v: %+v, want allowed %v", req, d, c.allowed)
			}
		})
	}
	// Permissions for principals the sandbox does not evaluate (here SNS,
	// with a SourceArn it could not resolve) are not loaded, and no error.
	for _, p := range set.Permissions {
		if !ServicePrincipals[p.Principal] {
			t.Errorf("permission %s for %s loaded", p.LogicalID, p.Principal)
		}
	}
	if len(set.Permissions) != 5 {
		t.Errorf("%d permissions loaded, want 5: %+v", len(set.Permissions), set.Permissions)
	}
}

// TestStateMachineRole: a state machine's RoleArn resolves to the
// template's role with its policies, which allow invoking only what they
// name ("IAM policies for AWS Lambda", Step Functions Developer Guide).
func TestStateMachineRole(t *testing.T) {
	set, err := Load(serviceTemplates, Env{Account: "000000000000", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	role := set.StateMachineRole("promotion")
	if role == nil {
		t.Fatal("no role for state machine promotion")
	}
	if got, want := role.ARN("000000000000"), "arn:aws:iam::000000000000:role/promotion-role"; got != want {
		t.Errorf("role ARN %s, want %s", got, want)
	}
	if set.StateMachineRole("other") != nil {
		t.Error("a role for a state machine the templates do not define")
	}
	for fn, want := range map[string]bool{"smoke": true, "shift": false, "smoke:prod": false} {
		arn, err := FunctionARN(fn, "", "000000000000", "us-east-1")
		if err != nil {
			t.Fatal(err)
		}
		d, err := Evaluate(role.Policies, Request{Action: InvokeAction, Resource: arn})
		if err != nil || d.Allowed != want {
			t.Errorf("invoke %s: %+v %v, want allowed %v", arn, d, err, want)
		}
	}
}

// TestFunctionARN: the FunctionName forms of Lambda's Invoke.
func TestFunctionARN(t *testing.T) {
	const base = "arn:aws:lambda:us-east-1:000000000000:function:f"
	for _, c := range []struct{ fn, q, want string }{
		{"f", "", base},
		{"f:stg", "", base + ":stg"},
		{"f", "2", base + ":2"},
		{"000000000000:function:f", "", base},
		{"000000000000:function:f:stg", "", base + ":stg"},
		{base, "", base},
		{base + ":stg", "", base + ":stg"},
		{base + ":stg", "stg", base + ":stg"},
		{base, "stg", base + ":stg"},
		{base + ":stg", "prod", ""},
		{"", "", ""},
	} {
		got, err := FunctionARN(c.fn, c.q, "000000000000", "us-east-1")
		if (err != nil) != (c.want == "") || got != c.want {
			t.Errorf("FunctionARN(%q, %q) = %q, %v; want %q", c.fn, c.q, got, err, c.want)
		}
	}
}
