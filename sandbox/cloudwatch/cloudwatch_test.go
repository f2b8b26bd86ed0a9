package cwsvc

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func newTestClient(t *testing.T, svc *Service) *cloudwatch.Client {
	t.Helper()
	return cloudwatch.NewFromConfig(servicetest.Config(t, "monitoring", svc))
}

func prodDims(version string) []types.Dimension {
	return []types.Dimension{
		{Name: aws.String("FunctionName"), Value: aws.String("hello")},
		{Name: aws.String("Resource"), Value: aws.String("hello:prod")},
		{Name: aws.String("ExecutedVersion"), Value: aws.String(version)},
	}
}

func sumQuery(id, metric string, dims []types.Dimension) types.MetricDataQuery {
	return types.MetricDataQuery{
		Id: aws.String(id),
		MetricStat: &types.MetricStat{
			Metric: &types.Metric{Namespace: aws.String("AWS/Lambda"), MetricName: aws.String(metric), Dimensions: dims},
			Period: aws.Int32(60),
			Stat:   aws.String("Sum"),
		},
		ReturnData: aws.Bool(true),
	}
}

// seedInvocations records a weighted prod alias at work: version 1 serves
// most calls without errors, version 2 fails one call in three; plus a
// direct call of $LATEST.
func seedInvocations(svc *Service) {
	for i := range 9 {
		at := t0.Add(time.Duration(i) * 20 * time.Second) // three minutes, three calls a minute
		svc.RecordInvocation("hello", "hello:prod", "1", false, 12*time.Millisecond, at)
		svc.RecordInvocation("hello", "hello:prod", "2", i%3 == 0, 30*time.Millisecond, at.Add(time.Second))
	}
	svc.RecordInvocation("hello", "hello", "$LATEST", true, time.Millisecond, t0)
}

func TestMetricsDerivedFromInvocations(t *testing.T) {
	svc := New(&Options{Now: func() time.Time { return t0.Add(10 * time.Minute) }})
	seedInvocations(svc)
	c := newTestClient(t, svc)
	tests := []struct {
		name       string
		query      types.MetricDataQuery
		wantValues []float64 // newest first
	}{
		{"v2 errors per minute", sumQuery("errors", "Errors", prodDims("2")), []float64{1, 1, 1}},
		{"v2 invocations", sumQuery("invocations", "Invocations", prodDims("2")), []float64{3, 3, 3}},
		{"v1 errors", sumQuery("v1errors", "Errors", prodDims("1")), []float64{0, 0, 0}},
		{"alias across versions", sumQuery("alias", "Invocations", prodDims("")[:2]), []float64{6, 6, 6}},
		{"function as a whole", sumQuery("fn", "Invocations", prodDims("")[:1]), []float64{6, 6, 7}},
		{"function errors", sumQuery("fnerr", "Errors", prodDims("")[:1]), []float64{1, 1, 2}},
		{"no such version", sumQuery("v9", "Invocations", prodDims("9")), []float64{}},
		{"duration average", func() types.MetricDataQuery {
			q := sumQuery("dur", "Duration", prodDims("2"))
			q.MetricStat.Stat = aws.String("Average")
			return q
		}(), []float64{30, 30, 30}},
		{"sample count over three minutes", func() types.MetricDataQuery {
			q := sumQuery("count", "Invocations", prodDims("1"))
			q.MetricStat.Stat, q.MetricStat.Period = aws.String("SampleCount"), aws.Int32(180)
			return q
		}(), []float64{9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
				StartTime: aws.Time(t0), EndTime: aws.Time(t0.Add(5 * time.Minute)), MetricDataQueries: []types.MetricDataQuery{tt.query},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.MetricDataResults) != 1 {
				t.Fatalf("results = %+v", out.MetricDataResults)
			}
			r := out.MetricDataResults[0]
			if aws.ToString(r.Id) != aws.ToString(tt.query.Id) || r.StatusCode != types.StatusCodeComplete {
				t.Errorf("result = %+v", r)
			}
			if len(r.Values) != len(tt.wantValues) || len(r.Timestamps) != len(r.Values) {
				t.Fatalf("values = %v at %v, want %v", r.Values, r.Timestamps, tt.wantValues)
			}
			for i := range r.Values {
				if r.Values[i] != tt.wantValues[i] {
					t.Errorf("values = %v, want %v", r.Values, tt.wantValues)
				}
				if i > 0 && !r.Timestamps[i].Before(r.Timestamps[i-1]) {
					t.Errorf("timestamps %v are not newest first", r.Timestamps)
				}
			}
		})
	}
}

