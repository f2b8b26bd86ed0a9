package core

import (
	"slices"
	"testing"
)

func TestSortedValues(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]int
		want []int
	}{
		{"by key, not by value", map[string]int{"b": 1, "c": 0, "a": 2}, []int{2, 1, 0}},
		{"empty map gives nil (a snapshot writes null, as before)", map[string]int{}, nil},
		{"nil map", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SortedValues(tt.in)
			if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("SortedValues(%v) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}
