package sandbox

import (
	"maps"
	"net/http"
	"slices"
)

// ServiceHandler is a service's handler without the model validation in
// front, for the binding test to ask the service itself what it serves.
func (sb *Sandbox) ServiceHandler(service string) http.Handler { return sb.services[service] }

// ServiceNames are the SigV4 names of the services the sandbox serves.
func (sb *Sandbox) ServiceNames() []string { return slices.Sorted(maps.Keys(sb.services)) }
