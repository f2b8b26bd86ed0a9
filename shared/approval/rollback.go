package approval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
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

// Trail reads a function's audit records, newest first.
type Trail interface {
	Records(ctx context.Context, function string) ([]audit.Record, error)
}

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
	recs, err := h.d.Trail.Records(ctx, fn)
	if err != nil {
		h.d.Log.ErrorContext(ctx, "manual rollback: reading the audit trail failed", "function", fn, "error", err.Error())
		return refuse(http.StatusInternalServerError, "reading the audit trail of %s failed", fn)
	}
	from, to, why, err := RollbackTarget(fn, prod, recs, in.To, in.BreakGlass)
	if err != nil {
		return refuse(http.StatusConflict, "%v", err)
	}
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

// RollbackTarget decides, with no promotion shifting, which version prod
// leaves (from) and which it returns to (to), and why, from prod as it is
// and fn's audit trail (newest first):
//   - a prod that routes between versions belongs to a promotion in flight
//     (or an interrupted one): refused;
//   - with want, only a version that prod served after an approved
//     promotion — a promotion.completed record puts prod on it — unless
//     breakGlass;
//   - without, the version the last completed promotion replaced, provided
//     aliasflow put prod where it is; never past a rollback (that needs
//     want).
func RollbackTarget(fn string, prod alias.Alias, recs []audit.Record, want string, breakGlass bool) (from, to, why string, err error) {
	if !prod.Exists {
		return "", "", "", fmt.Errorf("%s has no prod alias", fn)
	}
	if prod.Weighted() {
		return "", "", "", fmt.Errorf("prod of %s routes between versions (%s): a promotion is shifting it or was interrupted; roll that promotion back", fn, prod)
	}
	cur := prod.Version
	recs = newestFirst(recs)
	if want != "" {
		if want == cur {
			return "", "", "", fmt.Errorf("prod of %s is already on version %s", fn, cur)
		}
		if breakGlass {
			return cur, want, "chosen with --to, break-glass: no approved promotion is required", nil
		}
		for _, r := range recs {
			if r.Event == audit.PromotionCompleted && r.Alias == promotion.AliasProd && r.ToVersion == want {
				return cur, want, fmt.Sprintf("chosen with --to; prod served it after promotion %s completed", orDash(promotion.ExecutionNameOf(r.Execution))), nil
			}
		}
		return "", "", "", fmt.Errorf("version %s of %s never went to prod through an approved promotion (no promotion.completed record names it); roll back to such a version, or say --break-glass", want, fn)
	}
	var last *audit.Record
	for i := range recs {
		r := &recs[i]
		if r.Alias == promotion.AliasProd && r.ToVersion != "" && movesProd(r.Event) {
			last = r
			break
		}
	}
	if last == nil {
		return "", "", "", fmt.Errorf("the audit trail has no version of prod of %s before %s; choose one with --to", fn, cur)
	}
	if last.ToVersion != cur {
		return "", "", "", fmt.Errorf("prod of %s is on %s but aliasflow last put it on %s: it moved outside aliasflow, so the version before it is unknown; choose one with --to", fn, cur, last.ToVersion)
	}
	var completed, rolledBack, moved *audit.Record
	for i := range recs {
		r := &recs[i]
		if r.Alias != promotion.AliasProd || r.ToVersion != cur || r.Time.Sub(last.Time).Abs() > time.Second {
			continue
		}
		switch r.Event {
		case audit.PromotionCompleted:
			completed = r
		case audit.PromotionRolledBack:
			rolledBack = r
		case audit.AliasMoved:
			moved = r
		}
	}
	switch {
	case rolledBack != nil:
		by := ""
		if rolledBack.Actor != "" {
			by = " by " + rolledBack.Actor
		}
		return "", "", "", fmt.Errorf("prod of %s is on version %s, where a rollback%s put it; rolling back again would step past the last promotion's stable version: choose the version with --to", fn, cur, by)
	case completed != nil && completed.FromVersion != "" && completed.FromVersion != cur:
		return cur, completed.FromVersion, fmt.Sprintf("the version %s replaced", orDash(promotion.ExecutionNameOf(completed.Execution))), nil
	case completed == nil && moved != nil && moved.FromVersion != "" && moved.FromVersion != cur:
		return cur, moved.FromVersion, "the version before the last move of prod", nil
	}
	return "", "", "", fmt.Errorf("the audit trail has no version of prod of %s before %s; choose one with --to", fn, cur)
}

func newestFirst(recs []audit.Record) []audit.Record {
	out := append([]audit.Record(nil), recs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out
}

func movesProd(e audit.Event) bool {
	switch e {
	case audit.AliasMoved, audit.PromotionCompleted, audit.PromotionRolledBack:
		return true
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// LogTrail reads the audit trail from the pipeline's log group, where every
// aliasflow Lambda logs its audit records (CloudWatch Logs
// FilterLogEvents with a JSON filter pattern,
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html).
type LogTrail struct {
	Logs interface {
		FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
	}
	Group string
	// Window is how far back it reads; Now is the clock.
	Window time.Duration
	Now    func() time.Time
}

// Records returns fn's audit records within the window, newest first.
func (l LogTrail) Records(ctx context.Context, fn string) ([]audit.Record, error) {
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(l.Group),
		FilterPattern: aws.String(fmt.Sprintf(`{ $.audit IS TRUE && $.function = %q }`, fn))}
	if l.Window > 0 && l.Now != nil {
		in.StartTime = aws.Int64(l.Now().Add(-l.Window).UnixMilli())
	}
	var recs []audit.Record
	p := cloudwatchlogs.NewFilterLogEventsPaginator(l.Logs, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if awserr.Code(err) == awserr.NotFound {
			return nil, nil // no group yet: no records yet
		}
		if err != nil {
			return nil, fmt.Errorf("read the audit trail in %s: %w", l.Group, err)
		}
		for _, ev := range page.Events {
			line := aws.ToString(ev.Message)
			i := strings.IndexByte(line, '{')
			if i < 0 {
				continue
			}
			var rec audit.Record
			if json.Unmarshal([]byte(line[i:]), &rec) == nil && rec.Audit && rec.Function == fn {
				recs = append(recs, rec)
			}
		}
	}
	return newestFirst(recs), nil
}
