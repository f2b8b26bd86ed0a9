package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The functions the world runs from ALIASFLOW_BIN_DIR.
var worldFunctions = []string{"release", "smoketest", "approval", "shift", "reconcile", "hello"}

// Greetings of the hello builds (examples/hello sets its greeting at link
// time). Every build has different code, so each publishes a new version.
const (
	greetingV1 = "Hello from Lambda"
	greetingV2 = "Hello from Lambda World"
	greetingV3 = "Hello from Lambda World, again"
)

// helloBuild is one hello binary built for this machine.
type helloBuild struct {
	greeting    string
	failureRate string
}

// The hello variants the scenarios deploy, built once per test binary.
var (
	helloV2    = helloBuild{greetingV2, "0"}
	helloV3    = helloBuild{greetingV3, "0"}
	helloFails = helloBuild{greetingV2 + " (broken)", "1"}
	helloFlaky = helloBuild{greetingV2 + " (flaky)", "0.5"}
)

var (
	binDir   string
	helloDir string
	helloBin = map[helloBuild]string{}
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The scenarios spend their time waiting on bakes, approvals and
	// timeouts, not on the CPU: run more of them at once than the default
	// of GOMAXPROCS, unless -parallel was given.
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", fmt.Sprint(max(6, runtime.GOMAXPROCS(0))))
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	binDir, err = findBinaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	helloDir, err = os.MkdirTemp("", "aliasflow-e2e-hello-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(helloDir)
	if err := buildHellos(helloV2, helloV3, helloFails, helloFlaky); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, cleanup, err := synthesize()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer cleanup()
	cdkOut = dir
	code := m.Run()
	if err := reportIAM(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		code = max(code, 1)
	}
	if _, err := secondOpinion(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		code = max(code, 1)
	}
	return code
}

// findBinaries returns ALIASFLOW_BIN_DIR (default ../dist/local) once every
// bootstrap the world needs is there.
func findBinaries() (string, error) {
	dir := os.Getenv("ALIASFLOW_BIN_DIR")
	if dir == "" {
		dir = filepath.Join("..", "dist", "local")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	var missing []string
	for _, fn := range worldFunctions {
		if _, err := os.Stat(filepath.Join(abs, fn, "bootstrap")); err != nil {
			missing = append(missing, filepath.Join(abs, fn, "bootstrap"))
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("missing %s: the end-to-end tests run the Lambdas built for this machine; run `make build-local` first (or set ALIASFLOW_BIN_DIR to where they are)", strings.Join(missing, ", "))
	}
	return abs, nil
}

// buildHellos builds examples/hello once per variant, with its greeting
// and failure rate set at link time, as a CI build of a new commit would.
func buildHellos(builds ...helloBuild) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(builds))
	for i, b := range builds {
		out := filepath.Join(helloDir, fmt.Sprint(i), "bootstrap")
		helloBin[b] = out
		wg.Add(1)
		go func() {
			defer wg.Done()
			ldflags := fmt.Sprintf("-s -w -X 'main.greeting=%s' -X main.failureRate=%s", b.greeting, b.failureRate)
			cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", ldflags, "-o", out, "github.com/aliasflow/aliasflow/examples/hello")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if msg, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("build hello %q: %v\n%s", b.greeting, err, msg)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
