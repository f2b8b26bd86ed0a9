package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aliasflow/aliasflow/cli/progress"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// ErrOperatorRollback is the error a promotion stopped by `rollback` ends with.
const ErrOperatorRollback = "aliasflow.OperatorRollback"

// RollbackResult is what `rollback` did.
type RollbackResult struct {
	Function string `json:"function"`
	// From is the version prod was leaving (the new or current version);
	// To is the version prod is on now.
	From string `json:"from"`
	To   string `json:"to"`
	// Stopped is the promotion that was shifting and is now stopped.
	Stopped string `json:"stopped,omitempty"`
	Actor   string `json:"actor"`
	// StillRunning lists promotions of the function that had not moved
	// prod and were left running (awaiting approval, smoke testing).
	StillRunning []string `json:"stillRunning"`
}

func runRollback(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("rollback")
	pos, err := a.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	fn := pos[0]
	if err := checkFunction(fn); err != nil {
		return err
	}
	res, err := a.rollback(ctx, fn)
	if err != nil {
		return err
	}
	if a.g.json {
		return printJSON(a.env.Stdout, res)
	}
	w := a.env.Stdout
	if res.Stopped != "" {
		fmt.Fprintf(w, "stopped %s\n", res.Stopped)
	}
	fmt.Fprintf(w, "prod of %s rolled back: version %s → %s (by %s)\n", fn, res.From, res.To, res.Actor)
	for _, name := range res.StillRunning {
		fmt.Fprintf(w, "note: %s is still running and has not moved prod; reject it with `aliasflow reject %s --comment ...` if it should not ship\n", name, name)
	}
	fmt.Fprintf(w, "audit trail: aliasflow history %s\n", fn)
	return nil
}

// rollback puts prod of fn back on its stable version. A promotion that is
// shifting prod is stopped first and the shift Lambda rolls back with its
// state; with none, the audit trail names the version before the current one.
func (a *app) rollback(ctx context.Context, fn string) (*RollbackResult, error) {
	caller, err := a.callerARN(ctx)
	if err != nil {
		return nil, err
	}
	running, err := a.executions(ctx, fn, sfntypes.ExecutionStatusRunning, 0)
	if err != nil {
		return nil, err
	}
	res := &RollbackResult{Function: fn, Actor: caller, StillRunning: []string{}}
	var shifting *progress.Progress
	for _, e := range running {
		p, err := a.readProgress(ctx, aws.ToString(e.ExecutionArn))
		if err != nil {
			return nil, err
		}
		if p.Shifting && shifting == nil {
			shifting = p
			continue
		}
		res.StillRunning = append(res.StillRunning, p.Name)
	}
	var req promotion.TaskRequest
	if shifting != nil {
		state := shifting.Promotion
		if state.Shift == nil {
			state.Shift = &promotion.Shift{StableVersion: shifting.StableVersion}
		}
		c, err := a.aws(ctx)
		if err != nil {
			return nil, err
		}
		_, err = c.States.StopExecution(ctx, &sfn.StopExecutionInput{
			ExecutionArn: aws.String(shifting.Execution),
			Error:        aws.String(ErrOperatorRollback),
			Cause:        aws.String("rolled back by " + caller),
		})
		if err != nil {
			return nil, fmt.Errorf("stop %s: %w", shifting.Name, err)
		}
		res.Stopped = shifting.Name
		req = promotion.TaskRequest{Action: promotion.ActionRollback, Execution: shifting.Execution,
			StartTime: shifting.StartTime, Actor: caller, Promotion: state}
	} else {
		from, to, err := a.rollbackTarget(ctx, fn)
		if err != nil {
			return nil, err
		}
		req = promotion.TaskRequest{Action: promotion.ActionRollback, Actor: caller, Promotion: promotion.State{
			Input: promotion.Input{Function: fn, Version: from, Steps: []promotion.Step{}},
			Shift: &promotion.Shift{StableVersion: to},
		}}
	}
	res.From, res.To = req.Promotion.Version, req.Promotion.Shift.StableVersion
	if err := a.invokeShift(ctx, req); err != nil {
		if res.Stopped != "" {
			return nil, &Error{Code: ExitFailure, Err: fmt.Errorf("stopped %s but rolling prod back failed: %w", res.Stopped, err),
				Hint: fmt.Sprintf("run `aliasflow rollback %s` again, and check prod with `aliasflow status %s`", fn, fn)}
		}
		return nil, err
	}
	if res.To == "" { // a first release: only its routing was removed
		res.To = "its primary version"
	}
	return res, nil
}

