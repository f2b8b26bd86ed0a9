// Package apigw is the sandbox's API Gateway: REST API stages, each with
// stage variables and a Lambda proxy integration whose target may name a
// stage variable (`hello:${stageVariables.lambdaAlias}`), served under
// /{stage}/... with API Gateway's proxy event and response semantics.
package apigw

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

// Stage is one deployed stage of the API.
type Stage struct {
	// Name is the first path segment the stage answers under.
	Name string
	// Variables are the stage variables, given to the function in the event
	// and substituted into Target.
	Variables map[string]string
	// Target is the integration's function: a name, name:qualifier or ARN,
	// which may contain ${stageVariables.<name>}.
	Target string
	// API is the id of the REST API the stage belongs to, which its
	// execute-api ARNs name; a stage without one is not authorized (see
	// InvokeAuthorizer).
	API string
}

// InvokeAuthorizer decides whether API Gateway may invoke the integration's
// function (name or ARN, and qualifier) for the request whose execute-api
// ARN is sourceARN; a non-nil error denies it.
type InvokeAuthorizer func(sourceARN, function, qualifier string) error

// SetInvokeAuthorizer makes every request to a stage with an API ask f
// before invoking the function; nil (the default) allows every call.
func (r *Router) SetInvokeAuthorizer(f InvokeAuthorizer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.authorize = f
}

// ExecuteAPIARN is the execute-api ARN of a request, the source API
// Gateway invokes a Lambda integration for:
// arn:aws:execute-api:region:account:api-id/stage/METHOD/resource-path
// ("API Gateway Amazon Resource Name (ARN) reference", execute-api,
// https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html).
func ExecuteAPIARN(api, stage, method, path string) string {
	return fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", core.Region, core.Account, api, stage, method, path)
}

// Options tune a Router.
type Options struct {
	Logger *slog.Logger
	// Now stamps requestContext.requestTime; time.Now when nil.
	Now func() time.Time
}

// Router serves the stages. It is an http.Handler; Handles says whether a
// request belongs to one of its stages.
type Router struct {
	invoker core.Invoker
	log     *slog.Logger
	now     func() time.Time

	mu        sync.RWMutex
	stages    map[string]Stage
	authorize InvokeAuthorizer
}

// New returns a Router with no stages, invoking functions through invoker.
func New(invoker core.Invoker, opts *Options) *Router {
	r := &Router{invoker: invoker, log: slog.New(slog.DiscardHandler), now: time.Now, stages: map[string]Stage{}}
	if opts != nil {
		if opts.Logger != nil {
			r.log = opts.Logger
		}
		if opts.Now != nil {
			r.now = opts.Now
		}
	}
	return r
}

var (
	stageNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
	stageVarRe  = regexp.MustCompile(`\$\{stageVariables\.([a-zA-Z0-9_]+)\}`)
	varNameRe   = regexp.MustCompile(`^[a-zA-Z0-9_]+$`)
)

// PutStage adds or replaces a stage.
func (r *Router) PutStage(s Stage) error {
	if !stageNameRe.MatchString(s.Name) {
		return fmt.Errorf("apigw: stage name %q must be 1-128 of a-z A-Z 0-9 - _", s.Name)
	}
	if s.Target == "" {
		return fmt.Errorf("apigw: stage %s: integration target is empty", s.Name)
	}
	for k := range s.Variables {
		if !varNameRe.MatchString(k) {
			return fmt.Errorf("apigw: stage %s: stage variable name %q must be alphanumeric or _", s.Name, k)
		}
	}
	for _, m := range stageVarRe.FindAllStringSubmatch(s.Target, -1) {
		if _, ok := s.Variables[m[1]]; !ok {
			return fmt.Errorf("apigw: stage %s: target %q uses stage variable %s, which the stage does not define", s.Name, s.Target, m[1])
		}
	}
	s.Variables = maps.Clone(s.Variables)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stages[s.Name] = s
	return nil
}

// Stages lists the stages by name.
func (r *Router) Stages() []Stage {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Stage, 0, len(r.stages))
	for _, n := range slices.Sorted(maps.Keys(r.stages)) {
		out = append(out, r.stages[n])
	}
	return out
}

// split returns the stage and the path below it.
func (r *Router) split(path string) (Stage, string, bool) {
	rest := strings.TrimPrefix(path, "/")
	name, sub, _ := strings.Cut(rest, "/")
	r.mu.RLock()
	s, ok := r.stages[name]
	r.mu.RUnlock()
	return s, "/" + sub, ok
}

// Handles reports whether the request's path is under one of the stages.
func (r *Router) Handles(req *http.Request) bool {
	_, _, ok := r.split(req.URL.Path)
	return ok
}

// ResolveTarget substitutes the stage variables into the stage's target.
func (s Stage) ResolveTarget() string {
	return stageVarRe.ReplaceAllStringFunc(s.Target, func(m string) string {
		return s.Variables[stageVarRe.FindStringSubmatch(m)[1]]
	})
}

// splitTarget turns name:qualifier into its parts; an ARN is passed whole.
func splitTarget(t string) (string, string) {
	if strings.HasPrefix(t, "arn:") {
		return t, ""
	}
	name, q, _ := strings.Cut(t, ":")
	return name, q
}

