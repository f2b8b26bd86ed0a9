package iam

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Env is where the templates are taken to be deployed: the account and
// region the pseudo parameters resolve to, and, for resources whose ARN the
// sandbox made up (a secret's random suffix), how the sandbox named them.
type Env struct {
	Account, Region string
	// Resolve, when set, answers the value of Ref (attr "") or
	// Fn::GetAtt (attr "Arn", ...) of a resource of type typ with properties
	// props; ok false falls back to the naming CloudFormation documents for
	// the type.
	Resolve func(typ, attr string, props map[string]any) (value string, ok bool)
}

// Role is an IAM role of a template with its identity policies resolved.
type Role struct {
	Stack, LogicalID string
	// Name is the role's RoleName, or Stack-LogicalID as CloudFormation
	// names a role without one (it adds a random suffix on AWS).
	Name     string
	Policies []Policy
}

// AssumedRoleARN is the principal a Lambda function's calls are made as:
// the role's session named after the function ("Lambda execution role",
// https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html).
func (r *Role) AssumedRoleARN(account, session string) string {
	return fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, r.Name, session)
}

// Set is the execution role of every Lambda function the templates name,
// and the policies of the people aliasflow's access model defines.
type Set struct {
	Env Env
	// Reference scopes each request as IAM does (actions without
	// resource-level permissions act on "*").
	Reference *Reference
	// Functions maps a function's FunctionName to its execution role.
	Functions map[string]*Role
	// StateMachines maps a state machine's StateMachineName to its
	// execution role, the role its Task states call Lambda as.
	StateMachines map[string]*Role
	// Schedules maps an EventBridge Scheduler schedule's Name to its
	// target's execution role (Target.RoleArn), the role the schedule
	// invokes its target as.
	Schedules map[string]*Role
	// Permissions are the statements of the functions' resource-based
	// policies (AWS::Lambda::Permission) for the service principals the
	// sandbox evaluates (ServicePrincipals).
	Permissions []Permission
	// People maps the access key of each of People that the templates
	// define to its principal.
	People map[string]*Principal
	// BusPolicies maps an event bus's ARN to the statements of its
	// resource-based policy (AWS::Events::EventBusPolicy with a Statement)
	// that name every principal ("*" or {"AWS": "*"}): within the account
	// an explicit Deny there refuses a PutEvents whatever the caller's
	// identity policies allow ("Policy evaluation logic", IAM User Guide).
	BusPolicies map[string]Policy
}

// Person is a human principal the sandbox evaluates: reached with its own
// access key, it holds the identity policies of one managed policy
// (ManagedPolicyName) or one role (RoleName) of the templates, as an IAM
// user with that policy attached, or a session of that role, would on AWS.
type Person struct {
	AccessKey     string
	ManagedPolicy string
	Role          string
}

// People are the humans of aliasflow's access model (infra/aliasflow
// access.go): an operator, an approver and the CI's GitHub OIDC role.
var People = []Person{
	{AccessKey: "aliasflow-operator", ManagedPolicy: "aliasflow-operators"},
	{AccessKey: "aliasflow-approver", ManagedPolicy: "aliasflow-approvers"},
	{AccessKey: "aliasflow-ci", Role: "aliasflow-github-release"},
}

// Principal is a person's identity and policies.
type Principal struct {
	// ARN is what the sandbox's STS and API Gateway name the caller.
	ARN      string
	Policies []Policy
}

// Person returns the principal reached with accessKey, nil when it is
// none of People or the templates do not define its policy.
func (s *Set) Person(accessKey string) *Principal {
	if s == nil {
		return nil
	}
	return s.People[accessKey]
}

// people loads each of People whose policy or role the template defines.
func (t *template) people(set *Set) error {
	for _, id := range sortedKeys(t.resources) {
		r := t.resources[id]
		for _, p := range People {
			switch {
			case p.ManagedPolicy != "" && r.Type == "AWS::IAM::ManagedPolicy" && r.Properties["ManagedPolicyName"] == p.ManagedPolicy:
				pol, err := t.policy(id, r.Properties["PolicyDocument"])
				if err != nil {
					return fmt.Errorf("managed policy %s: %w", p.ManagedPolicy, err)
				}
				set.People[p.AccessKey] = &Principal{ARN: fmt.Sprintf("arn:aws:iam::%s:user/%s", t.env.Account, p.AccessKey), Policies: []Policy{pol}}
			case p.Role != "" && r.Type == "AWS::IAM::Role" && r.Properties["RoleName"] == p.Role:
				role, err := t.role(id)
				if err != nil {
					return fmt.Errorf("role %s: %w", p.Role, err)
				}
				set.People[p.AccessKey] = &Principal{ARN: role.AssumedRoleARN(t.env.Account, p.AccessKey), Policies: role.Policies}
			}
		}
	}
	return nil
}