func TestGetMetricDataAscendingAndHiddenQueries(t *testing.T) {
	svc := New(nil)
	seedInvocations(svc)
	c := newTestClient(t, svc)
	hidden := sumQuery("hidden", "Errors", prodDims("2"))
	hidden.ReturnData = aws.Bool(false)
	out, err := c.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(t0.Add(time.Minute)), EndTime: aws.Time(t0.Add(3 * time.Minute)), ScanBy: types.ScanByTimestampAscending,
		MetricDataQueries: []types.MetricDataQuery{sumQuery("inv", "Invocations", prodDims("2")), hidden},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.MetricDataResults) != 1 {
		t.Fatalf("results = %+v, want only the returned query", out.MetricDataResults)
	}
	r := out.MetricDataResults[0]
	want := []time.Time{t0.Add(time.Minute), t0.Add(2 * time.Minute)}
	if len(r.Timestamps) != 2 || !r.Timestamps[0].Equal(want[0]) || !r.Timestamps[1].Equal(want[1]) || aws.ToString(r.Label) != "Invocations" {
		t.Errorf("result = %+v, want timestamps %v (start inclusive, end exclusive, oldest first)", r, want)
	}
}

// putErrorsAlarm sets an alarm up through the Go API, as the worlds do
// (nothing in the project calls PutMetricAlarm).
func putErrorsAlarm(t *testing.T, svc *Service, name string) {
	t.Helper()
	err := svc.PutMetricAlarm(PutMetricAlarmInput{
		AlarmName: name, Namespace: "AWS/Lambda", MetricName: "Errors",
		Dimensions: []Dimension{{"FunctionName", "hello"}, {"Resource", "hello:prod"}}, Statistic: "Sum", Period: 60, EvaluationPeriods: 1,
		Threshold: aws.Float64(1), ComparisonOperator: "GreaterThanOrEqualToThreshold", TreatMissingData: "notBreaching",
	})
	if err != nil {
		t.Fatalf("PutMetricAlarm %s: %v", name, err)
	}
}

func TestAlarms(t *testing.T) {
	ctx := context.Background()
	now := t0
	svc := New(&Options{Now: func() time.Time { return now }})
	c := newTestClient(t, svc)
	putErrorsAlarm(t, svc, "hello-prod-errors")
	putErrorsAlarm(t, svc, "other-alarm")

	// The shift's call: both alarm types, by name.
	out, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"hello-prod-errors", "missing"},
		AlarmTypes: []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.MetricAlarms) != 1 || out.CompositeAlarms == nil || len(out.CompositeAlarms) != 0 {
		t.Fatalf("DescribeAlarms = %+v", out)
	}
	a := out.MetricAlarms[0]
	if aws.ToString(a.AlarmName) != "hello-prod-errors" || a.StateValue != types.StateValueInsufficientData ||
		aws.ToString(a.AlarmArn) != "arn:aws:cloudwatch:us-east-1:000000000000:alarm:hello-prod-errors" ||
		!aws.ToTime(a.StateUpdatedTimestamp).Equal(t0) || aws.ToFloat64(a.Threshold) != 1 || len(a.Dimensions) != 2 ||
		a.ComparisonOperator != types.ComparisonOperatorGreaterThanOrEqualToThreshold || aws.ToInt32(a.Period) != 60 {
		t.Errorf("alarm = %+v", a)
	}

	now = t0.Add(time.Minute)
	if _, err := c.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("hello-prod-errors"),
		StateValue: types.StateValueAlarm, StateReason: aws.String("rehearsal: operator forced ALARM")}); err != nil {
		t.Fatal(err)
	}
	inAlarm, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{StateValue: types.StateValueAlarm})
	if err != nil {
		t.Fatal(err)
	}
	if len(inAlarm.MetricAlarms) != 1 || aws.ToString(inAlarm.MetricAlarms[0].StateReason) != "rehearsal: operator forced ALARM" ||
		!aws.ToTime(inAlarm.MetricAlarms[0].StateUpdatedTimestamp).Equal(now) {
		t.Errorf("alarms in ALARM = %+v", inAlarm.MetricAlarms)
	}

	page1, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(1)})
	if err != nil || len(page1.MetricAlarms) != 1 || aws.ToString(page1.NextToken) == "" {
		t.Fatalf("page 1 = %+v, %v", page1, err)
	}
	page2, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(1), NextToken: page1.NextToken})
	if err != nil || len(page2.MetricAlarms) != 1 || aws.ToString(page2.MetricAlarms[0].AlarmName) != "other-alarm" || page2.NextToken != nil {
		t.Fatalf("page 2 = %+v, %v", page2, err)
	}

	snap, err := svc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := New(nil)
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if got, ok := restored.Alarm("hello-prod-errors"); !ok || got.StateValue != StateAlarm {
		t.Errorf("restored alarm = %+v, %v", got, ok)
	}
}

