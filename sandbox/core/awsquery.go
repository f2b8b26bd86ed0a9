package core

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"

	"github.com/aliasflow/aliasflow/sandbox/model"
)

// QueryOp is one awsQuery operation: it reads its parameters from the
// decoded form and returns the value to encode as <OpResult> (nil for an
// operation without a result), or an error (an *APIError for an AWS-shaped
// error; anything else answers InternalFailure).
type QueryOp func(ctx context.Context, form url.Values) (any, error)

// ServeAWSQuery serves one awsQuery request of service (its SigV4 name;
// form in, XML out): the operation is the Action of the sandbox's one
// reading of the request against AWS's model (model.Attach), and it writes
// <OpResponse xmlns=namespace><OpResult>…</OpResult><ResponseMetadata>…,
// or an <ErrorResponse>. An action not in ops is refused with InvalidAction
// naming it.
func ServeAWSQuery(w http.ResponseWriter, r *http.Request, service, namespace string, ops map[string]QueryOp) {
	r, req, err := model.Attach(r, service)
	if req == nil {
		WriteAWSQueryError(w, namespace, Errorf("InternalFailure", http.StatusInternalServerError, "%v", err))
		return
	}
	if err := r.ParseForm(); err != nil {
		WriteAWSQueryError(w, namespace, Errorf("MalformedQueryString", http.StatusBadRequest, "%v", err))
		return
	}
	action := req.OperationName
	op := ops[action]
	if req.Operation == nil || op == nil {
		WriteAWSQueryError(w, namespace, Errorf("InvalidAction", http.StatusBadRequest,
			"Could not find operation %q: it is not implemented by the aliasflow sandbox", action))
		return
	}
	result, err := op(r.Context(), r.Form)
	if err != nil {
		WriteAWSQueryError(w, namespace, AsAPIError(err))
		return
	}
	WriteAWSQuery(w, namespace, action, result)
}

// WriteAWSQuery writes an awsQuery success response; result (when not nil)
// is XML-encoded as the <actionResult> element.
func WriteAWSQuery(w http.ResponseWriter, namespace, action string, result any) {
	w.Header().Set("Content-Type", "text/xml")
	enc := xml.NewEncoder(w)
	start := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: namespace}}}
	_ = enc.EncodeToken(start)
	if result != nil {
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			// Headers are gone; a truncated document makes the client fail loudly.
			return
		}
	}
	_ = enc.EncodeElement(struct {
		RequestId string
	}{UUID()}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	_ = enc.EncodeToken(start.End())
	_ = enc.Flush()
}

// WriteAWSQueryError writes an awsQuery <ErrorResponse>.
func WriteAWSQueryError(w http.ResponseWriter, namespace string, err *APIError) {
	type errorBody struct {
		Type    string
		Code    string
		Message string
	}
	fault := "Sender"
	if err.Status >= 500 {
		fault = "Receiver"
	}
	body := struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Error     errorBody
		RequestId string
	}{Xmlns: namespace, Error: errorBody{fault, err.Code, err.Message}, RequestId: UUID()}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(err.Status)
	_ = xml.NewEncoder(w).Encode(body)
}

// UUID returns a random (version 4) UUID: request ids, event ids, version ids.
func UUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
