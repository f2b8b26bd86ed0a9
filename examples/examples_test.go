package examples_test

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/examples"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/eventpatterns"
	"github.com/aliasflow/aliasflow/shared/release"
)

// The test binary doubles as a fake `aws` CLI (see fakeAWS) for running the
// examples' scripts without an AWS account.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "aws" {
		os.Exit(fakeAWS(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// exported are the variables the release Lambda reads from a build, from
// shared/release (not a copy).
var exported = []string{release.VarFunction, release.VarCodeSha256, release.VarCommit, release.VarRequestedBy, release.VarTitle, release.VarAuthor}

// The commit the examples' scripts run in: what changed and who wrote it
// reach the approval page from it (issue 23).
const (
	commitTitle  = "Greet in Portuguese (#42)"
	commitAuthor = "Zoë Ångström <zoe@example.com>"
)

// gitCheckout makes dir a git checkout whose HEAD is a commit titled
// commitTitle by commitAuthor, as a CI's checkout is.
func gitCheckout(t *testing.T, dir string) {
	t.Helper()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Zoë Ångström", "GIT_AUTHOR_EMAIL=zoe@example.com", "GIT_COMMITTER_NAME=ci", "GIT_COMMITTER_EMAIL=ci@example.com"}
	run(t, dir, env, "git", "init", "-q")
	run(t, dir, env, "git", "commit", "-q", "--allow-empty", "-m", commitTitle+"\n\nThe body is not shown.")
}

const project = "hello-build"

// targets is the configuration the release Lambda would hold: hello,
// released by the CodeBuild project or by any CI.
func targets(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(`{"targets":[{"function":"hello","codeBuildProjects":["` + project + `"],"approvers":["lead@example.com"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestWorkflowsPassActionlint(t *testing.T) {
	// GIVEN every workflow in github-actions/, WHEN actionlint (the Go
	// module, with shellcheck on the run: scripts when it is installed)
	// checks them, THEN it reports nothing.
	files, err := filepath.Glob("github-actions/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows in github-actions/ (%v)", err)
	}
	opts := &actionlint.LinterOptions{}
	if p, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = p
	} else {
		t.Log("shellcheck is not installed: run: scripts are not checked by it (apt-get install shellcheck)")
	}
	linter, err := actionlint.NewLinter(io.Discard, opts)
	if err != nil {
		t.Fatal(err)
	}
	found, err := linter.LintFiles(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range found {
		t.Errorf("%s:%d:%d: %s [%s]", e.Filepath, e.Line, e.Column, e.Message, e.Kind)
	}
}

// buildSpec is the part of a buildspec the release depends on.
type buildSpec struct {
	Version any `yaml:"version"`
	Env     struct {
		Variables map[string]string `yaml:"variables"`
		Exported  []string          `yaml:"exported-variables"`
	} `yaml:"env"`
	Phases map[string]struct {
		Commands []string `yaml:"commands"`
	} `yaml:"phases"`
}

// packaging is how the examples package one runtime's code: its buildspec
// and workflow, the file Lambda loads from the package's root, and what the
// build must add beside it.
type packaging struct {
	name, buildspec, workflow string
	// entry is the file at the package's root that Lambda runs or loads.
	entry string
	// source is the sample's directory (relative to the repository) the
	// example packages, copied into the test's checkout; "" for Go.
	source string
	// depFile, written into the copied source, makes the build install a
	// dependency, which dependency says where the package must hold.
	depFile, dependency string
}

var packagings = []packaging{
	{name: "go", buildspec: "codebuild/buildspec.yml", workflow: "github-actions/release.yml", entry: "bootstrap"},
	{name: "node", buildspec: "codebuild/buildspec-node.yml", workflow: "github-actions/release-node.yml", entry: "index.mjs",
		source: "examples/hello-node", depFile: "package-lock.json", dependency: "node_modules/left-pad/index.js"},
	{name: "python", buildspec: "codebuild/buildspec-python.yml", workflow: "github-actions/release-python.yml", entry: "app.py",
		source: "examples/hello-python", depFile: "requirements.txt", dependency: "requests/__init__.py"},
}

// standIns are the build tools the examples call, as scripts that write
// what the real ones would: go builds the binary, npm ci installs the
// lock's dependency, pip installs the requirement into --target.
var standIns = map[string]string{
	// go install (of the aliasflow CLI) installs the stand-in aliasflow
	// into $GOBIN.
	"go": `#!/bin/sh
if [ "$1" = install ]; then
  case "$2" in github.com/aliasflow/aliasflow/cmd/aliasflow@*) ;; *) echo "stand-in go: unexpected go install $2" >&2; exit 2 ;; esac
  mkdir -p "$GOBIN" && cp "$FAKE_AWS_DIR/aliasflow-stand-in" "$GOBIN/aliasflow" && exit 0
fi
while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done
mkdir -p "$(dirname "$out")" && echo "a Go binary" > "$out"
`,
	"npm": `#!/bin/sh
[ "$1" = ci ] || { echo "stand-in npm: unexpected npm $*" >&2; exit 2; }
mkdir -p node_modules/left-pad && echo "module.exports = 1;" > node_modules/left-pad/index.js
`,
	"pip": `#!/bin/sh
[ "$1" = install ] || { echo "stand-in pip: unexpected pip $*" >&2; exit 2; }
while [ $# -gt 0 ]; do [ "$1" = --target ] && target="$2"; shift; done
mkdir -p "$target/requests" && : > "$target/requests/__init__.py"
`,
}

// checkout makes dir the repository checkout a CI job runs in: the stand-in
// build tools on PATH, the packaging's sample source with a dependency to
// install, and with git, a commit titled commitTitle by commitAuthor.
func checkout(t *testing.T, dir string, p packaging, git bool) {
	t.Helper()
	for name, body := range standIns {
		writeScript(t, filepath.Join(dir, "bin", name), body)
	}
	if p.source != "" {
		copyDir(t, filepath.Join("..", p.source), filepath.Join(dir, p.source))
		if err := os.WriteFile(filepath.Join(dir, p.source, p.depFile), []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if git {
		gitCheckout(t, dir)
	}
}

// checkPackage reads the deployment package the build wrote: Lambda's
// entry at its root, and the installed dependency.
func checkPackage(t *testing.T, dir string, p packaging) {
	t.Helper()
	zr, err := zip.OpenReader(filepath.Join(dir, "build", "function.zip"))
	if err != nil {
		t.Fatalf("the build wrote no build/function.zip: %v", err)
	}
	defer zr.Close()
	has := map[string]bool{}
	for _, f := range zr.File {
		has[f.Name] = true
	}
	for _, want := range []string{p.entry, p.dependency} {
		if want != "" && !has[want] {
			t.Errorf("the package lacks %s; it holds %v", want, has)
		}
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readBuildSpec(t *testing.T, file string) buildSpec {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var spec buildSpec
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatalf("%s is not YAML: %v", file, err)
	}
	return spec
}

// TestBuildSpecIsTheSampleStacks: the sample stack builds with the Go
// buildspec the package embeds.
func TestBuildSpecIsTheSampleStacks(t *testing.T) {
	raw, err := os.ReadFile(packagings[0].buildspec)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != string(examples.CodeBuildSpec) {
		t.Errorf("examples.CodeBuildSpec is not %s", packagings[0].buildspec)
	}
	if _, err := examples.BuildSpec(); err != nil {
		t.Fatal(err)
	}
}

func TestBuildSpecExportsWhatReleaseReads(t *testing.T) {
	// GIVEN each buildspec, THEN it is version 0.2 (one shell per phase, so
	// an export reaches later commands), exports exactly the variables the
	// release Lambda reads, names the function, and updates, waits for and
	// checks $LATEST in its build phase.
	for _, p := range packagings {
		t.Run(p.name, func(t *testing.T) {
			spec := readBuildSpec(t, p.buildspec)
			if fmt.Sprint(spec.Version) != "0.2" {
				t.Errorf("version = %v, want 0.2", spec.Version)
			}
			got := append([]string(nil), spec.Env.Exported...)
			want := append([]string(nil), exported...)
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("exported-variables = %v, want %v", got, want)
			}
			if spec.Env.Variables[release.VarFunction] == "" {
				t.Errorf("env.variables has no %s", release.VarFunction)
			}
			script := strings.Join(spec.Phases["build"].Commands, "\n")
			for _, want := range []string{"aws lambda update-function-code", "aws lambda wait function-updated-v2", "aws lambda get-function ",
				"export " + release.VarCodeSha256 + "=", "export " + release.VarCommit + "=", "export " + release.VarRequestedBy + "=",
				"export " + release.VarTitle + "=", "export " + release.VarAuthor + "="} {
				if !strings.Contains(script, want) {
					t.Errorf("build phase lacks %q", want)
				}
			}
		})
	}
}

func TestBuildSpecReleasesWhatItUploaded(t *testing.T) {
	// GIVEN each buildspec's build phase run by /bin/sh as CodeBuild runs it
	// (stand-ins for go, npm and pip; a fake aws answers Lambda), in a git
	// checkout or in a source without git metadata (S3), WHEN its exported
	// variables go into a "CodeBuild Build State Change" event, THEN the
	// package holds the runtime's entry point and the installed dependency,
	// and the release Lambda's parser accepts the event as a release of
	// exactly the code update-function-code uploaded, with the commit's
	// title and author when there is a commit to read them from.
	tests := []struct {
		name                  string
		git                   bool
		wantTitle, wantAuthor string
		wantRequestedBy       string
	}{
		{name: "git checkout", git: true, wantTitle: commitTitle, wantAuthor: commitAuthor, wantRequestedBy: "zoe@example.com"},
		{name: "no git metadata", git: false, wantRequestedBy: "GitHub-Hookshot/abc"},
	}
	for _, p := range packagings {
		for _, tt := range tests {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				buildSpecReleases(t, p, tt.git, tt.wantTitle, tt.wantAuthor, tt.wantRequestedBy)
			})
		}
	}
}

func buildSpecReleases(t *testing.T, p packaging, git bool, wantTitle, wantAuthor, wantRequestedBy string) {
	spec := readBuildSpec(t, p.buildspec)
	dir, env := sandbox(t)
	checkout(t, dir, p, git)
	for k, v := range spec.Env.Variables {
		env = append(env, k+"="+v)
	}
	env = append(env, "CODEBUILD_RESOLVED_SOURCE_VERSION=0123456789abcdef0123456789abcdef01234567", "CODEBUILD_INITIATOR=GitHub-Hookshot/abc")
	script := strings.Join(spec.Phases["build"].Commands, "\n")
	for _, v := range exported {
		script += fmt.Sprintf("\nprintf '%%s=%%s\\n' %s \"$%s\" >> exported.env", v, v)
	}
	run(t, dir, env, "sh", "-e", "-c", script)
	checkPackage(t, dir, p)

	raw, err := os.ReadFile(filepath.Join(dir, "exported.env"))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	var list []map[string]string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		vars[k] = v
		list = append(list, map[string]string{"name": k, "value": v})
	}
	uploaded := uploadedSha(t, dir)
	if vars[release.VarCodeSha256] != uploaded {
		t.Errorf("%s = %q, want the uploaded code's %q", release.VarCodeSha256, vars[release.VarCodeSha256], uploaded)
	}
	calls := awsCalls(t, dir)
	if !containsPrefix(calls, "lambda wait function-updated-v2 --function-name hello") {
		t.Errorf("no wait function-updated-v2 on hello; calls: %q", calls)
	}
	event := map[string]any{
		"source": eventpatterns.CodeBuildSource, "detail-type": eventpatterns.CodeBuildDetailType,
		"detail": map[string]any{
			"build-status": eventpatterns.BuildStatusSucceeded, "project-name": project,
			"build-id":               "arn:aws:codebuild:us-east-1:123456789012:build/" + project + ":6a5c7f0e-2d1b-4c3a-9e8f-7a6b5c4d3e2f",
			"additional-information": map[string]any{"initiator": "GitHub-Hookshot/abc", "exported-environment-variables": list},
		},
	}
	req := parse(t, event)
	if req.Function() != "hello" || req.Release.CodeSha256 != uploaded || req.Release.Commit != "0123456789abcdef0123456789abcdef01234567" ||
		req.Release.RequestedBy != wantRequestedBy || req.Release.Source != release.SourceCodeBuild ||
		req.Release.Title != wantTitle || req.Release.Author != wantAuthor {
		t.Errorf("release = %s %+v; want title %q, author %q, requested by %q", req.Function(), req.Release, wantTitle, wantAuthor, wantRequestedBy)
	}
}

// aliasflowStandIn answers `aliasflow release` as the CLI does once the
// release Lambda answered (FAKE_RELEASE_ANSWER: started or refused), with
// the CLI's exit codes, and keeps its arguments, one a line. Like the CLI
// it refuses a --code-sha256 that is not $LATEST's (the uploaded code).
var aliasflowStandIn = fmt.Sprintf(`#!/bin/sh
printf '%%s\n' "$@" > "$FAKE_AWS_DIR/aliasflow-args"
[ "$1" = release ] || { echo "stand-in aliasflow: unexpected aliasflow $1" >&2; exit %[1]d; }
while [ $# -gt 0 ]; do [ "$1" = --code-sha256 ] && code="$2"; shift; done
[ "$code" = "$(cat "$FAKE_AWS_DIR/uploaded.sha")" ] || { echo "stand-in aliasflow: \$LATEST is not $code" >&2; exit %[2]d; }
case "$FAKE_RELEASE_ANSWER" in
refused) echo 'refused: parameter "/aliasflow/targets/hello" not found'; exit %[3]d ;;
started) echo "started hello-v2-abc"; exit %[4]d ;;
*) echo "stand-in aliasflow: FAKE_RELEASE_ANSWER is $FAKE_RELEASE_ANSWER" >&2; exit %[5]d ;;
esac
`, cli.ExitUsage, cli.ExitConflict, cli.ExitReleaseRefused, cli.ExitOK, cli.ExitFailure)

// workflow is the part of a GitHub Actions workflow the test runs.
type workflow struct {
	Env  map[string]string `yaml:"env"`
	Jobs map[string]struct {
		Steps []struct {
			ID   string            `yaml:"id"`
			Name string            `yaml:"name"`
			Env  map[string]string `yaml:"env"`
			Run  string            `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func TestWorkflowRequestsTheReleaseOfWhatItUploaded(t *testing.T) {
	// GIVEN each workflow's run: steps — Build, Update $LATEST and Release
	// — run by bash as GitHub runs them (stand-ins for go, npm and pip; a
	// fake aws answers Lambda; go install installs a stand-in aliasflow
	// that answers as the CLI does), THEN the package holds the runtime's
	// entry point and the installed dependency, it waits with
	// function-updated-v2, and it runs `aliasflow release` for exactly the
	// uploaded code, with the commit, its title and author and the run,
	// which the release Lambda's parser accepts; the job passes when the
	// release started and fails when it was refused (issue 21).
	tests := []struct {
		answer   string
		wantFail bool
	}{
		{answer: "started"},
		{answer: "refused", wantFail: true},
	}
	for _, p := range packagings {
		for _, tt := range tests {
			t.Run(p.name+"/"+tt.answer, func(t *testing.T) { workflowReleases(t, p, tt.answer, tt.wantFail) })
		}
	}
}

func workflowReleases(t *testing.T, p packaging, answer string, wantFail bool) {
	raw, err := os.ReadFile(p.workflow)
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	dir, env := sandbox(t)
	checkout(t, dir, p, true)
	writeScript(t, filepath.Join(dir, "aliasflow-stand-in"), aliasflowStandIn)
	for k, v := range wf.Env {
		env = append(env, k+"="+v)
	}
	output := filepath.Join(dir, "github-output")
	env = append(env, "GITHUB_OUTPUT="+output, "GITHUB_SHA=89abcdef0123456789abcdef0123456789abcdef", "GITHUB_ACTOR=octocat",
		"GITHUB_SERVER_URL=https://github.com", "GITHUB_REPOSITORY=acme/shop", "GITHUB_RUN_ID=42", "RUNNER_TEMP="+filepath.Join(dir, "runner-temp"),
		"FAKE_RELEASE_ANSWER="+answer)
	var names []string
	var failed error
	for _, job := range wf.Jobs {
		for _, step := range job.Steps {
			if step.Run == "" {
				continue
			}
			stepEnv := append([]string(nil), env...)
			for k, v := range step.Env {
				if v == "${{ steps.update.outputs.code-sha256 }}" {
					v = outputs(t, output)["code-sha256"]
				}
				stepEnv = append(stepEnv, k+"="+v)
			}
			names = append(names, step.Name)
			// GitHub's default shell on Linux runners.
			cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step.Run)
			cmd.Dir, cmd.Env = dir, stepEnv
			out, err := cmd.CombinedOutput()
			if err != nil {
				// A failed step fails the job: no later step runs.
				failed = fmt.Errorf("step %q: %v\n%s", step.Name, err, out)
				break
			}
		}
	}
	if got := strings.Join(names, ", "); got != "Build, Update $LATEST, Release" {
		t.Fatalf("ran %s; want Build, Update $LATEST, Release (%v)", got, failed)
	}
	switch {
	case wantFail && failed == nil:
		t.Errorf("the job passed though the release was refused")
	case wantFail && !strings.Contains(failed.Error(), "step \"Release\"") || !wantFail && failed != nil:
		t.Errorf("job failed: %v; want it to fail only at Release, and only on a refusal", failed)
	}
	checkPackage(t, dir, p)
	if !containsPrefix(awsCalls(t, dir), "lambda wait function-updated-v2 --function-name hello") {
		t.Errorf("no wait function-updated-v2 on hello")
	}
	argsRaw, err := os.ReadFile(filepath.Join(dir, "aliasflow-args"))
	if err != nil {
		t.Fatalf("aliasflow release did not run: %v", err)
	}
	args := strings.Split(strings.TrimSuffix(string(argsRaw), "\n"), "\n")
	flag := func(name string) string {
		for i, a := range args {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
		}
		return ""
	}
	uploaded := uploadedSha(t, dir)
	if len(args) < 2 || args[0] != "release" || args[1] != "hello" || flag("--code-sha256") != uploaded {
		t.Fatalf("aliasflow %q; want release hello --code-sha256 %s", args, uploaded)
	}
	// What the CLI puts from these flags, the release Lambda's parser
	// accepts as the release of exactly the uploaded code.
	detail, err := json.Marshal(cli.ReleaseRequest{Function: args[1], CodeSha256: flag("--code-sha256"), Commit: flag("--commit"),
		RequestedBy: "arn:aws:sts::123456789012:assumed-role/aliasflow-github-release/GitHubActions", Build: flag("--build"),
		Title: flag("--title"), Author: flag("--author")})
	if err != nil {
		t.Fatal(err)
	}
	req := parse(t, map[string]any{"source": eventpatterns.ReleaseSource, "detail-type": eventpatterns.ReleaseDetailType, "detail": json.RawMessage(detail)})
	if req.Function() != "hello" || req.Release.CodeSha256 != uploaded || req.Release.Commit != "89abcdef0123456789abcdef0123456789abcdef" ||
		req.Release.Build != "https://github.com/acme/shop/actions/runs/42" || req.Release.Source != release.SourceAliasflow ||
		req.Release.Title != commitTitle || req.Release.Author != commitAuthor {
		t.Errorf("release = %s %+v; want title %q and author %q", req.Function(), req.Release, commitTitle, commitAuthor)
	}
}

