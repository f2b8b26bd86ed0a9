package approval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/ledger"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Rollbacks is the part of Step Functions a manual rollback needs besides
// reading histories: it looks for promotions in flight and starts the
// rollback's execution of the promotion state machine.
type Rollbacks interface {
	ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, opts ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// Trail reads a function's audit records, newest first (ledger.Ledger).
type Trail interface {
	Function(ctx context.Context, function string) (ledger.Trail, error)
}

var _ Trail = ledger.Ledger{}

// startRollback answers a rollback override that names a function and no
// execution: an operator's rollback with no promotion shifting. Prod moves
// only inside an execution of the promotion state machine, so it decides
// the target from the audit trail and starts one in rollback mode
// (Input.Rollback) whose only task moves prod; the caller recorded is the
// one API Gateway verified. With DryRun it answers the plan and starts
// nothing.
func (h *Handler) startRollback(ctx context.Context, who caller, in CallerRequest) (int, CallerResponse) {
	refuse := func(status int, format string, args ...any) (int, CallerResponse) {
		h.d.Log.WarnContext(ctx, "manual rollback refused", "function", in.Function, "to", in.To, "breakGlass", in.BreakGlass,
			"principal", who.arn, "reason", fmt.Sprintf(format, args...))
		return status, CallerResponse{Action: in.Action, Principal: who.arn, Error: fmt.Sprintf(format, args...)}
	}
	fn := in.Function
	switch {
	case config.ValidateFunctionName(fn) != nil:
		return refuse(http.StatusBadRequest, "function: %q is not a function name", truncate(fn, 80))
	case in.To != "" && !alias.IsVersionNumber(in.To):
		return refuse(http.StatusBadRequest, "to: %q is not a published version number", truncate(in.To, 20))
	case in.BreakGlass && in.To == "":
		return refuse(http.StatusBadRequest, "breakGlass needs to: break-glass is for a version no approved promotion put on prod, so name it")
	case h.d.Rollbacks == nil || h.d.Trail == nil || h.d.StateMachine == "":
		return refuse(http.StatusNotImplemented, "manual rollbacks are not configured in this approval API")
	}
	machine := h.d.StateMachine
	out, err := h.d.Lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(fn), Name: aws.String(promotion.AliasProd)})
	switch {
	case awserr.Code(err) == awserr.NotFound:
		return refuse(http.StatusNotFound, "%s has no prod alias", fn)
	case err != nil:
		h.d.Log.ErrorContext(ctx, "manual rollback: reading prod failed", "function", fn, "error", err.Error())
		return refuse(http.StatusInternalServerError, "reading prod of %s failed", fn)
	}
	prod := alias.FromConfiguration(lambdatypes.AliasConfiguration{FunctionVersion: out.FunctionVersion, RevisionId: out.RevisionId, RoutingConfig: out.RoutingConfig})
	if busy, err := h.inFlight(ctx, machine, fn); err != nil {
		h.d.Log.ErrorContext(ctx, "manual rollback: listing executions failed", "function", fn, "error", err.Error())
		return refuse(http.StatusInternalServerError, "reading the promotions of %s failed", fn)
	} else if busy != "" {
		return refuse(http.StatusConflict, "%s; nothing moved", busy)
	}
	recs, err := h.d.Trail.Function(ctx, fn)
	if err != nil {
		h.d.Log.ErrorContext(ctx, "manual rollback: reading the audit trail failed", "function", fn, "error", err.Error())
		return refuse(http.StatusInternalServerError, "reading the audit trail of %s failed", fn)
	}
	target, err := recs.RollbackTarget(fn, prod, in.To, in.BreakGlass)
	var r *ledger.Refusal
	if errors.As(err, &r) && (r.Kind == ledger.NothingEarlier || r.Kind == ledger.Drifted || r.Kind == ledger.PastRollback) {
		return refuse(http.StatusConflict, "%v; choose the version with --to", err)
	}
	if err != nil {
		return refuse(http.StatusConflict, "%v", err)
	}
	from, to, why := target.From, target.To, target.Why
	if in.To != "" {
		_, err := h.d.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn), Qualifier: aws.String(to)})
		switch {
		case awserr.Code(err) == awserr.NotFound:
			return refuse(http.StatusNotFound, "%s has no published version %s", fn, to)
		case err != nil:
			h.d.Log.ErrorContext(ctx, "manual rollback: reading the version failed", "function", fn, "version", to, "error", err.Error())
			return refuse(http.StatusInternalServerError, "reading version %s of %s failed", to, fn)
		}
	}
	reason := in.Comment
	if reason == "" {
		reason = "none given"
	}
	res := CallerResponse{Action: in.Action, Principal: who.arn, Function: fn, From: from, To: to, Why: why, BreakGlass: in.BreakGlass, DryRun: in.DryRun}
	if in.DryRun {
		return http.StatusOK, res
	}
	input, _ := json.Marshal(promotion.Input{Function: fn, Version: to, Steps: []promotion.Step{},
		Rollback: &promotion.ManualRollback{From: from, To: to, Actor: who.arn, Reason: reason, BreakGlass: in.BreakGlass}})
	// The same request for the same prod (its RevisionId changes on every
	// update) names the same execution: a repeated click starts nothing new.
	name := RollbackName(fn, to, prod.Revision+"\x00"+from+"\x00"+who.arn)
	started, err := h.d.Rollbacks.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String(name), Input: aws.String(string(input))})
	switch {
	case awserr.Code(err) == awserr.AlreadyExists:
		return refuse(http.StatusConflict, "a rollback of %s to %s was already asked for this prod (%s)", fn, to, name)
	case err != nil:
		h.d.Log.ErrorContext(ctx, "manual rollback: start failed", "function", fn, "error", err.Error())
		return refuse(http.StatusInternalServerError, "starting the rollback of %s failed", fn)
	}
	res.Execution = aws.ToString(started.ExecutionArn)
	h.d.Log.InfoContext(ctx, "manual rollback started", "function", fn, "from", from, "to", to, "why", why, "breakGlass", in.BreakGlass,
		"execution", res.Execution, "principal", who.arn, "sourceIp", who.sourceIP, "userAgent", who.userAgent)
	return http.StatusOK, res
}

