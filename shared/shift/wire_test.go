package shift_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aliasflow/aliasflow/sandbox/sandboxtest"
	"github.com/aliasflow/aliasflow/shared/alias"
	"github.com/aliasflow/aliasflow/shared/audit"
	"github.com/aliasflow/aliasflow/shared/metrics"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aliasflow/aliasflow/shared/shift"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// TestClearsRoutingOnTheWire runs finalize through the real SDK client
// against a loopback endpoint: the UpdateAlias body must carry the RevisionId
// and an explicitly empty AdditionalVersionWeights, since Lambda keeps the
// routing when RoutingConfig is left out, and aliasflow's stamp.
func TestClearsRoutingOnTheWire(t *testing.T) {
	var mu sync.Mutex
	var updates []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/functions/hello/aliases/prod") {
			http.Error(w, `{"message":"unexpected path"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.Method {
		case http.MethodGet:
			_, _ = io.WriteString(w, `{"Name":"prod","FunctionVersion":"4","RevisionId":"rev-7","RoutingConfig":{"AdditionalVersionWeights":{"5":0.75}}}`)
		case http.MethodPut:
			var body map[string]any
			_ = json.NewDecoder(r.Body).Decode(&body)
			mu.Lock()
			updates = append(updates, body)
			mu.Unlock()
			_, _ = io.WriteString(w, `{"Name":"prod","FunctionVersion":"5","RevisionId":"rev-8"}`)
		}
	}))
	defer srv.Close()
	client := lambda.New(lambda.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:   srv.Client(),
	})
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	// The promotion of testdata's version 5, run by the sandbox's
	// interpreter until its Finalize call is in flight.
	fixture := load(t, "set-weight.json")
	p := sandboxtest.NewPromotion(t, sandboxtest.At(fixture.StartTime))
	r := shifting(p.Run(t, fixture.Promotion.Input))
	for range r.In.Steps {
		r.Bake().BakeOver()
	}
	req := p.Request(t, r.ARN, promotion.ActionFinalize, 1)
	h := shift.New(client, newFakeCloudWatch(), p.SFN, audit.New(log, nil, nil), metrics.New(io.Discard, nil), nil)
	if _, err := h.Handle(ctx, req); err != nil {
		t.Fatalf("finalize: %v", err)
	}
	if len(updates) != 1 {
		t.Fatalf("UpdateAlias calls = %d, want 1", len(updates))
	}
	got, _ := json.Marshal(updates[0])
	// The stamp rides on the same call (issue 21): the execution and the
	// routing written.
	stamp := alias.StampFor(promotion.ExecutionNameOf(r.ARN), alias.Alias{Exists: true, Version: "5"})
	want := `{"Description":"` + stamp + `","FunctionVersion":"5","RevisionId":"rev-7","RoutingConfig":{"AdditionalVersionWeights":{}}}`
	if string(got) != want {
		t.Errorf("UpdateAlias body = %s, want %s", got, want)
	}
}
