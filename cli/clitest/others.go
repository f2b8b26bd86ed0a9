package clitest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Lambda is a fake Lambda: functions with versions and aliases, and an
// Invoke that hands the payload to a per-function handler.
type Lambda struct {
	mu        sync.Mutex
	functions map[string]*Function
	// Invoked lists the payloads of Invoke calls, per function name.
	Invoked map[string][][]byte
}

// Function is one fake function.
type Function struct {
	Name string
	// Versions' CodeSha256 by version ("$LATEST", "1", ...).
	Versions map[string]string
	Aliases  map[string]*lambdatypes.AliasConfiguration
	// Handler answers Invoke: payload out, function error ("" or "Unhandled").
	Handler func(payload []byte) ([]byte, string)
	// Updating makes $LATEST report LastUpdateStatus InProgress.
	Updating bool
}

// NewLambda returns a fake with no functions.
func NewLambda() *Lambda {
	return &Lambda{functions: map[string]*Function{}, Invoked: map[string][][]byte{}}
}

// Add registers a function.
func (l *Lambda) Add(f *Function) *Function {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f.Versions == nil {
		f.Versions = map[string]string{}
	}
	if f.Aliases == nil {
		f.Aliases = map[string]*lambdatypes.AliasConfiguration{}
	}
	l.functions[f.Name] = f
	return f
}

// SetAlias points an alias at version, with optional routing.
func (l *Lambda) SetAlias(fn, alias, version string, routing map[string]float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := &lambdatypes.AliasConfiguration{Name: aws.String(alias), FunctionVersion: aws.String(version),
		AliasArn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:" + fn + ":" + alias), RevisionId: aws.String(strconv.FormatInt(time.Now().UnixNano(), 36))}
	if len(routing) > 0 {
		a.RoutingConfig = &lambdatypes.AliasRoutingConfiguration{AdditionalVersionWeights: routing}
	}
	l.functions[fn].Aliases[alias] = a
}

// Alias returns where an alias points, as "2" or "1 + 2@0.1".
func (l *Lambda) Alias(fn, alias string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.functions[fn].Aliases[alias]
	out := aws.ToString(a.FunctionVersion)
	if a.RoutingConfig != nil {
		for v, w := range a.RoutingConfig.AdditionalVersionWeights {
			out += fmt.Sprintf(" + %s@%g", v, w)
		}
	}
	return out
}

func (l *Lambda) fn(name string) (*Function, error) {
	f, ok := l.functions[name]
	if !ok {
		return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("Function not found: arn:aws:lambda:us-east-1:000000000000:function:" + name), Type: aws.String("User")}
	}
	return f, nil
}

// ListAliases lists a function's aliases.
func (l *Lambda) ListAliases(_ context.Context, in *lambda.ListAliasesInput, _ ...func(*lambda.Options)) (*lambda.ListAliasesOutput, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := l.fn(aws.ToString(in.FunctionName))
	if err != nil {
		return nil, err
	}
	out := &lambda.ListAliasesOutput{}
	for _, a := range f.Aliases {
		out.Aliases = append(out.Aliases, *a)
	}
	sort.Slice(out.Aliases, func(i, j int) bool { return *out.Aliases[i].Name < *out.Aliases[j].Name })
	return out, nil
}

// ListVersionsByFunction lists $LATEST and the published versions.
func (l *Lambda) ListVersionsByFunction(_ context.Context, in *lambda.ListVersionsByFunctionInput, _ ...func(*lambda.Options)) (*lambda.ListVersionsByFunctionOutput, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := l.fn(aws.ToString(in.FunctionName))
	if err != nil {
		return nil, err
	}
	var vs []string
	for v := range f.Versions {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool {
		a, errA := strconv.Atoi(vs[i])
		b, errB := strconv.Atoi(vs[j])
		if errA != nil || errB != nil {
			return errA != nil && errB == nil
		}
		return a < b
	})
	out := &lambda.ListVersionsByFunctionOutput{}
	for _, v := range vs {
		out.Versions = append(out.Versions, lambdatypes.FunctionConfiguration{FunctionName: aws.String(f.Name), Version: aws.String(v), CodeSha256: aws.String(f.Versions[v])})
	}
	return out, nil
}

