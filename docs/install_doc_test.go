package docs_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestInstallNamesOnlyReleasesThatExist (issue 23): the install
// instructions of the README and docs/deploy.md name a version only when
// it is one of the repository's release tags (git tag); with none
// tagged, they install from @main. A newcomer copied "@v1.4.0", which does
// not exist.
func TestInstallNamesOnlyReleasesThatExist(t *testing.T) {
	out, err := exec.Command("git", "tag", "--list").Output()
	if err != nil {
		t.Fatalf("git tag: %v", err)
	}
	tags := map[string]bool{}
	for _, tag := range strings.Fields(string(out)) {
		tags[tag] = true
	}
	// A version a reader would copy: go install …@vX.Y.Z, a release
	// download link, or an "e.g. @vX.Y.Z".
	version := regexp.MustCompile(`(?:aliasflow@|releases/download/|e\.g\. @)(v[0-9][0-9A-Za-z.\-+]*)`)
	for _, file := range []string{"../README.md", "deploy.md"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range version.FindAllStringSubmatch(string(b), -1) {
			if !tags[m[1]] {
				t.Errorf("%s names release %s (%q), which is no tag of this repository (tags: %v)", file, m[1], m[0], strings.Fields(string(out)))
			}
		}
		if !strings.Contains(string(b), "go install github.com/aliasflow/aliasflow/cmd/aliasflow@") {
			t.Errorf("%s does not say how to install the CLI with go install", file)
		}
	}
}
