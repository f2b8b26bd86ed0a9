package lambdasvc

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/model"
)

// maxRequestBytes admits a 50 MB zip, base64-encoded, in a JSON body.
const maxRequestBytes = 70 << 20

// ServeHTTP serves Lambda's restJson1 API. The request is routed by AWS's
// model of Lambda (model.Attach: its requestUri templates); the operation
// and its URI and query members come from that one reading.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", newRevision())
	r, req, err := model.Attach(r, "lambda")
	if req == nil {
		writeError(w, err)
		return
	}
	op := req.OperationName
	serve := ops[op]
	if req.Operation == nil || serve == nil {
		writeError(w, unknownOperation(r))
		return
	}
	if s.faults.shouldThrottle(op) {
		w.Header().Set("Retry-After", "1")
		writeErrorBody(w, "TooManyRequestsException", http.StatusTooManyRequests, map[string]any{
			"Type": "User", "message": "Rate exceeded", "Reason": "CallerRateLimitExceeded",
		})
		return
	}
	if len(req.Body) > maxRequestBytes {
		writeError(w, core.Errorf("RequestTooLargeException", http.StatusRequestEntityTooLarge, "Request must be smaller than %d bytes", maxRequestBytes))
		return
	}
	status, out, err := serve(s, call{w: w, r: r, req: req, fn: req.Str("FunctionName")})
	if err != nil {
		writeError(w, err)
		return
	}
	if out == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

func unknownOperation(r *http.Request) error {
	return core.Errorf("UnknownOperationException", http.StatusNotFound, "the sandbox's Lambda does not implement %s %s", r.Method, r.URL.Path)
}

// decode reads a JSON body, refusing fields the sandbox does not implement
// rather than ignoring them.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if strings.Contains(err.Error(), "unknown field") {
			return invalid("the sandbox does not support this request: %v", err)
		}
		return core.Errorf("InvalidRequestContentException", http.StatusBadRequest, "Could not parse request body into json: %v", err)
	}
	return nil
}

func maxItems(req *model.Request) (int, error) {
	v, ok := req.Input["MaxItems"]
	if !ok {
		return 0, nil
	}
	n, isInt := v.(int64) // the model types the query string's integer
	if !isInt || n < 1 || n > 10000 {
		return 0, invalid("1 validation error detected: Value '%v' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000", v)
	}
	return int(n), nil
}

// call is one request to an operation: the model's reading of it (the
// function name, URI and query members, the body) and the writer, for the
// operations that answer on their own (Invoke).
type call struct {
	w   http.ResponseWriter
	r   *http.Request
	req *model.Request
	fn  string // the FunctionName member
}

func (c call) str(name string) string { return c.req.Str(name) }

// restOp serves one operation: the HTTP status and the output to encode
// (nil for an empty body), or an error.
type restOp func(s *Service, c call) (int, any, error)

// withInput is an operation whose body is its typed input.
func withInput[I any, O any](status int, f func(s *Service, fn string, in I) (O, error)) restOp {
	return func(s *Service, c call) (int, any, error) {
		var in I
		if err := decode(c.req.Body, &in); err != nil {
			return 0, nil, err
		}
		out, err := f(s, c.fn, in)
		return status, out, err
	}
}

// listed is a paginated list operation's answer: items under key (an empty
// list, not null, when there are none) and NextMarker.
func listed[T any](key string, items []T, next string) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{key: items, "NextMarker": nilIfEmpty(next)}
}

