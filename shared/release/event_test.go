package release

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

func TestParseEventAccepts(t *testing.T) {
	cfg := loadConfig(t)
	tests := []struct {
		file        string
		wantRelease *promotion.Release
		wantLookup  string
		wantIgnored bool
	}{
		{file: "codebuild-succeeded.json", wantRelease: &codeBuildRelease},
		{file: "release-requested.json", wantRelease: &requestedRelease},
		{file: "codebuild-succeeded-no-exported.json", wantLookup: buildID},
		{file: "codebuild-failed.json", wantIgnored: true},
		{file: "codebuild-in-progress.json", wantIgnored: true},
		{file: "codebuild-stopped.json", wantIgnored: true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, err := ParseEvent(context.Background(), readFile(t, filepath.Join("testdata", tt.file)), cfg)
			if err != nil {
				t.Fatalf("ParseEvent: %v", err)
			}
			if got := p.Ignored != ""; got != tt.wantIgnored {
				t.Errorf("ignored = %q, want ignored %v", p.Ignored, tt.wantIgnored)
			}
			if p.Lookup != tt.wantLookup {
				t.Errorf("lookup = %q, want %q", p.Lookup, tt.wantLookup)
			}
			if tt.wantRelease == nil {
				if p.Request != nil {
					t.Errorf("request = %+v, want none", p.Request)
				}
				return
			}
			if p.Request == nil {
				t.Fatal("no request")
			}
			if p.Request.Release != *tt.wantRelease || p.Request.Function() != "hello" {
				t.Errorf("request = %s %+v, want hello %+v", p.Request.Function(), p.Request.Release, *tt.wantRelease)
			}
		})
	}
}

