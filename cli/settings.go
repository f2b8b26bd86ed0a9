package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/aliasflow/aliasflow/shared/config"
	"github.com/aliasflow/aliasflow/shared/settings"
	"github.com/aliasflow/aliasflow/shared/settingsschema"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/spf13/cobra"
)

// settingsDoc is where the settings are documented, for hints.
const settingsDoc = "docs/settings.md (every field, its default and limits)"

func settingsCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "settings",
		Short: "read, check and write a target's promotion settings",
		Long: `Settings reads, checks and writes a target's promotion settings: the JSON of one target
(docs/settings.md) in the SSM parameter /aliasflow/<pipeline>/targets/<function>, which the
release reads. FILE is one target's settings or a targets file ({"targets": [...]}, as the
CDK app takes), of which the function's target is used; - reads standard input.`,
		Args: positional(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			return usageError("unknown settings command %q%s", args[0], suggest(c, args[0]))
		},
	}
	c.AddCommand(&cobra.Command{
		Use:   "validate <function> FILE",
		Short: "check FILE offline against the schema and the release's validation",
		Args:  positional(2, 2),
		RunE: func(c *cobra.Command, args []string) error {
			t, err := a.readSettings(args[0], args[1])
			if err != nil {
				return err
			}
			if a.g.json {
				return json.NewEncoder(a.env.Stdout).Encode(map[string]any{"function": t.Function, "valid": true})
			}
			fmt.Fprintf(a.env.Stdout, "%s: the settings are valid (schema and the release's validation)\n", t.Function)
			return nil
		},
	}, &cobra.Command{
		Use:   "get <function>",
		Short: "print the settings the release reads",
		Args:  positional(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			return runSettingsGet(c.Context(), a, args[0])
		},
	}, &cobra.Command{
		Use:   "set <function> FILE",
		Short: "validate FILE and write it as the function's settings (audited as settings.changed)",
		Long: `Set validates FILE as validate does and, only when it is valid, writes it as a Standard SSM
parameter. The write is audited as every settings change is: CloudTrail's record of the
PutParameter reaches the release Lambda, which records settings.changed with who wrote it.
A later deployment of the target's construct writes its own settings over these.`,
		Args: positional(2, 2),
		RunE: func(c *cobra.Command, args []string) error {
			return runSettingsSet(c.Context(), a, args[0], args[1])
		},
	})
	return c
}

// readSettings reads FILE ("-": stdin) and checks it for fn with the
// published schema and with the validation the release applies
// (settings.Parse, or config.Parse for a targets file). Every problem is
// reported, each naming its field; the settings are returned only when
// there is none.
func (a *app) readSettings(fn, file string) (config.Target, error) {
	if err := checkFunction(fn); err != nil {
		return config.Target{}, err
	}
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(a.env.Stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return config.Target{}, fail(ExitUsage, "", "read the settings: %v", err)
	}
	t, problems, err := checkSettings(fn, data)
	if err != nil {
		return config.Target{}, fail(ExitUsage, "see "+settingsDoc, "%s: %v", file, err)
	}
	if len(problems) > 0 {
		return config.Target{}, fail(ExitUsage, "fix the fields named; see "+settingsDoc,
			"%s: the settings of %s are invalid:\n  %s", file, fn, strings.Join(problems, "\n  "))
	}
	return t, nil
}

// checkSettings validates data for fn. The release's own validation is
// authoritative; the schema adds its problems with fields that one did not
// name (the same mistake is reported once, in the release's words).
func checkSettings(fn string, data []byte) (config.Target, []string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return config.Target{}, nil, fmt.Errorf("not a JSON object: %w", err)
	}
	_, document := top["targets"]
	var (
		t          config.Target
		goErr      error
		what, pref = settingsschema.OneTarget, "settings"
	)
	if document {
		what, pref = settingsschema.Document, ""
		c, err := config.Parse(data)
		goErr = err
		if err == nil {
			if found, ok := c.Lookup(fn); ok {
				t = *found
			} else {
				goErr = fmt.Errorf("targets: no target is function %q", fn)
			}
		}
	} else {
		t, goErr = settings.Parse(data, fn)
	}
	var goProblems []string
	if goErr != nil {
		for line := range strings.SplitSeq(goErr.Error(), "\n") {
			goProblems = append(goProblems, strings.TrimPrefix(line, "config: "))
		}
	}
	schemaProblems, err := settingsschema.Problems(data, what, pref)
	if err != nil {
		return config.Target{}, nil, err
	}
	problems := goProblems
	for _, p := range schemaProblems {
		field, _, _ := strings.Cut(p, ": ")
		if !slices.ContainsFunc(goProblems, func(q string) bool { return strings.HasPrefix(q, field+": ") }) {
			problems = append(problems, p)
		}
	}
	return t, problems, nil
}

func runSettingsGet(ctx context.Context, a *app, fn string) error {
	if err := checkFunction(fn); err != nil {
		return err
	}
	if c, err := a.aws(ctx); err != nil || c.Settings == nil {
		return errors.Join(err, errors.New("settings get: no Parameter Store client"))
	}
	// By path, as status lists the targets: operators may
	// GetParametersByPath on the settings path and not GetParameter.
	params, err := a.targetParameters(ctx)
	if err != nil {
		return err
	}
	name := settings.ParameterName(a.g.pipeline, fn)
	i := slices.IndexFunc(params, func(p targetParameter) bool { return p.name == name })
	if i < 0 {
		return fail(ExitNotFound, fmt.Sprintf("write them with `aliasflow settings set %s FILE`, or check --pipeline", fn), "%s has no settings: no parameter %s", fn, name)
	}
	value := []byte(params[i].value)
	var pretty bytes.Buffer
	if a.g.json || json.Indent(&pretty, value, "", "  ") != nil {
		// The stored value as it is (also when it is not JSON: the
		// release refuses it, and the operator must see why).
		pretty.Reset()
		pretty.Write(value)
	}
	fmt.Fprintln(a.env.Stdout, pretty.String())
	return nil
}

func runSettingsSet(ctx context.Context, a *app, fn, file string) error {
	t, err := a.readSettings(fn, file)
	if err != nil {
		return err
	}
	value, err := settings.Encode(t)
	if err != nil {
		return fail(ExitUsage, "set writes a Standard parameter (4 KB); use fewer or shorter smoke checks, or store them as an Advanced parameter through the target construct (TargetProps.AdvancedSettings)", "%v", err)
	}
	c, err := a.aws(ctx)
	if err != nil {
		return err
	}
	name := settings.ParameterName(a.g.pipeline, fn)
	out, err := c.Parameters.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeString,
		Tier: ssmtypes.ParameterTierStandard, Overwrite: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if a.g.json {
		return json.NewEncoder(a.env.Stdout).Encode(map[string]any{"function": fn, "parameter": name, "version": out.Version})
	}
	fmt.Fprintf(a.env.Stdout, "%s: settings written to %s (version %d); the release audits the change as settings.changed\n", fn, name, out.Version)
	return nil
}
