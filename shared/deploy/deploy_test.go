package deploy

import (
	"slices"
	"strings"
	"testing"
)

func TestFunctionsDeclareTheirEnvironment(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Functions {
		if seen[f.Name] || !strings.HasPrefix(f.Name, "aliasflow-") || f.Command == "" {
			t.Errorf("function %+v: duplicate or malformed", f)
		}
		seen[f.Name] = true
		if !slices.IsSorted(f.Env) {
			t.Errorf("%s: Env %v is not sorted (keep the declarations easy to compare)", f.Name, f.Env)
		}
		for _, k := range f.Env {
			if !strings.HasPrefix(k, "ALIASFLOW_") || k == EnvLoopbackOnly {
				t.Errorf("%s declares %s, which the pipeline does not set", f.Name, k)
			}
		}
	}
}

func TestGetenvRefusesUndeclaredKeys(t *testing.T) {
	t.Setenv(EnvEventBus, "bus-1")
	if got := Shift.Getenv(EnvEventBus); got != "bus-1" {
		t.Errorf("Getenv(%s) = %q", EnvEventBus, got)
	}
	defer func() {
		if recover() == nil {
			t.Error("Getenv of an undeclared key did not panic")
		}
	}()
	Shift.Getenv(EnvStateMachineARN)
}
