package cli

import "context"

// The sandbox commands land with sandbox/local.
func runLocal(ctx context.Context, a *app, args []string) error {
	return fail(ExitFailure, "", "local: the sandbox is not built into this binary yet")
}

func runDemo(ctx context.Context, a *app, args []string) error {
	return fail(ExitFailure, "", "demo: the sandbox is not built into this binary yet")
}
