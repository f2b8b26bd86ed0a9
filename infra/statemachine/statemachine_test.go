package statemachine

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func TestDefinitionPlaceholdersAreExactlySubstitutions(t *testing.T) {
	if !json.Valid([]byte(Definition)) {
		t.Fatal("promotion.asl.json is not valid JSON")
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z]+)\}`).FindAllStringSubmatch(Definition, -1) {
		seen[m[1]] = true
	}
	var got []string
	for k := range seen {
		got = append(got, k)
	}
	want := append([]string(nil), Substitutions...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("placeholders in the definition = %v, want %v", got, want)
	}
}
