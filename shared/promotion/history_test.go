package promotion

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// pagedHistory serves a history as GetExecutionHistory does: newest first
// when asked, MaxResults (here capped at size) a page, NextToken an offset.
type pagedHistory struct {
	events []types.HistoryEvent // oldest first
	size   int
	calls  int
	// asked is each call's MaxResults and IncludeExecutionData.
	asked []string
}

func (h *pagedHistory) GetExecutionHistory(_ context.Context, in *sfn.GetExecutionHistoryInput, _ ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	h.calls++
	h.asked = append(h.asked, strconv.Itoa(int(in.MaxResults))+"/"+strconv.FormatBool(aws.ToBool(in.IncludeExecutionData)))
	evs := slices.Clone(h.events)
	if in.ReverseOrder {
		slices.Reverse(evs)
	}
	from := 0
	if in.NextToken != nil {
		from, _ = strconv.Atoi(*in.NextToken)
	}
	to := min(from+min(int(in.MaxResults), h.size), len(evs))
	out := &sfn.GetExecutionHistoryOutput{Events: evs[from:to]}
	if to < len(evs) {
		out.NextToken = aws.String(strconv.Itoa(to))
	}
	return out, nil
}

func entered(name string) types.HistoryEvent {
	return types.HistoryEvent{Type: types.HistoryEventTypeTaskStateEntered, StateEnteredEventDetails: &types.StateEnteredEventDetails{Name: aws.String(name)}}
}

func exitedState(name string) types.HistoryEvent {
	return types.HistoryEvent{Type: types.HistoryEventTypeTaskStateExited, StateExitedEventDetails: &types.StateExitedEventDetails{Name: aws.String(name)}}
}

func ev(t types.HistoryEventType) types.HistoryEvent { return types.HistoryEvent{Type: t} }

func failed(errName, cause string) types.HistoryEvent {
	return types.HistoryEvent{Type: types.HistoryEventTypeTaskFailed, TaskFailedEventDetails: &types.TaskFailedEventDetails{Error: aws.String(errName), Cause: aws.String(cause)}}
}

func smokeThenApproval() []types.HistoryEvent {
	return []types.HistoryEvent{
		ev(types.HistoryEventTypeExecutionStarted),
		entered(StateSmokeTest), ev(types.HistoryEventTypeTaskScheduled), ev(types.HistoryEventTypeTaskSucceeded), exitedState(StateSmokeTest),
		entered(StateSmokePassed), exitedState(StateSmokePassed),
		entered(StateRequestApproval),
	}
}

func TestProdMoving(t *testing.T) {
	approval := smokeThenApproval()
	shifting := append(slices.Clone(approval), ev(types.HistoryEventTypeTaskScheduled), ev(types.HistoryEventTypeTaskSucceeded),
		exitedState(StateRequestApproval), entered(StateRecordApproval), exitedState(StateRecordApproval), entered(StateBeginShift))
	aborted := append(slices.Clone(approval), failed("States.Runtime", "x"), exitedState(StateRequestApproval), entered(StateAbort))
	abortedAfterShift := append(slices.Clone(shifting), failed("aliasflow.TaskFailed", "x"), exitedState(StateBeginShift), entered(StateAbort))
	tests := []struct {
		name   string
		events []types.HistoryEvent
		want   bool
	}{
		{"waiting for approval", approval, false},
		{"entered BeginShift", shifting, true},
		{"aborting before the shift", aborted, false},
		{"aborting after entering BeginShift", abortedAfterShift, true},
		{"nothing entered yet", []types.HistoryEvent{ev(types.HistoryEventTypeExecutionStarted)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &pagedHistory{events: tt.events, size: 2}
			got, err := ProdMoving(context.Background(), api, "arn")
			if err != nil || got != tt.want {
				t.Errorf("ProdMoving = %v, %v; want %v", got, err, tt.want)
			}
			if in := ProdMovingIn(tt.events); in != tt.want {
				t.Errorf("ProdMovingIn = %v, want %v (the same rule)", in, tt.want)
			}
		})
	}
}

