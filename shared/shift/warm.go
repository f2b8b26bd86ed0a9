package shift

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Provisioned is the part of the Lambda API a warm step calls
// (PutProvisionedConcurrencyConfig and its siblings, Lambda API reference).
type Provisioned interface {
	PutProvisionedConcurrencyConfig(ctx context.Context, in *lambda.PutProvisionedConcurrencyConfigInput, opts ...func(*lambda.Options)) (*lambda.PutProvisionedConcurrencyConfigOutput, error)
	GetProvisionedConcurrencyConfig(ctx context.Context, in *lambda.GetProvisionedConcurrencyConfigInput, opts ...func(*lambda.Options)) (*lambda.GetProvisionedConcurrencyConfigOutput, error)
	DeleteProvisionedConcurrencyConfig(ctx context.Context, in *lambda.DeleteProvisionedConcurrencyConfigInput, opts ...func(*lambda.Options)) (*lambda.DeleteProvisionedConcurrencyConfigOutput, error)
	ListProvisionedConcurrencyConfigs(ctx context.Context, in *lambda.ListProvisionedConcurrencyConfigsInput, opts ...func(*lambda.Options)) (*lambda.ListProvisionedConcurrencyConfigsOutput, error)
}

// maxWarmPollSeconds bounds the wait between two reads of a warm step's
// allocation: each read is a Lambda control-plane request.
const maxWarmPollSeconds = 15

// warm runs a warm step: it puts the step's provisioned concurrency on the
// new version of every function of the promotion (once; a retried or
// repeated task finds it there) and reads its status. All READY: the
// plan's next step, a setWeight (plan.Validate). Any FAILED, refused by
// Lambda, or not READY within the step's timeout: ErrWarmFailed, which the
// definition catches and rolls back (rollback removes the allocation).
// Otherwise the Shift says ShiftWarming with the wait before the next read
// (shift.bakeSeconds, doubling from 1 s up to 15 s) and the time waited so
// far (shift.bakedSeconds), for the WarmWait state.
func (t *task) warm(ctx context.Context) (*promotion.Shift, error) {
	pl, s := t.p.Rollout(), t.p.Shift
	step := pl.Steps[s.Position].Warm
	// The wait just ended (0 on the first read: shiftTo) and those before.
	waited := s.BakedSeconds + s.BakeSeconds
	var pending []string
	for _, m := range t.p.Functions() {
		status, err := t.provision(ctx, m.Function, m.Version, step.ProvisionedConcurrency)
		if err != nil {
			return nil, err
		}
		if status != lambdatypes.ProvisionedConcurrencyStatusEnumReady {
			pending = append(pending, fmt.Sprintf("%s:%s", m.Function, m.Version))
		}
	}
	if len(pending) == 0 {
		t.log.InfoContext(ctx, "warm: provisioned concurrency READY", "function", t.p.Function, "version", t.p.Version,
			"provisionedConcurrency", step.ProvisionedConcurrency, "waitedSeconds", waited)
		return t.shiftTo(ctx, pl, plan.Next(pl, s.Position, plan.Facts{}), promotion.Shift{StableVersion: s.StableVersion, Verdict: s.Verdict})
	}
	if waited >= step.Timeout() {
		return nil, promotion.TaskError(promotion.ErrWarmFailed,
			"provisioned concurrency %d on %s is not READY after %ds (warm.timeoutSeconds %d); rolling back",
			step.ProvisionedConcurrency, strings.Join(pending, ", "), waited, step.Timeout())
	}
	next := *s
	next.Kind, next.BakedSeconds = promotion.ShiftWarming, waited
	next.BakeSeconds = min(max(1, waited), maxWarmPollSeconds, step.Timeout()-waited)
	next.Verdict = fmt.Sprintf("warming: provisioned concurrency %d on %s not READY yet (%ds of %ds)",
		step.ProvisionedConcurrency, strings.Join(pending, ", "), waited, step.Timeout())
	return &next, nil
}

