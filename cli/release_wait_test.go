package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// TestReleaseAnswer: `release` waits for the release Lambda's answer to its
// own request in the trail — a record of the requested code written after
// the request; records of other code or another function are not the
// answer. A refusal exits 7 with the reason; a start names the execution;
// no answer within --timeout exits 1 saying so, having read the trail at
// growing intervals of at least a second (FilterLogEvents' quota).
func TestReleaseAnswer(t *testing.T) {
	exec := "arn:aws:states:us-east-1:000000000000:execution:aliasflow-promotion:"
	tests := []struct {
		name string
		args []string
		// answer writes the Lambda's records once the request is put.
		answer   func(w *world, ordersSha string) []audit.Record
		wantCode int
		want     []string
		notWant  string
	}{
		{name: "refused", args: []string{"release", "hello"}, answer: func(w *world, ordersSha string) []audit.Record {
			return []audit.Record{{Event: audit.ReleaseRefused, Function: "hello", Release: &promotion.Release{CodeSha256: w.sha2},
				Reason: `parameter "/aliasflow/targets/hello" not found`}}
		}, wantCode: cli.ExitReleaseRefused, want: []string{`refused: parameter "/aliasflow/targets/hello" not found`, "the release of hello was refused"}},
		{name: "refused before the code was read", args: []string{"release", "hello"}, answer: func(w *world, ordersSha string) []audit.Record {
			return []audit.Record{{Event: audit.ReleaseRefused, Function: "hello", Reason: "callerProof: expired"}}
		}, wantCode: cli.ExitReleaseRefused, want: []string{"refused: callerProof: expired"}},
		{name: "started", args: []string{"release", "hello"}, answer: func(w *world, ordersSha string) []audit.Record {
			return []audit.Record{{Event: audit.ReleasePublished, Function: "hello", ToVersion: "2", Release: &promotion.Release{CodeSha256: w.sha2},
				Execution: exec + "hello-v2-abc"}}
		}, wantCode: cli.ExitOK, want: []string{"started hello-v2-abc", "aliasflow watch hello-v2-abc"}},
		{name: "--retry: the retry is the answer", args: []string{"release", "hello", "--retry"}, answer: func(w *world, ordersSha string) []audit.Record {
			return []audit.Record{{Event: audit.ReleaseRetried, Function: "hello", ToVersion: "2", Release: &promotion.Release{CodeSha256: w.sha2},
				Execution: exec + "hello-v2-abc-2"}}
		}, wantCode: cli.ExitOK, want: []string{"started hello-v2-abc-2"}},
		{name: "another code's refusal is not the answer", args: []string{"release", "hello", "--timeout", "30s"}, answer: func(w *world, ordersSha string) []audit.Record {
			return []audit.Record{{Event: audit.ReleaseRefused, Function: "hello", Release: &promotion.Release{CodeSha256: "other"}, Reason: "not ours"},
				{Event: audit.ReleaseRefused, Function: "orders", Release: &promotion.Release{CodeSha256: w.sha2}, Reason: "not ours either"}}
		}, wantCode: cli.ExitFailure, want: []string{"no answer from the release Lambda within 30s"}, notWant: "not ours"},
		{name: "a group: one member refused", args: []string{"release", "hello", "orders"}, answer: func(w *world, ordersSha string) []audit.Record {
			return []audit.Record{{Event: audit.ReleaseRefused, Function: "orders", Group: "api", Release: &promotion.Release{CodeSha256: ordersSha},
				Reason: "orders is in no group"}}
		}, wantCode: cli.ExitReleaseRefused, want: []string{"refused: orders is in no group"}},
		{name: "--json carries the answer", args: []string{"release", "hello", "--json"}, answer: func(w *world, ordersSha string) []audit.Record {
			return []audit.Record{{Event: audit.ReleaseRefused, Function: "hello", Release: &promotion.Release{CodeSha256: w.sha2}, Reason: "no"}}
		}, wantCode: cli.ExitReleaseRefused, want: []string{`"answer": {`, `"outcome": "refused"`, `"reason": "no"`}},
		{name: "--code-sha256 of other code", args: []string{"release", "hello", "--code-sha256", "c29tZXRoaW5nIGVsc2U="}, wantCode: cli.ExitConflict,
			want: []string{"not c29tZXRoaW5nIGVsc2U= (--code-sha256): another upload came in between"}},
		{name: "--code-sha256 of $LATEST", args: []string{"release", "hello", "--code-sha256", "LATEST"}, answer: func(w *world, ordersSha string) []audit.Record {
			return []audit.Record{{Event: audit.ReleasePublished, Function: "hello", ToVersion: "2", Release: &promotion.Release{CodeSha256: w.sha2},
				Execution: exec + "hello-v2-abc"}}
		}, wantCode: cli.ExitOK, want: []string{"started hello-v2-abc"}},
		{name: "--code-sha256 of a group", args: []string{"release", "hello", "orders", "--code-sha256", "x"}, wantCode: cli.ExitUsage, want: []string{"--code-sha256 names one function's code"}},
		{name: "--timeout 0", args: []string{"release", "hello", "--timeout", "0"}, wantCode: cli.ExitUsage, want: []string{"--timeout must be positive"}},
		{name: "--wait and --request-only", args: []string{"release", "hello", "--wait", "--request-only"}, wantCode: cli.ExitUsage, want: []string{"give one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			ordersSha := w.lambda.AddFunction(t, "orders", 2)
			var gaps []time.Duration
			last := w.now
			w.onSleep = func(n int) {
				gaps = append(gaps, w.now.Sub(last))
				last = w.now
				if n == 1 && tt.answer != nil {
					for _, r := range tt.answer(w, ordersSha) {
						r.Time = w.now
						w.logs.Audit(r)
					}
				}
			}
			args := append([]string(nil), tt.args...)
			for i := range args {
				if args[i] == "LATEST" {
					args[i] = w.sha2
				}
			}
			code, out, errs := w.run(t, args...)
			wantCode(t, code, tt.wantCode, out, errs)
			wantContains(t, "output", out+errs, tt.want...)
			if tt.notWant != "" && strings.Contains(out+errs, tt.notWant) {
				t.Errorf("output names %q:\n%s%s", tt.notWant, out, errs)
			}
			// The last wait may be cut short by the deadline.
			for i := 0; i+1 < len(gaps); i++ {
				if gaps[i] < time.Second || (i > 0 && gaps[i] < gaps[i-1]) {
					t.Errorf("wait %d before a read was %s; want at least 1s, never shorter than the one before (waits %v)", i+1, gaps[i], gaps)
				}
			}
			if reads := len(w.logs.Filter); reads > 12 {
				t.Errorf("%d reads of the trail; want at most 12 (gaps %v)", reads, gaps)
			}
		})
	}
}

