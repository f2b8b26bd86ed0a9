package sfnfake

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
	in := func(max int32, reverse bool, token *string) *sfn.GetExecutionHistoryInput {
		return &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String("arn:x"), MaxResults: max, ReverseOrder: reverse, NextToken: token}
	}
	// read follows NextToken to the end and returns the ids page by page.
	read := func(t *testing.T, max int32, reverse bool, pageSize int) [][]int64 {
		var pages [][]int64
		var token *string
		for range 10 {
			out, err := HistoryPage(history, in(max, reverse, token), pageSize)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, ids(out.Events))
			if token = out.NextToken; token == nil {
				return pages
			}
		}
		t.Fatal("more than 10 pages")
		return nil
	}
	tests := []struct {
		name     string
		max      int32
		reverse  bool
		pageSize int
		want     [][]int64
	}{
		{"all, oldest first", 0, false, 0, [][]int64{{1, 2, 3, 4, 5}}},
		{"reverse", 0, true, 0, [][]int64{{5, 4, 3, 2, 1}}},
		{"MaxResults", 2, false, 0, [][]int64{{1, 2}, {3, 4}, {5}}},
		{"reverse pages", 2, true, 0, [][]int64{{5, 4}, {3, 2}, {1}}},
		{"page size caps MaxResults", 100, false, 3, [][]int64{{1, 2, 3}, {4, 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := read(t, tt.max, tt.reverse, tt.pageSize); !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("pages = %v, want %v", got, tt.want)
			}
		})
	}
	first, _ := HistoryPage(history, in(2, false, nil), 0)
	var bad *types.InvalidToken
	if _, err := HistoryPage(history, in(2, true, first.NextToken), 0); !errors.As(err, &bad) {
		t.Errorf("a token of the other order: err = %v, want InvalidToken", err)
	}
	if history[0].Id != 1 {
		t.Errorf("ReverseOrder reversed the caller's history: %v", ids(history))
	}
	if _, err := HistoryPage(history, in(0, false, aws.String("nope")), 0); !errors.As(err, &bad) {
		t.Errorf("bad token: err = %v, want InvalidToken", err)
	}
}
