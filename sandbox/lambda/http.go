package lambdasvc

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

const apiPrefix = "/2015-03-31/functions"

// accountSettingsPath is GetAccountSettings's path, of another API version
// (GET /2016-08-19/account-settings/, Lambda API Reference).
const accountSettingsPath = "/2016-08-19/account-settings"

// maxRequestBytes admits a 50 MB zip, base64-encoded, in a JSON body.
const maxRequestBytes = 70 << 20

// ServeHTTP serves Lambda's restJson1 API.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", newRevision())
	op, args, err := route(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if s.faults.shouldThrottle(op) {
		w.Header().Set("Retry-After", "1")
		writeErrorBody(w, "TooManyRequestsException", http.StatusTooManyRequests, map[string]any{
			"Type": "User", "message": "Rate exceeded", "Reason": "CallerRateLimitExceeded",
		})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		writeError(w, invalid("read request body: %v", err))
		return
	}
	if len(body) > maxRequestBytes {
		writeError(w, core.Errorf("RequestTooLargeException", http.StatusRequestEntityTooLarge, "Request must be smaller than %d bytes", maxRequestBytes))
		return
	}
	q := r.URL.Query()
	status, out, err := s.dispatch(w, r, op, args, q, body)
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

// route names the operation a request is and its path arguments.
func route(r *http.Request) (string, []string, error) {
	p := strings.TrimSuffix(r.URL.EscapedPath(), "/")
	if p == accountSettingsPath && r.Method == http.MethodGet {
		return "GetAccountSettings", nil, nil
	}
	if op, args, ok, err := routeProvisioned(r, p); ok {
		return op, args, err
	}
	if p != apiPrefix && !strings.HasPrefix(p, apiPrefix+"/") {
		return "", nil, unknownOperation(r)
	}
	var segs []string
	for _, raw := range strings.Split(strings.TrimPrefix(p, apiPrefix), "/")[1:] {
		seg, err := url.PathUnescape(raw)
		if err != nil {
			return "", nil, invalid("bad path segment %q", raw)
		}
		segs = append(segs, seg)
	}
	m := r.Method
	switch len(segs) {
	case 0:
		switch m {
		case http.MethodPost:
			return "CreateFunction", nil, nil
		case http.MethodGet:
			return "ListFunctions", nil, nil
		}
	case 1:
		switch m {
		case http.MethodGet:
			return "GetFunction", segs, nil
		case http.MethodDelete:
			return "DeleteFunction", segs, nil
		}
	case 2:
		switch segs[1] + " " + m {
		case "configuration GET":
			return "GetFunctionConfiguration", segs, nil
		case "configuration PUT":
			return "UpdateFunctionConfiguration", segs, nil
		case "code PUT":
			return "UpdateFunctionCode", segs, nil
		case "versions GET":
			return "ListVersionsByFunction", segs, nil
		case "versions POST":
			return "PublishVersion", segs, nil
		case "aliases GET":
			return "ListAliases", segs, nil
		case "aliases POST":
			return "CreateAlias", segs, nil
		case "invocations POST":
			return "Invoke", segs, nil
		}
	case 3:
		if segs[1] == "aliases" {
			switch m {
			case http.MethodGet:
				return "GetAlias", segs, nil
			case http.MethodPut:
				return "UpdateAlias", segs, nil
			}
		}
	}
	return "", nil, unknownOperation(r)
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

func maxItems(q url.Values) (int, error) {
	v := q.Get("MaxItems")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, invalid("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000", v)
	}
	return n, nil
}

func (s *Service) dispatch(w http.ResponseWriter, r *http.Request, op string, args []string, q url.Values, body []byte) (int, any, error) {
	fn := ""
	if len(args) > 0 {
		fn = args[0]
	}
	switch op {
	case "CreateFunction":
		var in CreateFunctionInput
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		c, err := s.CreateFunction(in)
		return http.StatusCreated, c, err
	case "ListFunctions":
		n, err := maxItems(q)
		if err != nil {
			return 0, nil, err
		}
		fs, next, err := s.ListFunctions(q.Get("Marker"), n)
		if fs == nil {
			fs = []FunctionConfiguration{}
		}
		return http.StatusOK, map[string]any{"Functions": fs, "NextMarker": nilIfEmpty(next)}, err
	case "GetFunction":
		c, err := s.GetFunctionConfiguration(fn, q.Get("Qualifier"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]any{"Configuration": c, "Code": s.codeLocation(r.Host, c)}, nil
	case "GetFunctionConfiguration":
		c, err := s.GetFunctionConfiguration(fn, q.Get("Qualifier"))
		return http.StatusOK, c, err
	case "DeleteFunction":
		return http.StatusNoContent, nil, s.serveDelete(r, fn, q.Get("Qualifier"))
	case "GetAccountSettings":
		return http.StatusOK, s.GetAccountSettings(), nil
	case "UpdateFunctionConfiguration":
		var in UpdateFunctionConfigurationInput
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		c, err := s.UpdateFunctionConfiguration(fn, in)
		return http.StatusOK, c, err
	case "UpdateFunctionCode":
		var in UpdateFunctionCodeInput
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		c, err := s.UpdateFunctionCode(fn, in)
		return http.StatusOK, c, err
	case "ListVersionsByFunction":
		n, err := maxItems(q)
		if err != nil {
			return 0, nil, err
		}
		vs, next, err := s.ListVersionsByFunction(fn, q.Get("Marker"), n)
		return http.StatusOK, map[string]any{"Versions": vs, "NextMarker": nilIfEmpty(next)}, err
	case "PublishVersion":
		var in PublishVersionInput
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		c, err := s.PublishVersion(fn, in)
		return http.StatusCreated, c, err
	case "ListAliases":
		n, err := maxItems(q)
		if err != nil {
			return 0, nil, err
		}
		as, next, err := s.ListAliases(fn, q.Get("FunctionVersion"), q.Get("Marker"), n)
		if as == nil {
			as = []AliasConfiguration{}
		}
		return http.StatusOK, map[string]any{"Aliases": as, "NextMarker": nilIfEmpty(next)}, err
	case "CreateAlias":
		var in CreateAliasInput
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		a, err := s.CreateAlias(fn, in)
		return http.StatusCreated, a, err
	case "GetAlias":
		a, err := s.GetAlias(fn, args[2])
		return http.StatusOK, a, err
	case "UpdateAlias":
		var in UpdateAliasInput
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		a, err := s.UpdateAlias(fn, args[2], in)
		return http.StatusOK, a, err
	case "Invoke":
		s.serveInvoke(w, r, fn, q.Get("Qualifier"), body)
		return 0, nil, errHandled
	}
	if status, out, ok, err := s.dispatchProvisioned(op, fn, q, body); ok {
		return status, out, err
	}
	return 0, nil, unknownOperation(r)
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
