package release

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/ledger"
)

// deleteFunctionEvent is EventBridge's delivery of CloudTrail's record of
// a Lambda DeleteFunction call: source aws.lambda, event name
// DeleteFunction20150331 (CloudTrail names Lambda's operations with their
// API version), requestParameters functionName and qualifier.
func deleteFunctionEvent(t *testing.T, function, qualifier, caller, errorCode string) json.RawMessage {
	t.Helper()
	req := map[string]any{"functionName": function}
	if qualifier != "" {
		req["qualifier"] = qualifier
	}
	detail := map[string]any{
		"eventVersion": "1.09", "eventSource": "lambda.amazonaws.com", "eventName": "DeleteFunction20150331", "awsRegion": "eu-west-1",
		"eventType": "AwsApiCall", "eventID": "0f6c-" + qualifier, "readOnly": false, "managementEvent": true, "recipientAccountId": "123456789012",
		"userIdentity":      map[string]any{"type": "IAMUser", "arn": caller, "accountId": "123456789012"},
		"requestParameters": req, "responseElements": nil,
	}
	if errorCode != "" {
		detail["errorCode"], detail["errorMessage"] = errorCode, "refused"
	}
	raw, err := json.Marshal(map[string]any{
		"version": "0", "id": "e-2", "detail-type": "AWS API Call via CloudTrail", "source": "aws.lambda", "account": "123456789012",
		"time": "2026-01-02T03:04:05Z", "region": "eu-west-1", "resources": []string{}, "detail": detail,
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestHandleVersionDeleted(t *testing.T) {
	const operator = "arn:aws:iam::123456789012:user/aliasflow-operator"
	cases := []struct {
		name        string
		event       json.RawMessage
		wantOutcome Outcome
		wantRecords []audit.Record
	}{
		{name: "a target's version deleted: one record naming the caller", event: deleteFunctionEvent(t, "hello", "3", operator, ""),
			wantOutcome: VersionRecorded,
			wantRecords: []audit.Record{{Event: audit.VersionDeleted, Function: "hello", FromVersion: "3", Actor: operator,
				EventID: "0f6c-3", Reason: "version 3 of hello deleted (DeleteFunction, CloudTrail event 0f6c-3)"}}},
		{name: "the version in the function's ARN", event: deleteFunctionEvent(t, "arn:aws:lambda:eu-west-1:123456789012:function:hello:4", "", operator, ""),
			wantOutcome: VersionRecorded,
			wantRecords: []audit.Record{{Event: audit.VersionDeleted, Function: "hello", FromVersion: "4", Actor: operator,
				EventID: "0f6c-", Reason: "version 4 of hello deleted (DeleteFunction, CloudTrail event 0f6c-)"}}},
		{name: "a refused deletion deleted nothing", event: deleteFunctionEvent(t, "hello", "2", operator, "ResourceConflictException"), wantOutcome: Ignored},
		{name: "a whole function is no version", event: deleteFunctionEvent(t, "hello", "", operator, ""), wantOutcome: Ignored},
		{name: "a function that is no target", event: deleteFunctionEvent(t, "other", "3", operator, ""), wantOutcome: Ignored},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			res, err := w.h.Handle(context.Background(), c.event)
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Outcome != c.wantOutcome {
				t.Errorf("outcome = %q (%s), want %q", res.Outcome, res.Reason, c.wantOutcome)
			}
			var got []audit.Record
			for _, e := range w.bus.Details() {
				var rec audit.Record
				if err := json.Unmarshal([]byte(e), &rec); err != nil {
					t.Fatalf("entry %s: %v", e, err)
				}
				rec.Audit, rec.Time = false, time.Time{}
				got = append(got, rec)
			}
			if !reflect.DeepEqual(got, c.wantRecords) {
				t.Errorf("records =\n%+v\nwant\n%+v", got, c.wantRecords)
			}
			for _, call := range w.calls.since(0) {
				if mutatingOps[call] {
					t.Errorf("auditing a deletion called %s", call)
				}
			}
		})
	}
}

// TestRedeliveredCloudTrailRecordIsOneRecord: CloudTrail's record of one
// call (a DeleteFunction, a PutParameter of settings) can reach the release
// Lambda twice (EventBridge retries a delivery,
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html;
// Lambda's asynchronous queue may hand the same event twice,
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html).
// The trail, as the ledger reads it, holds one version.deleted or
// settings.changed per CloudTrail event (its eventID), however often it is
// delivered.
func TestRedeliveredCloudTrailRecordIsOneRecord(t *testing.T) {
	const (
		operator = "arn:aws:iam::123456789012:user/aliasflow-operator"
		param    = "/aliasflow/aliasflow/targets/hello"
	)
	del := func(v string) json.RawMessage { return deleteFunctionEvent(t, "hello", v, operator, "") }
	put := func(v int) json.RawMessage { return putParameterEvent(t, param, operator, v, "") }
	cases := []struct {
		name   string
		events []json.RawMessage
		want   []string // the records read, newest first
	}{
		{"one deletion delivered once", []json.RawMessage{del("3")}, []string{"version.deleted 3"}},
		{"one deletion delivered twice", []json.RawMessage{del("3"), del("3")}, []string{"version.deleted 3"}},
		{"two deletions, the first delivered again", []json.RawMessage{del("3"), del("4"), del("3")}, []string{"version.deleted 4", "version.deleted 3"}},
		{"one settings write delivered twice", []json.RawMessage{put(2), put(2)}, []string{"settings.changed settings version 2 of " + param}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.h.SettingsPath = "/aliasflow/aliasflow/targets/"
			w.h.SettingsHistory = &settingsHistory{calls: w.calls, name: param, versions: []string{`{"function":"hello"}`, `{"function":"hello","approvers":["a@example.com"]}`}}
			for i, ev := range c.events {
				if res, err := w.h.Handle(context.Background(), ev); err != nil || (res.Outcome != VersionRecorded && res.Outcome != SettingsRecorded) {
					t.Fatalf("delivery %d: outcome %q (%s), error %v; want it recorded", i+1, res.Outcome, res.Reason, err)
				}
			}
			var recs []audit.Record
			for line := range strings.Lines(w.logs.String()) {
				if rec, ok := ledger.Parse(line); ok {
					recs = append(recs, rec)
				}
			}
			var got []string
			for _, r := range ledger.NewTrail(recs) {
				switch r.Event {
				case audit.VersionDeleted:
					got = append(got, string(r.Event)+" "+r.FromVersion)
				case audit.SettingsChanged:
					got = append(got, string(r.Event)+" "+r.Reason)
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("records read = %q, want %q (one per CloudTrail event)", got, c.want)
			}
		})
	}
}
