package audittest

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

func TestBusKeepsWhatARecorderFlushes(t *testing.T) {
	bus := &Bus{}
	var logs bytes.Buffer
	rec := audit.New(slog.New(slog.NewJSONHandler(&logs, nil)), bus, nil)
	ctx := context.Background()
	rec.Record(ctx, audit.Record{Event: audit.AliasMoved, Function: "hello", Alias: "stg", ToVersion: "2"})
	rec.Record(ctx, audit.Record{Event: audit.AliasMoved, Function: "hello", Alias: "prod", ToVersion: "2"})
	if err := rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := bus.Calls(); got != 1 {
		t.Errorf("Calls = %d, want 1", got)
	}
	got := bus.Records()
	if len(got) != 2 || got[0].Alias != "stg" || got[1].Alias != "prod" || got[1].Function != "hello" {
		t.Errorf("Records = %+v, want the stg then the prod move of hello", got)
	}
}

func TestBusRefusesADetailThatIsNotARecord(t *testing.T) {
	bus := &Bus{}
	_, err := bus.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{Detail: aws.String("not json")}}})
	if err == nil {
		t.Errorf("PutEvents with a bad detail succeeded, want an error")
	}
}
