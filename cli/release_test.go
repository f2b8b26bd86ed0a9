package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/release"
)

// TestReleaseRequestIsWhatTheLambdaReads: every field the CLI can put in a
// Release Requested detail is one the release Lambda defines (it refuses
// any other, naming it) and reaches the release it builds.
func TestReleaseRequestIsWhatTheLambdaReads(t *testing.T) {
	raw, err := os.ReadFile("../shared/release/testdata/config.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	req := cli.ReleaseRequest{Function: "hello", CodeSha256: "9a7FMr2BtwI4GK/P4d1j8JPSLYHeV6H55HvtJVGI7T8=", Commit: "abc1234",
		RequestedBy: clitest.Caller, Build: "https://ci.example.com/runs/42", Retry: true,
		CallerProof: "https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-SignedHeaders=host%3Bx-aliasflow-release"}
	detail, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	event, _ := json.Marshal(map[string]any{"version": "0", "id": "1", "detail-type": "Release Requested", "source": "aliasflow",
		"account": "123456789012", "time": "2026-03-02T16:20:00Z", "region": "us-east-1", "resources": []string{}, "detail": json.RawMessage(detail)})
	parsed, err := release.ParseEvent(context.Background(), event, cfg)
	if err != nil || parsed.Request == nil {
		t.Fatalf("the release Lambda refuses the CLI's event %s: %v", detail, err)
	}
	got := parsed.Request
	want := promotion.Release{Commit: "abc1234", Build: "https://ci.example.com/runs/42", CodeSha256: req.CodeSha256, RequestedBy: clitest.Caller, Source: release.SourceAliasflow}
	if got.Release != want || !got.Retry || got.Function() != "hello" {
		t.Errorf("release = %+v (retry %v); want %+v with retry", got.Release, got.Retry, want)
	}
}

// TestReleaseNothingToDo: `aliasflow release` starts nothing, says why and
// exits non-zero when prod already serves the code, when the build's
// promotion is running, or when it ended (then --retry starts a fresh one,
// the next attempt's execution name).
func TestReleaseNothingToDo(t *testing.T) {
	// The code sandboxtest.Lambda gives hello's version 2 is the same in
	// every world.
	sha2 := newWorld(t).sha2
	first := promotion.ExecutionName("hello", "2", sha2)
	tests := []struct {
		name     string
		setup    func(w *world)
		args     []string
		wantCode int
		want     string
		// wantRetry: an event was put, asking for a retry.
		wantEvent, wantRetry bool
	}{
		{name: "prod serves the code", setup: func(w *world) { w.lambda.SetAlias(t, "hello", "prod", "2", nil) },
			args: []string{"release", "hello"}, wantCode: cli.ExitConflict, want: "nothing to release: prod of hello already serves version 2"},
		{name: "prod serves it, even with --retry", setup: func(w *world) { w.lambda.SetAlias(t, "hello", "prod", "2", nil) },
			args: []string{"release", "hello", "--retry"}, wantCode: cli.ExitConflict, want: "nothing to release"},
		{name: "the promotion runs, --request-only", setup: func(w *world) { w.start(t, "2") },
			args: []string{"release", "hello", "--request-only"}, wantCode: cli.ExitConflict, want: "already being promoted: " + first},
		{name: "the promotion runs: it is the answer", setup: func(w *world) { w.start(t, "2") },
			args: []string{"release", "hello"}, wantCode: cli.ExitOK, want: "started " + first + " (this build's promotion already existed"},
		{name: "the promotion was rejected", setup: func(w *world) {
			w.start(t, "2").Smoke(true).AwaitApproval().Reject(clitest.Approver, "no")
		}, args: []string{"release", "hello"}, wantCode: cli.ExitConflict, want: "ended FAILED; releasing it again starts nothing"},
		{name: "--retry after the rejection", setup: func(w *world) {
			w.start(t, "2").Smoke(true).AwaitApproval().Reject(clitest.Approver, "no")
		}, args: []string{"release", "hello", "--retry", "--request-only"}, wantCode: cli.ExitOK,
			want: "aliasflow watch " + promotion.AttemptName("hello", "2", sha2, 2), wantEvent: true, wantRetry: true},
		{name: "--retry with no promotion yet", args: []string{"release", "hello", "--retry", "--request-only"}, wantCode: cli.ExitOK,
			want: "aliasflow watch " + first, wantEvent: true, wantRetry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.setup != nil {
				tt.setup(w)
			}
			code, out, errs := w.run(t, tt.args...)
			wantCode(t, code, tt.wantCode, out, errs)
			wantContains(t, "output", out+errs, tt.want)
			if got := len(w.events.Put()) == 1; got != tt.wantEvent {
				t.Fatalf("put %d events; want an event: %v", len(w.events.Put()), tt.wantEvent)
			}
			if tt.wantEvent {
				var d cli.ReleaseRequest
				if err := json.Unmarshal([]byte(*w.events.Put()[0].Detail), &d); err != nil || d.Retry != tt.wantRetry {
					t.Errorf("detail = %s (%v); want retry %v", *w.events.Put()[0].Detail, err, tt.wantRetry)
				}
			}
		})
	}
}
