package release

import (
	"context"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/promotion"
)

// TestReleaseSaysWhatChanged: a release may carry its commit's title (the
// commit message's first line, or the pull request's title) and author,
// which the approval page shows (issue 23, item 4). Both are optional; both
// are claims, checked as any other before a person is shown them.
func TestReleaseSaysWhatChanged(t *testing.T) {
	cfg := loadConfig(t)
	requested := func(extra string) string {
		return `{"source":"aliasflow","detail-type":"Release Requested","detail":{"function":"hello","codeSha256":"` + sha2 + `"` + extra + `}}`
	}
	tests := []struct {
		name       string
		event      string
		vars       map[string]string // a CodeBuild build's exported variables, when set
		want       promotion.Release
		wantReason string
	}{
		{name: "release requested with title and author", event: requested(`,"title":"Greet in Portuguese (#42)","author":"Zoë Ångström <zoe@example.com>"`),
			want: promotion.Release{CodeSha256: sha2, Title: "Greet in Portuguese (#42)", Author: "Zoë Ångström <zoe@example.com>", Source: SourceAliasflow}},
		{name: "release requested without them", event: requested(``),
			want: promotion.Release{CodeSha256: sha2, Source: SourceAliasflow}},
		{name: "title with a newline", event: requested(`,"title":"Greet\n\nSmoke tests passed"`), wantReason: "title: "},
		{name: "title too long", event: requested(`,"title":"` + strings.Repeat("t", MaxTitle+1) + `"`), wantReason: "title: 513 bytes"},
		{name: "author blank", event: requested(`,"author":"  "`), wantReason: "author: "},
		{name: "build exports title and author", vars: map[string]string{VarFunction: "hello", VarCodeSha256: sha2, VarTitle: "Fix the greeting", VarAuthor: "ana@example.com"},
			want: promotion.Release{Commit: commit, Build: buildID, CodeSha256: sha2, Title: "Fix the greeting", Author: "ana@example.com", VerifiedBy: "codebuild-webhook", Source: SourceCodeBuild}},
		// A build without git metadata (an S3 source) has no commit to
		// read them from: CodeBuild exports them empty, which says "not
		// known" — they describe the change, they choose nothing.
		{name: "build exports them empty", vars: map[string]string{VarFunction: "hello", VarCodeSha256: sha2, VarTitle: "", VarAuthor: ""},
			want: promotion.Release{Commit: commit, Build: buildID, CodeSha256: sha2, VerifiedBy: "codebuild-webhook", Source: SourceCodeBuild}},
		{name: "build exports a title with an escape", vars: map[string]string{VarFunction: "hello", VarCodeSha256: sha2, VarTitle: "fix\x1b[2J"}, wantReason: VarTitle + ": "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req *Request
			var err error
			if tt.vars != nil {
				p, perr := ParseEvent(context.Background(), readFile(t, "testdata/codebuild-succeeded-no-exported.json"), cfg)
				if perr != nil {
					t.Fatal(perr)
				}
				req, err = p.Complete(context.Background(), cfg, BuildFacts{Vars: tt.vars})
			} else {
				var p Parsed
				p, err = ParseEvent(context.Background(), []byte(tt.event), cfg)
				req = p.Request
			}
			if tt.wantReason != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantReason) {
					t.Fatalf("got %v, want a refusal containing %q", err, tt.wantReason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := req.Release; got != tt.want {
				t.Errorf("release = %+v, want %+v", got, tt.want)
			}
		})
	}
}
