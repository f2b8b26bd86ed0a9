package audit

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// partialBus ingests every entry but refuses, with ThrottlingException, the
// entries at the positions in refuse[call] of its call-th call: a PutEvents
// call succeeds while some of its entries fail ("PutEvents", Amazon
// EventBridge API Reference: FailedEntryCount, Entries[].ErrorCode).
type partialBus struct {
	refuse   [][]int
	calls    int
	ingested []string
}

func (b *partialBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	out := &eventbridge.PutEventsOutput{}
	var refuse []int
	if b.calls < len(b.refuse) {
		refuse = b.refuse[b.calls]
	}
	b.calls++
	for i, e := range in.Entries {
		refused := false
		for _, r := range refuse {
			refused = refused || r == i
		}
		if refused {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, types.PutEventsResultEntry{ErrorCode: aws.String("ThrottlingException"), ErrorMessage: aws.String("Rate exceeded")})
			continue
		}
		b.ingested = append(b.ingested, *e.Detail)
		out.Entries = append(out.Entries, types.PutEventsResultEntry{EventId: aws.String("id")})
	}
	return out, nil
}

func TestFlushPutsRefusedEntriesAgain(t *testing.T) {
	cases := []struct {
		name      string
		refuse    [][]int
		wantCalls int
		wantErr   string
	}{
		{"all ingested at once", nil, 1, ""},
		{"two refused, then ingested", [][]int{{1, 3}}, 2, ""},
		{"refused twice, then ingested", [][]int{{0, 1, 2}, {0}}, 3, ""},
		{"refused beyond the retries", [][]int{{0}, {0}, {0}, {0}}, 4, "ThrottlingException"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var log bytes.Buffer
			bus := &partialBus{refuse: c.refuse}
			r := New(slog.New(slog.NewJSONHandler(&log, nil)), bus, &Options{RetryDelays: []time.Duration{0, 0, 0}})
			for i := range 5 {
				r.Record(context.Background(), Record{Event: AliasMoved, Function: "hello", Alias: "prod", ToVersion: string(rune('1' + i)), Release: &promotion.Release{Commit: "c"}})
			}
			err := r.Flush(context.Background())
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("Flush err = %v, want %q", err, c.wantErr)
			}
			if bus.calls != c.wantCalls {
				t.Errorf("PutEvents calls = %d, want %d", bus.calls, c.wantCalls)
			}
			wantIngested := 5
			if c.wantErr != "" {
				wantIngested = 4
			}
			if len(bus.ingested) != wantIngested {
				t.Errorf("ingested %d entries, want %d, each once: %v", len(bus.ingested), wantIngested, bus.ingested)
			}
		})
	}
}
