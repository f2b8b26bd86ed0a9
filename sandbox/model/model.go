// Package model reads AWS's own published API models — the service-2.json.gz
// files botocore ships under data/<service>/<version>/ — and validates the
// requests the sandbox receives against them: the operation and its HTTP
// binding, required members, string and collection lengths, patterns, enums
// and numeric ranges. The models are read where botocore is installed, never
// copied into the repository; without them the sandbox refuses to start.
package model

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/aliasflow/aliasflow/sandbox/internal/pydata"
)

// DataDirEnv names botocore's data directory; when unset, it is found by
// asking python3 where botocore is installed.
const DataDirEnv = "ALIASFLOW_BOTOCORE_DATA"

// botocoreName maps a SigV4 service name to botocore's folder name where the
// two differ; any other service (ssm, codebuild, …) uses its own name.
var botocoreName = map[string]string{"states": "stepfunctions", "monitoring": "cloudwatch"}

// Service is one service's model.
type Service struct {
	// Name is the SigV4 name (states, monitoring, …).
	Name string
	// Protocol is the model's default protocol: json, rest-json, query or
	// smithy-rpc-v2-cbor.
	Protocol string
	// TargetPrefix is the X-Amz-Target prefix (awsJson) and the service name
	// in rpcv2Cbor paths.
	TargetPrefix string
	// JSONVersion is the awsJson version ("1.0", "1.1").
	JSONVersion string
	// XMLNamespace is the awsQuery response namespace.
	XMLNamespace string
	// QueryCompatible reports awsQueryCompatible (errors carry query codes).
	QueryCompatible bool
	Operations      map[string]*Operation
	Shapes          map[string]*Shape
}

// Operation is one operation of a model.
type Operation struct {
	Name string
	HTTP struct {
		Method     string `json:"method"`
		RequestURI string `json:"requestUri"`
	} `json:"http"`
	Input *Ref `json:"input"`
	// Errors are the error shapes the operation documents.
	Errors []Ref `json:"errors"`
}

// Ref points to a shape, with its wire location for rest-json members.
type Ref struct {
	Shape        string `json:"shape"`
	Location     string `json:"location"`
	LocationName string `json:"locationName"`
	Payload      bool   `json:"-"`
}

// Shape is a model shape, with the constraints the validator checks.
type Shape struct {
	Type     string         `json:"type"`
	Required []string       `json:"required"`
	Members  map[string]Ref `json:"members"`
	Member   *Ref           `json:"member"`
	Key      *Ref           `json:"key"`
	Value    *Ref           `json:"value"`
	Min      *float64       `json:"min"`
	Max      *float64       `json:"max"`
	Pattern  string         `json:"pattern"`
	Enum     []string       `json:"enum"`
	Payload  string         `json:"payload"`
	// Flattened query lists/maps have no ".member"/".entry" level.
	Flattened bool `json:"flattened"`

	re    *regexp.Regexp // Pattern, anchored; nil when Go cannot compile it
	notRe *regexp.Regexp // a leading negative look-ahead "(?!X)" of Pattern, as X
}

// PatternChecked reports whether the shape has a pattern the validator can
// check (RE2 has no look-arounds; a leading "(?!X)" is checked as "not X").
func (s *Shape) PatternChecked() bool { return s.re != nil }

// MatchesPattern reports whether v satisfies the shape's pattern, matched
// against the whole value as AWS's validators do.
func (s *Shape) MatchesPattern(v string) bool {
	if s.re == nil {
		return true
	}
	return s.re.MatchString(v) && (s.notRe == nil || !s.notRe.MatchString(v))
}

