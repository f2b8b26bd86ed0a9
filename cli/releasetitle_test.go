package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/cli"
)

// TestReleaseSaysWhatChanged (issue 23): `aliasflow release --title
// --author` sends what changed and who wrote it, the Release Requested
// fields the approval page shows; what the release Lambda would refuse is
// refused here first, naming the flag, and no event is put.
func TestReleaseSaysWhatChanged(t *testing.T) {
	tests := []struct {
		name                  string
		args                  []string
		wantCode              int
		wantTitle, wantAuthor string
		wantErr               string
	}{
		{name: "title and author", args: []string{"--title", "Greet in Portuguese (#42)", "--author", "Zoë <zoe@example.com>"},
			wantCode: cli.ExitOK, wantTitle: "Greet in Portuguese (#42)", wantAuthor: "Zoë <zoe@example.com>"},
		{name: "neither", wantCode: cli.ExitOK},
		{name: "a title of two lines", args: []string{"--title", "Greet\nSmoke tests passed"}, wantCode: cli.ExitUsage, wantErr: "--title: "},
		{name: "a title too long", args: []string{"--title", strings.Repeat("t", 513)}, wantCode: cli.ExitUsage, wantErr: "--title: 513 bytes"},
		{name: "a blank author", args: []string{"--author", " "}, wantCode: cli.ExitUsage, wantErr: "--author: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			code, out, errs := w.run(t, append([]string{"release", "hello", "--request-only"}, tc.args...)...)
			wantCode(t, code, tc.wantCode, out, errs)
			if tc.wantErr != "" {
				wantContains(t, "stderr", errs, tc.wantErr)
				if len(w.events.Put()) != 0 {
					t.Errorf("put %d events; want none", len(w.events.Put()))
				}
				return
			}
			if len(w.events.Put()) != 1 {
				t.Fatalf("put %d events; want 1", len(w.events.Put()))
			}
			var d cli.ReleaseRequest
			if err := json.Unmarshal([]byte(*w.events.Put()[0].Detail), &d); err != nil {
				t.Fatal(err)
			}
			if d.Title != tc.wantTitle || d.Author != tc.wantAuthor {
				t.Errorf("detail title %q, author %q; want %q, %q", d.Title, d.Author, tc.wantTitle, tc.wantAuthor)
			}
		})
	}
}
