package core

import (
	"cmp"
	"maps"
	"slices"
)

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
