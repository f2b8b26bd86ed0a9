package settingsschema

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	sv "github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// What Problems validates a document as.
const (
	// Document is a targets file: {"targets": [...]}.
	Document = ""
	// OneTarget is one target's settings, as stored in its parameter.
	OneTarget = "#/$defs/Target"
)

var compiled = sync.OnceValues(func() (map[string]*sv.Schema, error) {
	v, err := sv.UnmarshalJSON(bytes.NewReader(Published))
	if err != nil {
		return nil, fmt.Errorf("settingsschema: read schema: %w", err)
	}
	c := sv.NewCompiler()
	if err := c.AddResource(ID, v); err != nil {
		return nil, fmt.Errorf("settingsschema: %w", err)
	}
	out := map[string]*sv.Schema{}
	for _, frag := range []string{Document, OneTarget} {
		s, err := c.Compile(ID + frag)
		if err != nil {
			return nil, fmt.Errorf("settingsschema: compile %s: %w", ID+frag, err)
		}
		out[frag] = s
	}
	return out, nil
})

// Problems validates doc against the published schema as what (Document
// or OneTarget) and returns each problem as "field: message", the field
// named as config's errors name it (targets[0].strategy.percent), under
// prefix ("settings" for one target, "" for a document). A doc that is not
// JSON is an error.
func Problems(doc []byte, what, prefix string) ([]string, error) {
	schemas, err := compiled()
	if err != nil {
		return nil, err
	}
	v, err := sv.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	err = schemas[what].Validate(v)
	if err == nil {
		return nil, nil
	}
	ve, ok := err.(*sv.ValidationError)
	if !ok {
		return nil, err
	}
	p := message.NewPrinter(language.English)
	var out []string
	var walk func(e *sv.ValidationError)
	walk = func(e *sv.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, FieldPath(prefix, e.InstanceLocation)+": "+e.ErrorKind.LocalizedString(p))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.Sort(out)
	return slices.Compact(out), nil
}

// FieldPath writes a JSON location as config's errors do: prefix, then
// .name for a property and [i] for an index.
func FieldPath(prefix string, loc []string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, l := range loc {
		if _, err := strconv.Atoi(l); err == nil {
			b.WriteString("[" + l + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(l)
	}
	if b.Len() == 0 {
		return "(document)"
	}
	return b.String()
}
