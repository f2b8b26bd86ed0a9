package model_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/model"
)

func TestMissingModelsFailLoudly(t *testing.T) {
	t.Setenv(model.DataDirEnv, t.TempDir()+"/nowhere")
	if _, err := model.DataDir(); err == nil || !strings.Contains(err.Error(), model.DataDirEnv) {
		t.Errorf("DataDir with %s pointing nowhere: %v, want an error naming it", model.DataDirEnv, err)
	}
	empty := t.TempDir()
	if _, err := model.New(empty).Service("lambda"); err == nil || !strings.Contains(err.Error(), "lambda") {
		t.Errorf("Service(lambda) from an empty data dir: %v, want an error naming the service", err)
	}
}

// TestReadAndValidate reads requests in each protocol against AWS's models
// and checks the violations named.
func TestReadAndValidate(t *testing.T) {
	dir, err := model.DataDir()
	if err != nil {
		t.Fatalf("AWS API models (botocore) are required: %v", err)
	}
	ms := model.New(dir)
	cases := []struct {
		name, service, method, path, target, contentType, body string
		wantOp                                                 string
		want                                                   []string // violation paths, in order
	}{
		{"restJson1 labels and body", "lambda", "PUT", "/2015-03-31/functions/bad%20name/aliases/prod", "", "application/json", `{"FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{"2":1.5}}}`,
			"UpdateAlias", []string{"functionName", "routingConfig.additionalVersionWeights.2.value"}},
		{"restJson1 query string", "lambda", "GET", "/2015-03-31/functions/hello/aliases", "", "", "", "ListAliases", nil},
		{"restJson1 literal segments win over labels", "lambda", "GET", "/2015-03-31/functions/hello/configuration", "", "", "", "GetFunctionConfiguration", nil},
		// Two operations share GET …/provisioned-concurrency; the model's
		// "?List=ALL" literal tells them apart.
		{"restJson1 without the query literal", "lambda", "GET", "/2019-09-30/functions/hello/provisioned-concurrency", "", "", "", "GetProvisionedConcurrencyConfig", []string{"qualifier"}},
		{"restJson1 query literal", "lambda", "GET", "/2019-09-30/functions/hello/provisioned-concurrency?List=ALL&MaxItems=51", "", "", "", "ListProvisionedConcurrencyConfigs", []string{"maxItems"}},
		{"awsJson required and range", "states", "POST", "/", "AWSStepFunctions.GetExecutionHistory", "application/x-amz-json-1.0", `{"maxResults":1001}`,
			"GetExecutionHistory", []string{"executionArn", "maxResults"}},
		{"awsJson enum", "states", "POST", "/", "AWSStepFunctions.ListExecutions", "application/x-amz-json-1.0", `{"stateMachineArn":"arn:aws:states:us-east-1:000000000000:stateMachine:m","statusFilter":"DONE"}`,
			"ListExecutions", []string{"statusFilter"}},
		{"awsQuery form", "sns", "POST", "/", "", "application/x-www-form-urlencoded", "Action=Publish&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.StringValue=x",
			"Publish", []string{"message", "messageAttributes.a.value.dataType"}},
		{"unknown operation is left to the service", "states", "POST", "/", "AWSStepFunctions.Nope", "application/x-amz-json-1.0", `{}`, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc, err := ms.Service(tc.service)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.target != "" {
				r.Header.Set("X-Amz-Target", tc.target)
			}
			r.Header.Set("Content-Type", tc.contentType)
			req, err := svc.Read(r, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			gotOp := ""
			if req.Operation != nil {
				gotOp = req.Operation.Name
			}
			if gotOp != tc.wantOp {
				t.Fatalf("operation = %q, want %q", gotOp, tc.wantOp)
			}
			var got []string
			for _, v := range req.Validate() {
				got = append(got, v.Path)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("violations at %v, want %v (%+v)", got, tc.want, req.Validate())
			}
		})
	}
}
