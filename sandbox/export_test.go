package sandbox

import "net/http"

// ServiceHandler is a service's handler without the model validation in
// front, for the binding test to ask the service itself what it serves.
func (sb *Sandbox) ServiceHandler(service string) http.Handler { return sb.services[service] }
