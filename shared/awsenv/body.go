package awsenv

import (
	"context"
	"io"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// WithPlainRequestBodies is an SDK API option (aws.Config.APIOptions) that
// keeps a fast answer from killing the connection it arrives on.
//
// The SDK hands net/http each request's body wrapped in a reader whose
// WriteTo answers io.EOF once the SDK has closed it, and it closes it as
// soon as the response headers arrive. net/http's writer goroutine, after
// sending the declared Content-Length, copies the body once more to check
// nothing is left (io.Copy to io.Discard, which takes the WriteTo path).
// When the server answered before that goroutine got there — a loopback
// sandbox does — the copy returns io.EOF, the transport takes it for a
// failed write and closes the connection while the response body is being
// read: "deserialization failed … use of closed network connection"
// (aws/aws-sdk-go-v2#1825, #2737). Giving net/http a body that only reads
// and seeks makes that last copy use Read, whose io.EOF io.Copy takes for
// the end it is.
func WithPlainRequestBodies(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("aliasflowPlainRequestBody",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			req, ok := in.Request.(*smithyhttp.Request)
			if !ok {
				return next.HandleFinalize(ctx, in)
			}
			rs, seekable := req.GetStream().(io.ReadSeeker)
			if _, writerTo := rs.(io.WriterTo); !seekable || !writerTo {
				return next.HandleFinalize(ctx, in)
			}
			plain, err := req.SetStream(readSeeker{rs})
			if err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err
			}
			in.Request = plain
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// readSeeker hides every method of its stream but Read and Seek.
type readSeeker struct{ io.ReadSeeker }
