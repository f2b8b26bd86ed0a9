package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/infra/statemachine"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// A second opinion on the sandbox's Step Functions: every execution a
// scenario ends is recorded (definition, input, the result or error of
// each Task attempt, the states entered, the end) and, after the
// scenarios, replayed by a third-party ASL engine, aws-local-stepfunctions
// (e2e/aslcheck/run.mjs), with each Task state's resource replaced by what
// the sandbox's task returned. Terminal status, error and the sequence of
// states entered must agree.

// taskResult is what one attempt of a Task state returned.
type taskResult struct {
	State  string  `json:"state"`
	Output *string `json:"output,omitempty"`
	Error  *string `json:"error,omitempty"`
	Cause  *string `json:"cause,omitempty"`
}

// recording is one execution as the sandbox ran it.
type recording struct {
	Scenario   string         `json:"scenario"`
	Execution  string         `json:"execution"`
	Definition string         `json:"definition"`
	Input      string         `json:"input"`
	Context    map[string]any `json:"context"`
	Status     string         `json:"status"`
	Error      string         `json:"error,omitempty"`
	Cause      string         `json:"cause,omitempty"`
	States     []string       `json:"states"`
	Tasks      []taskResult   `json:"tasks"`
}

// replay is what the second engine made of a recording.
type replay struct {
	Execution     string   `json:"execution"`
	Status        string   `json:"status"`
	Error         string   `json:"error"`
	Cause         string   `json:"cause"`
	States        []string `json:"states"`
	UnusedResults []string `json:"unusedResults"`
}

var recordings struct {
	mu      sync.Mutex
	list    []recording
	skipped map[string]int // by status: executions not replayable (still running, stopped)
}

// recordExecutions records every execution of the world that ended on its
// own (SUCCEEDED or FAILED): one that is still running or was stopped has
// no end the other engine could reach.
func (s *scenario) recordExecutions() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var execs []sfntypes.ExecutionListItem
	p := sfn.NewListExecutionsPaginator(s.sfn, &sfn.ListExecutionsInput{StateMachineArn: aws.String(s.world().StateMachineARN())})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			s.t.Errorf("record executions: ListExecutions: %v", err)
			return
		}
		execs = append(execs, page.Executions...)
	}
	for _, e := range execs {
		if e.Status != sfntypes.ExecutionStatusSucceeded && e.Status != sfntypes.ExecutionStatusFailed {
			recordings.mu.Lock()
			if recordings.skipped == nil {
				recordings.skipped = map[string]int{}
			}
			recordings.skipped[string(e.Status)]++
			recordings.mu.Unlock()
			continue
		}
		rec, err := s.record(ctx, aws.ToString(e.ExecutionArn))
		if err != nil {
			s.t.Errorf("record execution %s: %v", aws.ToString(e.ExecutionArn), err)
			continue
		}
		recordings.mu.Lock()
		recordings.list = append(recordings.list, rec)
		recordings.mu.Unlock()
	}
}