// ops are the Lambda operations the sandbox serves, by the name in AWS's
// model; a request for any other is refused by name (unknownOperation).
// Adding an operation is one entry here (or in a file of its own that
// adds to ops), in this package.
var ops = map[string]restOp{
	"CreateFunction": withInput(http.StatusCreated, func(s *Service, _ string, in CreateFunctionInput) (FunctionConfiguration, error) {
		return s.CreateFunction(in)
	}),
	"ListFunctions": func(s *Service, c call) (int, any, error) {
		n, err := maxItems(c.req)
		if err != nil {
			return 0, nil, err
		}
		fs, next, err := s.ListFunctions(c.str("Marker"), n)
		return http.StatusOK, listed("Functions", fs, next), err
	},
	"GetFunction": func(s *Service, c call) (int, any, error) {
		cfg, err := s.GetFunctionConfiguration(c.fn, c.str("Qualifier"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]any{"Configuration": cfg, "Code": s.codeLocation(c.r.Host, cfg)}, nil
	},
	"GetFunctionConfiguration": func(s *Service, c call) (int, any, error) {
		cfg, err := s.GetFunctionConfiguration(c.fn, c.str("Qualifier"))
		return http.StatusOK, cfg, err
	},
	"DeleteFunction": func(s *Service, c call) (int, any, error) {
		return http.StatusNoContent, nil, s.serveDelete(c.r, c.fn, c.str("Qualifier"))
	},
	"GetAccountSettings": func(s *Service, _ call) (int, any, error) {
		return http.StatusOK, s.GetAccountSettings(), nil
	},
	"UpdateFunctionConfiguration": withInput(http.StatusOK, (*Service).UpdateFunctionConfiguration),
	"UpdateFunctionCode":          withInput(http.StatusOK, (*Service).UpdateFunctionCode),
	"ListVersionsByFunction": func(s *Service, c call) (int, any, error) {
		n, err := maxItems(c.req)
		if err != nil {
			return 0, nil, err
		}
		vs, next, err := s.ListVersionsByFunction(c.fn, c.str("Marker"), n)
		return http.StatusOK, map[string]any{"Versions": vs, "NextMarker": nilIfEmpty(next)}, err
	},
	"PublishVersion": withInput(http.StatusCreated, (*Service).PublishVersion),
	"ListAliases": func(s *Service, c call) (int, any, error) {
		n, err := maxItems(c.req)
		if err != nil {
			return 0, nil, err
		}
		as, next, err := s.ListAliases(c.fn, c.str("FunctionVersion"), c.str("Marker"), n)
		return http.StatusOK, listed("Aliases", as, next), err
	},
	"CreateAlias": withInput(http.StatusCreated, (*Service).CreateAlias),
	"GetAlias": func(s *Service, c call) (int, any, error) {
		a, err := s.GetAlias(c.fn, c.str("Name"))
		return http.StatusOK, a, err
	},
	"UpdateAlias": func(s *Service, c call) (int, any, error) {
		var in UpdateAliasInput
		if err := decode(c.req.Body, &in); err != nil {
			return 0, nil, err
		}
		a, err := s.UpdateAlias(c.fn, c.str("Name"), in)
		return http.StatusOK, a, err
	},
	"Invoke": func(s *Service, c call) (int, any, error) {
		s.serveInvoke(c.w, c.r, c.fn, c.str("Qualifier"), c.req.Body)
		return 0, nil, errHandled
	},
}

// errHandled tells ServeHTTP the operation wrote its own response.
var errHandled = errors.New("response written")

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Service) serveInvoke(w http.ResponseWriter, r *http.Request, fn, qualifier string, payload []byte) {
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		writeError(w, invalid("the sandbox does not support X-Amz-Client-Context"))
		return
	}
	switch it := r.Header.Get("X-Amz-Invocation-Type"); it {
	case "", "RequestResponse":
	case "Event":
		if !json.Valid(payload) && len(payload) > 0 {
			writeError(w, core.Errorf("InvalidRequestContentException", http.StatusBadRequest, "Could not parse request body into json"))
			return
		}
		if err := s.InvokeAsync(fn, qualifier, payload); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		return
	case "DryRun":
		if _, err := s.resolveTarget(fn, qualifier); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		writeError(w, invalid("1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", it))
		return
	}
	logType := r.Header.Get("X-Amz-Log-Type")
	if logType != "" && logType != "None" && logType != "Tail" {
		writeError(w, invalid("1 validation error detected: Value '%s' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [Tail, None]", logType))
		return
	}
	res, tail, err := s.invoke(r.Context(), fn, qualifier, payload)
	if err != nil {
		writeError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amz-Executed-Version", res.ExecutedVersion)
	if res.FunctionError != "" {
		h.Set("X-Amz-Function-Error", res.FunctionError)
	}
	if logType == "Tail" {
		h.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString([]byte(tail)))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.Payload)
}

// writeError writes an error the way Lambda does: the code in
// X-Amzn-ErrorType and {"Type","message"} in the body.
func writeError(w http.ResponseWriter, err error) {
	if errors.Is(err, errHandled) {
		return
	}
	var apiErr *core.APIError
	if !errors.As(err, &apiErr) {
		apiErr = core.Errorf("ServiceException", http.StatusInternalServerError, "%v", err)
	}
	kind := "User"
	if apiErr.Status >= 500 {
		kind = "Service"
	}
	writeErrorBody(w, apiErr.Code, apiErr.Status, map[string]any{"Type": kind, "message": apiErr.Message})
}

func writeErrorBody(w http.ResponseWriter, code string, status int, body map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// codeLocation is GetFunction's Code: where the deployment package can be
// downloaded — on AWS a presigned S3 URL valid for 10 minutes
// (FunctionCodeLocation, Lambda API Reference: "The presigned URL you can
// use to download the function's .zip file"). The sandbox answers a URL of
// the same shape on its own loopback host; it serves no S3, so following
// it is refused loudly as an unknown service.
func (s *Service) codeLocation(host string, c FunctionConfiguration) map[string]string {
	now := s.opts.Clock().UTC()
	sum := sha256.Sum256([]byte(c.FunctionArn + c.Version + c.CodeSha256 + now.Format(time.RFC3339)))
	q := url.Values{
		"versionId":            {c.RevisionId},
		"X-Amz-Algorithm":      {"AWS4-HMAC-SHA256"},
		"X-Amz-Date":           {now.Format("20060102T150405Z")},
		"X-Amz-SignedHeaders":  {"host"},
		"X-Amz-Expires":        {"600"},
		"X-Amz-Credential":     {"ASIASANDBOX/" + now.Format("20060102") + "/" + core.Region + "/s3/aws4_request"},
		"X-Amz-Signature":      {hex.EncodeToString(sum[:])},
		"X-Amz-Security-Token": {"sandbox"},
	}
	return map[string]string{
		"RepositoryType": "S3",
		"Location":       fmt.Sprintf("http://%s/snapshots/%s/%s-%s?%s", host, core.Account, c.FunctionName, newRevision(), q.Encode()),
	}
}
