// Package fakes_test checks that the fakes of shared/fakes answer every
// small Lambda and Step Functions interface the project declares.
package fakes_test

import (
	"github.com/aliasflow/aliasflow/cli"
	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aliasflow/aliasflow/shared/fakes/lambdafake"
	"github.com/aliasflow/aliasflow/shared/fakes/sfnfake"
	"github.com/aliasflow/aliasflow/shared/pending"
	"github.com/aliasflow/aliasflow/shared/release"
	"github.com/aliasflow/aliasflow/shared/shift"
	"github.com/aliasflow/aliasflow/shared/smoke"
)

var (
	_ alias.Lambda           = (*lambdafake.Fake)(nil)
	_ release.Lambda         = (*lambdafake.Fake)(nil)
	_ shift.Lambda           = (*lambdafake.Fake)(nil)
	_ smoke.Invoker          = (*lambdafake.Fake)(nil)
	_ approval.Aliases       = (*lambdafake.Fake)(nil)
	_ cli.LambdaAPI          = (*lambdafake.Fake)(nil)
	_ release.StepFunctions  = (*sfnfake.Fake)(nil)
	_ approval.StepFunctions = (*sfnfake.Fake)(nil)
	_ pending.HistoryAPI     = (*sfnfake.Fake)(nil)
	_ cli.StatesAPI          = (*sfnfake.Fake)(nil)
)