func TestProdMovingReadsOnePageOfARunningPromotion(t *testing.T) {
	events := smokeThenApproval()
	for range 3000 { // a long history: many retries earlier
		events = slices.Insert(events, 1, ev(types.HistoryEventTypeExecutionStarted))
	}
	api := &pagedHistory{events: events, size: 1000}
	if moving, err := ProdMoving(context.Background(), api, "arn"); err != nil || moving || api.calls != 1 {
		t.Errorf("ProdMoving = %v, %v after %d calls; want false after 1", moving, err, api.calls)
	}
}

func TestTaskAttempts(t *testing.T) {
	base := smokeThenApproval()
	tests := []struct {
		name   string
		events []types.HistoryEvent
		want   []TaskAttempt
	}{
		{"not entered", base[:5], nil},
		{"first attempt running", append(slices.Clone(base), ev(types.HistoryEventTypeTaskScheduled), ev(types.HistoryEventTypeTaskStarted)),
			[]TaskAttempt{{}}},
		{"submitted and waiting", append(slices.Clone(base), ev(types.HistoryEventTypeTaskScheduled), ev(types.HistoryEventTypeTaskSubmitted)),
			[]TaskAttempt{{Submitted: true}}},
		{"retried after a failure", append(slices.Clone(base), ev(types.HistoryEventTypeTaskScheduled), failed("Lambda.Unknown", "boom"),
			ev(types.HistoryEventTypeTaskScheduled)),
			[]TaskAttempt{{Closed: types.HistoryEventTypeTaskFailed, Error: "Lambda.Unknown", Cause: "boom"}, {}}},
		{"cut off and run again", append(slices.Clone(base), ev(types.HistoryEventTypeTaskScheduled), ev(types.HistoryEventTypeTaskScheduled),
			ev(types.HistoryEventTypeTaskSubmitted)),
			[]TaskAttempt{{}, {Submitted: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TaskAttempts(context.Background(), &pagedHistory{events: tt.events, size: 3}, "arn", StateRequestApproval)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("TaskAttempts = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestReadHistoryIsOldestFirst(t *testing.T) {
	events := smokeThenApproval()
	for i := range events {
		events[i].Id = int64(i + 1)
	}
	got, err := ReadHistory(context.Background(), &pagedHistory{events: events, size: 3}, "arn")
	if err != nil || len(got) != len(events) {
		t.Fatalf("ReadHistory = %d events, %v", len(got), err)
	}
	for i := range got {
		if got[i].Id != int64(i+1) {
			t.Fatalf("event %d has id %d; want the history oldest first", i, got[i].Id)
		}
	}
}

// TestScanRecentReadsSmallPages: a reader of the newest events with their
// data (the shift verifying its caller) asks for a few at a time, not a
// thousand states' inputs, and pages on when it must.
func TestScanRecentReadsSmallPages(t *testing.T) {
	events := smokeThenApproval()
	api := &pagedHistory{events: events, size: 1000}
	seen := 0
	err := ScanRecent(context.Background(), api, "arn", func(ev *types.HistoryEvent) bool {
		seen++
		return EnteredState(ev) != StateSmokeTest
	})
	if err != nil || seen != len(events)-1 {
		t.Fatalf("ScanRecent saw %d events (%v), want %d", seen, err, len(events)-1)
	}
	if want := []string{"10/true"}; !slices.Equal(api.asked, want) {
		t.Errorf("calls asked %v, want %v", api.asked, want)
	}
	// 15 newer events: the state sought is 22nd newest, on the third page.
	api = &pagedHistory{events: append(slices.Clone(events), slices.Repeat([]types.HistoryEvent{ev(types.HistoryEventTypeTaskFailed)}, 15)...), size: 1000}
	_ = ScanRecent(context.Background(), api, "arn", func(ev *types.HistoryEvent) bool { return EnteredState(ev) != StateSmokeTest })
	if want := []string{"10/true", "10/true", "10/true"}; !slices.Equal(api.asked, want) {
		t.Errorf("calls asked %v, want %v", api.asked, want)
	}
}
