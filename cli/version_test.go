package cli_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionOfTheBuiltCLI builds the CLI with the command `make
// build-local` runs and asks it `--version`: it names the release tag or
// commit it was built from, not "(devel)" (issue 23; the environment may
// build with -buildvcs=false, so the Makefile links the version in).
func TestVersionOfTheBuiltCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	root := repoRoot()
	describe, err := exec.Command("git", "-C", root, "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		t.Skipf("no git checkout to describe: %v", err)
	}
	for _, c := range []struct {
		name     string
		makeArgs []string
		want     string
	}{
		{"from the checkout", nil, strings.TrimSpace(string(describe))},
		{"a release tag given", []string{"CLI_VERSION=v1.4.0"}, "v1.4.0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan, err := exec.Command("make", append([]string{"-s", "-n", "-C", root, "build-local"}, c.makeArgs...)...).Output()
			if err != nil {
				t.Fatalf("make -n build-local: %v", err)
			}
			build := ""
			for _, line := range strings.Split(string(plan), "\n") {
				if strings.Contains(line, "-o bin/aliasflow ./cmd/aliasflow") {
					build = line
				}
			}
			if build == "" {
				t.Fatalf("make build-local builds no bin/aliasflow:\n%s", plan)
			}
			bin := filepath.Join(t.TempDir(), "aliasflow")
			cmd := exec.Command("bash", "-c", strings.Replace(build, "-o bin/aliasflow", "-o "+bin, 1))
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", build, err, out)
			}
			out, err := exec.Command(bin, "--version").Output()
			if err != nil {
				t.Fatalf("aliasflow --version: %v", err)
			}
			if got, want := strings.TrimSpace(string(out)), "aliasflow "+c.want; got != want {
				t.Errorf("aliasflow --version = %q, want %q", got, want)
			}
		})
	}
}