func TestEvaluateAlarms(t *testing.T) {
	tests := []struct {
		name      string
		failures  int
		treat     string
		at        time.Duration
		wantState string
	}{
		{"errors breach", 2, "missing", 90*time.Second + DefaultMetricDelay, StateAlarm},
		{"errors not yet published", 2, "missing", 90 * time.Second, StateInsufficientData},
		{"no errors", 0, "missing", 90*time.Second + DefaultMetricDelay, StateOK},
		{"no data, missing", -1, "missing", 90*time.Second + DefaultMetricDelay, StateInsufficientData},
		{"no data, notBreaching", -1, "notBreaching", 90*time.Second + DefaultMetricDelay, StateOK},
		{"no data, breaching", -1, "breaching", 90*time.Second + DefaultMetricDelay, StateAlarm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := New(&Options{Now: func() time.Time { return t0 }})
			if err := svc.PutMetricAlarm(PutMetricAlarmInput{AlarmName: "a", Namespace: "AWS/Lambda", MetricName: "Errors",
				Dimensions: []Dimension{{"FunctionName", "hello"}, {"Resource", "hello:prod"}}, Statistic: "Sum", Period: 60,
				EvaluationPeriods: 1, Threshold: aws.Float64(1), ComparisonOperator: "GreaterThanOrEqualToThreshold", TreatMissingData: tt.treat}); err != nil {
				t.Fatal(err)
			}
			if tt.failures >= 0 {
				svc.RecordInvocation("hello", "hello:prod", "2", false, time.Millisecond, t0.Add(10*time.Second))
				for i := range tt.failures {
					svc.RecordInvocation("hello", "hello:prod", "2", true, time.Millisecond, t0.Add(time.Duration(20+i)*time.Second))
				}
			}
			svc.EvaluateAlarms(t0.Add(tt.at))
			if got, _ := svc.Alarm("a"); got.StateValue != tt.wantState {
				t.Errorf("state = %s (%s), want %s", got.StateValue, got.StateReason, tt.wantState)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	svc := New(nil)
	c := newTestClient(t, svc)
	putErrorsAlarm(t, svc, "exists")
	tests := []struct {
		name       string
		call       func() error
		check      func(error) bool
		wantCode   string
		wantStatus int
	}{
		{"set state of missing alarm", func() error {
			_, err := c.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("nope"), StateValue: types.StateValueAlarm, StateReason: aws.String("r")})
			return err
		}, func(err error) bool { var e *types.ResourceNotFound; return errors.As(err, &e) }, "ResourceNotFound", 404},
		{"state reason data not json", func() error {
			_, err := c.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("exists"), StateValue: types.StateValueAlarm, StateReason: aws.String("r"), StateReasonData: aws.String("{")})
			return err
		}, func(err error) bool { var e *types.InvalidFormatFault; return errors.As(err, &e) }, "InvalidFormat", 400},
		{"names and prefix", func() error {
			_, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"a"}, AlarmNamePrefix: aws.String("a")})
			return err
		}, func(err error) bool { var e *types.InvalidParameterCombinationException; return errors.As(err, &e) }, "InvalidParameterCombination", 400},
		{"start after end", func() error {
			_, err := c.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(t0), EndTime: aws.Time(t0),
				MetricDataQueries: []types.MetricDataQuery{sumQuery("a", "Errors", nil)}})
			return err
		}, func(err error) bool { return true }, "ValidationError", 400},
		{"bad query id", func() error {
			_, err := c.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(t0), EndTime: aws.Time(t0.Add(time.Hour)),
				MetricDataQueries: []types.MetricDataQuery{sumQuery("Errors", "Errors", nil)}})
			return err
		}, func(err error) bool { return true }, "ValidationError", 400},
		{"percentile stat", func() error {
			q := sumQuery("a", "Duration", nil)
			q.MetricStat.Stat = aws.String("p99")
			_, err := c.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(t0), EndTime: aws.Time(t0.Add(time.Hour)), MetricDataQueries: []types.MetricDataQuery{q}})
			return err
		}, func(err error) bool { var e *types.InvalidParameterValueException; return errors.As(err, &e) }, "InvalidParameterValue", 400},
		{"math expression", func() error {
			_, err := c.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(t0), EndTime: aws.Time(t0.Add(time.Hour)),
				MetricDataQueries: []types.MetricDataQuery{{Id: aws.String("e"), Expression: aws.String("m1/m2")}}})
			return err
		}, func(err error) bool { var e *types.InvalidParameterValueException; return errors.As(err, &e) }, "InvalidParameterValue", 400},
		// Alarms are set up through the Go API: nothing in the project
		// calls these, so they are refused, named.
		{"PutMetricAlarm not served", func() error {
			_, err := c.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("x"), Namespace: aws.String("n"), MetricName: aws.String("m"),
				Statistic: types.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1), ComparisonOperator: types.ComparisonOperatorGreaterThanThreshold})
			return err
		}, func(err error) bool { return strings.Contains(err.Error(), "PutMetricAlarm") }, "InvalidAction", 400},
		{"DeleteAlarms not served", func() error {
			_, err := c.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"exists"}})
			return err
		}, func(err error) bool { return strings.Contains(err.Error(), "DeleteAlarms") }, "InvalidAction", 400},
		{"GetMetricStatistics not served", func() error {
			_, err := c.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("Errors"),
				StartTime: aws.Time(t0), EndTime: aws.Time(t0.Add(time.Hour)), Period: aws.Int32(60), Statistics: []types.Statistic{types.StatisticSum}})
			return err
		}, func(err error) bool { return strings.Contains(err.Error(), "GetMetricStatistics") }, "InvalidAction", 400},
		{"unknown operation", func() error {
			_, err := c.ListMetrics(ctx, &cloudwatch.ListMetricsInput{})
			return err
		}, func(err error) bool { return strings.Contains(err.Error(), "ListMetrics") }, "InvalidAction", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !tt.check(err) {
				t.Fatalf("err = %v, not the expected error", err)
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.wantCode {
				t.Errorf("err = %v, want code %s", err, tt.wantCode)
			}
			servicetest.WantStatus(t, err, tt.wantStatus)
		})
	}
	// The Go API refuses an alarm without a threshold as the operation did.
	err := svc.PutMetricAlarm(PutMetricAlarmInput{AlarmName: "x", Namespace: "n", MetricName: "m", Statistic: "Sum", Period: 60,
		EvaluationPeriods: 1, ComparisonOperator: "GreaterThanThreshold"})
	if e := asAPIError(err); err == nil || e.code != "MissingParameter" || e.status != 400 {
		t.Errorf("PutMetricAlarm without a threshold: %v, want MissingParameter", err)
	}
}

