package approval

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/shared/promotion"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Claims is what an approval link says: who may decide which execution,
// until when. The link is signed, not encrypted; it holds no task token.
type Claims struct {
	Execution string `json:"execution"`
	Approver  string `json:"approver"`
	// IssuedAt and ExpiresAt are Unix seconds.
	IssuedAt  int64  `json:"issuedAt"`
	ExpiresAt int64  `json:"expiresAt"`
	Nonce     string `json:"nonce"`
}

// Link verification failures. Verify wraps one of them with the reason.
var (
	// ErrForged: the link is malformed or its signature does not match.
	ErrForged = errors.New("approval link is not genuine")
	// ErrExpired: the link was genuine but its time is up.
	ErrExpired = errors.New("approval link has expired")
)

// MinKeyBytes is the shortest HMAC key accepted: a shorter secret would
// make links guessable.
const MinKeyBytes = 16

// maxLinkLen bounds what Verify decodes; a genuine link is a few hundred
// characters.
const maxLinkLen = 4096

var b64 = base64.RawURLEncoding

// NewNonce returns 16 random bytes, base64url, from r (crypto/rand when nil).
func NewNonce(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var n [16]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", fmt.Errorf("approval link nonce: %w", err)
	}
	return b64.EncodeToString(n[:]), nil
}

// Sign returns the link token for c: base64url(JSON claims) "."
// base64url(HMAC-SHA256(key, that first part)).
func Sign(key []byte, c Claims) (string, error) {
	if len(key) < MinKeyBytes {
		return "", fmt.Errorf("approval link key is %d bytes; at least %d are required", len(key), MinKeyBytes)
	}
	if err := c.validate(); err != nil {
		return "", err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("approval link: %w", err)
	}
	payload := b64.EncodeToString(body)
	return payload + "." + b64.EncodeToString(mac(key, payload)), nil
}

func mac(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func (c Claims) validate() error {
	switch {
	case !promotion.IsExecutionARN(c.Execution):
		return fmt.Errorf("approval link: %q is not an execution ARN", c.Execution)
	case c.Approver == "":
		return errors.New("approval link: no approver")
	case c.Nonce == "":
		return errors.New("approval link: no nonce")
	case c.ExpiresAt <= c.IssuedAt:
		return fmt.Errorf("approval link: expiry %d is not after issue %d", c.ExpiresAt, c.IssuedAt)
	}
	return nil
}

// Verify checks a link token's signature with key, then its expiry at now,
// and returns its claims. Errors wrap ErrForged or ErrExpired.
func Verify(key []byte, link string, now time.Time) (Claims, error) {
	if len(key) < MinKeyBytes {
		return Claims{}, fmt.Errorf("approval link key is %d bytes; at least %d are required", len(key), MinKeyBytes)
	}
	if len(link) == 0 || len(link) > maxLinkLen {
		return Claims{}, fmt.Errorf("%w: length %d", ErrForged, len(link))
	}
	payload, sig, ok := strings.Cut(link, ".")
	if !ok || strings.Contains(sig, ".") {
		return Claims{}, fmt.Errorf("%w: not two dot-separated parts", ErrForged)
	}
	// The signature is compared as the one canonical encoding Sign writes,
	// not decoded: Go's base64 decoder skips \r and \n, so decoding would
	// accept other spellings of the same signature (found by
	// FuzzVerifyLink). Compared before decoding anything else: nothing
	// unsigned is parsed.
	if !hmac.Equal([]byte(sig), []byte(b64.EncodeToString(mac(key, payload)))) {
		return Claims{}, fmt.Errorf("%w: signature does not match", ErrForged)
	}
	body, err := b64.DecodeString(payload)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: payload is not base64url", ErrForged)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var c Claims
	if err := dec.Decode(&c); err != nil {
		return Claims{}, fmt.Errorf("%w: payload: %v", ErrForged, err)
	}
	if err := c.validate(); err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrForged, err)
	}
	if !now.Before(time.Unix(c.ExpiresAt, 0)) {
		return c, fmt.Errorf("%w at %s", ErrExpired, time.Unix(c.ExpiresAt, 0).UTC().Format(time.RFC3339))
	}
	return c, nil
}

// KeySource gives the HMAC key links are signed with.
type KeySource interface {
	Key(ctx context.Context) ([]byte, error)
}

// StaticKey is a KeySource holding the key itself (tests, the sandbox).
type StaticKey []byte

// Key returns the key.
func (k StaticKey) Key(context.Context) ([]byte, error) { return k, nil }

// SecretsAPI is the Secrets Manager call SecretKey makes.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretKey reads the key from a Secrets Manager secret once per cold
// start; a failed read is not cached, so the next request tries again.
type SecretKey struct {
	api SecretsAPI
	arn string
	mu  sync.Mutex
	key []byte
}

// NewSecretKey returns a SecretKey for the secret arn (or name).
func NewSecretKey(api SecretsAPI, arn string) *SecretKey {
	return &SecretKey{api: api, arn: arn}
}

// Key returns the cached key, reading the secret the first time.
func (s *SecretKey) Key(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	if s.arn == "" {
		return nil, errors.New("approval link key: no secret configured (ALIASFLOW_LINK_SECRET_ARN)")
	}
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.arn)})
	if err != nil {
		return nil, fmt.Errorf("approval link key: read secret %s: %w", s.arn, err)
	}
	key := []byte(aws.ToString(out.SecretString))
	if len(key) == 0 {
		key = out.SecretBinary
	}
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("approval link key: secret %s holds %d bytes; at least %d are required", s.arn, len(key), MinKeyBytes)
	}
	s.key = key
	return key, nil
}
