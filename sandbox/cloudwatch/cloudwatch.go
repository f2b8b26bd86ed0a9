// Package cwsvc is the sandbox's Amazon CloudWatch: metric alarms, on one
// metric or on a metric math expression (mathexpr.go), created for setup,
// their state set by hand from the CLI, optionally evaluated;
// and the AWS/Lambda metrics Invocations, Errors and Duration derived from
// the sandbox's real invocations, by version — what the shift's health
// check reads with GetMetricData and DescribeAlarms.
//
// It speaks the three protocols CloudWatch serves: rpcv2Cbor at
// /service/GraniteServiceVersion20100801/operation/<Op> (the Go SDK),
// awsQuery (the AWS CLI 2.9) and awsJson1_0 with X-Amz-Target
// GraniteServiceVersion20100801.<Op> (recent botocore). Errors carry the
// modeled shape in __type and, because CloudWatch is query-compatible, the
// query code in X-Amzn-Query-Error.
package cwsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/model"
	"github.com/aws/smithy-go/encoding/cbor"
)

// Namespace is the XML namespace of CloudWatch query responses.
const Namespace = "http://monitoring.amazonaws.com/doc/2010-08-01/"

const (
	shapeNamespace  = "com.amazonaws.cloudwatch#"
	lambdaNamespace = "AWS/Lambda"
)

// Alarm states.
const (
	StateOK               = "OK"
	StateAlarm            = "ALARM"
	StateInsufficientData = "INSUFFICIENT_DATA"
)

// DefaultMetricDelay is how long after a minute ends the sandbox makes that
// minute's AWS/Lambda datapoints readable. Lambda sends metric data to
// CloudWatch in 1-minute intervals ("Using CloudWatch metrics with Lambda",
// Lambda developer guide) and they are readable minutes later (reported: a
// 1-minute alarm went to ALARM 4 minutes after the errors began); three
// minutes after the minute closes puts a datapoint 3–4 minutes behind the
// invocation, as reported.
const DefaultMetricDelay = 3 * time.Minute

// Options tunes a Service; the zero value is usable.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MetricDelay is the publication delay of the Lambda metrics after
	// their minute ends; DefaultMetricDelay when zero. Tests may shorten
	// it; it is never zero, as on AWS.
	MetricDelay time.Duration
}

// Service is the CloudWatch emulation: an http.Handler and the
// core.InvocationSink the sandbox's Lambda reports every invocation to.
type Service struct {
	now   func() time.Time
	delay time.Duration

	mu         sync.Mutex
	alarms     map[string]*MetricAlarm
	composites map[string]*CompositeAlarm
	series     map[string]*series
	tags       map[string]map[string]string // by alarm name
}

var _ core.InvocationSink = (*Service)(nil)

type series struct {
	Namespace  string
	MetricName string
	Dimensions []Dimension
	Samples    []sample
}

// New returns a CloudWatch with no alarms and no metrics.
func New(opts *Options) *Service {
	s := &Service{now: time.Now, delay: DefaultMetricDelay, alarms: map[string]*MetricAlarm{}, composites: map[string]*CompositeAlarm{},
		series: map[string]*series{}, tags: map[string]map[string]string{}}
	if opts != nil && opts.Now != nil {
		s.now = opts.Now
	}
	if opts != nil && opts.MetricDelay > 0 {
		s.delay = opts.MetricDelay
	}
	return s
}

// --- errors ---

