package model_test

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/model"
	"github.com/aws/smithy-go/encoding/cbor"
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
		// Two operations on one path, told apart by the template's literal
		// query (Lambda API Reference: ListProvisionedConcurrencyConfigs is
		// GET …/provisioned-concurrency?List=ALL).
		{"restJson1 path without the literal query", "lambda", "GET", "/2019-09-30/functions/hello/provisioned-concurrency?Qualifier=live", "", "", "", "GetProvisionedConcurrencyConfig", nil},
		{"restJson1 literal query", "lambda", "GET", "/2019-09-30/functions/hello/provisioned-concurrency?List=ALL", "", "", "", "ListProvisionedConcurrencyConfigs", nil},
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

// TestInputTypedByShapeWhateverTheProtocol reads one CloudWatch
// GetMetricData request in each protocol CloudWatch serves (awsQuery sends
// every scalar as a string, awsJson numbers and epoch seconds, rpcv2Cbor a
// tagged timestamp) and checks the input reads the same, typed by the
// model's shapes, and decodes into a typed input.
func TestInputTypedByShapeWhateverTheProtocol(t *testing.T) {
	dir, err := model.DataDir()
	if err != nil {
		t.Fatalf("AWS API models (botocore) are required: %v", err)
	}
	svc, err := model.New(dir).Service("monitoring")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	cborBody := cbor.Encode(cbor.Map{
		"StartTime":     &cbor.Tag{ID: 1, Value: cbor.Float64(float64(start.Unix()))},
		"MaxDatapoints": cbor.Uint(5),
		"MetricDataQueries": cbor.List{cbor.Map{"Id": cbor.String("e"), "ReturnData": cbor.Bool(false),
			"MetricStat": cbor.Map{"Period": cbor.Uint(60), "Stat": cbor.String("Sum")}}},
	})
	cases := []struct {
		name, path, target, contentType string
		body                            []byte
	}{
		{"awsQuery", "/", "", "application/x-www-form-urlencoded", []byte("Action=GetMetricData&Version=2010-08-01&StartTime=2026-12-08T01%3A00%3A00Z&MaxDatapoints=5" +
			"&MetricDataQueries.member.1.Id=e&MetricDataQueries.member.1.ReturnData=false&MetricDataQueries.member.1.MetricStat.Period=60&MetricDataQueries.member.1.MetricStat.Stat=Sum")},
		{"awsJson1_0", "/", svc.TargetPrefix + ".GetMetricData", "application/x-amz-json-1.0",
			[]byte(fmt.Sprintf(`{"StartTime":%d,"MaxDatapoints":5,"MetricDataQueries":[{"Id":"e","ReturnData":false,"MetricStat":{"Period":60,"Stat":"Sum"}}]}`, start.Unix()))},
		{"rpcv2Cbor", "/service/" + svc.TargetPrefix + "/operation/GetMetricData", "", "application/cbor", cborBody},
	}
	type typedInput struct {
		StartTime         *time.Time
		MaxDatapoints     int32
		MetricDataQueries []struct {
			Id         string
			ReturnData *bool
			MetricStat struct {
				Period int32
				Stat   string
			}
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", tc.path, bytes.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.contentType)
			if tc.target != "" {
				r.Header.Set("X-Amz-Target", tc.target)
			}
			req, err := svc.Read(r, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			q := req.Input["MetricDataQueries"].([]any)[0].(map[string]any)
			got := fmt.Sprintf("%T %T %T %T", req.Input["StartTime"], req.Input["MaxDatapoints"], q["ReturnData"], q["MetricStat"].(map[string]any)["Period"])
			if want := "time.Time int64 bool int64"; got != want {
				t.Errorf("input scalars typed %s, want %s", got, want)
			}
			var in typedInput
			if err := req.Decode(&in); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if in.StartTime == nil || !in.StartTime.Equal(start) || in.MaxDatapoints != 5 || len(in.MetricDataQueries) != 1 ||
				in.MetricDataQueries[0].ReturnData == nil || *in.MetricDataQueries[0].ReturnData || in.MetricDataQueries[0].MetricStat.Period != 60 {
				t.Errorf("decoded %+v, want StartTime %s, MaxDatapoints 5, one query with ReturnData false and Period 60", in, start)
			}
		})
	}
}

// TestDecodeNamesTheMemberOfTheWrongType: a member the model could not
// type (a query string that is no integer) is refused naming it.
func TestDecodeNamesTheMemberOfTheWrongType(t *testing.T) {
	dir, err := model.DataDir()
	if err != nil {
		t.Fatalf("AWS API models (botocore) are required: %v", err)
	}
	svc, err := model.New(dir).Service("monitoring")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, form, want string
	}{
		{"integer", "Action=GetMetricData&MaxDatapoints=many", "input.MaxDatapoints: cannot use string as int32"},
		{"boolean", "Action=GetMetricData&MetricDataQueries.member.1.ReturnData=maybe", "input.MetricDataQueries.ReturnData: cannot use string as bool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req, err := svc.Read(r, []byte(tt.form))
			if err != nil {
				t.Fatal(err)
			}
			var in struct {
				MaxDatapoints     int32
				MetricDataQueries []struct{ ReturnData bool }
			}
			if err := req.Decode(&in); err == nil || err.Error() != tt.want {
				t.Errorf("Decode = %v, want %q", err, tt.want)
			}
		})
	}
}
