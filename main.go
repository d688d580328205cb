// Command kdoctor is an interactive terminal troubleshooter for Kubernetes
// pods: a live pod tree, a diagnosis that walks describe → events → logs
// --previous → node conditions, and one-key actions.
package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/kdoctor-dev/kdoctor/kube/live"
	"io"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/demo"
)

// Exit codes, as documented in README.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
	// exitFindings: diagnose --fail-on found a finding at or above the
	// threshold (the diagnosis was printed).
	exitFindings = 3
)

// app holds what every command shares: the kubectl-compatible connection
// flags and kdoctor's global flags.
type app struct {
	kubeFlags     *genericclioptions.ConfigFlags
	allNamespaces bool
	// selector and fieldSelector are -l and --field-selector, as kubectl's.
	selector, fieldSelector string
	readOnly                bool
	// readOnlySet is true when --read-only was given explicitly (so
	// --read-only=false is told apart from no flag).
	readOnlySet bool
	theme       string
	demo        bool
	// mouse is --mouse, else the config's mouse, else on.
	mouse bool
	// debugImage is --debug-image, else the config's debug.image, else
	// action.DefaultDebugImage (see resolveDebugImage).
	debugImage string
	cfg        config
	// rulesFile is --rules; rules the rule set loaded by loadRules.
	rulesFile string
	rules     *diag.Rules

	stdout, stderr io.Writer
}

// connect opens the cluster of the current flags, read-only when the flag or
// the config file says so for that context or its API server. An explicit
// --read-only=false against a config that makes the context read-only is
// refused: a flag never weakens the config silently.
func (a *app) connect(flags *genericclioptions.ConfigFlags) (*kube.Cluster, error) {
	c, err := a.connectQuiet(flags)
	if err != nil {
		return nil, err
	}
	if err := a.checkWeakened(c.Context, c.ReadOnlyWhy); err != nil {
		return nil, err
	}
	return c, nil
}

// connectQuiet is connect for a context switch inside the TUI: a context the
// config makes read-only opens read-only whatever the flag said, and the
// status line says why.
func (a *app) connectQuiet(flags *genericclioptions.ConfigFlags) (*kube.Cluster, error) {
	return kube.Connect(flags, kube.ConnectOptions{ReadOnly: a.readOnly, ReadOnlyFor: a.cfg.readOnlyFor})
}

// readOnlyDemo says whether the demo runs read-only: the flag, or the config
// (global, or a pattern matching the demo's context or server).
func (a *app) readOnlyDemo() (bool, error) {
	if a.readOnly {
		return true, nil
	}
	ro, why := a.cfg.readOnlyFor(demo.DemoContext, demo.DemoServer)
	if ro {
		return true, a.checkWeakened(demo.DemoContext, why)
	}
	return false, nil
}

// checkWeakened refuses --read-only=false when the config made the context
// read-only (why is the config's reason; "--read-only" or "" mean no
// config entry was involved).
func (a *app) checkWeakened(context, why string) error {
	if !a.readOnlySet || a.readOnly || why == "" || why == "--read-only" {
		return nil
	}
	return usagef("--read-only=false cannot weaken the config: %s, so context %q stays read-only (edit %s to change that)", why, context, configPath())
}