// apiError is a CloudWatch error: the modeled shape (for __type), its
// awsQuery code, HTTP status and message.
type apiError struct {
	shape, code string
	status      int
	msg         string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errorf(shape, code string, status int, format string, args ...any) *apiError {
	return &apiError{shape, code, status, fmt.Sprintf(format, args...)}
}

func invalidValue(format string, args ...any) *apiError {
	return errorf("InvalidParameterValueException", "InvalidParameterValue", 400, format, args...)
}

func missing(name string) *apiError {
	return errorf("MissingRequiredParameterException", "MissingParameter", 400, "The parameter %s is required.", name)
}

func validation(format string, args ...any) *apiError {
	return errorf("ValidationException", "ValidationError", 400, format, args...)
}

// --- dispatch ---

type op struct {
	in  func() any
	run func(s *Service, in any) (any, error)
}

func opOf[I any, O any](f func(*Service, *I) (*O, error)) op {
	return op{
		in: func() any { return new(I) },
		run: func(s *Service, in any) (any, error) {
			out, err := f(s, in.(*I))
			if err != nil || out == nil {
				return nil, err
			}
			return out, nil
		},
	}
}

// ops are the operations the project calls; alarms are set up through the
// Go API (PutMetricAlarm, PutCompositeAlarm). Any other operation is
// refused, named.
var ops = map[string]op{
	"DescribeAlarms": opOf((*Service).describeAlarms),
	"SetAlarmState":  opOf((*Service).setAlarmState),
	"GetMetricData":  opOf((*Service).getMetricData),
}

// ServeHTTP serves CloudWatch over rpcv2Cbor, awsJson1_0 or awsQuery.
// The protocol, the operation and the input are the sandbox's one reading
// of the request against AWS's model (model.Attach; done here when the
// service is served on its own, in its tests).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r, req, err := model.Attach(r, "monitoring")
	switch {
	case req == nil:
		writeJSONError(w, errorf("InternalServiceFault", "InternalServiceError", 500, "%v", err))
	case req.Protocol == model.ProtoCBOR:
		s.serveCBOR(w, r, req)
	case req.Protocol == model.ProtoJSON:
		s.serveJSON(w, req)
	default:
		core.ServeAWSQuery(w, r, "monitoring", Namespace, queryOps(s))
	}
}

// operation is the op a JSON or CBOR request names, or the error to answer.
func operation(req *model.Request) (op, *apiError) {
	o, ok := ops[req.OperationName]
	switch {
	case req.Operation == nil || !ok:
		return op{}, errorf("UnknownOperationException", "InvalidAction", 400, "operation %s is not implemented by the aliasflow sandbox", req.OperationName)
	case req.Err != nil:
		return op{}, errorf("SerializationException", "SerializationException", 400, "%v", req.Err)
	}
	return o, nil
}

func (s *Service) serveJSON(w http.ResponseWriter, req *model.Request) {
	w.Header().Set("x-amzn-RequestId", core.UUID())
	o, e := operation(req)
	if e != nil {
		writeJSONError(w, e)
		return
	}
	out, err := s.call(o, req)
	if err != nil {
		writeJSONError(w, asAPIError(err))
		return
	}
	var payload any = map[string]any{}
	if out != nil {
		if c, ok := toCBOR(reflect.ValueOf(out)); ok {
			payload = cborToJSON(c)
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(payload)
}

func writeJSONError(w http.ResponseWriter, e *apiError) {
	fault := "Sender"
	if e.status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Query-Error", e.code+";"+fault)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": shapeNamespace + e.shape, "message": e.msg})
}

func (s *Service) serveCBOR(w http.ResponseWriter, r *http.Request, req *model.Request) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("x-amzn-RequestId", core.UUID())
	if !strings.EqualFold(r.Header.Get("Smithy-Protocol"), "rpc-v2-cbor") {
		writeCBORError(w, validation("rpcv2Cbor requests need the header smithy-protocol: rpc-v2-cbor"))
		return
	}
	o, e := operation(req)
	if e != nil {
		writeCBORError(w, e)
		return
	}
	out, err := s.call(o, req)
	if err != nil {
		writeCBORError(w, asAPIError(err))
		return
	}
	var payload cbor.Value = cbor.Map{}
	if out != nil {
		if c, ok := toCBOR(reflect.ValueOf(out)); ok {
			payload = c
		}
	}
	w.Header().Set("Content-Type", "application/cbor")
	_, _ = w.Write(cbor.Encode(payload))
}

// queryOps adapts ops to core.ServeAWSQuery. Its error writer knows only
// core.APIError, so CloudWatch errors are handed over with their query code.
func queryOps(s *Service) map[string]core.QueryOp {
	m := map[string]core.QueryOp{}
	for name, o := range ops {
		m[name] = func(ctx context.Context, _ url.Values) (any, error) {
			req, ok := model.FromContext(ctx)
			if !ok {
				return nil, core.Errorf("InternalFailure", 500, "the request was not read against CloudWatch's model")
			}
			if req.Err != nil {
				return nil, core.Errorf("MalformedQueryString", 400, "%v", req.Err)
			}
			out, err := s.call(o, req)
			if err != nil {
				e := asAPIError(err)
				return nil, core.Errorf(e.code, e.status, "%s", e.msg)
			}
			return out, nil
		}
	}
	return m
}

func (s *Service) call(o op, req *model.Request) (any, error) {
	in := o.in()
	if err := req.Decode(in); err != nil {
		return nil, validation("%v", err)
	}
	return o.run(s, in)
}

