// Package snssvc is the sandbox's Amazon SNS (awsQuery): topics, e-mail
// subscriptions with filter policies, and Publish into an outbox. An e-mail
// subscription is PendingConfirmation until its recipient follows the
// confirmation link SNS mails (Confirmations; the link is served by the
// sandbox as AWS's confirmation page is), and receives nothing until then.
// Each message a confirmed subscription receives lands in the outbox — and,
// when a writer is given, is printed — so the approval e-mails of a
// rehearsal can be read and their links followed.
package snssvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/eventpattern"
)

// Namespace is the XML namespace of SNS responses.
const Namespace = "http://sns.amazonaws.com/doc/2010-03-31/"

const maxMessageBytes = 256 * 1024

// Message is one message in the outbox: what one subscription received,
// or a publish to a topic without subscriptions (Endpoint "").
type Message struct {
	MessageID       string
	TopicArn        string
	SubscriptionArn string `json:",omitempty"`
	Protocol        string `json:",omitempty"`
	Endpoint        string `json:",omitempty"`
	Subject         string `json:",omitempty"`
	Message         string
	// Attributes are the message attributes' string values by name.
	Attributes map[string]string `json:",omitempty"`
	Time       time.Time
}

// Options tunes a Service; the zero value is usable.
type Options struct {
	// Print, when set, receives every outbox message and confirmation
	// request as a readable e-mail.
	Print io.Writer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ConfirmationBase is the base URL of the confirmation links (the
	// sandbox's endpoint, which serves ConfirmationPath); AWS's own SNS
	// endpoint when nil.
	ConfirmationBase func() string
	// EmailPerSecond, when positive, is how many messages a second one
	// e-mail subscription takes (DefaultEmailPerSecond is SNS's); zero or
	// negative sets no limit.
	EmailPerSecond int
}

// DefaultEmailPerSecond is SNS's delivery rate for e-mail: 10 messages per
// second ("Amazon SNS endpoints and quotas",
// https://docs.aws.amazon.com/general/latest/gr/sns.html). A subscription
// sent more within one second is suspended: it receives nothing more until
// it is confirmed again (Subscribe), and Suspended lists it — the failure
// issue 19 describes for an approver of a merge train, so that a test sees
// a burst of approval mails to one address instead of a silent loss.
const DefaultEmailPerSecond = 10

// ConfirmationPath is where the confirmation link of a subscription points
// on ConfirmationBase, as on AWS ("…/confirmation.html?TopicArn=…&Token=…").
const ConfirmationPath = "/confirmation.html"

// Confirmation is the "Subscription Confirmation" e-mail SNS sends to a new
// e-mail endpoint (Subscribe, Amazon SNS API Reference: the owner of the
// endpoint must confirm it).
type Confirmation struct {
	TopicArn        string
	Endpoint        string
	SubscriptionArn string
	Token           string
	// URL is the link to follow to confirm.
	URL  string
	Time time.Time
}

// Service is the SNS emulation. It is an http.Handler.
type Service struct {
	print   io.Writer
	now     func() time.Time
	confirm func() string
	perSec  int

	mu            sync.Mutex
	topics        map[string]*topic // by ARN
	outbox        []Message
	confirmations []Confirmation
	changed       chan struct{} // closed and replaced when the outbox grows
}

type topic struct {
	Arn           string
	Name          string
	Subscriptions []*subscription
}

type subscription struct {
	Arn          string
	Protocol     string
	Endpoint     string
	FilterPolicy string `json:",omitempty"`
	// FilterPolicyScope is MessageAttributes (default) or MessageBody.
	FilterPolicyScope string `json:",omitempty"`
	// Pending is true until the endpoint confirms with Token; a pending
	// subscription receives no messages.
	Pending bool   `json:",omitempty"`
	Token   string `json:",omitempty"`
	// AuthenticateOnUnsubscribe is set when the subscription was confirmed
	// through a signed ConfirmSubscription asking for it: the e-mail's
	// unsubscribe link then cannot remove it.
	AuthenticateOnUnsubscribe bool `json:",omitempty"`
	// Suspended is set when the subscription was sent more than the e-mail
	// rate within a second; it receives nothing until confirmed again.
	Suspended bool `json:",omitempty"`
	filter    *eventpattern.Pattern
	// window and sent count the deliveries of the current second.
	window time.Time
	sent   int
}

// New returns an SNS with no topics.
func New(opts *Options) *Service {
	s := &Service{now: time.Now, topics: map[string]*topic{}, changed: make(chan struct{}),
		confirm: func() string { return "https://sns." + core.Region + ".amazonaws.com" }}
	if opts != nil {
		s.perSec = opts.EmailPerSecond
		s.print = opts.Print
		if opts.Now != nil {
			s.now = opts.Now
		}
		if opts.ConfirmationBase != nil {
			s.confirm = opts.ConfirmationBase
		}
	}
	return s
}

// TopicARN is the ARN of the topic with that name.
func TopicARN(name string) string {
	return fmt.Sprintf("arn:aws:sns:%s:%s:%s", core.Region, core.Account, name)
}

// ServeHTTP serves the SNS API the project calls: Publish. Topics and
// subscriptions are set up through the Go API (CreateTopic, Subscribe);
// any other action is refused, named.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	core.ServeAWSQuery(w, r, "sns", Namespace, map[string]core.QueryOp{
		"Publish":             s.publish,
		"ConfirmSubscription": s.confirmSubscription,
	})
}

