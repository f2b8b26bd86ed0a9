package sandbox_test

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox"
	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/sandbox/lambda/lambdatest"
)

// The AWS CLI the cases below are written for and checked against: v2, as
// Debian packages it (awscli 2.9.19 on bookworm), which .ci/deps installs.
// Its errors and output formats are v2's (e.g. `lambda wait
// function-updated-v2`, which v1 lacks).
const (
	debianAWSCLI = "/usr/bin/aws"
	wantAWSCLI   = "aws-cli/2."
)

// awsCLI is the path of the AWS CLI TestAWSCLI runs (ALIASFLOW_AWS_CLI, as
// for .ci/deps, else Debian's), after checking that it is the major version
// the cases cite. Without it the test is skipped, except on CI, which
// installs it: there it fails.
func awsCLI(t *testing.T) string {
	t.Helper()
	cli := cmp.Or(os.Getenv("ALIASFLOW_AWS_CLI"), debianAWSCLI)
	if _, err := os.Stat(cli); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v; .ci/deps installs Debian's AWS CLI v2 (apt-get install awscli)", cli, err)
		}
		t.Skipf("%s: %v: Debian's AWS CLI v2 is not installed (apt-get install awscli, or make deps); CI installs it", cli, err)
	}
	// Run with Debian's python3, as the package's script expects
	// (TOOLCHAIN.md): a pyenv python first on PATH lacks its modules.
	out, err := exec.Command("/usr/bin/python3", cli, "--version").CombinedOutput()
	version := strings.TrimSpace(string(out))
	if err != nil || !strings.HasPrefix(version, wantAWSCLI) {
		t.Fatalf("%s --version = %q (%v), want %s…: the cases are the AWS CLI v2's", cli, version, err, wantAWSCLI)
	}
	t.Logf("AWS CLI: %s (%s)", cli, version)
	return cli
}