func asAPIError(err error) *apiError {
	var e *apiError
	if errors.As(err, &e) {
		return e
	}
	return errorf("InternalServiceFault", "InternalServiceError", 500, "%v", err)
}

func writeCBORError(w http.ResponseWriter, e *apiError) {
	fault := "Sender"
	if e.status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-Query-Error", e.code+";"+fault)
	w.WriteHeader(e.status)
	_, _ = w.Write(cbor.Encode(cbor.Map{
		"__type":  cbor.String(shapeNamespace + e.shape),
		"message": cbor.String(e.msg),
	}))
}

// --- alarms ---

// MetricAlarm is a metric alarm as DescribeAlarms returns it (the fields
// the sandbox keeps).
type MetricAlarm struct {
	AlarmName                          string
	AlarmArn                           string
	AlarmDescription                   string `xml:",omitempty"`
	AlarmConfigurationUpdatedTimestamp time.Time
	ActionsEnabled                     bool
	OKActions                          []string `xml:"OKActions>member"`
	AlarmActions                       []string `xml:"AlarmActions>member"`
	InsufficientDataActions            []string `xml:"InsufficientDataActions>member"`
	StateValue                         string
	StateReason                        string
	StateReasonData                    string `xml:",omitempty"`
	StateUpdatedTimestamp              time.Time
	StateTransitionedTimestamp         time.Time
	MetricName                         string      `xml:",omitempty"`
	Namespace                          string      `xml:",omitempty"`
	Statistic                          string      `xml:",omitempty"`
	Dimensions                         []Dimension `xml:"Dimensions>member"`
	Period                             int32       `xml:",omitempty"`
	Unit                               string      `xml:",omitempty"`
	EvaluationPeriods                  int32
	DatapointsToAlarm                  int32 `xml:",omitempty"`
	Threshold                          float64
	ComparisonOperator                 string
	TreatMissingData                   string `xml:",omitempty"`
	// Metrics are a metric math alarm's queries (then MetricName,
	// Namespace, Statistic, Dimensions and Period are empty, as
	// DescribeAlarms returns them).
	Metrics []MetricDataQuery `xml:"Metrics>member,omitempty"`
}

// AlarmARN is an alarm's ARN.
func AlarmARN(name string) string {
	return fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", core.Region, core.Account, name)
}

var comparisons = map[string]bool{
	"GreaterThanOrEqualToThreshold": true, "GreaterThanThreshold": true,
	"LessThanThreshold": true, "LessThanOrEqualToThreshold": true,
}

// PutMetricAlarmInput is what PutMetricAlarm takes (the fields the sandbox
// implements; percentiles and anomaly bands are refused, metric math is
// limited to the grammar of mathexpr.go).
type PutMetricAlarmInput struct {
	AlarmName               string
	AlarmDescription        string
	ActionsEnabled          *bool
	OKActions               []string
	AlarmActions            []string
	InsufficientDataActions []string
	MetricName              string
	Namespace               string
	Statistic               string
	ExtendedStatistic       string
	Dimensions              []Dimension
	Period                  int32
	Unit                    string
	EvaluationPeriods       int32
	DatapointsToAlarm       int32
	Threshold               *float64
	ComparisonOperator      string
	TreatMissingData        string
	Metrics                 []MetricDataQuery
	ThresholdMetricId       string
	Tags                    []any
}

type empty struct{}

