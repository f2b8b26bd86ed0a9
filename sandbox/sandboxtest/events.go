package sandboxtest

import (
	"testing"

	eventssvc "github.com/aliasflow/aliasflow/sandbox/events"
	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
)

// Events is the sandbox's EventBridge (sandbox/events) served in-process,
// with no rules and no targets: what was put stays readable on Service
// (Events), as a test's archive of the bus.
type Events struct {
	// Client is a real SDK client for the service.
	Client *eventbridge.Client
	// Service is the service itself.
	Service *eventssvc.Service
}

// NewEvents serves an empty sandbox EventBridge (the default bus only)
// until the test ends.
func NewEvents(t testing.TB) *Events {
	t.Helper()
	svc := eventssvc.New(nil, nil, nil)
	t.Cleanup(svc.Close)
	return &Events{Service: svc, Client: eventbridge.NewFromConfig(servicetest.Config(t, "events", svc))}
}

// Details is the detail of each event accepted so far, oldest first.
func (e *Events) Details() []string {
	evs := e.Service.Events()
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = string(ev.Detail)
	}
	return out
}
