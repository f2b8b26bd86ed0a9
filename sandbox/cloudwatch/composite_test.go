package cwsvc

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// TestCompositeAlarm: a composite alarm follows its rule over its children
// and, as on AWS (DescribeAlarms, CloudWatch API reference), is listed only
// when AlarmTypes asks for composite alarms.
func TestCompositeAlarm(t *testing.T) {
	svc := New(nil)
	for _, n := range []string{"errors", "latency"} {
		if err := svc.PutMetricAlarm(PutMetricAlarmInput{AlarmName: n, Namespace: "AWS/Lambda", MetricName: "Errors", Statistic: "Sum",
			Period: 60, EvaluationPeriods: 1, Threshold: aws.Float64(1), ComparisonOperator: "GreaterThanOrEqualToThreshold"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.PutCompositeAlarm("health", `ALARM("errors") OR (ALARM(arn:aws:cloudwatch:us-east-1:000000000000:alarm:latency) AND NOT OK("errors"))`, ""); err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, svc)
	describe := func(types ...types.AlarmType) *cloudwatch.DescribeAlarmsOutput {
		t.Helper()
		out, err := c.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"health"}, AlarmTypes: types})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := describe(); len(out.CompositeAlarms) != 0 {
		t.Errorf("without AlarmTypes: %d composite alarms listed, want none", len(out.CompositeAlarms))
	}
	state := func() types.StateValue {
		t.Helper()
		out := describe(types.AlarmTypeCompositeAlarm)
		if len(out.CompositeAlarms) != 1 || aws.ToString(out.CompositeAlarms[0].AlarmRule) == "" {
			t.Fatalf("composite alarms = %+v, want health with its rule", out.CompositeAlarms)
		}
		return out.CompositeAlarms[0].StateValue
	}
	if got := state(); got != types.StateValueOk {
		t.Errorf("children OK/INSUFFICIENT_DATA: state %s, want OK", got)
	}
	if err := svc.SetAlarmState("errors", StateAlarm, "test", ""); err != nil {
		t.Fatal(err)
	}
	if got := state(); got != types.StateValueAlarm {
		t.Errorf("child in ALARM: state %s, want ALARM", got)
	}
	for _, bad := range []string{`ALARM("x") OR`, `MAYBE("x")`, `ALARM()`, `(ALARM("x")`} {
		if err := svc.PutCompositeAlarm("bad", bad, ""); err == nil || !strings.Contains(err.Error(), "alarm rule") {
			t.Errorf("rule %q: err = %v, want a refusal", bad, err)
		}
	}
}
