package untrusted

import (
	"strings"
	"testing"
)

func TestShow(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "ana@example.com", "ana@example.com"},
		{"empty", "", ""},
		{"spaces and quotes stay", `function "payments" is not configured`, `function "payments" is not configured`},
		{"non-ASCII letters stay", "Zoë Ångström", "Zoë Ångström"},
		{"ARN", "arn:aws:iam::123456789012:user/ops", "arn:aws:iam::123456789012:user/ops"},
		{"newline", "a\n\nSmoke tests passed", `"a\n\nSmoke tests passed"`},
		{"carriage return", "ok\rforged", `"ok\rforged"`},
		{"tab", "a\tb", `"a\tb"`},
		{"ANSI clear screen", "x\x1b[2J", `"x\x1b[2J"`},
		{"C1 CSI", "x\u009b2J", `"x\u009b2J"`},
		{"bidi override", "abc\u202edcb", `"abc\u202edcb"`},
		{"bidi isolate", "a\u2066b", `"a\u2066b"`},
		{"zero width space", "a\u200bb", `"a\u200bb"`},
		{"line separator", "a\u2028b", `"a\u2028b"`},
		{"invalid UTF-8", "a\xffb", `"a\xffb"`},
		{"quote inside an escaped value", "\"x\"\n", `"\"x\"\n"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Show(tt.in); got != tt.want {
				t.Errorf("Show(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // "" when accepted
	}{
		{"plain", "ben@example.com", ""},
		{"name with spaces", "Ana María", ""},
		{"emoji", "ship it 🚀", ""},
		{"newline", "ben\nApprove: https://evil.example/", "U+000A at byte 3"},
		{"escape", "\x1b[2J", "U+001B at byte 0"},
		{"DEL", "a\x7f", "U+007F"},
		{"C1", "a\u0085", "U+0085"},
		{"bidi override", "moc.elpmaxe@\u202eana", "U+202E"},
		{"byte order mark", "\ufeffana", "U+FEFF"},
		{"paragraph separator", "a\u2029b", "U+2029"},
		{"invalid UTF-8", "a\xc3", "not valid UTF-8 (byte 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check(%q) = %v, want nil", tt.in, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Check(%q) = %v, want an error containing %q", tt.in, err, tt.want)
			case err != nil && strings.ContainsAny(err.Error(), "\n\x1b\u202e"):
				t.Errorf("Check(%q) error %q carries the character raw", tt.in, err)
			}
		})
	}
}

// FuzzShow: nothing Show returns holds a character Check refuses.
func FuzzShow(f *testing.F) {
	for _, s := range []string{"a\nb", "\x1b[2J", "\u202e", "\xff", "plain"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := Check(Show(s)); err != nil {
			t.Fatalf("Show(%q) = %q: %v", s, Show(s), err)
		}
	})
}
