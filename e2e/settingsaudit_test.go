package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awsenv"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/aliasflow/aliasflow/sandbox/local"
)

// TestSettingsChangeIsAudited (issue 18, item 4): with the sandbox
// evaluating the synthesized templates, an operator cannot write a
// target's settings (the operators' policy grants no ssm:PutParameter:
// AccessDenied, nothing audited), and a write by an identity that may —
// here an account administrator, whom the sandbox does not evaluate —
// reaches the release Lambda as CloudTrail's record of the PutParameter
// call through EventBridge and is audited as exactly one settings.changed
// record naming the writer's ARN and the gate fields it changed.
func TestSettingsChangeIsAudited(t *testing.T) {
	s := startScenarioWith(t, nil, "", cdkOut, true)
	name := settings.ParameterName(settings.DefaultPipeline, local.HelloFunction)
	changed := s.target
	changed.Approvers = append(append([]string(nil), s.target.Approvers...), "mallory@example.com")
	changed.Health.OnInconclusive = config.OnInconclusiveRollback
	doc, err := settings.Encode(changed)
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string) error {
		c := ssm.New(ssm.Options{BaseEndpoint: aws.String(s.ep), Region: "us-east-1", HTTPClient: awsenv.LoopbackOnlyClient(),
			Credentials: credentials.NewStaticCredentialsProvider(key, "test", ""), RetryMaxAttempts: 1})
		_, err := c.PutParameter(s.ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(doc), Overwrite: aws.Bool(true)})
		return err
	}
	const admin = "admin-ana"
	adminARN := "arn:aws:iam::" + core.Account + ":user/" + admin
	cases := []struct {
		name, key string
		denied    bool
	}{
		{"the operator may not write the settings", operatorKey, true},
		{"an administrator's write is audited", admin, false},
	}
	for _, c := range cases {
		err := put(c.key)
		var api smithy.APIError
		denied := errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException"
		if denied != c.denied || (!c.denied && err != nil) {
			t.Fatalf("%s: PutParameter as %s = %v, want denied %v", c.name, c.key, err, c.denied)
		}
	}
	settingsRecords := func(recs []audit.Record) []audit.Record {
		var out []audit.Record
		for _, r := range recs {
			if r.Event == audit.SettingsChanged {
				out = append(out, r)
			}
		}
		return out
	}
	s.waitAudit(func(recs []audit.Record) bool { return len(settingsRecords(recs)) > 0 })
	// Lambda's async retries and EventBridge's deliveries settle well
	// within this; a second record would show by then.
	time.Sleep(3 * time.Second)
	all, err := s.auditRecords()
	if err != nil {
		t.Fatal(err)
	}
	recs := settingsRecords(all)
	if len(recs) != 1 {
		t.Fatalf("settings.changed records = %d (%+v), want exactly 1: the administrator's write; the operator's was denied", len(recs), recs)
	}
	want := []audit.Change{
		{Field: "approvers", From: jsonOf(t, s.target.Approvers), To: jsonOf(t, changed.Approvers)},
		{Field: "health.onInconclusive", From: jsonOf(t, s.target.Health.OnInconclusive), To: jsonOf(t, changed.Health.OnInconclusive)},
	}
	got := recs[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"function", got.Function, local.HelloFunction},
		{"actor is CloudTrail's userIdentity.arn", got.Actor, adminARN},
		{"changes", got.Changes, want},
		{"reason names the version", got.Reason, fmt.Sprintf("settings version 2 of %s", name)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

// jsonOf is v as the settings.changed diff renders a field: compact JSON.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
