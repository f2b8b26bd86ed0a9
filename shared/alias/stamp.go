package alias

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A stamp is the description aliasflow writes on an alias with every move:
// "aliasflow:<by>:<token>", by the execution (or release) that moved it and
// token a digest of the routing it wrote. The token is what lets a reader
// tell aliasflow's write from a hand move with one ListAliases and no trail:
// a hand move through UpdateAlias that leaves the description alone keeps
// the old stamp, whose token then no longer matches the routing. The
// RevisionId cannot serve: Lambda assigns it on the write, so it is unknown
// when the description is written. A stamp rides on the same
// UpdateAlias/CreateAlias call as the move, and stays far below the
// description's 256 characters ("Description: Length Constraints: Minimum
// length of 0. Maximum length of 256.",
// https://docs.aws.amazon.com/lambda/latest/api/API_UpdateAlias.html):
// an execution name is at most 80.
const stampPrefix = "aliasflow:"

// Stamp is a stamp read back.
type Stamp struct {
	// By is who moved the alias: an execution name.
	By string
	// Token is the digest of the routing written (Token).
	Token string
	// Previous is the version stg served before a release moved it
	// ("" for none); HasPrevious says the stamp carries it (stg only).
	Previous    string
	HasPrevious bool
}

// Token is a digest of how a routes traffic: 8 hex characters of SHA-256
// over its primary version and weighted versions (weights to four decimals,
// zero weights left out), so that the same routing always gives the same
// token whatever its revision or description.
func Token(a Alias) string {
	var b strings.Builder
	b.WriteString(a.Version)
	for _, v := range slices.Sorted(maps.Keys(a.Weights)) {
		if w := math.Round(a.Weights[v] * 10000); w > 0 {
			b.WriteString(" " + v + "=" + strconv.FormatFloat(w, 'f', 0, 64))
		}
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:4])
}

// StampFor is the description aliasflow writes with a move by by (an
// execution name) to want.
func StampFor(by string, want Alias) string {
	return stampPrefix + by + ":" + Token(want)
}

// StampWithPrevious is StampFor for stg, recording the version stg served
// before the move ("" for none): a duplicate delivery of the release reads
// it back instead of the trail.
func StampWithPrevious(by string, want Alias, previous string) string {
	if previous == "" {
		previous = "none"
	}
	return StampFor(by, want) + " previous=" + previous
}

// ReadStamp reads a stamp from an alias description; ok is false when the
// description is not one.
func ReadStamp(description string) (s Stamp, ok bool) {
	rest, ok := strings.CutPrefix(description, stampPrefix)
	if !ok {
		return Stamp{}, false
	}
	rest, prev, hasPrev := strings.Cut(rest, " previous=")
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return Stamp{}, false
	}
	s = Stamp{By: rest[:i], Token: rest[i+1:], HasPrevious: hasPrev}
	if len(s.Token) != 8 || strings.ContainsAny(s.By, " :") {
		return Stamp{}, false
	}
	if hasPrev {
		if prev != "none" && !IsVersionNumber(prev) {
			return Stamp{}, false
		}
		if prev != "none" {
			s.Previous = prev
		}
	}
	return s, true
}

// Stamped reports whether aliasflow's last write left a as it is: its
// description is a stamp whose token matches its routing. by is the
// execution that wrote it.
func (a Alias) Stamped() (by string, ok bool) {
	s, ok := ReadStamp(a.Description)
	if !ok || !a.Exists || s.Token != Token(a) {
		return "", false
	}
	return s.By, true
}

type stampKey struct{}

// WithStamp returns a context in which every move a Mover writes without a
// description of its own is stamped as by's (StampFor). A task sets it once
// for the execution it serves, so that no alias write of the task can go out
// unstamped.
func WithStamp(ctx context.Context, by string) context.Context {
	return context.WithValue(ctx, stampKey{}, by)
}

func stampOf(ctx context.Context) string {
	by, _ := ctx.Value(stampKey{}).(string)
	return by
}