func invalid(format string, args ...any) *core.APIError {
	return core.Errorf("InvalidParameter", http.StatusBadRequest, "Invalid parameter: "+format, args...)
}

func topicNotFound() *core.APIError {
	return core.Errorf("NotFound", http.StatusNotFound, "Topic does not exist")
}

var topicNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// CreateTopic creates a topic (idempotent, as in AWS) and returns its ARN.
func (s *Service) CreateTopic(name string) (string, error) {
	if !topicNameRE.MatchString(name) {
		return "", invalid("Topic Name")
	}
	arn := TopicARN(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topics[arn] == nil {
		s.topics[arn] = &topic{Arn: arn, Name: name}
	}
	return arn, nil
}

// Subscribe subscribes an e-mail endpoint (protocol email or email-json)
// with an optional filter policy and returns the subscription's ARN. The
// subscription is PendingConfirmation, and a confirmation e-mail with its
// link goes to the endpoint (Confirmations), until the recipient follows
// it (ConfirmSubscription): "the owner of the endpoint must confirm the
// subscription" (Subscribe, Amazon SNS API Reference). Subscribing the same
// endpoint again returns the same subscription, mailing the confirmation
// again while it is pending; with a different filter policy it is an
// error, as in AWS.
func (s *Service) Subscribe(topicArn, protocol, endpoint, filterPolicy, scope string) (string, error) {
	switch protocol {
	case "email", "email-json":
	case "":
		return "", invalid("Protocol")
	default:
		return "", invalid("Protocol Reason: the aliasflow sandbox delivers only to email and email-json subscriptions, not %s", protocol)
	}
	if !strings.Contains(endpoint, "@") {
		return "", invalid("Email address")
	}
	switch scope {
	case "", "MessageAttributes", "MessageBody":
	default:
		return "", invalid("Attributes Reason: FilterPolicyScope: Invalid value [%s]. Please use either MessageBody or MessageAttributes", scope)
	}
	var filter *eventpattern.Pattern
	if filterPolicy != "" {
		var err error
		if filter, err = compilePolicy(filterPolicy, scope); err != nil {
			return "", invalid("Attributes Reason: FilterPolicy: %v", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topicArn]
	if t == nil {
		return "", topicNotFound()
	}
	for _, sub := range t.Subscriptions {
		if sub.Protocol == protocol && sub.Endpoint == endpoint {
			if sub.FilterPolicy != filterPolicy || sub.FilterPolicyScope != scope {
				return "", invalid("Attributes Reason: Subscription already exists with different attributes")
			}
			if sub.Suspended {
				sub.Suspended, sub.Pending, sub.Token = false, true, newToken()
			}
			if sub.Pending {
				s.requestConfirmation(t, sub)
			}
			return sub.Arn, nil
		}
	}
	sub := &subscription{Arn: topicArn + ":" + core.UUID(), Protocol: protocol, Endpoint: endpoint,
		FilterPolicy: filterPolicy, FilterPolicyScope: scope, filter: filter, Pending: true, Token: newToken()}
	t.Subscriptions = append(t.Subscriptions, sub)
	s.requestConfirmation(t, sub)
	return sub.Arn, nil
}

func newToken() string {
	var b [64]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestConfirmation mails the confirmation link; s.mu is held.
func (s *Service) requestConfirmation(t *topic, sub *subscription) {
	q := url.Values{"TopicArn": {t.Arn}, "Token": {sub.Token}, "Endpoint": {sub.Endpoint}}
	c := Confirmation{TopicArn: t.Arn, Endpoint: sub.Endpoint, SubscriptionArn: sub.Arn, Token: sub.Token,
		URL: s.confirm() + ConfirmationPath + "?" + q.Encode(), Time: s.now().UTC()}
	s.confirmations = append(s.confirmations, c)
	if s.print != nil {
		fmt.Fprintf(s.print, "--- SNS %s → %s ---\nSubject: AWS Notification - Subscription Confirmation\n\nYou have chosen to subscribe to the topic:\n%s\n\nTo confirm this subscription, click or visit the link below:\n%s\n---\n",
			t.Arn, sub.Endpoint, t.Arn, c.URL)
	}
}

// Confirmations returns the confirmation e-mails sent so far, oldest first.
func (s *Service) Confirmations() []Confirmation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Confirmation(nil), s.confirmations...)
}

// PendingConfirmations returns, for each subscription still awaiting
// confirmation, the latest confirmation e-mail sent for it.
func (s *Service) PendingConfirmations() []Confirmation {
	s.mu.Lock()
	defer s.mu.Unlock()
	pending := map[string]bool{}
	for _, t := range s.topics {
		for _, sub := range t.Subscriptions {
			if sub.Pending {
				pending[sub.Arn] = true
			}
		}
	}
	var out []Confirmation
	for i := len(s.confirmations) - 1; i >= 0; i-- {
		if c := s.confirmations[i]; pending[c.SubscriptionArn] {
			out = append(out, c)
			delete(pending, c.SubscriptionArn)
		}
	}
	slices.Reverse(out)
	return out
}

// ConfirmSubscription confirms the pending subscription of topicArn whose
// confirmation token is token, as following the mailed link does, and
// returns its ARN. Confirming again is harmless; an unknown token is
// InvalidParameter, as AWS answers it.
func (s *Service) ConfirmSubscription(topicArn, token string) (string, error) {
	return s.confirmWith(topicArn, token, false)
}

// confirmWith confirms as ConfirmSubscription; authenticate (only from a
// signed request) protects the subscription from unauthenticated
// unsubscribes, and a later unsigned confirmation does not lift it.
func (s *Service) confirmWith(topicArn, token string, authenticate bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topicArn]
	if t == nil {
		return "", topicNotFound()
	}
	for _, sub := range t.Subscriptions {
		if token != "" && sub.Token == token {
			sub.Pending = false
			sub.AuthenticateOnUnsubscribe = sub.AuthenticateOnUnsubscribe || authenticate
			return sub.Arn, nil
		}
	}
	return "", invalid("Token")
}

// confirmSubscription is the signed ConfirmSubscription action: with
// AuthenticateOnUnsubscribe "true", "only the topic owner and the
// subscription owner can unsubscribe the endpoint. The unsubscribe action
// requires Amazon Web Services authentication" (ConfirmSubscription, Amazon
// SNS API Reference). An e-mail recipient who clicks the confirmation link
// confirms without it; an operator confirming with the link's token and
// this flag protects an approver from a mail scanner following the
// unsubscribe link of every message (docs/deploy.md).
func (s *Service) confirmSubscription(_ context.Context, form url.Values) (any, error) {
	auth := strings.EqualFold(form.Get("AuthenticateOnUnsubscribe"), "true")
	arn, err := s.confirmWith(form.Get("TopicArn"), form.Get("Token"), auth)
	if err != nil {
		return nil, err
	}
	return map[string]any{"SubscriptionArn": arn}, nil
}

// remove deletes a subscription for an unsigned request, which may not
// delete one confirmed with AuthenticateOnUnsubscribe (AuthorizationError,
// 403, as SNS answers an unauthorized caller; only a signed Unsubscribe of
// the topic's or the subscription's owner could, which nothing in the
// project calls).
func (s *Service) remove(arn string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.topics {
		for i, sub := range t.Subscriptions {
			if sub.Arn != arn {
				continue
			}
			if sub.AuthenticateOnUnsubscribe {
				return core.Errorf("AuthorizationError", http.StatusForbidden, "This subscription requires authentication to unsubscribe (AuthenticateOnUnsubscribe)")
			}
			t.Subscriptions = slices.Delete(t.Subscriptions, i, i+1)
			return nil
		}
	}
	return core.Errorf("NotFound", http.StatusNotFound, "Subscription does not exist")
}

// UnsubscribePath is where the unsubscribe link of every e-mail points on
// ConfirmationBase (?SubscriptionArn=…): unsigned, as anyone holding the
// mail — or a link-following mail scanner — opens it.
const UnsubscribePath = "/unsubscribe.html"

// ServeUnsubscribe serves the unsubscribe link (GET UnsubscribePath).
func (s *Service) ServeUnsubscribe(w http.ResponseWriter, r *http.Request) {
	err := s.remove(r.URL.Query().Get("SubscriptionArn"))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err != nil {
		status := http.StatusBadRequest
		var apiErr *core.APIError
		if errors.As(err, &apiErr) {
			status = apiErr.Status
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "Not unsubscribed: %v\n", err)
		return
	}
	fmt.Fprintln(w, "Subscription removed: you will no longer receive messages from this topic.")
}

// ServeConfirmation serves the confirmation link (GET ConfirmationPath
// ?TopicArn=…&Token=…): the page the recipient's click opens.
func (s *Service) ServeConfirmation(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	arn, err := s.ConfirmSubscription(q.Get("TopicArn"), q.Get("Token"))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "Subscription not confirmed: %v\n", err)
		return
	}
	fmt.Fprintf(w, "Subscription confirmed!\nYou have successfully subscribed.\nYour subscription's id is:\n%s\n", arn)
}