// inFlight says which execution of fn keeps a manual rollback from starting,
// "" when none: a promotion that has begun moving prod (promotion.ProdMoving;
// `aliasflow rollback` rolls that one back through its bake) or another
// manual rollback. Promotions still before the shift are left alone.
func (h *Handler) inFlight(ctx context.Context, machine, fn string) (string, error) {
	p := sfn.NewListExecutionsPaginator(h.d.Rollbacks, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machine), StatusFilter: sfntypes.ExecutionStatusRunning})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", err
		}
		for _, e := range page.Executions {
			name, arn := aws.ToString(e.Name), aws.ToString(e.ExecutionArn)
			if IsRollbackOf(fn, name) {
				return fmt.Sprintf("a rollback of %s is already running (%s)", fn, name), nil
			}
			if _, ok := promotion.ExecutionOf(fn, name); !ok {
				continue
			}
			moving, err := promotion.ProdMoving(ctx, h.d.SFN, arn)
			if err != nil {
				return "", err
			}
			if moving {
				return fmt.Sprintf("promotion %s is shifting prod of %s: roll it back with `aliasflow rollback %s` (it returns prod to its stable version)", name, fn, fn), nil
			}
		}
	}
	return "", nil
}

// RollbackName is the execution name of a manual rollback of fn to version
// to: "<fn>-rollback-<to>-<8 hex of key>", the function cut short to keep
// within Step Functions' 80 characters. No promotion's name looks like it
// (promotion.ParseExecutionName needs "-v<version>-").
func RollbackName(fn, to, key string) string {
	sum := sha256.Sum256([]byte(fn + "\x00" + to + "\x00" + key))
	tag := hex.EncodeToString(sum[:4])
	if max := 80 - len("-rollback-") - len(to) - 1 - len(tag); len(fn) > max {
		fn = fn[:max]
	}
	return fn + "-rollback-" + to + "-" + tag
}

// IsRollbackOf reports whether an execution name (or ARN) is a manual
// rollback of fn (RollbackName).
func IsRollbackOf(fn, nameOrARN string) bool {
	name := promotion.ExecutionNameOf(nameOrARN)
	i := strings.LastIndex(name, "-rollback-")
	if i < 0 {
		return false
	}
	rest := strings.SplitN(name[i+len("-rollback-"):], "-", 2)
	if len(rest) != 2 || !alias.IsVersionNumber(rest[0]) || len(rest[1]) != 8 {
		return false
	}
	prefix := name[:i]
	return prefix == fn || len(name) == 80 && prefix != "" && strings.HasPrefix(fn, prefix)
}
