package cli

import (
	"context"

	"github.com/aliasflow/aliasflow/sandbox/local"
)

// sandboxWorld adapts the sandbox's local world to what local and demo use.
type sandboxWorld struct{ *local.World }

func (w sandboxWorld) Emails() []email {
	var out []email
	for _, m := range w.World.Emails() {
		out = append(out, email{To: m.To, Subject: m.Subject, Body: m.Body, At: m.At})
	}
	return out
}

// startWorld starts the sandbox world (a variable so tests can start a
// fake one).
var startWorld = func(ctx context.Context, o worldOptions) (localWorld, error) {
	w, err := local.Start(ctx, local.Options{Addr: o.Addr, BinDir: o.BinDir, StateDir: o.StateDir, Log: o.Log, Hello: o.Hello,
		HelloNode: o.HelloNode, HelloRuntime: o.HelloRuntime})
	if err != nil {
		return nil, err
	}
	return sandboxWorld{w}, nil
}
