package diag

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Pods that were never created leave no pod to describe: the controller
// that tried (a Deployment's ReplicaSet, a StatefulSet, a Job) records a
// FailedCreate event with the API server's refusal.
var createRules = []*rule{
	{
		ID: "create.quota-exceeded", Severity: Error, Step: StepEvents, Rank: rankCreate,
		Match: createMatcher(createQuota),
		Summary: "Pods of {{.Target}} are not created: ResourceQuota {{.Quota}} " +
			"{{if .MustSpecify}}requires {{.Detail}} on every container, missing in {{.Lacking}}{{else}}would be exceeded ({{.Detail}}){{end}}",
		Explanation: "{{if .MustSpecify}}A ResourceQuota on cpu or memory in namespace {{.Namespace}} makes every container of a " +
			"pod, init containers and sidecars included, state that request or limit explicitly: the API server's quota " +
			"admission refuses a pod in which any container leaves one out, even when the quota has room. " +
			"{{.Object}} keeps retrying and the workload stays short of replicas." +
			"{{else}}A ResourceQuota caps what all pods of namespace {{.Namespace}} may request together. " +
			"The API server refuses a new pod whose requests would push the total over the hard limit, so " +
			"{{.Object}} keeps retrying and the workload stays short of replicas.{{end}}",
		NextSteps: []string{
			"{{if .MustSpecify}}Set resources.requests and resources.limits for {{.Lacking}} in the pod template (a sidecar injected by a webhook takes its resources from the injector's settings or annotations), or add a LimitRange with default requests and limits to namespace {{.Namespace}} so containers without them get defaults.{{else}}Lower the pod's requests, scale down something else in the namespace, or ask the cluster admin to raise the quota.{{end}}",
		},
		Commands: []string{
			"kubectl describe resourcequota -n {{.Namespace}}{{if .Quota}} {{.Quota}}{{end}}",
			"kubectl describe {{.Object}} -n {{.Namespace}}",
		},
	},
	{
		ID: "create.limitrange", Severity: Error, Step: StepEvents, Rank: rankCreate,
		Match:   createMatcher(createLimitRange),
		Summary: "Pods of {{.Target}} are not created: a LimitRange forbids their resources ({{.Detail}})",
		Explanation: "A LimitRange sets the minimum and maximum requests and limits a container or pod may have " +
			"in namespace {{.Namespace}}. The pod template asks for something outside that range, so the API " +
			"server refuses every pod and {{.Object}} keeps retrying.",
		NextSteps: []string{
			"Change the template's requests/limits to fit the LimitRange, or ask the cluster admin to change the limit (or edit it if it is yours).",
		},
		Commands: []string{
			"kubectl describe limitrange -n {{.Namespace}}",
			"kubectl describe {{.Object}} -n {{.Namespace}}",
		},
	},
	{
		ID: "create.admission-denied", Severity: Error, Step: StepEvents, Rank: rankCreate,
		Match:   createMatcher(createAdmission),
		Summary: "Pods of {{.Target}} are not created: {{.Denier}} refused them",
		Explanation: "Before a pod is stored, admission checks it: Pod Security admission enforces the namespace's " +
			"security level, webhooks and admission policies enforce the cluster's own rules, and validation " +
			"rejects invalid specs. {{.Object}} keeps trying and keeps being refused with the message shown.",
		NextSteps: []string{
			"Change the pod template so it satisfies the rule the message names (often a securityContext field), or have the policy's owner grant an exception.",
		},
		Commands: []string{
			"kubectl describe {{.Object}} -n {{.Namespace}}",
			"{{if .PodSecurity}}kubectl get namespace {{.Namespace}} --show-labels{{end}}",
			"{{if .Webhook}}kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations{{end}}",
		},
	},
	{
		ID: "create.serviceaccount-missing", Severity: Error, Step: StepEvents, Rank: rankCreate,
		Match:   createMatcher(createServiceAccount),
		Summary: "Pods of {{.Target}} are not created: ServiceAccount {{.ServiceAccount}} does not exist",
		Explanation: "Every pod runs as a ServiceAccount and the API server refuses a pod whose ServiceAccount " +
			"is missing from namespace {{.Namespace}}. {{.LookupNote}}",
		NextSteps: []string{
			"Create the ServiceAccount (kubectl create serviceaccount -n {{.Namespace}} {{.ServiceAccount}}) or fix serviceAccountName in the template.",
		},
		Commands: []string{
			"kubectl get serviceaccount -n {{.Namespace}} {{.ServiceAccount}}",
			"kubectl describe {{.Object}} -n {{.Namespace}}",
		},
	},
}