// Role returns the execution role of the named function, nil when the
// templates do not define it.
func (s *Set) Role(function string) *Role {
	if s == nil {
		return nil
	}
	return s.Functions[function]
}

// LoadDir reads every *.template.json of a cloud assembly directory
// (cdk.out).
func LoadDir(dir string, env Env) (*Set, error) {
	templates, err := ReadDir(dir)
	if err != nil {
		return nil, err
	}
	return Load(templates, env)
}

// ReadDir reads every *.template.json of a cloud assembly directory
// (cdk.out) by stack name.
func ReadDir(dir string) (map[string][]byte, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.template.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("iam: no *.template.json in %s (run `make synth`)", dir)
	}
	sort.Strings(paths)
	templates := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("iam: %w", err)
		}
		templates[strings.TrimSuffix(filepath.Base(p), ".template.json")] = b
	}
	return templates, nil
}

// Load builds the Set from templates by stack name, with the Service
// Authorization Reference (DefaultReference): without it the sandbox would
// allow what AWS denies, so its absence is an error.
func Load(templates map[string][]byte, env Env) (*Set, error) {
	ref, err := DefaultReference()
	if err != nil {
		return nil, err
	}
	set := &Set{Env: env, Reference: ref, Functions: map[string]*Role{}, StateMachines: map[string]*Role{}, Schedules: map[string]*Role{}, People: map[string]*Principal{}}
	stacks, err := Parse(templates, env)
	if err != nil {
		return nil, err
	}
	for _, s := range stacks {
		if err := s.t.functions(set); err != nil {
			return nil, fmt.Errorf("iam: template %s: %w", s.t.stack, err)
		}
		if err := s.t.busPolicies(set); err != nil {
			return nil, fmt.Errorf("iam: template %s: %w", s.t.stack, err)
		}
		if err := s.t.people(set); err != nil {
			return nil, fmt.Errorf("iam: template %s: %w", s.t.stack, err)
		}
	}
	if err := set.checkPolicySizes(); err != nil {
		return nil, fmt.Errorf("iam: %w", err)
	}
	return set, nil
}

// Stack is one template of a cloud assembly whose intrinsic functions
// resolve as CloudFormation would resolve them where env deploys it: the
// local world is created from it (sandbox/local), and its roles evaluated.
type Stack struct{ t *template }

// Name is the stack's name (the template's file name without
// ".template.json").
func (s *Stack) Name() string { return s.t.stack }

// Resources are the template's resources by logical ID.
func (s *Stack) Resources() map[string]Resource { return s.t.resources }

// LogicalIDs are the template's resources' logical IDs, sorted.
func (s *Stack) LogicalIDs() []string { return sortedKeys(s.t.resources) }

// Resolve replaces the intrinsic functions of a template value.
func (s *Stack) Resolve(v any) (any, error) { return s.t.resolve(v) }

// Parse reads templates by stack name, every one first: a stack imports
// what another exports.
func Parse(templates map[string][]byte, env Env) ([]*Stack, error) {
	names := make([]string, 0, len(templates))
	for s := range templates {
		names = append(names, s)
	}
	sort.Strings(names)
	exports := map[string]export{}
	var parsed []*Stack
	for _, stack := range names {
		var tpl struct {
			Parameters map[string]struct{ Default any }
			Resources  map[string]Resource
			Outputs    map[string]struct {
				Value  any
				Export struct{ Name any }
			}
		}
		if err := json.Unmarshal(templates[stack], &tpl); err != nil {
			return nil, fmt.Errorf("iam: template %s: %w", stack, err)
		}
		t := &template{stack: stack, resources: tpl.Resources, env: env, parameters: map[string]any{}, exports: exports}
		for name, p := range tpl.Parameters {
			t.parameters[name] = p.Default
		}
		for _, o := range tpl.Outputs {
			if name, ok := o.Export.Name.(string); ok {
				exports[name] = export{t, o.Value}
			}
		}
		parsed = append(parsed, &Stack{t})
	}
	return parsed, nil
}

