package ssmsvc

import (
	"context"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/internal/servicetest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// TestAdvancedTier: an Advanced parameter holds up to 8 KB, a Standard one
// 4 KB ("Managing parameter tiers"); a parameter once Advanced stays so.
func TestAdvancedTier(t *testing.T) {
	ctx := context.Background()
	c := ssm.NewFromConfig(servicetest.Config(t, "ssm", New(nil)))
	cases := []struct {
		name     string
		in       ssm.PutParameterInput
		wantTier types.ParameterTier
		wantErr  string
	}{
		{"6 KB in the Advanced tier", ssm.PutParameterInput{Name: aws.String("/a/big"), Value: aws.String(strings.Repeat("x", 6000)), Type: types.ParameterTypeString, Tier: types.ParameterTierAdvanced}, types.ParameterTierAdvanced, ""},
		{"overwritten without a tier, it stays Advanced", ssm.PutParameterInput{Name: aws.String("/a/big"), Value: aws.String(strings.Repeat("y", 6000)), Overwrite: aws.Bool(true)}, types.ParameterTierAdvanced, ""},
		{"over 8 KB even Advanced", ssm.PutParameterInput{Name: aws.String("/a/huge"), Value: aws.String(strings.Repeat("x", 8193)), Type: types.ParameterTypeString, Tier: types.ParameterTierAdvanced}, "", "maximum parameter value of 8192"},
		{"6 KB in the Standard tier", ssm.PutParameterInput{Name: aws.String("/a/std"), Value: aws.String(strings.Repeat("x", 6000)), Type: types.ParameterTypeString}, "", "maximum parameter value of 4096"},
	}
	for _, c2 := range cases {
		t.Run(c2.name, func(t *testing.T) {
			out, err := c.PutParameter(ctx, &c2.in)
			if c2.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c2.wantErr) {
					t.Fatalf("err = %v, want %q", err, c2.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Tier != c2.wantTier {
				t.Errorf("tier = %s, want %s", out.Tier, c2.wantTier)
			}
			got, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: c2.in.Name})
			if err != nil || aws.ToString(got.Parameter.Value) != aws.ToString(c2.in.Value) {
				t.Errorf("GetParameter = %v, %v; want the value put", got, err)
			}
		})
	}
}
