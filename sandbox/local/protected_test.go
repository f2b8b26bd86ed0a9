package local_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/local"
	snssvc "github.com/aliasflow/aliasflow/sandbox/sns"
	"github.com/aliasflow/aliasflow/shared/awsenv"
)

func TestProtectedConfirmationKeepsTheApprover(t *testing.T) {
	// GIVEN a world whose approver's subscription an operator confirmed
	// with AuthenticateOnUnsubscribe (docs/deploy.md), WHEN the unsubscribe
	// link of an approval mail is followed unsigned (a mail scanner), THEN
	// it is refused with 403 and the approver stays subscribed.
	ctx := context.Background()
	w, err := local.Start(ctx, local.Options{BinDir: binDir(t), EventRetryDelays: []time.Duration{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	pending := w.Sandbox().SNS().PendingConfirmations()
	confirmed, err := w.ConfirmSubscriptionsProtected(ctx)
	if err != nil || len(confirmed) != len(pending) || len(pending) == 0 {
		t.Fatalf("confirmed %v, %v; want the %d pending", confirmed, err, len(pending))
	}
	if left := w.Sandbox().SNS().PendingConfirmations(); len(left) != 0 {
		t.Errorf("still pending: %+v", left)
	}
	link := w.Endpoint() + snssvc.UnsubscribePath + "?SubscriptionArn=" + url.QueryEscape(pending[0].SubscriptionArn)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := awsenv.LoopbackOnlyClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsubscribe link answered %d, want 403", resp.StatusCode)
	}
}