func (s *scenario) record(ctx context.Context, arn string) (recording, error) {
	desc, err := s.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return recording{}, err
	}
	sm, err := s.sfn.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return recording{}, err
	}
	var input any
	if err := json.Unmarshal([]byte(aws.ToString(desc.Input)), &input); err != nil {
		return recording{}, fmt.Errorf("input: %w", err)
	}
	rec := recording{
		Scenario: s.t.Name(), Execution: arn, Definition: aws.ToString(sm.Definition), Input: aws.ToString(desc.Input),
		Status: string(desc.Status), Error: aws.ToString(desc.Error), Cause: aws.ToString(desc.Cause),
		// The context object's fields the definition reads ("Context
		// object", Step Functions Developer Guide); State and Task are
		// placeholders: only the replaced resources see them.
		Context: map[string]any{
			"Execution": map[string]any{
				"Id": arn, "Name": aws.ToString(desc.Name), "Input": input, "RoleArn": aws.ToString(sm.RoleArn),
				"StartTime": aws.ToTime(desc.StartDate).UTC().Format(time.RFC3339Nano),
			},
			"StateMachine": map[string]any{"Id": aws.ToString(desc.StateMachineArn), "Name": aws.ToString(sm.Name)},
			"State":        map[string]any{"Name": "", "EnteredTime": aws.ToTime(desc.StartDate).UTC().Format(time.RFC3339Nano), "RetryCount": 0},
			"Task":         map[string]any{"Token": "recorded"},
		},
	}
	var events []sfntypes.HistoryEvent
	hp := sfn.NewGetExecutionHistoryPaginator(s.sfn, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	for hp.HasMorePages() {
		page, err := hp.NextPage(ctx)
		if err != nil {
			return recording{}, err
		}
		events = append(events, page.Events...)
	}
	state := ""
	for _, e := range events {
		if d := e.StateEnteredEventDetails; d != nil {
			state = aws.ToString(d.Name)
			rec.States = append(rec.States, state)
		}
		switch {
		case e.TaskSucceededEventDetails != nil:
			rec.Tasks = append(rec.Tasks, taskResult{State: state, Output: aws.String(aws.ToString(e.TaskSucceededEventDetails.Output))})
		case e.TaskFailedEventDetails != nil:
			rec.Tasks = append(rec.Tasks, taskResult{State: state, Error: e.TaskFailedEventDetails.Error, Cause: e.TaskFailedEventDetails.Cause})
		case e.TaskTimedOutEventDetails != nil:
			rec.Tasks = append(rec.Tasks, taskResult{State: state, Error: e.TaskTimedOutEventDetails.Error, Cause: e.TaskTimedOutEventDetails.Cause})
		case e.LambdaFunctionSucceededEventDetails != nil:
			rec.Tasks = append(rec.Tasks, taskResult{State: state, Output: aws.String(aws.ToString(e.LambdaFunctionSucceededEventDetails.Output))})
		case e.LambdaFunctionFailedEventDetails != nil:
			rec.Tasks = append(rec.Tasks, taskResult{State: state, Error: e.LambdaFunctionFailedEventDetails.Error, Cause: e.LambdaFunctionFailedEventDetails.Cause})
		case e.LambdaFunctionTimedOutEventDetails != nil:
			rec.Tasks = append(rec.Tasks, taskResult{State: state, Error: e.LambdaFunctionTimedOutEventDetails.Error, Cause: e.LambdaFunctionTimedOutEventDetails.Cause})
		}
	}
	return rec, nil
}

// secondOpinion replays the recordings with aws-local-stepfunctions and
// compares; it returns how many executions were compared.
func secondOpinion() (int, error) {
	recordings.mu.Lock()
	recs := slices.Clone(recordings.list)
	skipped := recordings.skipped
	recordings.mu.Unlock()
	if len(recs) == 0 {
		return 0, nil
	}
	b, _ := json.MarshalIndent(recs, "", "  ")
	if root := os.Getenv("ALIASFLOW_ARTIFACTS"); root != "" {
		if err := os.MkdirAll(filepath.Join(root, "e2e"), 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(root, "e2e", "asl-recordings.json"), b, 0o644)
		}
	}
	replays, err := replayAll(recs)
	if err != nil {
		return 0, err
	}
	diffs := disagreements(recs, replays)
	var skips []string
	for st, n := range skipped {
		skips = append(skips, fmt.Sprintf("%d %s", n, st))
	}
	sort.Strings(skips)
	scenarios := map[string]bool{}
	for _, r := range recs {
		scenarios[r.Scenario] = true
	}
	summary := fmt.Sprintf("aws-local-stepfunctions replayed %d executions of %d scenarios, %d disagree with the sandbox (not replayable: %s)",
		len(recs), len(scenarios), len(diffs), strings.Join(skips, ", "))
	fmt.Fprintln(os.Stderr, "e2e:", summary)
	if root := os.Getenv("ALIASFLOW_ARTIFACTS"); root != "" {
		_ = os.WriteFile(filepath.Join(root, "e2e", "asl-second-opinion.txt"), []byte(summary+"\n"), 0o644)
	}
	if len(diffs) > 0 {
		return len(recs), fmt.Errorf("aws-local-stepfunctions disagrees with the sandbox on %d of %d executions:\n  %s", len(diffs), len(recs), strings.Join(diffs, "\n  "))
	}
	return len(recs), nil
}