// compilePolicy checks a filter policy and compiles it with the EventBridge
// matcher, whose syntax SNS filter policies share (cut to exact strings
// and prefix, what the approval subscription's policy uses; the rest is
// refused by name). Under the
// MessageAttributes scope a policy is flat: attribute name → conditions.
func compilePolicy(policy, scope string) (*eventpattern.Pattern, error) {
	if scope != "MessageBody" {
		var flat map[string]json.RawMessage
		if err := json.Unmarshal([]byte(policy), &flat); err != nil {
			return nil, fmt.Errorf("not a JSON object: %v", err)
		}
		for k, v := range flat {
			if k != "$or" && strings.HasPrefix(strings.TrimSpace(string(v)), "{") {
				return nil, fmt.Errorf("attribute %s: nested policies apply to the message body only (FilterPolicyScope MessageBody)", k)
			}
		}
	}
	return eventpattern.Compile(policy)
}

// Attribute is one message attribute as Publish takes it (Binary values are not delivered to e-mail and are refused).
type Attribute struct {
	DataType, StringValue string
}

func (s *Service) publish(_ context.Context, form url.Values) (any, error) {
	attrs := map[string]Attribute{}
	for i := 1; ; i++ {
		p := fmt.Sprintf("MessageAttributes.entry.%d.", i)
		name, ok := form[p+"Name"]
		if !ok {
			break
		}
		attrs[name[0]] = Attribute{DataType: form.Get(p + "Value.DataType"), StringValue: form.Get(p + "Value.StringValue")}
		if form.Get(p+"Value.BinaryValue") != "" {
			return nil, core.Errorf("ParameterValueInvalid", http.StatusBadRequest, "The message attribute '%s': the aliasflow sandbox does not deliver Binary attributes to e-mail.", name[0])
		}
	}
	arn := form.Get("TopicArn")
	if arn == "" {
		arn = form.Get("TargetArn")
	}
	if form.Get("PhoneNumber") != "" {
		return nil, invalid("PhoneNumber Reason: the aliasflow sandbox does not send SMS")
	}
	if form.Get("MessageStructure") != "" {
		return nil, invalid("MessageStructure Reason: the aliasflow sandbox does not support per-protocol messages")
	}
	id, err := s.Publish(arn, form.Get("Subject"), form.Get("Message"), attrs)
	if err != nil {
		return nil, err
	}
	return struct{ MessageId string }{id}, nil
}

