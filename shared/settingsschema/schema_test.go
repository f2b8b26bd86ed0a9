package settingsschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/invopop/jsonschema"
)

func reflected(t *testing.T) *jsonschema.Schema {
	t.Helper()
	s, err := reflectSchema(".")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGeneratedFilesFresh fails when the committed schema or reference
// doc differs from what the Go types generate.
func TestGeneratedFilesFresh(t *testing.T) {
	files, err := Files(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range slices.Sorted(maps.Keys(files)) {
		t.Run(path, func(t *testing.T) {
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go generate ./shared/settingsschema)", err)
			}
			if !bytes.Equal(got, files[path]) {
				t.Errorf("%s is stale: run go generate ./shared/settingsschema", path)
			}
		})
	}
	if !bytes.Equal(Published, files["./"+SchemaFile]) {
		t.Errorf("embedded schema differs from the generated one: run go generate ./shared/settingsschema")
	}
}

// TestEverySettingDocumented is the check: a Go settings field
// without a description, or without a stated default (a literal default,
// an x-default saying what applies, or required), fails.
func TestEverySettingDocumented(t *testing.T) {
	s := reflected(t)
	defs := map[string]*jsonschema.Schema{"(document)": s}
	maps.Copy(defs, s.Definitions)
	wantDefs := []string{"Target", "StrategyConfig", "Health", "Approval", "Repository", "SmokeCheck", "InvokeCheck", "HTTPCheck", "PlanStep", "PlanSetWeight", "PlanAnalysis", "PlanPause", "PlanApproval", "PlanWindow", "PlanFreeze"}
	for _, name := range wantDefs {
		if defs[name] == nil {
			t.Errorf("schema lacks %s; got definitions %v", name, slices.Sorted(maps.Keys(defs)))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(defs)) {
		d := defs[name]
		if d.Properties == nil {
			continue
		}
		for key, p := range d.Properties.FromOldest() {
			t.Run(name+"."+key, func(t *testing.T) {
				if strings.TrimSpace(p.Description) == "" {
					t.Errorf("%s.%s has no description: give its Go field a comment", name, key)
				}
				if Default(d, key) == "" {
					t.Errorf("%s.%s states no default: tag it jsonschema:\"default=…\" or jsonschema_extras:\"x-default=…\", or make it required", name, key)
				}
			})
		}
	}
}

// sample is a valid canary target whose every limited field is present,
// so that one field at a time can be moved to its limits.
const sample = `{"targets":[{
	"function":"orders",
	"strategy":{"type":"canary","percent":10,"bakeSeconds":300},
	"approvers":["lead@example.com","ops@example.com"],
	"approval":{"required":1},
	"smokeRetries":2,
	"approvalTimeoutSeconds":3600,
	"smokeChecks":[{"name":"ping","http":{"url":"https://example.com/ping","expectStatus":200},"invoke":{"payload":{}},"timeoutSeconds":10}],
	"health":{"maxErrorRate":0.05,"minInvocations":20,"windowSeconds":60,"metricDelaySeconds":240,"probes":1,"maxBakeSeconds":900,"onInconclusive":"rollback","maxP99LatencyRatio":2}
}]}`

func sampleDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(sample), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// set puts v at path ("targets.0.health.probes") in doc.
func set(t *testing.T, doc map[string]any, path string, v any) {
	t.Helper()
	var cur any = doc
	parts := strings.Split(path, ".")
	for i, p := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[p] = v
				return
			}
			cur = c[p]
		case []any:
			var n int
			fmt.Sscan(p, &n)
			if last {
				c[n] = v
				return
			}
			cur = c[n]
		default:
			t.Fatalf("path %s: %T at %q", path, cur, p)
		}
	}
}

// goErrors is what config.Parse (the release's validation) says of doc.
func goErrors(t *testing.T, doc map[string]any) string {
	t.Helper()
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse(data); err != nil {
		return err.Error()
	}
	return ""
}

func schemaErrors(t *testing.T, doc map[string]any) string {
	t.Helper()
	data, _ := json.Marshal(doc)
	problems, err := Problems(data, Document, "")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(problems, "\n")
}

