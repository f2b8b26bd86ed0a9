// Package secretssvc is the sandbox's AWS Secrets Manager (awsJson1_1,
// "secretsmanager.<Op>"): GetSecretValue, the one operation the project
// calls (the approval link key); secrets are created through the Go API.
// Secrets are found by name, full ARN (with the random six-character suffix
// AWS appends) or partial ARN, and carry AWSCURRENT / AWSPREVIOUS version
// stages.
package secretssvc

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

const (
	current  = "AWSCURRENT"
	previous = "AWSPREVIOUS"
)

// Service is the Secrets Manager emulation. It is an http.Handler.
type Service struct {
	now func() time.Time

	mu      sync.Mutex
	secrets map[string]*secret // by name
}

type secret struct {
	Name        string
	ARN         string
	Description string `json:",omitempty"`
	Created     time.Time
	Changed     time.Time
	Versions    []*version
}

type version struct {
	ID      string
	String  *string `json:",omitempty"`
	Binary  []byte  `json:",omitempty"`
	Stages  []string
	Created time.Time
}

// New returns an empty Secrets Manager; now defaults to time.Now.
func New(now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{now: now, secrets: map[string]*secret{}}
}

// ServeHTTP serves the Secrets Manager API.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	core.ServeAWSJSON(w, r, "secretsmanager", map[string]core.JSONOp{
		"GetSecretValue": s.getSecretValue,
	})
}

func notFound() *core.APIError {
	return core.Errorf("ResourceNotFoundException", http.StatusBadRequest, "Secrets Manager can't find the specified secret.")
}

func invalidParam(format string, args ...any) *core.APIError {
	return core.Errorf("InvalidParameterException", http.StatusBadRequest, format, args...)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)

const suffixChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = suffixChars[int(b[i])%len(suffixChars)]
	}
	return string(b[:])
}

// epoch is an awsJson timestamp (seconds since the epoch).
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// lookup finds a secret by name, full ARN or partial ARN (no suffix).
func (s *Service) lookup(id string) (*secret, error) {
	if id == "" {
		return nil, invalidParam("You must provide a value for SecretId.")
	}
	if sec := s.secrets[id]; sec != nil {
		return sec, nil
	}
	if strings.HasPrefix(id, "arn:") {
		for _, sec := range s.secrets {
			if sec.ARN == id || partialARN(sec.Name) == id {
				return sec, nil
			}
		}
	}
	return nil, notFound()
}

func partialARN(name string) string {
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s", core.Region, core.Account, name)
}

type valueIn struct {
	ClientRequestToken string
	SecretString       *string
	SecretBinary       []byte // base64 in JSON, as awsJson blobs are
}