// Publish publishes to a topic (the Go API behind Publish): every
// confirmed subscription whose filter policy matches gets a copy in the
// outbox; a topic without confirmed subscriptions keeps the raw publish
// there (Endpoint "").
func (s *Service) Publish(topicArn, subject, message string, attrs map[string]Attribute) (string, error) {
	if message == "" {
		return "", invalid("Empty message")
	}
	if len(message) > maxMessageBytes {
		return "", invalid("Message too long")
	}
	if !validSubject(subject) {
		return "", invalid("Subject")
	}
	values := map[string]string{}
	event := map[string]any{}
	for name, a := range attrs {
		v, err := attributeValue(name, a)
		if err != nil {
			return "", err
		}
		values[name], event[name] = a.StringValue, v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topicArn]
	if t == nil {
		return "", topicNotFound()
	}
	id := core.UUID()
	base := Message{MessageID: id, TopicArn: topicArn, Subject: subject, Message: message, Attributes: values, Time: s.now().UTC()}
	confirmed := 0
	for _, sub := range t.Subscriptions {
		if !sub.Pending {
			confirmed++
		}
	}
	if confirmed == 0 {
		s.deliver(base)
	}
	for _, sub := range t.Subscriptions {
		// An unconfirmed endpoint receives nothing.
		if sub.Pending || sub.Suspended || (sub.filter != nil && !sub.matches(event, message)) {
			continue
		}
		if !s.pace(sub, base.Time) {
			continue
		}
		m := base
		m.SubscriptionArn, m.Protocol, m.Endpoint = sub.Arn, sub.Protocol, sub.Endpoint
		s.deliver(m)
	}
	return id, nil
}