// usageError marks an error caused by how the command was called (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "kdoctor",
		Short: "Find out why Kubernetes pods are broken, fast",
		Long: `kdoctor is a terminal troubleshooter for Kubernetes pods.

It streams your pods into a live tree (namespace → workload → pod → container)
with health rolled up, and diagnoses a selected pod the way a senior engineer
would: describe → events → logs --previous → node conditions, naming the cause
with its evidence and the exact kubectl commands to confirm it.

Run without a subcommand in a terminal, kdoctor opens the TUI. No cluster at
hand? Try the built-in demo:  kdoctor --demo`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			a.cfg = cfg
			a.readOnlySet = cmd.Flags().Changed("read-only")
			if !cmd.Flags().Changed("mouse") && cfg.Mouse != nil {
				a.mouse = *cfg.Mouse
			}
			if err := a.resolveDebugImage(); err != nil {
				return err
			}
			if err := a.checkSelectors(); err != nil {
				return err
			}
			if a.theme == "" {
				a.theme = cfg.Theme
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTUI(cmd.Context(), a)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	a.kubeFlags.AddFlags(root.PersistentFlags())
	pf := root.PersistentFlags()
	pf.BoolVarP(&a.allNamespaces, "all-namespaces", "A", false, "watch and diagnose pods in all namespaces")
	pf.StringVarP(&a.selector, "selector", "l", "", "label selector, as kubectl's (-l app=web,tier!=cache): only the pods and workloads it matches")
	pf.StringVar(&a.fieldSelector, "field-selector", "", "field selector on pods, as kubectl's (--field-selector spec.nodeName=worker-1,status.phase!=Running)")
	pf.BoolVar(&a.readOnly, "read-only", false, "refuse every request that could change the cluster (exec, cordon, drain, …), enforced below the UI")
	pf.StringVar(&a.theme, "theme", "", "colour theme: dark, light, high-contrast, mono, or a theme file name (default: follows the terminal)")
	pf.BoolVar(&a.demo, "demo", false, "run against the built-in demo cluster (no Kubernetes needed)")
	pf.BoolVar(&a.mouse, "mouse", true, "capture the mouse in the TUI (wheel scrolls, click selects); --mouse=false leaves it to the terminal for selecting text")
	pf.StringVar(&a.debugImage, "debug-image", "", "image of the debug containers the TUI offers where a container has no shell or is not running (default: the config's debug.image, else "+action.DefaultDebugImage+")")
	pf.StringVar(&a.rulesFile, "rules", "", "team rules file for the diagnosis (default: $XDG_CONFIG_HOME/kdoctor/rules.yaml when it exists)")
	registerCompletions(root, a)

	root.AddCommand(newTUICmd(a), newVersionCmd(a))
	for _, add := range extraCommands {
		root.AddCommand(add(a))
	}
	return root
}

// extraCommands lets each command file register itself, so main.go does not
// grow with every command.
var extraCommands []func(*app) *cobra.Command

func main() {
	os.Exit(runAs(invokedAs(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	return runAs(invocation{display: "kdoctor"}, args, stdout, stderr)
}

// runAs runs the command line as the binary was invoked: kdoctor, or the
// kubectl plugin (plugin.go).
func runAs(inv invocation, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	if inv.complete {
		// kubectl prints its own "Completion ended with directive" note;
		// the helper's copy would only repeat it on the user's terminal.
		stderr = io.Discard
	}
	a := &app{kubeFlags: genericclioptions.NewConfigFlags(true), stdout: stdout, stderr: stderr}
	root := newRootCmd(a)
	root.SetArgs(inv.apply(root, args))
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var fe findingsError
	if errors.As(err, &fe) {
		fmt.Fprintf(stderr, "kdoctor: %s\n", fe)
		return exitFindings
	}
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintf(stderr, "kdoctor: %s\nRun '%s --help' for usage.\n", err, inv.display)
		return exitUsage
	}
	fmt.Fprintf(stderr, "kdoctor: %s\n", kube.Explain(err))
	return exitRuntime
}

// checkSelectors parses -l and --field-selector before any request, so a
// typo is one usage line (exit 2), not an API error after a connection.
func (a *app) checkSelectors() error {
	if _, err := labels.Parse(a.selector); err != nil {
		return usagef("-l/--selector %q: %v", a.selector, err)
	}
	if _, err := fields.ParseSelector(a.fieldSelector); err != nil {
		return usagef("--field-selector %q: %v", a.fieldSelector, err)
	}
	return nil
}

// resolveDebugImage picks the image of debug containers: --debug-image,
// else the config's debug.image, else action.DefaultDebugImage. One that is
// not an image reference is a usage error before anything starts, rather
// than a pull error on a node in the middle of an incident.
func (a *app) resolveDebugImage() error {
	switch {
	case a.debugImage != "":
		if err := action.CheckDebugImage(a.debugImage); err != nil {
			return usagef("--debug-image: %v", err)
		}
	case a.cfg.Debug.Image != "":
		if err := action.CheckDebugImage(a.cfg.Debug.Image); err != nil {
			return usagef("config %s: debug.image: %v", configPath(), err)
		}
		a.debugImage = a.cfg.Debug.Image
	default:
		a.debugImage = action.DefaultDebugImage
	}
	return nil
}

// narrow sets the selectors of -l and --field-selector on a scope.
func (a *app) narrow(s live.Scope) live.Scope {
	s.LabelSelector, s.FieldSelector = a.selector, a.fieldSelector
	return s
}
