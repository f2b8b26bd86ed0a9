package states

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// Epoch is a time in the awsJson wire form: seconds since the Unix epoch as
// a JSON number with millisecond precision.
type Epoch time.Time

// MarshalJSON writes seconds with milliseconds.
func (t Epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

// UnmarshalJSON reads seconds since the epoch.
func (t *Epoch) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	sec, frac := math.Modf(f)
	*t = Epoch(time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC())
	return nil
}

// Time returns the time.
func (t Epoch) Time() time.Time { return time.Time(t) }

// The history event types this service records (the names of the Step
// Functions API's HistoryEventType enum).
const (
	EventExecutionStarted        = "ExecutionStarted"
	EventExecutionSucceeded      = "ExecutionSucceeded"
	EventExecutionFailed         = "ExecutionFailed"
	EventExecutionAborted        = "ExecutionAborted"
	EventExecutionTimedOut       = "ExecutionTimedOut"
	EventTaskScheduled           = "TaskScheduled"
	EventTaskStarted             = "TaskStarted"
	EventTaskSubmitted           = "TaskSubmitted"
	EventTaskSucceeded           = "TaskSucceeded"
	EventTaskFailed              = "TaskFailed"
	EventTaskTimedOut            = "TaskTimedOut"
	EventLambdaFunctionScheduled = "LambdaFunctionScheduled"
	EventLambdaFunctionStarted   = "LambdaFunctionStarted"
	EventLambdaFunctionSucceeded = "LambdaFunctionSucceeded"
	EventLambdaFunctionFailed    = "LambdaFunctionFailed"
	EventLambdaFunctionTimedOut  = "LambdaFunctionTimedOut"
	EventFailStateEntered        = "FailStateEntered"
)

// DataDetails says whether data in an event was truncated (never, here).
type DataDetails struct {
	Truncated bool `json:"truncated"`
}

// ExecutionStartedDetails is executionStartedEventDetails.
type ExecutionStartedDetails struct {
	Input        *string      `json:"input,omitempty"`
	InputDetails *DataDetails `json:"inputDetails,omitempty"`
	RoleArn      string       `json:"roleArn,omitempty"`
}

// OutputDetails carries an output: executionSucceededEventDetails,
// stateExitedEventDetails (with Name), taskSubmitted / taskSucceeded (with
// the resource), lambdaFunctionSucceededEventDetails.
type OutputDetails struct {
	Name          string       `json:"name,omitempty"`
	ResourceType  string       `json:"resourceType,omitempty"`
	Resource      string       `json:"resource,omitempty"`
	Output        *string      `json:"output,omitempty"`
	OutputDetails *DataDetails `json:"outputDetails,omitempty"`
}

// InputDetails carries an input: stateEnteredEventDetails.
type InputDetails struct {
	Name         string       `json:"name,omitempty"`
	Input        *string      `json:"input,omitempty"`
	InputDetails *DataDetails `json:"inputDetails,omitempty"`
}

// FailureDetails carries an error and cause: execution failed / aborted /
// timed out, task failed / timed out, Lambda function failed / timed out.
type FailureDetails struct {
	ResourceType string `json:"resourceType,omitempty"`
	Resource     string `json:"resource,omitempty"`
	Error        string `json:"error,omitempty"`
	Cause        string `json:"cause,omitempty"`
}

// TaskScheduledDetails is taskScheduledEventDetails. Parameters is the
// resolved Parameters as a JSON string: for a .waitForTaskToken task it
// holds the task token, which is how a decider finds it.
type TaskScheduledDetails struct {
	ResourceType       string `json:"resourceType"`
	Resource           string `json:"resource"`
	Region             string `json:"region"`
	Parameters         string `json:"parameters"`
	TimeoutInSeconds   *int64 `json:"timeoutInSeconds,omitempty"`
	HeartbeatInSeconds *int64 `json:"heartbeatInSeconds,omitempty"`
}

// ResourceDetails is taskStartedEventDetails.
type ResourceDetails struct {
	ResourceType string `json:"resourceType"`
	Resource     string `json:"resource"`
}

