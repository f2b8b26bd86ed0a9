package ssmsvc

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

func TestParameterLifecycle(t *testing.T) {
	// Through the real SDK client: PutParameter creates version 1, a second
	// write without Overwrite is ParameterAlreadyExists, with Overwrite it
	// makes version 2; GetParameter reads by name and by ARN, and a missing
	// name is ParameterNotFound (SSM API reference, GetParameter/PutParameter).
	ctx := context.Background()
	c := ssm.NewFromConfig(servicetest.Config(t, "ssm", New(nil)))
	const name = "/aliasflow/aliasflow/targets/hello"
	put, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(`{"function":"hello"}`), Type: types.ParameterTypeString})
	if err != nil || put.Version != 1 || put.Tier != types.ParameterTierStandard {
		t.Fatalf("PutParameter = %+v, %v; want version 1, Standard", put, err)
	}
	_, err = c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("x"), Type: types.ParameterTypeString})
	var exists *types.ParameterAlreadyExists
	if !errors.As(err, &exists) {
		t.Fatalf("second PutParameter = %v, want ParameterAlreadyExists", err)
	}
	put, err = c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(`{"function":"hello","v":2}`), Overwrite: aws.Bool(true)})
	if err != nil || put.Version != 2 {
		t.Fatalf("overwrite = %+v, %v; want version 2", put, err)
	}
	for _, id := range []string{name, "arn:aws:ssm:us-east-1:000000000000:parameter/aliasflow/aliasflow/targets/hello"} {
		got, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(id)})
		if err != nil {
			t.Fatalf("GetParameter(%s): %v", id, err)
		}
		p := got.Parameter
		if aws.ToString(p.Name) != name || aws.ToString(p.Value) != `{"function":"hello","v":2}` || p.Version != 2 || p.Type != types.ParameterTypeString ||
			aws.ToString(p.ARN) != "arn:aws:ssm:us-east-1:000000000000:parameter/aliasflow/aliasflow/targets/hello" {
			t.Errorf("GetParameter(%s) = %+v", id, p)
		}
	}
	_, err = c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aliasflow/aliasflow/targets/payments")})
	var notFound *types.ParameterNotFound
	if !errors.As(err, &notFound) {
		t.Errorf("GetParameter(missing) = %v, want ParameterNotFound", err)
	}
}

