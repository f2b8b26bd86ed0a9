package cli_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
)

// The demo waits for a person as long as the approval request lives and
// tells apart each way the wait ends (issue 13: it gave up after a hidden
// 90 s, and an expired link printed "decided on the page" and hung).
func TestDemoWaitsForTheDecision(t *testing.T) {
	cases := []struct {
		name    string
		stdin   string
		after   time.Duration // when the page's decision comes
		decide  func(s *sandboxtest.Run)
		kind    string
		who     string
		comment string
	}{
		{"approved on the page after 20 minutes", "", 20 * time.Minute, func(s *sandboxtest.Run) {
			s.Approve("approver@example.com")
		}, "approved", "approver@example.com", ""},
		{"rejected on the page", "", 5 * time.Minute, func(s *sandboxtest.Run) {
			s.Reject("approver@example.com", "wrong greeting")
		}, "rejected", "approver@example.com", "wrong greeting"},
		{"the request expired after an hour", "", time.Hour, func(s *sandboxtest.Run) { s.Expire() }, "expired", "", ""},
		{"Enter at the terminal", "\n", time.Hour, func(*sandboxtest.Run) {}, "key", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			s := w.start(t, "2").Smoke(true).AwaitApproval()
			var waited time.Duration
			// A hang fails the test; an hour of polls through the SDK to the
			// sandbox takes seconds on a busy machine.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			kind, who, comment, err := cli.DemoDecision(ctx, cli.Env{
				Stdin: strings.NewReader(c.stdin), Stdout: io.Discard, Stderr: io.Discard,
				Now: func() time.Time { return sandboxtest.T0.Add(waited) },
				Sleep: func(ctx context.Context, d time.Duration) error {
					if c.stdin != "" {
						time.Sleep(time.Millisecond) // let the key reader run
					}
					waited += d
					if waited == c.after {
						c.decide(s)
					}
					return ctx.Err()
				},
				Clients: &cli.Clients{Lambda: w.lambda.Client, States: w.states.SFN, Logs: w.logs, Events: w.events.Client, Identity: w.identity},
			}, s.ARN)
			if err != nil {
				t.Fatal(err)
			}
			if kind != c.kind || who != c.who || comment != c.comment {
				t.Errorf("decision = %s by %q (%q); want %s by %q (%q)", kind, who, comment, c.kind, c.who, c.comment)
			}
			if c.kind != "key" && waited < c.after {
				t.Errorf("gave up after %s; the decision came at %s", waited, c.after)
			}
		})
	}
}
