package lambdasvc

import "net/http"

// Operation names the Lambda API operation a restJson1 request is
// ("PublishVersion", "UpdateAlias", ...), or "" when it is none the sandbox
// serves. The root dispatcher uses it to count calls by operation.
func Operation(r *http.Request) string {
	op, _, err := route(r)
	if err != nil {
		return ""
	}
	return op
}
