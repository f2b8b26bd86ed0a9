package lambdasvc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
)

// The Node.js runtimes. Lambda's nodejs runtimes start node with their
// runtime interface client, which reads _HANDLER, loads the handler from
// LAMBDA_TASK_ROOT and serves invocations through the Runtime API
// (AWS_LAMBDA_RUNTIME_API). AWS publishes that client as the npm package
// aws-lambda-ric (github.com/aws/aws-lambda-nodejs-runtime-interface-client,
// the client of AWS's Node.js base images); the sandbox runs it, under AWS's
// Runtime Interface Emulator, with a node of the runtime's major version —
// no loop of its own.

// nodeRICDir is where make build-local installs the client
// (sandbox/lambda/nodejs pins its version), relative to dist/local.
const nodeRICDir = "nodejs/node_modules/aws-lambda-ric"

// NodeRuntimePath, when set, is the client's entry point (index.mjs);
// otherwise NodeRuntime looks under $ALIASFLOW_BIN_DIR, beside and under
// the running executable (bin/ → dist/local) and in the source tree.
var NodeRuntimePath string

// NodeRuntime returns the command that runs a function of a Node.js
// runtime (nodejs20.x, nodejs22.x), without its handler: a node of the
// runtime's major version and the client's entry point. The error says
// how to install what is missing.
func NodeRuntime(runtime string) ([]string, error) {
	major := nodeMajor(runtime)
	if major == "" {
		return nil, fmt.Errorf("%s is not a Node.js runtime the sandbox runs (%s)", runtime, supportedRuntimesText)
	}
	node, err := nodeOf(major)
	if err != nil {
		return nil, fmt.Errorf("the sandbox runs %s functions with Node.js %s: %w", runtime, major, err)
	}
	var candidates []string
	if NodeRuntimePath != "" {
		candidates = append(candidates, NodeRuntimePath)
	}
	if d := os.Getenv("ALIASFLOW_BIN_DIR"); d != "" {
		candidates = append(candidates, filepath.Join(d, nodeRICDir, "index.mjs"))
	}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		candidates = append(candidates, filepath.Join(dir, nodeRICDir, "index.mjs"), filepath.Join(dir, "..", "dist", "local", nodeRICDir, "index.mjs"))
	}
	if root := sourceRoot(); root != "" {
		candidates = append(candidates, filepath.Join(root, "dist", "local", nodeRICDir, "index.mjs"))
	}
	for _, c := range candidates {
		// The install is complete once the native addon, built last, is
		// there (aws-lambda-ric's postinstall copies rapid-client.node).
		if _, err := os.Stat(filepath.Join(filepath.Dir(c), "rapid-client.node")); err == nil {
			if _, err := os.Stat(c); err == nil {
				return []string{node, c}, nil
			}
		}
	}
	return nil, fmt.Errorf("AWS's Node.js runtime interface client (npm aws-lambda-ric) is not installed, so %s functions cannot run: run `make node-runtime` (it installs it into dist/local/nodejs; cmake, g++ and make are needed: make deps) or set ALIASFLOW_BIN_DIR (looked for %s)",
		runtime, strings.Join(candidates, ", "))
}

// sourceRoot is the repository this package was built from, when its
// source is still there (tests, `go run`); "" otherwise.
func sourceRoot() string {
	_, file, _, ok := goruntime.Caller(0)
	if !ok {
		return ""
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return ""
	}
	return root
}

var (
	nodeMu       sync.Mutex
	nodeVersions = map[string]string{} // node binary → its version ("v22.23.3")
)

// nodeOf finds a node binary of a major version: the one on PATH (Node.js
// 20 on every machine of this kind), or the project's own (npm's node
// package, which npm ci installs into node_modules: Node.js 22).
func nodeOf(major string) (string, error) {
	var candidates []string
	if p, err := exec.LookPath("node"); err == nil {
		candidates = append(candidates, p)
	}
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "..", "node_modules", ".bin", "node"))
	}
	if root := sourceRoot(); root != "" {
		candidates = append(candidates, filepath.Join(root, "node_modules", ".bin", "node"))
	}
	var seen []string
	for _, c := range candidates {
		v := nodeVersion(c)
		if v == "" {
			continue
		}
		if strings.HasPrefix(v, "v"+major+".") {
			return c, nil
		}
		seen = append(seen, c+" is "+v)
	}
	if len(seen) == 0 {
		return "", fmt.Errorf("no node found (PATH, node_modules/.bin)")
	}
	return "", fmt.Errorf("no node of that version found (%s); npm ci installs the project's Node.js 22 into node_modules", strings.Join(seen, ", "))
}

func nodeVersion(bin string) string {
	nodeMu.Lock()
	defer nodeMu.Unlock()
	if v, ok := nodeVersions[bin]; ok {
		return v
	}
	v := ""
	if out, err := exec.Command(bin, "--version").Output(); err == nil {
		v = strings.TrimSpace(string(out))
	}
	nodeVersions[bin] = v
	return v
}
