package snssvc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// TestAuthenticateOnUnsubscribe follows ConfirmSubscription's
// AuthenticateOnUnsubscribe (Amazon SNS API Reference): a subscription
// confirmed with it by a signed call cannot be removed by the e-mail's
// unsigned unsubscribe link (a mail scanner following every link); one
// confirmed by clicking the link can.
func TestAuthenticateOnUnsubscribe(t *testing.T) {
	ctx := context.Background()
	svc := New(nil)
	c := newTestClient(t, svc)
	arn, _ := svc.CreateTopic("aliasflow-approvals")
	subs := map[string]string{}
	for _, who := range []string{"clicked@example.com", "protected@example.com"} {
		sub, err := svc.Subscribe(arn, "email", who, "", "")
		if err != nil {
			t.Fatal(err)
		}
		subs[who] = sub
	}
	for _, p := range svc.PendingConfirmations() {
		var err error
		if p.Endpoint == "clicked@example.com" {
			_, err = svc.ConfirmSubscription(p.TopicArn, p.Token)
		} else {
			_, err = c.ConfirmSubscription(ctx, &sns.ConfirmSubscriptionInput{TopicArn: aws.String(p.TopicArn), Token: aws.String(p.Token), AuthenticateOnUnsubscribe: aws.String("true")})
		}
		if err != nil {
			t.Fatalf("confirm %s: %v", p.Endpoint, err)
		}
	}
	link := func(who string) int {
		rec := httptest.NewRecorder()
		svc.ServeUnsubscribe(rec, httptest.NewRequest(http.MethodGet, UnsubscribePath+"?SubscriptionArn="+url.QueryEscape(subs[who]), nil))
		return rec.Code
	}
	cases := []struct {
		who        string
		wantStatus int
	}{
		{"clicked@example.com", http.StatusOK},
		{"protected@example.com", http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.who, func(t *testing.T) {
			if got := link(tc.who); got != tc.wantStatus {
				t.Errorf("unsubscribe link answered %d, want %d", got, tc.wantStatus)
			}
		})
	}
	if _, err := svc.Publish(arn, "s", "still here", nil); err != nil {
		t.Fatal(err)
	}
	if box := svc.Outbox(); len(box) != 1 || box[0].Endpoint != "protected@example.com" {
		t.Errorf("outbox = %+v, want one message, to the protected approver only", box)
	}
}
