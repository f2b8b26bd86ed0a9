// Package statemachine carries the promotion state machine definition
// (promotion.asl.json) into the binaries that need it, so the CDK app and
// the sandbox run the very same document without depending on a path.
package statemachine

import _ "embed"

// Definition is promotion.asl.json as committed: JSONPath ASL with the
// placeholders listed in Substitutions still in it.
//
//go:embed promotion.asl.json
var Definition string

// The placeholders of Definition, each replaced at deploy time (CDK's
// DefinitionSubstitutions) or by the sandbox before it starts an execution.
const (
	SmokeTestFunctionArn = "SmokeTestFunctionArn"
	ApprovalFunctionArn  = "ApprovalFunctionArn"
	ShiftFunctionArn     = "ShiftFunctionArn"
	ApprovalURL          = "ApprovalUrl"
)

// Substitutions lists every placeholder of Definition.
var Substitutions = []string{SmokeTestFunctionArn, ApprovalFunctionArn, ShiftFunctionArn, ApprovalURL}
