package lambdasvc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
)

// The Node.js runtime. Lambda's nodejs20.x runtime starts node with its
// runtime interface client, which reads _HANDLER, loads the handler from
// LAMBDA_TASK_ROOT and serves invocations through the Runtime API
// (AWS_LAMBDA_RUNTIME_API). AWS publishes that client as the npm package
// aws-lambda-ric (github.com/aws/aws-lambda-nodejs-runtime-interface-client,
// the client of AWS's Node.js base images); the sandbox runs it, under AWS's
// Runtime Interface Emulator, with this machine's node — no loop of its own.

// nodeRICDir is where make build-local installs the client
// (sandbox/lambda/nodejs pins its version), relative to dist/local.
const nodeRICDir = "nodejs/node_modules/aws-lambda-ric"

// NodeRuntimePath, when set, is the client's entry point (index.mjs);
// otherwise NodeRuntime looks under $ALIASFLOW_BIN_DIR, beside and under
// the running executable (bin/ → dist/local) and in the source tree.
var NodeRuntimePath string

// NodeRuntime returns the command that runs a Node.js function's runtime,
// without its handler: node and the client's entry point. The error says
// how to install what is missing.
func NodeRuntime() ([]string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("the sandbox runs %s functions with this machine's node, and none is on PATH: %w", nodeRuntime, err)
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
	if _, file, _, ok := goruntime.Caller(0); ok {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", "..", "dist", "local", nodeRICDir, "index.mjs"))
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
	return nil, fmt.Errorf("AWS's Node.js runtime interface client (npm aws-lambda-ric) is not installed, so %s functions cannot run: run `make build-local` (it installs it into dist/local/nodejs; cmake, g++ and make are needed, see .ci/deps) or set ALIASFLOW_BIN_DIR (looked for %s)",
		nodeRuntime, strings.Join(candidates, ", "))
}