// busPolicies loads the event bus policies' statements for every
// principal (BusPolicies). Statements for other accounts or
// organizations (PutPermission's Principal and Action form) are not the
// sandbox's concern: it has one account.
func (t *template) busPolicies(set *Set) error {
	if set.BusPolicies == nil {
		set.BusPolicies = map[string]Policy{}
	}
	for _, id := range sortedKeys(t.resources) {
		r := t.resources[id]
		if r.Type != "AWS::Events::EventBusPolicy" {
			continue
		}
		st, ok := r.Properties["Statement"].(map[string]any)
		if !ok {
			continue
		}
		principal, err := t.resolve(st["Principal"])
		if err != nil {
			return fmt.Errorf("bus policy %s: %w", id, err)
		}
		if m, ok := principal.(map[string]any); ok {
			principal = m["AWS"]
		}
		if principal != "*" {
			continue
		}
		raw, err := t.resolve(r.Properties["EventBusName"])
		if err != nil {
			return fmt.Errorf("bus policy %s: %w", id, err)
		}
		bus, _ := raw.(string)
		if bus == "" {
			bus = "default"
		}
		if !strings.HasPrefix(bus, "arn:") {
			bus = fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s", t.env.Region, t.env.Account, bus)
		}
		pol, err := t.policy(id, map[string]any{"Statement": st})
		if err != nil {
			return err
		}
		cur := set.BusPolicies[bus]
		cur.Name = bus
		cur.Statements = append(cur.Statements, pol.Statements...)
		set.BusPolicies[bus] = cur
	}
	return nil
}

// PrincipalARN is the aws:PrincipalArn of a caller: a role session's is
// its role's ARN ("aws:PrincipalArn", IAM User Guide, "AWS global
// condition context keys"), a user's its own.
func PrincipalARN(caller string) string {
	const session = ":assumed-role/"
	i := strings.Index(caller, session)
	if !strings.HasPrefix(caller, "arn:aws:sts::") || i < 0 {
		return caller
	}
	account := strings.TrimPrefix(caller[:i], "arn:aws:sts::")
	role, _, _ := strings.Cut(caller[i+len(session):], "/")
	return "arn:aws:iam::" + account + ":role/" + role
}

// export is an Output's Value with an Export name, resolved in the
// template that declares it.
type export struct {
	t     *template
	value any
}

// Resource is a template's resource.
type Resource struct {
	Type       string
	Properties map[string]any
}

type template struct {
	stack     string
	resources map[string]Resource
	env       Env
	// parameters are the template's Parameters by name, at their Default
	// (the sandbox deploys with no overrides).
	parameters map[string]any
	// exports are the Outputs every template exports, by Export name.
	exports map[string]export
	// roles are the roles resolved so far, by logical ID.
	roles map[string]*Role
}

// functions reads the execution roles of the template's functions and
// state machines, and the functions' resource-based policy statements.
func (t *template) functions(set *Set) error {
	for _, id := range sortedKeys(t.resources) {
		r := t.resources[id]
		var kind, nameProp, roleProp string
		var into map[string]*Role
		roleOf := r.Properties
		switch r.Type {
		case "AWS::Lambda::Function":
			kind, nameProp, roleProp, into = "function", "FunctionName", "Role", set.Functions
		case "AWS::StepFunctions::StateMachine":
			kind, nameProp, roleProp, into = "state machine", "StateMachineName", "RoleArn", set.StateMachines
		case "AWS::Scheduler::Schedule":
			kind, nameProp, roleProp, into = "schedule", "Name", "RoleArn", set.Schedules
			roleOf, _ = r.Properties["Target"].(map[string]any)
		case "AWS::Lambda::Permission":
			p, err := t.permission(id)
			if err != nil {
				return err
			}
			if p != nil {
				set.Permissions = append(set.Permissions, *p)
			}
			continue
		default:
			continue
		}
		name, ok := r.Properties[nameProp].(string)
		if !ok {
			continue // a generated name: nothing the sandbox runs
		}
		roleID, err := getAttTarget(roleOf[roleProp], "Arn")
		if err != nil {
			return fmt.Errorf("%s %s: %s: %w", kind, name, roleProp, err)
		}
		role := t.roles[roleID]
		if role == nil {
			if role, err = t.role(roleID); err != nil {
				return fmt.Errorf("%s %s: %w", kind, name, err)
			}
			if t.roles == nil {
				t.roles = map[string]*Role{}
			}
			t.roles[roleID] = role
		}
		into[name] = role
	}
	return nil
}

