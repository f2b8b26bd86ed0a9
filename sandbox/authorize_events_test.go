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