// pace counts a delivery to sub at now and reports whether it is within
// the e-mail rate; beyond it the subscription is suspended. s.mu is held.
func (s *Service) pace(sub *subscription, now time.Time) bool {
	if s.perSec <= 0 {
		return true
	}
	if now.Sub(sub.window) >= time.Second {
		sub.window, sub.sent = now, 0
	}
	sub.sent++
	if sub.sent <= s.perSec {
		return true
	}
	sub.Suspended = true
	if s.print != nil {
		fmt.Fprintf(s.print, "--- SNS: subscription %s (%s) suspended: more than %d e-mail messages within a second ---\n", sub.Arn, sub.Endpoint, s.perSec)
	}
	return false
}

// Suspended lists the endpoints whose subscriptions were suspended for
// exceeding the e-mail rate, sorted.
func (s *Service) Suspended() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, t := range s.topics {
		for _, sub := range t.Subscriptions {
			if sub.Suspended {
				out = append(out, sub.Endpoint)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (sub *subscription) matches(attrs map[string]any, body string) bool {
	if sub.FilterPolicyScope == "MessageBody" {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return false // a body that is not a JSON object matches no body policy
		}
		return sub.filter.MatchValue(m)
	}
	return sub.filter.MatchValue(attrs)
}

// attributeValue checks a message attribute and returns the value a filter
// policy sees: a string, a number, or (String.Array) the array's elements.
func attributeValue(name string, a Attribute) (any, error) {
	bad := func(format string, args ...any) error {
		return core.Errorf("ParameterValueInvalid", http.StatusBadRequest, format, args...)
	}
	base, _, _ := strings.Cut(a.DataType, ".")
	switch {
	case a.DataType == "String.Array":
		var arr []any
		dec := json.NewDecoder(strings.NewReader(a.StringValue))
		dec.UseNumber()
		if err := dec.Decode(&arr); err != nil {
			return nil, bad("The message attribute '%s' with type 'String.Array' has an invalid value: %v", name, err)
		}
		return arr, nil
	case base == "String":
		if a.StringValue == "" {
			return nil, bad("The message attribute '%s' must contain non-empty message attribute value for message attribute type 'String'.", name)
		}
		return a.StringValue, nil
	case base == "Number":
		if _, err := strconv.ParseFloat(a.StringValue, 64); err != nil {
			return nil, bad("The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", name)
		}
		return json.Number(a.StringValue), nil
	case a.DataType == "":
		return nil, bad("The message attribute '%s' must contain non-empty message attribute type.", name)
	}
	return nil, bad("The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", name)
}

// validSubject applies AWS's rule: ASCII, starting with a letter, digit or
// punctuation, no line breaks or control characters, under 100 characters.
func validSubject(s string) bool {
	if s == "" {
		return true
	}
	if len(s) >= 100 || !utf8.ValidString(s) || s[0] == ' ' {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return false
		}
	}
	return true
}

// deliver appends to the outbox, prints and wakes waiters; s.mu is held.
func (s *Service) deliver(m Message) {
	s.outbox = append(s.outbox, m)
	if s.print != nil {
		to := m.Endpoint
		if to == "" {
			to = "(no subscribers)"
		}
		fmt.Fprintf(s.print, "--- SNS %s → %s ---\nSubject: %s\n\n%s\n---\n", m.TopicArn, to, m.Subject, m.Message)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// Outbox returns a copy of every message delivered so far, oldest first.
func (s *Service) Outbox() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.outbox))
	copy(out, s.outbox)
	return out
}

