package release

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// fakeCallers is STS answering caller proofs.
type fakeCallers struct {
	arn      string
	err      error
	bindings []string
}

func (f *fakeCallers) VerifyCaller(_ context.Context, proof, binding string) (string, error) {
	f.bindings = append(f.bindings, binding)
	return f.arn, f.err
}

const operatorARN = "arn:aws:iam::123456789012:user/ben"

// TestHandleVerifiesTheCaller: a Release Requested event's requestedBy is
// a claim; its callerProof, when STS vouches for it, names the caller as
// verified — in the promotion's input and as the actor of its records.
// A proof STS refuses leaves the claim alone; STS out of reach is retried.
func TestHandleVerifiesTheCaller(t *testing.T) {
	proof := "https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity"
	tests := []struct {
		name         string
		callers      *fakeCallers
		wantVerified string
		wantErr      bool
	}{
		{name: "verified", callers: &fakeCallers{arn: operatorARN}, wantVerified: operatorARN},
		{name: "refused by STS", callers: &fakeCallers{err: ErrProofRejected}},
		{name: "an ARN no name can be", callers: &fakeCallers{arn: "arn:aws:iam::1:user/x\n\nApprove: https://evil.example/"}},
		{name: "no verifier"},
		{name: "STS out of reach", callers: &fakeCallers{err: errors.New("dial tcp: i/o timeout")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.callers != nil {
				w.h.Callers = tt.callers
			}
			raw := strings.Replace(string(readFile(t, "testdata/release-requested.json")), `"requestedBy": "ben@example.com"`,
				`"requestedBy": "ben@example.com", "callerProof": "`+proof+`"`, 1)
			res, calls, err := w.handle([]byte(raw))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Handle = %+v, want an error to retry", res)
				}
				if got := mutating(calls); len(got) != 0 {
					t.Errorf("mutating calls = %v, want none", got)
				}
				return
			}
			if err != nil || res.Outcome != Started {
				t.Fatalf("Handle = %+v, %v; want started", res, err)
			}
			if tt.callers != nil {
				if want := ProofBinding("hello", sha2); len(tt.callers.bindings) != 1 || tt.callers.bindings[0] != want {
					t.Errorf("bindings = %q, want [%q]", tt.callers.bindings, want)
				}
			}
			rel := requestedRelease
			rel.VerifiedBy = tt.wantVerified
			ex, _ := w.execution(promotion.ExecutionName("hello", "2", sha2))
			if want := wantInput(t, w, "2", "1", rel); canonical(t, aws.ToString(ex.Input)) != want {
				t.Errorf("input = %s, want %s", aws.ToString(ex.Input), want)
			}
			for _, r := range w.audits() {
				if r.Event == audit.ReleasePublished && r.Actor != rel.Requester() {
					t.Errorf("release.published by %q, want %q", r.Actor, rel.Requester())
				}
			}
			if strings.Contains(w.logs.String(), "X-Amz") || strings.Contains(w.logs.String(), proof) {
				t.Errorf("the proof reached the log:\n%s", w.logs)
			}
		})
	}
}

// stsServer is STS answering GetCallerIdentity for one binding.
func stsServer(t *testing.T, binding string, status int) (*httptest.Server, *[]*http.Request) {
	t.Helper()
	var got []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r)
		if status != http.StatusOK {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>`))
			return
		}
		if r.Header.Get(ProofHeader) != binding || !strings.Contains(r.URL.Query().Get("X-Amz-SignedHeaders"), "x-aliasflow-release") {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>`))
			return
		}
		_, _ = w.Write([]byte(`<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>` +
			operatorARN + `</Arn><UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`))
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

// presign is the CLI's proof: AWS's SDK presigner, the binding signed.
func presign(t *testing.T, endpoint, binding string) string {
	t.Helper()
	c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	out, err := sts.NewPresignClient(c).PresignGetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}, func(o *sts.PresignOptions) {
		o.ClientOptions = append(o.ClientOptions, func(o *sts.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(ProofHeader, binding))
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.URL
}

func TestSTSCallers(t *testing.T) {
	binding := ProofBinding("hello", sha2)
	tests := []struct {
		name string
		// proof builds the proof from the STS endpoint's URL.
		proof       func(ep string) string
		status      int
		wantARN     string
		wantRefused bool // ErrProofRejected; else a transient error when no ARN
		wantCalls   int
	}{
		{name: "presigned by the SDK for this release", proof: func(ep string) string { return presign(t, ep, binding) },
			status: http.StatusOK, wantARN: operatorARN, wantCalls: 1},
		{name: "binding not signed", proof: func(ep string) string {
			u, _ := url.Parse(presign(t, ep, binding))
			q := u.Query()
			q.Set("X-Amz-SignedHeaders", "host")
			u.RawQuery = q.Encode()
			return u.String()
		}, status: http.StatusOK, wantRefused: true},
		{name: "another host", proof: func(string) string { return presign(t, "https://evil.example", binding) }, status: http.StatusOK, wantRefused: true},
		{name: "another action", proof: func(ep string) string {
			return strings.Replace(presign(t, ep, binding), "Action=GetCallerIdentity", "Action=AssumeRole", 1)
		}, status: http.StatusOK, wantRefused: true},
		{name: "not a URL", proof: func(string) string { return "%zz" }, status: http.StatusOK, wantRefused: true},
		{name: "refused by STS", proof: func(ep string) string { return presign(t, ep, binding) }, status: http.StatusForbidden, wantRefused: true, wantCalls: 1},
		{name: "STS failing", proof: func(ep string) string { return presign(t, ep, binding) }, status: http.StatusServiceUnavailable, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := stsServer(t, binding, tt.status)
			callers, err := NewSTSCallers(srv.URL, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			arn, err := callers.VerifyCaller(context.Background(), tt.proof(srv.URL), binding)
			switch {
			case tt.wantARN != "" && (err != nil || arn != tt.wantARN):
				t.Errorf("VerifyCaller = %q, %v; want %q", arn, err, tt.wantARN)
			case tt.wantRefused && !errors.Is(err, ErrProofRejected):
				t.Errorf("VerifyCaller = %q, %v; want ErrProofRejected", arn, err)
			case tt.wantARN == "" && !tt.wantRefused && (err == nil || errors.Is(err, ErrProofRejected)):
				t.Errorf("VerifyCaller = %q, %v; want a transient error", arn, err)
			}
			if len(*got) != tt.wantCalls {
				t.Errorf("STS called %d times, want %d", len(*got), tt.wantCalls)
			}
			// The release's own binding is what is sent: a proof signed for
			// another release fails STS's signature check.
			for _, r := range *got {
				if r.Header.Get(ProofHeader) != binding {
					t.Errorf("sent %s %q, want the release's own %q", ProofHeader, r.Header.Get(ProofHeader), binding)
				}
			}
		})
	}
}

func TestSTSEndpoint(t *testing.T) {
	tests := []struct{ region, override, want string }{
		{"us-east-1", "", "https://sts.us-east-1.amazonaws.com"},
		{"cn-north-1", "", "https://sts.cn-north-1.amazonaws.com.cn"},
		{"us-east-1", "http://127.0.0.1:4566", "http://127.0.0.1:4566"},
	}
	for _, tt := range tests {
		if got := STSEndpoint(tt.region, tt.override); got != tt.want {
			t.Errorf("STSEndpoint(%q, %q) = %q, want %q", tt.region, tt.override, got, tt.want)
		}
	}
}