// parse hands an EventBridge event to the release Lambda's parser and
// requires a complete request.
func parse(t *testing.T, event map[string]any) *release.Request {
	t.Helper()
	raw, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	p, err := release.ParseEvent(context.Background(), raw, targets(t))
	if err != nil {
		t.Fatalf("the release Lambda refuses the event: %v\n%s", err, raw)
	}
	if p.Request == nil {
		t.Fatalf("the event is no complete release request (lookup %q, ignored %q)\n%s", p.Lookup, p.Ignored, raw)
	}
	return p.Request
}

// sandbox is a working directory and an environment whose PATH starts with
// the fake aws, and which holds no credentials.
func sandbox(t *testing.T) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(bin, "aws")); err != nil {
		t.Fatal(err)
	}
	return dir, []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + dir, "FAKE_AWS_DIR=" + dir}
}

func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func outputs(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no step outputs: %v", err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		out[k] = v
	}
	return out
}

func uploadedSha(t *testing.T, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "uploaded.sha"))
	if err != nil {
		t.Fatalf("nothing was uploaded: %v", err)
	}
	return string(raw)
}

func awsCalls(t *testing.T, dir string) []string {
	t.Helper()
	raw, _ := os.ReadFile(filepath.Join(dir, "aws-calls"))
	return strings.Split(strings.TrimSpace(string(raw)), "\n")
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// fakeAWS answers the AWS CLI calls the examples make, the way the CLI
// prints them with --query … --output text: UpdateFunctionCode returns the
// CodeSha256 of the zip (base64 of its SHA-256, as Lambda reports it),
// GetFunction returns it back, the waiter succeeds. Anything else is an
// error.
func fakeAWS(args []string) int {
	dir := os.Getenv("FAKE_AWS_DIR")
	f, err := os.OpenFile(filepath.Join(dir, "aws-calls"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		fmt.Fprintln(f, strings.Join(args, " "))
		f.Close()
	}
	flag := func(name string) string {
		for i, a := range args {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
		}
		return ""
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "fake aws: no command")
		return 2
	}
	switch args[0] + " " + args[1] {
	case "lambda update-function-code":
		zip, err := os.ReadFile(strings.TrimPrefix(flag("--zip-file"), "fileb://"))
		if err != nil || flag("--query") != "CodeSha256" {
			fmt.Fprintln(os.Stderr, "fake aws: update-function-code needs --zip-file fileb://… --query CodeSha256:", err)
			return 2
		}
		sum := sha256.Sum256(zip)
		sha := base64.StdEncoding.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(dir, "uploaded.sha"), []byte(sha), 0o644); err != nil {
			return 2
		}
		fmt.Println(sha)
	case "lambda wait":
		if len(args) < 3 || args[2] != "function-updated-v2" {
			fmt.Fprintln(os.Stderr, "fake aws: unexpected waiter", args)
			return 2
		}
	case "lambda get-function":
		sha, err := os.ReadFile(filepath.Join(dir, "uploaded.sha"))
		if err != nil || flag("--query") != "Configuration.CodeSha256" {
			fmt.Fprintln(os.Stderr, "fake aws: get-function before an upload or without --query Configuration.CodeSha256")
			return 2
		}
		fmt.Println(string(sha))
	default:
		fmt.Fprintln(os.Stderr, "fake aws: unexpected call", args)
		return 2
	}
	return 0
}
