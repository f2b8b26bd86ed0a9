package approval_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/pending/pendingtest"
)

// TestApprovalPageSaysWhatIsVerified: the page tells the requester a
// release claims from the initiator CodeBuild vouches for, and shows either
// escaped when it holds a control character (a bidi override reorders
// HTML text too; templ escapes markup, not those).
func TestApprovalPageSaysWhatIsVerified(t *testing.T) {
	tests := []struct {
		name                  string
		requestedBy, verified string
		want, notWant         []string
	}{
		{"claimed and verified", "dana@example.com", "codebuild-webhook",
			[]string{`<dt>Released by <small class="claim">(claimed, not verified)</small></dt><dd id="merged-by">dana@example.com</dd>`,
				`<dt>Started by <small class="verified">(verified: the CodeBuild build's initiator)</small></dt><dd id="started-by">codebuild-webhook</dd>`}, nil},
		{"claimed only", "arn:aws:iam::123456789012:user/ben", "",
			[]string{`(claimed, not verified)</small></dt><dd id="merged-by">arn:aws:iam::123456789012:user/ben</dd>`}, []string{`id="started-by"`}},
		{"bidi override", "\u202emoc.elpmaxe@anad", "ops\x1b[2J",
			[]string{`<dd id="merged-by">&#34;\u202emoc.elpmaxe@anad&#34;</dd>`, `<dd id="started-by">&#34;ops\x1b[2J&#34;</dd>`}, []string{"\u202e", "\x1b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, func(w *pendingtest.Waiting) {
				w.State.Release.RequestedBy, w.State.Release.VerifiedBy = tt.requestedBy, tt.verified
			})
			resp := e.h.ServeAPIGateway(context.Background(), getReq(link(t, testKey, execARN, alice, entered.Add(time.Hour))))
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d, want 200\n%s", resp.StatusCode, resp.Body)
			}
			for _, s := range tt.want {
				if !strings.Contains(resp.Body, s) {
					t.Errorf("page lacks %s", s)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(resp.Body, s) {
					t.Errorf("page has %q", s)
				}
			}
		})
	}
}