// TestLimitsMatchValidate moves each limited field of the sample to its
// schema limits and just past them: the Go validator must accept the
// limit and refuse past it, naming the field, as the schema does.
func TestLimitsMatchValidate(t *testing.T) {
	if msg := goErrors(t, sampleDoc(t)); msg != "" {
		t.Fatalf("sample refused by config.Parse: %s", msg)
	}
	if msg := schemaErrors(t, sampleDoc(t)); msg != "" {
		t.Fatalf("sample refused by the schema: %s", msg)
	}
	s := reflected(t)
	tests := []struct {
		def, key, path, field string
	}{
		{"Target", "smokeRetries", "targets.0.smokeRetries", "targets[0].smokeRetries"},
		{"Target", "approvalTimeoutSeconds", "targets.0.approvalTimeoutSeconds", "targets[0].approvalTimeoutSeconds"},
		{"StrategyConfig", "percent", "targets.0.strategy.percent", "targets[0].strategy.percent"},
		{"StrategyConfig", "bakeSeconds", "targets.0.strategy.bakeSeconds", "targets[0].strategy.bakeSeconds"},
		{"Approval", "required", "targets.0.approval.required", "targets[0].approval.required"},
		{"Health", "maxErrorRate", "targets.0.health.maxErrorRate", "targets[0].health.maxErrorRate"},
		{"Health", "windowSeconds", "targets.0.health.windowSeconds", "targets[0].health.windowSeconds"},
		{"Health", "metricDelaySeconds", "targets.0.health.metricDelaySeconds", "targets[0].health.metricDelaySeconds"},
		{"Health", "probes", "targets.0.health.probes", "targets[0].health.probes"},
		{"Health", "maxP99LatencyRatio", "targets.0.health.maxP99LatencyRatio", "targets[0].health.maxP99LatencyRatio"},
		{"SmokeCheck", "timeoutSeconds", "targets.0.smokeChecks.0.timeoutSeconds", "targets[0].smokeChecks[0].timeoutSeconds"},
		{"HTTPCheck", "expectStatus", "targets.0.smokeChecks.0.http.expectStatus", "targets[0].smokeChecks[0].http.expectStatus"},
	}
	for _, tt := range tests {
		t.Run(tt.def+"."+tt.key, func(t *testing.T) {
			p, ok := s.Definitions[tt.def].Properties.Get(tt.key)
			if !ok {
				t.Fatalf("schema has no %s.%s", tt.def, tt.key)
			}
			if p.Minimum == "" && p.Maximum == "" {
				t.Fatalf("%s.%s states no limit", tt.def, tt.key)
			}
			step := json.Number("1")
			if p.Type == "number" {
				step = "0.001"
			}
			check := func(limit json.Number, sign float64) {
				l, _ := limit.Float64()
				d, _ := step.Float64()
				for _, c := range []struct {
					v    float64
					want bool // refused
				}{{l, false}, {l + sign*d, true}} {
					if c.v == 0 && p.Default != nil {
						// config reads 0 as unset and applies the
						// default; the schema asks to leave it out.
						continue
					}
					doc := sampleDoc(t)
					set(t, doc, tt.path, c.v)
					goMsg, schemaMsg := goErrors(t, doc), schemaErrors(t, doc)
					if got := strings.Contains(goMsg, tt.field+":"); got != c.want {
						t.Errorf("%s = %v: config refuses it naming %s = %v, want %v (errors: %q)", tt.field, c.v, tt.field, got, c.want, goMsg)
					}
					if got := schemaMsg != ""; got != c.want {
						t.Errorf("%s = %v: schema refuses it = %v, want %v (errors: %q)", tt.field, c.v, got, c.want, schemaMsg)
					}
				}
			}
			if p.Minimum != "" {
				check(p.Minimum, -1)
			}
			if p.Maximum != "" {
				check(p.Maximum, +1)
			}
		})
	}
}

// TestDefaultsMatchApplyDefaults reads each literal default of the
// schema back from a target config.Parse completed with its defaults.
func TestDefaultsMatchApplyDefaults(t *testing.T) {
	c, err := config.Parse([]byte(`{"targets":[{"function":"orders","approvers":["lead@example.com"],
		"smokeChecks":[{"name":"ping","http":{"url":"https://example.com/ping"}}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(c.Targets[0])
	if err != nil {
		t.Fatal(err)
	}
	var target map[string]any
	if err := json.Unmarshal(data, &target); err != nil {
		t.Fatal(err)
	}
	sc := target["smokeChecks"].([]any)[0].(map[string]any)
	objects := map[string]map[string]any{
		"Target":         target,
		"StrategyConfig": target["strategy"].(map[string]any),
		"Health":         target["health"].(map[string]any),
		"SmokeCheck":     sc,
		"HTTPCheck":      sc["http"].(map[string]any),
	}
	s := reflected(t)
	checked := 0
	for _, def := range slices.Sorted(maps.Keys(objects)) {
		for key, p := range s.Definitions[def].Properties.FromOldest() {
			if p.Default == nil {
				continue
			}
			t.Run(def+"."+key, func(t *testing.T) {
				want, _ := json.Marshal(p.Default)
				got, present := objects[def][key]
				if !present {
					// Left out of the JSON (omitempty): the zero value.
					got = zeroOf(p.Type)
				}
				g, _ := json.Marshal(got)
				if string(g) != string(want) {
					t.Errorf("%s.%s: ApplyDefaults gives %s, schema states %s", def, key, g, want)
				}
			})
			checked++
		}
	}
	if checked < 10 {
		t.Errorf("checked %d defaults, want at least 10", checked)
	}
}

func zeroOf(typ string) any {
	switch typ {
	case "integer", "number":
		return 0
	case "boolean":
		return false
	case "string":
		return ""
	}
	return nil
}
