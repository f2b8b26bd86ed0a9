package core

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/aliasflow/aliasflow/sandbox/model"
)

// JSONOp is one awsJson operation: it decodes its input from body (with
// DecodeJSON) and returns the output to encode, or an error (an *APIError
// for an AWS-shaped error; anything else answers InternalFailure).
type JSONOp func(ctx context.Context, body []byte) (any, error)

// ServeAWSJSON serves one awsJson request of service (its SigV4 name):
// the operation and the body are those of the sandbox's one reading of the
// request against AWS's model (model.Attach; the service's own tests, which
// serve it alone, get the same reading here), as is the protocol version.
// An operation not in ops, or a target the model does not know, is refused
// with UnknownOperationException naming it, so nothing unimplemented
// passes silently.
func ServeAWSJSON(w http.ResponseWriter, r *http.Request, service string, ops map[string]JSONOp) {
	_, req, err := model.Attach(r, service)
	if req == nil {
		WriteAWSJSONError(w, "1.0", Errorf("InternalFailure", http.StatusInternalServerError, "%v", err))
		return
	}
	version := req.Service.JSONVersion
	op := ops[req.OperationName]
	if req.Operation == nil || op == nil {
		WriteAWSJSONError(w, version, Errorf("UnknownOperationException", http.StatusBadRequest,
			"operation %q is not implemented by the aliasflow sandbox", r.Header.Get("X-Amz-Target")))
		return
	}
	if errors.Is(req.Err, model.ErrReadBody) {
		WriteAWSJSONError(w, version, Errorf("SerializationException", http.StatusBadRequest, "%v", req.Err))
		return
	}
	out, err := op(r.Context(), req.Body)
	if err != nil {
		WriteAWSJSONError(w, version, AsAPIError(err))
		return
	}
	WriteAWSJSON(w, version, out)
}

// AsAPIError is err as the AWS error to answer: itself when it is one,
// else InternalFailure carrying its text.
func AsAPIError(err error) *APIError {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		apiErr = Errorf("InternalFailure", http.StatusInternalServerError, "%v", err)
	}
	return apiErr
}

// DecodeJSON decodes an awsJson request body into v; a malformed body is a
// SerializationException, as AWS answers it. An empty body decodes as {}.
func DecodeJSON(body []byte, v any) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return Errorf("SerializationException", http.StatusBadRequest, "malformed request body: %v", err)
	}
	return nil
}
