package core

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
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

// TestSnapshotRestoreRoundTrip takes a state through Snapshot and Restore
// and checks what a refused or malformed document leaves.
func TestSnapshotRestoreRoundTrip(t *testing.T) {
	type item struct{ Name, Value string }
	type doc struct{ Items []*item }
	var mu sync.Mutex
	state := map[string]*item{"b": {"b", "2"}, "a": {"a", "1"}}
	data, err := Snapshot(&mu, func() doc { return doc{Items: SortedValues(state)} })
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Items":[{"Name":"a","Value":"1"},{"Name":"b","Value":"2"}]}`; string(data) != want {
		t.Fatalf("Snapshot = %s, want %s", data, want)
	}
	refused := errors.New("pattern no longer compiles")
	tests := []struct {
		name    string
		data    string
		putErr  error
		wantErr string // "" for none
		want    []string
	}{
		{"round trip", string(data), nil, "", []string{"a=1", "b=2"}},
		{"malformed document names the service", `{"Items":`, nil, "demo: restore: unexpected end of JSON input", []string{"old=0"}},
		{"refused by put names the service", string(data), refused, "demo: restore: pattern no longer compiles", []string{"old=0"}},
		{"empty list restores an empty map", `{"Items":null}`, nil, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]*item{"old": {"old", "0"}}
			err := Restore("demo", []byte(tt.data), &mu, func(d doc) error {
				if tt.putErr != nil {
					return tt.putErr
				}
				got = Keyed(d.Items, func(i *item) string { return i.Name })
				return nil
			})
			if fmt.Sprint(err) != tt.wantErr && !(err == nil && tt.wantErr == "") {
				t.Errorf("Restore error = %v, want %q", err, tt.wantErr)
			}
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(got)) {
				kv = append(kv, k+"="+got[k].Value)
			}
			if !slices.Equal(kv, tt.want) {
				t.Errorf("state after Restore = %v, want %v", kv, tt.want)
			}
		})
	}
}
