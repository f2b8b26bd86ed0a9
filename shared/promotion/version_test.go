package promotion

import (
	"strings"
	"testing"
)

func TestVersionDescriptionNamesTheCommit(t *testing.T) {
	tests := []struct {
		name string
		rel  Release
		want string
	}{
		{"commit and build", Release{Commit: "0123abc", Build: "hello:42"}, "0123abc"},
		{"commit only", Release{Commit: "0123abc"}, "0123abc"},
		{"no commit", Release{Build: "hello:42"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := VersionDescription(tc.rel)
			if got := CommitFromDescription(d); got != tc.want {
				t.Errorf("commit of %q = %q, want %q", d, got, tc.want)
			}
		})
	}
	long := VersionDescription(Release{Commit: "c", Build: strings.Repeat("b", 400)})
	if len(long) > 256 {
		t.Errorf("description of %d characters; PublishVersion takes at most 256", len(long))
	}
	if got := CommitFromDescription("written by hand"); got != "" {
		t.Errorf("a hand-written description gave commit %q", got)
	}
}
