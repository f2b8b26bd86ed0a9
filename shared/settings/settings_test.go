package settings

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// fakeSSM is a stateful Parameter Store: parameters by name, every call
// counted; GetParameter of a missing name answers ParameterNotFound as the
// SSM API reference documents.
type fakeSSM struct {
	params map[string]string
	// versions are the parameters' versions (1 when unset).
	versions map[string]int64
	calls    int
	fail     error
}

var _ SSM = (*fakeSSM)(nil)

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.calls++
	if f.fail != nil {
		return nil, f.fail
	}
	v, ok := f.params[aws.ToString(in.Name)]
	if !ok {
		return nil, &ssmtypes.ParameterNotFound{Message: aws.String("")}
	}
	version := max(f.versions[aws.ToString(in.Name)], 1)
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: in.Name, Value: aws.String(v), Type: ssmtypes.ParameterTypeString, Version: version}}, nil
}

const hello = `{"function":"hello","strategy":{"type":"canary","percent":10,"bakeSeconds":300},"approvers":["ana@example.com"]}`

func TestTarget(t *testing.T) {
	path := Path(DefaultPipeline)
	tests := []struct {
		name    string
		value   string // "" = no parameter
		fn      string
		wantErr string
		wantNot bool // wraps config.ErrNotConfigured
	}{
		{name: "valid, defaults applied", value: hello, fn: "hello"},
		{name: "no parameter", fn: "payments", wantErr: `no parameter /aliasflow/aliasflow/targets/payments`, wantNot: true},
		{name: "unknown field", value: `{"function":"hello","approvers":["a@example.com"],"aprovers":[]}`, fn: "hello", wantErr: `unknown field "aprovers"`},
		{name: "field named", value: `{"function":"hello","approvers":["a@example.com"],"strategy":{"type":"canary","percent":150,"bakeSeconds":1}}`, fn: "hello", wantErr: "settings.strategy.percent: canary percent must be 1–99, got 150"},
		{name: "another function's settings", value: strings.Replace(hello, `"hello"`, `"orders"`, 1), fn: "hello", wantErr: `function: the settings name "orders", but the parameter is "hello"'s`},
		{name: "not JSON", value: "hello", fn: "hello", wantErr: "malformed settings"},
		{name: "two documents", value: hello + hello, fn: "hello", wantErr: "more than one JSON value"},
		{name: "qualified name", fn: "hello:prod", wantErr: "without a qualifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSSM{params: map[string]string{}}
			if tt.value != "" {
				f.params[path+tt.fn] = tt.value
			}
			s, err := NewStore(f, path, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Target(context.Background(), tt.fn)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Target = %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				if errors.Is(err, config.ErrNotConfigured) != tt.wantNot {
					t.Errorf("errors.Is(%v, ErrNotConfigured) = %v, want %v", err, !tt.wantNot, tt.wantNot)
				}
				return
			}
			if err != nil {
				t.Fatalf("Target: %v", err)
			}
			if got.Function != "hello" || got.Strategy.Percent != 10 || got.ApprovalTimeoutSeconds != config.DefaultApprovalTimeoutSeconds {
				t.Errorf("Target = %+v, want hello's settings with defaults", got)
			}
		})
	}
}

func TestTargetCache(t *testing.T) {
	// GIVEN a store with a 30 s cache, WHEN the same function is read
	// within and after the TTL, THEN only the reads after expiry call SSM,
	// a changed parameter is seen after expiry, and a failed call is not
	// cached.
	now := time.Unix(1_700_000_000, 0)
	f := &fakeSSM{params: map[string]string{"/aliasflow/aliasflow/targets/hello": hello}}
	s, _ := NewStore(f, Path("aliasflow"), &Options{TTL: 30 * time.Second, Now: func() time.Time { return now }})
	ctx := context.Background()
	read := func(want int) config.Target {
		t.Helper()
		got, err := s.Target(ctx, "hello")
		if err != nil {
			t.Fatalf("Target: %v", err)
		}
		if f.calls != want {
			t.Fatalf("GetParameter calls = %d, want %d", f.calls, want)
		}
		return got
	}
	read(1)
	now = now.Add(29 * time.Second)
	read(1)
	f.params["/aliasflow/aliasflow/targets/hello"] = strings.Replace(hello, `"percent":10`, `"percent":20`, 1)
	now = now.Add(2 * time.Second)
	if got := read(2); got.Strategy.Percent != 20 {
		t.Errorf("after expiry percent = %d, want the changed 20", got.Strategy.Percent)
	}
	if _, err := s.Target(ctx, "nobody"); !errors.Is(err, config.ErrNotConfigured) || f.calls != 3 {
		t.Fatalf("unknown: %v after %d calls", err, f.calls)
	}
	if _, err := s.Target(ctx, "nobody"); !errors.Is(err, config.ErrNotConfigured) || f.calls != 3 {
		t.Errorf("unknown again: %v after %d calls, want the cached refusal", err, f.calls)
	}
	now = now.Add(time.Minute)
	f.fail = errors.New("throttled")
	if _, err := s.Target(ctx, "hello"); err == nil || f.calls != 4 {
		t.Fatalf("failing store: %v after %d calls", err, f.calls)
	}
	f.fail = nil
	read(5)
}

func TestNewStoreRefusesBadPath(t *testing.T) {
	for _, p := range []string{"", "aliasflow", "/aliasflow/aliasflow/targets", "aliasflow/"} {
		if _, err := NewStore(&fakeSSM{}, p, nil); err == nil {
			t.Errorf("NewStore(%q) accepted", p)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	want, err := Parse([]byte(hello), "hello")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse([]byte(doc), "hello")
	if err != nil || !reflect.DeepEqual(got.Strategy, want.Strategy) || got.Approvers[0] != want.Approvers[0] {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, want)
	}
	big := want
	big.SmokeChecks = []config.SmokeCheck{{Name: strings.Repeat("x", 5000), Invoke: &config.InvokeCheck{}}}
	if _, err := Encode(big); err == nil || !strings.Contains(err.Error(), "at most 4096") {
		t.Errorf("Encode(5 KB) = %v, want the 4 KB Standard parameter limit named", err)
	}
}

// TestVersionIsTheOneRead: the store says which version of a target's
// settings parameter its last read found, cached reads included, so the
// promotion can say which settings it runs under.
func TestVersionIsTheOneRead(t *testing.T) {
	path := Path(DefaultPipeline)
	tests := []struct {
		name    string
		version int64
		fn      string
		want    int64
	}{
		{name: "the seventh write", version: 7, fn: "hello", want: 7},
		{name: "no parameter", fn: "payments", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSSM{params: map[string]string{path + "hello": hello}, versions: map[string]int64{path + "hello": tt.version}}
			s, err := NewStore(f, path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for read := range 2 { // the second read is the cache's
				_, _ = s.Target(context.Background(), tt.fn)
				if got := s.Version(tt.fn); got != tt.want {
					t.Errorf("read %d: Version(%s) = %d, want %d", read, tt.fn, got, tt.want)
				}
			}
		})
	}
}

func TestApprovalsPath(t *testing.T) {
	tests := []struct{ name, settings, want, wantErr string }{
		{name: "beside the settings", settings: Path("payments"), want: "/aliasflow/payments/approvals/"},
		{name: "not a settings path", settings: "/aliasflow/payments/", wantErr: "does not end in /targets/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ApprovalsPath(tt.settings)
			if got != tt.want || (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ApprovalsPath(%q) = %q, %v; want %q, %q", tt.settings, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
