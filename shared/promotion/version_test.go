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
	long := VersionDescription(Release{Commit: "0123abc", Build: strings.Repeat("b", 400)})
	if len(long) > 256 {
		t.Errorf("description of %d characters; PublishVersion takes at most 256", len(long))
	}
	// Whoever may publish a version writes its description: only a commit
	// id is read from it (the approval page links it into the repository).
	for _, d := range []string{"written by hand", "aliasflow: commit ../../evil/repo", "aliasflow: commit \x1b[2J", "aliasflow: commit main"} {
		if got := CommitFromDescription(d); got != "" {
			t.Errorf("description %q gave commit %q, want none", d, got)
		}
	}
}

func TestValidateCommit(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when valid
	}{
		{"4f1c2e9", ""},
		{"4f1c2e9b7a3d5e6f8091a2b3c4d5e6f708192a3b", ""},
		{strings.Repeat("Ab", 32), ""},
		{"4f1c2e", "is not a commit id"},
		{strings.Repeat("a", 65), "at most 64"},
		{"4f1c2e9 ", "is not a commit id"},
		{"", "is not a commit id"},
		{"refs/heads/main", `"refs/heads/main" is not a commit id`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := ValidateCommit(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("ValidateCommit(%q) = %v, want nil", tt.in, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("ValidateCommit(%q) = %v, want an error containing %q", tt.in, err, tt.want)
			}
		})
	}
}
