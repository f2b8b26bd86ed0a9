package sandbox_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/sandbox/apigw"
	"github.com/aliasflow/aliasflow/sandbox/events"
	"github.com/aliasflow/aliasflow/sandbox/iam"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
	logssvc "github.com/aliasflow/aliasflow/sandbox/logs"
	"github.com/aliasflow/aliasflow/sandbox/states"
)

// servicesTemplate: functions "ok" and "denied"; state machine "m" whose
// role may invoke only "ok"; rule "ok-rule", which "ok"'s resource-based
// policy lets EventBridge invoke it for, and rule "no-permission", which no
// AWS::Lambda::Permission names; REST API "api", whose stage "s" may invoke
// "ok" by GET on its root.
const servicesTemplate = `{"Resources":{
 "Ok":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"ok","Role":{"Fn::GetAtt":["FnRole","Arn"]}}},
 "Denied":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"denied","Role":{"Fn::GetAtt":["FnRole","Arn"]}}},
 "FnRole":{"Type":"AWS::IAM::Role","Properties":{}},
 "OkRule":{"Type":"AWS::Events::Rule","Properties":{"Name":"ok-rule"}},
 "NoPermission":{"Type":"AWS::Events::Rule","Properties":{"Name":"no-permission"}},
 "OkFromRule":{"Type":"AWS::Lambda::Permission","Properties":{"Action":"lambda:InvokeFunction","FunctionName":{"Fn::GetAtt":["Ok","Arn"]},"Principal":"events.amazonaws.com","SourceArn":{"Fn::GetAtt":["OkRule","Arn"]}}},
 "Api":{"Type":"AWS::ApiGateway::RestApi","Properties":{"Name":"api"}},
 "Stage":{"Type":"AWS::ApiGateway::Stage","Properties":{"StageName":"s","RestApiId":{"Ref":"Api"}}},
 "OkFromApi":{"Type":"AWS::Lambda::Permission","Properties":{"Action":"lambda:InvokeFunction","FunctionName":{"Fn::GetAtt":["Ok","Arn"]},"Principal":"apigateway.amazonaws.com",
  "SourceArn":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":execute-api:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":",{"Ref":"Api"},"/",{"Ref":"Stage"},"/GET/"]]}}},
 "Machine":{"Type":"AWS::StepFunctions::StateMachine","Properties":{"StateMachineName":"m","RoleArn":{"Fn::GetAtt":["MachineRole","Arn"]}}},
 "MachineRole":{"Type":"AWS::IAM::Role","Properties":{}},
 "MachinePolicy":{"Type":"AWS::IAM::Policy","Properties":{"Roles":[{"Ref":"MachineRole"}],"PolicyDocument":{"Statement":[
  {"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":{"Fn::GetAtt":["Ok","Arn"]}}]}}}}}`

const (
	okARN     = "arn:aws:lambda:us-east-1:000000000000:function:ok"
	deniedARN = "arn:aws:lambda:us-east-1:000000000000:function:denied"
)

func startServices(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	sb := start(t, sandbox.Options{LambdaUpdateDuration: -1, EventRetryDelays: []time.Duration{0, 0}})
	zip := lambdatest.Zip(t, lambdatest.Build(t, "github.com/aliasflow/aliasflow/examples/hello"))
	for _, name := range []string{"ok", "denied"} {
		if _, err := sb.Lambda().CreateFunction(lambdasvc.CreateFunctionInput{FunctionName: name, Runtime: "provided.al2023", Handler: "bootstrap",
			Role: "arn:aws:iam::000000000000:role/r", Code: lambdasvc.FunctionCode{ZipFile: zip}}); err != nil {
			t.Fatal(err)
		}
	}
	set, err := iam.Load(map[string][]byte{"Stack": []byte(servicesTemplate)}, sb.IAMEnv())
	if err != nil {
		t.Fatal(err)
	}
	sb.EnableIAM(set)
	return sb
}