// PutMetricAlarm creates or updates a metric alarm (the Go API the worlds
// set alarms up with; the operation is not served). A new alarm starts in INSUFFICIENT_DATA, as in CloudWatch.
func (s *Service) PutMetricAlarm(in PutMetricAlarmInput) error {
	switch {
	case in.AlarmName == "":
		return missing("AlarmName")
	case in.ThresholdMetricId != "":
		// ThresholdMetricId names an ANOMALY_DETECTION_BAND (PutMetricAlarm,
		// CloudWatch API Reference).
		return invalidValue("ThresholdMetricId (alarms on an anomaly detection band) is not supported by the aliasflow sandbox")
	case in.ExtendedStatistic != "":
		return invalidValue("ExtendedStatistic (percentiles) is not supported by the aliasflow sandbox")
	case len(in.Metrics) > 0:
		if err := checkMathAlarm(in); err != nil {
			return err
		}
	case in.MetricName == "":
		return missing("MetricName")
	case in.Namespace == "":
		return missing("Namespace")
	case in.Statistic == "":
		return missing("Statistic")
	case !validStats[in.Statistic]:
		return validation("1 validation error detected: Value '%s' at 'statistic' failed to satisfy constraint: Member must satisfy enum value set: [Maximum, SampleCount, Sum, Minimum, Average]", in.Statistic)
	case !validPeriod(in.Period):
		return validation("The parameter Period must be 10, 30 or a multiple of 60.")
	}
	switch {
	case in.EvaluationPeriods < 1:
		return validation("The parameter EvaluationPeriods must be greater than or equal to 1.")
	case in.DatapointsToAlarm < 0 || in.DatapointsToAlarm > in.EvaluationPeriods:
		return validation("DatapointsToAlarm must be between 1 and EvaluationPeriods.")
	case in.Threshold == nil:
		return missing("Threshold")
	case !comparisons[in.ComparisonOperator]:
		return validation("1 validation error detected: Value '%s' at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold]", in.ComparisonOperator)
	}
	switch in.TreatMissingData {
	case "", "breaching", "notBreaching", "ignore", "missing":
	default:
		return validation("The parameter TreatMissingData must be one of breaching, notBreaching, ignore, missing.")
	}
	now := s.now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.alarms[in.AlarmName]
	if a == nil {
		a = &MetricAlarm{AlarmName: in.AlarmName, AlarmArn: AlarmARN(in.AlarmName), StateValue: StateInsufficientData,
			StateReason: "Unchecked: Initial alarm creation", StateUpdatedTimestamp: now, StateTransitionedTimestamp: now}
		s.alarms[in.AlarmName] = a
		// Tags count when the alarm is created; on an update PutMetricAlarm
		// ignores them (PutMetricAlarm, CloudWatch API Reference).
		if tags := tagMap(in.Tags); len(tags) > 0 {
			s.tags[in.AlarmName] = tags
		}
	}
	a.AlarmDescription, a.AlarmConfigurationUpdatedTimestamp = in.AlarmDescription, now
	a.ActionsEnabled = in.ActionsEnabled == nil || *in.ActionsEnabled
	a.OKActions, a.AlarmActions, a.InsufficientDataActions = nonNil(in.OKActions), nonNil(in.AlarmActions), nonNil(in.InsufficientDataActions)
	a.MetricName, a.Namespace, a.Statistic, a.Dimensions = in.MetricName, in.Namespace, in.Statistic, append([]Dimension{}, in.Dimensions...)
	a.Period, a.Unit, a.EvaluationPeriods, a.DatapointsToAlarm = in.Period, in.Unit, in.EvaluationPeriods, in.DatapointsToAlarm
	a.Threshold, a.ComparisonOperator, a.TreatMissingData = *in.Threshold, in.ComparisonOperator, in.TreatMissingData
	a.Metrics = nil
	if len(in.Metrics) > 0 {
		a.Metrics = append([]MetricDataQuery{}, in.Metrics...)
	}
	return nil
}

func validPeriod(p int32) bool {
	return p == 10 || p == 30 || (p >= 60 && p%60 == 0)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return append([]string{}, s...)
}

type describeAlarmsInput struct {
	AlarmNames      []string
	AlarmNamePrefix string
	AlarmTypes      []string
	StateValue      string
	ActionPrefix    string
	MaxRecords      int32
	NextToken       string
	ChildrenOfAlarmName,
	ParentsOfAlarmName string
}

type describeAlarmsOutput struct {
	MetricAlarms    []MetricAlarm    `xml:"MetricAlarms>member"`
	CompositeAlarms []CompositeAlarm `xml:"CompositeAlarms>member"`
	NextToken       string           `xml:",omitempty"`
}

