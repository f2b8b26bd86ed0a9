package settings

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

func TestDiffGateFields(t *testing.T) {
	base := `{"function":"hello","strategy":{"type":"canary","percent":10,"bakeSeconds":300},"approvers":["ana@example.com"],"health":{"maxErrorRate":0.01,"onInconclusive":"rollback"}}`
	cases := []struct {
		name     string
		from, to string
		want     []audit.Change
	}{
		{"an approver added", base,
			`{"function":"hello","strategy":{"type":"canary","percent":10,"bakeSeconds":300},"approvers":["ana@example.com","bo@example.com"],"health":{"maxErrorRate":0.01,"onInconclusive":"rollback"}}`,
			[]audit.Change{{Field: "approvers", From: `["ana@example.com"]`, To: `["ana@example.com","bo@example.com"]`}}},
		{"inconclusive now promotes and a threshold moved", base,
			`{"function":"hello","strategy":{"type":"canary","percent":10,"bakeSeconds":300},"approvers":["ana@example.com"],"health":{"maxErrorRate":0.5,"onInconclusive":"promote"}}`,
			[]audit.Change{{Field: "health.maxErrorRate", From: `0.01`, To: `0.5`}, {Field: "health.onInconclusive", From: `"rollback"`, To: `"promote"`}}},
		{"principals and separation of duties", base,
			`{"function":"hello","strategy":{"type":"canary","percent":10,"bakeSeconds":300},"approvers":["ana@example.com"],"approval":{"principals":{"ana@example.com":["arn:aws:iam::123456789012:user/ana"]},"distinctFromReleaser":false},"health":{"maxErrorRate":0.01,"onInconclusive":"rollback"}}`,
			[]audit.Change{{Field: "approval.distinctFromReleaser", To: `false`}, {Field: "approval.principals", To: `{"ana@example.com":["arn:aws:iam::123456789012:user/ana"]}`}}},
		{"strategy and evidence", base,
			`{"function":"hello","strategy":{"type":"linear","percent":20,"intervalSeconds":60},"approvers":["ana@example.com"],"health":{"maxErrorRate":0.01,"onInconclusive":"rollback","probes":3,"logRuntime":"node","freshSignal":"metrics"}}`,
			[]audit.Change{{Field: "health.freshSignal", To: `"metrics"`}, {Field: "health.logRuntime", To: `"node"`}, {Field: "health.probes", To: `3`},
				{Field: "strategy", From: `{"bakeSeconds":300,"percent":10,"type":"canary"}`, To: `{"intervalSeconds":60,"percent":20,"type":"linear"}`}}},
		{"the first version: every field set is new", "", `{"function":"hello","approvers":["ana@example.com"]}`,
			[]audit.Change{{Field: "approvers", To: `["ana@example.com"]`}}},
		{"a change of no gate field", base, `{"function":"hello","strategy":{"type":"canary","percent":10,"bakeSeconds":300},"approvers":["ana@example.com"],"health":{"maxErrorRate":0.01,"onInconclusive":"rollback"},"environment":"staging"}`,
			nil},
		{"unreadable JSON is compared as a whole", base, `{not json`,
			[]audit.Change{{Field: "(document)", From: "(readable)", To: "(not JSON: invalid character 'n' looking for beginning of object key string)"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Diff(c.from, c.to); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Diff =\n%+v\nwant\n%+v", got, c.want)
			}
		})
	}
}

// fakeHistory answers GetParameterHistory from versions, oldest first, in
// pages of pageSize as the SSM API does (MaxResults, NextToken).
type fakeHistory struct {
	versions []string
	pageSize int
	calls    int
	fail     error
}

func (f *fakeHistory) GetParameterHistory(_ context.Context, in *ssm.GetParameterHistoryInput, _ ...func(*ssm.Options)) (*ssm.GetParameterHistoryOutput, error) {
	f.calls++
	if f.fail != nil {
		return nil, f.fail
	}
	start := 0
	if in.NextToken != nil {
		for start < len(f.versions) && "v"+string(rune('0'+start)) != *in.NextToken {
			start++
		}
	}
	end := min(start+f.pageSize, len(f.versions))
	out := &ssm.GetParameterHistoryOutput{}
	for i := start; i < end; i++ {
		out.Parameters = append(out.Parameters, ssmtypes.ParameterHistory{Name: in.Name, Value: aws.String(f.versions[i]), Version: int64(i + 1)})
	}
	if end < len(f.versions) {
		out.NextToken = aws.String("v" + string(rune('0'+end)))
	}
	return out, nil
}

func TestVersions(t *testing.T) {
	history := []string{"one", "two", "three", "four", "five"}
	boom := errors.New("throttled")
	cases := []struct {
		name            string
		version         int64
		fail            error
		prev, cur       string
		wantErr, hasOld bool
	}{
		{"a later version and the one before", 4, nil, "three", "four", false, true},
		{"the first version has none before", 1, nil, "", "one", false, false},
		{"a version past the history", 9, nil, "", "", true, false},
		{"a failed call", 2, boom, "", "", true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeHistory{versions: history, pageSize: 2, fail: c.fail}
			prev, hasPrev, cur, err := Versions(context.Background(), f, "/aliasflow/aliasflow/targets/hello", c.version)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if prev != c.prev || cur != c.cur || hasPrev != c.hasOld {
				t.Errorf("Versions = %q %v %q, want %q %v %q", prev, hasPrev, cur, c.prev, c.hasOld, c.cur)
			}
		})
	}
}
