package states

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/states/asl"
)

// outcome is how one attempt of a Task ended.
type outcome struct {
	result  any
	err     *asl.Error
	stopped bool
}

// invocation is a Lambda call a Task makes.
type invocation struct {
	function  string
	qualifier string
	payload   []byte
}

type invokeResult struct {
	result any
	err    *asl.Error
}

// task runs a Task state through its attempts, retries and catchers.
func (s *Service) task(e *execution, st *asl.State, c *cursor, raw any) {
	for {
		s.mu.Lock()
		if !running(e) {
			s.mu.Unlock()
			return
		}
		phase, wakeAt := c.Phase, c.WakeAt
		s.mu.Unlock()
		var o outcome
		switch phase {
		case phaseBackoff:
			if !s.sleepUntil(e, wakeAt) {
				return
			}
			s.mu.Lock()
			c.Phase, c.WakeAt = phaseAttempt, time.Time{}
			s.touch()
			s.mu.Unlock()
			continue
		case phaseWaiting:
			o = s.await(e, st, c, nil)
		default:
			o = s.attempt(e, st, c, raw)
		}
		if s.settle(e, st, c, raw, o) {
			return
		}
	}
}

// settle applies an attempt's outcome: the output on success, else a retry
// (false: run the task again) or a catcher or the execution's failure.
func (s *Service) settle(e *execution, st *asl.State, c *cursor, raw any, o outcome) bool {
	if o.stopped {
		return true
	}
	if o.err == nil {
		out, err := st.Output(raw, o.result, s.contextObject(e, c, ""))
		if err != nil {
			s.failExecution(e, err)
			return true
		}
		s.exit(e, st, st.Next, st.End, out)
		return true
	}
	s.mu.Lock()
	if !running(e) {
		s.mu.Unlock()
		return true
	}
	if i, ok := asl.Retry(st.Retry, c.Retries, o.err.Name); ok {
		delay := st.Retry[i].Delay(c.Retries[i], s.random)
		c.Retries[i]++
		c.RetryCount++
		e.Transitions++ // each retry is billed as a transition
		c.Phase, c.WakeAt, c.Token = phaseBackoff, s.now().Add(delay), ""
		c.TimeoutAt, c.HeartbeatAt = time.Time{}, time.Time{}
		s.touch()
		s.mu.Unlock()
		return false
	}
	s.mu.Unlock()
	if catcher, ok := asl.Catch(st.Catch, o.err.Name); ok {
		out, err := asl.ApplyResultPath(st.Name, catcher.ResultPath, raw, o.err.Output())
		if err != nil {
			s.failExecution(e, err)
			return true
		}
		s.exit(e, st, catcher.Next, false, out)
		return true
	}
	s.failExecution(e, o.err)
	return true
}

// eventResource is how history events name the task's resource.
func eventResource(st *asl.State) (resourceType, resource string) {
	switch st.Integration {
	case asl.LambdaInvoke:
		return "lambda", "invoke"
	case asl.LambdaInvokeWait:
		return "lambda", "invoke.waitForTaskToken"
	}
	return "", st.Resource
}

func seconds(n int) *int64 {
	if n <= 0 {
		return nil
	}
	v := int64(n)
	return &v
}

