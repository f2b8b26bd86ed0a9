package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// The demo waits for a person as long as the approval request lives and
// tells apart each way the wait ends (issue 13: it gave up after a hidden
// 90 s, and an expired link printed "decided on the page" and hung).
func TestDemoWaitsForTheDecision(t *testing.T) {
	cases := []struct {
		name    string
		stdin   string
		after   time.Duration // when the page's decision comes
		decide  func(s *clitest.Script)
		kind    string
		who     string
		comment string
	}{
		{"approved on the page after 20 minutes", "", 20 * time.Minute, func(s *clitest.Script) {
			s.Approve("a", "approver@example.com")
		}, "approved", "approver@example.com", ""},
		{"rejected on the page", "", 5 * time.Minute, func(s *clitest.Script) {
			d := promotion.Decision{Approver: "approver@example.com", Comment: "wrong greeting"}
			cause, _ := json.Marshal(d)
			// As the definition has it: the decision is the cause in
			// $.failure, there is no $.approval.
			s.St.Failure = &promotion.Failure{Error: promotion.ErrRejected, Cause: string(cause)}
			s.Task("RecordRejection", s.St, nil, s.St)
			s.Fail("Rejected", "Rejected", "An approver rejected the release.", s.St)
		}, "rejected", "approver@example.com", "wrong greeting"},
		{"the request expired after an hour", "", time.Hour, func(s *clitest.Script) {
			s.TimeOut("a", s.St)
			s.Task("RecordExpiry", s.St, nil, s.St)
			s.Fail("ApprovalExpired", "ApprovalExpired", "Nobody decided in time.", s.St)
		}, "expired", "", ""},
		{"Enter at the terminal", "\n", time.Hour, func(*clitest.Script) {}, "key", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld()
			s := w.states.NewScript(clitest.Input("hello", "2", "sha-2"), clitest.T0).Smoke(true).AwaitApproval("a")
			var waited time.Duration
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a hang fails the test
			defer cancel()
			kind, who, comment, err := cli.DemoDecision(ctx, cli.Env{
				Stdin: strings.NewReader(c.stdin), Stdout: io.Discard, Stderr: io.Discard,
				Now: func() time.Time { return clitest.T0.Add(waited) },
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
				Clients: &cli.Clients{Lambda: w.lambda, States: w.states, Logs: w.logs, Events: w.events, Identity: clitest.Identity{ARN: clitest.Caller}},
			}, s.ARN())
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
