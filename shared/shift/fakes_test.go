package shift_test

import (
	"context"
	"fmt"
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
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

var (
	_ shift.Lambda     = (*fakeLambda)(nil)
	_ shift.CloudWatch = (*fakeCloudWatch)(nil)
)

// fakeAlias is one stored alias.
type fakeAlias struct {
	version  string
	weights  map[string]float64
	revision string
}

// fakeLambda stores published versions and aliases of functions and
// enforces what the Lambda API enforces on them: RevisionId preconditions,
// routing only to other published versions, one additional version, weights
// in 0–1, and no CreateAlias over an existing alias.
type fakeLambda struct {
	mu        sync.Mutex
	published map[string]map[string]bool
	aliases   map[string]map[string]*fakeAlias
	rev       int
	// errs queues errors per operation, returned before the call runs.
	errs map[string][]error
	// racers run at the start of UpdateAlias, one per call, outside the
	// lock: another writer changing the alias between our read and write.
	racers  []func()
	updates int
	creates int
}

func newFakeLambda(fn string, versions ...string) *fakeLambda {
	f := &fakeLambda{published: map[string]map[string]bool{fn: {}}, aliases: map[string]map[string]*fakeAlias{fn: {}}, errs: map[string][]error{}}
	for _, v := range versions {
		f.published[fn][v] = true
	}
	return f
}

// set stores an alias directly, as another party would have.
func (f *fakeLambda) set(fn, name, version string, weights map[string]float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rev++
	f.aliases[fn][name] = &fakeAlias{version: version, weights: maps.Clone(weights), revision: "rev-" + strconv.Itoa(f.rev)}
}

// get returns a copy of an alias, or nil.
func (f *fakeLambda) get(fn, name string) *fakeAlias {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.aliases[fn][name]
	if a == nil {
		return nil
	}
	c := *a
	c.weights = maps.Clone(a.weights)
	return &c
}

func (f *fakeLambda) fail(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[op] = append(f.errs[op], err)
}

func (f *fakeLambda) queued(op string) error {
	if q := f.errs[op]; len(q) > 0 {
		f.errs[op] = q[1:]
		return q[0]
	}
	return nil
}

func notFound(format string, args ...any) error {
	return &types.ResourceNotFoundException{Message: aws.String(fmt.Sprintf(format, args...)), Type: aws.String("User")}
}

func invalid(format string, args ...any) error {
	return &types.InvalidParameterValueException{Message: aws.String(fmt.Sprintf(format, args...)), Type: aws.String("User")}
}

func (f *fakeLambda) GetAlias(_ context.Context, in *lambda.GetAliasInput, _ ...func(*lambda.Options)) (*lambda.GetAliasOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.queued("GetAlias"); err != nil {
		return nil, err
	}
	fn, name := aws.ToString(in.FunctionName), aws.ToString(in.Name)
	fa, ok := f.aliases[fn]
	if !ok {
		return nil, notFound("Function not found: %s", fn)
	}
	a, ok := fa[name]
	if !ok {
		return nil, notFound("Alias not found: %s:%s", fn, name)
	}
	out := &lambda.GetAliasOutput{Name: aws.String(name), FunctionVersion: aws.String(a.version), RevisionId: aws.String(a.revision)}
	if len(a.weights) > 0 {
		out.RoutingConfig = &types.AliasRoutingConfiguration{AdditionalVersionWeights: maps.Clone(a.weights)}
	}
	return out, nil
}

func (f *fakeLambda) checkTarget(fn, version string, routing *types.AliasRoutingConfiguration) error {
	if !f.published[fn][version] && version != "$LATEST" {
		return notFound("Function not found: %s:%s", fn, version)
	}
	if routing == nil {
		return nil
	}
	if len(routing.AdditionalVersionWeights) > 1 {
		return invalid("only one additional version may be routed")
	}
	for v, w := range routing.AdditionalVersionWeights {
		if !f.published[fn][v] {
			return invalid("routing config version %q is not a published version", v)
		}
		if v == version {
			return invalid("routing config version %q is the alias's primary version", v)
		}
		if w < 0 || w > 1 {
			return invalid("weight %v is outside 0.0–1.0", w)
		}
	}
	return nil
}

func (f *fakeLambda) UpdateAlias(_ context.Context, in *lambda.UpdateAliasInput, _ ...func(*lambda.Options)) (*lambda.UpdateAliasOutput, error) {
	f.mu.Lock()
	var racer func()
	if len(f.racers) > 0 {
		racer, f.racers = f.racers[0], f.racers[1:]
	}
	f.mu.Unlock()
	if racer != nil {
		racer()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.queued("UpdateAlias"); err != nil {
		return nil, err
	}
	fn, name := aws.ToString(in.FunctionName), aws.ToString(in.Name)
	a, ok := f.aliases[fn][name]
	if !ok {
		return nil, notFound("Alias not found: %s:%s", fn, name)
	}
	if in.RevisionId != nil && *in.RevisionId != a.revision {
		return nil, &types.PreconditionFailedException{Message: aws.String("The RevisionId provided does not match the latest RevisionId for the Lambda function or alias."), Type: aws.String("User")}
	}
	version := a.version
	if in.FunctionVersion != nil {
		version = *in.FunctionVersion
	}
	if err := f.checkTarget(fn, version, in.RoutingConfig); err != nil {
		return nil, err
	}
	a.version = version
	// As in Lambda: no RoutingConfig keeps the routing; an empty one clears it.
	if in.RoutingConfig != nil {
		a.weights = maps.Clone(in.RoutingConfig.AdditionalVersionWeights)
	}
	f.rev++
	a.revision = "rev-" + strconv.Itoa(f.rev)
	f.updates++
	return &lambda.UpdateAliasOutput{Name: aws.String(name), FunctionVersion: aws.String(a.version), RevisionId: aws.String(a.revision)}, nil
}

func (f *fakeLambda) CreateAlias(_ context.Context, in *lambda.CreateAliasInput, _ ...func(*lambda.Options)) (*lambda.CreateAliasOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.queued("CreateAlias"); err != nil {
		return nil, err
	}
	fn, name := aws.ToString(in.FunctionName), aws.ToString(in.Name)
	if _, ok := f.aliases[fn]; !ok {
		return nil, notFound("Function not found: %s", fn)
	}
	if _, ok := f.aliases[fn][name]; ok {
		return nil, &types.ResourceConflictException{Message: aws.String("Alias already exists: " + name), Type: aws.String("User")}
	}
	version := aws.ToString(in.FunctionVersion)
	if err := f.checkTarget(fn, version, in.RoutingConfig); err != nil {
		return nil, err
	}
	f.rev++
	a := &fakeAlias{version: version, revision: "rev-" + strconv.Itoa(f.rev)}
	if in.RoutingConfig != nil {
		a.weights = maps.Clone(in.RoutingConfig.AdditionalVersionWeights)
	}
	f.aliases[fn][name] = a
	f.creates++
	return &lambda.CreateAliasOutput{Name: aws.String(name), FunctionVersion: aws.String(version), RevisionId: aws.String(a.revision)}, nil
}

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
	inputs   []*cloudwatch.GetMetricDataInput
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
