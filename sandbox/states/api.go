package states

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/states/asl"
)

const (
	// maxPayload is Step Functions' limit on inputs, outputs and task results.
	maxPayload = 256 * 1024
)

type operation func(s *Service, body []byte) (any, error)

// operations are the API actions the sandbox implements; any other action is
// refused with UnknownOperationException.
var operations = map[string]operation{
	"ListStateMachines": (*Service).apiListStateMachines,
	// e2e's second ASL engine reads the definition an execution ran.
	"DescribeStateMachineForExecution": (*Service).apiDescribeStateMachineForExecution,
	"StartExecution":                   (*Service).apiStartExecution,
	"DescribeExecution":                (*Service).apiDescribeExecution,
	"ListExecutions":                   (*Service).apiListExecutions,
	"StopExecution":                    (*Service).apiStopExecution,
	"GetExecutionHistory":              (*Service).apiGetExecutionHistory,
	"SendTaskSuccess":                  (*Service).apiSendTaskSuccess,
	"SendTaskFailure":                  (*Service).apiSendTaskFailure,
}

// ServeHTTP serves the awsJson1_0 protocol (X-Amz-Target:
// AWSStepFunctions.<Action>) through core.ServeAWSJSON: the action and the
// body are the sandbox's one reading of the request against AWS's model.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	core.ServeAWSJSON(w, r, "states", s.api)
}

// jsonOps adapts operations to core.ServeAWSJSON: an empty body is {}, and
// a refusal is logged.
func (s *Service) jsonOps() map[string]core.JSONOp {
	ops := make(map[string]core.JSONOp, len(operations))
	for action, op := range operations {
		ops[action] = func(_ context.Context, body []byte) (any, error) {
			if len(bytes.TrimSpace(body)) == 0 {
				body = []byte("{}")
			}
			out, err := op(s, body)
			if err != nil {
				apiErr := core.AsAPIError(err)
				s.log.Info("states: request refused", "action", action, "error", apiErr.Code, "message", apiErr.Message)
				return nil, apiErr
			}
			return out, nil
		}
	}
	return ops
}

func badRequest(code, format string, args ...any) error {
	return core.Errorf(code, http.StatusBadRequest, format, args...)
}

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest("SerializationException", "the request body is not valid: %v", err)
	}
	return nil
}

func required(field, value string) error {
	if value == "" {
		return badRequest("ValidationException", "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
	}
	return nil
}

// validName applies Step Functions' rules for state machine and execution
// names: 1–80 characters, no white space, brackets, wildcards, the listed
// punctuation or control characters.
func validName(n string) bool {
	if n == "" || utf8.RuneCountInString(n) > 80 || !utf8.ValidString(n) {
		return false
	}
	for _, r := range n {
		if unicode.IsSpace(r) || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) ||
			r <= 0x1f || (r >= 0x7f && r <= 0x9f) {
			return false
		}
	}
	return true
}

var (
	roleARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	stateARNPrefix = "arn:aws:states:"
)

// parseARN splits a Step Functions ARN of the given resource type
// ("stateMachine" or "execution") into its resource parts.
func parseARN(arn, kind string) ([]string, error) {
	parts := strings.Split(arn, ":")
	want := 7
	if kind == "execution" {
		want = 8
	}
	if !strings.HasPrefix(arn, stateARNPrefix) || len(parts) != want || parts[3] == "" || parts[4] == "" || parts[5] != kind {
		return nil, badRequest("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", arn)
	}
	for _, p := range parts[6:] {
		if !validName(p) {
			return nil, badRequest("InvalidArn", "Invalid Arn: '%s'", arn)
		}
	}
	return parts[6:], nil
}