type createClass int

const (
	createUnknown createClass = iota
	createQuota
	createLimitRange
	createAdmission
	createServiceAccount
)

func classifyCreate(msg string) createClass {
	switch {
	case strings.Contains(msg, "exceeded quota"), strings.Contains(msg, "failed quota:"):
		// "failed quota: NAME: must specify ..." is quota admission too
		// (plugin/pkg/admission/resourcequota), though it reads "forbidden".
		return createQuota
	case containsAny(msg, "usage per Pod is", "usage per Container is", "usage per PersistentVolumeClaim",
		"limit to request ratio per", "must be less than or equal to memory limit"):
		return createLimitRange
	case containsAny(msg, "error looking up service account") ||
		(strings.Contains(strings.ToLower(msg), "serviceaccount") && strings.Contains(msg, "not found")):
		return createServiceAccount
	case containsAny(msg, "violates PodSecurity", "admission webhook", "denied the request", "failed calling webhook",
		"pod security policy", "PodSecurityPolicy", "SecurityContext", "ValidatingAdmissionPolicy", "is forbidden", "is invalid"):
		return createAdmission
	}
	return createUnknown
}

var (
	quotaParts = regexp.MustCompile(`exceeded quota: ([^,]+), requested: ([^,]+(?:,[^,:]+=[^,]+)*), used: ([^,]+(?:,[^,:]+=[^,]+)*), limited: (.+)$`)
	// quota admission's Constraints error (pkg/quota/v1/evaluator/core/pods.go):
	// "failed quota: NAME: must specify limits.cpu,requests.memory" or,
	// since Kubernetes 1.29, "must specify limits.cpu for: app,istio-proxy; requests.memory for: app".
	quotaMustSpecify = regexp.MustCompile(`failed quota: ([^:]+): must specify (.+)$`)
	webhookName      = regexp.MustCompile(`admission webhook "([^"]+)"`)
	podSecurity      = regexp.MustCompile(`violates PodSecurity "([^"]+)"`)
	saNotFound       = regexp.MustCompile(`serviceaccounts? "([^"]+)" not found`)
	lrViolations     = regexp.MustCompile(`(?:maximum|minimum) \S+ usage per \w+ is [^,\]]+|\S+ max limit to request ratio per \w+ is [^,\]]+`)
)

// failedCreates returns the FailedCreate events that explain missing pods
// of a workload target: recent ones, or any while pods are still missing.
func (w *walk) failedCreates() []event {
	wl := w.f.Workload
	if wl == nil {
		return nil
	}
	short := workloadShortfall(wl, len(w.f.WorkloadPods)) != ""
	var out []event
	for _, e := range w.evs {
		if e.Reason == "FailedCreate" && !e.OnPod && (w.recent(e.Last) || short) {
			out = append(out, e)
		}
	}
	return out
}

func createMatcher(class createClass) func(*walk) []hit {
	return func(w *walk) []hit {
		evs := w.failedCreates()
		// The newest refusal of this class tells the current story; one hit
		// per object that was refused.
		seen := map[string]bool{}
		var hits []hit
		for i := len(evs) - 1; i >= 0; i-- {
			e := evs[i]
			if classifyCreate(e.Message) != class || seen[e.Object] {
				continue
			}
			seen[e.Object] = true
			h := hit{
				Evidence: []string{w.formatEvent(e)},
				Vars:     map[string]string{"Object": e.Object, "Message": oneLine(e.Message)},
			}
			switch class {
			case createQuota:
				w.quotaDetail(&h, e.Message)
			case createLimitRange:
				w.limitRangeDetail(&h, e.Message)
			case createAdmission:
				admissionDetail(&h, e.Message)
			case createServiceAccount:
				w.serviceAccountDetail(&h, e.Message)
			}
			hits = append(hits, h)
		}
		return hits
	}
}

