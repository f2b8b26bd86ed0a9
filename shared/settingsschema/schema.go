// Package settingsschema publishes the targets' settings (shared/config's
// Config, Target and everything under it, plan steps included) as a JSON
// Schema generated from the Go types, and renders it as the reference
// docs/settings.md. The Go types stay the single source: descriptions are
// their field comments, defaults and limits their jsonschema tags, which
// the tests hold to what config.ApplyDefaults and Validate do.
//
// It is kept apart from shared/config so that the Lambdas, which import
// config, do not carry the schema libraries.
package settingsschema

//go:generate go run ./gen

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/plan"
	"github.com/invopop/jsonschema"
)

// ID is the schema's $id.
const ID = "https://github.com/aliasflow/aliasflow/settings.schema.json"

// Published is the committed schema (settings.schema.json in this
// package, written by go generate), used to validate settings offline.
//
//go:embed settings.schema.json
var Published []byte

// pkg is this package's import path: the comment extractor keys the
// directories it reads relative to it.
const pkg = "github.com/aliasflow/aliasflow/shared/settingsschema"

var planPkg = reflect.TypeFor[plan.Step]().PkgPath()

// Generate reflects the schema of a targets document from the Go types.
// srcDir is this package's directory: the field comments are read from the
// sources of shared/config and shared/plan beside it.
func Generate(srcDir string) ([]byte, error) {
	s, err := reflectSchema(srcDir)
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("settingsschema: %w", err)
	}
	return append(out, '\n'), nil
}

func reflectSchema(srcDir string) (*jsonschema.Schema, error) {
	r := &jsonschema.Reflector{
		ExpandedStruct: true,
		// A misspelt setting is refused (config.Parse disallows unknown
		// fields), so the schema refuses it too.
		AllowAdditionalProperties: false,
		// shared/plan and shared/config both have an Approval.
		Namer: func(t reflect.Type) string {
			if t.PkgPath() == planPkg {
				return "Plan" + t.Name()
			}
			return t.Name()
		},
	}
	for _, dir := range []string{"../config", "../plan"} {
		if err := r.AddGoComments(pkg, srcDir+"/"+dir); err != nil {
			return nil, fmt.Errorf("settingsschema: read comments of %s: %w", dir, err)
		}
	}
	s := r.Reflect(&config.Config{})
	s.ID = ID
	s.Title = "aliasflow targets settings"
	// The reflector requires every field without omitempty; a field with
	// a default may be left out (ApplyDefaults fills it in).
	for _, d := range append([]*jsonschema.Schema{s}, slices.Collect(maps.Values(s.Definitions))...) {
		d.Required = slices.DeleteFunc(d.Required, func(k string) bool {
			p, _ := d.Properties.Get(k)
			return p != nil && (p.Default != nil || p.Extras["x-default"] != nil)
		})
	}
	return s, nil
}
