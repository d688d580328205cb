package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/klog/v2"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/demo"
	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/themes"
	"github.com/kdoctor-dev/kdoctor/ui"
)

// scenarioFS holds the scenarios the demo cluster is built from, so the demo
// works from a `go install`ed binary with no checkout around.
//
//go:embed testdata/scenarios
var scenarioFS embed.FS

func newTUICmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "tui",
		Short: "Open the interactive pod tree and diagnosis (the default in a terminal)",
		Long: `Open kdoctor's terminal UI: a live tree of pods (namespace → workload → pod →
container) with health rolled up and problems first.

The scope is the namespace of -n or of your kubeconfig context, or every
namespace with -A. With --demo, kdoctor runs against a built-in cluster that
replays real failure stories, so you can try it without Kubernetes.`,
		Example: `  kdoctor tui --demo          # no cluster needed
  kdoctor tui -A              # every namespace of the current context
  kdoctor tui -n shop --read-only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTUI(cmd.Context(), a) },
	}
}

func runTUI(ctx context.Context, a *app) error {
	styles, fixed, err := resolveTheme(a.theme)
	if err != nil {
		return usageError{err}
	}
	if err := a.loadRules(); err != nil {
		return err
	}
	// The kubeconfig is checked first (no network), then the terminal, then
	// the server: each failure is one line, in the order a user fixes them.
	src, scope, err := openSource(ctx, a)
	if err != nil {
		return err
	}
	// client-go logs retries and warnings through klog to stderr, which would
	// scribble over the screen; the UI shows connection state itself.
	silenceKlog()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if d, ok := src.(*demo.Demo); ok {
		go d.Run(ctx, 2*time.Second)
	}
	opts := ui.Options{Ctx: ctx, Source: src, Scope: scope, Styles: styles, ThemeFixed: fixed,
		LogTail: a.cfg.Logs.Tail, LogBuffer: a.cfg.Logs.BufferLines, Rules: a.rules, OnKey: testKeyHook, NoMouse: !a.mouse, DebugImage: a.debugImage}
	if !a.demo {
		// Changes made from the TUI go to the session log, so the incident
		// timeline can be rebuilt; the demo changes nothing real.
		log, err := action.OpenSessionLog("")
		if err != nil {
			return fmt.Errorf("session log: %w", err)
		}
		opts.SessionLog = log
	}
	var crash crashReport
	if !a.demo {
		opts.Contexts = kubeContexts(a)
		opts.Connect = func(name string) (kube.Source, error) {
			// client-go's exec credential plugin keeps the os.Stderr of the
			// moment its client is built: the terminal's, so that a plugin
			// prompting at login (the TUI hands it the terminal) is seen,
			// not written into the crash report.
			var c *kube.Cluster
			var err error
			crash.withTerminal(func() { c, err = a.connectQuiet(flagsForContext(a.kubeFlags, name)) })
			return c, err
		}
	}
	p := tea.NewProgram(ui.New(opts), tea.WithContext(ctx))
	crash = captureCrashReport()
	final, err := p.Run()
	crashPath := crash.done(errors.Is(err, tea.ErrProgramPanic))
	cancel()
	if crashPath != "" {
		return fmt.Errorf("kdoctor hit a bug and stopped; the terminal was restored and the crash report is in %s (please attach it to an issue)", crashPath)
	}
	if m, ok := final.(ui.Model); ok {
		m.Stop()
	}
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // SIGTERM/SIGHUP/Ctrl-C from outside: a clean exit
	}
	return err
}

// testKeyHook is nil in kdoctor; the end-to-end tests build the binary with
// the kdoctor_e2e tag, whose e2e_hook.go sets it to crash on F12.
var testKeyHook func(tea.KeyPressMsg)

// flagsForContext makes fresh flags for another context: ConfigFlags caches
// its loader, so a copy would keep talking to the old context. Identity and
// file flags carry over; cluster, user and namespace come from the context.
func flagsForContext(f *genericclioptions.ConfigFlags, name string) *genericclioptions.ConfigFlags {
	n := genericclioptions.NewConfigFlags(true)
	n.KubeConfig, n.Impersonate, n.ImpersonateUID, n.ImpersonateGroup = f.KubeConfig, f.Impersonate, f.ImpersonateUID, f.ImpersonateGroup
	n.Timeout, n.CacheDir = f.Timeout, f.CacheDir
	n.Context = &name
	return n
}

func kubeContexts(a *app) []string {
	raw, err := a.kubeFlags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil
	}
	var out []string
	for name := range raw.Contexts {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func silenceKlog() {
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
}

func needTerminal() error {
	if !term.IsTerminal(os.Stdout.Fd()) || !term.IsTerminal(os.Stdin.Fd()) {
		return errors.New("kdoctor tui needs a terminal; to diagnose from a script use 'kdoctor diagnose'")
	}
	return nil
}

func resolveTheme(name string) (themes.Styles, bool, error) {
	if name == "" {
		return themes.Default(true), false, nil
	}
	st, err := themes.Load(name)
	return st, true, err
}

// openSource picks the demo or the kubeconfig cluster and checks, before the
// screen changes, that the scope can be listed: an unreachable server or a
// forbidden namespace is then one clear line instead of an empty tree.
func openSource(ctx context.Context, a *app) (kube.Source, live.Scope, error) {
	if a.demo {
		d, scope, err := a.openDemo()
		if err != nil {
			return nil, live.Scope{}, err
		}
		if err := needTerminal(); err != nil {
			return nil, live.Scope{}, err
		}
		return d, scope, nil
	}
	c, err := a.connect(a.kubeFlags)
	if err != nil {
		return nil, live.Scope{}, err
	}
	if err := needTerminal(); err != nil {
		return nil, live.Scope{}, err
	}
	var scope live.Scope
	if !a.allNamespaces {
		// -n shop,payments watches several namespaces.
		for _, ns := range strings.Split(c.Namespace, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				scope.Namespaces = append(scope.Namespaces, ns)
			}
		}
	}
	scope = a.narrow(scope)
	if err := preflight(ctx, c, scope); err != nil {
		return nil, live.Scope{}, err
	}
	return c, scope, nil
}

// openDemo builds the demo cluster from the embedded scenarios, read-only
// when the flag or the config says so, with the same guard and refusals as
// against a real cluster, so the demo shows a junior what read-only means.
func (a *app) openDemo() (*demo.Demo, live.Scope, error) {
	ro, err := a.readOnlyDemo()
	if err != nil {
		return nil, live.Scope{}, err
	}
	sub, err := fs.Sub(scenarioFS, "testdata/scenarios")
	if err != nil {
		return nil, live.Scope{}, err
	}
	d, err := demo.NewDemo(sub, ".", time.Now())
	if err != nil {
		return nil, live.Scope{}, fmt.Errorf("demo cluster: %w", err)
	}
	if ro {
		d.GuardReadOnly()
	}
	var scope live.Scope
	if ns := *a.kubeFlags.Namespace; ns != "" && !a.allNamespaces {
		scope.Namespaces = []string{ns}
	}
	return d, a.narrow(scope), nil
}

func preflight(ctx context.Context, c *kube.Cluster, scope live.Scope) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	namespaces := scope.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, ns := range namespaces {
		o := metav1.ListOptions{Limit: 1, LabelSelector: scope.LabelSelector, FieldSelector: scope.FieldSelector}
		if _, err := c.Client().CoreV1().Pods(ns).List(ctx, o); err != nil {
			return fmt.Errorf("%s (context %q, server %s)", kube.Explain(err), c.Context, c.Server)
		}
	}
	return nil
}

// crashReport sends what bubbletea prints when it recovers from a panic (the
// panic and a stack trace) to a file instead of the user's screen, so a crash
// ends with one line saying where the report is.
type crashReport struct {
	f      *os.File
	stderr *os.File
}

// withTerminal runs f with os.Stderr the terminal's again.
func (c crashReport) withTerminal(f func()) {
	if c.f == nil {
		f()
		return
	}
	os.Stderr = c.stderr
	defer func() { os.Stderr = c.f }()
	f()
}

func captureCrashReport() crashReport {
	dir, err := action.DefaultSessionLogDir()
	if err != nil {
		dir = os.TempDir()
	}
	_ = os.MkdirAll(dir, 0o700)
	f, err := os.CreateTemp(dir, "crash-"+time.Now().Format("20060102-150405")+"-*.log")
	if err != nil {
		return crashReport{}
	}
	c := crashReport{f: f, stderr: os.Stderr}
	os.Stderr = f
	return c
}

// done restores stderr and returns the report's path if there was a crash.
func (c crashReport) done(panicked bool) string {
	if c.f == nil {
		return ""
	}
	os.Stderr = c.stderr
	name := c.f.Name()
	c.f.Close()
	if !panicked {
		os.Remove(name)
		return ""
	}
	return name
}
