package cli_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/cli"
)

// childArgs, in the environment, makes TestLocalStartSaysWhatIsWrong's
// child run the CLI with these arguments (separated by \x1f): the
// sandbox's API models are found once per process, so each case gets a
// process of its own.
const childArgs = "ALIASFLOW_TEST_CLI_ARGS"

// TestLocalStartSaysWhatIsWrong (issue 23): when `aliasflow local` cannot
// start, the hint names the cause — botocore (the AWS API models the
// sandbox checks requests against) missing, or the address taken —
// instead of blaming the port for everything.
func TestLocalStartSaysWhatIsWrong(t *testing.T) {
	if args := os.Getenv(childArgs); args != "" {
		os.Exit(cli.Main(context.Background(), strings.Split(args, "\x1f"), cli.Env{Stdout: os.Stdout, Stderr: os.Stderr}))
	}
	if testing.Short() {
		t.Skip("starts the sandbox")
	}
	bins := binDir(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name    string
		addr    string
		env     []string
		want    []string
		notWant string
	}{
		{name: "botocore missing", addr: "127.0.0.1:0", env: []string{"ALIASFLOW_BOTOCORE_DATA=" + filepath.Join(t.TempDir(), "no-botocore")},
			want: []string{"botocore", "pip install botocore", "ALIASFLOW_BOTOCORE_DATA"}, notWant: "address in use"},
		{name: "the address taken", addr: taken.Addr().String(),
			want: []string{"address already in use", "pass --addr 127.0.0.1:0"}, notWant: "botocore"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestLocalStartSaysWhatIsWrong$")
			cmd.Env = append(os.Environ(), append(tc.env, childArgs+"="+strings.Join([]string{"local", "--addr", tc.addr, "--bin-dir", bins}, "\x1f"))...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != cli.ExitFailure {
				t.Fatalf("aliasflow local: %v, want exit %d\nstdout:\n%s\nstderr:\n%s", err, cli.ExitFailure, out.String(), errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			if strings.Contains(errb.String(), tc.notWant) {
				t.Errorf("stderr says %q:\n%s", tc.notWant, errb.String())
			}
		})
	}
}