// Wait returns the first outbox message at index ≥ from that match
// accepts, waiting for it until ctx ends; its index is returned so a caller
// can wait for the next one after it.
func (s *Service) Wait(ctx context.Context, from int, match func(Message) bool) (Message, int, error) {
	for {
		s.mu.Lock()
		for i := max(from, 0); i < len(s.outbox); i++ {
			if match == nil || match(s.outbox[i]) {
				m := s.outbox[i]
				s.mu.Unlock()
				return m, i, nil
			}
		}
		from = len(s.outbox)
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return Message{}, -1, fmt.Errorf("sns: wait for a message: %w", ctx.Err())
		}
	}
}

type snapshot struct {
	Topics        []*topic
	Outbox        []Message
	Confirmations []Confirmation `json:",omitempty"`
}

// Snapshot returns topics, subscriptions and the outbox as JSON.
func (s *Service) Snapshot() ([]byte, error) {
	return core.Snapshot(&s.mu, func() snapshot {
		return snapshot{Topics: core.SortedValues(s.topics), Outbox: s.outbox, Confirmations: s.confirmations}
	})
}

// Restore replaces the state with that of a Snapshot.
func (s *Service) Restore(data []byte) error {
	return core.Restore("sns", data, &s.mu, func(snap snapshot) error {
		for _, t := range snap.Topics {
			for _, sub := range t.Subscriptions {
				if sub.FilterPolicy == "" {
					continue
				}
				f, err := compilePolicy(sub.FilterPolicy, sub.FilterPolicyScope)
				if err != nil {
					return fmt.Errorf("%s: %w", sub.Arn, err)
				}
				sub.filter = f
			}
		}
		s.topics, s.outbox, s.confirmations = core.Keyed(snap.Topics, func(t *topic) string { return t.Arn }), snap.Outbox, snap.Confirmations
		close(s.changed)
		s.changed = make(chan struct{})
		return nil
	})
}
