// Package e2e holds aliasflow's end-to-end tests: each scenario stands up
// the local sandbox world (sandbox/local) on loopback, runs the real
// pipeline Lambdas and hello as their built bootstrap binaries, drives a
// promotion the way a user does (a build event on EventBridge, the approval
// link from the e-mail, the CLI) and checks what the AWS APIs say
// afterwards: alias states, the audit trail in CloudWatch Logs and the
// execution history. The tests need `make build-local` first (the Makefile's
// test target runs it); ALIASFLOW_BIN_DIR names the binaries' directory.
package e2e