func TestPutParameterRefuses(t *testing.T) {
	ctx := context.Background()
	c := ssm.NewFromConfig(servicetest.Config(t, "ssm", New(nil)))
	tests := []struct {
		name     string
		in       ssm.PutParameterInput
		wantCode string
		wantMsg  string
	}{
		{"no type on create", ssm.PutParameterInput{Name: aws.String("/a/b"), Value: aws.String("v")}, "ValidationException", "type is required"},
		{"value over 4 KB", ssm.PutParameterInput{Name: aws.String("/a/b"), Value: aws.String(strings.Repeat("x", 4097)), Type: types.ParameterTypeString}, "ValidationException", "maximum parameter value of 4096"},
		{"reserved prefix", ssm.PutParameterInput{Name: aws.String("/aws/x"), Value: aws.String("v"), Type: types.ParameterTypeString}, "ValidationException", "reserved parameter name"},
		{"not fully qualified", ssm.PutParameterInput{Name: aws.String("a/b"), Value: aws.String("v"), Type: types.ParameterTypeString}, "ValidationException", "fully qualified"},
		{"too deep", ssm.PutParameterInput{Name: aws.String(strings.Repeat("/a", 16)), Value: aws.String("v"), Type: types.ParameterTypeString}, "HierarchyLevelLimitExceededException", "15 levels"},
		{"secure string", ssm.PutParameterInput{Name: aws.String("/a/b"), Value: aws.String("v"), Type: types.ParameterTypeSecureString}, "UnsupportedParameterType", "String parameters only"},
		{"tags with overwrite", ssm.PutParameterInput{Name: aws.String("/a/b"), Value: aws.String("v"), Type: types.ParameterTypeString, Overwrite: aws.Bool(true),
			Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}, "ValidationException", "tags and overwrite can't be used together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.PutParameter(ctx, &tt.in)
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tt.wantCode || !strings.Contains(api.ErrorMessage(), tt.wantMsg) {
				t.Errorf("PutParameter = %v, want %s containing %q", err, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

// GetParametersByPath through the real SDK paginator: one level under the
// path unless Recursive, in pages of MaxResults with a NextToken, and a
// MaxResults above 10 refused (SSM API reference, GetParametersByPath).
func TestGetParametersByPath(t *testing.T) {
	ctx := context.Background()
	c := ssm.NewFromConfig(servicetest.Config(t, "ssm", New(nil)))
	for _, n := range []string{"/aliasflow/aliasflow/targets/a", "/aliasflow/aliasflow/targets/b", "/aliasflow/aliasflow/targets/c",
		"/aliasflow/aliasflow/targets/deep/d", "/aliasflow/other/targets/x"} {
		if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(n), Value: aws.String("{}"), Type: types.ParameterTypeString}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(recursive bool) []string {
		var got []string
		p := ssm.NewGetParametersByPathPaginator(c, &ssm.GetParametersByPathInput{Path: aws.String("/aliasflow/aliasflow/targets/"),
			Recursive: aws.Bool(recursive), MaxResults: aws.Int32(2)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, prm := range page.Parameters {
				got = append(got, strings.TrimPrefix(aws.ToString(prm.Name), "/aliasflow/aliasflow/targets/"))
			}
		}
		return got
	}
	if got := strings.Join(list(false), ","); got != "a,b,c" {
		t.Errorf("one level = %s, want a,b,c", got)
	}
	if got := strings.Join(list(true), ","); got != "a,b,c,deep/d" {
		t.Errorf("recursive = %s, want a,b,c,deep/d", got)
	}
	_, err := c.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/aliasflow/"), MaxResults: aws.Int32(11)})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ValidationException" {
		t.Errorf("MaxResults 11: %v, want ValidationException", err)
	}
}

func TestDeleteParameters(t *testing.T) {
	// DeleteParameters deletes what exists and lists the rest as
	// InvalidParameters; more than 10 names is a ValidationException (SSM
	// API reference, DeleteParameters).
	ctx := context.Background()
	c := ssm.NewFromConfig(servicetest.Config(t, "ssm", New(nil)))
	const a, b = "/aliasflow/aliasflow/approvals/x/001", "/aliasflow/aliasflow/approvals/x/002"
	for _, n := range []string{a, b} {
		if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(n), Value: aws.String("v"), Type: types.ParameterTypeString}); err != nil {
			t.Fatalf("PutParameter(%s): %v", n, err)
		}
	}
	tests := []struct {
		name              string
		names             []string
		deleted, invalid  []string
		wantValidationErr bool
	}{
		{name: "one that exists and one that does not", names: []string{a, "/aliasflow/nope"}, deleted: []string{a}, invalid: []string{"/aliasflow/nope"}},
		{name: "deleted already", names: []string{a}, invalid: []string{a}},
		{name: "eleven names", names: strings.Split("a b c d e f g h i j k", " "), wantValidationErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: tc.names})
			if tc.wantValidationErr {
				var ae smithy.APIError
				if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
					t.Fatalf("DeleteParameters = %v, want ValidationException", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DeleteParameters: %v", err)
			}
			if got, want := strings.Join(out.DeletedParameters, ","), strings.Join(tc.deleted, ","); got != want {
				t.Errorf("deleted: got %q, want %q", got, want)
			}
			if got, want := strings.Join(out.InvalidParameters, ","), strings.Join(tc.invalid, ","); got != want {
				t.Errorf("invalid: got %q, want %q", got, want)
			}
		})
	}
	if _, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(b)}); err != nil {
		t.Errorf("GetParameter(%s) after deleting another: %v, want it kept", b, err)
	}
}