// The AWS CLI 2.9 speaks awsQuery to CloudWatch: form in, XML out.
func TestQueryProtocol(t *testing.T) {
	// Read once the seeded minutes are published.
	svc := New(&Options{Now: func() time.Time { return t0.Add(10 * time.Minute) }})
	seedInvocations(svc)
	srv := servicetest.Server(t, "monitoring", svc)
	post := func(form url.Values) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261121/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if err := svc.PutMetricAlarm(PutMetricAlarmInput{AlarmName: "hello-prod-errors", Namespace: "AWS/Lambda", MetricName: "Errors",
		Statistic: "Sum", Period: 60, EvaluationPeriods: 1, Threshold: aws.Float64(1), ComparisonOperator: "GreaterThanOrEqualToThreshold",
		Dimensions: []Dimension{{"FunctionName", "hello"}}}); err != nil {
		t.Fatal(err)
	}
	status, body := post(url.Values{"Action": {"SetAlarmState"}, "Version": {"2010-08-01"}, "AlarmName": {"hello-prod-errors"},
		"StateValue": {"ALARM"}, "StateReason": {"cli"}})
	if status != 200 || !strings.Contains(string(body), "<SetAlarmStateResponse") {
		t.Fatalf("SetAlarmState: %d %s", status, body)
	}
	status, body = post(url.Values{"Action": {"DescribeAlarms"}, "Version": {"2010-08-01"}, "AlarmNames.member.1": {"hello-prod-errors"}})
	var described struct {
		Alarms []struct {
			AlarmName, StateValue, StateReason string
			Dimensions                         []struct{ Name, Value string } `xml:"Dimensions>member"`
		} `xml:"DescribeAlarmsResult>MetricAlarms>member"`
	}
	if err := xml.Unmarshal(body, &described); err != nil || status != 200 {
		t.Fatalf("DescribeAlarms: %d %s (%v)", status, body, err)
	}
	if len(described.Alarms) != 1 || described.Alarms[0].StateValue != "ALARM" || described.Alarms[0].StateReason != "cli" ||
		len(described.Alarms[0].Dimensions) != 1 || described.Alarms[0].Dimensions[0].Value != "hello" {
		t.Errorf("DescribeAlarms = %+v", described)
	}
	status, body = post(url.Values{"Action": {"GetMetricData"}, "Version": {"2010-08-01"},
		"StartTime": {t0.Format(time.RFC3339)}, "EndTime": {t0.Add(5 * time.Minute).Format(time.RFC3339)},
		"MetricDataQueries.member.1.Id":                                          {"errors"},
		"MetricDataQueries.member.1.MetricStat.Metric.Namespace":                 {"AWS/Lambda"},
		"MetricDataQueries.member.1.MetricStat.Metric.MetricName":                {"Errors"},
		"MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name":  {"FunctionName"},
		"MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value": {"hello"},
		"MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.2.Name":  {"Resource"},
		"MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.2.Value": {"hello:prod"},
		"MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.3.Name":  {"ExecutedVersion"},
		"MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.3.Value": {"2"},
		"MetricDataQueries.member.1.MetricStat.Period":                           {"300"},
		"MetricDataQueries.member.1.MetricStat.Stat":                             {"Sum"},
	})
	var data struct {
		Results []struct {
			Id         string
			Timestamps []time.Time `xml:"Timestamps>member"`
			Values     []float64   `xml:"Values>member"`
		} `xml:"GetMetricDataResult>MetricDataResults>member"`
	}
	if err := xml.Unmarshal(body, &data); err != nil || status != 200 {
		t.Fatalf("GetMetricData: %d %s (%v)", status, body, err)
	}
	if len(data.Results) != 1 || len(data.Results[0].Values) != 1 || data.Results[0].Values[0] != 3 || !data.Results[0].Timestamps[0].Equal(t0) {
		t.Errorf("GetMetricData = %+v, want 3 errors at %v", data, t0)
	}
	status, body = post(url.Values{"Action": {"SetAlarmState"}, "Version": {"2010-08-01"}, "AlarmName": {"nope"}, "StateValue": {"OK"}, "StateReason": {"r"}})
	var errResp struct {
		Code string `xml:"Error>Code"`
	}
	if err := xml.Unmarshal(body, &errResp); err != nil || status != 404 || errResp.Code != "ResourceNotFound" {
		t.Errorf("missing alarm over query: %d %s", status, body)
	}
	status, body = post(url.Values{"Action": {"ListMetrics"}, "Version": {"2010-08-01"}})
	if status != 400 || !strings.Contains(string(body), "InvalidAction") {
		t.Errorf("unknown action over query: %d %s", status, body)
	}
}

