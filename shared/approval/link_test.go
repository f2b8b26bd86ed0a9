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
