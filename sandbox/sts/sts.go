// Package stssvc is the sandbox's AWS STS (awsQuery): GetCallerIdentity,
// answering for account 000000000000 with an identity derived from the
// caller's access key id, so that an operator's own name (their access key
// id in the sandbox) reaches the audit trail.
package stssvc

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

// Namespace is the XML namespace of STS responses.
const Namespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// Service is the STS emulation. It is an http.Handler.
type Service struct{}

// New returns the STS emulation.
func New() *Service { return &Service{} }

// ServeHTTP serves the STS API.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := AccessKeyID(r)
	core.ServeAWSQuery(w, r, "sts", Namespace, map[string]core.QueryOp{
		"GetCallerIdentity": func(context.Context, url.Values) (any, error) {
			if key == "" {
				return nil, core.Errorf("MissingAuthenticationToken", http.StatusForbidden, "Request is missing Authentication Token")
			}
			return Identity(key), nil
		},
	})
}

// CallerIdentity is GetCallerIdentity's result.
type CallerIdentity struct {
	Arn     string
	UserId  string
	Account string
}

// Identity is the identity the sandbox reports for an access key id: the
// IAM user named after it.
func Identity(accessKeyID string) CallerIdentity {
	return CallerIdentity{
		Arn:     "arn:aws:iam::" + core.Account + ":user/" + accessKeyID,
		UserId:  accessKeyID,
		Account: core.Account,
	}
}

var credentialRE = regexp.MustCompile(`Credential=([^/,\s]+)/`)

// AccessKeyID returns the access key id of a SigV4-signed request (from the
// Authorization header or a presigned URL's X-Amz-Credential), "" if unsigned.
func AccessKeyID(r *http.Request) string {
	if m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	if c := r.URL.Query().Get("X-Amz-Credential"); c != "" {
		key, _, _ := strings.Cut(c, "/")
		return key
	}
	return ""
}

// Snapshot returns the (empty) state: STS keeps none.
func (s *Service) Snapshot() ([]byte, error) { return []byte("{}"), nil }

// Restore accepts a Snapshot; there is nothing to restore.
func (s *Service) Restore([]byte) error { return nil }
