package cli

import (
	"context"
	"fmt"
	"strings"
)

// noSuchFunction is the error of a function Lambda does not know: with
// "did you mean" naming the target closest to it, when one is near — the
// targets are the functions aliasflow promotes (their settings parameters),
// so a misspelt name is most likely one of them.
func (a *app) noSuchFunction(ctx context.Context, fn, hint string) *Error {
	near := ""
	if targets, err := a.targets(ctx); err == nil {
		near = nearestName(fn, targets)
	}
	if near == "" {
		return fail(ExitNotFound, hint, "function %s not found", fn)
	}
	return fail(ExitNotFound, fmt.Sprintf("`aliasflow status %s` shows it", near), "function %s not found; did you mean %q?", fn, near)
}

// nearestName is the name closest to s: one equal to it but for case, or
// within the edit distance cobra suggests commands at (2); "" when none is.
func nearestName(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		d := editDistance(s, n)
		if strings.EqualFold(s, n) {
			d = 0
		}
		if d < bestD && n != s {
			best, bestD = n, d
		}
	}
	return best
}
