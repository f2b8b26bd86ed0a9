package cli

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/spf13/cobra"
)

// completionTimeout bounds what a shell's Tab waits for AWS: a completion
// that cannot be read in time offers nothing rather than hang the prompt.
const completionTimeout = 3 * time.Second

// What a command's arguments are, for shell completion (cobra's
// `completion` scripts call `aliasflow __complete`).
const (
	argFunctions    = iota // each argument a function
	argFunction            // one function, then nothing (or files, for deploy-code)
	argWaiting             // a running promotion or a function (approve, reject, promote)
	argAnyPromotion        // a recent promotion (watch)
)

// addCompletions sets the ValidArgsFunction of the commands that take
// function or promotion names; the names are read from AWS (or the
// sandbox) as the command itself would read them.
func (a *app) addCompletions(root *cobra.Command) {
	kinds := map[string]int{
		"status": argFunctions, "history": argFunction, "release": argFunction, "rollback": argFunction,
		"deploy-code": argFunction, "approve": argWaiting, "reject": argWaiting, "promote": argWaiting, "watch": argAnyPromotion,
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if kind, ok := kinds[c.Name()]; ok {
			c.ValidArgsFunction = a.completer(kind)
		}
		if c.Flags().Lookup("runtime") != nil {
			// The runtimes deploy-code packages and local runs hello on.
			_ = c.RegisterFlagCompletionFunc("runtime", cobra.FixedCompletions([]string{runtimeProvided, runtimeNode, runtimeNode22}, cobra.ShellCompDirectiveNoFileComp))
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func (a *app) completer(kind int) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if kind != argFunctions && len(args) > 0 {
			if c.Name() == "deploy-code" {
				return nil, cobra.ShellCompDirectiveDefault // the package: a path
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		parent := c.Context()
		if parent == nil {
			parent = context.Background()
		}
		ctx, cancel := context.WithTimeout(parent, completionTimeout)
		defer cancel()
		var names []string
		switch kind {
		case argFunctions, argFunction:
			names = a.functionNames(ctx)
		case argWaiting:
			names = append(a.promotionNames(ctx, types.ExecutionStatusRunning), a.functionNames(ctx)...)
		case argAnyPromotion:
			names = a.promotionNames(ctx, "")
		}
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) && !slices.Contains(args, n) && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// functionNames are the functions status lists; nothing when they cannot
// be read (a completion has nowhere to report an error).
func (a *app) functionNames(ctx context.Context) []string {
	fns, err := a.knownFunctions(ctx)
	if err != nil {
		fns, _ = a.targets(ctx)
	}
	return fns
}

// promotionNames are the names of the newest promotions with status ("":
// any), newest first.
func (a *app) promotionNames(ctx context.Context, status types.ExecutionStatus) []string {
	execs, err := a.executions(ctx, "", status, 50)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range execs {
		out = append(out, aws.ToString(e.Name))
	}
	return out
}