func (w *walk) quotaDetail(h *hit, msg string) {
	h.Vars["Quota"], h.Vars["Detail"] = "", oneLine(msg)
	h.Vars["MustSpecify"], h.Vars["Lacking"] = "", ""
	if m := quotaMustSpecify.FindStringSubmatch(oneLine(msg)); m != nil {
		w.mustSpecifyDetail(h, m[1], m[2])
	} else if m := quotaParts.FindStringSubmatch(oneLine(msg)); m != nil {
		h.Vars["Quota"] = strings.TrimSpace(m[1])
		h.Vars["Detail"] = fmt.Sprintf("requested %s, used %s, limited %s", m[2], m[3], strings.TrimSpace(m[4]))
	}
	switch w.f.ResourceQuotas.State {
	case Unknown:
		h.Evidence = append(h.Evidence, "resourcequotas: not available ("+orUnknown(w.f.ResourceQuotas.Reason)+")")
	case Found:
		for _, q := range w.f.ResourceQuotas.Items {
			if h.Vars["Quota"] != "" && q.Name != h.Vars["Quota"] {
				continue
			}
			names := make([]string, 0, len(q.Status.Hard))
			for n := range q.Status.Hard {
				names = append(names, string(n))
			}
			sort.Strings(names)
			for _, n := range names {
				hard := q.Status.Hard[corev1.ResourceName(n)]
				used := q.Status.Used[corev1.ResourceName(n)]
				h.Evidence = append(h.Evidence, fmt.Sprintf("resourcequota %s: %s used %s of hard %s", q.Name, n, used.String(), hard.String()))
			}
		}
	}
}

func (w *walk) limitRangeDetail(h *hit, msg string) {
	h.Vars["Detail"] = strings.Join(lrViolations.FindAllString(msg, -1), "; ")
	if h.Vars["Detail"] == "" {
		h.Vars["Detail"] = oneLine(msg)
	}
	switch w.f.LimitRanges.State {
	case Unknown:
		h.Evidence = append(h.Evidence, "limitranges: not available ("+orUnknown(w.f.LimitRanges.Reason)+")")
	case Found:
		for _, lr := range w.f.LimitRanges.Items {
			for _, item := range lr.Spec.Limits {
				for _, part := range []struct {
					label string
					rl    corev1.ResourceList
				}{{"max", item.Max}, {"min", item.Min}, {"default limit", item.Default}, {"default request", item.DefaultRequest}, {"max limit/request ratio", item.MaxLimitRequestRatio}} {
					if len(part.rl) > 0 {
						h.Evidence = append(h.Evidence, fmt.Sprintf("limitrange %s: %s %s %s", lr.Name, item.Type, part.label, formatResources(part.rl)))
					}
				}
			}
		}
	}
}

func admissionDetail(h *hit, msg string) {
	h.Vars["PodSecurity"], h.Vars["Webhook"] = "", ""
	switch {
	case podSecurity.MatchString(msg):
		level := podSecurity.FindStringSubmatch(msg)[1]
		h.Vars["Denier"] = "Pod Security admission (level " + level + ")"
		h.Vars["PodSecurity"] = level
		h.Next = append(h.Next, "The namespace enforces Pod Security level "+level+
			": set the securityContext fields the message lists (runAsNonRoot, allowPrivilegeEscalation: false, capabilities drop ALL, seccompProfile RuntimeDefault).")
	case webhookName.MatchString(msg):
		name := webhookName.FindStringSubmatch(msg)[1]
		h.Vars["Denier"] = "admission webhook " + name
		h.Vars["Webhook"] = name
		if strings.Contains(msg, "failed calling webhook") {
			h.Next = append(h.Next, "The webhook could not be reached at all: check the webhook's own pods and Service before the pod spec.")
		}
	case strings.Contains(msg, "failed calling webhook"):
		h.Vars["Denier"] = "an unreachable admission webhook"
		h.Vars["Webhook"] = "unreachable"
		h.Next = append(h.Next, "The webhook could not be reached at all: check the webhook's own pods and Service before the pod spec.")
	case containsAny(msg, "ValidatingAdmissionPolicy"):
		h.Vars["Denier"] = "a ValidatingAdmissionPolicy"
	case containsAny(msg, "pod security policy", "PodSecurityPolicy"):
		h.Vars["Denier"] = "PodSecurityPolicy"
	case containsAny(msg, "SecurityContext"):
		h.Vars["Denier"] = "the SecurityContextDeny admission plugin"
	case strings.Contains(msg, "is invalid"):
		h.Vars["Denier"] = "API validation (the pod spec is invalid)"
	default:
		h.Vars["Denier"] = "the API server"
	}
}

