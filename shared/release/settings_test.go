package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// settingsHistory answers GetParameterHistory with one parameter's values,
// version 1 first.
type settingsHistory struct {
	calls    *callLog
	name     string
	versions []string
	fail     error
}

func (f *settingsHistory) GetParameterHistory(_ context.Context, in *ssm.GetParameterHistoryInput, _ ...func(*ssm.Options)) (*ssm.GetParameterHistoryOutput, error) {
	f.calls.add("GetParameterHistory")
	if f.fail != nil {
		return nil, f.fail
	}
	if aws.ToString(in.Name) != f.name {
		return nil, &ssmtypes.ParameterNotFound{Message: aws.String("")}
	}
	out := &ssm.GetParameterHistoryOutput{}
	for i, v := range f.versions {
		out.Parameters = append(out.Parameters, ssmtypes.ParameterHistory{Name: in.Name, Value: aws.String(v), Version: int64(i + 1)})
	}
	return out, nil
}

// putParameterEvent is EventBridge's delivery of CloudTrail's record of a
// PutParameter call ("AWS API Call via CloudTrail", Amazon EventBridge User
// Guide; the CloudTrail record contents, CloudTrail User Guide).
func putParameterEvent(t *testing.T, name, caller string, version int, errorCode string) json.RawMessage {
	t.Helper()
	detail := map[string]any{
		"eventVersion": "1.09", "eventSource": "ssm.amazonaws.com", "eventName": "PutParameter", "awsRegion": "eu-west-1",
		"eventType": "AwsApiCall", "eventID": fmt.Sprintf("7d2a-%d", version), "readOnly": false, "managementEvent": true, "recipientAccountId": "123456789012",
		"userIdentity":      map[string]any{"type": "AssumedRole", "arn": caller, "accountId": "123456789012", "principalId": "AROAEXAMPLE:ana"},
		"requestParameters": map[string]any{"name": name, "type": "String", "overwrite": true},
	}
	if errorCode != "" {
		detail["errorCode"], detail["errorMessage"] = errorCode, "denied"
	} else {
		detail["responseElements"] = map[string]any{"version": version, "tier": "Standard"}
	}
	raw, err := json.Marshal(map[string]any{
		"version": "0", "id": "e-1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.ssm", "account": "123456789012",
		"time": "2026-01-02T03:04:05Z", "region": "eu-west-1", "resources": []string{}, "detail": detail,
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestHandleSettingsChanged(t *testing.T) {
	const (
		param    = "/aliasflow/aliasflow/targets/hello"
		operator = "arn:aws:sts::123456789012:assumed-role/Operators/ana"
		v1       = `{"function":"hello","approvers":["ana@example.com"],"health":{"onInconclusive":"rollback"}}`
		v2       = `{"function":"hello","approvers":["ana@example.com","mallory@example.com"],"health":{"onInconclusive":"promote"}}`
	)
	boom := errors.New("ThrottlingException: Rate exceeded")
	cases := []struct {
		name        string
		event       json.RawMessage
		fail        error
		wantOutcome Outcome
		wantErr     bool
		wantRecords []audit.Record
	}{
		{
			name: "an operator's write names the caller and the gate fields changed", event: putParameterEvent(t, param, operator, 2, ""),
			wantOutcome: SettingsRecorded,
			wantRecords: []audit.Record{{Event: audit.SettingsChanged, Function: "hello", Actor: operator, Reason: "settings version 2 of " + param, EventID: "7d2a-2",
				Changes: []audit.Change{{Field: "approvers", From: `["ana@example.com"]`, To: `["ana@example.com","mallory@example.com"]`},
					{Field: "health.onInconclusive", From: `"rollback"`, To: `"promote"`}}}},
		},
		{
			name: "the first version: every field is new", event: putParameterEvent(t, param, operator, 1, ""),
			wantOutcome: SettingsRecorded,
			wantRecords: []audit.Record{{Event: audit.SettingsChanged, Function: "hello", Actor: operator, Reason: "settings version 1 of " + param, EventID: "7d2a-1",
				Changes: []audit.Change{{Field: "approvers", To: `["ana@example.com"]`}, {Field: "health.onInconclusive", To: `"rollback"`}}}},
		},
		{name: "a refused write changed nothing", event: putParameterEvent(t, param, operator, 0, "AccessDenied"), wantOutcome: Ignored},
		{name: "a parameter outside the settings path", event: putParameterEvent(t, "/other/hello", operator, 2, ""), wantOutcome: Ignored},
		{name: "a nested name is no target's", event: putParameterEvent(t, param+"/x", operator, 2, ""), wantOutcome: Ignored},
		{name: "the history could not be read: retried", event: putParameterEvent(t, param, operator, 2, ""), fail: boom, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.h.SettingsPath = "/aliasflow/aliasflow/targets/"
			w.h.SettingsHistory = &settingsHistory{calls: w.calls, name: param, versions: []string{v1, v2}, fail: c.fail}
			res, err := w.h.Handle(context.Background(), c.event)
			if (err != nil) != c.wantErr {
				t.Fatalf("Handle err = %v, want error %v", err, c.wantErr)
			}
			if !c.wantErr && res.Outcome != c.wantOutcome {
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
					t.Errorf("a settings change called %s", call)
				}
			}
		})
	}
}
