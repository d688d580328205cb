package diag

import (
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// logScanLines is how far back the logs step reads: the cause of a crash is
// in the last lines, and a long tail mostly adds stale noise.
const logScanLines = 50

// The log rules read what a failing container wrote last and name the
// endings that are well known. They refine a crash or readiness finding of
// the same container and rank right after it, never instead of it.
var logRules = []*rule{
	{
		ID: "app.rbac-forbidden", Severity: Error, Step: StepLogs, Rank: rankCrash,
		Match:   logMatcher(func(l string) bool { return strings.Contains(l, "forbidden") && rbacForbidden.MatchString(l) }, rbacVars),
		Summary: "Container {{.Container}} is refused by the API server: ServiceAccount {{.SA}} cannot {{.Verb}} {{.Resource}}{{.Scope}}",
		Explanation: "The app calls the Kubernetes API as ServiceAccount {{.SANamespace}}/{{.SA}}, and RBAC does " +
			"not allow that account to {{.Verb}} {{.Resource}}. Apps that watch or list objects need a Role (or " +
			"ClusterRole) granting it, bound to their ServiceAccount.",
		NextSteps: []string{
			"Grant it: kubectl create {{.RoleKind}} {{.SA}}-{{.Verb}}-{{.ResourceShort}} --verb={{.Verb}} --resource={{.Resource}}{{.NSFlag}} && kubectl create {{.RoleKind}}binding {{.SA}}-{{.Verb}}-{{.ResourceShort}} --{{.RoleKind}}={{.SA}}-{{.Verb}}-{{.ResourceShort}} --serviceaccount={{.SANamespace}}:{{.SA}}{{.NSFlag}}",
			"Or check the pod runs as the ServiceAccount you meant (spec.serviceAccountName).",
		},
		Commands: []string{
			"kubectl auth can-i {{.Verb}} {{.Resource}} --as=system:serviceaccount:{{.SANamespace}}:{{.SA}}{{.NSFlag}}",
			"kubectl get rolebindings,clusterrolebindings -A -o wide | grep {{.SA}}",
		},
	},
	{
		ID: "app.java-oom", Severity: Error, Step: StepLogs, Rank: rankCrash,
		Match:   logMatcher(func(l string) bool { return strings.Contains(l, "java.lang.OutOfMemoryError") }, javaOOMVars),
		Summary: "Container {{.Container}} ran out of Java heap: java.lang.OutOfMemoryError{{.What}}",
		Explanation: "The JVM could not allocate memory within its own limits. A heap (-Xmx or " +
			"MaxRAMPercentage) sized close to or above the container's memory limit ({{.Limit}}) ends in " +
			"OOMKilled; a heap sized well below it ends in this error. Either the heap is too small for the " +
			"load or the app leaks. {{.Heap}}",
		NextSteps: []string{
			"Size the heap from the container limit (-XX:MaxRAMPercentage=75) and give the container a limit that fits heap plus metaspace, threads and buffers.",
			"If usage keeps growing, take a heap dump (-XX:+HeapDumpOnOutOfMemoryError) and look for the leak.",
		},
		Commands: []string{"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}}{{.PreviousFlag}} | grep -B5 OutOfMemoryError"},
	},
	{
		ID: "app.disk-full", Severity: Error, Step: StepLogs, Rank: rankCrash,
		Match:   logMatcher(func(l string) bool { return containsAny(l, diskFullWords...) }, diskFullVars),
		Summary: "Container {{.Container}} fails because a disk is full: no space left on device{{.Path}}",
		Explanation: "A write failed with ENOSPC. If the path is on a PersistentVolume, the volume is full; " +
			"otherwise the node's container storage (the writable layer, emptyDir, logs) is full, which soon " +
			"brings DiskPressure and evictions to the whole node.",
		NextSteps: []string{
			"Check which filesystem is full from inside the container (df -h) while it runs.",
			"For a PersistentVolume: expand the PVC (if its StorageClass allows) or clean old data; for the node: free space and set ephemeral-storage limits.",
		},
		Commands: []string{
			"kubectl exec -n {{.Namespace}} {{.Pod}} -c {{.Container}} -- df -h",
			"kubectl get pvc -n {{.Namespace}}",
			"{{if .Node}}kubectl describe node {{.Node}}{{end}}",
		},
	},
	{
		ID: "app.port-in-use", Severity: Error, Step: StepLogs, Rank: rankCrash,
		Match:   logMatcher(func(l string) bool { return containsAny(l, portInUseWords...) }, portVars),
		Summary: "Container {{.Container}} cannot listen: address already in use{{.Port}}",
		Explanation: "Another process already holds the port. Containers of one pod share a network namespace, " +
			"so two containers (a sidecar, or the app started twice) cannot bind the same port; with " +
			"hostNetwork the pod also competes with every process on the node.",
		NextSteps: []string{
			"Give each container of the pod its own port; with hostNetwork, check what listens on the node (ss -ltnp).",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.hostNetwork}{\" \"}{.spec.containers[*].ports}'",
		},
	},
	{
		ID: "app.dependency-unreachable", Severity: Error, Step: StepLogs, Rank: rankCrash,
		Match:   logMatcher(func(l string) bool { return containsAny(l, dependencyWords...) }, dependencyVars),
		Summary: "Container {{.Container}} cannot reach {{.Dependency}}: {{.Failure}}",
		Explanation: "The app gave up because something it needs did not answer: the dependency is down, its " +
			"Service has no ready endpoints, the host name does not resolve, or the app is configured with the " +
			"wrong address. Apps that exit when a dependency is missing crash-loop until it is back.",
		NextSteps: []string{
			"Check the address the app uses (env, ConfigMap) and that the dependency's Service exists and has endpoints.",
			"Test from a pod in the same namespace: kubectl run -n {{.Namespace}} -it --rm nettest --image=busybox:1.36 --restart=Never -- nslookup {{.Host}}",
		},
		Commands: []string{
			"kubectl get services,endpoints -n {{.Namespace}}",
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}}{{.PreviousFlag}}",
		},
	},
}

