// Package lambdatest helps tests run real functions in the sandbox: it
// builds a Go main package into a bootstrap for this machine, zips it the
// way a deployment package is zipped, and makes SDK clients that can reach
// loopback only.
package lambdatest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"

	lambdasvc "github.com/aliasflow/aliasflow/sandbox/lambda"
	"github.com/aliasflow/aliasflow/shared/awsenv"
)

var (
	buildMu sync.Mutex
	built   = map[string]string{}
	buildTo string
)

// Build compiles the main package pkg (an import path or a directory) for
// this machine, once per test binary, with extra go build flags, and
// returns the binary's path.
func Build(t testing.TB, pkg string, flags ...string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := pkg + "\x00" + filepath.Join(flags...)
	if p, ok := built[key]; ok {
		return p
	}
	if buildTo == "" {
		dir, err := os.MkdirTemp("", "lambdatest-")
		if err != nil {
			t.Fatalf("build dir: %v", err)
		}
		buildTo = dir
	}
	out := filepath.Join(buildTo, "bin"+string(rune('a'+len(built))), "bootstrap")
	args := append([]string{"build", "-trimpath", "-tags", "lambda.norpc", "-o", out}, flags...)
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	built[key] = out
	return out
}

// Zip returns a deployment package holding the file at bootstrapPath as
// `bootstrap`, executable, as `zip` on Linux would make it.
func Zip(t testing.TB, bootstrapPath string) []byte {
	t.Helper()
	data, err := os.ReadFile(bootstrapPath)
	if err != nil {
		t.Fatalf("read bootstrap: %v", err)
	}
	b, err := lambdasvc.ZipBootstrap(data)
	if err != nil {
		t.Fatalf("zip bootstrap: %v", err)
	}
	return b
}

// Config is an SDK configuration with dummy credentials, us-east-1, no
// retries and a loopback-only HTTP client; point a client at the sandbox
// with BaseEndpoint.
func Config() aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDSANDBOXTEST", "secret", ""),
		HTTPClient:       awsenv.LoopbackOnlyClient(),
		RetryMaxAttempts: 1,
		APIOptions:       []func(*middleware.Stack) error{awsenv.WithPlainRequestBodies},
	}
}
