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
	// KeyID names the key that signed the link (KeyID of it), so that a
	// rotation of the signing key can be told from a forgery; links
	// signed before it existed have none.
	KeyID string `json:"kid,omitempty"`
	// Step is the position in the plan of the approval step the link
	// decides (issue 20), nil for the approval before the first weight:
	// a link decides only what its approver was asked.
	Step *int `json:"step,omitempty"`
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

// KeyID is a key's id: a digest that names it without revealing it.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("aliasflow approval link key id\x00"), key...))
	return b64.EncodeToString(sum[:8])
}

// Sign returns the link token for c: base64url(JSON claims, with the key's
// id) "." base64url(HMAC-SHA256(key, that first part)).
func Sign(key []byte, c Claims) (string, error) {
	if len(key) < MinKeyBytes {
		return "", fmt.Errorf("approval link key is %d bytes; at least %d are required", len(key), MinKeyBytes)
	}
	c.KeyID = KeyID(key)
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
		return Claims{}, errSignature
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
	if c.KeyID != "" && c.KeyID != KeyID(key) {
		return Claims{}, fmt.Errorf("%w: signed with key %s, verified with key %s", ErrForged, c.KeyID, KeyID(key))
	}
	if !now.Before(time.Unix(c.ExpiresAt, 0)) {
		return c, fmt.Errorf("%w at %s", ErrExpired, time.Unix(c.ExpiresAt, 0).UTC().Format(time.RFC3339))
	}
	return c, nil
}

// errSignature is the ErrForged of a link whose signature no key given
// matches: forged, or signed with a key this container does not hold.
var errSignature = fmt.Errorf("%w: signature does not match", ErrForged)

// VerifyAny verifies a link with each key in turn (the current key, then
// the previous one) and returns the claims of the first that signed it.
func VerifyAny(keys [][]byte, link string, now time.Time) (Claims, error) {
	err := errSignature
	for _, k := range keys {
		var c Claims
		if c, err = Verify(k, link, now); !errors.Is(err, errSignature) {
			return c, err
		}
	}
	return Claims{}, err
}

// KeySource gives the HMAC keys links are signed and verified with.
type KeySource interface {
	// Key is the current key: it signs new links.
	Key(ctx context.Context) ([]byte, error)
	// VerifyKeys are the keys a link may have been signed with: the
	// current key, then the previous one while a rotation keeps it.
	// refresh reads them again first: a warm container that cached them
	// before a rotation holds neither the new key nor the right previous
	// one.
	VerifyKeys(ctx context.Context, refresh bool) ([][]byte, error)
}

// StaticKey is a KeySource holding the key itself (tests, the sandbox).
type StaticKey []byte

// Key returns the key.
func (k StaticKey) Key(context.Context) ([]byte, error) { return k, nil }

// VerifyKeys returns the key.
func (k StaticKey) VerifyKeys(context.Context, bool) ([][]byte, error) { return [][]byte{k}, nil }

// SecretsAPI is the Secrets Manager call SecretKey makes.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretKey reads the keys from a Secrets Manager secret: the current
// version (AWSCURRENT) signs, it and the previous one (AWSPREVIOUS, which a
// rotation keeps: "Rotation by Lambda function", Secrets Manager User
// Guide; GetSecretValue's VersionStage) verify. They are read once per cold
// start and again, at most once per RefreshEvery, when a link matches
// neither; a failed read is not cached.
type SecretKey struct {
	api SecretsAPI
	arn string
	now func() time.Time

	mu       sync.Mutex
	current  []byte
	previous []byte
	readAt   time.Time
}

// RefreshEvery bounds how often SecretKey re-reads the secret for links
// that match no key held: a flood of forged links costs one read a
// minute.
const RefreshEvery = time.Minute

// NewSecretKey returns a SecretKey for the secret arn (or name).
func NewSecretKey(api SecretsAPI, arn string) *SecretKey {
	return &SecretKey{api: api, arn: arn, now: time.Now}
}

// SetClock replaces the clock RefreshEvery is measured with (tests).
func (s *SecretKey) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Key returns the cached current key, reading the secret the first time.
func (s *SecretKey) Key(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(ctx, false); err != nil {
		return nil, err
	}
	return s.current, nil
}

// VerifyKeys returns the current key and the previous one, if any.
func (s *SecretKey) VerifyKeys(ctx context.Context, refresh bool) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(ctx, refresh); err != nil {
		return nil, err
	}
	keys := [][]byte{s.current}
	if s.previous != nil && !bytes.Equal(s.previous, s.current) {
		keys = append(keys, s.previous)
	}
	return keys, nil
}

// load reads the keys when none are held, or when refresh asks and the
// last read is older than RefreshEvery.
func (s *SecretKey) load(ctx context.Context, refresh bool) error {
	if s.current != nil && (!refresh || s.now().Sub(s.readAt) < RefreshEvery) {
		return nil
	}
	if s.arn == "" {
		return errors.New("approval link key: no secret configured (ALIASFLOW_LINK_SECRET_ARN)")
	}
	current, err := s.read(ctx, "")
	if err != nil {
		return err
	}
	// No previous version (never rotated) reads as an error: links then
	// verify with the current key alone.
	previous, _ := s.read(ctx, "AWSPREVIOUS")
	s.current, s.previous, s.readAt = current, previous, s.now()
	return nil
}

func (s *SecretKey) read(ctx context.Context, stage string) ([]byte, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.arn)}
	if stage != "" {
		in.VersionStage = aws.String(stage)
	}
	out, err := s.api.GetSecretValue(ctx, in)
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
	return key, nil
}