// TestDepsLooksForDebiansAWSCLI: .ci/deps installs Debian's AWS CLI when
// its path is missing, whatever other `aws` is on PATH (these machines
// carry a pyenv AWS CLI v1, which TestAWSCLI's cases are not written for).
func TestDepsLooksForDebiansAWSCLI(t *testing.T) {
	bin := t.TempDir()
	for _, name := range []string{"aws", "chromium", "jq", "zip", "shellcheck"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	present := filepath.Join(t.TempDir(), "aws")
	if err := os.WriteFile(present, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		awsCLI string
		want   string
	}{
		{"another aws on PATH, Debian's missing", filepath.Join(t.TempDir(), "aws"), "missing: awscli"},
		{"Debian's present", present, "missing: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("bash", filepath.Join("..", ".ci", "deps"))
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "DEPS_DRY_RUN=1", "ALIASFLOW_AWS_CLI=" + tc.awsCLI}
			out, err := cmd.CombinedOutput()
			if got := strings.TrimSpace(string(out)); err != nil || got != strings.TrimSpace(tc.want) {
				t.Errorf(".ci/deps = %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

// TestAWSCLI drives the sandbox with the AWS CLI, as a user rehearsing by
// hand would: `--endpoint-url` and dummy credentials.
func TestAWSCLI(t *testing.T) {
	cli := awsCLI(t)
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
		cmd := exec.Command("/usr/bin/python3", append([]string{cli, "--endpoint-url", sb.Endpoint(), "--region", "us-east-1", "--output", "json"}, args...)...)
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
	zipFile := filepath.Join(t.TempDir(), "hello.zip")
	if err := os.WriteFile(zipFile, zip, 0o644); err != nil {
		t.Fatal(err)
	}
	exARN := strings.Replace(smARN, ":stateMachine:", ":execution:", 1) + ":run-1"
	sum := sha256.Sum256(zip)
	codeSha256 := base64.StdEncoding.EncodeToString(sum[:])
	// One case (at least) per operation the project calls, with the error
	// cases their API references document.
	cases := []struct {
		op   string // the API operation, as projectOperations names it
		name string
		args []string
		want string
	}{
		{"CreateFunction", "lambda create-function that exists", []string{"lambda", "create-function", "--function-name", "hello", "--runtime", "provided.al2023", "--handler", "bootstrap",
			"--role", "arn:aws:iam::000000000000:role/r", "--zip-file", "fileb://" + zipFile}, "ResourceConflictException"},
		{"ListFunctions", "lambda list-functions", []string{"lambda", "list-functions"}, `"FunctionName": "hello"`},
		// The buildspec's and the GitHub workflow's check of the uploaded code.
		{"GetFunction", "lambda get-function", []string{"lambda", "get-function", "--function-name", "hello", "--query", "Configuration.CodeSha256", "--output", "text"}, codeSha256},
		{"GetFunction", "lambda get-function of a missing function", []string{"lambda", "get-function", "--function-name", "nope"}, "ResourceNotFoundException"},
		// The waiter polls GetFunction until LastUpdateStatus is Successful;
		// it prints nothing: success is its exit status ("" below).
		{"GetFunction", "lambda wait function-updated-v2", []string{"lambda", "wait", "function-updated-v2", "--function-name", "hello"}, ""},
		{"GetFunctionConfiguration", "lambda get-function-configuration", []string{"lambda", "get-function-configuration", "--function-name", "hello", "--qualifier", "prod"}, `"Version": "1"`},
		{"GetFunctionConfiguration", "lambda get-function-configuration of a missing function", []string{"lambda", "get-function-configuration", "--function-name", "nope"}, "ResourceNotFoundException"},
		{"UpdateFunctionCode", "lambda update-function-code", []string{"lambda", "update-function-code", "--function-name", "hello", "--zip-file", "fileb://" + zipFile}, `"CodeSha256"`},
		{"UpdateFunctionConfiguration", "lambda update-function-configuration of a missing function", []string{"lambda", "update-function-configuration", "--function-name", "nope",
			"--runtime", "nodejs20.x", "--handler", "index.handler"}, "ResourceNotFoundException"},
		{"ListVersionsByFunction", "lambda list-versions-by-function", []string{"lambda", "list-versions-by-function", "--function-name", "hello"}, `"Version": "1"`},
		{"PublishVersion", "lambda publish-version", []string{"lambda", "publish-version", "--function-name", "hello"}, `"Version"`},
		// prune: Lambda refuses a version an alias references, and $LATEST
		// (DeleteFunction, Lambda API Reference); the quota is 75 GB.
		{"DeleteFunction", "lambda delete-function of the version prod points at", []string{"lambda", "delete-function", "--function-name", "hello", "--qualifier", "1"}, "Unable to delete version because the following aliases reference it: [prod]"},
		{"DeleteFunction", "lambda delete-function of $LATEST", []string{"lambda", "delete-function", "--function-name", "hello", "--qualifier", "$LATEST"}, "InvalidParameterValueException"},
		{"GetAccountSettings", "lambda get-account-settings", []string{"lambda", "get-account-settings"}, `"TotalCodeSize": 80530636800`},
		{"ListAliases", "lambda list-aliases", []string{"lambda", "list-aliases", "--function-name", "hello"}, `"FunctionVersion": "1"`},
		{"CreateAlias", "lambda create-alias", []string{"lambda", "create-alias", "--function-name", "hello", "--name", "stg", "--function-version", "1"}, `"Name": "stg"`},
		{"CreateAlias", "lambda create-alias that exists", []string{"lambda", "create-alias", "--function-name", "hello", "--name", "prod", "--function-version", "1"}, "ResourceConflictException"},
		{"CreateAlias", "lambda create-alias with a name over 128 characters (model length)", []string{"lambda", "create-alias", "--function-name", "hello", "--name", strings.Repeat("a", 129), "--function-version", "1"}, "ValidationException"},
		{"GetAlias", "lambda get-alias", []string{"lambda", "get-alias", "--function-name", "hello", "--name", "prod"}, `"FunctionVersion": "1"`},
		{"GetAlias", "lambda get-alias missing", []string{"lambda", "get-alias", "--function-name", "hello", "--name", "nope"}, "ResourceNotFoundException"},
		{"UpdateAlias", "lambda update-alias", []string{"lambda", "update-alias", "--function-name", "hello", "--name", "prod", "--function-version", "1"}, `"Name": "prod"`},
		{"UpdateAlias", "lambda update-alias with a stale revision", []string{"lambda", "update-alias", "--function-name", "hello", "--name", "prod", "--revision-id", "stale"}, "PreconditionFailedException"},
		// A warm step of the plan (shared/shift, warm.go).
		{"PutProvisionedConcurrencyConfig", "lambda put-provisioned-concurrency-config on $LATEST", []string{"lambda", "put-provisioned-concurrency-config", "--function-name", "hello",
			"--qualifier", "$LATEST", "--provisioned-concurrent-executions", "1"}, "InvalidParameterValueException"},
		{"GetProvisionedConcurrencyConfig", "lambda get-provisioned-concurrency-config of none", []string{"lambda", "get-provisioned-concurrency-config", "--function-name", "hello", "--qualifier", "1"},
			"ProvisionedConcurrencyConfigNotFoundException"},
		{"PutProvisionedConcurrencyConfig", "lambda put-provisioned-concurrency-config", []string{"lambda", "put-provisioned-concurrency-config", "--function-name", "hello",
			"--qualifier", "1", "--provisioned-concurrent-executions", "1"}, `"Status": "IN_PROGRESS"`},
		{"GetProvisionedConcurrencyConfig", "lambda get-provisioned-concurrency-config", []string{"lambda", "get-provisioned-concurrency-config", "--function-name", "hello", "--qualifier", "1"},
			`"RequestedProvisionedConcurrentExecutions": 1`},
		{"ListProvisionedConcurrencyConfigs", "lambda list-provisioned-concurrency-configs", []string{"lambda", "list-provisioned-concurrency-configs", "--function-name", "hello"},
			`"FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:hello:1"`},
		{"DeleteProvisionedConcurrencyConfig", "lambda delete-provisioned-concurrency-config", []string{"lambda", "delete-provisioned-concurrency-config", "--function-name", "hello", "--qualifier", "1"}, ""},
		{"ListStateMachines", "stepfunctions list-state-machines", []string{"stepfunctions", "list-state-machines"}, `"name": "cli-test"`},
		{"StartExecution", "stepfunctions start-execution", []string{"stepfunctions", "start-execution", "--state-machine-arn", smARN, "--name", "run-2"}, `"executionArn"`},
		{"StartExecution", "stepfunctions start-execution of a missing machine", []string{"stepfunctions", "start-execution", "--state-machine-arn", smARN + "-nope"}, "StateMachineDoesNotExist"},
		{"DescribeExecution", "stepfunctions describe-execution", []string{"stepfunctions", "describe-execution", "--execution-arn", exARN}, `"status": "SUCCEEDED"`},
		{"DescribeExecution", "stepfunctions describe-execution missing", []string{"stepfunctions", "describe-execution", "--execution-arn", exARN + "-nope"}, "ExecutionDoesNotExist"},
		{"DescribeStateMachineForExecution", "stepfunctions describe-state-machine-for-execution", []string{"stepfunctions", "describe-state-machine-for-execution", "--execution-arn", exARN}, `"name": "cli-test"`},
		{"ListExecutions", "stepfunctions list-executions", []string{"stepfunctions", "list-executions", "--state-machine-arn", smARN}, `"name": "run-1"`},
		{"GetExecutionHistory", "stepfunctions get-execution-history", []string{"stepfunctions", "get-execution-history", "--execution-arn", exARN}, `"ExecutionSucceeded"`},
		{"StopExecution", "stepfunctions stop-execution of a missing execution", []string{"stepfunctions", "stop-execution", "--execution-arn", exARN + "-nope"}, "ExecutionDoesNotExist"},
		{"SendTaskSuccess", "stepfunctions send-task-success with a bad token", []string{"stepfunctions", "send-task-success", "--task-token", "bogus", "--task-output", "{}"}, "InvalidToken"},
		{"SendTaskFailure", "stepfunctions send-task-failure with a bad token", []string{"stepfunctions", "send-task-failure", "--task-token", "bogus"}, "InvalidToken"},
		{"PutEvents", "events put-events", []string{"events", "put-events", "--entries", `[{"Source":"aliasflow","DetailType":"Release Requested","Detail":"{\"function\":\"hello\"}"}]`}, `"FailedEntryCount": 0`},
		{"FilterLogEvents", "logs filter-log-events of a missing group", []string{"logs", "filter-log-events", "--log-group-name", "/aws/lambda/nope"}, "ResourceNotFoundException"},
		{"GetSecretValue", "secretsmanager get-secret-value missing", []string{"secretsmanager", "get-secret-value", "--secret-id", "nope"}, "ResourceNotFoundException"},
		{"ConfirmSubscription", "sns confirm-subscription of a missing topic", []string{"sns", "confirm-subscription", "--topic-arn", "arn:aws:sns:us-east-1:000000000000:nope", "--token", "t"}, "NotFound"},
		{"Publish", "sns publish to a missing topic", []string{"sns", "publish", "--topic-arn", "arn:aws:sns:us-east-1:000000000000:nope", "--message", "hi"}, "NotFound"},
		{"GetCallerIdentity", "sts get-caller-identity", []string{"sts", "get-caller-identity"}, `"Account": "000000000000"`},
		{"DescribeAlarms", "cloudwatch describe-alarms", []string{"cloudwatch", "describe-alarms"}, `"MetricAlarms"`},
		{"SetAlarmState", "cloudwatch set-alarm-state of a missing alarm", []string{"cloudwatch", "set-alarm-state", "--alarm-name", "nope", "--state-value", "ALARM", "--state-reason", "test"}, "ResourceNotFound"},
		{"GetMetricData", "cloudwatch get-metric-data", []string{"cloudwatch", "get-metric-data", "--start-time", "2026-01-01T00:00:00Z", "--end-time", "2026-01-01T01:00:00Z",
			"--metric-data-queries", `[{"Id":"e","MetricStat":{"Metric":{"Namespace":"AWS/Lambda","MetricName":"Errors","Dimensions":[{"Name":"FunctionName","Value":"hello"}]},"Period":60,"Stat":"Sum"}}]`}, `"MetricDataResults"`},
		{"ListBuilds", "codebuild list-builds", []string{"codebuild", "list-builds", "--sort-order", "DESCENDING"}, `"ids"`},
		{"BatchGetBuilds", "codebuild batch-get-builds of an unknown build", []string{"codebuild", "batch-get-builds", "--ids", "nope:00000000-0000-4000-8000-000000000000"}, `"buildsNotFound"`},
		{"PutParameter", "ssm put-parameter", []string{"ssm", "put-parameter", "--name", "/aliasflow/aliasflow/targets/cli", "--type", "String", "--value", `{"function":"cli"}`}, `"Version": 1`},
		{"PutParameter", "ssm put-parameter that exists", []string{"ssm", "put-parameter", "--name", "/aliasflow/aliasflow/targets/cli", "--type", "String", "--value", "x"}, "ParameterAlreadyExists"},
		{"GetParameter", "ssm get-parameter", []string{"ssm", "get-parameter", "--name", "/aliasflow/aliasflow/targets/cli"}, `"Version": 1`},
		{"GetParameter", "ssm get-parameter missing", []string{"ssm", "get-parameter", "--name", "/aliasflow/aliasflow/targets/nope"}, "ParameterNotFound"},
		{"GetParameterHistory", "ssm get-parameter-history", []string{"ssm", "get-parameter-history", "--name", "/aliasflow/aliasflow/targets/cli"}, `"Value": "{\"function\":\"cli\"}"`},
		{"GetParameterHistory", "ssm get-parameter-history missing", []string{"ssm", "get-parameter-history", "--name", "/aliasflow/aliasflow/targets/nope"}, "ParameterNotFound"},
		{"GetParametersByPath", "ssm get-parameters-by-path", []string{"ssm", "get-parameters-by-path", "--path", "/aliasflow/aliasflow/targets/"}, `"Name": "/aliasflow/aliasflow/targets/cli"`},
		{"DeleteParameters", "ssm delete-parameters", []string{"ssm", "delete-parameters", "--names", "/aliasflow/aliasflow/targets/cli", "/aliasflow/aliasflow/targets/nope"}, `"/aliasflow/aliasflow/targets/nope"`},
		{"Invoke", "lambda invoke of a missing function", []string{"lambda", "invoke", "--function-name", "nope", "--payload", "{}", os.DevNull}, "ResourceNotFoundException"},
	}
	covered := map[string]bool{"Invoke": true}
	for _, tc := range cases {
		covered[tc.op] = true
	}
	for service, ops := range projectOperations {
		for _, op := range ops {
			if !covered[op] {
				t.Errorf("the AWS CLI test has no case for %s %s, which the project calls", service, op)
			}
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(tc.args...)
			if tc.want == "" && err != nil {
				t.Errorf("aws %s: %v\n%s\nwant success", strings.Join(tc.args, " "), err, out)
			}
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
	// Only the CLI's own: the sandbox also puts the CloudTrail events of
	// the SSM writes above ("aws.ssm").
	var put []string
	for _, ev := range sb.Events().Events() {
		if ev.Source == "aliasflow" {
			put = append(put, ev.DetailType)
		}
	}
	if len(put) != 1 || put[0] != "Release Requested" {
		t.Errorf("aliasflow events seen = %q, want the one put by the CLI (Release Requested)", put)
	}
}