// Recent botocore speaks awsJson1_0 to CloudWatch (X-Amz-Target
// GraniteServiceVersion20100801.<Op>, timestamps as epoch seconds).
func TestJSONProtocol(t *testing.T) {
	svc := New(&Options{Now: func() time.Time { return t0 }})
	if err := svc.PutMetricAlarm(PutMetricAlarmInput{AlarmName: "a", Namespace: "AWS/Lambda", MetricName: "Errors", Statistic: "Sum",
		Period: 60, EvaluationPeriods: 1, Threshold: aws.Float64(1), ComparisonOperator: "GreaterThanThreshold"}); err != nil {
		t.Fatal(err)
	}
	srv := servicetest.Server(t, "monitoring", svc)
	call := func(op, body string) (int, string, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", "GraniteServiceVersion20100801."+op)
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261121/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("X-Amzn-Query-Error"), out
	}
	status, _, out := call("DescribeAlarms", `{"AlarmNames":["a"]}`)
	alarms, _ := out["MetricAlarms"].([]any)
	if status != 200 || len(alarms) != 1 {
		t.Fatalf("DescribeAlarms = %d %v", status, out)
	}
	if got := alarms[0].(map[string]any)["StateUpdatedTimestamp"]; got != float64(t0.Unix()) {
		t.Errorf("StateUpdatedTimestamp = %v, want epoch seconds %d", got, t0.Unix())
	}
	status, queryErr, out := call("SetAlarmState", `{"AlarmName":"nope","StateValue":"OK","StateReason":"r"}`)
	if status != 404 || out["__type"] != "com.amazonaws.cloudwatch#ResourceNotFound" || queryErr != "ResourceNotFound;Sender" {
		t.Errorf("SetAlarmState of a missing alarm = %d %q %v", status, queryErr, out)
	}
}