func getAttTarget(v any, attr string) (string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", fmt.Errorf("want {\"Fn::GetAtt\": [role, %q]}, got %s", attr, jsonString(v))
	}
	parts, err := stringList(m["Fn::GetAtt"])
	if err != nil || len(parts) != 2 || parts[1] != attr {
		return "", fmt.Errorf("want {\"Fn::GetAtt\": [role, %q]}, got %s", attr, jsonString(v))
	}
	return parts[0], nil
}

// role collects a role's inline policies, the AWS::IAM::Policy and
// AWS::IAM::ManagedPolicy resources attached to it, and refuses managed
// policies from outside the template, which the sandbox cannot read.
func (t *template) role(id string) (*Role, error) {
	r, ok := t.resources[id]
	if !ok || r.Type != "AWS::IAM::Role" {
		return nil, fmt.Errorf("role %s is not an AWS::IAM::Role of the template", id)
	}
	role := &Role{Stack: t.stack, LogicalID: id, Name: t.stack + "-" + id}
	if n, ok := r.Properties["RoleName"].(string); ok {
		role.Name = n
	}
	if len(role.Name) > 64 {
		role.Name = role.Name[:64]
	}
	if inline, ok := r.Properties["Policies"].([]any); ok {
		for _, p := range inline {
			pm, _ := p.(map[string]any)
			name, _ := pm["PolicyName"].(string)
			pol, err := t.policy(name, pm["PolicyDocument"])
			if err != nil {
				return nil, err
			}
			role.Policies = append(role.Policies, pol)
		}
	}
	managed, _ := r.Properties["ManagedPolicyArns"].([]any)
	for _, m := range managed {
		mm, _ := m.(map[string]any)
		ref, ok := mm["Ref"].(string)
		if mp, isRes := t.resources[ref]; ok && isRes && mp.Type == "AWS::IAM::ManagedPolicy" {
			continue // attached below, from its own resource
		}
		resolved, err := t.resolve(m)
		if err != nil {
			return nil, fmt.Errorf("role %s: managed policy: %w", id, err)
		}
		arn, _ := resolved.(string)
		pol, known := awsManaged[strings.TrimPrefix(arn, "arn:aws:iam::aws:policy/")]
		if !known || !strings.HasPrefix(arn, "arn:aws:iam::aws:policy/") {
			return nil, fmt.Errorf("role %s has managed policy %s, which is not in the template: the sandbox cannot evaluate it", id, jsonString(m))
		}
		role.Policies = append(role.Policies, pol)
	}
	for _, pid := range sortedKeys(t.resources) {
		p := t.resources[pid]
		if p.Type != "AWS::IAM::Policy" && p.Type != "AWS::IAM::ManagedPolicy" {
			continue
		}
		attached := refersTo(p.Properties["Roles"], id)
		if p.Type == "AWS::IAM::ManagedPolicy" {
			attached = attached || refersTo(r.Properties["ManagedPolicyArns"], pid)
		}
		if !attached {
			continue
		}
		pol, err := t.policy(pid, p.Properties["PolicyDocument"])
		if err != nil {
			return nil, err
		}
		role.Policies = append(role.Policies, pol)
	}
	return role, nil
}

func refersTo(list any, id string) bool {
	l, _ := list.([]any)
	for _, e := range l {
		if m, ok := e.(map[string]any); ok && m["Ref"] == id {
			return true
		}
	}
	return false
}

func (t *template) policy(name string, doc any) (Policy, error) {
	d, ok := doc.(map[string]any)
	if !ok {
		return Policy{}, fmt.Errorf("policy %s: no PolicyDocument", name)
	}
	resolved, err := t.resolve(d["Statement"])
	if err != nil {
		return Policy{}, fmt.Errorf("policy %s: %w", name, err)
	}
	raw, _ := resolved.([]any)
	if m, ok := resolved.(map[string]any); ok {
		raw = []any{m}
	}
	pol := Policy{Name: name}
	for i, s := range raw {
		sm, ok := s.(map[string]any)
		if !ok {
			return Policy{}, fmt.Errorf("policy %s: statement %d is not an object", name, i)
		}
		st, err := statement(sm)
		if err != nil {
			return Policy{}, fmt.Errorf("policy %s: statement %d: %w", name, i, err)
		}
		pol.Statements = append(pol.Statements, st)
	}
	return pol, nil
}

