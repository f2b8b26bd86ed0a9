package cli_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/cli/clitest"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/release"
	"github.com/aliasflow/aliasflow/shared/settings"
)

// TestGroupReleaseRequestIsWhatTheLambdaReads: the CLI's detail naming
// several functions is one the release Lambda reads as one group's release.
func TestGroupReleaseRequestIsWhatTheLambdaReads(t *testing.T) {
	cfg, err := config.Parse([]byte(`{"targets":[
		{"function":"hello","group":"api","approvers":["a@example.com"]},
		{"function":"orders","group":"api","approvers":["a@example.com"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req := cli.GroupReleaseRequest{Functions: []cli.ReleaseMember{
		{Function: "orders", CodeSha256: "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="},
		{Function: "hello", CodeSha256: "9a7FMr2BtwI4GK/P4d1j8JPSLYHeV6H55HvtJVGI7T8="}},
		Commit: "abc1234", RequestedBy: clitest.Caller, Build: "https://ci.example.com/runs/42", Title: "orders and hello",
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
	if got.Group != "api" || len(got.Members) != 2 {
		t.Fatalf("request group %q with %d members, want api with 2", got.Group, len(got.Members))
	}
	for _, m := range got.Members {
		want := req.Functions[0]
		if m.Function() == "hello" {
			want = req.Functions[1]
		}
		if m.Release.CodeSha256 != want.CodeSha256 || m.Release.Commit != "abc1234" || m.Release.Title != "orders and hello" || m.Release.RequestedBy != clitest.Caller {
			t.Errorf("member %s release = %+v, want code %s, the commit, title and requester", m.Function(), m.Release, want.CodeSha256)
		}
	}
}

// TestReleaseGroup: `aliasflow release a b` puts ONE Release Requested
// event naming each function with its $LATEST code, with a caller proof
// that signs every member's binding; what cannot be a group's release is
// refused before any event.
func TestReleaseGroup(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		setup     func(w *world)
		wantCode  int
		want      string
		wantEvent bool
	}{
		{name: "two functions", args: []string{"release", "hello", "orders", "--commit", "abc1234", "--request-only"}, wantCode: cli.ExitOK,
			want: "release of 2 functions requested as one promotion", wantEvent: true},
		{name: "one unchanged rides in the event, named", args: []string{"release", "hello", "orders", "--request-only"},
			setup: func(w *world) { w.lambda.SetAlias(t, "orders", "prod", "2", nil) }, wantCode: cli.ExitOK,
			want: "(prod already runs this code: left out of the promotion)", wantEvent: true},
		{name: "every one unchanged", args: []string{"release", "hello", "orders"}, setup: func(w *world) {
			w.lambda.SetAlias(t, "orders", "prod", "2", nil)
			w.lambda.SetAlias(t, "hello", "prod", "2", nil)
		}, wantCode: cli.ExitConflict, want: "nothing to release"},
		{name: "--retry of several", args: []string{"release", "hello", "orders", "--retry"}, wantCode: cli.ExitUsage, want: "--retry takes one function"},
		{name: "named twice", args: []string{"release", "hello", "hello"}, wantCode: cli.ExitUsage, want: "hello is named twice"},
		{name: "a bad name", args: []string{"release", "hello", "orders:prod"}, wantCode: cli.ExitUsage, want: "orders:prod"},
		{name: "--group", args: []string{"release", "--group", "api", "--request-only"}, setup: groupSettings, wantCode: cli.ExitOK,
			want: "release of 2 functions requested as one promotion", wantEvent: true},
		{name: "--group nobody is in", args: []string{"release", "--group", "web"}, setup: groupSettings, wantCode: cli.ExitNotFound,
			want: "no target of pipeline aliasflow is in group web"},
		{name: "--group beside functions", args: []string{"release", "hello", "--group", "api"}, setup: groupSettings, wantCode: cli.ExitUsage,
			want: "not both"},
		{name: "--group with a bad name", args: []string{"release", "--group", "api v2"}, wantCode: cli.ExitUsage, want: "not a valid group name"},
		{name: "nothing named", args: []string{"release"}, wantCode: cli.ExitUsage, want: "usage: aliasflow release"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			ordersSha := w.lambda.AddFunction(t, "orders", 2)
			w.lambda.SetAlias(t, "orders", "stg", "1", nil)
			w.lambda.SetAlias(t, "orders", "prod", "1", nil)
			if tt.setup != nil {
				tt.setup(w)
			}
			code, out, errs := w.run(t, tt.args...)
			wantCode(t, code, tt.wantCode, out, errs)
			wantContains(t, "output", out+errs, tt.want)
			if got := len(w.events.Put()); got != map[bool]int{true: 1, false: 0}[tt.wantEvent] {
				t.Fatalf("put %d events, want an event: %v", got, tt.wantEvent)
			}
			if !tt.wantEvent {
				return
			}
			var d cli.GroupReleaseRequest
			if err := json.Unmarshal([]byte(*w.events.Put()[0].Detail), &d); err != nil {
				t.Fatal(err)
			}
			wantMembers := []cli.ReleaseMember{{Function: "hello", CodeSha256: w.sha2}, {Function: "orders", CodeSha256: ordersSha}}
			if !slices.Equal(d.Functions, wantMembers) || d.RequestedBy != clitest.Caller {
				t.Errorf("detail = %+v, want functions %+v requested by %s", d, wantMembers, clitest.Caller)
			}
			proof, err := url.Parse(d.CallerProof)
			if err != nil || proof.Query().Get("Action") != "GetCallerIdentity" || !strings.Contains(proof.Query().Get("X-Amz-SignedHeaders"), "x-aliasflow-release") {
				t.Errorf("callerProof = %q; want a presigned GetCallerIdentity signing the binding", d.CallerProof)
			}
			if strings.Contains(out, "X-Amz") {
				t.Errorf("release printed the proof:\n%s", out)
			}
		})
	}
}

// groupSettings puts hello and orders in group "api" and solo in none, as
// their settings parameters say.
func groupSettings(w *world) {
	path := settings.Path(settings.DefaultPipeline)
	w.params = map[string]string{
		path + "hello":  `{"function":"hello","group":"api","approvers":["a@example.com"]}`,
		path + "orders": `{"function":"orders","group":"api","approvers":["a@example.com"]}`,
		path + "solo":   `{"function":"solo","approvers":["a@example.com"]}`,
	}
}
