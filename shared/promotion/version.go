package promotion

import "strings"

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
func CommitFromDescription(d string) string {
	rest, ok := strings.CutPrefix(d, descriptionCommit)
	if !ok {
		return ""
	}
	commit, _, _ := strings.Cut(rest, " ")
	return commit
}