var (
	rbacForbidden = regexp.MustCompile(`User \\?"system:serviceaccount:([^:"\\]+):([^"\\]+)\\?" cannot ([a-z]+) resource \\?"([^"\\]+)\\?"(?: in API group \\?"([^"\\]*)\\?")?(?: (in the namespace \\?"[^"\\]+\\?"|at the cluster scope))?`)
	javaOOM       = regexp.MustCompile(`java\.lang\.OutOfMemoryError(?:: ([^\n]+))?`)
	diskPath      = regexp.MustCompile(`(?:write|open|mkdir|create|rename|copy)\s+(/\S+?):? .*no space left`)
	portNumber    = regexp.MustCompile(`:(\d{2,5})\b`)
)

// The endings are matched as plain words, ignoring case: log lines can be
// long (stack traces, JSON) and a case-insensitive regexp alternation costs
// far more than these substring checks.
var (
	diskFullWords   = []string{"no space left on device", "ENOSPC"}
	portInUseWords  = []string{"address already in use", "EADDRINUSE"}
	dependencyWords = []string{"connection refused", "no such host", "i/o timeout", "could not connect to", "ECONNREFUSED",
		"ENOTFOUND", "Name or service not known", "Temporary failure in name resolution", "could not translate host name",
		"Connection timed out", "No route to host", "EHOSTUNREACH", "Unknown host", "UnknownHostException",
		"Communications link failure"}
)

// dependencyTargets find the address a failed connection was for, most
// specific first: Go's dial errors, PostgreSQL's and Node's wording, then
// any host:port on the line.
var dependencyTargets = []*regexp.Regexp{
	regexp.MustCompile(`dial tcp:? lookup ([A-Za-z0-9._-]+)`),
	regexp.MustCompile(`dial tcp ([A-Za-z0-9._-]+:\d+)`),
	regexp.MustCompile(`connect(?:ion)? to server at \\?"?([A-Za-z0-9._-]+)\\?"? \([0-9a-f.:]+\), port (\d+)`),
	regexp.MustCompile(`(?:ENOTFOUND|ECONNREFUSED|UnknownHostException:?) ([A-Za-z0-9._-]+(?::\d+)?)`),
	regexp.MustCompile(`could not translate host name \\?"([^"\\]+)`),
	regexp.MustCompile(`host \\?"([^"\\]+)\\?"`),
	regexp.MustCompile(`([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+:\d{2,5})\b`),
}

// unwell reports whether container c is failing in a way its logs may
// explain; a healthy container's old log lines are not evidence.
func (w *walk) unwell(c *container) bool {
	if c.Status == nil {
		return false
	}
	if c.Init {
		t, current := c.lastTermination()
		return (t != nil && t.ExitCode != 0 && (current || c.waitingReason() == "CrashLoopBackOff")) ||
			(c.Status.State.Running != nil && !w.podInitialized())
	}
	if w.crashOf(c) != nil || w.probeKill(c) != "" {
		return true
	}
	return c.Status.State.Running != nil && !c.Status.Ready && w.pod.Status.Phase == corev1.PodRunning
}

