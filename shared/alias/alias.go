// Package alias is aliasflow's one way to read and move a Lambda alias:
// read it, decide from what it is now what it should become, and write that
// with the read RevisionId as a precondition, so that a concurrent writer is
// never overwritten blindly. A write that loses a race (Lambda answers
// PreconditionFailedException, or ResourceConflictException to a create) is
// read again and decided again, a bounded number of times. The release
// moves stg with it, the shift moves prod and puts stg back.
//
// Lambda's documentation of the calls used:
//   - UpdateAlias — "RevisionId: Only update the alias if the revision ID
//     matches the ID that's specified. Use this option to avoid modifying an
//     alias that has changed since you last read it."
//     (https://docs.aws.amazon.com/lambda/latest/api/API_UpdateAlias.html)
//   - CreateAlias — ResourceConflictException "The resource already exists"
//     (https://docs.aws.amazon.com/lambda/latest/api/API_CreateAlias.html)
//   - AliasRoutingConfiguration — "The second version, and the percentage of
//     traffic that's routed to it"; an empty map removes the routing
//     (https://docs.aws.amazon.com/lambda/latest/api/API_AliasRoutingConfiguration.html)
package alias

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aliasflow/aliasflow/shared/awserr"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Lambda is the part of the Lambda API that reads and moves aliases.
type Lambda interface {
	GetAlias(ctx context.Context, in *lambda.GetAliasInput, opts ...func(*lambda.Options)) (*lambda.GetAliasOutput, error)
	UpdateAlias(ctx context.Context, in *lambda.UpdateAliasInput, opts ...func(*lambda.Options)) (*lambda.UpdateAliasOutput, error)
	CreateAlias(ctx context.Context, in *lambda.CreateAliasInput, opts ...func(*lambda.Options)) (*lambda.CreateAliasOutput, error)
}

// DefaultAttempts bounds the read-decide-write loop when another writer
// keeps changing the alias between our read and our write.
const DefaultAttempts = 4

// DefaultDescription is written on an alias created without one.
const DefaultDescription = "managed by aliasflow"

// Alias is an alias as aliasflow reasons about it. The zero value is an
// alias that does not exist.
type Alias struct {
	Exists bool
	// Version is the primary version; Weights the additional versions and
	// the share (0–1) of traffic each gets.
	Version string
	Weights map[string]float64
	// Revision is the RevisionId read; Description the alias's description.
	Revision    string
	Description string
}

// String reads like "3", "3 + 4@10%" or "(none)", for logs and reasons.
func (a Alias) String() string {
	if !a.Exists {
		return "(none)"
	}
	var b strings.Builder
	b.WriteString(a.Version)
	for _, v := range slices.Sorted(maps.Keys(a.Weights)) {
		fmt.Fprintf(&b, " + %s@%s", v, Percent(a.Weights[v]))
	}
	return b.String()
}

// Routes reports whether the alias sends any traffic to version v.
func (a Alias) Routes(v string) bool {
	if !a.Exists {
		return false
	}
	if a.Version == v {
		return true
	}
	w, ok := a.Weights[v]
	return ok && w > 0
}

// Serves reports whether the alias sends all its traffic to version v.
func (a Alias) Serves(v string) bool {
	return a.Exists && a.Version == v && !a.Weighted()
}

// Weighted reports whether the alias sends traffic to a second version.
func (a Alias) Weighted() bool {
	for _, w := range a.Weights {
		if w > 0 {
			return true
		}
	}
	return false
}

// RoutedOnly reports whether every weighted version of the alias is in allowed.
func (a Alias) RoutedOnly(allowed ...string) bool {
	for v := range a.Weights {
		if !slices.Contains(allowed, v) {
			return false
		}
	}
	return true
}

// Same reports whether a and b route traffic alike; revision and
// description are not compared.
func (a Alias) Same(b Alias) bool {
	if a.Exists != b.Exists || a.Version != b.Version {
		return false
	}
	// An entry with weight 0 routes nothing; treat it as absent.
	for _, m := range []struct{ x, y map[string]float64 }{{a.Weights, b.Weights}, {b.Weights, a.Weights}} {
		for v, w := range m.x {
			if math.Abs(w-m.y[v]) > 1e-9 {
				return false
			}
		}
	}
	return true
}

// Percent prints a 0–1 share as a percentage with at most two decimals.
func Percent(w float64) string {
	return strconv.FormatFloat(math.Round(w*10000)/100, 'f', -1, 64) + "%"
}

// versionNumber is a published version: Lambda numbers them from 1.
var versionNumber = regexp.MustCompile(`^[1-9][0-9]{0,9}$`)

// IsVersionNumber reports whether v names a published version (not
// $LATEST, not an alias, not empty).
func IsVersionNumber(v string) bool { return versionNumber.MatchString(v) }

// Get reads an alias; a missing alias (ResourceNotFoundException) is not an
// error but an Alias that does not exist.
func Get(ctx context.Context, lc Lambda, fn, name string) (Alias, error) {
	out, err := lc.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(fn), Name: aws.String(name)})
	if awserr.Code(err) == awserr.NotFound {
		return Alias{}, nil
	}
	if err != nil {
		return Alias{}, fmt.Errorf("get alias %s:%s: %w", fn, name, err)
	}
	return FromConfiguration(types.AliasConfiguration{FunctionVersion: out.FunctionVersion, RevisionId: out.RevisionId,
		Description: out.Description, RoutingConfig: out.RoutingConfig}), nil
}