// TestMetricPublicationDelay: a Lambda datapoint is readable only once its
// minute has ended and the publication delay passed ("Using CloudWatch
// metrics with Lambda": metrics are sent in 1-minute intervals).
func TestMetricPublicationDelay(t *testing.T) {
	now := t0
	svc := New(&Options{Now: func() time.Time { return now }, MetricDelay: 2 * time.Minute})
	svc.RecordInvocation("hello", "hello:prod", "2", true, time.Millisecond, t0.Add(10*time.Second))
	read := func() float64 {
		in := &getMetricDataInput{StartTime: aws.Time(t0.Add(-time.Hour)), EndTime: aws.Time(t0.Add(time.Hour)),
			MetricDataQueries: []MetricDataQuery{{Id: "e", MetricStat: &MetricStat{Period: 60, Stat: "Sum",
				Metric: &Metric{Namespace: "AWS/Lambda", MetricName: "Errors", Dimensions: []Dimension{{"FunctionName", "hello"}}}}}}}
		out, err := svc.getMetricData(in)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for _, v := range out.MetricDataResults[0].Values {
			sum += v
		}
		return sum
	}
	for _, tc := range []struct {
		at   time.Duration
		want float64
	}{{0, 0}, {59 * time.Second, 0}, {2*time.Minute + 59*time.Second, 0}, {3 * time.Minute, 1}} {
		now = t0.Add(tc.at)
		if got := read(); got != tc.want {
			t.Errorf("errors readable %s after the minute began = %v, want %v", tc.at, got, tc.want)
		}
	}
	if d := New(nil).delay; d != DefaultMetricDelay || d == 0 {
		t.Errorf("default delay = %s, want %s (never zero)", d, DefaultMetricDelay)
	}
}
