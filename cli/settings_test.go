package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// runSettings runs the CLI against the sandbox's Parameter Store.
func runSettings(t *testing.T, store *sandboxtest.SSM, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	code = cli.Main(context.Background(), args, cli.Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errs,
		Getenv:  func(string) string { return "" },
		Clients: &cli.Clients{Parameters: store.Client, Settings: store.Client},
	})
	return code, out.String(), errs.String()
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "settings.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const validHello = `{"function":"hello","approvers":["lead@example.com"],"strategy":{"type":"canary","percent":10,"bakeSeconds":300}}`

func TestSettingsValidate(t *testing.T) {
	tests := []struct {
		name, function, file string
		wantCode             int
		want                 []string // in stdout on success, stderr otherwise
	}{
		{"one target's settings", "hello", validHello, cli.ExitOK, []string{"hello: the settings are valid"}},
		{"a targets file", "hello", `{"targets":[` + validHello + `]}`, cli.ExitOK, []string{"hello: the settings are valid"}},
		{"percent out of range in a targets file names its path", "hello",
			`{"targets":[{"function":"hello","approvers":["lead@example.com"],"strategy":{"type":"canary","percent":150,"bakeSeconds":300}}]}`,
			cli.ExitUsage, []string{"targets[0].strategy.percent: canary percent must be 1–99, got 150", "docs/settings.md"}},
		{"a value outside an enum names its field", "hello",
			`{"function":"hello","approvers":["lead@example.com"],"health":{"freshSignal":"metrics"}}`,
			cli.ExitUsage, []string{`settings.health.freshSignal: must be "logs" or absent, got "metrics"`}},
		{"a misspelt field", "hello", `{"function":"hello","approvers":["lead@example.com"],"smokeRetry":3}`,
			cli.ExitUsage, []string{"smokeRetry"}},
		{"another function's settings", "orders", validHello, cli.ExitUsage, []string{`the settings name "hello", but the parameter is "orders"'s`}},
		{"a targets file without the function", "orders", `{"targets":[` + validHello + `]}`, cli.ExitUsage, []string{`no target is function "orders"`}},
		{"not JSON", "hello", `function: hello`, cli.ExitUsage, []string{"not a JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := sandboxtest.NewSSM(t)
			code, out, errs := runSettings(t, store, "", "settings", "validate", tt.function, writeFile(t, tt.file))
			if code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errs)
			}
			got := out
			if tt.wantCode != cli.ExitOK {
				got = errs
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
			if n := len(store.CloudTrail()); n != 0 {
				t.Errorf("validate made %d writes, want none", n)
			}
		})
	}
}

func TestSettingsSetWritesOnlyValidSettings(t *testing.T) {
	name := settings.ParameterName(settings.DefaultPipeline, "hello")
	tests := []struct {
		name, file string
		wantCode   int
		wantWrites int
		wantErr    string
	}{
		{"valid settings are written once", validHello, cli.ExitOK, 1, ""},
		{"invalid settings are not written", `{"function":"hello","approvers":["lead@example.com"],"smokeRetries":11}`, cli.ExitUsage, 0, "settings.smokeRetries: must be 0–10, got 11"},
		{"settings over a Standard parameter's 4 KB are not written", oversized(t), cli.ExitUsage, 0, "a Standard SSM parameter holds at most 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := sandboxtest.NewSSM(t)
			code, out, errs := runSettings(t, store, tt.file, "settings", "set", "hello", "-")
			if code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errs)
			}
			if !strings.Contains(errs, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, errs)
			}
			// The write is audited from CloudTrail's record of it (the
			// settings.changed flow); set makes that one write and no
			// record of its own.
			trail := store.CloudTrail()
			if len(trail) != tt.wantWrites {
				t.Fatalf("CloudTrail records = %d, want %d: %q", len(trail), tt.wantWrites, trail)
			}
			if tt.wantWrites == 0 {
				return
			}
			var rec struct {
				EventName         string         `json:"eventName"`
				RequestParameters map[string]any `json:"requestParameters"`
			}
			if err := json.Unmarshal([]byte(trail[0]), &rec); err != nil {
				t.Fatal(err)
			}
			if rec.EventName != "PutParameter" || rec.RequestParameters["name"] != name || rec.RequestParameters["tier"] != "Standard" {
				t.Errorf("CloudTrail record = %s, want a Standard PutParameter of %s", trail[0], name)
			}
			got, err := store.Client.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			// What the release reads back is the settings written.
			if _, err := settings.Parse([]byte(aws.ToString(got.Parameter.Value)), "hello"); err != nil {
				t.Errorf("the release refuses what set wrote: %v", err)
			}
		})
	}
}

func oversized(t *testing.T) string {
	t.Helper()
	var checks []string
	for i := range 40 {
		checks = append(checks, `{"name":"check-`+strings.Repeat("x", 60)+string(rune('a'+i%26))+string(rune('a'+i/26))+`","invoke":{"payload":{"path":"/`+strings.Repeat("y", 40)+`"}}}`)
	}
	return `{"function":"hello","approvers":["lead@example.com"],"smokeChecks":[` + strings.Join(checks, ",") + `]}`
}

func TestSettingsGet(t *testing.T) {
	tests := []struct {
		name     string
		stored   string
		wantCode int
		want     string
	}{
		{"prints the stored settings", validHello, cli.ExitOK, `"percent": 10`},
		{"no settings is not found", "", cli.ExitNotFound, "hello has no settings: no parameter /aliasflow/aliasflow/targets/hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := sandboxtest.NewSSM(t)
			if tt.stored != "" {
				if code, out, errs := runSettings(t, store, tt.stored, "settings", "set", "hello", "-"); code != cli.ExitOK {
					t.Fatalf("set: exit %d\n%s%s", code, out, errs)
				}
			}
			code, out, errs := runSettings(t, store, "", "settings", "get", "hello")
			if code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errs)
			}
			if !strings.Contains(out+errs, tt.want) {
				t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", tt.want, out, errs)
			}
		})
	}
}

func TestSettingsHelp(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"settings", []string{"help", "settings"}, []string{"aliasflow settings", "validate", "get", "set", "docs/settings.md"}},
		{"validate", []string{"settings", "validate", "--help"}, []string{"aliasflow settings validate <function> FILE"}},
		{"get", []string{"settings", "get", "--help"}, []string{"aliasflow settings get <function>"}},
		{"set", []string{"settings", "set", "--help"}, []string{"aliasflow settings set <function> FILE", "settings.changed", "Standard"}},
		{"local", []string{"local", "--help"}, []string{"--targets FILE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runSettings(t, sandboxtest.NewSSM(t), "", tt.args...)
			if code != cli.ExitOK {
				t.Fatalf("exit code = %d, want %d\nstderr: %s", code, cli.ExitOK, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("help lacks %q:\n%s", w, out)
				}
			}
			for line := range strings.SplitSeq(out, "\n") {
				if n := len([]rune(line)); n > 100 {
					t.Errorf("help line of %d columns (> 100): %q", n, line)
				}
			}
		})
	}
}
