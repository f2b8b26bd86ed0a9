package clitest

import (
	"time"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
)

// T0 is a moment the tests' audit records and clocks start at.
var T0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// Caller is the operator identity the fake STS answers with.
const Caller = "arn:aws:iam::000000000000:user/ops"

// Input is a release of fn's version with a canary 10%/30 s strategy, as
// the release Lambda builds it.
func Input(fn, version, sha string) promotion.Input {
	t := config.Target{Function: fn, Strategy: config.StrategyConfig{Type: config.Canary, Percent: 10, BakeSeconds: 30},
		Approvers: []string{"alice@example.com"}, ApprovalTimeoutSeconds: 3600}
	t.ApplyDefaults()
	return promotion.Input{Function: fn, Version: version, PreviousStgVersion: "1",
		Release: promotion.Release{CodeSha256: sha, Commit: "abc123", Source: "codebuild"}, Target: t, Steps: promotion.Plan(t.Strategy)}
}
