package diag

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// ConfigMaps, Secrets and volumes are resolved by the kubelet before a
// container is created: a missing one keeps the pod in ContainerCreating
// (volumes, FailedMount events) or CreateContainerConfigError (env).
var configRules = []*rule{
	{
		ID: "config.configmap-missing", Severity: Error, Step: StepDescribe, Rank: rankConfig,
		Match:   objectMissingMatcher("configmap"),
		Summary: "ConfigMap {{.Object}} referenced by {{.Refs}} does not exist in namespace {{.Namespace}}",
		Explanation: "The kubelet resolves every ConfigMap the pod uses before starting the container. " +
			"As long as {{.Object}} is missing, the container cannot be created. {{.LookupNote}}",
		NextSteps: []string{
			"Create ConfigMap {{.Object}} in namespace {{.Namespace}}, or fix the name in the pod template (a typo is the classic); mark the reference optional: true only if the app copes without it.",
		},
		Commands: []string{
			"kubectl get configmap -n {{.Namespace}} {{.Object}}",
			"kubectl get configmaps -n {{.Namespace}}",
		},
	},
	{
		ID: "config.secret-missing", Severity: Error, Step: StepDescribe, Rank: rankConfig,
		Match:   objectMissingMatcher("secret"),
		Summary: "Secret {{.Object}} referenced by {{.Refs}} does not exist in namespace {{.Namespace}}",
		Explanation: "The kubelet resolves every Secret the pod uses before starting the container. " +
			"As long as {{.Object}} is missing, the container cannot be created. {{.LookupNote}}",
		NextSteps: []string{
			"Create Secret {{.Object}} in namespace {{.Namespace}} (often done by a sealed-secrets or external-secrets controller: check it), or fix the name in the pod template.",
		},
		Commands: []string{
			"kubectl get secret -n {{.Namespace}} {{.Object}}",
			"kubectl get secrets -n {{.Namespace}}",
		},
	},
	{
		ID: "config.key-missing", Severity: Error, Step: StepDescribe, Rank: rankConfig,
		Match:   matchKeyMissing,
		Summary: "Key {{.Key}} is missing from {{.ObjKind}} {{.Object}}, referenced by {{.Refs}}",
		Explanation: "The {{.ObjKind}} exists but has no key {{.Key}}, and the reference is not optional, so " +
			"the kubelet cannot build the container's environment or files. {{.KeysNote}}",
		NextSteps: []string{
			"Add key {{.Key}} to {{.ObjKind}} {{.Object}}, or fix the key name in the pod template.",
		},
		Commands: []string{"kubectl describe {{.ObjKindLower}} -n {{.Namespace}} {{.Object}}"},
	},
	{
		ID: "volume.mount-failed", Severity: Error, Step: StepEvents, Rank: rankConfig,
		Match:   matchMountFailed,
		Summary: "Volume {{.Volume}} of pod {{.Pod}} cannot be attached or mounted{{.Why}}",
		Explanation: "Before the containers start, the kubelet waits for every volume to be attached to node " +
			"{{.Node}} and mounted. Persistent volumes go through the storage driver (CSI or cloud provider): " +
			"a disk still attached to another node (Multi-Attach), a failing driver, or a slow cloud API keeps " +
			"the pod in ContainerCreating until the mount times out and is retried.",
		NextSteps: []string{
			"Read the storage driver's error in the events; check the CSI driver's pods on node {{.Node}} and the VolumeAttachment objects.",
		},
		Commands: []string{
			"{{if .Claim}}kubectl describe pvc -n {{.Namespace}} {{.Claim}}{{end}}",
			"kubectl get volumeattachments",
			"kubectl describe pod -n {{.Namespace}} {{.Pod}}",
		},
	},
	{
		ID: "volume.invalid-mount", Severity: Error, Step: StepDescribe, Rank: rankConfig,
		Match:   startMatcher(startMount),
		Summary: "{{.KindTitle}} {{.Container}} cannot start: the runtime rejected one of its mounts",
		Explanation: "The container runtime refused a volume mount while creating the container: a mount onto " +
			"/proc or another reserved path, a read-only volume mounted read-write, a subPath that does not " +
			"exist, or a file mounted onto a directory (or the reverse). The runtime's message: {{.Message}}",
		NextSteps: []string{
			"Compare the container's volumeMounts (mountPath, subPath, readOnly) with the message; move the mount to an ordinary directory such as /etc/app.",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.{{.Field}}[?(@.name==\"{{.Container}}\")].volumeMounts}'",
		},
	},
	{
		ID: "sandbox.cni-failed", Severity: Error, Step: StepEvents, Rank: rankConfig,
		Match:   sandboxMatcher(sandboxNetwork),
		Summary: "Pod {{.Pod}} gets no network on node {{.Node}}: the CNI plugin{{.Plugin}} failed to set up its sandbox",
		Explanation: "Every pod first gets a sandbox whose network the CNI plugin sets up. When the plugin " +
			"fails (its IP pool is exhausted, its agent on the node is down, or it cannot reach its datastore) " +
			"the pod stays in ContainerCreating and the kubelet retries.",
		NextSteps: []string{
			"Check the CNI agent pod (calico-node, cilium, flannel, aws-node…) on node {{.Node}}: is it running and ready, what do its logs say?",
			"For \"no IP addresses available\", look at the IP pool's size and leaked allocations on that node.",
		},
		Commands: []string{
			"kubectl get pods -n kube-system -o wide --field-selector spec.nodeName={{.Node}}",
			"kubectl describe node {{.Node}}",
		},
	},
	{
		ID: "sandbox.disk", Severity: Error, Step: StepEvents, Rank: rankConfig,
		Match:   sandboxMatcher(sandboxDisk),
		Summary: "Pod {{.Pod}} cannot get a sandbox on node {{.Node}}: {{.Problem}}",
		Explanation: "The container runtime could not create the pod's sandbox because the node's container " +
			"storage (/var/lib/containerd or /var/lib/docker) is full or failing. Every new pod on that node " +
			"will fail the same way.",
		NextSteps: []string{
			"Free space on node {{.Node}} (unused images: crictl rmi --prune) and check the disk's health (dmesg for I/O errors); cordon the node meanwhile.",
		},
		Commands: []string{"kubectl describe node {{.Node}}", "kubectl cordon {{.Node}}"},
	},
}

var (
	objectNotFound = regexp.MustCompile(`(?i)\b(configmaps?|secrets?) [\\/]?"([^"\\/]+)[\\/]?"? not found`)
	keyNotFound    = regexp.MustCompile(`couldn't find key (\S+) in (ConfigMap|Secret) ([^/\s]+)/([^\s"]+)`)
	volumeKey      = regexp.MustCompile(`(configmap|secret) references non-existent (?:config|secret) key: (\S+)`)
	volumeName     = regexp.MustCompile(`volume "([^"]+)"`)
	volumeLists    = regexp.MustCompile(`unmounted volumes=\[([^\]]*)\]`)
	usedByPods     = regexp.MustCompile(`already used by pod\(s\) ([^\s,]+)`)
)

// configMessages returns the recent messages that may name a missing
// ConfigMap, Secret or key: containers' waiting messages and the pod's
// FailedMount and Failed events.
func (w *walk) configMessages() []configMessage {
	var out []configMessage
	for _, c := range w.cs {
		if wt := c.waiting(); wt != nil && wt.Message != "" &&
			oneOf(wt.Reason, "CreateContainerConfigError", "RunContainerError", "CreateContainerError") {
			out = append(out, configMessage{container: c.Name, text: wt.Message, evidence: w.formatState(c)})
		}
	}
	if !w.podStarted() || len(out) > 0 {
		for _, e := range w.podEvents("FailedMount", "Failed", "FailedSync") {
			out = append(out, configMessage{container: e.Container, text: e.Message, evidence: w.formatEvent(e)})
		}
	}
	return out
}

type configMessage struct{ container, text, evidence string }

// objectMissingMatcher matches a missing ConfigMap ("configmap") or Secret
// ("secret"): from the kubelet's messages, or, when those are gone, from
// the lookup itself while the pod has not started.
func objectMissingMatcher(kind string) func(*walk) []hit {
	return func(w *walk) []hit {
		if w.pod == nil {
			return nil
		}
		byName := map[string]*hit{}
		var order []string
		add := func(name, evidence string) {
			h, ok := byName[name]
			if !ok {
				h = &hit{Vars: map[string]string{"Object": name}}
				byName[name] = h
				order = append(order, name)
			}
			if evidence != "" && !contains(h.Evidence, evidence) {
				h.Evidence = append(h.Evidence, evidence)
			}
		}
		for _, m := range w.configMessages() {
			for _, sm := range objectNotFound.FindAllStringSubmatch(m.text, -1) {
				if strings.HasPrefix(strings.ToLower(sm[1]), kind) {
					add(sm[2], m.evidence)
				}
			}
		}
		if !w.podStarted() {
			for _, ref := range w.specRefs(kind) {
				if !ref.optional && w.lookup(kind, ref.name) == NotFound {
					add(ref.name, "")
				}
			}
		}
		var hits []hit
		for _, name := range order {
			h := byName[name]
			refs := w.specRefs(kind)
			var fields []string
			for _, r := range refs {
				if r.name == name {
					fields = append(fields, r.field)
					if h.Container == "" && r.container != "" {
						h.Container = r.container
					}
				}
			}
			if len(fields) == 0 {
				fields = []string{"the pod"}
			}
			h.Vars["Refs"] = strings.Join(fields, ", ")
			switch w.lookup(kind, name) {
			case NotFound:
				h.Vars["LookupNote"] = "kdoctor checked: it does not exist in namespace " + w.vars["Namespace"] + "."
				h.Evidence = append(h.Evidence, kind+" "+name+": not found in namespace "+w.vars["Namespace"])
			case Found:
				h.Vars["LookupNote"] = "It exists now: the kubelet retries on its own, so the pod should start shortly."
				h.Evidence = append(h.Evidence, kind+" "+name+": exists now (created after the failure)")
			default:
				h.Vars["LookupNote"] = "kdoctor could not check whether it exists (" + orUnknown(w.lookupReason(kind, name)) + ")."
			}
			hits = append(hits, *h)
		}
		return hits
	}
}

// specRef is one place in the pod spec that names a ConfigMap or Secret.
type specRef struct {
	name, field, container string
	optional               bool
}

func isOptional(b *bool) bool { return b != nil && *b }

// specRefs lists the places the pod spec names objects of kind
// ("configmap" or "secret"); image pull secrets are not among them.
func (w *walk) specRefs(kind string) []specRef {
	var out []specRef
	spec := &w.pod.Spec
	for _, v := range spec.Volumes {
		field := "volume " + v.Name
		switch {
		case kind == "configmap" && v.ConfigMap != nil:
			out = append(out, specRef{v.ConfigMap.Name, field, "", isOptional(v.ConfigMap.Optional)})
		case kind == "secret" && v.Secret != nil:
			out = append(out, specRef{v.Secret.SecretName, field, "", isOptional(v.Secret.Optional)})
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if kind == "configmap" && s.ConfigMap != nil && s.ConfigMap.Name != rootCAConfigMap {
					out = append(out, specRef{s.ConfigMap.Name, field, "", isOptional(s.ConfigMap.Optional)})
				}
				if kind == "secret" && s.Secret != nil {
					out = append(out, specRef{s.Secret.Name, field, "", isOptional(s.Secret.Optional)})
				}
			}
		}
	}
	for _, c := range w.cs {
		for _, e := range c.Spec.EnvFrom {
			if kind == "configmap" && e.ConfigMapRef != nil {
				out = append(out, specRef{e.ConfigMapRef.Name, "envFrom of " + c.kind(), c.Name, isOptional(e.ConfigMapRef.Optional)})
			}
			if kind == "secret" && e.SecretRef != nil {
				out = append(out, specRef{e.SecretRef.Name, "envFrom of " + c.kind(), c.Name, isOptional(e.SecretRef.Optional)})
			}
		}
		for _, e := range c.Spec.Env {
			if e.ValueFrom == nil {
				continue
			}
			if k := e.ValueFrom.ConfigMapKeyRef; kind == "configmap" && k != nil {
				out = append(out, specRef{k.Name, "env " + e.Name + " of " + c.kind(), c.Name, isOptional(k.Optional)})
			}
			if k := e.ValueFrom.SecretKeyRef; kind == "secret" && k != nil {
				out = append(out, specRef{k.Name, "env " + e.Name + " of " + c.kind(), c.Name, isOptional(k.Optional)})
			}
		}
	}
	return out
}

func (w *walk) lookup(kind, name string) LookupState {
	if kind == "configmap" {
		r, _ := findRef(w.f.ConfigMaps, name)
		return r.State
	}
	r, _ := findRef(w.f.Secrets, name)
	return r.State
}

func (w *walk) lookupReason(kind, name string) string {
	if kind == "configmap" {
		r, _ := findRef(w.f.ConfigMaps, name)
		return r.Reason
	}
	r, _ := findRef(w.f.Secrets, name)
	return r.Reason
}

// dataKeys lists the keys an object holds (names only, never values).
func (w *walk) dataKeys(kind, name string) ([]string, bool) {
	var keys []string
	if kind == "configmap" {
		r, _ := findRef(w.f.ConfigMaps, name)
		if r.Object == nil {
			return nil, false
		}
		for k := range r.Object.Data {
			keys = append(keys, k)
		}
		for k := range r.Object.BinaryData {
			keys = append(keys, k)
		}
	} else {
		r, _ := findRef(w.f.Secrets, name)
		if r.Object == nil {
			return nil, false
		}
		for k := range r.Object.Data {
			keys = append(keys, k)
		}
		for k := range r.Object.StringData {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, true
}

func matchKeyMissing(w *walk) []hit {
	if w.pod == nil {
		return nil
	}
	seen := map[string]bool{}
	var hits []hit
	for _, m := range w.configMessages() {
		var key, kind, name string
		if sm := keyNotFound.FindStringSubmatch(m.text); sm != nil {
			key, kind, name = sm[1], strings.ToLower(sm[2]), sm[4]
		} else if sm := volumeKey.FindStringSubmatch(m.text); sm != nil {
			key, kind = sm[2], sm[1]
			if v := volumeName.FindStringSubmatch(m.text); v != nil {
				name = w.volumeSource(v[1], kind)
			}
		} else {
			continue
		}
		if seen[kind+"/"+name+"/"+key] {
			continue
		}
		seen[kind+"/"+name+"/"+key] = true
		objKind := "ConfigMap"
		if kind == "secret" {
			objKind = "Secret"
		}
		h := hit{Container: m.container, Evidence: []string{m.evidence}, Vars: map[string]string{
			"Key": key, "ObjKind": objKind, "ObjKindLower": kind, "Object": name, "Refs": "the pod", "KeysNote": "",
		}}
		var fields []string
		for _, r := range w.specRefs(kind) {
			if r.name == name {
				fields = append(fields, r.field)
			}
		}
		if len(fields) > 0 {
			h.Vars["Refs"] = strings.Join(fields, ", ")
		}
		if keys, ok := w.dataKeys(kind, name); ok {
			h.Vars["KeysNote"] = fmt.Sprintf("It holds the keys: %s.", strings.Join(keys, ", "))
			if len(keys) == 0 {
				h.Vars["KeysNote"] = "It holds no keys at all."
			}
			h.Evidence = append(h.Evidence, fmt.Sprintf("%s %s: keys [%s]", kind, name, strings.Join(keys, ", ")))
			if contains(keys, key) {
				h.Vars["KeysNote"] = "It has the key now: the kubelet retries, so the pod should start shortly."
			} else if near := nearKey(keys, key); near != "" {
				h.Vars["KeysNote"] += " Did you mean " + near + "?"
				h.Next = append(h.Next, "The "+objKind+" has "+near+", which differs from "+key+" only in case or separators: use the same spelling on both sides.")
			}
		}
		hits = append(hits, h)
	}
	return hits
}

// volumeSource returns the ConfigMap or Secret name behind a pod volume.
func (w *walk) volumeSource(volume, kind string) string {
	for _, v := range w.pod.Spec.Volumes {
		if v.Name != volume {
			continue
		}
		if kind == "configmap" && v.ConfigMap != nil {
			return v.ConfigMap.Name
		}
		if kind == "secret" && v.Secret != nil {
			return v.Secret.SecretName
		}
	}
	return volume
}

// mountProblemEvents are the recent FailedMount/FailedAttachVolume events
// that are not about a missing ConfigMap/Secret (those have their rules),
// while the pod still waits for its volumes.
func (w *walk) mountProblemEvents() []event {
	if !w.inCreation() {
		return nil
	}
	var out []event
	for _, e := range w.causeEvents("FailedMount", "FailedAttachVolume", "FailedMapVolume") {
		if objectNotFound.MatchString(e.Message) || keyNotFound.MatchString(e.Message) || volumeKey.MatchString(e.Message) {
			continue
		}
		out = append(out, e)
	}
	return out
}

func matchMountFailed(w *walk) []hit {
	evs := w.mountProblemEvents()
	if len(evs) == 0 || volumeClassOf(evs) != volumeOther {
		return nil // volume.attach-failed or volume.mount-timeout explains them
	}
	h := hit{Evidence: w.formatEvents(evs), Vars: map[string]string{"Volume": "", "Claim": "", "Why": ""}}
	last := evs[len(evs)-1]
	if note := w.olderCauseNote(last); note != "" {
		h.Evidence = append(h.Evidence, note)
	}
	// The pod's own volume name ("unmounted volumes=[data]") reads better
	// than the PersistentVolume's generated one.
	for _, e := range evs {
		if m := volumeLists.FindStringSubmatch(e.Message); m != nil && strings.TrimSpace(m[1]) != "" {
			h.Vars["Volume"] = strings.Fields(m[1])[0]
		}
	}
	for _, e := range evs {
		if m := volumeName.FindStringSubmatch(e.Message); m != nil && h.Vars["Volume"] == "" {
			h.Vars["Volume"] = m[1]
		}
		if strings.Contains(e.Message, "Multi-Attach error") {
			h.Vars["Why"] = ": it is still attached to another node (Multi-Attach)"
			if m := usedByPods.FindStringSubmatch(e.Message); m != nil {
				h.Vars["Why"] = ": it is still attached to another node, used by pod " + m[1] + " (Multi-Attach)"
			}
			h.Next = append(h.Next, "The volume is ReadWriteOnce and still attached to the node of the pod that used it before: wait for the old pod to finish terminating; if that node is down, the attachment is released after about 6 minutes or when the VolumeAttachment is removed.")
		}
	}
	if h.Vars["Why"] == "" && containsAny(last.Message, "timed out waiting for the condition", "context deadline exceeded") {
		h.Vars["Why"] = ": timed out waiting for the attach/mount"
	}
	if h.Vars["Volume"] == "" {
		h.Vars["Volume"] = "(unnamed)"
	}
	// Name the claim behind the volume, with what the lookup says of it.
	for _, v := range w.pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && (v.Name == h.Vars["Volume"] || h.Vars["Claim"] == "") {
			h.Vars["Claim"] = v.PersistentVolumeClaim.ClaimName
		}
	}
	if c := h.Vars["Claim"]; c != "" {
		if r, _ := findRef(w.f.PVCs, c); r.Object != nil {
			h.Evidence = append(h.Evidence, fmt.Sprintf("persistentvolumeclaim %s: phase %s, volume %s, access modes %v", c, r.Object.Status.Phase, r.Object.Spec.VolumeName, r.Object.Spec.AccessModes))
		}
	}
	return []hit{h}
}

type sandboxClass int

const (
	sandboxOther sandboxClass = iota
	sandboxNetwork
	sandboxDisk
)

func classifySandbox(msg string) sandboxClass {
	switch {
	case containsAny(msg, "no space left on device", "input/output error", "read-only file system", "disk quota exceeded"):
		return sandboxDisk
	case containsAny(msg, "network", "cni", "IP address", "failed to allocate", "calico", "flannel", "cilium", "weave", "IPAM", "veth"):
		return sandboxNetwork
	}
	return sandboxOther
}

var cniPlugin = regexp.MustCompile(`plugin type="([^"]+)"`)

// sandboxEvents are the FailedCreatePodSandBox events that explain a pod
// in its creation phase: it never started, or it lost its sandbox and is
// creating it again (see causeEvents for how far back they may lie).
func (w *walk) sandboxEvents() []event {
	if !w.inCreation() {
		return nil
	}
	return w.causeEvents("FailedCreatePodSandBox")
}

func sandboxMatcher(class sandboxClass) func(*walk) []hit {
	return func(w *walk) []hit {
		var evs []event
		for _, e := range w.sandboxEvents() {
			if classifySandbox(e.Message) == class {
				evs = append(evs, e)
			}
		}
		last, ok := newest(evs)
		if !ok {
			return nil
		}
		h := hit{Evidence: w.formatEvents(evs), Vars: map[string]string{"Plugin": "", "Problem": ""}}
		if note := w.olderCauseNote(last); note != "" {
			h.Evidence = append(h.Evidence, note)
		}
		if m := cniPlugin.FindStringSubmatch(last.Message); m != nil {
			h.Vars["Plugin"] = " (" + m[1] + ")"
		}
		switch {
		case containsAny(last.Message, "no space left on device"):
			h.Vars["Problem"] = "no space left on device"
		case containsAny(last.Message, "input/output error"):
			h.Vars["Problem"] = "input/output error on the node's disk"
		default:
			h.Vars["Problem"] = "its storage is failing"
		}
		return []hit{h}
	}
}

// volumeMountsLine describes a container's mounts for evidence.
func volumeMountsLine(c *container) string {
	var parts []string
	for _, m := range c.Spec.VolumeMounts {
		s := m.Name + " at " + m.MountPath
		if m.SubPath != "" {
			s += " (subPath " + m.SubPath + ")"
		}
		if m.ReadOnly {
			s += " read-only"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return c.kind() + ": no volumeMounts"
	}
	return c.kind() + " volumeMounts: " + strings.Join(parts, ", ")
}

// nearKey returns a key that equals want but for case, '-', '_' and '.'.
func nearKey(keys []string, want string) string {
	norm := strings.NewReplacer("-", "", "_", "", ".", "")
	w := strings.ToLower(norm.Replace(want))
	for _, k := range keys {
		if strings.ToLower(norm.Replace(k)) == w {
			return k
		}
	}
	return ""
}