func writeMessage(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if errType != "" {
		w.Header().Set("x-amzn-ErrorType", errType)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ServeHTTP proxies a request to its stage's function.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	id := requestID()
	w.Header().Set("x-amzn-RequestId", id)
	stage, sub, ok := r.split(req.URL.Path)
	if !ok {
		writeMessage(w, http.StatusNotFound, "NotFoundException", "Not Found")
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 10<<20+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "BadRequestException", "could not read the request body")
		return
	}
	if len(body) > 10<<20 {
		writeMessage(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "Request Too Long")
		return
	}
	event := r.event(req, stage, sub, id, body)
	payload, err := json.Marshal(event)
	if err != nil {
		writeMessage(w, http.StatusInternalServerError, "InternalServerErrorException", "Internal server error")
		return
	}
	fn, q := splitTarget(stage.ResolveTarget())
	r.mu.RLock()
	authorize := r.authorize
	r.mu.RUnlock()
	if authorize != nil && stage.API != "" {
		// A function whose resource-based policy does not let the API
		// invoke it: API Gateway answers 500 Internal server error
		// ("Invalid permissions on Lambda function" in its execution log;
		// "Why does my API Gateway API return a 500 error when it invokes a
		// Lambda function with a stage variable?", AWS Knowledge Center,
		// https://repost.aws/knowledge-center/api-gateway-lambda-stage-variable-500).
		if err := authorize(ExecuteAPIARN(stage.API, stage.Name, req.Method, sub), fn, q); err != nil {
			r.log.Warn("apigw: Execution failed due to configuration error: Invalid permissions on Lambda function", "stage", stage.Name, "target", stage.ResolveTarget(), "error", err)
			writeMessage(w, http.StatusInternalServerError, "InternalServerErrorException", "Internal server error")
			return
		}
	}
	res, err := r.invoker.Invoke(req.Context(), fn, q, payload)
	if err != nil {
		// An integration that cannot be invoked is API Gateway's 500.
		r.log.Warn("apigw: invoke failed", "stage", stage.Name, "target", stage.ResolveTarget(), "error", err)
		writeMessage(w, http.StatusInternalServerError, "InternalServerErrorException", "Internal server error")
		return
	}
	if res.FunctionError != "" {
		r.log.Warn("apigw: function error", "stage", stage.Name, "target", stage.ResolveTarget(), "payload", string(res.Payload))
		writeMessage(w, http.StatusBadGateway, "InternalServerErrorException", "Internal server error")
		return
	}
	if err := writeProxyResponse(w, res.Payload); err != nil {
		r.log.Warn("apigw: malformed Lambda proxy response", "stage", stage.Name, "error", err)
		writeMessage(w, http.StatusBadGateway, "InternalServerErrorException", "Internal server error")
	}
}

// event builds the REST API proxy event.
func (r *Router) event(req *http.Request, stage Stage, sub, id string, body []byte) events.APIGatewayProxyRequest {
	resource := "/"
	var params map[string]string
	if sub != "/" {
		resource = "/{proxy+}"
		params = map[string]string{"proxy": strings.TrimPrefix(sub, "/")}
	}
	headers, mvHeaders := map[string]string{}, map[string][]string{}
	for k, vs := range req.Header {
		headers[k] = vs[len(vs)-1]
		mvHeaders[k] = slices.Clone(vs)
	}
	if req.Host != "" {
		headers["Host"], mvHeaders["Host"] = req.Host, []string{req.Host}
	}
	var query map[string]string
	var mvQuery map[string][]string
	if q := req.URL.Query(); len(q) > 0 {
		query, mvQuery = map[string]string{}, map[string][]string{}
		for k, vs := range q {
			query[k] = vs[len(vs)-1]
			mvQuery[k] = slices.Clone(vs)
		}
	}
	ip, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		ip = req.RemoteAddr
	}
	now := r.now()
	e := events.APIGatewayProxyRequest{
		Resource: resource, Path: sub, HTTPMethod: req.Method,
		Headers: headers, MultiValueHeaders: mvHeaders,
		QueryStringParameters: query, MultiValueQueryStringParameters: mvQuery,
		PathParameters: params, StageVariables: maps.Clone(stage.Variables),
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID: core.Account, ResourcePath: resource, Stage: stage.Name, RequestID: id,
			HTTPMethod: req.Method, APIID: "sandbox", Path: "/" + stage.Name + strings.TrimSuffix(sub, "/"),
			Protocol: req.Proto, RequestTime: now.UTC().Format("02/Jan/2006:15:04:05 -0700"), RequestTimeEpoch: now.UnixMilli(),
			Identity: events.APIGatewayRequestIdentity{SourceIP: ip, UserAgent: req.UserAgent()},
		},
	}
	if len(body) > 0 {
		if isText(req.Header.Get("Content-Type"), body) {
			e.Body = string(body)
		} else {
			e.Body, e.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return e
}

// isText says whether a body travels as text; anything else is base64, as
// with binary media types configured.
func isText(contentType string, body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return true
	}
	return strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "json") || strings.HasSuffix(mt, "xml") ||
		mt == "application/x-www-form-urlencoded" || mt == "application/javascript"
}

// proxyResponse is the Lambda proxy response, strictly: a missing or bad
// statusCode makes API Gateway answer 502.
type proxyResponse struct {
	StatusCode        *int                `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              *string             `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

func writeProxyResponse(w http.ResponseWriter, payload []byte) error {
	var p proxyResponse
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("not a proxy response: %w", err)
	}
	if p.StatusCode == nil || *p.StatusCode < 100 || *p.StatusCode > 599 {
		return fmt.Errorf("statusCode missing or invalid in %s", truncate(payload))
	}
	var body []byte
	if p.Body != nil {
		body = []byte(*p.Body)
		if p.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(*p.Body)
			if err != nil {
				return fmt.Errorf("isBase64Encoded body is not base64: %w", err)
			}
			body = b
		}
	}
	h := w.Header()
	for k, vs := range p.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range p.Headers {
		h.Set(k, v)
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	w.WriteHeader(*p.StatusCode)
	_, _ = w.Write(body)
	return nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
