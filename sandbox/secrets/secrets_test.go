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
	created, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("aliasflow/link-key"), SecretString: aws.String("k1"), Description: aws.String("approval link HMAC key")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.ARN)
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

	put, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("k2"), ClientRequestToken: aws.String("11111111-2222-4333-8444-555555555555")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(put.VersionId) != "11111111-2222-4333-8444-555555555555" {
		t.Errorf("VersionId = %s, want the client request token", aws.ToString(put.VersionId))
	}
	if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("k2"), ClientRequestToken: put.VersionId}); err != nil {
		t.Errorf("retry with the same token and value: %v, want success", err)
	}
	var exists *types.ResourceExistsException
	if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("k3"), ClientRequestToken: put.VersionId}); !errors.As(err, &exists) {
		t.Errorf("same token, other value: %v, want ResourceExistsException", err)
	}
	cur, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("aliasflow/link-key")})
	if err != nil || aws.ToString(cur.SecretString) != "k2" {
		t.Fatalf("current = %+v, %v; want k2", cur, err)
	}
	prev, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("aliasflow/link-key"), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || aws.ToString(prev.SecretString) != "k1" {
		t.Fatalf("previous = %+v, %v; want k1", prev, err)
	}
	desc, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("aliasflow/link-key")})
	if err != nil || len(desc.VersionIdsToStages) != 2 || aws.ToString(desc.Description) != "approval link HMAC key" || desc.LastChangedDate == nil {
		t.Fatalf("DescribeSecret = %+v, %v", desc, err)
	}

	snap, err := svc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := New(nil)
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if got, err := restored.SecretString(arn); err != nil || got != "k2" {
		t.Errorf("restored SecretString = %q, %v; want k2", got, err)
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
		{"describe missing", func() error {
			_, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("nope")})
			return err
		}, func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) }},
		{"put missing", func() error {
			_, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("nope"), SecretString: aws.String("v")})
			return err
		}, func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) }},
		{"create existing", func() error {
			_, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("taken"), SecretString: aws.String("v")})
			return err
		}, func(err error) bool { var e *types.ResourceExistsException; return errors.As(err, &e) }},
		{"create with both values", func() error {
			_, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("both"), SecretString: aws.String("v"), SecretBinary: []byte("b")})
			return err
		}, func(err error) bool { var e *types.InvalidParameterException; return errors.As(err, &e) }},
		{"wrong stage", func() error {
			_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("taken"), VersionStage: aws.String("AWSPREVIOUS")})
			return err
		}, func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) }},
		{"unknown operation", func() error {
			_, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
			return err
		}, func(err error) bool { return strings.Contains(err.Error(), "secretsmanager.ListSecrets") }},
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
	c := newTestClient(t, New(nil))
	if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: []byte{0, 1, 2, 255}}); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("bin")})
	if err != nil || string(out.SecretBinary) != string([]byte{0, 1, 2, 255}) || out.SecretString != nil {
		t.Errorf("GetSecretValue = %+v, %v; want the bytes back", out, err)
	}
}