// LambdaScheduledDetails is lambdaFunctionScheduledEventDetails.
type LambdaScheduledDetails struct {
	Resource         string       `json:"resource"`
	Input            *string      `json:"input,omitempty"`
	InputDetails     *DataDetails `json:"inputDetails,omitempty"`
	TimeoutInSeconds *int64       `json:"timeoutInSeconds,omitempty"`
}

// HistoryEvent is one event of an execution's history, in the shape
// GetExecutionHistory returns.
type HistoryEvent struct {
	Timestamp       Epoch  `json:"timestamp"`
	Type            string `json:"type"`
	ID              int64  `json:"id"`
	PreviousEventID int64  `json:"previousEventId"`

	ExecutionStartedEventDetails        *ExecutionStartedDetails `json:"executionStartedEventDetails,omitempty"`
	ExecutionSucceededEventDetails      *OutputDetails           `json:"executionSucceededEventDetails,omitempty"`
	ExecutionFailedEventDetails         *FailureDetails          `json:"executionFailedEventDetails,omitempty"`
	ExecutionAbortedEventDetails        *FailureDetails          `json:"executionAbortedEventDetails,omitempty"`
	ExecutionTimedOutEventDetails       *FailureDetails          `json:"executionTimedOutEventDetails,omitempty"`
	StateEnteredEventDetails            *InputDetails            `json:"stateEnteredEventDetails,omitempty"`
	StateExitedEventDetails             *OutputDetails           `json:"stateExitedEventDetails,omitempty"`
	TaskScheduledEventDetails           *TaskScheduledDetails    `json:"taskScheduledEventDetails,omitempty"`
	TaskStartedEventDetails             *ResourceDetails         `json:"taskStartedEventDetails,omitempty"`
	TaskSubmittedEventDetails           *OutputDetails           `json:"taskSubmittedEventDetails,omitempty"`
	TaskSucceededEventDetails           *OutputDetails           `json:"taskSucceededEventDetails,omitempty"`
	TaskFailedEventDetails              *FailureDetails          `json:"taskFailedEventDetails,omitempty"`
	TaskTimedOutEventDetails            *FailureDetails          `json:"taskTimedOutEventDetails,omitempty"`
	LambdaFunctionScheduledEventDetails *LambdaScheduledDetails  `json:"lambdaFunctionScheduledEventDetails,omitempty"`
	LambdaFunctionSucceededEventDetails *OutputDetails           `json:"lambdaFunctionSucceededEventDetails,omitempty"`
	LambdaFunctionFailedEventDetails    *FailureDetails          `json:"lambdaFunctionFailedEventDetails,omitempty"`
	LambdaFunctionTimedOutEventDetails  *FailureDetails          `json:"lambdaFunctionTimedOutEventDetails,omitempty"`
}

// withoutData returns a copy of the event with inputs and outputs removed,
// for GetExecutionHistory with includeExecutionData false.
func (ev HistoryEvent) withoutData() HistoryEvent {
	c := ev
	if d := c.ExecutionStartedEventDetails; d != nil {
		cp := *d
		cp.Input, cp.InputDetails = nil, nil
		c.ExecutionStartedEventDetails = &cp
	}
	if d := c.StateEnteredEventDetails; d != nil {
		cp := *d
		cp.Input, cp.InputDetails = nil, nil
		c.StateEnteredEventDetails = &cp
	}
	if d := c.LambdaFunctionScheduledEventDetails; d != nil {
		cp := *d
		cp.Input, cp.InputDetails = nil, nil
		c.LambdaFunctionScheduledEventDetails = &cp
	}
	for _, p := range []**OutputDetails{&c.ExecutionSucceededEventDetails, &c.StateExitedEventDetails, &c.TaskSubmittedEventDetails, &c.TaskSucceededEventDetails, &c.LambdaFunctionSucceededEventDetails} {
		if *p != nil {
			cp := **p
			cp.Output, cp.OutputDetails = nil, nil
			*p = &cp
		}
	}
	return c
}

// data wraps a JSON text for an event's input or output field.
func data(s string) (*string, *DataDetails) { return &s, &DataDetails{} }
