// Package audittest is the fake EventBridge that tests of an audit.Recorder's
// users hand it: it counts PutEvents calls (a handler should pay one, at
// Flush) and keeps the records put.
package audittest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
)

// Bus is the fake. The zero value is ready to use.
type Bus struct {
	mu      sync.Mutex
	calls   int
	records []audit.Record
}

var _ audit.EventPutter = (*Bus)(nil)

// PutEvents keeps each entry's detail as an audit record; a detail that is
// not one fails the call.
func (b *Bus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	for _, e := range in.Entries {
		var r audit.Record
		if err := json.Unmarshal([]byte(aws.ToString(e.Detail)), &r); err != nil {
			return nil, fmt.Errorf("audittest: entry detail is not an audit record: %w", err)
		}
		b.records = append(b.records, r)
	}
	return &eventbridge.PutEventsOutput{}, nil
}

// Calls is how many PutEvents calls were made.
func (b *Bus) Calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// Records returns the records put, in order.
func (b *Bus) Records() []audit.Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.records)
}