func TestParseEventCompletesFromBuild(t *testing.T) {
	cfg := loadConfig(t)
	raw := readFile(t, "testdata/codebuild-succeeded-no-exported.json")
	tests := []struct {
		name    string
		project string
		// initiator is Build.initiator as BatchGetBuilds returns it;
		// sourceVersion replaces the event's.
		initiator, sourceVersion string
		vars                     map[string]string
		want                     *promotion.Release
		wantFn                   string
		wantReason               string
	}{
		{
			name: "all variables", project: "hello-build",
			vars:   map[string]string{VarFunction: "hello", VarCodeSha256: sha2, VarCommit: "abc1234", VarRequestedBy: "ana@example.com"},
			want:   &promotion.Release{Commit: "abc1234", Build: buildID, CodeSha256: sha2, RequestedBy: "ana@example.com", VerifiedBy: "codebuild-webhook", Source: SourceCodeBuild},
			wantFn: "hello",
		},
		{
			// The commit falls back to the event's source version; nobody
			// claimed to request it, and the initiator is verified.
			name: "function and code hash", project: "hello-build",
			vars:   map[string]string{VarCodeSha256: sha2, VarFunction: "hello"},
			want:   &promotion.Release{Commit: commit, Build: buildID, CodeSha256: sha2, VerifiedBy: "codebuild-webhook", Source: SourceCodeBuild},
			wantFn: "hello",
		},
		{
			// BatchGetBuilds' Build.initiator is CodeBuild's word too, and
			// the newer one.
			name: "initiator from BatchGetBuilds", project: "hello-build", initiator: "codepipeline/hello-pipeline",
			vars:   map[string]string{VarCodeSha256: sha2, VarFunction: "hello", VarRequestedBy: "ana@example.com"},
			want:   &promotion.Release{Commit: commit, Build: buildID, CodeSha256: sha2, RequestedBy: "ana@example.com", VerifiedBy: "codepipeline/hello-pipeline", Source: SourceCodeBuild},
			wantFn: "hello",
		},
		{
			// A build's source version may be a branch or an S3 object
			// version: it is no commit id, so none is recorded.
			name: "source version not a commit", project: "hello-build", sourceVersion: "refs/heads/main",
			vars:   map[string]string{VarCodeSha256: sha2, VarFunction: "hello"},
			want:   &promotion.Release{Build: buildID, CodeSha256: sha2, VerifiedBy: "codebuild-webhook", Source: SourceCodeBuild},
			wantFn: "hello",
		},
		{
			// Each target's settings are their own store entry, found by
			// function: a project releasing one function does not imply it.
			name: "only the code hash", project: "hello-build",
			vars: map[string]string{VarCodeSha256: sha2}, wantReason: "must export ALIASFLOW_FUNCTION",
		},
		{
			// Exported but empty is not absent: it is refused, named.
			name: "function exported empty", project: "hello-build",
			vars: map[string]string{VarCodeSha256: sha2, VarFunction: ""}, wantReason: "exported ALIASFLOW_FUNCTION with an empty value",
		},
		{
			name: "requester exported empty", project: "hello-build",
			vars: map[string]string{VarCodeSha256: sha2, VarFunction: "hello", VarRequestedBy: " "}, wantReason: "exported ALIASFLOW_REQUESTED_BY with an empty value",
		},
		{
			name: "monorepo names the function", project: "monorepo",
			vars:   map[string]string{VarFunction: "orders", VarCodeSha256: sha3},
			want:   &promotion.Release{Commit: commit, Build: buildID, CodeSha256: sha3, VerifiedBy: "codebuild-webhook", Source: SourceCodeBuild},
			wantFn: "orders",
		},
		{name: "monorepo without function", project: "monorepo", vars: map[string]string{VarCodeSha256: sha3}, wantReason: "must export ALIASFLOW_FUNCTION"},
		{name: "no code hash", project: "hello-build", vars: map[string]string{VarFunction: "hello"}, wantReason: "exported no ALIASFLOW_CODE_SHA256"},
		{name: "qualified function", project: "hello-build", vars: map[string]string{VarFunction: "hello:stg", VarCodeSha256: sha2}, wantReason: "without a qualifier"},
		{name: "exported commit too short", project: "hello-build", vars: map[string]string{VarFunction: "hello", VarCodeSha256: sha2, VarCommit: "abc123"},
			wantReason: `ALIASFLOW_COMMIT: "abc123" is not a commit id`},
		{name: "exported requester with a bidi override", project: "hello-build", vars: map[string]string{VarFunction: "hello", VarCodeSha256: sha2, VarRequestedBy: "moc.elpmaxe@\u202eana"},
			wantReason: "ALIASFLOW_REQUESTED_BY: "},
		{name: "initiator with an escape", project: "hello-build", initiator: "ops\x1b[2J", vars: map[string]string{VarFunction: "hello", VarCodeSha256: sha2},
			wantReason: "initiator: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := strings.Replace(string(raw), `"project-name": "hello-build"`, `"project-name": "`+tt.project+`"`, 1)
			if tt.sourceVersion != "" {
				ev = strings.Replace(ev, `"source-version": "`+commit+`"`, `"source-version": "`+tt.sourceVersion+`"`, 1)
			}
			p, err := ParseEvent(context.Background(), []byte(ev), cfg)
			if err != nil || p.Lookup != buildID {
				t.Fatalf("ParseEvent = %+v, %v; want a lookup of %s", p, err, buildID)
			}
			req, err := p.Complete(context.Background(), cfg, BuildFacts{Vars: tt.vars, Initiator: tt.initiator})
			if tt.wantReason != "" {
				var r *Refusal
				if !errors.As(err, &r) || !strings.Contains(r.Reason, tt.wantReason) {
					t.Fatalf("Complete = %+v, %v; want a refusal containing %q", req, err, tt.wantReason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if req.Release != *tt.want || req.Function() != tt.wantFn {
				t.Errorf("request = %s %+v, want %s %+v", req.Function(), req.Release, tt.wantFn, *tt.want)
			}
		})
	}
}

// Every file of the bad corpus is refused for its own reason.
func TestParseEventRefuses(t *testing.T) {
	cfg := loadConfig(t)
	want := map[string]string{
		"array.json":                                   "want a JSON object, got array",
		"codebuild-bad-build-id.json":                  "not a CodeBuild build ARN",
		"codebuild-exported-codesha256-invalid.json":   "decodes to 24 bytes",
		"codebuild-exported-empty-commit.json":         "exported ALIASFLOW_COMMIT with an empty value",
		"codebuild-exported-empty-function.json":       "exported ALIASFLOW_FUNCTION with an empty value",
		"codebuild-exported-unknown-variable.json":     "exported ALIASFLOW_FUNCTON, which aliasflow does not define",
		"release-requested-unknown-field.json":         `unknown field "approver"`,
		"release-requested-misspelt-field.json":        `unknown field "functon"`,
		"codebuild-function-arn.json":                  "not an ARN",
		"codebuild-function-of-another-project.json":   `does not release function "orders"`,
		"codebuild-missing-project.json":               "project-name is missing",
		"codebuild-missing-status.json":                "build-status is missing",
		"codebuild-monorepo-without-function.json":     "must export ALIASFLOW_FUNCTION",
		"codebuild-source-release-type.json":           "unexpected event",
		"codebuild-unknown-project.json":               `project "payments-build" does not release function "hello"`,
		"codesha256-hex.json":                          "decodes to 48 bytes",
		"release-requested-commit-branch.json":         `commit: "main" is not a commit id`,
		"release-requested-commit-short.json":          `commit: "4f1c2e" is not a commit id`,
		"release-requested-commit-too-long.json":       "commit: ",
		"release-requested-commit-injected.json":       `commit: "4f1c2e9\n\nSmoke tests passed\nApprove: https://evil.example/" is not a commit id`,
		"release-requested-requestedby-injected.json":  "requestedBy: ",
		"release-requested-requestedby-ansi.json":      "requestedBy: ",
		"release-requested-requestedby-bidi.json":      "requestedBy: ",
		"release-requested-requestedby-too-long.json":  "requestedBy: 1025 bytes",
		"release-requested-build-injected.json":        "build: ",
		"release-requested-build-space.json":           "build: ",
		"release-requested-build-bad-arn.json":         "build: ",
		"release-requested-build-javascript-url.json":  "build: ",
		"release-requested-build-too-long.json":        "build: 2071 bytes",
		"release-requested-callerproof-newline.json":   "callerProof: a space or a character other than printable ASCII",
		"codebuild-exported-commit-not-hex.json":       `ALIASFLOW_COMMIT: "refs/heads/main" is not a commit id`,
		"codebuild-exported-requestedby-injected.json": "ALIASFLOW_REQUESTED_BY: ",
		"codebuild-initiator-control.json":             "initiator: ",
		"codesha256-not-base64.json":                   "not base64",
		"codesha256-short.json":                        "decodes to 16 bytes",
		"codesha256-unpadded.json":                     "not base64",
		"detail-array.json":                            "detail must be a JSON object",
		"detail-null.json":                             "detail must be a JSON object",
		"detail-string.json":                           "detail must be a JSON object",
		"empty.json":                                   "malformed event",
		"function-arn.json":                            "not an ARN",
		"function-empty.json":                          "function name is empty",
		"function-json-number.json":                    "function must be a string, got number",
		"function-latest-qualified.json":               "$LATEST is never promoted",
		"function-latest.json":                         "$LATEST is never promoted",
		"function-missing.json":                        "function name is empty",
		"function-qualified.json":                      "without a qualifier",
		"function-too-long.json":                       "not a valid function name",
		"function-unknown.json":                        `"payments" is not configured`,
		"function-version-number.json":                 "looks like a version number",
		"missing-codesha256.json":                      "codeSha256: missing",
		"not-json.json":                                "malformed event",
		"number.json":                                  "want a JSON object, got number",
		"trailing-data.json":                           "trailing data",
		"unknown-detail-type.json":                     `detail-type "Audit Record"`,
		"unknown-source.json":                          `source "aws.ec2"`,
	}
	files, err := filepath.Glob("testdata/bad/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(want) {
		t.Errorf("%d files in testdata/bad, %d expected reasons: keep them in step", len(files), len(want))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			reason, ok := want[name]
			if !ok {
				t.Fatalf("no expected reason for %s", name)
			}
			p, err := ParseEvent(context.Background(), readFile(t, f), cfg)
			var r *Refusal
			if !errors.As(err, &r) {
				t.Fatalf("ParseEvent = %+v, %v; want a refusal", p, err)
			}
			if !strings.Contains(r.Reason, reason) {
				t.Errorf("reason = %q, want it to contain %q", r.Reason, reason)
			}
		})
	}
}

