package smoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/promotion"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// maxBody bounds what an HTTP check reads of a response.
const maxBody = 1 << 20

// outcome is one attempt's verdict. transient says a retry may help.
type outcome struct {
	ok        bool
	transient bool
	detail    string
}

// part is one half of a check (its invoke or its http request) after its
// attempts.
type part struct {
	outcome
	attempts int
	latency  time.Duration
}

// runCheck runs a check's invoke and http parts; the check passes when every
// configured part does.
func (h *Handler) runCheck(ctx context.Context, fn, version string, c config.SmokeCheck, retries int) promotion.CheckResult {
	timeout := time.Duration(c.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = config.DefaultSmokeTimeoutSeconds * time.Second
	}
	r := promotion.CheckResult{Name: c.Name, Passed: true}
	var details []string
	add := func(kind string, p part) {
		r.Passed = r.Passed && p.ok
		r.Attempts += p.attempts
		r.LatencyMs += p.latency.Milliseconds()
		details = append(details, kind+": "+p.detail)
	}
	if c.Invoke != nil {
		add("invoke", h.attempt(ctx, timeout, retries, func(ctx context.Context) outcome {
			return h.invokeOnce(ctx, fn, version, c.Invoke, timeout)
		}))
	}
	if c.HTTP != nil {
		add("http", h.attempt(ctx, timeout, retries, func(ctx context.Context) outcome {
			return h.httpOnce(ctx, c.HTTP, timeout)
		}))
	}
	if len(details) == 0 {
		r.Passed = false
		details = append(details, "the check has neither invoke nor http")
	}
	r.Detail = clip(strings.Join(details, "; "), 500)
	return r
}

// attempt runs once with a timeout of its own and again, after a growing
// pause, while the failure is transient and retries remain. The latency
// reported is the last attempt's: the pauses are ours, not the function's.
func (h *Handler) attempt(ctx context.Context, timeout time.Duration, retries int, once func(context.Context) outcome) part {
	var p part
	wait := h.backoff
	for {
		p.attempts++
		actx, cancel := context.WithTimeout(ctx, timeout)
		start := h.now()
		p.outcome = once(actx)
		p.latency = h.now().Sub(start)
		cancel()
		if p.ok || !p.transient || p.attempts > retries || ctx.Err() != nil {
			if !p.ok && p.transient && p.attempts > 1 {
				p.detail += fmt.Sprintf(" (after %d attempts)", p.attempts)
			}
			return p
		}
		if err := h.sleep(ctx, wait); err != nil {
			return p
		}
		wait = min(wait*2, h.maxBackoff)
	}
}

// invokeOnce invokes the stg alias and asserts on the answer.
func (h *Handler) invokeOnce(ctx context.Context, fn, version string, c *config.InvokeCheck, timeout time.Duration) outcome {
	payload := []byte(c.Payload)
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	out, err := h.inv.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String(fn),
		Qualifier:    aws.String(promotion.AliasStg),
		Payload:      payload,
	})
	if err != nil {
		return failure(ctx, err, timeout)
	}
	if v := aws.ToString(out.ExecutedVersion); v != "" && v != version {
		// A newer release moved stg mid-check: this answer says nothing
		// about the version under test.
		return outcome{detail: fmt.Sprintf("stg answered with version %s, not %s", v, version)}
	}
	if out.FunctionError != nil {
		return outcome{detail: functionError(aws.ToString(out.FunctionError), out.Payload)}
	}
	if detail := assertInvoke(out.Payload, c); detail != "" {
		return outcome{detail: detail}
	}
	if v := aws.ToString(out.ExecutedVersion); v != "" {
		return outcome{ok: true, detail: "ok (version " + v + ")"}
	}
	return outcome{ok: true, detail: "ok"}
}

// functionError describes a function error from the runtime's error document.
func functionError(kind string, payload []byte) string {
	var doc struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	_ = json.Unmarshal(payload, &doc)
	d := "function error (" + kind + ")"
	if doc.ErrorType != "" {
		d += " " + clip(doc.ErrorType, 80)
	}
	if doc.ErrorMessage != "" {
		d += ": " + clip(doc.ErrorMessage, 200)
	}
	return d
}

// httpOnce sends the check's request and asserts on status and body.
func (h *Handler) httpOnce(ctx context.Context, c *config.HTTPCheck, timeout time.Duration) outcome {
	method := c.Method
	if method == "" {
		method = http.MethodGet
	}
	want := c.ExpectStatus
	if want == 0 {
		want = http.StatusOK
	}
	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL, body)
	if err != nil {
		return outcome{detail: "bad request: " + clip(err.Error(), 120)}
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return failure(ctx, err, timeout)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return failure(ctx, err, timeout)
	}
	if resp.StatusCode != want {
		// 5xx and 429 are the service's trouble and may pass; any other
		// status is the answer.
		transient := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		return outcome{transient: transient, detail: fmt.Sprintf("status %d, want %d", resp.StatusCode, want)}
	}
	if c.BodyContains != "" && !strings.Contains(string(data), c.BodyContains) {
		return outcome{detail: fmt.Sprintf("body does not contain %q", clip(c.BodyContains, 80))}
	}
	return outcome{ok: true, detail: fmt.Sprintf("ok (%d)", resp.StatusCode)}
}

// failure turns a call's error into an outcome, saying whether a retry may
// help. Details name the kind of failure, never the URL or headers.
func failure(ctx context.Context, err error, timeout time.Duration) outcome {
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return outcome{transient: true, detail: fmt.Sprintf("no answer within %s", timeout)}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return outcome{transient: promotion.IsTransient(api), detail: clip(api.ErrorCode()+": "+api.ErrorMessage(), 200)}
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && (status.HTTPStatusCode() >= 500 || status.HTTPStatusCode() == http.StatusTooManyRequests) {
		return outcome{transient: true, detail: fmt.Sprintf("HTTP %d from the service", status.HTTPStatusCode())}
	}
	var send *smithyhttp.RequestSendError
	var netErr net.Error
	var urlErr *url.Error
	switch {
	case errors.As(err, &netErr), errors.As(err, &send):
		return outcome{transient: true, detail: "connection failed: " + clip(innermost(err), 160)}
	case errors.As(err, &urlErr):
		return outcome{transient: true, detail: "request failed: " + clip(innermost(err), 160)}
	}
	return outcome{detail: clip(err.Error(), 200)}
}

// innermost is the root cause's text: the wrappers repeat the URL.
func innermost(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