func (v valueIn) check() error {
	if v.SecretString != nil && v.SecretBinary != nil {
		return invalidParam("You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	return nil
}

func (s *Service) createSecret(_ context.Context, body []byte) (any, error) {
	var in struct {
		Name, Description, KmsKeyId string
		valueIn
	}
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if !nameRE.MatchString(in.Name) {
		return nil, invalidParam("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secrets[in.Name] != nil {
		return nil, core.Errorf("ResourceExistsException", http.StatusBadRequest, "The operation failed because the secret %s already exists.", in.Name)
	}
	now := s.now()
	sec := &secret{Name: in.Name, ARN: partialARN(in.Name) + "-" + randomSuffix(), Description: in.Description, Created: now, Changed: now}
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name}
	if in.SecretString != nil || in.SecretBinary != nil {
		v := s.addVersion(sec, in.valueIn, nil)
		out["VersionId"] = v.ID
	}
	s.secrets[in.Name] = sec
	return out, nil
}

// addVersion makes a new AWSCURRENT version (or extra stages when stages is
// set) and moves AWSPREVIOUS to the version that was current.
func (s *Service) addVersion(sec *secret, in valueIn, stages []string) *version {
	id := in.ClientRequestToken
	if id == "" {
		id = core.UUID()
	}
	if len(stages) == 0 {
		stages = []string{current}
	}
	v := &version{ID: id, String: in.SecretString, Binary: in.SecretBinary, Created: s.now()}
	for _, st := range stages {
		for _, old := range sec.Versions {
			if old.has(st) {
				old.drop(st)
				if st == current {
					for _, o := range sec.Versions {
						o.drop(previous)
					}
					old.Stages = append(old.Stages, previous)
				}
			}
		}
		v.Stages = append(v.Stages, st)
	}
	// Versions without stages are deprecated; AWS keeps them a while, the
	// sandbox drops them at once.
	kept := sec.Versions[:0]
	for _, old := range sec.Versions {
		if len(old.Stages) > 0 {
			kept = append(kept, old)
		}
	}
	sec.Versions = append(kept, v)
	sec.Changed = v.Created
	return v
}

func (v *version) has(stage string) bool {
	for _, s := range v.Stages {
		if s == stage {
			return true
		}
	}
	return false
}

func (v *version) drop(stage string) {
	out := v.Stages[:0]
	for _, s := range v.Stages {
		if s != stage {
			out = append(out, s)
		}
	}
	v.Stages = out
}

func (s *Service) getSecretValue(_ context.Context, body []byte) (any, error) {
	var in struct{ SecretId, VersionId, VersionStage string }
	if err := core.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.lookup(in.SecretId)
	if err != nil {
		return nil, err
	}
	stage := in.VersionStage
	if stage == "" && in.VersionId == "" {
		stage = current
	}
	for _, v := range sec.Versions {
		if (in.VersionId == "" || v.ID == in.VersionId) && (stage == "" || v.has(stage)) {
			out := map[string]any{"ARN": sec.ARN, "Name": sec.Name, "VersionId": v.ID,
				"VersionStages": v.Stages, "CreatedDate": epoch(v.Created)}
			if v.String != nil {
				out["SecretString"] = *v.String
			} else {
				out["SecretBinary"] = v.Binary
			}
			return out, nil
		}
	}
	if in.VersionId == "" && in.VersionStage == "" {
		return nil, core.Errorf("ResourceNotFoundException", http.StatusBadRequest, "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")
	}
	return nil, core.Errorf("ResourceNotFoundException", http.StatusBadRequest, "Secrets Manager can't find the specified secret value for VersionId: %s, VersionStage: %s", in.VersionId, in.VersionStage)
}

// CreateSecret creates a secret with a string value (the Go API for setup)
// and returns its ARN; an existing secret of that name is an error.
func (s *Service) CreateSecret(name, value string) (string, error) {
	b, err := json.Marshal(map[string]string{"Name": name, "SecretString": value})
	if err != nil {
		return "", err
	}
	out, err := s.createSecret(context.Background(), b)
	if err != nil {
		return "", err
	}
	return out.(map[string]any)["ARN"].(string), nil
}

// SecretString returns the AWSCURRENT string value of a secret (by name or ARN).
func (s *Service) SecretString(id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.lookup(id)
	if err != nil {
		return "", err
	}
	for _, v := range sec.Versions {
		if v.has(current) && v.String != nil {
			return *v.String, nil
		}
	}
	return "", notFound()
}

type snapshot struct {
	Secrets []*secret
}

// Snapshot returns every secret (values included: the sandbox's state
// directory is as private as its process) as JSON.
func (s *Service) Snapshot() ([]byte, error) {
	return core.Snapshot(&s.mu, func() snapshot { return snapshot{Secrets: core.SortedValues(s.secrets)} })
}

// Restore replaces the secrets with those of a Snapshot.
func (s *Service) Restore(data []byte) error {
	return core.Restore("secrets", data, &s.mu, func(snap snapshot) error {
		s.secrets = core.Keyed(snap.Secrets, func(sec *secret) string { return sec.Name })
		return nil
	})
}

// ARN returns the full ARN of a secret given by name or ARN (the sandbox's
// IAM evaluates a secret's calls against it).
func (s *Service) ARN(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.lookup(id)
	if err != nil {
		return "", false
	}
	return sec.ARN, true
}
