package diag

import (
	"regexp"

	corev1 "k8s.io/api/core/v1"
)

// Failures that come from where the pod landed rather than from the pod
// itself: an image built for another CPU architecture, a registry that
// throttles the node's pulls, a node whose runtime lacks the pod's
// RuntimeClass handler.
var platformRules = []*rule{
	{
		ID: "image.platform-mismatch", Severity: Error, Step: StepDescribe, Rank: rankImage,
		Match:   matchPlatformMismatch,
		Summary: "{{.KindTitle}} {{.Container}} cannot run on node {{.Node}}: image {{.Image}} was built for another architecture than the node's {{.Arch}} (exec format error)",
		Explanation: "\"exec format error\" is the kernel refusing to run a binary made for another CPU: the image " +
			"(or the part of it that runs, {{.Binary}}) was built for, say, amd64 while node {{.Node}} is {{.Arch}}. " +
			"The pull succeeds because a single-architecture image is pulled whatever the node, so the failure only " +
			"shows when the process starts. It happens with images built on a laptop of the other kind (Apple " +
			"silicon, x86), and when arm64 nodes (Graviton, Ampere, Raspberry Pi) join a cluster whose images are amd64-only.",
		NextSteps: []string{
			"Check which platforms the image provides: docker buildx imagetools inspect {{.Image}} (or crane manifest {{.Image}}); a single-platform image lists none.",
			"Publish a multi-architecture image (docker buildx build --platform linux/amd64,linux/arm64 --push), or keep the pod on nodes of the image's architecture with nodeSelector kubernetes.io/arch.",
		},
		Commands: []string{
			"{{if .Node}}kubectl get node {{.Node}} -L kubernetes.io/arch{{end}}",
			"kubectl get nodes -L kubernetes.io/arch",
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}}{{.PreviousFlag}}",
		},
	},
	{
		ID: "image.rate-limited", Severity: Error, Step: StepDescribe, Rank: rankImage,
		Match:   imageMatcher(pullRateLimited),
		Summary: "Registry {{.Registry}} refuses to serve {{.Image}} to node {{.Node}}: pull rate limit reached (429 Too Many Requests)",
		Explanation: "The registry answered HTTP 429 (toomanyrequests): the node is pulling more than its quota " +
			"allows. Docker Hub limits anonymous pulls per source IP, and every node behind one NAT address shares " +
			"that quota, so a rollout, a node scale-up or a CrashLoop with imagePullPolicy Always on many nodes uses " +
			"it up. The image exists and the credentials are not wrong: the pull works again when the window resets.",
		NextSteps: []string{
			"Authenticate the pulls: an imagePullSecret with a {{.Registry}} account (on the pod or ServiceAccount {{.ServiceAccount}}) gets a higher or no limit.",
			"Pull through a mirror or cache: a registry mirror in the container runtime's config, or a pull-through cache (Harbor proxy cache, ECR pull-through cache, Artifact Registry remote repository), or copy the image to your own registry.",
			"Pull less often: imagePullPolicy IfNotPresent with immutable tags (or digests) instead of Always/latest.",
		},
		Commands: []string{
			"kubectl describe pod -n {{.Namespace}} {{.Pod}}",
			"kubectl get events -A --field-selector reason=Failed -o custom-columns=NAMESPACE:.metadata.namespace,POD:.involvedObject.name,MESSAGE:.message | grep -i toomanyrequests",
		},
	},
	{
		ID: "sandbox.runtime-handler-missing", Severity: Error, Step: StepEvents, Rank: rankConfig,
		Match:   matchRuntimeHandlerMissing,
		Summary: "Pod {{.Pod}} cannot start on node {{.Node}}: the container runtime there has no handler {{.Handler}} for RuntimeClass {{.RuntimeClass}}",
		Explanation: "A pod with runtimeClassName asks the node's container runtime for the RuntimeClass's handler " +
			"(nvidia, kata, gvisor/runsc…). The runtime on {{.Node}} has no such handler configured ({{.Runtime}}), so " +
			"it cannot create the pod's sandbox and the pod stays in ContainerCreating. Usually the handler was " +
			"installed on some nodes only (a GPU operator or toolkit not yet run, a node pool without the runtime), " +
			"or the runtime's configuration was reset by a node upgrade without restarting it.",
		NextSteps: []string{
			"On node {{.Node}}, add the handler to the runtime's configuration and restart it (containerd: [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.{{.HandlerName}}]; CRI-O: [crio.runtime.runtimes.{{.HandlerName}}]); for nvidia the NVIDIA container toolkit does this (nvidia-ctk runtime configure).",
			"Keep such pods on nodes that have the handler: give the RuntimeClass a scheduling.nodeSelector matching only those nodes.",
		},
		Commands: []string{
			"{{if .RuntimeClassName}}kubectl get runtimeclass {{.RuntimeClassName}} -o yaml{{end}}",
			"kubectl describe node {{.Node}}",
			"kubectl get pods -A -o wide --field-selector spec.nodeName={{.Node}}",
		},
	},
}

// pullRateLimited extends the pull classes of rules_image.go.
const pullRateLimited pullClass = 100