// GetFunctionConfiguration answers for $LATEST or a version.
func (l *Lambda) GetFunctionConfiguration(_ context.Context, in *lambda.GetFunctionConfigurationInput, _ ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := l.fn(aws.ToString(in.FunctionName))
	if err != nil {
		return nil, err
	}
	q := aws.ToString(in.Qualifier)
	if q == "" {
		q = "$LATEST"
	}
	sha, ok := f.Versions[q]
	if !ok {
		return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("Function not found: " + f.Name + ":" + q)}
	}
	out := &lambda.GetFunctionConfigurationOutput{FunctionName: aws.String(f.Name), Version: aws.String(q), CodeSha256: aws.String(sha),
		LastUpdateStatus: lambdatypes.LastUpdateStatusSuccessful, State: lambdatypes.StateActive}
	if f.Updating {
		out.LastUpdateStatus = lambdatypes.LastUpdateStatusInProgress
	}
	return out, nil
}

// Invoke records the payload and runs the function's Handler.
func (l *Lambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	l.mu.Lock()
	f, err := l.fn(aws.ToString(in.FunctionName))
	if err == nil {
		l.Invoked[f.Name] = append(l.Invoked[f.Name], in.Payload)
	}
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := &lambda.InvokeOutput{StatusCode: 200, ExecutedVersion: aws.String("$LATEST"), Payload: []byte("null")}
	if f.Handler != nil {
		payload, fnErr := f.Handler(in.Payload)
		out.Payload = payload
		if fnErr != "" {
			out.FunctionError = aws.String(fnErr)
		}
	}
	return out, nil
}

// Logs is a fake CloudWatch Logs holding audit lines in one log group. It
// applies no filter pattern (it records it): the CLI filters again itself.
type Logs struct {
	mu     sync.Mutex
	Group  string
	lines  []logtypes.FilteredLogEvent
	Filter []cloudwatchlogs.FilterLogEventsInput
}

// NewLogs returns a fake with an empty group.
func NewLogs(group string) *Logs { return &Logs{Group: group} }

// Audit appends audit records as the pipeline's slog JSON lines.
func (l *Logs) Audit(recs ...audit.Record) {
	for _, r := range recs {
		r.Audit = true
		b, _ := json.Marshal(r)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		m["level"], m["msg"] = "INFO", "audit "+string(r.Event)
		line, _ := json.Marshal(m)
		l.Line(r.Time, string(line))
	}
}

// Line appends a raw log line.
func (l *Logs) Line(at time.Time, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, logtypes.FilteredLogEvent{Message: aws.String(msg), Timestamp: aws.Int64(at.UnixMilli()),
		LogStreamName: aws.String("2026/11/21/[$LATEST]abc"), EventId: aws.String(strconv.Itoa(len(l.lines)))})
}

// FilterLogEvents pages the group's lines from StartTime, two per page.
func (l *Logs) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Filter = append(l.Filter, *in)
	if aws.ToString(in.LogGroupName) != l.Group {
		return nil, &logtypes.ResourceNotFoundException{Message: aws.String("The specified log group does not exist.")}
	}
	var evs []logtypes.FilteredLogEvent
	for _, e := range l.lines {
		if in.StartTime == nil || *e.Timestamp >= *in.StartTime {
			evs = append(evs, e)
		}
	}
	off, _ := strconv.Atoi(aws.ToString(in.NextToken))
	end := min(off+2, len(evs))
	out := &cloudwatchlogs.FilterLogEventsOutput{Events: evs[off:end]}
	if end < len(evs) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

// Events is a fake EventBridge recording what was put.
type Events struct {
	mu  sync.Mutex
	Put []ebtypes.PutEventsRequestEntry
	// Refuse makes every entry fail with this error code.
	Refuse string
}

// PutEvents records the entries.
func (e *Events) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := &eventbridge.PutEventsOutput{}
	for i, en := range in.Entries {
		if e.Refuse != "" {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{ErrorCode: aws.String(e.Refuse), ErrorMessage: aws.String("refused")})
			continue
		}
		e.Put = append(e.Put, en)
		out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{EventId: aws.String(fmt.Sprintf("event-%d", len(e.Put)+i))})
	}
	return out, nil
}

// Identity is a fake STS naming one caller.
type Identity struct{ ARN string }

// GetCallerIdentity names the caller.
func (i Identity) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return &sts.GetCallerIdentityOutput{Arn: aws.String(i.ARN), Account: aws.String("000000000000"), UserId: aws.String("AIDAEXAMPLE")}, nil
}
