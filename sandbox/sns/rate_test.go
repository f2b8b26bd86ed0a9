package snssvc

import (
	"slices"
	"testing"
	"time"
)

// TestEmailRateSuspendsTheSubscription: SNS delivers e-mail at 10 messages
// per second per subscription ("Amazon SNS endpoints and quotas"); a
// subscription sent more within one second is suspended until confirmed
// again, and another approver's subscription is not touched.
func TestEmailRateSuspendsTheSubscription(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name          string
		perSecond     int
		burst         int // messages to lead@ within one second
		wantDelivered int
		wantSuspended []string
	}{
		{"within the rate", DefaultEmailPerSecond, 10, 10, nil},
		{"one over the rate", DefaultEmailPerSecond, 11, 10, []string{"lead@example.com"}},
		{"no limit when off", 0, 30, 30, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now := at
			svc := New(&Options{Now: func() time.Time { return now }, EmailPerSecond: c.perSecond})
			arn, _ := svc.CreateTopic("aliasflow-approvals")
			for _, who := range []string{"lead@example.com", "sre@example.com"} {
				if _, err := svc.Subscribe(arn, "email", who, `{"approver":["`+who+`"]}`, ""); err != nil {
					t.Fatal(err)
				}
			}
			confirmAll(t, svc)
			publish := func(to string) {
				if _, err := svc.Publish(arn, "Approve", "link", map[string]Attribute{"approver": {DataType: "String", StringValue: to}}); err != nil {
					t.Fatal(err)
				}
			}
			for range c.burst {
				publish("lead@example.com")
			}
			now = now.Add(2 * time.Second)
			publish("lead@example.com") // a second later: delivered unless suspended
			publish("sre@example.com")
			delivered := map[string]int{}
			for _, m := range svc.Outbox() {
				delivered[m.Endpoint]++
			}
			want := c.wantDelivered
			if len(c.wantSuspended) == 0 {
				want++
			}
			if delivered["lead@example.com"] != want || delivered["sre@example.com"] != 1 {
				t.Errorf("delivered %v, want lead %d and sre 1", delivered, want)
			}
			if got := svc.Suspended(); !slices.Equal(got, c.wantSuspended) {
				t.Errorf("suspended = %v, want %v", got, c.wantSuspended)
			}
			if len(c.wantSuspended) == 0 {
				return
			}
			// Subscribing again asks for a new confirmation; once confirmed
			// the approver receives again.
			if _, err := svc.Subscribe(arn, "email", "lead@example.com", `{"approver":["lead@example.com"]}`, ""); err != nil {
				t.Fatal(err)
			}
			confirmAll(t, svc)
			publish("lead@example.com")
			if got := svc.Outbox(); got[len(got)-1].Endpoint != "lead@example.com" || len(svc.Suspended()) != 0 {
				t.Errorf("after confirming again: last delivery to %s, suspended %v", got[len(got)-1].Endpoint, svc.Suspended())
			}
		})
	}
}
