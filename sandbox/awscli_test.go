package sandbox_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
)

// TestAWSCLI drives the sandbox with the AWS CLI, as a user rehearsing by
// hand would: `--endpoint-url` and dummy credentials.
func TestAWSCLI(t *testing.T) {
	cli, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI is not installed (apt-get install awscli); CI installs it")
	}
	sb := start(t, sandbox.Options{LambdaUpdateDuration: -1})
	zip := lambdatest.Zip(t, lambdatest.Build(t, "github.com/aliasflow/aliasflow/examples/hello"))
	lam := sb.Lambda()
	if _, err := lam.CreateFunction(lambdasvc.CreateFunctionInput{FunctionName: "hello", Runtime: "provided.al2023", Role: "arn:aws:iam::000000000000:role/r", Code: lambdasvc.FunctionCode{ZipFile: zip}}); err != nil {
		t.Fatal(err)
	}
	if _, err := lam.PublishVersion("hello", lambdasvc.PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := lam.CreateAlias("hello", lambdasvc.CreateAliasInput{Name: "prod", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	smARN, err := sb.States().CreateStateMachine("cli-test", `{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}`, "arn:aws:iam::000000000000:role/r")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.States().StartExecution(t.Context(), smARN, "run-1", `{}`); err != nil {
		t.Fatal(err)
	}

	run := func(args ...string) (string, error) {
		cmd := exec.Command(cli, append([]string{"--endpoint-url", sb.Endpoint(), "--region", "us-east-1", "--output", "json"}, args...)...)
		// Only the host's PATH and HOME: no profile, token or endpoint of the
		// caller's may leak into the run.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true"}
		if v := os.Getenv("PYENV_ROOT"); v != "" {
			cmd.Env = append(cmd.Env, "PYENV_ROOT="+v)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"lambda list-aliases", []string{"lambda", "list-aliases", "--function-name", "hello"}, `"FunctionVersion": "1"`},
		{"lambda get-function-configuration", []string{"lambda", "get-function-configuration", "--function-name", "hello", "--qualifier", "prod"}, `"Version": "1"`},
		{"stepfunctions list-executions", []string{"stepfunctions", "list-executions", "--state-machine-arn", smARN}, `"name": "run-1"`},
		{"events put-events", []string{"events", "put-events", "--entries", `[{"Source":"aliasflow","DetailType":"Release Requested","Detail":"{\"function\":\"hello\"}"}]`}, `"FailedEntryCount": 0`},
		{"lambda error", []string{"lambda", "get-alias", "--function-name", "hello", "--name", "nope"}, "ResourceNotFoundException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(tc.args...)
			if !strings.Contains(out, tc.want) {
				t.Errorf("aws %s: %v\n%s\nwant it to contain %s", strings.Join(tc.args, " "), err, out, tc.want)
			}
		})
	}

	out, err := run("lambda", "invoke", "--function-name", "hello:prod", "--payload", "{}", os.DevNull)
	var res struct {
		StatusCode      int
		ExecutedVersion string
	}
	if jerr := json.Unmarshal([]byte(out), &res); err != nil || jerr != nil || res.StatusCode != 200 || res.ExecutedVersion != "1" {
		t.Errorf("aws lambda invoke: %v\n%s", err, out)
	}
	if evs := sb.Events().Events(); len(evs) != 1 || evs[0].Source != "aliasflow" {
		t.Errorf("events seen = %+v, want the one put by the CLI", evs)
	}
}
