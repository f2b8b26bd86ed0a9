package shift

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// maxAliasAttempts bounds the read-decide-write loop when another writer
// keeps changing the alias between our read and our write.
const maxAliasAttempts = 4

// alias is an alias as the shift reasons about it.
type alias struct {
	exists   bool
	version  string
	weights  map[string]float64
	revision string
}

// String reads like "3", "3 + 4@10%" or "(none)", for logs and reasons.
func (a alias) String() string {
	if !a.exists {
		return "(none)"
	}
	var b strings.Builder
	b.WriteString(a.version)
	for _, v := range slices.Sorted(maps.Keys(a.weights)) {
		fmt.Fprintf(&b, " + %s@%s", v, percent(a.weights[v]))
	}
	return b.String()
}

// routes reports whether the alias sends any traffic to version v.
func (a alias) routes(v string) bool {
	if !a.exists {
		return false
	}
	if a.version == v {
		return true
	}
	w, ok := a.weights[v]
	return ok && w > 0
}

// routedOnly reports whether every weighted version of the alias is in allowed.
func (a alias) routedOnly(allowed ...string) bool {
	for v := range a.weights {
		if !slices.Contains(allowed, v) {
			return false
		}
	}
	return true
}

func (a alias) same(b alias) bool {
	if a.exists != b.exists || a.version != b.version {
		return false
	}
	// An entry with weight 0 routes nothing; treat it as absent.
	for _, m := range []struct{ x, y map[string]float64 }{{a.weights, b.weights}, {b.weights, a.weights}} {
		for v, w := range m.x {
			if math.Abs(w-m.y[v]) > 1e-9 {
				return false
			}
		}
	}
	return true
}

// percent prints a 0–1 share as a percentage with at most two decimals.
func percent(w float64) string {
	return strconv.FormatFloat(math.Round(w*10000)/100, 'f', -1, 64) + "%"
}

// getAlias reads an alias; a missing alias is not an error.
func (h *Handler) getAlias(ctx context.Context, fn, name string) (alias, error) {
	out, err := h.lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(fn), Name: aws.String(name)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return alias{}, nil
	}
	if err != nil {
		return alias{}, fmt.Errorf("get alias %s:%s: %w", fn, name, err)
	}
	a := alias{exists: true, version: aws.ToString(out.FunctionVersion), revision: aws.ToString(out.RevisionId)}
	if out.RoutingConfig != nil && len(out.RoutingConfig.AdditionalVersionWeights) > 0 {
		a.weights = maps.Clone(out.RoutingConfig.AdditionalVersionWeights)
	}
	return a, nil
}

// plan decides, from the alias as it is now, what it should become. move
// false leaves the alias as it is; an error stops without moving anything.
type plan func(cur alias) (want alias, move bool, err error)

// moveAlias reads the alias, asks decide what it should be and writes that
// with the read RevisionId as a precondition, so a concurrent writer is
// never overwritten blindly: on PreconditionFailedException (or a racing
// create) it reads again and decides again, a bounded number of times.
// It returns the alias before the change and whether it changed.
func (h *Handler) moveAlias(ctx context.Context, fn, name string, decide plan) (before alias, changed bool, err error) {
	for range maxAliasAttempts {
		cur, err := h.getAlias(ctx, fn, name)
		if err != nil {
			return alias{}, false, err
		}
		want, move, err := decide(cur)
		if err != nil {
			return cur, false, err
		}
		if !move || cur.same(want) {
			return cur, false, nil
		}
		if want.version == "" || !versionNumber.MatchString(want.version) {
			// Never point an alias at $LATEST or at nothing.
			return cur, false, fmt.Errorf("move %s:%s: refusing target version %q", fn, name, want.version)
		}
		weights := map[string]float64{} // an empty map clears routing explicitly
		maps.Copy(weights, want.weights)
		routing := &types.AliasRoutingConfiguration{AdditionalVersionWeights: weights}
		if !cur.exists {
			_, err = h.lambda.CreateAlias(ctx, &lambda.CreateAliasInput{
				FunctionName: aws.String(fn), Name: aws.String(name),
				FunctionVersion: aws.String(want.version), RoutingConfig: routing,
				Description: aws.String("managed by aliasflow"),
			})
			var conflict *types.ResourceConflictException
			if errors.As(err, &conflict) {
				h.log.InfoContext(ctx, "alias created concurrently; reading again", "function", fn, "alias", name)
				continue
			}
		} else {
			_, err = h.lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{
				FunctionName: aws.String(fn), Name: aws.String(name),
				FunctionVersion: aws.String(want.version), RoutingConfig: routing,
				RevisionId: aws.String(cur.revision),
			})
			var stale *types.PreconditionFailedException
			if errors.As(err, &stale) {
				h.log.InfoContext(ctx, "alias changed since read; reading again", "function", fn, "alias", name, "revision", cur.revision)
				continue
			}
		}
		if err != nil {
			return cur, false, fmt.Errorf("move %s:%s from %s to %s: %w", fn, name, cur, want, err)
		}
		h.log.InfoContext(ctx, "alias moved", "function", fn, "alias", name, "from", cur.String(), "to", want.String())
		return cur, true, nil
	}
	return alias{}, false, fmt.Errorf("move %s:%s: the alias changed under us %d times; giving up", fn, name, maxAliasAttempts)
}