// provision puts n provisioned concurrency on fn's version unless it is
// there already, and returns its status.
func (t *task) provision(ctx context.Context, fn, version string, n int) (lambdatypes.ProvisionedConcurrencyStatusEnum, error) {
	got, err := t.lambda.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{
		FunctionName: aws.String(fn), Qualifier: aws.String(version)})
	var notFound *lambdatypes.ProvisionedConcurrencyConfigNotFoundException
	switch {
	case errors.As(err, &notFound):
	case err != nil:
		return "", fmt.Errorf("warm: read the provisioned concurrency of %s:%s: %w", fn, version, err)
	case aws.ToInt32(got.RequestedProvisionedConcurrentExecutions) == int32(n):
		if got.Status == lambdatypes.ProvisionedConcurrencyStatusEnumFailed {
			return "", promotion.TaskError(promotion.ErrWarmFailed, "provisioned concurrency %d on %s:%s FAILED: %s; rolling back",
				n, fn, version, aws.ToString(got.StatusReason))
		}
		return got.Status, nil
	}
	put, err := t.lambda.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String(fn), Qualifier: aws.String(version), ProvisionedConcurrentExecutions: aws.Int32(int32(n))})
	var refused *lambdatypes.InvalidParameterValueException
	var conflict *lambdatypes.ResourceConflictException
	switch {
	case errors.As(err, &refused), errors.As(err, &conflict):
		// Not worth retrying: the account or the function has no room
		// for it, or an alias already provisions the version.
		return "", promotion.TaskError(promotion.ErrWarmFailed, "Lambda refused provisioned concurrency %d on %s:%s: %v; rolling back", n, fn, version, err)
	case err != nil:
		return "", fmt.Errorf("warm: put provisioned concurrency %d on %s:%s: %w", n, fn, version, err)
	}
	t.log.InfoContext(ctx, "warm: provisioned concurrency requested", "function", fn, "version", version, "provisionedConcurrency", n)
	return put.Status, nil
}

// unwarm removes what the plan's warm steps put on the new version of
// every function of the promotion, after a rollback: the version serves
// nothing any more, and provisioned concurrency is billed while it is
// configured. A plan with no warm step touches nothing; so does a version
// that has none.
func (t *task) unwarm(ctx context.Context) error {
	if !hasWarm(t.p.Rollout()) {
		return nil
	}
	var errs []error
	for _, m := range t.p.Functions() {
		_, err := t.lambda.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{
			FunctionName: aws.String(m.Function), Qualifier: aws.String(m.Version)})
		var notFound *lambdatypes.ProvisionedConcurrencyConfigNotFoundException
		switch {
		case errors.As(err, &notFound):
		case err != nil:
			errs = append(errs, fmt.Errorf("remove the provisioned concurrency of %s:%s: %w", m.Function, m.Version, err))
		default:
			t.log.InfoContext(ctx, "rollback: provisioned concurrency removed", "function", m.Function, "version", m.Version)
		}
	}
	return errors.Join(errs...)
}

// warmLeft logs, once a promotion whose plan warms reached 100 %, the
// provisioned concurrency each function keeps: the new version's stays (it
// now serves all of prod); any other version's — an earlier promotion's
// warm, or one configured by hand — is left as it is, and named so that an
// operator can remove what nobody needs (docs/warm.md). It changes nothing,
// so a failed read only costs the log line.
func (t *task) warmLeft(ctx context.Context) {
	if !hasWarm(t.p.Rollout()) {
		return
	}
	for _, m := range t.p.Functions() {
		var stays, others []string
		p := lambda.NewListProvisionedConcurrencyConfigsPaginator(t.lambda, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String(m.Function)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.log.WarnContext(ctx, "finalize: provisioned concurrency not listed", "function", m.Function, "error", err.Error())
				break
			}
			for _, c := range page.ProvisionedConcurrencyConfigs {
				arn := aws.ToString(c.FunctionArn)
				q := arn[strings.LastIndex(arn, ":")+1:]
				entry := fmt.Sprintf("%s=%d", q, aws.ToInt32(c.RequestedProvisionedConcurrentExecutions))
				if q == m.Version {
					stays = append(stays, entry)
				} else {
					others = append(others, entry)
				}
			}
		}
		t.log.InfoContext(ctx, "finalize: provisioned concurrency kept", "function", m.Function, "version", m.Version,
			"newVersion", strings.Join(stays, ","), "otherVersionsOrAliases", strings.Join(others, ","))
	}
}

func hasWarm(p plan.Plan) bool {
	for _, s := range p.Steps {
		if s.Kind() == plan.KindWarm {
			return true
		}
	}
	return false
}
