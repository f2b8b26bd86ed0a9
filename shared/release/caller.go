package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/untrusted"
)

// A Release Requested event's requestedBy is whatever its sender wrote. The
// aliasflow CLI also sends callerProof: a presigned sts:GetCallerIdentity
// request (SigV4 query authentication) that signs, besides the host, the
// header ProofHeader with ProofBinding(function, codeSha256). The release
// Lambda sends that request to STS with the header set from the event's own
// function and code: STS answers with the signer's ARN only if the signature
// holds, so the ARN is AWS's word for who asked for this release — the way
// aws-iam-authenticator (EKS) and Vault's AWS auth method identify IAM
// callers. A proof cannot be moved to another release (the binding is
// signed) and expires with the signature (SigV4: 15 minutes after
// X-Amz-Date). It carries the caller's access key id and, for temporary
// credentials, session token, but no secret: nothing can be signed with it.

// ProofHeader is the signed header that binds a caller proof to a release.
const ProofHeader = "X-Aliasflow-Release"

// ProofBinding is ProofHeader's value for a release of function's code.
func ProofBinding(function, codeSha256 string) string { return function + "@" + codeSha256 }

// maxProof bounds callerProof: a presigned URL with a session token is
// about 1.5 KB.
const maxProof = 8192

// ErrProofRejected is a caller proof that does not name anyone: malformed,
// for another endpoint, or refused by STS (forged, expired, for another
// release). The release goes on with the name it claims.
var ErrProofRejected = errors.New("caller proof rejected")

// Callers verifies caller proofs: it returns the ARN STS vouches for, an
// error wrapping ErrProofRejected, or a transient error (STS unreachable).
type Callers interface {
	VerifyCaller(ctx context.Context, proof, binding string) (string, error)
}

// STSCallers verifies proofs against one STS endpoint, the one the
// Lambda's own region uses; a proof for any other host is rejected without
// a request, so an event cannot make the Lambda call a host of its choice.
type STSCallers struct {
	endpoint *url.URL
	client   Doer
}

// Doer sends an HTTP request (awsenv.HTTPClient in the Lambda).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// verifyTimeout bounds one STS call.
const verifyTimeout = 5 * time.Second

// NewSTSCallers verifies proofs against endpoint ("https://sts.<region>.
// amazonaws.com", or the sandbox's) with client.
func NewSTSCallers(endpoint string, client Doer) (*STSCallers, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("STS endpoint %q is not an http(s) URL", endpoint)
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &STSCallers{endpoint: u, client: client}, nil
}

// STSEndpoint is the regional STS endpoint of region, or override (the
// AWS_ENDPOINT_URL_STS or AWS_ENDPOINT_URL a sandbox sets) when set. The
// SDK presigns for the regional endpoint ("AWS STS regional endpoints",
// the SDKs' default since 2022).
func STSEndpoint(region, override string) string {
	if override != "" {
		return override
	}
	host := "sts." + region + ".amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		host += ".cn"
	}
	return "https://" + host
}

// VerifyCaller sends proof to STS with binding in ProofHeader.
func (s *STSCallers) VerifyCaller(ctx context.Context, proof, binding string) (string, error) {
	u, err := url.Parse(proof)
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: not a URL", ErrProofRejected)
	case u.Scheme != s.endpoint.Scheme || u.Host != s.endpoint.Host || strings.Trim(u.Path, "/") != strings.Trim(s.endpoint.Path, "/") || u.User != nil || u.Fragment != "":
		return "", fmt.Errorf("%w: not a request to %s", ErrProofRejected, s.endpoint)
	}
	q := u.Query()
	if len(q["Action"]) != 1 || q.Get("Action") != "GetCallerIdentity" {
		return "", fmt.Errorf("%w: not a GetCallerIdentity request", ErrProofRejected)
	}
	signed := strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	if !slices.Contains(signed, strings.ToLower(ProofHeader)) {
		return "", fmt.Errorf("%w: %s is not signed", ErrProofRejected, ProofHeader)
	}
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrProofRejected, err)
	}
	req.Header.Set(ProofHeader, binding)
	resp, err := s.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("verify the caller with STS: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64*1024))
	if err != nil {
		return "", fmt.Errorf("verify the caller with STS: %w", err)
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return "", fmt.Errorf("verify the caller with STS: HTTP %d", resp.StatusCode)
	}
	// The answer is STS's awsQuery XML; the ARN is read as text between its
	// tags (an ARN holds no "<"), which spares the Lambda encoding/xml.
	arn := between(between(string(body), "<GetCallerIdentityResult>", "</GetCallerIdentityResult>"), "<Arn>", "</Arn>")
	if resp.StatusCode != http.StatusOK || arn == "" {
		return "", fmt.Errorf("%w: STS answered HTTP %d %s", ErrProofRejected, resp.StatusCode, untrusted.Show(between(string(body), "<Code>", "</Code>")))
	}
	return arn, nil
}

// between is the text of s between the first open and the close after it,
// "" when either is missing.
func between(s, open, close string) string {
	_, rest, ok := strings.Cut(s, open)
	if !ok {
		return ""
	}
	inner, _, ok := strings.Cut(rest, close)
	if !ok {
		return ""
	}
	return inner
}