// compilePattern compiles a model pattern anchored, splitting off a leading
// negative look-ahead (Lambda's alias names: "(?!^[0-9]+$)([a-zA-Z0-9-_]+)").
func (s *Shape) compilePattern() {
	p := s.Pattern
	if rest, ok := strings.CutPrefix(p, "(?!"); ok {
		depth := 1
		for i, c := range rest {
			switch c {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 {
				not, err := regexp.Compile(`^(?:` + rest[:i] + `)$`)
				if err != nil {
					return
				}
				s.notRe, p = not, rest[i+1:]
				break
			}
		}
	}
	s.re, _ = regexp.Compile(`^(?:` + p + `)$`)
}

// Models are the loaded service models, by SigV4 service name.
type Models struct {
	dir      string
	mu       sync.Mutex
	services map[string]*Service
}

var (
	defaultOnce   sync.Once
	defaultModels *Models
	defaultErr    error
)

// Default returns the models from botocore's data directory (DataDirEnv, or
// where python3 finds botocore), found once per process.
func Default() (*Models, error) {
	defaultOnce.Do(func() {
		dir, err := DataDir()
		if err != nil {
			defaultErr = err
			return
		}
		defaultModels = New(dir)
	})
	return defaultModels, defaultErr
}

// New reads models from a botocore data directory, each on first use.
func New(dir string) *Models { return &Models{dir: dir, services: map[string]*Service{}} }

// ErrNoModels is why DataDir found no models: botocore is not installed
// where python3 looks, or DataDirEnv names no directory.
var ErrNoModels = errors.New("AWS API models (botocore's data) not found")

// DataDir locates botocore's data directory.
func DataDir() (string, error) {
	if d := os.Getenv(DataDirEnv); d != "" {
		if _, err := os.Stat(d); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v", ErrNoModels, DataDirEnv, d, err)
		}
		return d, nil
	}
	dir, err := pydata.PackageDir("botocore")
	if err != nil {
		return "", fmt.Errorf("%w: botocore not found (%v); install botocore or set %s to its data directory", ErrNoModels, err, DataDirEnv)
	}
	return filepath.Join(dir, "data"), nil
}

// Service returns the model of a SigV4 service name, loading it on first use.
func (m *Models) Service(name string) (*Service, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.services[name]; ok {
		return s, nil
	}
	s, err := load(m.dir, name)
	if err != nil {
		return nil, err
	}
	m.services[name] = s
	return s, nil
}

// load reads the newest API version of a service's model.
func load(dir, name string) (*Service, error) {
	folder := name
	if b, ok := botocoreName[name]; ok {
		folder = b
	}
	versions, err := os.ReadDir(filepath.Join(dir, folder))
	if err != nil {
		return nil, fmt.Errorf("AWS API model of %s: %w", name, err)
	}
	var names []string
	for _, v := range versions {
		if _, err := os.Stat(filepath.Join(dir, folder, v.Name(), "service-2.json.gz")); err == nil {
			names = append(names, v.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("AWS API model of %s: no service-2.json.gz under %s", name, filepath.Join(dir, folder))
	}
	slices.Sort(names)
	path := filepath.Join(dir, folder, names[len(names)-1], "service-2.json.gz")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("AWS API model of %s: %w", name, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("AWS API model %s: %w", path, err)
	}
	var raw struct {
		Metadata struct {
			Protocol           string          `json:"protocol"`
			TargetPrefix       string          `json:"targetPrefix"`
			JSONVersion        string          `json:"jsonVersion"`
			XMLNamespace       string          `json:"xmlNamespace"`
			AWSQueryCompatible json.RawMessage `json:"awsQueryCompatible"`
		} `json:"metadata"`
		Operations map[string]*Operation `json:"operations"`
		Shapes     map[string]*Shape     `json:"shapes"`
	}
	if err := json.NewDecoder(zr).Decode(&raw); err != nil {
		return nil, fmt.Errorf("AWS API model %s: %w", path, err)
	}
	for n, op := range raw.Operations {
		op.Name = n
	}
	for _, sh := range raw.Shapes {
		if sh.Pattern != "" {
			// RE2 lacks look-arounds and back-references; such patterns are
			// left unchecked (PatternChecked reports which).
			sh.compilePattern()
		}
		if sh.Payload != "" {
			if r, ok := sh.Members[sh.Payload]; ok {
				r.Payload = true
				sh.Members[sh.Payload] = r
			}
		}
	}
	return &Service{
		Name: name, Protocol: raw.Metadata.Protocol, TargetPrefix: raw.Metadata.TargetPrefix,
		JSONVersion: raw.Metadata.JSONVersion, XMLNamespace: raw.Metadata.XMLNamespace,
		QueryCompatible: len(raw.Metadata.AWSQueryCompatible) > 0,
		Operations:      raw.Operations, Shapes: raw.Shapes,
	}, nil
}
