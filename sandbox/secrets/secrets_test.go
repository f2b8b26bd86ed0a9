package secretssvc

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func newTestClient(t *testing.T, svc *Service) *secretsmanager.Client {
	t.Helper()
	return secretsmanager.NewFromConfig(servicetest.Config(t, "secretsmanager", svc))
}

func TestSecretLifecycle(t *testing.T) {
	ctx := context.Background()
	svc := New(nil)
	c := newTestClient(t, svc)
	arn, err := svc.CreateSecret("aliasflow/link-key", "k1")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^arn:aws:secretsmanager:us-east-1:000000000000:secret:aliasflow/link-key-[A-Za-z0-9]{6}$`).MatchString(arn) {
		t.Errorf("ARN = %s, want the name plus a six-character suffix", arn)
	}
	tests := []struct {
		name, id string
	}{
		{"by name", "aliasflow/link-key"},
		{"by full ARN", arn},
		{"by partial ARN", strings.TrimSuffix(arn, arn[len(arn)-7:])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(tt.id)})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(out.SecretString); got != "k1" {
				t.Errorf("SecretString = %q, want k1", got)
			}
			if aws.ToString(out.ARN) != arn || len(out.VersionStages) != 1 || out.VersionStages[0] != "AWSCURRENT" || out.CreatedDate == nil {
				t.Errorf("GetSecretValue = %+v", out)
			}
		})
	}

	snap, err := svc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := New(nil)
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if got, err := restored.SecretString(arn); err != nil || got != "k1" {
		t.Errorf("restored SecretString = %q, %v; want k1", got, err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	svc := New(nil)
	if _, err := svc.CreateSecret("taken", "v"); err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, svc)
	tests := []struct {
		name  string
		call  func() error
		check func(error) bool
	}{
		{"get missing", func() error {
			_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
			return err
		}, func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) }},
		{"get by unknown ARN", func() error {
			_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("arn:aws:secretsmanager:us-east-1:000000000000:secret:taken-AAAAAA")})
			return err
		}, func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) }},
		{"wrong stage", func() error {
			_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("taken"), VersionStage: aws.String("AWSPREVIOUS")})
			return err
		}, func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) }},
		{"unknown operation", func() error {
			_, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
			return err
		}, func(err error) bool { return strings.Contains(err.Error(), "secretsmanager.ListSecrets") }},
		{"operation the project does not call", func() error {
			_, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("taken"), SecretString: aws.String("v")})
			return err
		}, func(err error) bool { return strings.Contains(err.Error(), "secretsmanager.PutSecretValue") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !tt.check(err) {
				t.Fatalf("err = %v, not the expected error", err)
			}
			servicetest.WantStatus(t, err, http.StatusBadRequest)
		})
	}
}

func TestBinarySecret(t *testing.T) {
	ctx := context.Background()
	svc := New(nil)
	c := newTestClient(t, svc)
	if _, err := svc.createSecret(ctx, []byte(`{"Name":"bin","SecretBinary":"AAEC/w=="}`)); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("bin")})
	if err != nil || string(out.SecretBinary) != string([]byte{0, 1, 2, 255}) || out.SecretString != nil {
		t.Errorf("GetSecretValue = %+v, %v; want the bytes back", out, err)
	}
}
