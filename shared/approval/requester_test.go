package approval_test

import (
	"context"
	"strings"
	"testing"
	"time"
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
			[]string{`<dt>Requested by <small class="claim">(claimed, not verified)</small></dt><dd id="merged-by">dana@example.com</dd>`,
				`<dt>Started by <small class="verified">(verified: the CodeBuild build&#39;s initiator)</small></dt><dd id="started-by">codebuild-webhook</dd>`}, nil},
		{"claimed only", "arn:aws:iam::123456789012:user/ben", "",
			[]string{`(claimed, not verified)</small></dt><dd id="merged-by"><span title="arn:aws:iam::123456789012:user/ben">ben</span> <details class="arn"><summary>ARN</summary><code>arn:aws:iam::123456789012:user/ben</code></details></dd>`}, []string{`id="started-by"`}},
		{"neither", "", "",
			[]string{`<dt>Requested by</dt><dd id="merged-by">unknown</dd>`}, []string{`id="started-by"`, "claimed"}},
		{"bidi override", "\u202emoc.elpmaxe@anad", "ops\x1b[2J",
			[]string{`<dd id="merged-by">&#34;\u202emoc.elpmaxe@anad&#34;</dd>`, `<dd id="started-by">&#34;ops\x1b[2J&#34;</dd>`}, []string{"\u202e", "\x1b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, func(w *waiting) {
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

// TestApprovalPageCLICaller: a release the CLI requested names its caller
// once, verified by STS from the caller proof.
func TestApprovalPageCLICaller(t *testing.T) {
	const arn = "arn:aws:iam::123456789012:user/ben"
	e := newEnvWith(t, func(w *waiting) {
		w.State.Release.Source, w.State.Release.RequestedBy, w.State.Release.VerifiedBy = "aliasflow", arn, arn
	})
	resp := e.h.ServeAPIGateway(context.Background(), getReq(link(t, testKey, execARN, alice, entered.Add(time.Hour))))
	// The ARN is behind the user's name: on hover and in a details element.
	want := `<dt>Requested by <small class="verified">(verified by AWS STS: the caller of aliasflow release)</small></dt><dd id="started-by"><span title="` + arn + `">ben</span> <details class="arn"><summary>ARN</summary><code>` + arn + `</code></details></dd>`
	if !strings.Contains(resp.Body, want) || strings.Contains(resp.Body, "claimed") {
		t.Errorf("page lacks %s, or says claimed:\n%s", want, resp.Body)
	}
}
