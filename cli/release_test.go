package cli_test

import (
	"encoding/json"
	"testing"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// TestReleaseNothingToDo: `aliasflow release` starts nothing, says why and
// exits non-zero when prod already serves the code, when the build's
// promotion is running, or when it ended (then --retry starts a fresh one,
// the next attempt's execution name).
func TestReleaseNothingToDo(t *testing.T) {
	first := promotion.ExecutionName("hello", "2", "sha-2")
	tests := []struct {
		name     string
		setup    func(w *world)
		args     []string
		wantCode int
		want     string
		// wantRetry: an event was put, asking for a retry.
		wantEvent, wantRetry bool
	}{
		{name: "prod serves the code", setup: func(w *world) { w.lambda.SetAlias("hello", "prod", "2", nil) },
			args: []string{"release", "hello"}, wantCode: cli.ExitConflict, want: "nothing to release: prod of hello already serves version 2"},
		{name: "prod serves it, even with --retry", setup: func(w *world) { w.lambda.SetAlias("hello", "prod", "2", nil) },
			args: []string{"release", "hello", "--retry"}, wantCode: cli.ExitConflict, want: "nothing to release"},
		{name: "the promotion runs", setup: func(w *world) { w.states.Start(clitest.Input("hello", "2", "sha-2"), clitest.T0) },
			args: []string{"release", "hello"}, wantCode: cli.ExitConflict, want: "already being promoted: " + first},
		{name: "the promotion was rejected", setup: func(w *world) {
			w.states.Start(clitest.Input("hello", "2", "sha-2"), clitest.T0).Fail(promotion.StateRejected, "Rejected", "no", promotion.State{})
		}, args: []string{"release", "hello"}, wantCode: cli.ExitConflict, want: "ended FAILED; releasing it again starts nothing"},
		{name: "--retry after the rejection", setup: func(w *world) {
			w.states.Start(clitest.Input("hello", "2", "sha-2"), clitest.T0).Fail(promotion.StateRejected, "Rejected", "no", promotion.State{})
		}, args: []string{"release", "hello", "--retry"}, wantCode: cli.ExitOK,
			want: "aliasflow watch " + promotion.AttemptName("hello", "2", "sha-2", 2), wantEvent: true, wantRetry: true},
		{name: "--retry with no promotion yet", args: []string{"release", "hello", "--retry"}, wantCode: cli.ExitOK,
			want: "aliasflow watch " + first, wantEvent: true, wantRetry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			if tt.setup != nil {
				tt.setup(w)
			}
			code, out, errs := w.run(t, tt.args...)
			wantCode(t, code, tt.wantCode, out, errs)
			wantContains(t, "output", out+errs, tt.want)
			if got := len(w.events.Put) == 1; got != tt.wantEvent {
				t.Fatalf("put %d events; want an event: %v", len(w.events.Put), tt.wantEvent)
			}
			if tt.wantEvent {
				var d cli.ReleaseRequest
				if err := json.Unmarshal([]byte(*w.events.Put[0].Detail), &d); err != nil || d.Retry != tt.wantRetry {
					t.Errorf("detail = %s (%v); want retry %v", *w.events.Put[0].Detail, err, tt.wantRetry)
				}
			}
		})
	}
}