// attempt schedules the task, calls Lambda and waits for the result.
func (s *Service) attempt(e *execution, st *asl.State, c *cursor, raw any) outcome {
	token := ""
	if st.Integration == asl.LambdaInvokeWait {
		token = newToken()
	}
	ctx := s.contextObject(e, c, token)
	pathIn, err := st.PathInput(raw, ctx)
	if err != nil {
		return outcome{err: err}
	}
	timeout, heartbeat, err := st.TaskTimeouts(pathIn, ctx)
	if err != nil {
		return outcome{err: err}
	}
	eff, err := st.EffectiveInput(raw, ctx)
	if err != nil {
		return outcome{err: err}
	}
	call, err := invocationOf(st, eff)
	if err != nil {
		return outcome{err: err}
	}
	s.mu.Lock()
	if !running(e) {
		s.mu.Unlock()
		return outcome{stopped: true}
	}
	now := s.now()
	c.Phase, c.Token, c.Heartbeat = phaseRunning, token, heartbeat
	c.TimeoutAt, c.HeartbeatAt = time.Time{}, time.Time{}
	if timeout > 0 {
		c.TimeoutAt = now.Add(time.Duration(timeout) * time.Second)
	}
	if heartbeat > 0 {
		c.HeartbeatAt = now.Add(time.Duration(heartbeat) * time.Second)
	}
	if token != "" {
		s.tokens[token] = &taskToken{Execution: e.ARN, Open: true}
	}
	rtype, resource := eventResource(st)
	if st.Integration == asl.LambdaFunction {
		in, det := data(asl.Encode(eff))
		s.add(e, HistoryEvent{Type: EventLambdaFunctionScheduled, LambdaFunctionScheduledEventDetails: &LambdaScheduledDetails{Resource: resource, Input: in, InputDetails: det, TimeoutInSeconds: seconds(timeout)}})
		s.add(e, HistoryEvent{Type: EventLambdaFunctionStarted})
	} else {
		s.add(e, HistoryEvent{Type: EventTaskScheduled, TaskScheduledEventDetails: &TaskScheduledDetails{
			ResourceType: rtype, Resource: resource, Region: core.Region, Parameters: asl.Encode(eff),
			TimeoutInSeconds: seconds(timeout), HeartbeatInSeconds: seconds(heartbeat),
		}})
		s.add(e, HistoryEvent{Type: EventTaskStarted, TaskStartedEventDetails: &ResourceDetails{ResourceType: rtype, Resource: resource}})
	}
	authorize, machine, role := s.authorize, e.Machine, e.RoleARN
	s.mu.Unlock()

	done := make(chan invokeResult, 1)
	ictx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	go func() {
		if authorize != nil {
			if err := authorize(machine, role, call.function, call.qualifier); err != nil {
				done <- invokeResult{err: accessDenied(err)}
				return
			}
		}
		done <- s.invoke(ictx, st, call)
	}()
	return s.await(e, st, c, done)
}

// await waits for the Lambda call (done, nil once it returned), the task
// token's SendTaskSuccess / SendTaskFailure, the task's timeout or
// heartbeat, or the execution's end.
func (s *Service) await(e *execution, st *asl.State, c *cursor, done <-chan invokeResult) outcome {
	rtype, resource := eventResource(st)
	legacy := st.Integration == asl.LambdaFunction
	for {
		s.mu.Lock()
		if !running(e) {
			s.mu.Unlock()
			return outcome{stopped: true}
		}
		if t := s.tokens[c.Token]; c.Token != "" && t != nil && t.result != nil {
			r := t.result
			t.result = nil
			defer s.mu.Unlock()
			if r.err != nil {
				s.add(e, HistoryEvent{Type: EventTaskFailed, TaskFailedEventDetails: &FailureDetails{ResourceType: rtype, Resource: resource, Error: r.err.Name, Cause: r.err.Cause}})
				return outcome{err: r.err}
			}
			out, det := data(r.output)
			s.add(e, HistoryEvent{Type: EventTaskSucceeded, TaskSucceededEventDetails: &OutputDetails{ResourceType: rtype, Resource: resource, Output: out, OutputDetails: det}})
			v, _ := asl.Decode([]byte(r.output))
			return outcome{result: v}
		}
		now := s.now()
		for _, d := range []struct {
			at   time.Time
			name string
		}{{c.TimeoutAt, asl.ErrTimeout}, {c.HeartbeatAt, asl.ErrHeartbeatTimeout}} {
			if d.at.IsZero() || now.Before(d.at) {
				continue
			}
			if t := s.tokens[c.Token]; t != nil {
				t.Open = false
			}
			if legacy {
				s.add(e, HistoryEvent{Type: EventLambdaFunctionTimedOut, LambdaFunctionTimedOutEventDetails: &FailureDetails{Error: d.name}})
			} else {
				s.add(e, HistoryEvent{Type: EventTaskTimedOut, TaskTimedOutEventDetails: &FailureDetails{ResourceType: rtype, Resource: resource, Error: d.name}})
			}
			s.mu.Unlock()
			return outcome{err: &asl.Error{Name: d.name}}
		}
		next := c.TimeoutAt
		if hb := c.HeartbeatAt; !hb.IsZero() && (next.IsZero() || hb.Before(next)) {
			next = hb
		}
		s.mu.Unlock()

		fired, stop := make(<-chan struct{}), func() {}
		if !next.IsZero() {
			fired, stop = s.timerAt(next)
		}
		select {
		case <-e.ctx.Done():
			stop()
			return outcome{stopped: true}
		case <-e.wake:
			stop()
		case <-fired:
		case r := <-done:
			stop()
			done = nil
			if o, finished := s.invoked(e, st, c, r); finished {
				return o
			}
		}
	}
}