// lookupMachine finds a state machine; the caller holds s.mu.
func (s *Service) lookupMachine(arn string) (*stateMachine, error) {
	if _, err := parseARN(arn, "stateMachine"); err != nil {
		return nil, err
	}
	m := s.machines[arn]
	if m == nil {
		return nil, badRequest("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn)
	}
	return m, nil
}

// lookupExecution finds an execution; the caller holds s.mu.
func (s *Service) lookupExecution(arn string) (*execution, error) {
	if _, err := parseARN(arn, "execution"); err != nil {
		return nil, err
	}
	e := s.executions[arn]
	if e == nil {
		return nil, badRequest("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn)
	}
	return e, nil
}

func (s *Service) createStateMachine(name, definition, roleARN string) (string, time.Time, error) {
	if !validName(name) {
		return "", time.Time{}, badRequest("InvalidName", "Invalid Name: '%s'", name)
	}
	if !roleARNPattern.MatchString(roleARN) {
		return "", time.Time{}, badRequest("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", roleARN)
	}
	def, err := asl.Load([]byte(definition))
	if err != nil {
		return "", time.Time{}, badRequest("InvalidDefinition", "%v", err)
	}
	arn := machineARN(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.machines[arn]; m != nil {
		// CreateStateMachine is idempotent on the name and definition; a
		// different role is ignored, as AWS documents.
		if m.Definition == definition {
			return m.ARN, m.Created, nil
		}
		return "", time.Time{}, badRequest("StateMachineAlreadyExists", "State Machine Already Exists: '%s'", arn)
	}
	now := s.now().UTC()
	s.machines[arn] = &stateMachine{ARN: arn, Name: name, Definition: definition, RoleARN: roleARN, Created: now, RevisionID: newUUID(), def: def}
	s.touch()
	s.log.Info("states: state machine created", "stateMachineArn", arn)
	return arn, now, nil
}

// describeExecution answers a request whose one member is executionArn
// with view of that execution, read while holding s.mu.
func (s *Service) describeExecution(body []byte, view func(*execution) map[string]any) (any, error) {
	var in struct {
		ExecutionArn string `json:"executionArn"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := required("executionArn", in.ExecutionArn); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookupExecution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	return view(e), nil
}

func (s *Service) apiDescribeStateMachineForExecution(body []byte) (any, error) {
	return s.describeExecution(body, func(e *execution) map[string]any {
		return map[string]any{
			"stateMachineArn": e.StateMachineARN,
			"name":            e.Machine,
			"definition":      e.Definition,
			"roleArn":         e.RoleARN,
			"updateDate":      Epoch(e.Start),
		}
	})
}

func (s *Service) apiListStateMachines(body []byte) (any, error) {
	var in struct {
		MaxResults int    `json:"maxResults"`
		NextToken  string `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*stateMachine
	for _, m := range s.machines {
		all = append(all, m)
	}
	sortMachines(all)
	page, next, err := paginate(len(all), in.MaxResults, in.NextToken, "machines")
	if err != nil {
		return nil, err
	}
	items := []map[string]any{}
	for _, m := range all[page[0]:page[1]] {
		items = append(items, map[string]any{"stateMachineArn": m.ARN, "name": m.Name, "type": "STANDARD", "creationDate": Epoch(m.Created)})
	}
	out := map[string]any{"stateMachines": items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

func (s *Service) startExecution(machine, name, input string) (string, time.Time, error) {
	if err := required("stateMachineArn", machine); err != nil {
		return "", time.Time{}, err
	}
	if _, err := parseARN(machine, "stateMachine"); err != nil {
		return "", time.Time{}, err
	}
	if name == "" {
		name = newUUID()
	}
	if !validName(name) {
		return "", time.Time{}, badRequest("InvalidName", "Invalid Name: '%s'", name)
	}
	if input == "" {
		input = "{}"
	}
	if len(input) > maxPayload {
		return "", time.Time{}, badRequest("InvalidExecutionInput", "Invalid execution input: the input is larger than %d bytes", maxPayload)
	}
	parsed, err := asl.Decode([]byte(input))
	if err != nil {
		return "", time.Time{}, badRequest("InvalidExecutionInput", "Invalid execution input: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.lookupMachine(machine)
	if err != nil {
		return "", time.Time{}, err
	}
	arn := executionARN(m.Name, name)
	if e := s.executions[arn]; e != nil {
		// Standard workflows: the same name and input while RUNNING is the
		// same call again; anything else is a conflict.
		if e.Status == StatusRunning && e.Input == input {
			return e.ARN, e.Start, nil
		}
		return "", time.Time{}, badRequest("ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn)
	}
	if s.closed {
		return "", time.Time{}, core.Errorf("ServiceUnavailable", http.StatusServiceUnavailable, "the sandbox is shutting down")
	}
	now := s.now().UTC()
	s.seq++
	e := &execution{
		ARN: arn, Name: name, StateMachineARN: m.ARN, Machine: m.Name, RoleARN: m.RoleARN,
		Definition: m.Definition, def: m.def, Input: input, Status: StatusRunning, Start: now, Seq: s.seq,
		Cursor: &cursor{State: m.def.StartAt, Input: asl.Encode(parsed)},
	}
	s.executions[arn] = e
	in, details := data(input)
	s.add(e, HistoryEvent{Type: EventExecutionStarted, ExecutionStartedEventDetails: &ExecutionStartedDetails{Input: in, InputDetails: details, RoleArn: m.RoleARN}})
	s.launch(e)
	s.log.Info("states: execution started", "executionArn", arn)
	return arn, now, nil
}

func (s *Service) apiStartExecution(body []byte) (any, error) {
	var in struct {
		StateMachineArn string `json:"stateMachineArn"`
		Name            string `json:"name"`
		Input           string `json:"input"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	arn, start, err := s.startExecution(in.StateMachineArn, in.Name, in.Input)
	if err != nil {
		return nil, err
	}
	return map[string]any{"executionArn": arn, "startDate": Epoch(start)}, nil
}

func (s *Service) apiDescribeExecution(body []byte) (any, error) {
	return s.describeExecution(body, (*execution).description)
}

// description is DescribeExecution's answer for e.
func (e *execution) description() map[string]any {
	out := map[string]any{
		"executionArn":    e.ARN,
		"stateMachineArn": e.StateMachineARN,
		"name":            e.Name,
		"status":          e.Status,
		"startDate":       Epoch(e.Start),
		"input":           e.Input,
		"inputDetails":    map[string]any{"included": true},
		"redriveCount":    0,
		"redriveStatus":   "NOT_REDRIVABLE",
	}
	if !e.Stop.IsZero() {
		out["stopDate"] = Epoch(e.Stop)
	}
	if e.Output != nil {
		out["output"] = *e.Output
		out["outputDetails"] = map[string]any{"included": true}
	}
	if e.Error != nil {
		out["error"] = *e.Error
	}
	if e.Cause != nil {
		out["cause"] = *e.Cause
	}
	return out
}

var statuses = map[string]bool{StatusRunning: true, StatusSucceeded: true, StatusFailed: true, StatusTimedOut: true, StatusAborted: true, "PENDING_REDRIVE": true}

func (s *Service) apiListExecutions(body []byte) (any, error) {
	var in struct {
		StateMachineArn string `json:"stateMachineArn"`
		StatusFilter    string `json:"statusFilter"`
		MaxResults      int    `json:"maxResults"`
		NextToken       string `json:"nextToken"`
		MapRunArn       string `json:"mapRunArn"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.MapRunArn != "" {
		return nil, badRequest("ValidationException", "the sandbox does not implement Map runs")
	}
	if err := required("stateMachineArn", in.StateMachineArn); err != nil {
		return nil, err
	}
	if err := checkMaxResults(in.MaxResults); err != nil {
		return nil, err
	}
	if in.StatusFilter != "" && !statuses[in.StatusFilter] {
		return nil, badRequest("ValidationException", "1 validation error detected: Value '%s' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]", in.StatusFilter)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.lookupMachine(in.StateMachineArn); err != nil {
		return nil, err
	}
	var list []*execution
	for _, e := range s.sortedExecutions(in.StateMachineArn) {
		if in.StatusFilter == "" || e.Status == in.StatusFilter {
			list = append(list, e)
		}
	}
	page, next, err := paginate(len(list), in.MaxResults, in.NextToken, in.StateMachineArn+"|"+in.StatusFilter)
	if err != nil {
		return nil, err
	}
	items := []map[string]any{}
	for _, e := range list[page[0]:page[1]] {
		item := map[string]any{"executionArn": e.ARN, "stateMachineArn": e.StateMachineARN, "name": e.Name, "status": e.Status, "startDate": Epoch(e.Start)}
		if !e.Stop.IsZero() {
			item["stopDate"] = Epoch(e.Stop)
		}
		items = append(items, item)
	}
	out := map[string]any{"executions": items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

func (s *Service) apiStopExecution(body []byte) (any, error) {
	var in struct {
		ExecutionArn string `json:"executionArn"`
		Error        string `json:"error"`
		Cause        string `json:"cause"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := required("executionArn", in.ExecutionArn); err != nil {
		return nil, err
	}
	if err := checkFailure(in.Error, in.Cause); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookupExecution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	if e.Status == StatusRunning {
		s.add(e, HistoryEvent{Type: EventExecutionAborted, ExecutionAbortedEventDetails: &FailureDetails{Error: in.Error, Cause: in.Cause}})
		s.finish(e, StatusAborted, nil, &asl.Error{Name: in.Error, Cause: in.Cause})
		s.log.Info("states: execution stopped", "executionArn", e.ARN)
	}
	return map[string]any{"stopDate": Epoch(e.Stop)}, nil
}

func (s *Service) apiGetExecutionHistory(body []byte) (any, error) {
	var in struct {
		ExecutionArn         string `json:"executionArn"`
		MaxResults           int    `json:"maxResults"`
		NextToken            string `json:"nextToken"`
		ReverseOrder         bool   `json:"reverseOrder"`
		IncludeExecutionData *bool  `json:"includeExecutionData"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := required("executionArn", in.ExecutionArn); err != nil {
		return nil, err
	}
	if err := checkMaxResults(in.MaxResults); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookupExecution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	events := append([]HistoryEvent(nil), e.Events...)
	if in.ReverseOrder {
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
	}
	page, next, err := paginate(len(events), in.MaxResults, in.NextToken, fmt.Sprintf("%s|%t", e.ARN, in.ReverseOrder))
	if err != nil {
		return nil, err
	}
	events = events[page[0]:page[1]]
	if in.IncludeExecutionData != nil && !*in.IncludeExecutionData {
		for i := range events {
			events[i] = events[i].withoutData()
		}
	}
	out := map[string]any{"events": events}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// checkFailure applies Step Functions' limits to the error name and cause
// a caller reports (StopExecution, SendTaskFailure).
func checkFailure(errName, cause string) error {
	if len(errName) > 256 || len(cause) > 32768 {
		return badRequest("ValidationException", "the error is limited to 256 characters and the cause to 32768")
	}
	return nil
}

// checkMaxResults validates a page size before anything is looked up, as
// AWS validates input first.
func checkMaxResults(n int) error {
	if n < 0 || n > 1000 {
		return badRequest("ValidationException", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000", n)
	}
	return nil
}

// paginate returns the [from, to) slice of n items for a page and the next
// token. Tokens are bound to scope (the listing they came from) so a token
// from another listing is refused as InvalidToken, as AWS does.
func paginate(n, maxResults int, token, scope string) ([2]int, string, error) {
	if err := checkMaxResults(maxResults); err != nil {
		return [2]int{}, "", err
	}
	if maxResults == 0 {
		maxResults = 100
	}
	from := 0
	if token != "" {
		raw, err := base64.StdEncoding.DecodeString(token)
		prefix := scope + "|"
		rest, ok := strings.CutPrefix(string(raw), prefix)
		off, cerr := strconv.Atoi(rest)
		if err != nil || !ok || cerr != nil || off < 0 || off > n {
			return [2]int{}, "", badRequest("InvalidToken", "Invalid Token: '%s'", token)
		}
		from = off
	}
	to := min(from+maxResults, n)
	next := ""
	if to < n {
		next = base64.StdEncoding.EncodeToString([]byte(scope + "|" + strconv.Itoa(to)))
	}
	return [2]int{from, to}, next, nil
}

// Task tokens: a version byte and 32 random bytes, base64. A string that is
// not of this form is InvalidToken; one of this form that this service never
// issued is TaskDoesNotExist.
const tokenVersion = 0x01

func newToken() string {
	b := make([]byte, 33)
	b[0] = tokenVersion
	_, _ = crand.Read(b[1:])
	return base64.StdEncoding.EncodeToString(b)
}

func checkToken(tok string) error {
	if tok == "" {
		return required("taskToken", tok)
	}
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || len(b) != 33 || b[0] != tokenVersion {
		return badRequest("InvalidToken", "Invalid Token: 'Invalid token'")
	}
	return nil
}

// closeTask records a decision on a callback task's token; the caller holds
// s.mu. A token whose task is no longer waiting (timed out, finished, its
// execution stopped) is TaskTimedOut, as AWS reports it.
func (s *Service) closeTask(tok string, res *tokenResult) error {
	if err := checkToken(tok); err != nil {
		return err
	}
	t := s.tokens[tok]
	if t == nil {
		return badRequest("TaskDoesNotExist", "Task Does Not Exist: 'Provided task does not exist'")
	}
	if !t.Open {
		return badRequest("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
	}
	if res != nil {
		t.Open = false
		t.result = res
		s.touch()
	}
	if e := s.executions[t.Execution]; e != nil && e.wake != nil {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *Service) apiSendTaskSuccess(body []byte) (any, error) {
	var in struct {
		TaskToken string `json:"taskToken"`
		Output    string `json:"output"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkToken(in.TaskToken); err != nil {
		return nil, err
	}
	if err := required("output", in.Output); err != nil {
		return nil, err
	}
	if _, err := asl.Decode([]byte(in.Output)); err != nil || len(in.Output) > maxPayload {
		return nil, badRequest("InvalidOutput", "Invalid Output: 'the output is not valid JSON or exceeds %d bytes'", maxPayload)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return struct{}{}, s.closeTask(in.TaskToken, &tokenResult{output: in.Output})
}

func (s *Service) apiSendTaskFailure(body []byte) (any, error) {
	var in struct {
		TaskToken string `json:"taskToken"`
		Error     string `json:"error"`
		Cause     string `json:"cause"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkToken(in.TaskToken); err != nil {
		return nil, err
	}
	if err := checkFailure(in.Error, in.Cause); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return struct{}{}, s.closeTask(in.TaskToken, &tokenResult{err: &asl.Error{Name: in.Error, Cause: in.Cause}})
}

func (s *Service) apiSendTaskHeartbeat(body []byte) (any, error) {
	var in struct {
		TaskToken string `json:"taskToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkToken(in.TaskToken); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[in.TaskToken]; t != nil && t.Open {
		if e := s.executions[t.Execution]; e != nil && e.Cursor != nil && e.Cursor.Token == in.TaskToken && e.Cursor.Heartbeat > 0 {
			e.Cursor.HeartbeatAt = s.now().Add(time.Duration(e.Cursor.Heartbeat) * time.Second)
			s.touch()
		}
	}
	return struct{}{}, s.closeTask(in.TaskToken, nil)
}

// SendTaskSuccess completes a callback task (the Go API, for tests and the
// sandbox's setup; the HTTP API is the same operation).
func (s *Service) SendTaskSuccess(_ context.Context, token, output string) error {
	body, _ := json.Marshal(map[string]string{"taskToken": token, "output": output})
	_, err := s.apiSendTaskSuccess(body)
	return err
}
