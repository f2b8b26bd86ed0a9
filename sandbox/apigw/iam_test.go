package apigw_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/apigw"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestIAMAuthorizedMethods: a method with AuthorizationType AWS_IAM takes
// only SigV4-signed requests ("Control access to a REST API with IAM
// permissions"); the caller the signature's access key names reaches the
// function in requestContext.identity ("Set up Lambda proxy integrations
// in API Gateway": userArn, caller, accessKey), and a caller the
// authorizer refuses execute-api:Invoke gets 403 without the function
// being invoked.
func TestIAMAuthorizedMethods(t *testing.T) {
	const methodARN = "arn:aws:execute-api:us-east-1:000000000000:approvalapi/v1/POST/decide"
	tests := []struct {
		name       string
		key        string // "" sends the request unsigned
		authorizer apigw.CallerAuthorizer
		want       int
		wantARN    string
	}{
		{name: "unsigned", want: http.StatusForbidden},
		{name: "signed, default identity", key: "alice", want: http.StatusOK, wantARN: "arn:aws:iam::000000000000:user/alice"},
		{name: "signed, authorizer names the role session", key: "AKIAOPS", want: http.StatusOK, wantARN: "arn:aws:sts::000000000000:assumed-role/oncall/ops",
			authorizer: func(key, arn string) (apigw.Caller, error) {
				if key != "AKIAOPS" || arn != methodARN {
					return apigw.Caller{}, errors.New("unexpected " + key + " " + arn)
				}
				return apigw.Caller{ARN: "arn:aws:sts::000000000000:assumed-role/oncall/ops", ID: "AROA:ops"}, nil
			}},
		{name: "signed, not allowed execute-api:Invoke", key: "mallory", want: http.StatusForbidden,
			authorizer: func(key, arn string) (apigw.Caller, error) {
				return apigw.Caller{}, errors.New("User: arn:aws:iam::000000000000:user/mallory is not authorized to perform: execute-api:Invoke on resource: " + arn)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := &fakeInvoker{result: proxy(t, 200, "ok", false)}
			r := apigw.New(inv, nil)
			if err := r.PutAPI(apigw.API{ID: "approvalapi", Methods: []apigw.Method{{HTTPMethod: "GET", Path: "/"},
				{HTTPMethod: "POST", Path: "/decide", AuthorizationType: apigw.AuthIAM}}}); err != nil {
				t.Fatal(err)
			}
			if err := r.PutStage(apigw.Stage{Name: "v1", Target: "aliasflow-approval", API: "approvalapi"}); err != nil {
				t.Fatal(err)
			}
			r.SetCallerAuthorizer(tc.authorizer)
			srv := httptest.NewServer(r)
			defer srv.Close()
			body := []byte(`{"action":"approve"}`)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/decide", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if tc.key != "" {
				sum := sha256.Sum256(body)
				if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: tc.key, SecretAccessKey: "test"}, req,
					hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, got, tc.want)
			}
			if tc.want != http.StatusOK {
				if inv.function != "" {
					t.Errorf("the function was invoked for a refused request")
				}
				return
			}
			id := inv.event.RequestContext.Identity
			if id.UserArn != tc.wantARN || id.AccessKey != tc.key || id.Caller == "" {
				t.Errorf("identity = %+v, want userArn %s and access key %s", id, tc.wantARN, tc.key)
			}
			if inv.event.Resource != "/decide" || !strings.HasPrefix(string(got), "ok") {
				t.Errorf("resource %q, body %q", inv.event.Resource, got)
			}
		})
	}
}