// rateLimited recognises a registry's 429: Docker Hub's "toomanyrequests:
// You have reached your pull rate limit", containerd's "unexpected status
// code …: 429 Too Many Requests", and other registries' 429s.
func rateLimited(msg string) bool {
	return containsAny(msg, "toomanyrequests", "429 Too Many Requests", "pull rate limit", "status code 429", "status: 429")
}

// execFormat finds the runtime's complaint: runc since 1.1 writes
// "exec /usr/bin/app: exec format error" to the container's stderr, older
// runc "standard_init_linux.go:228: exec user process caused: exec format error".
var execFormat = regexp.MustCompile(`(?:exec ([^\s:]+)|exec user process caused)(?::)? "?exec format error`)

// execFormatFailure returns the evidence line and the binary of a
// container whose last start failed with "exec format error".
func (w *walk) execFormatFailure(c *container) (line, binary string) {
	t, current := c.lastTermination()
	if t == nil {
		return "", ""
	}
	if m := execFormat.FindStringSubmatch(t.Message); m != nil {
		line, binary = c.kind()+" termination message: "+oneLine(t.Message), m[1]
	}
	if l := w.f.Log(c.Name, !current); l != nil && l.State == Found {
		for _, text := range lastLines(l.Text, logTailLines) {
			if m := execFormat.FindStringSubmatch(text); m != nil {
				label := "logs --previous (" + c.Name + "): "
				if current {
					label = "logs (" + c.Name + "): "
				}
				line, binary = label+text, m[1]
			}
		}
	}
	return line, binary
}

func matchPlatformMismatch(w *walk) []hit {
	if w.pod == nil || w.pod.DeletionTimestamp != nil {
		return nil
	}
	var hits []hit
	for _, c := range w.cs {
		line, binary := w.execFormatFailure(c)
		if line == "" {
			continue
		}
		t, current := c.lastTermination()
		vars := w.imageVars(c, "")
		vars["Binary"] = "its entrypoint"
		if binary != "" {
			vars["Binary"] = binary
		}
		vars["PreviousFlag"] = ""
		if !current {
			vars["PreviousFlag"] = " --previous"
		}
		h := hit{Container: c.Name, Vars: vars, Evidence: []string{w.formatState(c)}}
		if !current {
			h.Evidence = append(h.Evidence, w.formatTermination(c, t, false))
		}
		h.Evidence = append(h.Evidence, line)
		vars["Arch"] = "(unknown architecture)"
		if n := w.f.Node.Object; n != nil {
			arch := n.Labels[corev1.LabelArchStable]
			if arch == "" {
				arch = n.Status.NodeInfo.Architecture
			}
			if arch != "" {
				vars["Arch"] = arch
				h.Evidence = append(h.Evidence, "node "+n.Name+": label "+corev1.LabelArchStable+"="+n.Labels[corev1.LabelArchStable]+
					", nodeInfo.architecture "+n.Status.NodeInfo.Architecture)
			}
		}
		if sel := w.pod.Spec.NodeSelector[corev1.LabelArchStable]; sel != "" {
			h.Evidence = append(h.Evidence, "pod nodeSelector: "+corev1.LabelArchStable+"="+sel)
		}
		hits = append(hits, h)
	}
	return hits
}

// runtimeHandler finds the handler the runtime could not find: containerd
// "failed to get sandbox runtime: no runtime for \"nvidia\" is configured",
// CRI-O "failed to find runtime handler nvidia from runtime list map[…]".
var runtimeHandler = regexp.MustCompile(`no runtime for \\?"([^"\\]+)\\?" is configured|failed to find runtime handler (\S+) from runtime list`)

func matchRuntimeHandlerMissing(w *walk) []hit {
	var evs []event
	handler, runtime := "", ""
	for _, e := range w.sandboxEvents() {
		if m := runtimeHandler.FindStringSubmatch(e.Message); m != nil {
			evs = append(evs, e)
			handler, runtime = m[1], "containerd: no runtime configured under that name"
			if m[2] != "" {
				handler, runtime = m[2], "CRI-O: not in its runtime list"
			}
		}
	}
	if len(evs) == 0 {
		return nil
	}
	rc := ""
	if w.pod.Spec.RuntimeClassName != nil {
		rc = *w.pod.Spec.RuntimeClassName
	}
	h := hit{Evidence: w.formatEvents(evs), Vars: map[string]string{
		"Handler": quote(handler), "HandlerName": handler, "Runtime": runtime,
		"RuntimeClass": quote(rc), "RuntimeClassName": rc,
	}}
	if rc == "" {
		// No RuntimeClass: the runtime's own default handler is missing.
		h.Vars["RuntimeClass"] = "(none: the runtime's default handler)"
		h.Evidence = append(h.Evidence, "pod spec: no runtimeClassName; the node runtime's default handler is "+quote(handler))
	} else {
		h.Evidence = append(h.Evidence, "pod spec: runtimeClassName "+rc)
	}
	if n := w.f.Node.Object; n != nil {
		h.Evidence = append(h.Evidence, "node "+n.Name+": container runtime "+n.Status.NodeInfo.ContainerRuntimeVersion)
	}
	return []hit{h}
}
