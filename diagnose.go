package main

import (
	"context"
	"fmt"
	"github.com/charmbracelet/colorprofile"
	"io"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/usage"
)

func init() { extraCommands = append(extraCommands, newDiagnoseCmd) }

// diagnoseOptions are the diagnose command's own flags.
type diagnoseOptions struct {
	fromFiles []string
	now       string
	output    string
	failOn    string
}

var outputFormats = []string{"text", "json", "yaml", "markdown"}

func newDiagnoseCmd(a *app) *cobra.Command {
	o := &diagnoseOptions{}
	cmd := &cobra.Command{
		Use:   "diagnose [TYPE/]NAME",
		Short: "Diagnose a pod or workload: describe → events → logs --previous → node",
		Long: `Diagnose walks the four steps a senior engineer runs by hand — describe, events,
logs --previous, node conditions — and names the root cause with its evidence, next
steps and the kubectl commands that confirm it.

TYPE is spelled as kubectl spells it (pod, po, deploy, rs, sts, ds, job, cj); without
TYPE, NAME is a pod. Without NAME, every unhealthy pod and workload in scope (-n, or
-A for all namespaces) is diagnosed, most severe first.

With --from-file, no cluster is contacted: the objects come from files written by
'kubectl get ... -o yaml|json', from a 'kubectl cluster-info dump --output-directory'
tree, or from '-' (standard input). The clock is then the newest timestamp in the
dump unless --now says otherwise.

-o yaml prints the same document as -o json, in YAML.

Exit codes, for scripts and CI:
  0  the diagnosis ran (and, with --fail-on, found nothing at or above that severity)
  1  runtime error: the cluster, the kubeconfig or a dump file could not be read
  2  usage error: a bad flag, argument or --fail-on value, or a bad rules file
  3  --fail-on SEVERITY was given and a finding at or above it was found
     (severities: info < warning < error < critical)`,
		Example: `  kdoctor diagnose web-5d9 -n shop
  kdoctor diagnose deploy/web -n shop -o json
  kdoctor diagnose cronjob/nightly-report -n shop
  kdoctor diagnose -A -o markdown
  kdoctor diagnose -n shop --fail-on error -o yaml   # exit 3 when something is broken
  kubectl get pods,events -n shop -o yaml | kdoctor diagnose --from-file - web-5d9`,
		Args:              cobra.MaximumNArgs(2),
		ValidArgsFunction: completeDiagnoseTarget(a),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiagnose(cmd.Context(), a, o, args, cmd.InOrStdin())
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.fromFiles, "from-file", nil, "diagnose offline from a YAML/JSON file, a directory or a cluster-info dump ('-' for standard input; repeatable)")
	f.StringVar(&o.now, "now", "", "the time to judge ages against, RFC3339 (default: now, or the newest timestamp of an offline dump)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text, json, yaml or markdown")
	f.StringVar(&o.failOn, "fail-on", "", "exit with code 3 when a finding at or above this severity is found: warning, error or critical")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("fail-on", cobra.FixedCompletions(failOnSeverities, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// parseTarget reads [TYPE/]NAME or TYPE NAME.
func parseTarget(args []string) (kind, name string, err error) {
	switch len(args) {
	case 0:
		return "", "", nil
	case 2:
		kind, name = args[0], args[1]
	default:
		if t, n, ok := strings.Cut(args[0], "/"); ok {
			kind, name = t, n
		} else {
			kind, name = "pod", args[0]
		}
	}
	k, ok := facts.NormalizeKind(kind)
	if !ok {
		return "", "", usagef("cannot diagnose resource type %q: use pod, deployment, replicaset, statefulset, daemonset, job or cronjob", kind)
	}
	if name == "" || strings.Contains(name, "/") {
		return "", "", usagef("bad target %q: want [TYPE/]NAME", strings.Join(args, " "))
	}
	return k, name, nil
}

func runDiagnose(ctx context.Context, a *app, o *diagnoseOptions, args []string, stdin io.Reader) error {
	if !slices.Contains(outputFormats, o.output) {
		return usagef("unknown output format %q: use text, json, yaml or markdown", o.output)
	}
	failOn, err := parseFailOn(o.failOn)
	if err != nil {
		return err
	}
	kind, name, err := parseTarget(args)
	if err != nil {
		return err
	}
	var now time.Time
	if o.now != "" {
		if now, err = time.Parse(time.RFC3339, o.now); err != nil {
			return usagef("--now %q is not an RFC3339 time (like 2026-11-20T10:00:00Z)", o.now)
		}
	}
	namespace := ""
	if a.kubeFlags.Namespace != nil {
		namespace = *a.kubeFlags.Namespace
	}
	if a.allNamespaces && name != "" {
		return usagef("a single target takes -n, not -A")
	}
	if err := a.loadRules(); err != nil {
		return err
	}

	var ds []*diag.Diagnosis
	if len(o.fromFiles) > 0 {
		ds, err = diagnoseOffline(a, o, stdin, kind, name, namespace, now)
	} else {
		ds, err = diagnoseLive(ctx, a, kind, name, namespace, now)
	}
	if err != nil {
		return err
	}
	if err := writeDiagnoses(a, o.output, ds, name == ""); err != nil {
		return err
	}
	return checkFailOn(failOn, ds)
}

// failOnSeverities are --fail-on's values. info is not one: every healthy
// target has an info finding, so it would always fail.
var failOnSeverities = []string{"warning", "error", "critical"}

// parseFailOn reads --fail-on; nil means the flag is off.
func parseFailOn(v string) (*diag.Severity, error) {
	if v == "" {
		return nil, nil
	}
	var s diag.Severity
	if !slices.Contains(failOnSeverities, v) || s.UnmarshalText([]byte(v)) != nil {
		return nil, usagef("--fail-on %q: use warning, error or critical", v)
	}
	return &s, nil
}

// findingsError says --fail-on's threshold was reached (exit 3); the
// diagnosis itself was printed in full before it.
type findingsError struct {
	threshold diag.Severity
	targets   []string
}

func (e findingsError) Error() string {
	what := "target has"
	if len(e.targets) > 1 {
		what = "targets have"
	}
	return fmt.Sprintf("--fail-on %s: %d %s a finding at or above %s: %s",
		e.threshold, len(e.targets), what, e.threshold, strings.Join(e.targets, ", "))
}

// checkFailOn returns a findingsError when any finding of any diagnosis
// (not only the root cause) is at or above the threshold.
func checkFailOn(threshold *diag.Severity, ds []*diag.Diagnosis) error {
	if threshold == nil {
		return nil
	}
	var hit []string
	for _, d := range ds {
		for _, f := range d.Findings {
			if f.Severity >= *threshold {
				hit = append(hit, d.Target.String()+" -n "+d.Target.Namespace)
				break
			}
		}
	}
	if len(hit) == 0 {
		return nil
	}
	return findingsError{threshold: *threshold, targets: hit}
}

func diagnoseOffline(a *app, o *diagnoseOptions, stdin io.Reader, kind, name, namespace string, now time.Time) ([]*diag.Diagnosis, error) {
	dump, err := facts.LoadDump(o.fromFiles, stdin)
	if err != nil {
		return nil, err
	}
	for _, w := range dump.Warnings {
		fmt.Fprintf(a.stderr, "kdoctor: warning: %s\n", w)
	}
	set := dump.Set
	if set.Len() == 0 {
		return nil, fmt.Errorf("no Kubernetes objects in %s", strings.Join(o.fromFiles, ", "))
	}
	if now.IsZero() {
		now = facts.NewestTimestamp(set.Objects())
	}
	if now.IsZero() {
		now = time.Now()
	}
	var targets []diag.Target
	if name != "" {
		t := diag.Target{Kind: kind, Namespace: namespace, Name: name}
		if t.Namespace == "" {
			t.Namespace = namespaceOf(context.Background(), dumpLister(set), kind, name)
		}
		targets = []diag.Target{t}
	} else {
		scope := namespace
		if a.allNamespaces {
			scope = ""
		}
		targets = facts.UnhealthyTargetsAt(set, scope, now)
	}
	var ds []*diag.Diagnosis
	for _, t := range targets {
		facts, err := facts.BuildFacts(set, t, now)
		if err != nil {
			return nil, fmt.Errorf("%w in the dump", err)
		}
		ds = append(ds, a.rules.Diagnose(&facts))
	}
	return ds, nil
}

// liveParallel bounds how many targets are gathered at once in the
// target-less form, to keep the request rate polite.
const liveParallel = 4

func diagnoseLive(ctx context.Context, a *app, kind, name, namespace string, now time.Time) ([]*diag.Diagnosis, error) {
	src, defaultNS, err := a.diagnoseSource()
	if err != nil {
		return nil, err
	}
	if namespace == "" {
		namespace = defaultNS
	}
	client := src.Client()
	switch {
	case namespace == "" && name != "" && a.demo:
		// The demo has no context namespace: a name is looked up in
		// every namespace, as in a dump (and as completion offers it).
		namespace = namespaceOf(ctx, clientLister(client), kind, name)
	case namespace == "" && name != "":
		namespace = metav1.NamespaceDefault // as kubectl looks a name up
	}
	// Logs come through the source: the demo serves its scenarios' logs.
	opts := facts.GatherOptions{Now: now, Logs: src.PodLogs, Metrics: kube.MetricsOf(src)}
	if name != "" {
		f, err := facts.Gather(ctx, client, diag.Target{Kind: kind, Namespace: namespace, Name: name}, opts)
		if err != nil {
			return nil, err
		}
		return []*diag.Diagnosis{a.rules.Diagnose(&f)}, nil
	}
	scope := namespace
	if a.allNamespaces {
		scope = ""
	}
	targets, err := facts.ListUnhealthy(ctx, client, scope, facts.Selector{Label: a.selector, Field: a.fieldSelector})
	if err != nil {
		return nil, err
	}
	if len(targets) > 1 && usage.Served(ctx, opts.Metrics, scope) != nil {
		opts.Metrics = nil // one request said so; spare each target its own
	}
	ds := make([]*diag.Diagnosis, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	sem := make(chan struct{}, liveParallel)
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			f, err := facts.Gather(ctx, client, t, opts)
			if err != nil {
				errs[i] = err
				return
			}
			ds[i] = a.rules.Diagnose(&f)
		}()
	}
	wg.Wait()
	var out []*diag.Diagnosis
	for i, d := range ds {
		switch {
		case d != nil:
			out = append(out, d)
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			// A pod deleted between the listing and the gather is no error.
			fmt.Fprintf(a.stderr, "kdoctor: warning: %s: %s\n", targets[i].Path(), kube.Explain(errs[i]))
		}
	}
	return out, nil
}

// diagnoseSource is the cluster to diagnose, live: the built-in demo with
// --demo (as the TUI's), else the kubeconfig's; and the namespace a target
// without -n is looked for in (the context's; the demo has none, so a
// listing covers all its namespaces).
func (a *app) diagnoseSource() (kube.Source, string, error) {
	if a.demo {
		d, _, err := a.openDemo()
		if err != nil {
			return nil, "", err
		}
		return d, "", nil
	}
	c, err := a.connect(a.kubeFlags)
	if err != nil {
		return nil, "", err
	}
	return c, c.Namespace, nil
}

// writeDiagnoses prints the diagnoses; several (or the target-less form)
// are ranked most severe first and printed as a JSON array in JSON.
func writeDiagnoses(a *app, format string, ds []*diag.Diagnosis, many bool) error {
	if many {
		sort.SliceStable(ds, func(i, j int) bool { return ds[i].RootCause.Severity > ds[j].RootCause.Severity })
	}
	var out []byte
	switch format {
	case "json":
		var err error
		if many {
			out, err = diag.JSONList(ds)
		} else {
			out, err = diag.JSON(ds[0])
		}
		if err != nil {
			return err
		}
	case "yaml":
		// The JSON document, converted: one shape to keep stable, and the
		// key names are JSON's.
		var j []byte
		var err error
		if many {
			j, err = diag.JSONList(ds)
		} else {
			j, err = diag.JSON(ds[0])
		}
		if err == nil {
			out, err = yaml.JSONToYAML(j)
		}
		if err != nil {
			return err
		}
	case "markdown":
		var parts []string
		for _, d := range ds {
			parts = append(parts, diag.Markdown(d))
		}
		if len(ds) == 0 {
			parts = append(parts, "No unhealthy pods or workloads found.\n")
		}
		out = []byte(strings.Join(parts, "\n---\n\n"))
	default:
		style := diag.TextStyle{}
		if colorWanted(a.stdout) {
			style = diag.ANSIStyle()
		}
		var parts []string
		for _, d := range ds {
			parts = append(parts, diag.Text(d, style))
		}
		if len(ds) == 0 {
			parts = append(parts, "No unhealthy pods or workloads found.\n")
		}
		out = []byte(strings.Join(parts, "\n"+strings.Repeat("─", 80)+"\n\n"))
	}
	_, err := a.stdout.Write(out)
	return err
}

// colorWanted reports whether to colour text: charm's colour detection
// (colorprofile) decides, as it does for the TUI — a terminal that shows
// colours, never with NO_COLOR (https://no-color.org) or TERM=dumb, and
// CLICOLOR_FORCE forces it.
func colorWanted(w io.Writer) bool {
	if _, set := os.LookupEnv("NO_COLOR"); set {
		return false // colorprofile lets a forced CLICOLOR_FORCE win; no-color.org does not
	}
	return colorprofile.Detect(w, os.Environ()) >= colorprofile.ANSI
}
