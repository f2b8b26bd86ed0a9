package lambdasvc

import (
	"maps"
	"time"
)

// The runtimes the sandbox can run: a custom runtime whose entry point is the
// `bootstrap` executable of the deployment package, and Node.js — a node of
// the runtime's major version running AWS's runtime interface client
// (NodeRuntime), as Lambda's nodejs runtimes run the handler the function
// names.
var supportedRuntimes = map[string]bool{"provided.al2023": true, "provided.al2": true, "nodejs20.x": true, "nodejs22.x": true}

// supportedRuntimesText names them for an error.
const supportedRuntimesText = "provided.al2023, provided.al2, nodejs20.x and nodejs22.x"

// nodeMajor is the Node.js major version a Node.js runtime runs on; "" for
// a runtime that is not Node.js.
func nodeMajor(runtime string) string {
	switch runtime {
	case "nodejs20.x":
		return "20"
	case "nodejs22.x":
		return "22"
	}
	return ""
}

// Limits as Lambda documents them.
const (
	defaultTimeout    = 3
	maxTimeout        = 900
	defaultMemory     = 128
	minMemory         = 128
	maxMemory         = 10240
	maxZipBytes       = 50 << 20
	maxPayloadBytes   = 6 << 20
	maxEnvBytes       = 4096
	latest            = "$LATEST"
	lastModifiedStyle = "2006-01-02T15:04:05.000-0700"
)

// Environment is a function's environment variables, in the request shape.
type Environment struct {
	Variables map[string]string `json:"Variables,omitempty"`
}

// EnvironmentResponse is the environment in FunctionConfiguration.
type EnvironmentResponse struct {
	Variables map[string]string `json:"Variables"`
}

// LoggingConfig says where and how a function's logs go.
type LoggingConfig struct {
	LogFormat           string `json:"LogFormat,omitempty"`
	ApplicationLogLevel string `json:"ApplicationLogLevel,omitempty"`
	SystemLogLevel      string `json:"SystemLogLevel,omitempty"`
	LogGroup            string `json:"LogGroup,omitempty"`
}

// EphemeralStorage is the /tmp size, reported as Lambda reports it.
type EphemeralStorage struct {
	Size int `json:"Size"`
}

// TracingConfig is reported as Lambda reports it (PassThrough).
type TracingConfig struct {
	Mode string `json:"Mode"`
}

// DeadLetterConfig is where Lambda sends the events of asynchronous
// invocations that failed (an SQS queue or SNS topic ARN).
type DeadLetterConfig struct {
	TargetArn string `json:"TargetArn,omitempty"`
}

// FunctionConfiguration is the wire shape of one version's configuration
// (GetFunctionConfiguration, PublishVersion, ListVersionsByFunction...).
type FunctionConfiguration struct {
	FunctionName     string               `json:"FunctionName"`
	FunctionArn      string               `json:"FunctionArn"`
	Runtime          string               `json:"Runtime"`
	Role             string               `json:"Role"`
	Handler          string               `json:"Handler"`
	CodeSize         int64                `json:"CodeSize"`
	Description      string               `json:"Description"`
	Timeout          int                  `json:"Timeout"`
	MemorySize       int                  `json:"MemorySize"`
	LastModified     string               `json:"LastModified"`
	CodeSha256       string               `json:"CodeSha256"`
	Version          string               `json:"Version"`
	Environment      *EnvironmentResponse `json:"Environment,omitempty"`
	DeadLetterConfig *DeadLetterConfig    `json:"DeadLetterConfig,omitempty"`
	RevisionId       string               `json:"RevisionId"`
	State            string               `json:"State"`
	StateReason      string               `json:"StateReason,omitempty"`
	StateReasonCode  string               `json:"StateReasonCode,omitempty"`
	LastUpdateStatus string               `json:"LastUpdateStatus"`
	PackageType      string               `json:"PackageType"`
	Architectures    []string             `json:"Architectures"`
	LoggingConfig    LoggingConfig        `json:"LoggingConfig"`
	EphemeralStorage EphemeralStorage     `json:"EphemeralStorage"`
	TracingConfig    TracingConfig        `json:"TracingConfig"`
}

// RoutingConfig is an alias's weighted routing: at most one additional
// version and the share of invocations it receives.
type RoutingConfig struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights,omitempty"`
}

// AliasConfiguration is the wire shape of an alias.
type AliasConfiguration struct {
	AliasArn        string         `json:"AliasArn"`
	Name            string         `json:"Name"`
	FunctionVersion string         `json:"FunctionVersion"`
	Description     string         `json:"Description"`
	RoutingConfig   *RoutingConfig `json:"RoutingConfig,omitempty"`
	RevisionId      string         `json:"RevisionId"`
}

// version is $LATEST or one published version, as kept in state.
type version struct {
	Config FunctionConfiguration `json:"config"`
	// CodeKey is the hex SHA-256 of the deployment package, the name of its
	// stored zip and unpacked directory.
	CodeKey string `json:"codeKey"`
	// SettlesAt is when a create or code update of $LATEST, or the
	// preparation of a published version, finishes; until then State is
	// Pending (Creating) or LastUpdateStatus InProgress.
	SettlesAt time.Time `json:"settlesAt,omitzero"`
	Creating  bool      `json:"creating,omitempty"`
	// PublishedFrom is the $LATEST RevisionId a version was cut from, so an
	// unchanged $LATEST publishes nothing new.
	PublishedFrom string `json:"publishedFrom,omitempty"`
}

// function is one function with its versions and aliases.
type function struct {
	Latest      *version                       `json:"latest"`
	Versions    map[string]*version            `json:"versions"`
	LastVersion int                            `json:"lastVersion"`
	Aliases     map[string]*AliasConfiguration `json:"aliases"`
	// Tags are the function's tags, as CreateFunction's Tags set them.
	Tags map[string]string `json:"tags,omitempty"`
	// Reserved is the function's reserved concurrency
	// (PutFunctionConcurrency), nil for none; running counts the
	// invocations in flight against it.
	Reserved *int `json:"reserved,omitempty"`
	running  int
	// Provisioned are the provisioned concurrency configurations by
	// version or alias (provisioned.go); provisionFault fails the next.
	Provisioned    map[string]*provisioned `json:"provisioned,omitempty"`
	provisionFault string
	// provisionedBusy counts, by version, the invocations its provisioned
	// environments serve now.
	provisionedBusy map[string]int
}

// view returns the configuration as a caller sees it at now: the pending
// create or update settles lazily, so an injected clock drives it.
func (v *version) view(now time.Time) FunctionConfiguration {
	c := v.Config
	if c.Environment != nil {
		c.Environment = &EnvironmentResponse{Variables: maps.Clone(c.Environment.Variables)}
	}
	c.Architectures = append([]string(nil), c.Architectures...)
	if v.busy(now) {
		if v.Creating {
			c.State = "Pending"
			c.StateReason = "The function is being created."
			c.StateReasonCode = "Creating"
		} else {
			c.LastUpdateStatus = "InProgress"
		}
	}
	return c
}

func (v *version) busy(now time.Time) bool { return !v.SettlesAt.IsZero() && now.Before(v.SettlesAt) }

func cloneAlias(a *AliasConfiguration) AliasConfiguration {
	c := *a
	if a.RoutingConfig != nil {
		c.RoutingConfig = &RoutingConfig{AdditionalVersionWeights: maps.Clone(a.RoutingConfig.AdditionalVersionWeights)}
	}
	return c
}
