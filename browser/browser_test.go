package browser

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindChromium(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "chromium")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		env     string
		want    string
		wantErr error
	}{
		{name: "override names an executable", env: exe, want: exe},
		{name: "override names nothing", env: filepath.Join(dir, "missing"), wantErr: ErrNoChromium},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvChromium, tc.env)
			got, err := FindChromium()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("path = %q, want %q", got, tc.want)
			}
			if err != nil {
				// The message must tell a developer how to get going.
				for _, hint := range []string{"apt-get install -y chromium", EnvSkip + "=1"} {
					if !strings.Contains(err.Error(), hint) {
						t.Errorf("error %q does not mention %q", err, hint)
					}
				}
			}
		})
	}
}