// ran says whether the function was ever invoked: each invocation writes
// Lambda's START line to the function's log group.
func ran(t *testing.T, sb *sandbox.Sandbox, function string) bool {
	t.Helper()
	evs, err := sb.Logs().Filter(logssvc.FilterQuery{Group: "/aws/lambda/" + function})
	if err != nil {
		return false // no log group: never invoked
	}
	for _, e := range evs {
		if strings.Contains(e.Message, "START RequestId:") {
			return true
		}
	}
	return false
}

// TestStateMachineRoleDenied: a Task state invokes Lambda as its state
// machine's execution role ("IAM policies for AWS Lambda", Step Functions
// Developer Guide, https://docs.aws.amazon.com/step-functions/latest/dg/lambda-iam.html):
// the task on a function the role may not invoke fails with
// Lambda.AWSLambdaException carrying Lambda's AccessDeniedException ("Handle
// Lambda service exceptions",
// https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html),
// and the function does not run.
func TestStateMachineRoleDenied(t *testing.T) {
	sb := startServices(t)
	def := `{"StartAt":"Ok","States":{
 "Ok":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"` + okARN + `","Payload":{}},"ResultPath":null,"Next":"Denied"},
 "Denied":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"denied","Payload":{}},"End":true}}}`
	arn, err := sb.States().CreateStateMachine("m", def, "arn:aws:iam::000000000000:role/whatever")
	if err != nil {
		t.Fatal(err)
	}
	exec, err := sb.States().StartExecution(context.Background(), arn, "e", "{}")
	if err != nil {
		t.Fatal(err)
	}
	for {
		status, err := sb.States().ExecutionStatus(exec)
		if err != nil {
			t.Fatal(err)
		}
		if status != "RUNNING" {
			if status != "FAILED" {
				t.Fatalf("execution %s, want FAILED", status)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	hist, err := sb.States().History(exec)
	if err != nil {
		t.Fatal(err)
	}
	var failed []*states.FailureDetails
	for _, e := range hist {
		if e.TaskFailedEventDetails != nil {
			failed = append(failed, e.TaskFailedEventDetails)
		}
	}
	wantCause := "User: arn:aws:sts::000000000000:assumed-role/Stack-MachineRole/m is not authorized to perform: lambda:InvokeFunction on resource: " + deniedARN +
		" because no identity-based policy allows the lambda:InvokeFunction action (Service: Lambda, Status Code: 403, Error Code: AccessDeniedException)"
	if len(failed) != 1 || failed[0].Error != "Lambda.AWSLambdaException" || failed[0].Cause != wantCause {
		t.Fatalf("TaskFailed events %+v, want one Lambda.AWSLambdaException with cause %q", failed, wantCause)
	}
	if !ran(t, sb, "ok") || ran(t, sb, "denied") {
		t.Errorf("ran: ok %v, denied %v; want only ok", ran(t, sb, "ok"), ran(t, sb, "denied"))
	}
	var got []string
	for _, d := range sb.IAMDecisions() {
		got = append(got, d.Principal+" "+d.Request.Resource+" "+map[bool]string{true: "allowed", false: "denied"}[d.Allowed])
	}
	role := "arn:aws:iam::000000000000:role/Stack-MachineRole"
	if want := []string{role + " " + okARN + " allowed", role + " " + deniedARN + " denied"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("decisions\n  %q\nwant\n  %q", got, want)
	}
}

// TestRuleWithoutPermission: EventBridge invokes a Lambda target only when
// the function's resource-based policy allows events.amazonaws.com for the
// rule ("Using resource-based policies for Amazon EventBridge",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html);
// a target no permission covers never runs and the delivery fails at once,
// unretried, with NO_PERMISSIONS ("Using dead-letter queues to process
// undelivered events in EventBridge",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
func TestRuleWithoutPermission(t *testing.T) {
	sb := startServices(t)
	for rule, target := range map[string]string{"ok-rule": okARN, "no-permission": deniedARN} {
		if _, err := sb.Events().PutRule(events.RuleInput{Name: rule, EventPattern: `{"source":["test"]}`}); err != nil {
			t.Fatal(err)
		}
		if failed, err := sb.Events().PutTargets(rule, "", []events.Target{{Id: "t", Arn: target}}); err != nil || len(failed) > 0 {
			t.Fatal(err, failed)
		}
	}
	if _, err := sb.Events().PutEvent("test", "Test", "{}", nil); err != nil {
		t.Fatal(err)
	}
	if err := sb.Events().Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	byRule := map[string]events.Delivery{}
	for _, d := range sb.Events().Deliveries() {
		byRule[d.Rule] = d
	}
	if d := byRule["ok-rule"]; d.Err != "" || d.Attempts != 1 {
		t.Errorf("ok-rule: %+v, want delivered at the first attempt", d)
	}
	if d := byRule["no-permission"]; !strings.HasPrefix(d.Err, "NO_PERMISSIONS: events.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: "+deniedARN) || d.Attempts != 0 {
		t.Errorf("no-permission: %+v, want NO_PERMISSIONS and no attempt", d)
	}
	if !ran(t, sb, "ok") || ran(t, sb, "denied") {
		t.Errorf("ran: ok %v, denied %v; want only ok", ran(t, sb, "ok"), ran(t, sb, "denied"))
	}
	allowed := map[string]bool{}
	for _, d := range sb.IAMDecisions() {
		if d.Principal != "events.amazonaws.com" {
			t.Errorf("decision by %s", d.Principal)
		}
		allowed[d.Request.Resource+" "+d.Request.Context["aws:SourceArn"][0]] = d.Allowed
	}
	rule := "arn:aws:events:us-east-1:000000000000:rule/"
	if len(allowed) != 2 || !allowed[okARN+" "+rule+"ok-rule"] || allowed[deniedARN+" "+rule+"no-permission"] {
		t.Errorf("decisions %v, want %s allowed for ok-rule and %s denied for no-permission", allowed, okARN, deniedARN)
	}
}

// TestAPIWithoutPermission: API Gateway invokes a Lambda integration only
// when the function's resource-based policy allows
// apigateway.amazonaws.com for the request's execute-api ARN
// (arn:aws:execute-api:region:account:api-id/stage/METHOD/path, "API
// Gateway Amazon Resource Name (ARN) reference",
// https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html);
// otherwise it answers 500 Internal server error and the function does not
// run ("Why does my API Gateway API return a 500 error ...", AWS Knowledge
// Center, https://repost.aws/knowledge-center/api-gateway-lambda-stage-variable-500).
func TestAPIWithoutPermission(t *testing.T) {
	sb := startServices(t)
	// A proxy API: every method on every path reaches the integration,
	// whose permission then decides.
	if err := sb.APIGateway().PutAPI(apigw.API{ID: "api", Methods: []apigw.Method{{HTTPMethod: "ANY", Path: "/"}, {HTTPMethod: "ANY", Path: "/{proxy+}"}}}); err != nil {
		t.Fatal(err)
	}
	for stage, target := range map[string]string{"s": "ok", "t": "denied"} {
		if err := sb.APIGateway().PutStage(apigw.Stage{Name: stage, Target: target, API: "api"}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		method, path string
		status       int
	}{
		{"GET", "/s", 200},
		{"POST", "/s", 500},  // the permission names GET only
		{"GET", "/s/x", 500}, // and the root resource only
		{"GET", "/t", 500},   // no permission for "denied"
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, sb.Endpoint()+c.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.status || (c.status == 500 && strings.TrimSpace(string(body)) != `{"message":"Internal server error"}`) {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, res.StatusCode, body, c.status)
		}
	}
	if ran(t, sb, "denied") {
		t.Error("the function no permission covers ran")
	}
	var got []string
	for _, d := range sb.IAMDecisions() {
		got = append(got, d.Principal+" "+d.Request.Context["aws:SourceArn"][0]+" "+map[bool]string{true: "allowed", false: "denied"}[d.Allowed])
	}
	api := "apigateway.amazonaws.com arn:aws:execute-api:us-east-1:000000000000:api/"
	want := []string{api + "s/GET/ allowed", api + "s/POST/ denied", api + "s/GET/x denied", api + "t/GET/ denied"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("decisions\n  %q\nwant\n  %q", got, want)
	}
}