func (s *Service) describeAlarms(in *describeAlarmsInput) (*describeAlarmsOutput, error) {
	switch {
	case len(in.AlarmNames) > 0 && in.AlarmNamePrefix != "":
		return nil, errorf("InvalidParameterCombinationException", "InvalidParameterCombination", 400, "AlarmNames and AlarmNamePrefix cannot be specified together.")
	case len(in.AlarmNames) > 100:
		return nil, validation("1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to 100")
	case in.MaxRecords < 0 || in.MaxRecords > 100:
		return nil, validation("1 validation error detected: Value '%d' at 'maxRecords' failed to satisfy constraint: Member must have value between 1 and 100", in.MaxRecords)
	case in.ChildrenOfAlarmName != "" || in.ParentsOfAlarmName != "":
		return nil, invalidValue("composite alarm relations are not supported by the aliasflow sandbox")
	}
	switch in.StateValue {
	case "", StateOK, StateAlarm, StateInsufficientData:
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]", in.StateValue)
	}
	metric, composite := len(in.AlarmTypes) == 0, false
	for _, t := range in.AlarmTypes {
		switch t {
		case "MetricAlarm":
			metric = true
		case "CompositeAlarm":
			composite = true
		default:
			return nil, validation("1 validation error detected: Value '[%s]' at 'alarmTypes' failed to satisfy constraint: Member must satisfy enum value set: [CompositeAlarm, MetricAlarm]", t)
		}
	}
	wanted := map[string]bool{}
	for _, n := range in.AlarmNames {
		wanted[n] = true
	}
	s.mu.Lock()
	s.refreshCompositesLocked()
	var names []string
	for n, a := range s.alarms {
		if (len(wanted) == 0 || wanted[n]) && strings.HasPrefix(n, in.AlarmNamePrefix) &&
			(in.StateValue == "" || a.StateValue == in.StateValue) && hasActionPrefix(a, in.ActionPrefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := &describeAlarmsOutput{MetricAlarms: []MetricAlarm{}}
	if composite {
		out.CompositeAlarms = []CompositeAlarm{}
		var cnames []string
		for n, a := range s.composites {
			if (len(wanted) == 0 || wanted[n]) && strings.HasPrefix(n, in.AlarmNamePrefix) &&
				(in.StateValue == "" || a.StateValue == in.StateValue) && in.ActionPrefix == "" {
				cnames = append(cnames, n)
			}
		}
		sort.Strings(cnames)
		// On the first page only; the sandbox keeps few composites.
		for _, n := range cnames {
			if in.NextToken == "" {
				out.CompositeAlarms = append(out.CompositeAlarms, *s.composites[n])
			}
		}
	}
	if !metric {
		names = nil
	}
	start := 0
	if in.NextToken != "" {
		start = sort.SearchStrings(names, in.NextToken)
		if start >= len(names) || names[start] != in.NextToken {
			s.mu.Unlock()
			return nil, errorf("InvalidNextToken", "InvalidNextToken", 400, "The NextToken is invalid.")
		}
	}
	limit := int(in.MaxRecords)
	if limit == 0 {
		limit = 50
	}
	end := min(start+limit, len(names))
	for _, n := range names[start:end] {
		out.MetricAlarms = append(out.MetricAlarms, *s.alarms[n])
	}
	if end < len(names) {
		out.NextToken = names[end]
	}
	s.mu.Unlock()
	return out, nil
}

func hasActionPrefix(a *MetricAlarm, prefix string) bool {
	if prefix == "" {
		return true
	}
	for _, l := range [][]string{a.AlarmActions, a.OKActions, a.InsufficientDataActions} {
		for _, act := range l {
			if strings.HasPrefix(act, prefix) {
				return true
			}
		}
	}
	return false
}

type setAlarmStateInput struct {
	AlarmName, StateValue, StateReason, StateReasonData string
}

func (s *Service) setAlarmState(in *setAlarmStateInput) (*empty, error) {
	return nil, s.SetAlarmState(in.AlarmName, in.StateValue, in.StateReason, in.StateReasonData)
}

// SetAlarmState sets an alarm's state, as the SetAlarmState operation does
// (the CLI's way to make a health check fail in a rehearsal).
func (s *Service) SetAlarmState(name, state, reason, reasonData string) error {
	switch {
	case name == "":
		return missing("AlarmName")
	case reason == "":
		return missing("StateReason")
	case state != StateOK && state != StateAlarm && state != StateInsufficientData:
		return validation("1 validation error detected: Value '%s' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]", state)
	case reasonData != "" && !json.Valid([]byte(reasonData)):
		return errorf("InvalidFormatFault", "InvalidFormat", 400, "StateReasonData is not valid JSON.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.alarms[name]
	if a == nil {
		return errorf("ResourceNotFound", "ResourceNotFound", 404, "Alarm %s not found", name)
	}
	s.setStateLocked(a, state, reason, reasonData)
	return nil
}

func (s *Service) setStateLocked(a *MetricAlarm, state, reason, reasonData string) {
	now := s.now().UTC()
	if a.StateValue != state {
		a.StateTransitionedTimestamp = now
	}
	a.StateValue, a.StateReason, a.StateReasonData, a.StateUpdatedTimestamp = state, reason, reasonData, now
}

// tagMap reads PutMetricAlarm's Tags ([{Key, Value}]).
func tagMap(tags []any) map[string]string {
	out := map[string]string{}
	for _, t := range tags {
		if m, ok := t.(map[string]any); ok {
			k, _ := m["Key"].(string)
			v, _ := m["Value"].(string)
			if k != "" {
				out[k] = v
			}
		}
	}
	return out
}

// AlarmTags returns an alarm's tags (the sandbox's IAM reads them for
// aws:ResourceTag conditions).
func (s *Service) AlarmTags(name string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.tags[name])
}

// Alarm returns a copy of an alarm.
func (s *Service) Alarm(name string) (MetricAlarm, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.alarms[name]
	if a == nil {
		return MetricAlarm{}, false
	}
	return *a, true
}

// EvaluateAlarms evaluates every alarm against the stored metrics at now,
// as CloudWatch does each period: over the last EvaluationPeriods periods,
// ALARM when at least DatapointsToAlarm (default EvaluationPeriods) breach,
// OK when data exists and too few breach, and missing data handled per
// TreatMissingData. The sandbox does not run this by itself, so a state
// set by hand stays until the next call.
func (s *Service) EvaluateAlarms(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.alarms {
		values := s.datapointsLocked(a, now)
		breaching := 0
		for _, v := range values {
			if breaches(a.ComparisonOperator, v, a.Threshold) {
				breaching++
			}
		}
		missingN := int(a.EvaluationPeriods) - len(values)
		switch a.TreatMissingData {
		case "breaching":
			breaching += missingN
		case "notBreaching":
		case "ignore":
			if len(values) == 0 {
				continue // keep the current state
			}
		default: // missing
			if len(values) == 0 {
				s.setIfChanged(a, StateInsufficientData, "Insufficient Data: no datapoints were received for the evaluation periods.")
				continue
			}
		}
		need := int(a.DatapointsToAlarm)
		if need == 0 {
			need = int(a.EvaluationPeriods)
		}
		if breaching >= need {
			s.setIfChanged(a, StateAlarm, fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints were %s the threshold (%v).", breaching, a.EvaluationPeriods, strings.TrimSuffix(a.ComparisonOperator, "Threshold"), a.Threshold))
		} else {
			s.setIfChanged(a, StateOK, fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints were %s the threshold (%v).", breaching, a.EvaluationPeriods, strings.TrimSuffix(a.ComparisonOperator, "Threshold"), a.Threshold))
		}
	}
}

// datapointsLocked are an alarm's datapoints in its last EvaluationPeriods
// periods, oldest first; a period without data has none.
func (s *Service) datapointsLocked(a *MetricAlarm, now time.Time) []float64 {
	if len(a.Metrics) > 0 {
		return s.mathDatapointsLocked(a, now)
	}
	period := time.Duration(a.Period) * time.Second
	start, end := s.windowLocked(now, period, a.EvaluationPeriods, a.Namespace == lambdaNamespace)
	samples := s.readableLocked(s.series[seriesKey(a.Namespace, a.MetricName, a.Dimensions)], now)
	var values []float64
	for _, b := range aggregate(samples, start, end, period) {
		v, _ := b.value(a.Statistic)
		values = append(values, v)
	}
	return values
}

// windowLocked is the evaluation window [start, end) of n periods ending
// at now. The newest periods of a Lambda metric are not published yet:
// the window ends at the latest ones that are, as CloudWatch can only
// evaluate those.
func (s *Service) windowLocked(now time.Time, period time.Duration, n int32, lambda bool) (start, end time.Time) {
	end = now.Truncate(period)
	if lambda {
		end = now.Add(-s.delay).Truncate(period)
	}
	return end.Add(-time.Duration(n) * period), end
}

func (s *Service) setIfChanged(a *MetricAlarm, state, reason string) {
	if a.StateValue != state {
		s.setStateLocked(a, state, reason, "")
	}
}

func breaches(op string, v, threshold float64) bool {
	switch op {
	case "GreaterThanOrEqualToThreshold":
		return v >= threshold
	case "GreaterThanThreshold":
		return v > threshold
	case "LessThanThreshold":
		return v < threshold
	case "LessThanOrEqualToThreshold":
		return v <= threshold
	}
	return false
}

// --- metrics ---

// RecordInvocation implements core.InvocationSink: one invocation adds
// Invocations, Errors and Duration datapoints under the dimension sets
// Lambda publishes: none (account-wide), {FunctionName}, {FunctionName,
// Resource} for a qualified invoke, and {FunctionName, Resource,
// ExecutedVersion} when the qualifier is an alias.
func (s *Service) RecordInvocation(function, resource, executedVersion string, failed bool, duration time.Duration, at time.Time) {
	dimSets := [][]Dimension{nil, {{"FunctionName", function}}}
	if resource != "" && resource != function {
		dimSets = append(dimSets, []Dimension{{"FunctionName", function}, {"Resource", resource}})
		_, qualifier, _ := strings.Cut(resource, ":")
		if executedVersion != "" && !isVersion(qualifier) {
			dimSets = append(dimSets, []Dimension{{"FunctionName", function}, {"Resource", resource}, {"ExecutedVersion", executedVersion}})
		}
	}
	errs := 0.0
	if failed {
		errs = 1
	}
	values := map[string]float64{"Invocations": 1, "Errors": errs, "Duration": float64(duration) / float64(time.Millisecond)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, dims := range dimSets {
		for metric, v := range values {
			s.addLocked(lambdaNamespace, metric, dims, at.UTC(), v)
		}
	}
}

func isVersion(q string) bool {
	if q == "$LATEST" {
		return true
	}
	if q == "" {
		return false
	}
	for _, c := range q {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// readableLocked is the part of a series readable at now: an AWS/Lambda
// sample is published when its minute has ended and the publication delay
// has passed; other namespaces (PutDatapoint, custom metrics) at once.
func (s *Service) readableLocked(sr *series, now time.Time) []sample {
	if sr == nil {
		return nil
	}
	if sr.Namespace != lambdaNamespace {
		return sr.Samples
	}
	// A minute [m, m+1) is readable from m+1+delay: the samples before
	// the minute holding now-delay.
	cut := now.Add(-s.delay).Truncate(time.Minute)
	out := make([]sample, 0, len(sr.Samples))
	for _, smp := range sr.Samples {
		if smp.T.Before(cut) {
			out = append(out, smp)
		}
	}
	return out
}

// PutDatapoint adds one datapoint to a metric (for setup and tests).
func (s *Service) PutDatapoint(namespace, metric string, dims []Dimension, at time.Time, value float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(namespace, metric, dims, at.UTC(), value)
}

func (s *Service) addLocked(namespace, metric string, dims []Dimension, at time.Time, v float64) {
	key := seriesKey(namespace, metric, dims)
	sr := s.series[key]
	if sr == nil {
		sr = &series{Namespace: namespace, MetricName: metric, Dimensions: append([]Dimension{}, dims...)}
		s.series[key] = sr
	}
	sr.Samples = append(sr.Samples, sample{at, v})
	if len(sr.Samples) > maxSeriesPoints {
		sr.Samples = sr.Samples[len(sr.Samples)-maxSeriesPoints:]
	}
}

// Metric names one metric: namespace, name and dimension set.
type Metric struct {
	Namespace  string
	MetricName string
	Dimensions []Dimension `xml:"Dimensions>member"`
}

// MetricStat is a metric with the statistic and period to read it at.
type MetricStat struct {
	Metric *Metric
	Period int32
	Stat   string
	Unit   string `xml:",omitempty"`
}

// MetricDataQuery is a query of GetMetricData and of a metric math alarm
// (PutMetricAlarm's Metrics): a metric read (MetricStat) or an
// Expression over the other queries' ids.
type MetricDataQuery struct {
	Id         string
	MetricStat *MetricStat `xml:",omitempty"`
	Expression string      `xml:",omitempty"`
	Label      string      `xml:",omitempty"`
	ReturnData *bool       `xml:",omitempty"`
	Period     int32       `xml:",omitempty"`
	AccountId  string      `xml:",omitempty"`
}

type getMetricDataInput struct {
	MetricDataQueries []MetricDataQuery
	StartTime         *time.Time
	EndTime           *time.Time
	NextToken         string
	ScanBy            string
	MaxDatapoints     int32
	LabelOptions      any
}

type metricDataResult struct {
	Id         string
	Label      string
	Timestamps []time.Time `xml:"Timestamps>member"`
	Values     []float64   `xml:"Values>member"`
	StatusCode string
}

type getMetricDataOutput struct {
	MetricDataResults []metricDataResult `xml:"MetricDataResults>member"`
	Messages          []struct{}         `xml:"Messages>member"`
	NextToken         string             `xml:",omitempty"`
}

var queryIDRE = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

func (s *Service) getMetricData(in *getMetricDataInput) (*getMetricDataOutput, error) {
	switch {
	case len(in.MetricDataQueries) == 0:
		return nil, missing("MetricDataQueries")
	case len(in.MetricDataQueries) > 500:
		return nil, validation("The collection MetricDataQueries must not have a size greater than 500.")
	case in.StartTime == nil:
		return nil, missing("StartTime")
	case in.EndTime == nil:
		return nil, missing("EndTime")
	case !in.StartTime.Before(*in.EndTime):
		return nil, validation("The parameter StartTime must be less than the parameter EndTime.")
	case in.NextToken != "":
		return nil, errorf("InvalidNextToken", "InvalidNextToken", 400, "The NextToken is invalid.")
	}
	descending := true
	switch in.ScanBy {
	case "", "TimestampDescending":
	case "TimestampAscending":
		descending = false
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'scanBy' failed to satisfy constraint: Member must satisfy enum value set: [TimestampDescending, TimestampAscending]", in.ScanBy)
	}
	seen := map[string]bool{}
	out := &getMetricDataOutput{MetricDataResults: []metricDataResult{}, Messages: []struct{}{}}
	for i, q := range in.MetricDataQueries {
		switch {
		case !queryIDRE.MatchString(q.Id):
			return nil, validation("The value %s for parameter MetricDataQueries.member.%d.Id is invalid: it must start with a lowercase letter and contain only letters, digits and underscores.", q.Id, i+1)
		case seen[q.Id]:
			return nil, validation("The values for parameter id in MetricDataQueries are not unique.")
		case q.Expression != "":
			return nil, invalidValue("MetricDataQueries.member.%d: metric math expressions are not supported by the aliasflow sandbox", i+1)
		case q.MetricStat == nil || q.MetricStat.Metric == nil:
			return nil, missing(fmt.Sprintf("MetricDataQueries.member.%d.MetricStat", i+1))
		case q.MetricStat.Period < 1:
			return nil, validation("The parameter MetricDataQueries.member.%d.MetricStat.Period must be greater than 0.", i+1)
		case !validStats[q.MetricStat.Stat]:
			return nil, invalidValue("MetricDataQueries.member.%d.MetricStat.Stat %q: the sandbox supports Sum, Average, Minimum, Maximum and SampleCount", i+1, q.MetricStat.Stat)
		}
		seen[q.Id] = true
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		m := q.MetricStat.Metric
		label := q.Label
		if label == "" {
			label = m.MetricName
		}
		res := metricDataResult{Id: q.Id, Label: label, Timestamps: []time.Time{}, Values: []float64{}, StatusCode: "Complete"}
		s.mu.Lock()
		samples := s.readableLocked(s.series[seriesKey(m.Namespace, m.MetricName, m.Dimensions)], s.now())
		buckets := aggregate(samples, *in.StartTime, *in.EndTime, time.Duration(q.MetricStat.Period)*time.Second)
		s.mu.Unlock()
		if descending {
			for l, r := 0, len(buckets)-1; l < r; l, r = l+1, r-1 {
				buckets[l], buckets[r] = buckets[r], buckets[l]
			}
		}
		for _, b := range buckets {
			v, _ := b.value(q.MetricStat.Stat)
			res.Timestamps = append(res.Timestamps, b.start)
			res.Values = append(res.Values, v)
		}
		out.MetricDataResults = append(out.MetricDataResults, res)
	}
	return out, nil
}

// --- persistence ---

type snapshot struct {
	Alarms     []*MetricAlarm
	Composites []*CompositeAlarm `json:",omitempty"`
	Series     []*series
	Tags       map[string]map[string]string `json:",omitempty"`
}

// Snapshot returns the alarms and the stored datapoints as JSON.
func (s *Service) Snapshot() ([]byte, error) {
	return core.Snapshot(&s.mu, func() snapshot {
		return snapshot{Alarms: core.SortedValues(s.alarms), Composites: core.SortedValues(s.composites), Series: core.SortedValues(s.series), Tags: s.tags}
	})
}

// Restore replaces the state with that of a Snapshot.
func (s *Service) Restore(data []byte) error {
	return core.Restore("cloudwatch", data, &s.mu, func(snap snapshot) error {
		if snap.Tags == nil {
			snap.Tags = map[string]map[string]string{}
		}
		s.alarms = core.Keyed(snap.Alarms, func(a *MetricAlarm) string { return a.AlarmName })
		s.composites = core.Keyed(snap.Composites, func(a *CompositeAlarm) string { return a.AlarmName })
		s.series = core.Keyed(snap.Series, func(sr *series) string { return seriesKey(sr.Namespace, sr.MetricName, sr.Dimensions) })
		s.tags = snap.Tags
		return nil
	})
}
