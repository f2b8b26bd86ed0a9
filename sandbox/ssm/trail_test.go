package ssmsvc

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sync"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

type emitted struct {
	source, detailType string
	detail             map[string]any
}

type recordingBus struct {
	mu     sync.Mutex
	events []emitted
}

func (b *recordingBus) EmitServiceEvent(source, detailType, detail string, _ []string) (string, error) {
	var d map[string]any
	if err := json.Unmarshal([]byte(detail), &d); err != nil {
		return "", err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, emitted{source, detailType, d})
	return "id", nil
}

// asCaller serves svc as the sandbox does: with the signer of each
// request on its context.
func asCaller(svc http.Handler, c core.Caller) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc.ServeHTTP(w, r.WithContext(core.WithCaller(r.Context(), c)))
	})
}

func TestPutParameterEmitsCloudTrailEvent(t *testing.T) {
	// Each successful PutParameter API call reaches the default bus as
	// CloudTrail delivers it ("AWS service events delivered via AWS
	// CloudTrail", Amazon EventBridge User Guide): source aws.ssm,
	// detail-type "AWS API Call via CloudTrail", the caller in
	// userIdentity, the name in requestParameters, the version written in
	// responseElements — never the value. A refused call and the sandbox's
	// own deployment write emit nothing here.
	ctx := context.Background()
	svc, bus := New(nil), &recordingBus{}
	svc.SetEventBus(bus)
	operator := core.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::000000000000:assumed-role/aliasflow-operators/aliasflow-operator", AccessKeyID: "aliasflow-operator", UserAgent: "aws-cli/2", SourceIP: "127.0.0.1"}
	c := ssm.NewFromConfig(servicetest.Config(t, "ssm", asCaller(svc, operator)))
	const name = "/aliasflow/aliasflow/targets/hello"
	if _, err := svc.PutParameter(name, `{"function":"hello"}`, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(`{"function":"hello","approvers":["x@example.com"]}`), Overwrite: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("refused")}); err == nil {
		t.Fatal("a write without Overwrite succeeded")
	}
	cases := []struct {
		name string
		got  func(e emitted) any
		want any
	}{
		{"source", func(e emitted) any { return e.source }, "aws.ssm"},
		{"detail-type", func(e emitted) any { return e.detailType }, "AWS API Call via CloudTrail"},
		{"eventSource and eventName", func(e emitted) any { return []any{e.detail["eventSource"], e.detail["eventName"]} }, []any{"ssm.amazonaws.com", "PutParameter"}},
		{"userIdentity", func(e emitted) any { return e.detail["userIdentity"] },
			map[string]any{"type": "AssumedRole", "arn": operator.ARN, "accountId": core.Account, "accessKeyId": "aliasflow-operator", "principalId": "aliasflow-operator"}},
		{"requestParameters carry no value", func(e emitted) any { return e.detail["requestParameters"] }, map[string]any{"name": name, "overwrite": true}},
		{"responseElements", func(e emitted) any { return e.detail["responseElements"] }, map[string]any{"version": float64(2), "tier": "Standard"}},
		{"caller's address and agent", func(e emitted) any { return []any{e.detail["sourceIPAddress"], e.detail["userAgent"]} }, []any{"127.0.0.1", "aws-cli/2"}},
	}
	if len(bus.events) != 1 {
		t.Fatalf("events emitted = %d (%+v), want 1: the API write only", len(bus.events), bus.events)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.got(bus.events[0]); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s = %#v, want %#v", tc.name, got, tc.want)
			}
		})
	}
}

func TestGetParameterHistory(t *testing.T) {
	// GetParameterHistory lists every version, oldest first, in pages of
	// MaxResults (at most 50) with a NextToken, each with the user who
	// wrote it (SSM API reference, GetParameterHistory).
	ctx := context.Background()
	svc := New(nil)
	operator := core.Caller{Type: "IAMUser", ARN: "arn:aws:iam::000000000000:user/ana", AccessKeyID: "ana"}
	c := ssm.NewFromConfig(servicetest.Config(t, "ssm", asCaller(svc, operator)))
	const name = "/aliasflow/aliasflow/targets/hello"
	values := []string{"one", "two", "three"}
	for i, v := range values {
		if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(v), Type: types.ParameterTypeString, Overwrite: aws.Bool(i > 0)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	in := &ssm.GetParameterHistoryInput{Name: aws.String(name), MaxResults: aws.Int32(2)}
	for page := 0; page < 5; page++ {
		out, err := c.GetParameterHistory(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range out.Parameters {
			got = append(got, aws.ToString(p.Value)+"@"+aws.ToString(p.LastModifiedUser))
			if p.Version != int64(len(got)) {
				t.Errorf("version of %s = %d, want %d", aws.ToString(p.Value), p.Version, len(got))
			}
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	want := []string{"one@" + operator.ARN, "two@" + operator.ARN, "three@" + operator.ARN}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("history = %v, want %v", got, want)
	}
	cases := []struct {
		name string
		in   *ssm.GetParameterHistoryInput
	}{
		{"a missing parameter", &ssm.GetParameterHistoryInput{Name: aws.String("/aliasflow/aliasflow/targets/none")}},
		{"MaxResults over 50", &ssm.GetParameterHistoryInput{Name: aws.String(name), MaxResults: aws.Int32(51)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.GetParameterHistory(ctx, tc.in); err == nil {
				t.Errorf("GetParameterHistory succeeded, want an error")
			}
		})
	}
}
