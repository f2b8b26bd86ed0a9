package promotion

import (
	"fmt"
	"strings"
)

// descriptionCommit starts the commit in a version's description.
const descriptionCommit = "aliasflow: commit "

// maxDescription is the longest description PublishVersion takes
// ("PublishVersion", AWS Lambda API Reference: Description, maximum length
// 256).
const maxDescription = 256

// VersionDescription is the description the release Lambda gives the
// version it publishes, so the version itself says which commit it was
// built from (the approval page and `aliasflow status` read it back).
// Empty when the release names no commit.
func VersionDescription(r Release) string {
	if r.Commit == "" {
		return ""
	}
	d := descriptionCommit + r.Commit
	if r.Build != "" {
		d += " build " + r.Build
	}
	if len(d) > maxDescription {
		d = d[:maxDescription]
	}
	return d
}

// CommitFromDescription reads the commit VersionDescription wrote, or "".
// Whoever may publish a version writes its description, so only a commit id
// (ValidateCommit) is read: the approval page links it into the repository.
func CommitFromDescription(d string) string {
	rest, ok := strings.CutPrefix(d, descriptionCommit)
	if !ok {
		return ""
	}
	commit, _, _ := strings.Cut(rest, " ")
	if ValidateCommit(commit) != nil {
		return ""
	}
	return commit
}

// Commit ids are git object names in hex, full or abbreviated: 40 digits
// in a SHA-1 repository, 64 in a SHA-256 one (git's
// extensions.objectFormat), at least 7 (git's default core.abbrev). An
// abbreviation of either is just hex, so any length between passes.
const (
	minCommitDigits = 7
	maxCommitDigits = 64
)

// ValidateCommit accepts a commit id: 7 to 64 hex digits.
func ValidateCommit(s string) error {
	if len(s) > maxCommitDigits {
		return fmt.Errorf("%d characters; a commit id has at most %d hex digits", len(s), maxCommitDigits)
	}
	if strings.Trim(s, "0123456789abcdefABCDEF") != "" || len(s) < minCommitDigits {
		return fmt.Errorf("%q is not a commit id (want %d to %d hex digits)", s, minCommitDigits, maxCommitDigits)
	}
	return nil
}
