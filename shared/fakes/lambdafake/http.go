package lambdafake

import (
	"context"
	"io"
	"net/http"

	"github.com/aliasflow/aliasflow/shared/fakes/wire"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// status is the HTTP status Lambda answers each error with (restJson1
// carries the code in X-Amzn-Errortype and the status alongside).
func status(code string) int {
	switch code {
	case "ResourceNotFoundException":
		return http.StatusNotFound
	case "ResourceConflictException":
		return http.StatusConflict
	case "PreconditionFailedException":
		return http.StatusPreconditionFailed
	case "TooManyRequestsException":
		return http.StatusTooManyRequests
	case "ServiceException":
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// Handler serves the fake over HTTP on Lambda's REST paths, for the real
// SDK client (lambda.NewFromConfig with BaseEndpoint set to the server).
func Handler(f *Fake) http.Handler {
	mux := http.NewServeMux()
	const base = "/2015-03-31/functions/{fn}"
	op := func(pattern string, run func(ctx context.Context, r *http.Request, body []byte) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			out, err := run(r.Context(), r, body)
			if err != nil {
				wire.WriteError(w, err, wire.RestJSON, status)
				return
			}
			code := http.StatusOK
			if r.Method == http.MethodPost {
				code = http.StatusCreated
			}
			wire.Write(w, code, out, wire.RestJSON)
		})
	}
	fn := func(r *http.Request) *string { return aws.String(r.PathValue("fn")) }
	op("POST "+base+"/versions", func(ctx context.Context, r *http.Request, body []byte) (any, error) {
		in := &lambda.PublishVersionInput{}
		if err := wire.Decode(body, in); err != nil {
			return nil, invalid("malformed body: %v", err)
		}
		in.FunctionName = fn(r)
		return f.PublishVersion(ctx, in)
	})
	op("GET "+base+"/versions", func(ctx context.Context, r *http.Request, _ []byte) (any, error) {
		return f.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: fn(r)})
	})
	op("POST "+base+"/aliases", func(ctx context.Context, r *http.Request, body []byte) (any, error) {
		in := &lambda.CreateAliasInput{}
		if err := wire.Decode(body, in); err != nil {
			return nil, invalid("malformed body: %v", err)
		}
		in.FunctionName = fn(r)
		return f.CreateAlias(ctx, in)
	})
	op("GET "+base+"/aliases", func(ctx context.Context, r *http.Request, _ []byte) (any, error) {
		in := &lambda.ListAliasesInput{FunctionName: fn(r)}
		if v := r.URL.Query().Get("FunctionVersion"); v != "" {
			in.FunctionVersion = aws.String(v)
		}
		return f.ListAliases(ctx, in)
	})
	op("GET "+base+"/aliases/{name}", func(ctx context.Context, r *http.Request, _ []byte) (any, error) {
		return f.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: fn(r), Name: aws.String(r.PathValue("name"))})
	})
	op("PUT "+base+"/aliases/{name}", func(ctx context.Context, r *http.Request, body []byte) (any, error) {
		in := &lambda.UpdateAliasInput{}
		if err := wire.Decode(body, in); err != nil {
			return nil, invalid("malformed body: %v", err)
		}
		in.FunctionName, in.Name = fn(r), aws.String(r.PathValue("name"))
		return f.UpdateAlias(ctx, in)
	})
	op("GET "+base+"/configuration", func(ctx context.Context, r *http.Request, _ []byte) (any, error) {
		in := &lambda.GetFunctionConfigurationInput{FunctionName: fn(r)}
		if q := r.URL.Query().Get("Qualifier"); q != "" {
			in.Qualifier = aws.String(q)
		}
		return f.GetFunctionConfiguration(ctx, in)
	})
	mux.HandleFunc("POST "+base+"/invocations", func(w http.ResponseWriter, r *http.Request) {
		payload, _ := io.ReadAll(r.Body)
		in := &lambda.InvokeInput{FunctionName: fn(r), Payload: payload}
		if q := r.URL.Query().Get("Qualifier"); q != "" {
			in.Qualifier = aws.String(q)
		}
		out, err := f.Invoke(r.Context(), in)
		if err != nil {
			wire.WriteError(w, err, wire.RestJSON, status)
			return
		}
		w.Header().Set("X-Amz-Executed-Version", aws.ToString(out.ExecutedVersion))
		if out.FunctionError != nil {
			w.Header().Set("X-Amz-Function-Error", *out.FunctionError)
		}
		w.WriteHeader(int(out.StatusCode))
		_, _ = w.Write(out.Payload)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		wire.WriteError(w, invalid("lambdafake: %s %s is not an operation the fake serves", r.Method, r.URL.Path), wire.RestJSON,
			func(string) int { return http.StatusNotImplemented })
	})
	return mux
}