func TestParseEventTooLarge(t *testing.T) {
	raw := make([]byte, maxEventBytes+1)
	_, err := ParseEvent(context.Background(), raw, loadConfig(t))
	var r *Refusal
	if !errors.As(err, &r) || !strings.Contains(r.Reason, "bytes") {
		t.Errorf("ParseEvent(%d bytes) = %v, want a refusal for its size", len(raw), err)
	}
}

func TestValidateCodeSha256(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when valid
	}{
		{sha2, ""},
		{sha1, ""},
		{"", "missing"},
		{"AAAA", "decodes to 3 bytes"},
		{strings.Repeat("A", 43) + "=", ""},
		{strings.Repeat("A", 44), "decodes to 33 bytes"},
		{"9a7FMr2BtwI4GK_P4d1j8JPSLYHeV6H55HvtJVGI7T8=", "not base64"}, // URL alphabet
		{" " + sha2, "not base64"},
		{sha2[:20] + "\n" + sha2[20:], "not base64"}, // the decoder would skip it
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := ValidateCodeSha256(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("ValidateCodeSha256(%q) = %v, want nil", tt.in, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("ValidateCodeSha256(%q) = %v, want an error containing %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestBuildID(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "arn:aws:codebuild:us-east-1:123456789012:build/hello-build:8745a7a9-c340", want: "hello-build:8745a7a9-c340"},
		{in: "hello-build:8745a7a9-c340", want: "hello-build:8745a7a9-c340"},
		{in: "arn:aws:codebuild:us-east-1:123456789012:project/hello-build", wantErr: true},
		{in: "arn:aws:s3:::bucket/key", wantErr: true},
		{in: "hello-build", wantErr: true},
		{in: "", wantErr: true},
		{in: ":uuid", wantErr: true},
		// CodeBuild's ProjectName: [A-Za-z0-9][A-Za-z0-9\-_]{1,149}
		// (botocore data/codebuild/2016-10-06/service-2.json).
		{in: "-hello:8745a7a9", wantErr: true},
		{in: "h:8745a7a9", wantErr: true},
		{in: strings.Repeat("h", 151) + ":8745a7a9", wantErr: true},
		{in: "hello.build:8745a7a9", wantErr: true},
		{in: "hello-build:8745\x1b[2J", wantErr: true},
		{in: "hello-build:8745\u202ea9", wantErr: true},
		{in: "arn:aws:codebuild:us-east-1:123456789012:build/hello-build:8745a7a9\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := BuildID(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("BuildID(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// FuzzParseEvent: no input panics, and an accepted event always names a
// valid, configured function and a valid code hash.
func FuzzParseEvent(f *testing.F) {
	for _, pattern := range []string{"testdata/*.json", "testdata/bad/*.json"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			if filepath.Base(file) == "config.json" {
				continue
			}
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	raw, err := os.ReadFile("testdata/config.json")
	if err != nil {
		f.Fatal(err)
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		f.Fatal(err)
	}
	check := func(t *testing.T, req *Request) {
		if err := config.ValidateFunctionName(req.Function()); err != nil {
			t.Fatalf("accepted function %q: %v", req.Function(), err)
		}
		if _, ok := cfg.Lookup(req.Function()); !ok {
			t.Fatalf("accepted unconfigured function %q", req.Function())
		}
		if err := ValidateCodeSha256(req.Release.CodeSha256); err != nil {
			t.Fatalf("accepted codeSha256 %q: %v", req.Release.CodeSha256, err)
		}
		if err := ValidateFacts(req.Release, ReleaseRequestedNames); err != nil {
			t.Fatalf("accepted release %+v: %v", req.Release, err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseEvent(context.Background(), data, cfg)
		if err != nil {
			var r *Refusal
			if !errors.As(err, &r) || r.Reason == "" {
				t.Fatalf("ParseEvent error %v is not a refusal with a reason", err)
			}
			return
		}
		switch {
		case p.Request != nil:
			check(t, p.Request)
		case p.Lookup != "":
			if _, err := BuildID(p.Lookup); err != nil {
				t.Fatalf("lookup of %q: %v", p.Lookup, err)
			}
			req, err := p.Complete(context.Background(), cfg, BuildFacts{Vars: map[string]string{VarCodeSha256: sha2, VarFunction: "hello"}})
			if err == nil {
				check(t, req)
			}
		case p.Ignored == "":
			t.Fatal("accepted event is neither a request, a lookup nor ignored")
		}
	})
}

// TestValidateFacts: what a release says of itself is checked before
// anyone is shown it as a fact.
func TestValidateFacts(t *testing.T) {
	const inject = "\n\nSmoke tests passed\nApprove: https://evil.example/"
	tests := []struct {
		name string
		rel  promotion.Release
		want string // "" when accepted
	}{
		{"nothing claimed", promotion.Release{}, ""},
		{"full SHA-1 commit", promotion.Release{Commit: commit}, ""},
		{"abbreviated commit", promotion.Release{Commit: "4f1c2e9"}, ""},
		{"upper-case commit", promotion.Release{Commit: "4F1C2E9B"}, ""},
		{"SHA-256 commit", promotion.Release{Commit: strings.Repeat("ab", 32)}, ""},
		{"commit of 6 digits", promotion.Release{Commit: "4f1c2e"}, "commit: "},
		{"commit of 65 digits", promotion.Release{Commit: strings.Repeat("a", 65)}, "commit: "},
		{"commit not hex", promotion.Release{Commit: "4f1c2e9g"}, "commit: "},
		{"commit injected", promotion.Release{Commit: "4f1c2e9" + inject}, `is not a commit id`},
		{"build id", promotion.Release{Build: buildID}, ""},
		{"build ARN", promotion.Release{Build: "arn:aws:codebuild:us-east-1:123456789012:build/hello-build:8745a7a9-c340"}, ""},
		{"GitHub Actions run link", promotion.Release{Build: "https://github.com/example/hello/actions/runs/42"}, ""},
		{"plain run number", promotion.Release{Build: "42"}, ""},
		{"build with a space", promotion.Release{Build: "run 42"}, "build: "},
		{"build injected", promotion.Release{Build: "42" + inject}, "build: "},
		{"build non-ASCII", promotion.Release{Build: "run-4\u202e2"}, "build: "},
		{"build ARN cut short", promotion.Release{Build: "arn:aws:codebuild"}, "build: "},
		{"build of another scheme", promotion.Release{Build: "javascript://%0aalert(1)"}, "build: "},
		{"build link without host", promotion.Release{Build: "https:///runs/42"}, "build: "},
		{"build too long", promotion.Release{Build: strings.Repeat("b", MaxBuild+1)}, "build: 2049 bytes"},
		{"requester email", promotion.Release{RequestedBy: "ben@example.com"}, ""},
		{"requester ARN", promotion.Release{RequestedBy: "arn:aws:sts::123456789012:assumed-role/Deploy/ben"}, ""},
		{"requester name", promotion.Release{RequestedBy: "Zoë Ångström"}, ""},
		{"requester injected", promotion.Release{RequestedBy: "ben" + inject}, "requestedBy: "},
		{"requester with ANSI", promotion.Release{RequestedBy: "ben\x1b[2J"}, "requestedBy: "},
		{"requester with a bidi override", promotion.Release{RequestedBy: "\u202eben"}, "requestedBy: "},
		{"requester too long", promotion.Release{RequestedBy: strings.Repeat("b", MaxRequestedBy+1)}, "requestedBy: 1025 bytes"},
		{"requester blank", promotion.Release{RequestedBy: "  "}, "requestedBy: "},
		{"initiator", promotion.Release{VerifiedBy: "codepipeline/hello"}, ""},
		{"initiator with a newline", promotion.Release{VerifiedBy: "ops\nforged"}, "initiator: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateFacts(tt.rel, ReleaseRequestedNames)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("ValidateFacts(%+v) = %v, want nil", tt.rel, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("ValidateFacts(%+v) = %v, want an error containing %q", tt.rel, err, tt.want)
			case err != nil && strings.ContainsAny(err.Error(), "\n\x1b\u202e"):
				t.Errorf("ValidateFacts error %q carries a control character raw", err)
			}
		})
	}
}

// versioned is a Targets that says which version of the settings it read,
// as settings.Store does.
type versioned struct {
	*config.Config
	version int64
}

func (v versioned) Version(string) int64 { return v.version }

// TestParseEventCarriesTheSettingsVersion: the version of the settings a
// release was read under travels with the request (into the execution
// input, to the approval page and the decision's audit record).
func TestParseEventCarriesTheSettingsVersion(t *testing.T) {
	cfg := loadConfig(t)
	tests := []struct {
		name    string
		targets Targets
		want    int64
	}{
		{name: "a store that says", targets: versioned{cfg, 7}, want: 7},
		{name: "a store that does not", targets: cfg, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseEvent(context.Background(), readFile(t, filepath.Join("testdata", "release-requested.json")), tt.targets)
			if err != nil || p.Request == nil {
				t.Fatalf("ParseEvent = %+v, %v", p, err)
			}
			if p.Request.SettingsVersion != tt.want {
				t.Errorf("settings version = %d, want %d", p.Request.SettingsVersion, tt.want)
			}
		})
	}
}
