package core

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// JSONOp is one awsJson operation: it decodes its input from body (with
// DecodeJSON) and returns the output to encode, or an error (an *APIError
// for an AWS-shaped error; anything else answers InternalFailure).
type JSONOp func(ctx context.Context, body []byte) (any, error)

// ServeAWSJSON serves one awsJson request: it picks the operation named by
// the X-Amz-Target header (prefix + operation, as "AWSEvents.PutEvents") and
// writes its answer. An operation not in ops is refused with
// UnknownOperationException naming it, so nothing unimplemented passes silently.
func ServeAWSJSON(w http.ResponseWriter, r *http.Request, version, prefix string, ops map[string]JSONOp) {
	target := r.Header.Get("X-Amz-Target")
	name, ok := strings.CutPrefix(target, prefix)
	op := ops[name]
	if !ok || op == nil {
		WriteAWSJSONError(w, version, Errorf("UnknownOperationException", http.StatusBadRequest,
			"operation %q is not implemented by the aliasflow sandbox", target))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		WriteAWSJSONError(w, version, Errorf("SerializationException", http.StatusBadRequest, "read body: %v", err))
		return
	}
	out, err := op(r.Context(), body)
	if err != nil {
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			apiErr = Errorf("InternalFailure", http.StatusInternalServerError, "%v", err)
		}
		WriteAWSJSONError(w, version, apiErr)
		return
	}
	WriteAWSJSON(w, version, out)
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
