package shift_test

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/shared/shift"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

var (
	_ shift.Lambda     = (*lambda.Client)(nil)
	_ shift.CloudWatch = (*fakeCloudWatch)(nil)
)

// fakeAlarm is one stored alarm.
type fakeAlarm struct {
	state     cwtypes.StateValue
	reason    string
	composite bool
}

// point is one raw metric datapoint.
type point struct {
	metric string
	dims   map[string]string
	at     time.Time
	value  float64
}

// fakeCloudWatch holds alarms and raw datapoints and answers as CloudWatch
// does: metric alarms only unless AlarmTypes asks for composites, at most
// 100 names, periods that are multiples of 60, sums per period.
type fakeCloudWatch struct {
	mu     sync.Mutex
	alarms map[string]fakeAlarm
	points []point
	errs   map[string][]error
	// pageSize, when set, splits each result's values across pages.
	pageSize int
	// now and delay, when now is set, publish a minute's datapoints delay
	// after the minute ends, as CloudWatch does minutes late; without now
	// every datapoint is readable at once.
	now    func() time.Time
	delay  time.Duration
	inputs []*cloudwatch.GetMetricDataInput
}

func newFakeCloudWatch() *fakeCloudWatch {
	return &fakeCloudWatch{alarms: map[string]fakeAlarm{}, errs: map[string][]error{}}
}

func (f *fakeCloudWatch) fail(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[op] = append(f.errs[op], err)
}

func (f *fakeCloudWatch) queued(op string) error {
	if q := f.errs[op]; len(q) > 0 {
		f.errs[op] = q[1:]
		return q[0]
	}
	return nil
}

// add records value for metric of version v of fn behind prod at time at.
func (f *fakeCloudWatch) add(fn, v, metric string, at time.Time, value float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.points = append(f.points, point{metric: metric, at: at, value: value,
		dims: map[string]string{"FunctionName": fn, "Resource": fn + ":prod", "ExecutedVersion": v}})
}

func (f *fakeCloudWatch) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.queued("DescribeAlarms"); err != nil {
		return nil, err
	}
	if len(in.AlarmNames) > 100 {
		return nil, &cwtypes.InvalidParameterValueException{Message: aws.String("AlarmNames: at most 100")}
	}
	composites := slices.Contains(in.AlarmTypes, cwtypes.AlarmTypeCompositeAlarm)
	metrics := len(in.AlarmTypes) == 0 || slices.Contains(in.AlarmTypes, cwtypes.AlarmTypeMetricAlarm)
	out := &cloudwatch.DescribeAlarmsOutput{}
	for _, name := range in.AlarmNames {
		a, ok := f.alarms[name]
		switch {
		case !ok:
		case a.composite && composites:
			out.CompositeAlarms = append(out.CompositeAlarms, cwtypes.CompositeAlarm{AlarmName: aws.String(name), StateValue: a.state, StateReason: aws.String(a.reason)})
		case !a.composite && metrics:
			out.MetricAlarms = append(out.MetricAlarms, cwtypes.MetricAlarm{AlarmName: aws.String(name), StateValue: a.state, StateReason: aws.String(a.reason)})
		}
	}
	return out, nil
}

func (f *fakeCloudWatch) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.queued("GetMetricData"); err != nil {
		return nil, err
	}
	f.inputs = append(f.inputs, in)
	start, end := aws.ToTime(in.StartTime), aws.ToTime(in.EndTime)
	if !start.Before(end) {
		return nil, &cwtypes.InvalidParameterValueException{Message: aws.String("The parameter StartTime must be less than the parameter EndTime.")}
	}
	offset := 0
	if in.NextToken != nil {
		offset, _ = strconv.Atoi(*in.NextToken)
	}
	out := &cloudwatch.GetMetricDataOutput{}
	more := false
	for _, q := range in.MetricDataQueries {
		ms := q.MetricStat
		if ms == nil || ms.Metric == nil {
			return nil, &cwtypes.InvalidParameterValueException{Message: aws.String("MetricStat is required")}
		}
		period := aws.ToInt32(ms.Period)
		if period <= 0 || period%60 != 0 {
			return nil, &cwtypes.InvalidParameterValueException{Message: aws.String("The parameter Period must be a multiple of 60 for standard resolution metrics.")}
		}
		if aws.ToString(ms.Stat) != "Sum" || aws.ToString(ms.Metric.Namespace) != "AWS/Lambda" {
			return nil, &cwtypes.InvalidParameterValueException{Message: aws.String("fake: only AWS/Lambda Sum")}
		}
		want := map[string]string{}
		for _, d := range ms.Metric.Dimensions {
			want[aws.ToString(d.Name)] = aws.ToString(d.Value)
		}
		buckets := map[time.Time]float64{}
		for _, p := range f.points {
			if p.metric != aws.ToString(ms.Metric.MetricName) || !maps.Equal(p.dims, want) || p.at.Before(start) || !p.at.Before(end) {
				continue
			}
			if f.now != nil && p.at.Truncate(time.Minute).Add(time.Minute+f.delay).After(f.now()) {
				continue // not published yet
			}
			b := start.Add(p.at.Sub(start).Truncate(time.Duration(period) * time.Second))
			buckets[b] += p.value
		}
		stamps := slices.Collect(maps.Keys(buckets))
		sort.Slice(stamps, func(i, j int) bool { return stamps[i].After(stamps[j]) })
		r := cwtypes.MetricDataResult{Id: q.Id, StatusCode: cwtypes.StatusCodeComplete}
		for i, ts := range stamps {
			if f.pageSize > 0 && (i < offset || i >= offset+f.pageSize) {
				if i >= offset+f.pageSize {
					more = true
				}
				continue
			}
			r.Timestamps = append(r.Timestamps, ts)
			r.Values = append(r.Values, buckets[ts])
		}
		out.MetricDataResults = append(out.MetricDataResults, r)
	}
	if more {
		out.NextToken = aws.String(strconv.Itoa(offset + f.pageSize))
	}
	return out, nil
}
