package snssvc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

func newTestClient(t *testing.T, svc *Service) *sns.Client {
	t.Helper()
	return sns.NewFromConfig(servicetest.Config(t, "sns", svc))
}

// confirmAll confirms every pending subscription, as its recipient
// following the mailed link does.
func confirmAll(t *testing.T, svc *Service) {
	t.Helper()
	for _, c := range svc.PendingConfirmations() {
		if _, err := svc.ConfirmSubscription(c.TopicArn, c.Token); err != nil {
			t.Fatalf("confirm %s: %v", c.Endpoint, err)
		}
	}
}

func approverAttr(email string) map[string]types.MessageAttributeValue {
	return map[string]types.MessageAttributeValue{"approver": {DataType: aws.String("String"), StringValue: aws.String(email)}}
}

func TestApprovalEmailsReachOnlyTheirApprover(t *testing.T) {
	ctx := context.Background()
	var printed bytes.Buffer
	svc := New(&Options{Print: &printed})
	c := newTestClient(t, svc)
	arn, err := svc.CreateTopic("aliasflow-approvals")
	if err != nil {
		t.Fatal(err)
	}
	if arn != "arn:aws:sns:us-east-1:000000000000:aliasflow-approvals" {
		t.Errorf("TopicArn = %s", arn)
	}
	again, err := svc.CreateTopic("aliasflow-approvals")
	if err != nil || again != arn {
		t.Errorf("CreateTopic again = %v, %v; want the same ARN", again, err)
	}
	for _, who := range []string{"alice@example.com", "bob@example.com"} {
		sub, err := svc.Subscribe(arn, "email", who, `{"approver":["`+who+`"]}`, "")
		if err != nil {
			t.Fatalf("Subscribe %s: %v", who, err)
		}
		if !strings.HasPrefix(sub, arn+":") {
			t.Errorf("SubscriptionArn = %s", sub)
		}
	}
	confirmAll(t, svc)
	out, err := c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(arn), Subject: aws.String("Approve hello v2"),
		Message: aws.String("Open http://127.0.0.1/approvals?t=abc"), MessageAttributes: approverAttr("bob@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	box := svc.Outbox()
	if len(box) != 1 {
		t.Fatalf("outbox = %+v, want one message", box)
	}
	got := box[0]
	if got.Endpoint != "bob@example.com" || got.MessageID != aws.ToString(out.MessageId) || got.Subject != "Approve hello v2" ||
		got.Attributes["approver"] != "bob@example.com" || got.Protocol != "email" {
		t.Errorf("outbox[0] = %+v", got)
	}
	if !strings.Contains(printed.String(), "bob@example.com") || !strings.Contains(printed.String(), "approvals?t=abc") {
		t.Errorf("printed = %q, want the e-mail", printed.String())
	}
	snap, err := svc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := New(nil)
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if _, err := restored.Publish(arn, "s", "m", map[string]Attribute{"approver": {DataType: "String", StringValue: "alice@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if box := restored.Outbox(); len(box) != 2 || box[1].Endpoint != "alice@example.com" {
		t.Errorf("restored outbox = %+v, want the old message and one for alice", box)
	}
}

func TestPublishWithoutSubscriptionsIsKept(t *testing.T) {
	svc := New(nil)
	arn, err := svc.CreateTopic("t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newTestClient(t, svc).Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("hi")}); err != nil {
		t.Fatal(err)
	}
	if box := svc.Outbox(); len(box) != 1 || box[0].Endpoint != "" || box[0].Message != "hi" {
		t.Errorf("outbox = %+v, want the raw publish", box)
	}
}

func TestWait(t *testing.T) {
	svc := New(nil)
	arn, _ := svc.CreateTopic("t")
	go func() {
		_, _ = svc.Publish(arn, "", "first", nil)
		_, _ = svc.Publish(arn, "", "second", nil)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, i, err := svc.Wait(ctx, 0, func(m Message) bool { return m.Message == "second" })
	if err != nil || m.Message != "second" || i != 1 {
		t.Fatalf("Wait = %+v, %d, %v", m, i, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if _, _, err := svc.Wait(short, i+1, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait with nothing new = %v, want deadline exceeded", err)
	}
}

func TestFilterPolicies(t *testing.T) {
	tests := []struct {
		name, policy, scope string
		attrs               map[string]Attribute
		body                string
		want                bool
	}{
		{"exact", `{"approver":["a@x"]}`, "", map[string]Attribute{"approver": {"String", "a@x"}}, "m", true},
		{"exact other", `{"approver":["a@x"]}`, "", map[string]Attribute{"approver": {"String", "b@x"}}, "m", false},
		{"missing attribute", `{"approver":["a@x"]}`, "", nil, "m", false},
		{"prefix", `{"approver":[{"prefix":"a@"}]}`, "", map[string]Attribute{"approver": {"String", "a@x"}}, "m", true},
		{"a number attribute is not its string", `{"price":["100"]}`, "", map[string]Attribute{"price": {"Number", "100"}}, "m", false},
		{"string array element", `{"team":["ops"]}`, "", map[string]Attribute{"team": {"String.Array", `["dev","ops"]`}}, "m", true},
		{"all keys must match", `{"a":["1"],"b":["2"]}`, "", map[string]Attribute{"a": {"String", "1"}, "b": {"String", "3"}}, "m", false},
		{"body scope nested", `{"release":{"function":["hello"]}}`, "MessageBody", nil, `{"release":{"function":"hello"}}`, true},
		{"body scope not json", `{"release":["x"]}`, "MessageBody", nil, `plain text`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := New(nil)
			arn, _ := svc.CreateTopic("t")
			if _, err := svc.Subscribe(arn, "email", "sub@x", tt.policy, tt.scope); err != nil {
				t.Fatal(err)
			}
			confirmAll(t, svc)
			if _, err := svc.Publish(arn, "", tt.body, tt.attrs); err != nil {
				t.Fatal(err)
			}
			if got := len(svc.Outbox()) == 1; got != tt.want {
				t.Errorf("delivered = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestFilterPolicyOperatorsRefused: the operators aliasflow's
// subscriptions do not use are refused by name at Subscribe, as an invalid
// FilterPolicy, rather than matched approximately.
func TestFilterPolicyOperatorsRefused(t *testing.T) {
	tests := []struct{ name, policy, want string }{
		{"anything-but", `{"approver":[{"anything-but":["a@x"]}]}`, "anything-but"},
		{"numeric", `{"price":[{"numeric":[">=",100]}]}`, "numeric"},
		{"exists", `{"approver":[{"exists":false}]}`, "exists"},
		{"$or", `{"$or":[{"a":["1"]},{"b":["2"]}]}`, "$or"},
		{"exact number", `{"price":[100]}`, "the exact number 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := New(nil)
			arn, _ := svc.CreateTopic("t")
			_, err := svc.Subscribe(arn, "email", "sub@x", tt.policy, "")
			if err == nil || !strings.Contains(err.Error(), "FilterPolicy") || !strings.Contains(err.Error(), tt.want+" is not supported") {
				t.Errorf("Subscribe with %s = %v, want an invalid FilterPolicy naming %s", tt.policy, err, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	svc := New(nil)
	arn, _ := svc.CreateTopic("t")
	if _, err := svc.Subscribe(arn, "email", "a@x", `{"approver":["a@x"]}`, ""); err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, svc)
	missing := "arn:aws:sns:us-east-1:000000000000:nope"
	tests := []struct {
		name       string
		call       func() error
		wantCode   string
		wantStatus int
	}{
		{"publish to missing topic", func() error {
			_, err := c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(missing), Message: aws.String("m")})
			return err
		}, "NotFound", 404},
		{"subscribe to missing topic", func() error {
			_, err := svc.Subscribe(missing, "email", "a@x", "", "")
			return err
		}, "NotFound", 404},
		{"empty message", func() error {
			_, err := c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("")})
			return err
		}, "InvalidParameter", 400},
		{"subject with newline", func() error {
			_, err := c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("m"), Subject: aws.String("a\nb")})
			return err
		}, "InvalidParameter", 400},
		{"attribute without value", func() error {
			_, err := c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("m"),
				MessageAttributes: map[string]types.MessageAttributeValue{"approver": {DataType: aws.String("String")}}})
			return err
		}, "ParameterValueInvalid", 400},
		{"bad topic name", func() error {
			_, err := svc.CreateTopic("has space")
			return err
		}, "InvalidParameter", 400},
		{"bad filter policy", func() error {
			_, err := svc.Subscribe(arn, "email", "b@x", `{"approver":"b@x"}`, "")
			return err
		}, "InvalidParameter", 400},
		{"resubscribe with another policy", func() error {
			_, err := svc.Subscribe(arn, "email", "a@x", `{"approver":["z@x"]}`, "")
			return err
		}, "InvalidParameter", 400},
		{"unsupported protocol", func() error {
			_, err := svc.Subscribe(arn, "sqs", "arn:aws:sqs:us-east-1:000000000000:q", "", "")
			return err
		}, "InvalidParameter", 400},
		{"unknown action", func() error {
			_, err := c.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(arn)})
			return err
		}, "InvalidAction", 400},
		// Set up through the Go API only: nothing in the project calls them.
		{"CreateTopic not served", func() error {
			_, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("t")})
			return err
		}, "InvalidAction", 400},
		{"Subscribe not served", func() error {
			_, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(arn), Protocol: aws.String("email"), Endpoint: aws.String("b@x")})
			return err
		}, "InvalidAction", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			servicetest.WantError(t, tt.call(), tt.wantCode, tt.wantStatus)
		})
	}
	var nf *types.NotFoundException
	if _, err := c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(missing), Message: aws.String("m")}); !errors.As(err, &nf) {
		t.Errorf("err = %v, want *types.NotFoundException", err)
	}
	var ip *types.InvalidParameterException
	if _, err := c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("")}); !errors.As(err, &ip) {
		t.Errorf("err = %v, want *types.InvalidParameterException", err)
	}
}

