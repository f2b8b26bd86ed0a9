package cli

import (
	"context"
	"io"
	"time"

	"github.com/aliasflow/aliasflow/shared/config"
)

// localWorld is what `local` and `demo` need of the sandbox world
// (sandbox/local); world_local.go binds it.
type localWorld interface {
	// Endpoint is the sandbox's base URL (http://127.0.0.1:PORT).
	Endpoint() string
	// DeployHello makes the bootstrap binary at path hello's $LATEST code
	// (UpdateFunctionCode) and returns its CodeSha256.
	DeployHello(ctx context.Context, bootstrap string) (codeSha256 string, err error)
	// Merge simulates the merge: a CodeBuild "Build State Change" event
	// (SUCCEEDED) for hello's build of that code.
	Merge(ctx context.Context, codeSha256, commit string) error
	// ConfirmSubscriptions confirms the approvers' pending SNS e-mail
	// subscriptions by following the links of their confirmation e-mails,
	// and returns the addresses confirmed.
	ConfirmSubscriptions(ctx context.Context) ([]string, error)
	// Emails returns the approval e-mails the SNS topic delivered so far.
	Emails() []email
	Close() error
}

// email is one delivered approval e-mail.
type email struct {
	To      string
	Subject string
	Body    string
	At      time.Time
}

// worldOptions are the settings `local` and `demo` start the world with.
type worldOptions struct {
	Addr     string
	BinDir   string
	StateDir string
	Log      io.Writer
	// Hello overrides hello's promotion settings (nil: the world's own).
	Hello func(endpoint string) *config.Target
	// HelloNode and HelloRuntime, when set, make hello a Node.js function
	// (local.Options).
	HelloNode, HelloRuntime string
}
