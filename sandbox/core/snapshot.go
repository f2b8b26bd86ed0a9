package core

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Every service persists its state the same way (the sandbox saves it as
// <service>.json): a snapshot document of the service's own type, its maps
// listed by key (SortedValues) so the same state always gives the same
// bytes, taken and put back under the service's lock. Snapshot, Restore and
// Keyed are that skeleton, written once; a service says only what its
// document holds.

// SortedValues returns m's values in the order of their keys, nil for an
// empty map. A service's Snapshot lists its maps this way so that the same
// state always gives the same bytes.
func SortedValues[K cmp.Ordered, V any](m map[K]V) []V {
	var out []V
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// Keyed is a snapshot's list back as a map by key (the inverse of
// SortedValues); never nil.
func Keyed[K comparable, V any](list []V, key func(V) K) map[K]V {
	m := make(map[K]V, len(list))
	for _, v := range list {
		m[key(v)] = v
	}
	return m
}

// Snapshot is a service's state as JSON: the document take returns, called
// under mu.
func Snapshot[T any](mu sync.Locker, take func() T) ([]byte, error) {
	mu.Lock()
	defer mu.Unlock()
	return json.Marshal(take())
}

// Restore decodes a Snapshot of service and hands it to put under mu. A
// document that does not decode, or one put refuses (put builds the new
// state before it installs any of it), is an error naming the service and
// the state stays as it was.
func Restore[T any](service string, data []byte, mu sync.Locker, put func(T) error) error {
	var snap T
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("%s: restore: %w", service, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if err := put(snap); err != nil {
		return fmt.Errorf("%s: restore: %w", service, err)
	}
	return nil
}