// invoked records the Lambda call's result. A request/response task is
// finished by it; a callback task goes on waiting for its token unless the
// call failed.
func (s *Service) invoked(e *execution, st *asl.State, c *cursor, r invokeResult) (outcome, bool) {
	rtype, resource := eventResource(st)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !running(e) {
		return outcome{stopped: true}, true
	}
	if r.err != nil {
		if t := s.tokens[c.Token]; t != nil {
			if t.result != nil {
				// The token was answered before the call returned: that wins.
				return outcome{}, false
			}
			t.Open = false
		}
		if st.Integration == asl.LambdaFunction {
			s.add(e, HistoryEvent{Type: EventLambdaFunctionFailed, LambdaFunctionFailedEventDetails: &FailureDetails{Error: r.err.Name, Cause: r.err.Cause}})
		} else {
			s.add(e, HistoryEvent{Type: EventTaskFailed, TaskFailedEventDetails: &FailureDetails{ResourceType: rtype, Resource: resource, Error: r.err.Name, Cause: r.err.Cause}})
		}
		return outcome{err: r.err}, true
	}
	out, det := data(asl.Encode(r.result))
	switch st.Integration {
	case asl.LambdaInvokeWait:
		s.add(e, HistoryEvent{Type: EventTaskSubmitted, TaskSubmittedEventDetails: &OutputDetails{ResourceType: rtype, Resource: resource, Output: out, OutputDetails: det}})
		c.Phase = phaseWaiting
		s.touch()
		return outcome{}, false
	case asl.LambdaFunction:
		s.add(e, HistoryEvent{Type: EventLambdaFunctionSucceeded, LambdaFunctionSucceededEventDetails: &OutputDetails{Output: out, OutputDetails: det}})
	default:
		s.add(e, HistoryEvent{Type: EventTaskSucceeded, TaskSucceededEventDetails: &OutputDetails{ResourceType: rtype, Resource: resource, Output: out, OutputDetails: det}})
	}
	return outcome{result: r.result}, true
}

// invocationOf builds the Lambda call from the effective input: for the
// optimized integration the resolved Parameters (FunctionName, Payload,
// Qualifier, InvocationType), for a function ARN the input itself.
func invocationOf(st *asl.State, eff any) (invocation, *asl.Error) {
	if st.Integration == asl.LambdaFunction {
		return invocation{function: st.Resource, payload: []byte(asl.Encode(eff))}, nil
	}
	params, _ := eff.(map[string]any)
	bad := func(format string, args ...any) (invocation, *asl.Error) {
		return invocation{}, &asl.Error{Name: asl.ErrRuntime, Cause: fmt.Sprintf("An error occurred while executing the state '%s'. %s", st.Name, fmt.Sprintf(format, args...))}
	}
	fn, ok := params["FunctionName"].(string)
	if !ok || fn == "" {
		return bad("The Parameters' FunctionName must be a non-empty string.")
	}
	call := invocation{function: fn, payload: []byte("{}")}
	if q, has := params["Qualifier"]; has {
		if call.qualifier, ok = q.(string); !ok {
			return bad("The Parameters' Qualifier must be a string.")
		}
	}
	if t, has := params["InvocationType"]; has && t != "RequestResponse" {
		return bad("The InvocationType %v is not supported; only RequestResponse is.", t)
	}
	if p, has := params["Payload"]; has {
		call.payload = []byte(asl.Encode(p))
	}
	return call, nil
}