// replayAll runs e2e/aslcheck/run.mjs on the pinned Node 22 over recs.
func replayAll(recs []recording) ([]replay, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	node := filepath.Join(root, "node_modules", ".bin", "node")
	if _, err := os.Stat(node); err != nil {
		return nil, fmt.Errorf("the second ASL engine runs on the pinned Node 22 (%s): run `make tools` (npm ci) first", node)
	}
	dir, err := os.MkdirTemp("", "aliasflow-aslcheck-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "recordings.json")
	b, _ := json.Marshal(recs)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// ESM resolves aws-local-stepfunctions from the script's directory up
	// to the repository's node_modules (it ignores NODE_PATH).
	cmd := exec.CommandContext(ctx, node, filepath.Join("e2e", "aslcheck", "run.mjs"), path)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("aws-local-stepfunctions: %v\n%s", err, stderr.String())
	}
	var replays []replay
	if err := json.Unmarshal(stdout.Bytes(), &replays); err != nil {
		return nil, fmt.Errorf("aws-local-stepfunctions' answer: %v\n%s", err, stdout.String())
	}
	if len(replays) != len(recs) {
		return nil, fmt.Errorf("aws-local-stepfunctions replayed %d executions of %d", len(replays), len(recs))
	}
	return replays, nil
}

// disagreements compares each recording with its replay.
func disagreements(recs []recording, replays []replay) []string {
	var diffs []string
	for i, rec := range recs {
		got := replays[i]
		var d []string
		if got.Status != rec.Status {
			d = append(d, fmt.Sprintf("status %s, sandbox %s", got.Status, rec.Status))
		}
		if rec.Status == "FAILED" && (got.Error != rec.Error || got.Cause != rec.Cause) {
			d = append(d, fmt.Sprintf("error %s (%q), sandbox %s (%q)", got.Error, got.Cause, rec.Error, rec.Cause))
		}
		if !slices.Equal(got.States, rec.States) {
			d = append(d, fmt.Sprintf("states\n      %s\n    sandbox\n      %s", strings.Join(got.States, " → "), strings.Join(rec.States, " → ")))
		}
		if len(got.UnusedResults) > 0 {
			d = append(d, fmt.Sprintf("task results the sandbox recorded but the other engine never asked for: %v", got.UnusedResults))
		}
		if len(d) > 0 {
			diffs = append(diffs, fmt.Sprintf("%s, execution %s:\n    %s", rec.Scenario, rec.Execution, strings.Join(d, "\n    ")))
		}
	}
	return diffs
}

// TestSecondOpinionCanDisagree replays a hand-made recording of the real
// definition whose smoke test failed: the other engine agrees with the
// states the definition implies and disagrees with a sandbox that would
// have gone on to the approval.
func TestSecondOpinionCanDisagree(t *testing.T) {
	def := regexp.MustCompile(`\$\{[A-Za-z]+\}`).ReplaceAllString(statemachine.Definition, "arn:aws:lambda:us-east-1:000000000000:function:x")
	ok := recording{
		Scenario: t.Name(), Execution: "smoke-failed", Definition: def, Input: `{"target":{"function":"hello"}}`,
		Context: map[string]any{"Execution": map[string]any{"Id": "e", "StartTime": "2026-01-01T00:00:00Z"}, "State": map[string]any{"EnteredTime": "2026-01-01T00:00:00Z"}, "Task": map[string]any{"Token": "t"}},
		Status:  "FAILED", Error: "SmokeTestsFailed",
		Cause:  "The smoke checks against stg failed; stg is back on its previous version and prod is untouched.",
		States: []string{"Mode", "SmokeTest", "SmokePassed", "RestoreStg", "SmokeTestsFailed"},
		Tasks: []taskResult{
			{State: "SmokeTest", Output: aws.String(`{"Payload":{"passed":false,"checks":[]},"StatusCode":200}`)},
			{State: "RestoreStg", Output: aws.String(`{"Payload":{},"StatusCode":200}`)},
		},
	}
	wrong := ok
	wrong.Execution, wrong.Status, wrong.Error, wrong.Cause = "claims-approval", "SUCCEEDED", "", ""
	wrong.States = []string{"Mode", "SmokeTest", "SmokePassed", "RequestApproval"}
	replays, err := replayAll([]recording{ok, wrong})
	if err != nil {
		t.Fatal(err)
	}
	diffs := disagreements([]recording{ok, wrong}, replays)
	if len(diffs) != 1 || !strings.Contains(diffs[0], "claims-approval") {
		t.Errorf("disagreements = %q, want one, on claims-approval", diffs)
	}
}
