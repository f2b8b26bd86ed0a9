package shift

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Probes: synthetic invocations of the new and the stable version, by
// version number (Invoke with Qualifier), health.probes of each per check,
// sending health.probePayload or the target's invoke smoke checks'
// payloads. A response with FunctionError set is a failed call — handled
// errors ("Handled"/the error document) and crashes ("Unhandled") alike
// (Invoke, Lambda API reference: "If present, indicates that an error
// occurred during function execution") — so probes see handled errors, at
// once, for the inputs they send. The precedent is CodeDeploy's traffic
// hooks and Flagger's load tester.

// probeTimeout bounds one probe; a probe not answered in time is not
// counted (the health check must end within the shift Lambda's minute).
const probeTimeout = 10 * time.Second

// probeProgress is what the probes counted so far in one step, carried in
// promotion.Shift.Probes.
type probeProgress struct {
	Step   int         `json:"step"`
	Since  time.Time   `json:"since"`
	New    probeCounts `json:"new"`
	Stable probeCounts `json:"stable"`
}

type probeCounts struct {
	Calls  int `json:"calls"`
	Errors int `json:"errors"`
}

// probe invokes version n times with the target's probe payloads in turn.
// A probe that times out on this side is not counted; an Invoke the API
// refuses fails the probing, with context.
func (t *task) probe(ctx context.Context, version string, n int) (probeCounts, error) {
	payloads := t.p.Target.ProbePayloads()
	var c probeCounts
	if len(payloads) == 0 {
		return c, nil
	}
	for i := range n {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		out, err := t.lambda.Invoke(pctx, &lambda.InvokeInput{FunctionName: aws.String(t.p.Function),
			Qualifier: aws.String(version), InvocationType: lambdatypes.InvocationTypeRequestResponse,
			Payload: payloads[i%len(payloads)]})
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			t.log.WarnContext(ctx, "probe not answered in time; not counted", "function", t.p.Function, "version", version)
			continue
		case err != nil:
			return c, fmt.Errorf("probe version %s of %s: %w", version, t.p.Function, err)
		}
		c.Calls++
		if aws.ToString(out.FunctionError) != "" {
			c.Errors++
		}
	}
	return c, nil
}

// probeBoth probes the new and the stable version at once.
func (t *task) probeBoth(ctx context.Context, stable string, n int) (newC, stableC probeCounts, err error) {
	var wg sync.WaitGroup
	var stableErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		stableC, stableErr = t.probe(ctx, stable, n)
	}()
	newC, err = t.probe(ctx, t.p.Version, n)
	wg.Wait()
	return newC, stableC, errors.Join(err, stableErr)
}

// probeEvidence probes both versions and adds the calls to what this
// step's earlier checks counted. It returns the evidence and the progress
// to carry to the next check.
func (t *task) probeEvidence(ctx context.Context, stepStart, now time.Time) (audit.Evidence, string, error) {
	s := t.p.Shift
	pr := probeProgress{Step: s.Step, Since: stepStart.UTC()}
	if s.Probes != "" {
		var last probeProgress
		if err := json.Unmarshal([]byte(s.Probes), &last); err == nil && last.Step == s.Step {
			pr = last
		}
	}
	ev := audit.Evidence{Source: "probes", From: pr.Since, To: now, NewVersion: t.p.Version, StableVersion: s.StableVersion,
		SeesHandledErrors: true, SeesCrashes: true}
	newC, stableC, err := t.probeBoth(ctx, s.StableVersion, t.p.Target.Health.Probes)
	if err != nil {
		return ev, "", err
	}
	pr.New.Calls, pr.New.Errors = pr.New.Calls+newC.Calls, pr.New.Errors+newC.Errors
	pr.Stable.Calls, pr.Stable.Errors = pr.Stable.Calls+stableC.Calls, pr.Stable.Errors+stableC.Errors
	// Probes answer now: they are complete through this moment.
	ev.FreshThrough = now
	ev.NewInvocations, ev.NewErrors = float64(pr.New.Calls), float64(pr.New.Errors)
	ev.StableInvocations, ev.StableErrors = float64(pr.Stable.Calls), float64(pr.Stable.Errors)
	b, err := json.Marshal(pr)
	if err != nil {
		return ev, "", fmt.Errorf("encode the probe progress: %w", err)
	}
	return ev, string(b), nil
}

// probeBeforeWeight probes the new and the stable version before prod
// routes anything to the new one and says why the new version must not
// get traffic ("" when it may): its probes failing significantly more than
// the stable version's plus the allowance, by the exact test a step fails
// on (no minimum of calls: the test holds at any number). It also returns
// the counts as step 0's probe progress (promotion.Shift.Probes): they are
// evidence about the same version, so the first check-health adds its
// probes to them (probeEvidence) rather than starting from nothing.
func (t *task) probeBeforeWeight(ctx context.Context, h config.Health, stable string) (why, progress string, err error) {
	newC, stableC, err := t.probeBoth(ctx, stable, h.ProbesAtStart())
	if err != nil {
		return "", "", err
	}
	limit := h.MaxErrorRate
	if stableC.Calls > 0 {
		limit = min(1, float64(stableC.Errors)/float64(stableC.Calls)+h.MaxErrorRate)
	}
	if newC.Calls > 0 && binomTailAtLeast(newC.Errors, newC.Calls, limit) < alpha {
		return fmt.Sprintf("%d of %d probes of version %s failed (stable version %s: %d of %d), significantly above the limit %s",
			newC.Errors, newC.Calls, t.p.Version, stable, stableC.Errors, stableC.Calls, alias.Percent(limit)), "", nil
	}
	b, err := json.Marshal(probeProgress{Step: 0, Since: t.now().UTC(), New: newC, Stable: stableC})
	if err != nil {
		return "", "", fmt.Errorf("encode the probe progress: %w", err)
	}
	return "", string(b), nil
}
