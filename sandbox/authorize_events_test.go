package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox"
	"github.com/aliasflow/aliasflow/sandbox/iam"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
)

// putterTemplate gives function "putter" PutEvents on the default bus
// only for aliasflow's Release Requested, as infra's RequestRelease
// statement does.
const putterTemplate = `{"Resources":{
 "Putter":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"putter","Role":{"Fn::GetAtt":["PutterRole","Arn"]}}},
 "PutterRole":{"Type":"AWS::IAM::Role","Properties":{}},
 "PutterPolicy":{"Type":"AWS::IAM::Policy","Properties":{"Roles":[{"Ref":"PutterRole"}],"PolicyDocument":{"Statement":[
  {"Effect":"Allow","Action":"events:PutEvents","Resource":{"Fn::Sub":"arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"},
   "Condition":{"StringEquals":{"events:source":"aliasflow","events:detail-type":"Release Requested"}}}]}}}}}`

// TestPutEventsConditionKeys: PutEvents is authorized per entry with the
// entry's source and detail type as events:source and events:detail-type
// ("Using IAM policy conditions in Amazon EventBridge", EventBridge User
// Guide); before, the keys were absent and a policy conditioned on them
// allowed nothing.
func TestPutEventsConditionKeys(t *testing.T) {
	sb := start(t, sandbox.Options{LambdaUpdateDuration: -1})
	set, err := iam.Load(map[string][]byte{"Stack": []byte(putterTemplate)}, sb.IAMEnv())
	if err != nil {
		t.Fatal(err)
	}
	sb.EnableIAM(set)
	c := lambdatest.Config()
	c.Credentials = credentials.NewStaticCredentialsProvider("putter", "s", "t")
	client := eventbridge.NewFromConfig(c, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(sb.Endpoint()) })
	entry := func(source, detailType string) ebtypes.PutEventsRequestEntry {
		return ebtypes.PutEventsRequestEntry{Source: aws.String(source), DetailType: aws.String(detailType), Detail: aws.String("{}")}
	}
	tests := []struct {
		name    string
		entries []ebtypes.PutEventsRequestEntry
		denied  bool
	}{
		{name: "aliasflow's release request", entries: []ebtypes.PutEventsRequestEntry{entry("aliasflow", "Release Requested")}},
		{name: "another detail type", entries: []ebtypes.PutEventsRequestEntry{entry("aliasflow", "Audit Record")}, denied: true},
		{name: "another source", entries: []ebtypes.PutEventsRequestEntry{entry("acme", "Release Requested")}, denied: true},
		{name: "one allowed entry and one not", entries: []ebtypes.PutEventsRequestEntry{entry("aliasflow", "Release Requested"), entry("acme", "Release Requested")}, denied: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: tc.entries})
			var api smithy.APIError
			if denied := errors.As(err, &api) && strings.Contains(api.ErrorCode(), "AccessDenied"); denied != tc.denied {
				t.Errorf("PutEvents: %v; want denied %v", err, tc.denied)
			}
		})
	}
}

// busTemplate: functions "ci" (role aliasflow-github-release) and "other",
// both allowed PutEvents on the bus aliasflow-releases by their identity
// policies; the bus's policy denies every principal but that role, as
// infra's release bus does.
const busTemplate = `{"Resources":{
 "Ci":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"ci","Role":{"Fn::GetAtt":["CiRole","Arn"]}}},
 "CiRole":{"Type":"AWS::IAM::Role","Properties":{"RoleName":"aliasflow-github-release"}},
 "Other":{"Type":"AWS::Lambda::Function","Properties":{"FunctionName":"other","Role":{"Fn::GetAtt":["OtherRole","Arn"]}}},
 "OtherRole":{"Type":"AWS::IAM::Role","Properties":{}},
 "Put":{"Type":"AWS::IAM::Policy","Properties":{"Roles":[{"Ref":"CiRole"},{"Ref":"OtherRole"}],"PolicyDocument":{"Statement":[
  {"Effect":"Allow","Action":"events:PutEvents","Resource":{"Fn::GetAtt":["Bus","Arn"]}}]}}},
 "Bus":{"Type":"AWS::Events::EventBus","Properties":{"Name":"aliasflow-releases"}},
 "BusPolicy":{"Type":"AWS::Events::EventBusPolicy","Properties":{"EventBusName":{"Ref":"Bus"},"StatementId":"OnlyGrantedReleasers","Statement":{
  "Sid":"OnlyGrantedReleasers","Effect":"Deny","Principal":{"AWS":"*"},"Action":"events:PutEvents","Resource":{"Fn::GetAtt":["Bus","Arn"]},
  "Condition":{"ArnNotLike":{"aws:PrincipalArn":[{"Fn::Sub":"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aliasflow-github-release"}]},
   "StringNotEquals":{"aws:PrincipalTag/aliasflow:releaser":"true"}}}}}}}`

// TestBusPolicyDenies: an explicit Deny in an event bus's resource-based
// policy refuses a PutEvents the caller's identity policy allows, unless
// its condition spares the caller (aws:PrincipalArn, a session's role);
// before, the sandbox evaluated identity policies only.
func TestBusPolicyDenies(t *testing.T) {
	sb := start(t, sandbox.Options{LambdaUpdateDuration: -1})
	if _, err := sb.Events().CreateEventBus("aliasflow-releases"); err != nil {
		t.Fatal(err)
	}
	set, err := iam.Load(map[string][]byte{"Stack": []byte(busTemplate)}, sb.IAMEnv())
	if err != nil {
		t.Fatal(err)
	}
	sb.EnableIAM(set)
	tests := []struct {
		name, key string
		denied    bool
	}{
		{name: "the role the bus admits", key: "ci"},
		{name: "another role its identity policy allows", key: "other", denied: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := lambdatest.Config()
			c.Credentials = credentials.NewStaticCredentialsProvider(tc.key, "s", "t")
			out, err := eventbridge.NewFromConfig(c, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(sb.Endpoint()) }).PutEvents(context.Background(),
				&eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{Source: aws.String("aliasflow"), DetailType: aws.String("Release Requested"),
					Detail: aws.String("{}"), EventBusName: aws.String("aliasflow-releases")}}})
			var api smithy.APIError
			denied := errors.As(err, &api) && strings.Contains(api.ErrorCode(), "AccessDenied")
			if denied != tc.denied {
				t.Fatalf("PutEvents as %s: %v (%+v); want denied %v", tc.key, err, out, tc.denied)
			}
			if tc.denied && !strings.Contains(api.ErrorMessage(), "with an explicit deny in a resource-based policy") {
				t.Errorf("message %q, want it to name the resource-based policy", api.ErrorMessage())
			}
		})
	}
}
