package cwsvc

import (
	"context"
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
)

// productExpression is the prod alarm's expression (infra/aliasflow/target.go).
const productExpression = "IF(invocations >= 100, errors / invocations, 0)"

func TestParseMathExpr(t *testing.T) {
	vals := map[string]float64{"errors": 10, "invocations": 100, "few": 20, "zero": 0}
	lookup := func(id string) (float64, bool) {
		v, ok := vals[id]
		return v, ok
	}
	tests := []struct {
		name    string
		expr    string
		want    float64
		wantOK  bool   // the expression has a value
		wantErr string // part of the parse error, "" for none
	}{
		{"the product's rate", productExpression, 0.1, true, ""},
		{"below the call floor", "IF(few >= 100, errors / few, 0)", 0, true, ""},
		{"IF skips the branch it does not take", "IF(zero > 0, errors / zero, 7)", 7, true, ""},
		{"division by zero has no value", "errors / zero", 0, false, ""},
		{"missing metric has no value", "errors + absent", 0, false, ""},
		{"precedence", "1 + 2 * 3 - 4 / 2", 5, true, ""},
		{"parentheses", "(1 + 2) * 3", 9, true, ""},
		{"unary minus", "-errors + 15", 5, true, ""},
		{"decimal literal", "errors * 0.5", 5, true, ""},
		{"comparison true", "invocations >= 100", 1, true, ""},
		{"comparison false", "errors > 10", 0, true, ""},
		{"less or equal", "errors <= 10", 1, true, ""},
		{"less", "errors < 10", 0, true, ""},
		{"equal", "errors == 10", 1, true, ""},
		{"not equal", "errors != 10", 0, true, ""},
		{"nested IF", "IF(errors > 5, IF(few < 10, 1, 2), 3)", 2, true, ""},
		{"unsupported function", "FILL(errors, 0)", 0, false, "the function FILL is not supported by the aliasflow sandbox"},
		{"unsupported function lower-case", "abs(errors)", 0, false, "the function abs is not supported"},
		{"unsupported operator", "errors ^ 2", 0, false, "the operator ^ is not supported"},
		{"unsupported logical operator", "errors > 1 && few > 1", 0, false, "the operator && is not supported"},
		{"unsupported keyword", "errors > 1 AND few > 1", 0, false, "the keyword AND is not supported"},
		{"string literal", "SEARCH('{AWS/Lambda}', 'Sum', 60)", 0, false, "the function SEARCH is not supported"},
		{"IF with two arguments", "IF(errors > 1, 1)", 0, false, "IF takes three arguments"},
		{"unbalanced parenthesis", "(errors + 1", 0, false, `expected ")"`},
		{"trailing token", "errors 1", 0, false, `unexpected "1"`},
		{"dangling operator", "errors +", 0, false, "the expression ends"},
		{"two operators", "errors + * 2", 0, false, `unexpected "*"`},
		{"empty", "", 0, false, "the expression ends"},
		{"chained comparison", "errors > 1 > 0", 0, false, `unexpected ">"`},
		{"bad number", "1.2.3", 0, false, `"1.2.3" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := parseMathExpr(tt.expr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseMathExpr(%q) error = %v, want one containing %q", tt.expr, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseMathExpr(%q): %v", tt.expr, err)
			}
			got, ok := e.eval(lookup)
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("%q = %v, %v; want %v, %v", tt.expr, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// rateAlarm is the product's prod alarm as the synthesized template
// defines it (Metrics of PutMetricAlarm, CloudWatch API Reference).
func rateAlarm(name, expression string, threshold float64) PutMetricAlarmInput {
	stat := func(metric string) *MetricStat {
		return &MetricStat{Metric: &Metric{Namespace: "AWS/Lambda", MetricName: metric,
			Dimensions: []Dimension{{"FunctionName", "hello"}, {"Resource", "hello:prod"}}}, Period: 60, Stat: "Sum"}
	}
	return PutMetricAlarmInput{AlarmName: name, EvaluationPeriods: 1, Threshold: aws.Float64(threshold),
		ComparisonOperator: "GreaterThanOrEqualToThreshold", TreatMissingData: "notBreaching",
		Metrics: []MetricDataQuery{
			{Id: "expr_1", Expression: expression, Label: "error rate of hello:prod", ReturnData: aws.Bool(true)},
			{Id: "errors", MetricStat: stat("Errors"), ReturnData: aws.Bool(false)},
			{Id: "invocations", MetricStat: stat("Invocations"), ReturnData: aws.Bool(false)},
		}}
}

func TestMathAlarmRefused(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(in *PutMetricAlarmInput)
		wantCode string
		wantMsg  string
	}{
		{"anomaly detection threshold", func(in *PutMetricAlarmInput) { in.ThresholdMetricId = "ad1" }, "InvalidParameterValue", "ThresholdMetricId"},
		{"unsupported function", func(in *PutMetricAlarmInput) { in.Metrics[0].Expression = "FILL(errors, 0) / invocations" },
			"InvalidParameterValue", "the function FILL is not supported by the aliasflow sandbox"},
		{"unknown id", func(in *PutMetricAlarmInput) { in.Metrics[0].Expression = "errors / calls" }, "InvalidParameterValue", "refers to calls"},
		{"no ReturnData true", func(in *PutMetricAlarmInput) { in.Metrics[0].ReturnData = aws.Bool(false) }, "ValidationError", "ReturnData"},
		{"two ReturnData true", func(in *PutMetricAlarmInput) { in.Metrics[1].ReturnData = nil }, "ValidationError", "ReturnData"},
		{"metric name beside Metrics", func(in *PutMetricAlarmInput) { in.MetricName = "Errors" }, "InvalidParameterCombination", "MetricName"},
		{"duplicate id", func(in *PutMetricAlarmInput) { in.Metrics[2].Id = "errors" }, "ValidationError", "not unique"},
		{"invalid id", func(in *PutMetricAlarmInput) { in.Metrics[1].Id = "Errors" }, "ValidationError", "Errors"},
		{"both MetricStat and Expression", func(in *PutMetricAlarmInput) { in.Metrics[1].Expression = "1" }, "ValidationError", "exactly one of MetricStat and Expression"},
		{"neither MetricStat nor Expression", func(in *PutMetricAlarmInput) { in.Metrics[1].MetricStat = nil }, "MissingParameter", "Metrics.member.2"},
		{"periods differ", func(in *PutMetricAlarmInput) { in.Metrics[2].MetricStat.Period = 300 }, "InvalidParameterValue", "share one period"},
		{"bad stat", func(in *PutMetricAlarmInput) { in.Metrics[1].MetricStat.Stat = "p99" }, "InvalidParameterValue", "p99"},
		{"expressions in a cycle", func(in *PutMetricAlarmInput) {
			in.Metrics[0].Expression = "e2 + errors"
			in.Metrics = append(in.Metrics, MetricDataQuery{Id: "e2", Expression: "expr_1 * 2", ReturnData: aws.Bool(false)})
		}, "InvalidParameterValue", "cycle"},
		{"cross-account", func(in *PutMetricAlarmInput) { in.Metrics[1].AccountId = "210987654321" }, "InvalidParameterValue", "AccountId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := New(&Options{Now: func() time.Time { return t0 }})
			in := rateAlarm("rate", productExpression, 0.05)
			tt.edit(&in)
			err := svc.PutMetricAlarm(in)
			var e *apiError
			if !errors.As(err, &e) || e.code != tt.wantCode || !strings.Contains(e.msg, tt.wantMsg) {
				t.Fatalf("PutMetricAlarm error = %v, want %s naming %q", err, tt.wantCode, tt.wantMsg)
			}
			if _, ok := svc.Alarm("rate"); ok {
				t.Errorf("alarm created despite the error")
			}
		})
	}
}

// TestMathAlarmEvaluate evaluates the product's prod alarm (5 % error
// rate in minutes of at least 100 calls), each minute on its own, over
// EvaluationPeriods and DatapointsToAlarm as metric alarms are.
func TestMathAlarmEvaluate(t *testing.T) {
	type minute struct{ calls, errors int }
	published := func(n int) time.Duration { return time.Duration(n)*time.Minute + DefaultMetricDelay }
	tests := []struct {
		name             string
		minutes          []minute // from t0 on, one a minute
		periods, toAlarm int32
		treat            string
		at               time.Duration
		wantState        string
	}{
		{"10 % of 200 calls", []minute{{200, 20}}, 1, 0, "notBreaching", published(1), StateAlarm},
		{"10 % of 100 calls, at the floor", []minute{{100, 10}}, 1, 0, "notBreaching", published(1), StateAlarm},
		{"0.1 % of 1000 calls", []minute{{1000, 1}}, 1, 0, "notBreaching", published(1), StateOK},
		{"5 errors in 20 calls, below the floor", []minute{{20, 5}}, 1, 0, "notBreaching", published(1), StateOK},
		{"10 % not yet published, missing", []minute{{200, 20}}, 1, 0, "missing", time.Minute, StateInsufficientData},
		{"no calls, notBreaching", nil, 1, 0, "notBreaching", published(1), StateOK},
		{"no calls, missing", nil, 1, 0, "missing", published(1), StateInsufficientData},
		{"no calls, breaching", nil, 1, 0, "breaching", published(1), StateAlarm},
		{"2 of 3 minutes at 10 %", []minute{{200, 20}, {1000, 1}, {200, 20}}, 3, 2, "notBreaching", published(3), StateAlarm},
		{"1 of 3 minutes at 10 %", []minute{{200, 20}, {1000, 1}, {1000, 1}}, 3, 2, "notBreaching", published(3), StateOK},
		{"3 of 3 needed, 2 breach", []minute{{200, 20}, {1000, 1}, {200, 20}}, 3, 0, "notBreaching", published(3), StateOK},
		{"a quiet minute counts as breaching", []minute{{200, 20}, {0, 0}, {1000, 1}}, 3, 2, "breaching", published(3), StateAlarm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := New(&Options{Now: func() time.Time { return t0 }})
			in := rateAlarm("rate", productExpression, 0.05)
			in.TreatMissingData, in.EvaluationPeriods, in.DatapointsToAlarm = tt.treat, tt.periods, tt.toAlarm
			if err := svc.PutMetricAlarm(in); err != nil {
				t.Fatal(err)
			}
			for m, mm := range tt.minutes {
				// The calls spread over their minute, errors first.
				for i := range mm.calls {
					at := t0.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Minute/time.Duration(mm.calls))
					svc.RecordInvocation("hello", "hello:prod", "2", i < mm.errors, time.Millisecond, at)
				}
			}
			svc.EvaluateAlarms(t0.Add(tt.at))
			if got, _ := svc.Alarm("rate"); got.StateValue != tt.wantState {
				t.Errorf("state = %s (%s), want %s", got.StateValue, got.StateReason, tt.wantState)
			}
		})
	}
}

// TestMathAlarmDescribed: DescribeAlarms returns a math alarm with its
// Metrics and without the single-metric fields, over the Go SDK.
func TestMathAlarmDescribed(t *testing.T) {
	svc := New(&Options{Now: func() time.Time { return t0 }})
	if err := svc.PutMetricAlarm(rateAlarm("rate", productExpression, 0.05)); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		svc.RecordInvocation("hello", "hello:prod", "2", i%10 == 0, time.Millisecond, t0.Add(time.Duration(i)*250*time.Millisecond))
	}
	svc.EvaluateAlarms(t0.Add(time.Minute + DefaultMetricDelay))
	out, err := newTestClient(t, svc).DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"rate"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.MetricAlarms) != 1 {
		t.Fatalf("got %d alarms, want 1", len(out.MetricAlarms))
	}
	a := out.MetricAlarms[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{"state", a.StateValue, types.StateValueAlarm},
		{"metric name", aws.ToString(a.MetricName), ""},
		{"period", aws.ToInt32(a.Period), int32(0)},
		{"queries", len(a.Metrics), 3},
		{"expression", aws.ToString(a.Metrics[0].Expression), productExpression},
		{"returned", aws.ToBool(a.Metrics[0].ReturnData), true},
		{"metric of the second", aws.ToString(a.Metrics[1].MetricStat.Metric.MetricName), "Errors"},
		{"its period", aws.ToInt32(a.Metrics[1].MetricStat.Period), int32(60)},
		{"its dimensions", len(a.Metrics[1].MetricStat.Metric.Dimensions), 2},
		{"not returned", aws.ToBool(a.Metrics[1].ReturnData), false},
	}
	// The AWS CLI reads the same over awsQuery.
	srv := servicetest.Server(t, "monitoring", svc)
	form := url.Values{"Action": {"DescribeAlarms"}, "Version": {"2010-08-01"}, "AlarmNames.member.1": {"rate"}}
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
	body, _ := io.ReadAll(resp.Body)
	var described struct {
		Alarms []struct {
			MetricName string
			Metrics    []struct {
				Id, Expression string
				MetricName     string `xml:"MetricStat>Metric>MetricName"`
				ReturnData     bool
			} `xml:"Metrics>member"`
		} `xml:"DescribeAlarmsResult>MetricAlarms>member"`
	}
	if err := xml.Unmarshal(body, &described); err != nil || resp.StatusCode != 200 || len(described.Alarms) != 1 || len(described.Alarms[0].Metrics) != 3 {
		t.Fatalf("DescribeAlarms over awsQuery: %d %s (%v), want one alarm with three queries", resp.StatusCode, body, err)
	}
	q := described.Alarms[0].Metrics
	tests = append(tests, []struct {
		name      string
		got, want any
	}{
		{"query: metric name", described.Alarms[0].MetricName, ""},
		{"query: expression", q[0].Id + "=" + q[0].Expression, "expr_1=" + productExpression},
		{"query: returned", q[0].ReturnData, true},
		{"query: metrics", q[1].Id + "=" + q[1].MetricName + "," + q[2].Id + "=" + q[2].MetricName, "errors=Errors,invocations=Invocations"},
		{"query: not returned", q[1].ReturnData, false},
	}...)
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}
