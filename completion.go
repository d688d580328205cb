package main

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// registerCompletions adds dynamic completion for the flags whose values
// come from the kubeconfig or the cluster, as kubectl does.
func registerCompletions(root *cobra.Command, a *app) {
	_ = root.RegisterFlagCompletionFunc("theme", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return themes.Names(), cobra.ShellCompDirectiveNoFileComp
	})
	// --context, --cluster and --user complete from the kubeconfig (the
	// one --kubeconfig or KUBECONFIG names), as kubectl's do.
	fromKubeconfig := func(names func(*clientcmdapi.Config) []string) cobra.CompletionFunc {
		return func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
			raw, err := a.kubeFlags.ToRawKubeConfigLoader().RawConfig()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []string
			for _, n := range names(&raw) {
				if strings.HasPrefix(n, prefix) {
					out = append(out, n)
				}
			}
			sort.Strings(out)
			return out, cobra.ShellCompDirectiveNoFileComp
		}
	}
	_ = root.RegisterFlagCompletionFunc("context", fromKubeconfig(func(c *clientcmdapi.Config) []string { return slices.Collect(maps.Keys(c.Contexts)) }))
	_ = root.RegisterFlagCompletionFunc("cluster", fromKubeconfig(func(c *clientcmdapi.Config) []string { return slices.Collect(maps.Keys(c.Clusters)) }))
	_ = root.RegisterFlagCompletionFunc("user", fromKubeconfig(func(c *clientcmdapi.Config) []string { return slices.Collect(maps.Keys(c.AuthInfos)) }))
	_ = root.RegisterFlagCompletionFunc("namespace", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		c, err := kube.Connect(a.kubeFlags, kube.ConnectOptions{ReadOnly: true})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
		defer cancel()
		list, err := c.Client().CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, ns := range list.Items {
			if strings.HasPrefix(ns.Name, prefix) {
				out = append(out, ns.Name)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
}

// completionTimeout bounds every request a completion makes: a shell
// waiting on an unreachable cluster must give up quickly and quietly.
const completionTimeout = 3 * time.Second

// targetTypes are the TYPE/ prefixes diagnose's completion offers, short
// spelling first (kubectl's short names), the long one once the typed word
// no longer fits the short one ("deploym" → "deployment/").
var targetTypes = [][]string{
	{"pod"}, {"deploy", "deployment"}, {"sts", "statefulset"}, {"ds", "daemonset"},
	{"rs", "replicaset"}, {"job"}, {"cronjob", "cj"},
}

// completeDiagnoseTarget completes diagnose's [TYPE/]NAME or TYPE NAME the
// way kubectl logs completes its argument: a bare word is a pod name or a
// TYPE/ prefix; after TYPE/ come that type's names. Names come from where
// diagnose would look (see targetSource): the cluster, the demo or the
// dump, within completionTimeout; any failure completes nothing and prints
// nothing.
func completeDiagnoseTarget(a *app) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		const noFile = cobra.ShellCompDirectiveNoFileComp
		if a.allNamespaces {
			return nil, noFile // a single target takes -n, not -A
		}
		names := func(kind, prefix, lead string) []string {
			list, namespace := a.targetSource(cmd)
			if list == nil {
				return nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
			defer cancel()
			objs, err := list(ctx, kind, namespace)
			if err != nil {
				return nil
			}
			var out []string
			for _, o := range objs {
				// Without -n a dump or the demo lists every namespace:
				// a name in two of them is offered once.
				if n := lead + o.name; strings.HasPrefix(o.name, prefix) && !slices.Contains(out, n) {
					out = append(out, n)
				}
			}
			sort.Strings(out)
			return out
		}
		switch {
		case len(args) == 1 && !strings.Contains(args[0], "/"):
			// TYPE NAME: the second word is a name of that type.
			kind, ok := facts.NormalizeKind(args[0])
			if !ok {
				return nil, noFile
			}
			return names(kind, toComplete, ""), noFile
		case len(args) > 0:
			return nil, noFile
		}
		if typ, prefix, ok := strings.Cut(toComplete, "/"); ok {
			kind, known := facts.NormalizeKind(typ)
			if !known {
				return nil, noFile
			}
			return names(kind, prefix, typ+"/"), noFile
		}
		out := names("pod", toComplete, "")
		directive := noFile
		if len(out) == 0 {
			// Only TYPE/ prefixes: the shell must not add a space after
			// the slash.
			directive |= cobra.ShellCompDirectiveNoSpace
		}
		for _, t := range targetTypes {
			for _, sp := range t {
				if strings.HasPrefix(sp, toComplete) {
					out = append(out, sp+"/")
					break
				}
			}
		}
		return out, directive
	}
}

// completeLogsTarget completes logs' one TYPE/NAME (or bare pod name) as
// diagnose's first word; logs takes no second word.
func completeLogsTarget(a *app) cobra.CompletionFunc {
	target := completeDiagnoseTarget(a)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return target(cmd, args, toComplete)
	}
}

// targetSource is where diagnose would look its target up, for completion:
// the dump of --from-file, the demo of --demo, else the cluster of the
// connection flags (read-only); and the namespace to list — -n, else the
// context's, or every namespace for a dump or the demo, whose target
// without -n is found in whichever namespace holds it (namespaceOf). A nil
// lister means nothing may be listed: a dump read from standard input,
// which belongs to the shell while it completes, or one that cannot be read.
func (a *app) targetSource(cmd *cobra.Command) (targetLister, string) {
	namespace := ""
	if a.kubeFlags.Namespace != nil {
		namespace = *a.kubeFlags.Namespace
	}
	if files, _ := cmd.Flags().GetStringArray("from-file"); len(files) > 0 {
		if slices.Contains(files, "-") {
			return nil, ""
		}
		dump, err := facts.LoadDump(files, nil)
		if err != nil {
			return nil, ""
		}
		return dumpLister(dump.Set), namespace
	}
	if a.demo {
		d, _, err := a.openDemo()
		if err != nil {
			return nil, ""
		}
		return clientLister(d.Client()), namespace
	}
	c, err := kube.Connect(a.kubeFlags, kube.ConnectOptions{ReadOnly: true})
	if err != nil {
		return nil, ""
	}
	return metadataLister(c), c.Namespace
}

// isCobraUsage recognises cobra's own errors about how it was called.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires ", "invalid argument", "flag needs an argument", "bad flag syntax"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
