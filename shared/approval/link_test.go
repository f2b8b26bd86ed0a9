package approval_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/approval"
	"github.com/aws/aws-lambda-go/events"
)

func TestVerify(t *testing.T) {
	good := func(t *testing.T) string { return link(t, testKey, execARN, alice, entered.Add(time.Hour)) }
	// resign signs an arbitrary payload with the right key: what a holder
	// of the key could make, to test the claim checks after the signature.
	resign := func(payload string) string {
		m := hmac.New(sha256.New, []byte(testKey))
		m.Write([]byte(payload))
		return payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name    string
		link    func(t *testing.T) string
		now     time.Time
		wantErr error
	}{
		{"genuine", good, now0, nil},
		{"genuine, a second before expiry", good, entered.Add(time.Hour - time.Second), nil},
		{"expired at the second", good, entered.Add(time.Hour), approval.ErrExpired},
		{"other key", func(t *testing.T) string {
			return link(t, "someone-else's-key-0123456789", execARN, alice, entered.Add(time.Hour))
		}, now0, approval.ErrForged},
		{"approver swapped", func(t *testing.T) string { return tamper(t, good(t), bob) }, now0, approval.ErrForged},
		{"signature of another link", func(t *testing.T) string {
			a, b := good(t), link(t, testKey, execARN, bob, entered.Add(time.Hour))
			pa, _, _ := strings.Cut(a, ".")
			_, sb, _ := strings.Cut(b, ".")
			return pa + "." + sb
		}, now0, approval.ErrForged},
		{"padded base64", func(t *testing.T) string { return good(t) + "=" }, now0, approval.ErrForged},
		{"three parts", func(t *testing.T) string { return good(t) + ".x" }, now0, approval.ErrForged},
		{"empty", func(*testing.T) string { return "" }, now0, approval.ErrForged},
		{"huge", func(*testing.T) string { return strings.Repeat("a", 10000) }, now0, approval.ErrForged},
		{"signed but not JSON", func(*testing.T) string { return resign(enc("hello")) }, now0, approval.ErrForged},
		{"signed with unknown field", func(*testing.T) string {
			return resign(enc(`{"execution":"arn:aws:states:us-east-1:0:execution:m:x","approver":"a@b.c","issuedAt":1,"expiresAt":9999999999,"nonce":"n","admin":true}`))
		}, now0, approval.ErrForged},
		{"signed without approver", func(*testing.T) string {
			return resign(enc(`{"execution":"arn:aws:states:us-east-1:0:execution:m:x","issuedAt":1,"expiresAt":9999999999,"nonce":"n"}`))
		}, now0, approval.ErrForged},
		{"signed with a non-execution ARN", func(*testing.T) string {
			return resign(enc(`{"execution":"arn:aws:lambda:us-east-1:0:function:x","approver":"a@b.c","issuedAt":1,"expiresAt":9999999999,"nonce":"n"}`))
		}, now0, approval.ErrForged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := approval.Verify([]byte(testKey), tc.link(t), tc.now)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.Execution != execARN || c.Approver != alice || c.Nonce == "" {
					t.Errorf("claims = %+v", c)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	ok := approval.Claims{Execution: execARN, Approver: alice, IssuedAt: 1, ExpiresAt: 2, Nonce: "n"}
	tests := []struct {
		name   string
		key    string
		mutate func(c *approval.Claims)
		want   string
	}{
		{"short key", "short", func(*approval.Claims) {}, "at least 16"},
		{"no approver", testKey, func(c *approval.Claims) { c.Approver = "" }, "no approver"},
		{"not an execution", testKey, func(c *approval.Claims) { c.Execution = "hello" }, "not an execution ARN"},
		{"expiry before issue", testKey, func(c *approval.Claims) { c.ExpiresAt = 0 }, "not after issue"},
		{"no nonce", testKey, func(c *approval.Claims) { c.Nonce = "" }, "no nonce"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mutate(&c)
			if _, err := approval.Sign([]byte(tc.key), c); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestNoncesDiffer(t *testing.T) {
	a, err := approval.NewNonce(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := approval.NewNonce(nil)
	if a == b || len(a) != 22 {
		t.Errorf("nonces %q and %q: want two different 16-byte values", a, b)
	}
	if _, err := approval.NewNonce(bytes.NewReader(nil)); err == nil {
		t.Error("a failing random source gave a nonce")
	}
}

// FuzzVerifyLink: Verify never panics, and whatever it accepts was signed
// with the key: re-signing the accepted claims' payload gives the same link.
func FuzzVerifyLink(f *testing.F) {
	key := []byte(testKey)
	genuine, _ := approval.Sign(key, approval.Claims{Execution: execARN, Approver: alice, IssuedAt: entered.Unix(), ExpiresAt: entered.Add(time.Hour).Unix(), Nonce: "bm9uY2U"})
	other, _ := approval.Sign([]byte("another-key-0123456789"), approval.Claims{Execution: execARN, Approver: alice, IssuedAt: entered.Unix(), ExpiresAt: entered.Add(time.Hour).Unix(), Nonce: "bm9uY2U"})
	for _, s := range []string{genuine, other, "", ".", "a.b", genuine + "x", strings.Replace(genuine, "e", "f", 1), "eyJ9.", "%%%.%%%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, l string) {
		c, err := approval.Verify(key, l, now0)
		if err != nil {
			if !errors.Is(err, approval.ErrForged) && !errors.Is(err, approval.ErrExpired) {
				t.Fatalf("Verify(%q) = %v: neither forged nor expired", l, err)
			}
			return
		}
		payload, sig, _ := strings.Cut(l, ".")
		m := hmac.New(sha256.New, key)
		m.Write([]byte(payload))
		if want := base64.RawURLEncoding.EncodeToString(m.Sum(nil)); sig != want {
			t.Fatalf("Verify accepted %q, whose signature is not the key's", l)
		}
		if c.Approver == "" || c.Execution == "" {
			t.Fatalf("Verify accepted empty claims %+v", c)
		}
	})
}

// FuzzDecisionRequest: any POST (form body, content type, base64 flag) is
// parsed without panicking, and without a genuine link nothing is decided.
func FuzzDecisionRequest(f *testing.F) {
	f.Add("POST", "application/x-www-form-urlencoded", "t=abc&decision=approve&comment=ok", false)
	f.Add("POST", "application/x-www-form-urlencoded; charset=UTF-8", "t=a.b&decision=reject", false)
	f.Add("POST", "application/x-www-form-urlencoded", "dD1hJmRlY2lzaW9uPWFwcHJvdmU=", true)
	f.Add("POST", "multipart/form-data; boundary=x", "--x--", false)
	f.Add("GET", "", "", false)
	f.Add("POST", "application/x-www-form-urlencoded", "%zz&t=%", false)
	f.Fuzz(func(t *testing.T, method, contentType, body string, b64 bool) {
		req := events.APIGatewayProxyRequest{HTTPMethod: method, Headers: map[string]string{"Content-Type": contentType}, Body: body, IsBase64Encoded: b64,
			QueryStringParameters: map[string]string{"t": body}}
		if form, err := approval.ParseDecision(req); err == nil {
			if form.Link == "" || len([]rune(form.Comment)) > approval.MaxCommentRunes {
				t.Fatalf("ParseDecision accepted %+v", form)
			}
		} else {
			var re *approval.RequestError
			if !errors.As(err, &re) || re.Status < 400 || re.Status > 499 {
				t.Fatalf("ParseDecision error %v is not a 4xx RequestError", err)
			}
		}
		e := newEnv(t)
		resp := e.h.ServeAPIGateway(context.Background(), req)
		if resp.StatusCode < 400 && resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if len(e.sfn.Sent) != 0 {
			t.Fatalf("a request without a genuine link decided: %+v", req)
		}
		if resp.Headers["Content-Security-Policy"] == "" {
			t.Fatalf("response without CSP")
		}
	})
}

// TestLinksSurviveKeyRotation (issue 18): a link names the key that signed
// it (kid) and is verified with the current key and the previous one, so
// rotating the secret breaks no pending link; a warm container that read
// the secret before the rotation re-reads it for a link it cannot verify,
// at most once per RefreshEvery, so forged links cannot make it hammer
// Secrets Manager.
func TestLinksSurviveKeyRotation(t *testing.T) {
	const oldKey, newKey = "old-key-0123456789abcdef", "new-key-0123456789abcdef"
	exec := "arn:aws:states:us-east-1:000000000000:execution:aliasflow-promotion:hello-v7-5a1e0c3d"
	now := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	sign := func(key string) string {
		l, err := approval.Sign([]byte(key), approval.Claims{Execution: exec, Approver: "alice@example.com", IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), Nonce: "bm9uY2Utbm9uY2Utbm9uY2U"})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	verify := func(ks approval.KeySource, link string) (approval.Claims, error) {
		keys, err := ks.VerifyKeys(context.Background(), false)
		if err != nil {
			return approval.Claims{}, err
		}
		c, err := approval.VerifyAny(keys, link, now)
		if errors.Is(err, approval.ErrForged) {
			if keys, err = ks.VerifyKeys(context.Background(), true); err != nil {
				return approval.Claims{}, err
			}
			c, err = approval.VerifyAny(keys, link, now)
		}
		return c, err
	}
	t.Run("a pending link signed before the rotation", func(t *testing.T) {
		f := &fakeSecrets{secrets: map[string]string{"k": newKey, "k@AWSPREVIOUS": oldKey}}
		c, err := verify(approval.NewSecretKey(f, "k"), sign(oldKey))
		if err != nil || c.KeyID != approval.KeyID([]byte(oldKey)) {
			t.Errorf("claims %+v, %v; want verified by the previous key (kid %s)", c, err, approval.KeyID([]byte(oldKey)))
		}
	})
	t.Run("a warm container meets a link signed after the rotation", func(t *testing.T) {
		f := &fakeSecrets{secrets: map[string]string{"k": oldKey}}
		ks := approval.NewSecretKey(f, "k")
		clock := now
		ks.SetClock(func() time.Time { return clock })
		if _, err := verify(ks, sign(oldKey)); err != nil {
			t.Fatal(err)
		}
		f.secrets = map[string]string{"k": newKey, "k@AWSPREVIOUS": oldKey} // rotated
		before := f.reads
		clock = now.Add(approval.RefreshEvery / 2)
		if _, err := verify(ks, sign(newKey)); !errors.Is(err, approval.ErrForged) || f.reads != before {
			t.Errorf("within RefreshEvery: %v after %d reads; want refused without reading", err, f.reads-before)
		}
		clock = now.Add(approval.RefreshEvery + time.Second)
		c, err := verify(ks, sign(newKey))
		if err != nil || c.KeyID != approval.KeyID([]byte(newKey)) || f.reads != before+2 {
			t.Errorf("after RefreshEvery: %+v, %v after %d reads; want verified by the new key after reading both versions", c, err, f.reads-before)
		}
		if _, err := verify(ks, sign(oldKey)); err != nil {
			t.Errorf("the previous key no longer verifies: %v", err)
		}
	})
	t.Run("forged links cost at most one read per RefreshEvery", func(t *testing.T) {
		f := &fakeSecrets{secrets: map[string]string{"k": newKey}}
		ks := approval.NewSecretKey(f, "k")
		for range 20 {
			if _, err := verify(ks, sign("forger-key-0123456789abcdef")); !errors.Is(err, approval.ErrForged) {
				t.Fatalf("err = %v, want ErrForged", err)
			}
		}
		if f.reads != 2 {
			t.Errorf("secret read %d times for 20 forged links, want 2 (current and previous, once)", f.reads)
		}
	})
	t.Run("kid names the signing key", func(t *testing.T) {
		l := sign(newKey)
		c, err := approval.Verify([]byte(newKey), l, now)
		if err != nil || c.KeyID != approval.KeyID([]byte(newKey)) || c.KeyID == approval.KeyID([]byte(oldKey)) {
			t.Errorf("claims %+v, %v; want kid %s", c, err, approval.KeyID([]byte(newKey)))
		}
	})
}