// TestReleaseOfAnExistingPromotion: a request of a build whose promotion
// exists is answered with that promotion and puts no event; with --wait
// the answer is how it ended (5 for a rejected one).
func TestReleaseOfAnExistingPromotion(t *testing.T) {
	sha2 := newWorld(t).sha2
	first := promotion.ExecutionName("hello", "2", sha2)
	tests := []struct {
		name     string
		setup    func(w *world)
		args     []string
		wantCode int
		want     []string
	}{
		{name: "running", setup: func(w *world) { w.start(t, "2") }, args: []string{"release", "hello"}, wantCode: cli.ExitOK,
			want: []string{"started " + first + " (this build's promotion already existed"}},
		{name: "rejected, --wait", setup: func(w *world) { w.start(t, "2").Smoke(true).AwaitApproval().Reject(clitest.Approver, "no") },
			args: []string{"release", "hello", "--wait"}, wantCode: cli.ExitUnsuccessful, want: []string{"promotion " + first + " ended", `rejected by`}},
		{name: "rejected, no --wait: a conflict", setup: func(w *world) { w.start(t, "2").Smoke(true).AwaitApproval().Reject(clitest.Approver, "no") },
			args: []string{"release", "hello"}, wantCode: cli.ExitConflict, want: []string{"releasing it again starts nothing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			tt.setup(w)
			code, out, errs := w.run(t, tt.args...)
			wantCode(t, code, tt.wantCode, out, errs)
			wantContains(t, "output", out+errs, tt.want...)
			if len(w.events.Put()) != 0 {
				t.Errorf("put %d events; want none", len(w.events.Put()))
			}
		})
	}
}
