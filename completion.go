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
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
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

// gvrOf maps any spelling kubectl accepts ("po", "deployments.apps") to the
// resource to list.
func gvrOf(typ string) (schema.GroupVersionResource, bool) {
	k, ok := facts.NormalizeKind(typ)
	if !ok {
		return schema.GroupVersionResource{}, false
	}
	return schema.GroupVersionResource{Group: kindGroup[k], Version: "v1", Resource: k + "s"}, true
}

var kindGroup = map[string]string{"pod": "", "deployment": "apps", "statefulset": "apps", "daemonset": "apps", "replicaset": "apps", "job": "batch", "cronjob": "batch"}

// completeDiagnoseTarget completes diagnose's [TYPE/]NAME or TYPE NAME the
// way kubectl logs completes its argument: a bare word is a pod name or a
// TYPE/ prefix; after TYPE/ come that type's names. Names are listed from
// the cluster of the connection flags, read-only, metadata only, within
// completionTimeout; any failure completes nothing and prints nothing.
func completeDiagnoseTarget(a *app) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		const noFile = cobra.ShellCompDirectiveNoFileComp
		offline := false
		if f := cmd.Flags().Lookup("from-file"); f != nil && f.Changed {
			offline = true // a dump is diagnosed: the cluster is not to be asked
		}
		if a.allNamespaces {
			return nil, noFile // a single target takes -n, not -A
		}
		switch {
		case len(args) == 1 && !strings.Contains(args[0], "/"):
			// TYPE NAME: the second word is a name of that type.
			gvr, ok := gvrOf(args[0])
			if !ok || offline {
				return nil, noFile
			}
			return listNames(a, gvr, toComplete, ""), noFile
		case len(args) > 0:
			return nil, noFile
		}
		if typ, prefix, ok := strings.Cut(toComplete, "/"); ok {
			gvr, known := gvrOf(typ)
			if !known || offline {
				return nil, noFile
			}
			return listNames(a, gvr, prefix, typ+"/"), noFile
		}
		var out []string
		if !offline {
			pods, _ := gvrOf("pod")
			out = listNames(a, pods, toComplete, "")
		}
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

// listNames lists the names of one resource in the namespace of the flags
// (metadata only: completion needs no specs), keeping those starting with
// prefix, each written after lead.
func listNames(a *app, gvr schema.GroupVersionResource, prefix, lead string) []string {
	c, err := kube.Connect(a.kubeFlags, kube.ConnectOptions{ReadOnly: true})
	if err != nil {
		return nil
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.Timeout = completionTimeout
	client, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	list, err := client.Resource(gvr).Namespace(c.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []string
	for _, o := range list.Items {
		if strings.HasPrefix(o.Name, prefix) {
			out = append(out, lead+o.Name)
		}
	}
	sort.Strings(out)
	return out
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
