package pendingtest

import (
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

func TestHistoryPage(t *testing.T) {
	var history []types.HistoryEvent
	for id := range int64(5) {
		history = append(history, types.HistoryEvent{Id: id + 1})
	}
	ids := func(evs []types.HistoryEvent) []int64 {
		var out []int64
		for _, e := range evs {
			out = append(out, e.Id)
		}
		return out
	}
	tests := []struct {
		name     string
		in       sfn.GetExecutionHistoryInput
		pageSize int
		wantIDs  []int64
		wantNext string
	}{
		{"all, oldest first", sfn.GetExecutionHistoryInput{}, 0, []int64{1, 2, 3, 4, 5}, ""},
		{"reverse", sfn.GetExecutionHistoryInput{ReverseOrder: true}, 0, []int64{5, 4, 3, 2, 1}, ""},
		{"MaxResults", sfn.GetExecutionHistoryInput{MaxResults: 2}, 0, []int64{1, 2}, "2"},
		{"next page", sfn.GetExecutionHistoryInput{MaxResults: 2, NextToken: aws.String("2")}, 0, []int64{3, 4}, "4"},
		{"reverse next page", sfn.GetExecutionHistoryInput{MaxResults: 2, NextToken: aws.String("4"), ReverseOrder: true}, 0, []int64{1}, ""},
		{"page size caps MaxResults", sfn.GetExecutionHistoryInput{MaxResults: 100}, 3, []int64{1, 2, 3}, "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := HistoryPage(history, &tt.in, tt.pageSize)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(out.Events); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("events = %v, want %v", got, tt.wantIDs)
			}
			if got := aws.ToString(out.NextToken); got != tt.wantNext {
				t.Errorf("NextToken = %q, want %q", got, tt.wantNext)
			}
		})
	}
	if history[0].Id != 1 {
		t.Errorf("ReverseOrder reversed the caller's history: %v", ids(history))
	}
	var bad *types.InvalidToken
	if _, err := HistoryPage(history, &sfn.GetExecutionHistoryInput{NextToken: aws.String("nope")}, 0); !errors.As(err, &bad) {
		t.Errorf("bad token: err = %v, want InvalidToken", err)
	}
}