// failedLog returns the log of c's failing instance: the previous one when
// the container restarted since it failed, else the current one.
func (w *walk) failedLog(c *container) *ContainerLog {
	t, current := c.lastTermination()
	previous := t != nil && !current
	if l := w.f.Log(c.Name, previous); l != nil && l.State == Found {
		return l
	}
	return nil
}

// logMatcher returns the matcher for one well-known log ending: the last
// matching lines of each unwell container, with variables from vars.
func logMatcher(match func(line string) bool, vars func(w *walk, c *container, line string) map[string]string) func(*walk) []hit {
	return func(w *walk) []hit {
		var hits []hit
		for _, c := range w.cs {
			if !w.unwell(c) {
				continue
			}
			l := w.failedLog(c)
			if l == nil {
				continue
			}
			var matched []string
			for _, line := range lastLines(l.Text, logScanLines) {
				if match(line) && !contains(matched, line) {
					matched = append(matched, line)
				}
			}
			if len(matched) == 0 {
				continue
			}
			label := "logs (" + c.Name + "): "
			if l.Previous {
				label = "logs --previous (" + c.Name + "): "
			}
			matched = matched[max(len(matched)-3, 0):]
			h := hit{Container: c.Name, Refines: c.Name}
			for _, m := range matched {
				h.Evidence = append(h.Evidence, label+m)
			}
			h.Vars = vars(w, c, matched[len(matched)-1])
			h.Vars["PreviousFlag"] = ""
			if l.Previous {
				h.Vars["PreviousFlag"] = " --previous"
			}
			hits = append(hits, h)
		}
		return hits
	}
}

func rbacVars(w *walk, c *container, line string) map[string]string {
	m := rbacForbidden.FindStringSubmatch(line)
	resource := m[4]
	if m[5] != "" {
		resource += "." + m[5]
	}
	v := map[string]string{
		"SANamespace": m[1], "SA": m[2], "Verb": m[3], "Resource": resource,
		"ResourceShort": strings.ReplaceAll(m[4], "/", "-"), "RoleKind": "role",
		"NSFlag": " -n " + m[1], "Scope": "",
	}
	switch {
	case strings.HasPrefix(m[6], "at the cluster scope"):
		v["RoleKind"], v["NSFlag"], v["Scope"] = "clusterrole", "", " at the cluster scope"
	case strings.HasPrefix(m[6], "in the namespace"):
		ns := strings.Trim(strings.TrimPrefix(m[6], "in the namespace "), `\"`)
		v["NSFlag"], v["Scope"] = " -n "+ns, " in namespace "+ns
	}
	return v
}

func javaOOMVars(w *walk, c *container, line string) map[string]string {
	v := map[string]string{"What": "", "Limit": "no limit set", "Heap": ""}
	if m := javaOOM.FindStringSubmatch(line); m != nil && m[1] != "" {
		v["What"] = ": " + strings.TrimSpace(m[1])
	}
	if q, ok := c.Spec.Resources.Limits[corev1.ResourceMemory]; ok {
		v["Limit"] = q.String()
	}
	if heap := javaHeap(c.Spec); heap != "" {
		v["Heap"] = "The container sets " + heap + "."
	}
	return v
}

func diskFullVars(w *walk, c *container, line string) map[string]string {
	v := map[string]string{"Path": ""}
	if m := diskPath.FindStringSubmatch(line); m != nil {
		v["Path"] = " (" + m[1] + ")"
	}
	return v
}

func portVars(w *walk, c *container, line string) map[string]string {
	v := map[string]string{"Port": ""}
	if m := portNumber.FindAllStringSubmatch(line, -1); m != nil {
		v["Port"] = " (port " + m[len(m)-1][1] + ")"
	}
	return v
}

func dependencyVars(w *walk, c *container, line string) map[string]string {
	v := map[string]string{"Dependency": "a dependency", "Host": "HOST", "Failure": dependencyFailure(line)}
	for _, re := range dependencyTargets {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		target := m[1]
		if len(m) > 2 && m[2] != "" {
			target += ":" + m[2]
		}
		v["Dependency"] = target
		v["Host"], _, _ = strings.Cut(target, ":")
		break
	}
	return v
}

func dependencyFailure(line string) string {
	switch {
	case containsAny(line, "connection refused", "ECONNREFUSED"):
		return "connection refused (nothing listens there)"
	case containsAny(line, "no such host", "ENOTFOUND", "Name or service not known", "could not translate host name",
		"Temporary failure in name resolution", "Unknown host", "UnknownHostException"):
		return "the host name does not resolve"
	case containsAny(line, "i/o timeout", "timed out"):
		return "the connection timed out"
	case containsAny(line, "No route to host", "EHOSTUNREACH"):
		return "no route to host"
	}
	return "the connection failed"
}
