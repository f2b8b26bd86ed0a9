package sandbox

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/aliasflow/aliasflow/sandbox/core"
	"github.com/aliasflow/aliasflow/sandbox/model"
	"github.com/aws/smithy-go/encoding/cbor"
)

// loadModels loads AWS's API model of every service the sandbox serves; a
// sandbox without them would accept what AWS refuses, so it does not start.
func loadModels(services map[string]http.Handler) (*model.Models, error) {
	models, err := model.Default()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	for name := range services {
		if _, err := models.Service(name); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	return models, nil
}

// validate checks a signed request against its service's AWS API model
// before the service sees it, and answers the refusal AWS would give when
// it breaks a constraint of the model (required member, length, pattern,
// enum, range). It reports whether the request may go on; a request the
// model does not describe goes on, for the service to refuse loudly.
//
// AWS answers a request that fails its model with HTTP 400 and
// "ValidationException" ("The input fails to satisfy the constraints
// specified by an AWS service", e.g. the Lambda API reference's
// UpdateAlias errors and Step Functions' StartExecution errors) on the JSON
// protocols, and "ValidationError" on the query protocols (AWS common
// errors: "ValidationError … The input fails to satisfy the constraints
// specified by an AWS service", https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html).
func (sb *Sandbox) validate(w http.ResponseWriter, req *model.Request) bool {
	svc := req.Service
	if req.Err != nil || req.Operation == nil {
		return true // the service answers the broken body or unknown operation
	}
	violations := req.Validate()
	if len(violations) == 0 {
		return true
	}
	msgs := make([]string, len(violations))
	for i, v := range violations {
		msgs[i] = v.Message
	}
	noun := "error"
	if len(msgs) > 1 {
		noun = "errors"
	}
	msg := fmt.Sprintf("%d validation %s detected: %s", len(msgs), noun, strings.Join(msgs, "; "))
	code := "ValidationException"
	if req.Protocol == model.ProtoQuery || svc.QueryCompatible {
		code = "ValidationError"
	}
	writeModelError(w, svc, req.Protocol, core.Errorf(code, http.StatusBadRequest, "%s", msg))
	return false
}

// writeModelError writes an error in the request's protocol.
func writeModelError(w http.ResponseWriter, svc *model.Service, protocol string, e *core.APIError) {
	if svc.QueryCompatible {
		w.Header().Set("X-Amzn-Query-Error", e.Code+";Sender")
	}
	switch protocol {
	case model.ProtoQuery:
		core.WriteAWSQueryError(w, svc.XMLNamespace, e)
	case model.ProtoCBOR:
		w.Header().Set("Content-Type", "application/cbor")
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.WriteHeader(e.Status)
		_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String(e.Code), "message": cbor.String(e.Message)}))
	case model.ProtoREST:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", e.Code)
		w.WriteHeader(e.Status)
		fmt.Fprintf(w, "{\"Type\":\"User\",\"message\":%q}\n", e.Message)
	default:
		version := svc.JSONVersion
		if version == "" {
			version = "1.0"
		}
		core.WriteAWSJSONError(w, version, e)
	}
}
