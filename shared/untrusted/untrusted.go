// Package untrusted shows and checks text aliasflow did not write — release
// metadata from an event, an audit record's reason, a smoke check's detail —
// before it reaches a person: a terminal or a plain-text e-mail treats a
// control character as an instruction (a newline starts a fake section, an
// ANSI escape clears the screen, a bidi override reorders what is read), so
// no such character may reach them raw.
package untrusted

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Show returns s as it may be printed: unchanged when every character is
// printable, else Go-quoted with each unprintable character escaped ("\n",
// "\x1b", "\u202e"), so that the quotes say the value was escaped. Printable
// is strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the
// ASCII space — no control (Cc), format (Cf, the bidi overrides among them),
// line or paragraph separator, other space, nor invalid UTF-8.
func Show(s string) string {
	if printable(s) {
		return s
	}
	return strconv.Quote(s)
}

func printable(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError && isInvalid(s[i:]) {
			return false
		}
		if !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

func isInvalid(s string) bool {
	_, size := utf8.DecodeRuneInString(s)
	return size <= 1
}

// Check refuses text a person must not be shown as a fact: invalid UTF-8,
// or a control (Cc), format (Cf: bidi overrides, zero-width characters),
// line separator (Zl) or paragraph separator (Zp) character. The error names
// the character and where it is; the value itself is quoted.
func Check(s string) error {
	for i, r := range s {
		if r == utf8.RuneError && isInvalid(s[i:]) {
			return fmt.Errorf("%s is not valid UTF-8 (byte %d)", Show(s), i)
		}
		if forbidden(r) {
			return fmt.Errorf("%s has the control character %U at byte %d", Show(s), r, i)
		}
	}
	return nil
}

func forbidden(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}
