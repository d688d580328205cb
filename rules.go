package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/teamrules"
)

func init() { extraCommands = append(extraCommands, newRulesCmd) }

// loadRules reads the team rules once: the --rules file (which must exist)
// or $XDG_CONFIG_HOME/kdoctor/rules.yaml (used when present). A bad file is
// a usage error naming the file, line and field; nothing of it is used.
func (a *app) loadRules() error {
	if a.rules != nil {
		return nil
	}
	path, required := a.rulesFile, true
	if path == "" {
		path, required = teamrules.DefaultPath(), false
	}
	if path == "" {
		a.rules = diag.BuiltinRules()
		return nil
	}
	rs, err := teamrules.Load(path, required)
	if err != nil {
		return usageError{err}
	}
	a.rules = rs
	return nil
}

func newRulesCmd(a *app) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List every diagnosis rule, built-in and your team's, in ranking order",
		Long: `List every rule the diagnosis uses — the built-in catalogue and the team rules of
$XDG_CONFIG_HOME/kdoctor/rules.yaml (or --rules FILE) — with its id, family,
severity, step and what triggers it.

Rules are listed in ranking order: when several match, the one listed first is
named the root cause (findings of severity info always come last). A team rule
ranks with the built-in family or rule its 'rank' names, ahead of the built-ins
of that rank; without 'rank' it ranks with the crash family, or with the node
family when it is listed under the node step. See the README's "Team rules".`,
		Example: `  kdoctor rules
  kdoctor rules --rules ./team-rules.yaml -o json | jq '.[] | select(.team)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains([]string{"text", "json"}, output) {
				return usagef("unknown output format %q: use text or json", output)
			}
			if err := a.loadRules(); err != nil {
				return err
			}
			return writeRules(a, output, a.rules.List())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func writeRules(a *app, format string, list []diag.RuleInfo) error {
	if format == "json" {
		out, err := json.MarshalIndent(list, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", out)
		return err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFAMILY\tSEVERITY\tSTEP\tTRIGGER")
	for _, r := range list {
		trigger := r.Trigger
		if r.Team {
			trigger = "team rule, ranks with " + r.RanksWith + ": " + trigger
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Family, r.Severity, r.Step, strings.ReplaceAll(trigger, "\t", " "))
	}
	return tw.Flush()
}