// TestEmailSubscriptionsPendUntilConfirmed: an e-mail subscription is
// PendingConfirmation until its recipient follows the link SNS mails
// (Subscribe and ConfirmSubscription, Amazon SNS API Reference), and a
// publish reaches no unconfirmed endpoint.
func TestEmailSubscriptionsPendUntilConfirmed(t *testing.T) {
	ctx := context.Background()
	var printed bytes.Buffer
	var base string
	svc := New(&Options{Print: &printed, ConfirmationBase: func() string { return base }})
	srv := httptest.NewServer(http.HandlerFunc(svc.ServeConfirmation))
	t.Cleanup(srv.Close)
	base = srv.URL
	c := newTestClient(t, svc)
	arn, err := svc.CreateTopic("approvals")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Subscribe(arn, "email", "ana@example.com", `{"approver":["ana@example.com"]}`, ""); err != nil {
		t.Fatal(err)
	}
	publish := func() {
		t.Helper()
		if _, err := c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(arn), Subject: aws.String("Approve"), Message: aws.String("approve me"),
			MessageAttributes: approverAttr("ana@example.com")}); err != nil {
			t.Fatal(err)
		}
	}
	publish()
	for _, m := range svc.Outbox() {
		if m.Endpoint != "" {
			t.Errorf("an unconfirmed subscription received %+v", m)
		}
	}

	// The confirmation e-mail and its link.
	conf := svc.Confirmations()
	if len(conf) != 1 || conf[0].Endpoint != "ana@example.com" || !strings.HasPrefix(conf[0].URL, srv.URL+ConfirmationPath+"?") ||
		!strings.Contains(printed.String(), "Subscription Confirmation") || !strings.Contains(printed.String(), conf[0].URL) {
		t.Fatalf("confirmations = %+v, printed:\n%s", conf, printed.String())
	}
	// Subscribing again mails the link again, with the same subscription.
	if _, err := svc.Subscribe(arn, "email", "ana@example.com", `{"approver":["ana@example.com"]}`, ""); err != nil {
		t.Fatal(err)
	}
	if n := len(svc.Confirmations()); n != 2 {
		t.Errorf("%d confirmation e-mails after subscribing again while pending, want 2", n)
	}

	// A wrong token confirms nothing.
	bad, err := http.Get(srv.URL + ConfirmationPath + "?TopicArn=" + arn + "&Token=forged")
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != http.StatusBadRequest || len(svc.PendingConfirmations()) != 1 {
		t.Errorf("a forged token: HTTP %d, pending %d; want 400 and still pending", bad.StatusCode, len(svc.PendingConfirmations()))
	}
	// The recipient follows the link.
	resp, err := http.Get(svc.PendingConfirmations()[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Subscription confirmed") {
		t.Fatalf("following the link: HTTP %d %s", resp.StatusCode, body)
	}
	if p := svc.PendingConfirmations(); len(p) != 0 {
		t.Errorf("pending after following the link: %+v", p)
	}
	before := len(svc.Outbox())
	publish()
	box := svc.Outbox()
	if len(box) != before+1 || box[before].Endpoint != "ana@example.com" {
		t.Errorf("after confirming, the publish delivered %+v, want one e-mail to ana", box[before:])
	}
	// Confirmation survives a restart.
	snap, err := svc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := New(nil)
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if p := restored.PendingConfirmations(); len(p) != 0 {
		t.Errorf("restored pending confirmations = %+v, want none", p)
	}
}