// rollbackTarget decides, with no promotion shifting, which version prod
// leaves (from) and which it returns to (to): the primary version when prod
// still carries routing (a shift was interrupted), else the version the
// audit trail says prod was on before the current one.
func (a *app) rollbackTarget(ctx context.Context, fn string) (from, to string, err error) {
	aliases, err := a.aliases(ctx, fn)
	if err != nil {
		return "", "", err
	}
	var prod *lambdatypes.AliasConfiguration
	for i := range aliases {
		if aws.ToString(aliases[i].Name) == promotion.AliasProd {
			prod = &aliases[i]
		}
	}
	if prod == nil {
		return "", "", fail(ExitNotFound, fmt.Sprintf("a first release creates it: `aliasflow release %s`", fn), "%s has no prod alias", fn)
	}
	cur := aws.ToString(prod.FunctionVersion)
	if prod.RoutingConfig != nil {
		for v, w := range prod.RoutingConfig.AdditionalVersionWeights {
			if w > 0 {
				return v, cur, nil
			}
		}
	}
	recs, err := a.readAudit(ctx, fn, a.env.Now().Add(-auditWindow))
	var notFound *Error
	if err != nil && !(errors.As(err, &notFound) && notFound.Code == ExitNotFound) {
		return "", "", err // a missing log group only means no records yet
	}
	noEarlier := fail(ExitConflict, fmt.Sprintf("see `aliasflow history %s`; ship a fixed version with `aliasflow release %s`", fn, fn),
		"nothing to roll back: no promotion of %s is running and the audit trail has no version of prod before %s", fn, cur)
	var last *audit.Record
	for i := range recs {
		r := &recs[i]
		if r.Alias == promotion.AliasProd && r.ToVersion != "" && movesProd(r.Event) {
			last = r
			break
		}
	}
	if last == nil {
		return "", "", noEarlier
	}
	if last.ToVersion != cur {
		return "", "", fail(ExitConflict, fmt.Sprintf("check `aliasflow history %s` and move prod deliberately", fn),
			"prod of %s is on %s but aliasflow last put it on %s: it moved outside aliasflow, so the version before it is unknown", fn, cur, last.ToVersion)
	}
	// The version before cur is where the newest promotion (or manual
	// move) that put prod on cur came from. Rollback records are skipped:
	// their fromVersion is the release that was rolled back.
	for i := range recs {
		r := &recs[i]
		if r.Alias != promotion.AliasProd || r.ToVersion != cur || r.FromVersion == "" || r.FromVersion == cur {
			continue
		}
		if r.Event == audit.PromotionCompleted || (r.Event == audit.AliasMoved && !partOfRollback(recs, r)) {
			return cur, r.FromVersion, nil
		}
	}
	return "", "", noEarlier
}

// partOfRollback reports whether an alias.moved record was written by a
// rollback: a promotion.rolled_back record of the same moment goes with it.
func partOfRollback(recs []audit.Record, moved *audit.Record) bool {
	for _, r := range recs {
		if r.Event == audit.PromotionRolledBack && r.ToVersion == moved.ToVersion && r.Time.Sub(moved.Time).Abs() < time.Second {
			return true
		}
	}
	return false
}

func movesProd(e audit.Event) bool {
	switch e {
	case audit.AliasMoved, audit.PromotionCompleted, audit.PromotionRolledBack:
		return true
	}
	return false
}

// invokeShift runs a shift action synchronously; the shift Lambda moves
// prod and writes the audit records with the operator as actor.
func (a *app) invokeShift(ctx context.Context, req promotion.TaskRequest) error {
	c, err := a.aws(ctx)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", req.Action, err)
	}
	out, err := c.Lambda.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(ShiftFunction),
		InvocationType: lambdatypes.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		var missing *lambdatypes.ResourceNotFoundException
		if errors.As(err, &missing) {
			return fail(ExitNotFound, "is aliasflow deployed here? (--region, or --endpoint for the sandbox)", "function %s not found", ShiftFunction)
		}
		return fmt.Errorf("invoke %s (%s): %w", ShiftFunction, req.Action, err)
	}
	if out.FunctionError != nil {
		var doc struct {
			ErrorType    string `json:"errorType"`
			ErrorMessage string `json:"errorMessage"`
		}
		msg := string(out.Payload)
		if json.Unmarshal(out.Payload, &doc) == nil && doc.ErrorMessage != "" {
			msg = doc.ErrorMessage
		}
		return &Error{Code: ExitFailure, Err: fmt.Errorf("%s %s failed: %s", ShiftFunction, req.Action, msg),
			Hint: fmt.Sprintf("check prod with `aliasflow status %s` and the pipeline logs in %s", req.Promotion.Function, a.g.logGroup)}
	}
	return nil
}