// FromConfiguration is an alias as ListAliases (or GetAlias) describes it.
func FromConfiguration(c types.AliasConfiguration) Alias {
	a := Alias{Exists: true, Version: aws.ToString(c.FunctionVersion), Revision: aws.ToString(c.RevisionId),
		Description: aws.ToString(c.Description)}
	if c.RoutingConfig != nil && len(c.RoutingConfig.AdditionalVersionWeights) > 0 {
		a.Weights = maps.Clone(c.RoutingConfig.AdditionalVersionWeights)
	}
	return a
}

// Plan decides, from the alias as it is now, what it should become. move
// false leaves the alias as it is; an error stops without moving anything
// and is returned as it is (unwrapped), so a plan can signal its own
// outcomes. A want.Description of "" keeps the alias's description, or,
// in a context WithStamp, writes the stamp.
type Plan func(cur Alias) (want Alias, move bool, err error)

// Mover moves aliases. The zero value needs only Lambda.
type Mover struct {
	Lambda Lambda
	// Attempts bounds the writes (DefaultAttempts when 0); 1 writes once,
	// guarded by the revision given, and never reads again.
	Attempts int
	// Log receives a line per lost race and per move; discarded when nil.
	Log *slog.Logger
}

// Moved is what a move did: the alias before and after, and whether it
// changed. After carries the RevisionId Lambda gave the write.
type Moved struct {
	Before, After Alias
	Changed       bool
}

// Move reads the alias and moves it as decide says (see MoveFrom).
func (m Mover) Move(ctx context.Context, fn, name string, decide Plan) (Moved, error) {
	cur, err := Get(ctx, m.Lambda, fn, name)
	if err != nil {
		return Moved{}, err
	}
	return m.MoveFrom(ctx, fn, name, cur, decide)
}

// MoveFrom moves the alias from cur, as read by the caller, to what decide
// says, writing with cur's RevisionId as the precondition (CreateAlias when
// cur does not exist). When another writer got there first it reads the
// alias again and decides again, up to Attempts writes in all. It never
// points an alias at $LATEST or at nothing, and it writes nothing when the
// alias already routes as wanted.
func (m Mover) MoveFrom(ctx context.Context, fn, name string, cur Alias, decide Plan) (Moved, error) {
	attempts := m.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	log := m.Log
	if log == nil {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			var err error
			if cur, err = Get(ctx, m.Lambda, fn, name); err != nil {
				return Moved{}, err
			}
		}
		want, move, err := decide(cur)
		if err != nil {
			return Moved{Before: cur, After: cur}, err
		}
		if !move || (cur.Same(want) && (want.Description == "" || want.Description == cur.Description)) {
			return Moved{Before: cur, After: cur}, nil
		}
		if !IsVersionNumber(want.Version) {
			// Never point an alias at $LATEST or at nothing.
			return Moved{Before: cur, After: cur}, fmt.Errorf("move %s:%s: refusing target version %q", fn, name, want.Version)
		}
		after, lost, err := m.write(ctx, fn, name, cur, want)
		if err != nil {
			return Moved{Before: cur, After: cur}, fmt.Errorf("move %s:%s from %s to %s: %w", fn, name, cur, want, err)
		}
		if lost == nil {
			log.InfoContext(ctx, "alias moved", "function", fn, "alias", name, "from", cur.String(), "to", want.String())
			return Moved{Before: cur, After: after, Changed: true}, nil
		}
		if attempt >= attempts {
			return Moved{Before: cur, After: cur}, fmt.Errorf("move %s:%s to %s: the alias changed under us %d times; giving up: %w",
				fn, name, want, attempt, lost)
		}
		log.InfoContext(ctx, "alias changed since read; reading again", "function", fn, "alias", name,
			"revision", cur.Revision, "attempt", attempt)
	}
}

// write makes one CreateAlias or UpdateAlias call. lost is the error of a
// write that lost a race (to be read and decided again); err any other.
func (m Mover) write(ctx context.Context, fn, name string, cur, want Alias) (after Alias, lost, err error) {
	weights := map[string]float64{} // an empty map clears routing explicitly
	maps.Copy(weights, want.Weights)
	routing := &types.AliasRoutingConfiguration{AdditionalVersionWeights: weights}
	if by := stampOf(ctx); by != "" && want.Description == "" {
		want.Description = StampFor(by, want)
	}
	after = Alias{Exists: true, Version: want.Version, Weights: want.Weights, Description: want.Description}
	if !cur.Exists {
		desc := want.Description
		if desc == "" {
			desc = DefaultDescription
		}
		out, err := m.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{
			FunctionName: aws.String(fn), Name: aws.String(name),
			FunctionVersion: aws.String(want.Version), RoutingConfig: routing,
			Description: aws.String(desc),
		})
		if awserr.Code(err) == awserr.Conflict {
			return Alias{}, err, nil // created meanwhile by another writer
		}
		if err != nil {
			return Alias{}, nil, err
		}
		after.Revision, after.Description = aws.ToString(out.RevisionId), desc
		return after, nil, nil
	}
	in := &lambda.UpdateAliasInput{
		FunctionName: aws.String(fn), Name: aws.String(name),
		FunctionVersion: aws.String(want.Version), RoutingConfig: routing,
		RevisionId: aws.String(cur.Revision),
	}
	if want.Description != "" {
		in.Description = aws.String(want.Description)
	} else {
		after.Description = cur.Description
	}
	out, err := m.Lambda.UpdateAlias(ctx, in)
	if awserr.Code(err) == awserr.Stale {
		return Alias{}, err, nil
	}
	if err != nil {
		return Alias{}, nil, err
	}
	after.Revision = aws.ToString(out.RevisionId)
	return after, nil, nil
}
