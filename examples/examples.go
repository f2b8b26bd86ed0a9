// Package examples holds the CI files a team copies to release a function
// through aliasflow — for Go codebuild/buildspec.yml and
// github-actions/release.yml, for Node.js and Python the -node and -python
// files beside them — and the sample functions: hello (Go), hello-node
// (Node.js, which the sandbox runs too) and hello-python. The sample stack
// builds with the Go buildspec shown here, and the tests run every file's
// packaging and release steps against the release Lambda's contract.
package examples

import (
	_ "embed"
	"fmt"

	"gopkg.in/yaml.v3"
)

// CodeBuildSpec is codebuild/buildspec.yml.
//
//go:embed codebuild/buildspec.yml
var CodeBuildSpec []byte

// BuildSpec returns codebuild/buildspec.yml as a document, for
// awscodebuild.BuildSpec_FromObject.
func BuildSpec() (map[string]any, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(CodeBuildSpec, &doc); err != nil {
		return nil, fmt.Errorf("examples/codebuild/buildspec.yml: %w", err)
	}
	return doc, nil
}