func statement(m map[string]any) (Statement, error) {
	st := Statement{}
	st.Sid, _ = m["Sid"].(string)
	st.Effect, _ = m["Effect"].(string)
	if st.Effect != "Allow" && st.Effect != "Deny" {
		return st, fmt.Errorf("the Effect %s is not Allow or Deny", jsonString(m["Effect"]))
	}
	for field, dst := range map[string]*[]string{"Action": &st.Action, "NotAction": &st.NotAction, "Resource": &st.Resource, "NotResource": &st.NotResource} {
		v, err := stringList(m[field])
		if err != nil {
			return st, fmt.Errorf("%s: %w", field, err)
		}
		*dst = v
	}
	if c, ok := m["Condition"].(map[string]any); ok {
		st.Condition = map[string]map[string][]string{}
		for op, keys := range c {
			km, ok := keys.(map[string]any)
			if !ok {
				return st, fmt.Errorf("the Condition %s: want an object of keys", op)
			}
			st.Condition[op] = map[string][]string{}
			for k, v := range km {
				if b, ok := v.(bool); ok {
					v = fmt.Sprint(b)
				}
				vals, err := stringList(v)
				if err != nil {
					return st, fmt.Errorf("the Condition %s %s: %w", op, k, err)
				}
				st.Condition[op][k] = vals
			}
			if _, _, err := operatorOf(op); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

// operatorOf checks at load time that an operator is one Evaluate knows.
func operatorOf(op string) (string, bool, error) {
	if _, rest, ok := strings.Cut(op, ":"); ok {
		op = rest
	}
	op = strings.TrimSuffix(op, "IfExists")
	if op == "Null" {
		return op, false, nil
	}
	_, neg, err := operator(op)
	return op, neg, err
}

// resolve replaces the intrinsic functions of a template value by strings:
// Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::ImportValue, and Fn::Select over
// Fn::Split (a list) as CDK names a function imported by name ("Intrinsic function reference",
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html).
func (t *template) resolve(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := t.resolve(e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				switch k {
				case "Ref":
					name, _ := arg.(string)
					return t.ref(name, "")
				case "Fn::GetAtt":
					parts, err := stringList(arg)
					if err != nil || len(parts) != 2 {
						return nil, fmt.Errorf("Fn::GetAtt %s: want [resource, attribute]", jsonString(arg))
					}
					return t.ref(parts[0], parts[1])
				case "Fn::Join":
					return t.join(arg)
				case "Fn::Sub":
					return t.sub(arg)
				case "Fn::ImportValue":
					return t.importValue(arg)
				case "Fn::Split":
					return t.split(arg)
				case "Fn::Select":
					return t.selectOf(arg)
				}
				if strings.HasPrefix(k, "Fn::") {
					return nil, fmt.Errorf("%s is not resolved by the sandbox's IAM", k)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := t.resolve(e)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

// importValue resolves Fn::ImportValue to the Output another template
// (or this one) exports under that name ("Fn::ImportValue",
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-importvalue.html).
func (t *template) importValue(arg any) (any, error) {
	v, err := t.resolve(arg)
	if err != nil {
		return nil, err
	}
	name, _ := v.(string)
	e, ok := t.exports[name]
	if !ok {
		return nil, fmt.Errorf("Fn::ImportValue %s: no template exports it", jsonString(arg))
	}
	return e.t.resolve(e.value)
}

// split resolves Fn::Split, [delimiter, source string], to the list of
// the source's parts ("Fn::Split",
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-split.html).
func (t *template) split(arg any) ([]any, error) {
	a, ok := arg.([]any)
	if !ok || len(a) != 2 {
		return nil, fmt.Errorf("Fn::Split %s: want [delimiter, source string]", jsonString(arg))
	}
	sep, _ := a[0].(string)
	src, err := t.resolve(a[1])
	if err != nil {
		return nil, err
	}
	str, ok := src.(string)
	if sep == "" || !ok {
		return nil, fmt.Errorf("Fn::Split %s: want a delimiter and a string", jsonString(arg))
	}
	var out []any
	for _, p := range strings.Split(str, sep) {
		out = append(out, p)
	}
	return out, nil
}

// selectOf resolves Fn::Select, [index, list], to the list's element at
// the zero-based index, a number or a string of one ("Fn::Select",
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-select.html).
func (t *template) selectOf(arg any) (any, error) {
	a, ok := arg.([]any)
	if !ok || len(a) != 2 {
		return nil, fmt.Errorf("Fn::Select %s: want [index, list]", jsonString(arg))
	}
	index := -1
	switch x := a[0].(type) {
	case float64:
		if x == float64(int(x)) {
			index = int(x)
		}
	case string:
		if n, err := strconv.Atoi(x); err == nil {
			index = n
		}
	}
	v, err := t.resolve(a[1])
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok || index < 0 || index >= len(list) {
		return nil, fmt.Errorf("Fn::Select %s: want an index from 0 to the list's length - 1 and a list", jsonString(arg))
	}
	return list[index], nil
}

func (t *template) join(arg any) (string, error) {
	a, ok := arg.([]any)
	if !ok || len(a) != 2 {
		return "", fmt.Errorf("Fn::Join %s: want [separator, [values]]", jsonString(arg))
	}
	sep, _ := a[0].(string)
	vals, err := t.resolve(a[1])
	if err != nil {
		return "", err
	}
	parts, err := stringList(vals)
	if err != nil {
		return "", fmt.Errorf("Fn::Join: %w", err)
	}
	return strings.Join(parts, sep), nil
}

func (t *template) sub(arg any) (string, error) {
	format, vars := "", map[string]any{}
	switch a := arg.(type) {
	case string:
		format = a
	case []any:
		if len(a) == 2 {
			format, _ = a[0].(string)
			vars, _ = a[1].(map[string]any)
		}
	}
	var b strings.Builder
	for {
		i := strings.Index(format, "${")
		if i < 0 {
			b.WriteString(format)
			return b.String(), nil
		}
		b.WriteString(format[:i])
		j := strings.Index(format[i:], "}")
		if j < 0 {
			return "", fmt.Errorf("Fn::Sub %q: unterminated ${", format)
		}
		name := format[i+2 : i+j]
		format = format[i+j+1:]
		if strings.HasPrefix(name, "!") { // ${!Literal}
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		var val any
		var err error
		if v, ok := vars[name]; ok {
			val, err = t.resolve(v)
		} else if res, attr, ok := strings.Cut(name, "."); ok {
			val, err = t.ref(res, attr)
		} else {
			val, err = t.ref(name, "")
		}
		if err != nil {
			return "", err
		}
		s, ok := val.(string)
		if !ok {
			return "", fmt.Errorf("Fn::Sub ${%s} is not a string", name)
		}
		b.WriteString(s)
	}
}

// ref resolves Ref (attr "") and Fn::GetAtt of a pseudo parameter or a
// resource, as the resource types' "Return values" sections document them.
func (t *template) ref(name, attr string) (string, error) {
	if attr == "" {
		switch name {
		case "AWS::Partition":
			return "aws", nil
		case "AWS::Region":
			return t.env.Region, nil
		case "AWS::AccountId":
			return t.env.Account, nil
		case "AWS::URLSuffix":
			return "amazonaws.com", nil
		case "AWS::StackName":
			return t.stack, nil
		}
	}
	if def, ok := t.parameters[name]; ok && attr == "" {
		if s, ok := def.(string); ok {
			return s, nil
		}
		return "", fmt.Errorf("parameter %s has no string Default the sandbox could deploy with", name)
	}
	r, ok := t.resources[name]
	if !ok {
		return "", fmt.Errorf("%s is not a resource, parameter or pseudo parameter of the template", name)
	}
	if t.env.Resolve != nil {
		if v, ok := t.env.Resolve(r.Type, attr, r.Properties); ok {
			return v, nil
		}
	}
	prop := func(k string) string { s, _ := r.Properties[k].(string); return s }
	arn := func(service, res string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, t.env.Region, t.env.Account, res)
	}
	need := func(k string) (string, error) {
		if v := prop(k); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("%s (%s) has no literal %s: the sandbox cannot name it", name, r.Type, k)
	}
	key := r.Type + "." + attr
	switch key {
	case "AWS::Lambda::Function.", "AWS::Logs::LogGroup.", "AWS::CodeBuild::Project.":
		return need(map[string]string{"AWS::Lambda::Function.": "FunctionName", "AWS::Logs::LogGroup.": "LogGroupName", "AWS::CodeBuild::Project.": "Name"}[key])
	case "AWS::Lambda::Function.Arn":
		n, err := need("FunctionName")
		return arn("lambda", "function:"+n), err
	case "AWS::Logs::LogGroup.Arn":
		n, err := need("LogGroupName")
		return arn("logs", "log-group:"+n+":*"), err
	case "AWS::SNS::Topic.", "AWS::SNS::Topic.TopicArn":
		n, err := need("TopicName")
		return arn("sns", n), err
	case "AWS::SQS::Queue.Arn":
		n, err := need("QueueName")
		return arn("sqs", n), err
	case "AWS::SQS::Queue.QueueName":
		return need("QueueName")
	case "AWS::SecretsManager::Secret.", "AWS::SecretsManager::Secret.Id":
		n, err := need("Name")
		return arn("secretsmanager", "secret:"+n), err
	case "AWS::StepFunctions::StateMachine.", "AWS::StepFunctions::StateMachine.Arn":
		n, err := need("StateMachineName")
		return arn("states", "stateMachine:"+n), err
	case "AWS::ApiGateway::RestApi.":
		// The API's id, which AWS makes up: the sandbox's API Gateway
		// serves each API under its Name as id (Env.Resolve may say
		// otherwise).
		return need("Name")
	case "AWS::ApiGateway::Stage.":
		return need("StageName")
	case "AWS::Lambda::Alias.", "AWS::Lambda::Alias.AliasArn":
		// Ref of an alias is its ARN ("AWS::Lambda::Alias", Return values).
		fn, err := t.resolve(r.Properties["FunctionName"])
		if err != nil {
			return "", err
		}
		s, _ := fn.(string)
		n, err := need("Name")
		if err != nil {
			return "", err
		}
		return FunctionARN(s, n, t.env.Account, t.env.Region)
	case "AWS::Events::Rule.Arn":
		// A rule of the default event bus is rule/<name>, of a custom bus
		// rule/<bus>/<name> ("AWS::Events::Rule", Return values; "Amazon
		// EventBridge resource types", Service Authorization Reference).
		n, err := need("Name")
		if err != nil {
			return "", err
		}
		if raw, ok := r.Properties["EventBusName"]; ok {
			bus, err := t.resolve(raw)
			if err != nil {
				return "", err
			}
			if b, _ := bus.(string); b != "" && b != "default" {
				n = strings.TrimPrefix(b, "arn:aws:events:"+t.env.Region+":"+t.env.Account+":event-bus/") + "/" + n
			}
		}
		return arn("events", "rule/"+n), nil
	case "AWS::Events::EventBus.", "AWS::Events::EventBus.Name":
		return need("Name")
	case "AWS::Events::EventBus.Arn":
		n, err := need("Name")
		return arn("events", "event-bus/"+n), err
	case "AWS::CodeBuild::Project.Arn":
		n, err := need("Name")
		return arn("codebuild", "project/"+n), err
	case "AWS::KMS::Key.Arn":
		return arn("kms", "key/"+name), nil
	case "AWS::CloudWatch::Alarm.Arn":
		n, err := need("AlarmName")
		return arn("cloudwatch", "alarm:"+n), err
	case "AWS::IAM::Role.":
		return t.stack + "-" + name, nil
	case "AWS::IAM::Role.Arn":
		return fmt.Sprintf("arn:aws:iam::%s:role/%s-%s", t.env.Account, t.stack, name), nil
	}
	return "", fmt.Errorf("Ref/GetAtt %s.%s (%s) is not resolved by the sandbox's IAM", name, attr, r.Type)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// awsManaged are the AWS managed policies the sandbox knows, as AWS
// publishes them ("AWSLambdaBasicExecutionRole", AWS Managed Policy
// Reference Guide).
var awsManaged = map[string]Policy{
	"service-role/AWSLambdaBasicExecutionRole": {Name: "AWSLambdaBasicExecutionRole", Statements: []Statement{{
		Effect: "Allow", Action: []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}, Resource: []string{"*"},
	}}},
}