// functionErrorName is the error Step Functions reports for a function
// error of the given errorType. An error the function's own code raised
// keeps its type; one raised by Lambda's platform — a timeout
// (Sandbox.Timedout), an out-of-memory kill or a crashed runtime
// (Runtime.*) — is reported as Lambda.Unknown: "Unhandled errors in Lambda
// are reported as Lambda.Unknown in the error output. These include
// out-of-memory errors and function timeouts" (Step Functions, Handle
// Lambda service exceptions,
// https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
func functionErrorName(errorType string) string {
	if errorType == "" || strings.HasPrefix(errorType, "Sandbox.") || strings.HasPrefix(errorType, "Runtime.") {
		return "Lambda.Unknown"
	}
	return errorType
}

// accessDenied is the task error of an Invoke the execution role may not
// make. Lambda answers it AccessDeniedException (403), which is not one of
// the Invoke API's modeled errors ("Invoke", Errors, AWS Lambda API
// Reference, https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html),
// so the Lambda client Step Functions calls with reports it as its generic
// AWSLambdaException: "Lambda errors are reported as Lambda.ErrorName",
// and AWSLambdaException is one of the Lambda service exceptions the page
// names ("Handle Lambda service exceptions",
// https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
// The docs do not quote the error of a denied invoke; the sandbox reports
// Lambda.AWSLambdaException, with the cause in the format the other Invoke
// API errors here have, so a Retry on Lambda.AWSLambdaException retries it
// as it would on AWS.
func accessDenied(err error) *asl.Error {
	return &asl.Error{
		Name:  "Lambda.AWSLambdaException",
		Cause: fmt.Sprintf("%s (Service: Lambda, Status Code: %d, Error Code: AccessDeniedException)", err.Error(), http.StatusForbidden),
	}
}

// invoke calls Lambda and turns its answer into a task result or error, as
// the Lambda integration does: a function error is named by the payload's
// errorType with the payload as cause; an Invoke API error is
// "Lambda.<exception>".
func (s *Service) invoke(ctx context.Context, st *asl.State, call invocation) invokeResult {
	res, err := s.invoker.Invoke(ctx, call.function, call.qualifier, call.payload)
	if err != nil {
		var apiErr *core.APIError
		if errors.As(err, &apiErr) {
			return invokeResult{err: &asl.Error{
				Name:  "Lambda." + apiErr.Code,
				Cause: fmt.Sprintf("%s (Service: Lambda, Status Code: %d, Error Code: %s)", apiErr.Message, apiErr.Status, apiErr.Code),
			}}
		}
		return invokeResult{err: &asl.Error{Name: "Lambda.SdkClientException", Cause: err.Error()}}
	}
	if res.FunctionError != "" {
		var p struct {
			ErrorType string `json:"errorType"`
		}
		_ = json.Unmarshal(res.Payload, &p)
		return invokeResult{err: &asl.Error{Name: functionErrorName(p.ErrorType), Cause: string(res.Payload)}}
	}
	if len(res.Payload) > maxPayload {
		return invokeResult{err: &asl.Error{Name: "States.DataLimitExceeded", Cause: fmt.Sprintf("The Lambda function's output is larger than %d bytes.", maxPayload)}}
	}
	var payload any
	if len(res.Payload) > 0 {
		v, derr := asl.Decode(res.Payload)
		if derr != nil {
			v = string(res.Payload)
		}
		payload = v
	}
	if st.Integration == asl.LambdaFunction {
		return invokeResult{result: payload}
	}
	version := res.ExecutedVersion
	if version == "" {
		version = "$LATEST"
	}
	requestID := newUUID()
	length := strconv.Itoa(len(res.Payload))
	date := s.now().UTC().Format(http.TimeFormat)
	headers := map[string]any{
		"X-Amz-Executed-Version": version,
		"x-amzn-RequestId":       requestID,
		"Content-Type":           "application/json",
		"Content-Length":         length,
		"Date":                   date,
		"Connection":             "keep-alive",
	}
	all := map[string]any{}
	for k, v := range headers {
		all[k] = []any{v}
	}
	return invokeResult{result: map[string]any{
		"ExecutedVersion": version,
		"Payload":         payload,
		"SdkHttpMetadata": map[string]any{
			"AllHttpHeaders": all,
			"HttpHeaders":    headers,
			"HttpStatusCode": json.Number("200"),
		},
		"SdkResponseMetadata": map[string]any{"RequestId": requestID},
		"StatusCode":          json.Number("200"),
	}}
}