func (w *walk) serviceAccountDetail(h *hit, msg string) {
	name := ""
	if m := saNotFound.FindStringSubmatch(msg); m != nil {
		name = m[1]
	} else if t := w.f.Workload.PodTemplate(); t != nil {
		name = t.Spec.ServiceAccountName
	}
	h.Vars["ServiceAccount"] = name
	sa := w.f.ServiceAccount
	switch {
	case sa.Name != name:
		h.Vars["LookupNote"] = ""
	case sa.State == NotFound:
		h.Vars["LookupNote"] = "kdoctor checked: it is still missing."
		h.Evidence = append(h.Evidence, "serviceaccount "+name+": not found")
	case sa.State == Found:
		h.Vars["LookupNote"] = "It exists now, so the next retry should succeed."
		h.Evidence = append(h.Evidence, "serviceaccount "+name+": found (created since the event)")
	default:
		h.Vars["LookupNote"] = "kdoctor could not check whether it exists now (" + orUnknown(sa.Reason) + ")."
	}
}

// mustSpecifyDetail explains quota admission's "must specify": which
// resources the quota makes every container state, and which containers
// of the pod template (init containers and sidecars included) lack them.
func (w *walk) mustSpecifyDetail(h *hit, quota, spec string) {
	h.Vars["Quota"], h.Vars["MustSpecify"] = strings.TrimSpace(quota), "yes"
	spec = strings.TrimSuffix(strings.TrimSpace(spec), ".")
	named := map[string][]string{} // resource → containers the message names
	var resources []string
	for _, part := range strings.Split(spec, "; ") {
		res, containers, hasFor := strings.Cut(part, " for: ")
		for _, r := range strings.Split(res, ",") {
			if r = strings.TrimSpace(r); r != "" {
				resources = append(resources, r)
				if hasFor {
					named[r] = strings.Split(containers, ",")
				}
			}
		}
	}
	h.Vars["Detail"] = strings.Join(resources, ", ")
	var lacking []string
	add := func(c string) {
		if !containsString(lacking, c) {
			lacking = append(lacking, c)
		}
	}
	var tmpl *corev1.PodTemplateSpec
	if w.f.Workload != nil {
		tmpl = w.f.Workload.PodTemplate()
	}
	if tmpl != nil {
		for _, c := range w.templateContainers(&tmpl.Spec) {
			var missing []string
			for _, r := range resources {
				if !declares(c.Spec, r) {
					missing = append(missing, r)
				}
			}
			if len(missing) > 0 {
				add(c.kind())
				h.Evidence = append(h.Evidence, fmt.Sprintf("%s in the pod template sets no %s", c.kind(), strings.Join(missing, ", ")))
			}
		}
	}
	// The message's own list wins for containers the template does not
	// show (a sidecar a webhook injects at admission).
	for _, r := range resources {
		for _, c := range named[r] {
			if c = strings.TrimSpace(c); c != "" && !containsString(lacking, "container "+c) && !containsString(lacking, "init container "+c) {
				add("container " + c)
			}
		}
	}
	if len(lacking) == 0 {
		lacking = append(lacking, "some container")
	}
	h.Vars["Lacking"] = strings.Join(lacking, ", ")
}

// templateContainers lists a pod spec's init and app containers.
func (w *walk) templateContainers(spec *corev1.PodSpec) []*container {
	var out []*container
	for i := range spec.InitContainers {
		out = append(out, &container{Name: spec.InitContainers[i].Name, Init: true, Spec: &spec.InitContainers[i]})
	}
	for i := range spec.Containers {
		out = append(out, &container{Name: spec.Containers[i].Name, Spec: &spec.Containers[i]})
	}
	return out
}

// declares reports whether a container states the quota resource r
// ("requests.cpu", "limits.memory", or "cpu"/"memory" for requests). The
// API server defaults a missing request to the limit before quota
// admission runs, so a limit alone declares the request too.
func declares(c *corev1.Container, r string) bool {
	kind, name, ok := strings.Cut(r, ".")
	if !ok {
		kind, name = "requests", r
	}
	rn := corev1.ResourceName(name)
	_, limit := c.Resources.Limits[rn]
	if kind == "limits" {
		return limit
	}
	_, req := c.Resources.Requests[rn]
	return req || limit
}
