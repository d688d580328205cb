package diag

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Pull errors are worded by the container runtime, not by Kubernetes, so
// each rule knows the docker, containerd and CRI-O phrasings. The kubelet
// reports them as the container's waiting message (ErrImagePull) and as
// Failed events ("Failed to pull image ..."); ImagePullBackOff only says
// it is waiting to retry, so the newest Failed event carries the reason.
var imageRules = []*rule{
	{
		ID: "image.not-found", Severity: Error, Step: StepDescribe, Rank: rankImage,
		Match:   imageMatcher(pullNotFound),
		Summary: "Image {{.Image}} of {{.Kind_}} {{.Container}} was not found in the registry",
		Explanation: "The registry answered that the repository or tag does not exist. Usually the tag is " +
			"mistyped or was never pushed by CI, or the image lives in another registry: an image without a " +
			"registry prefix is looked up on Docker Hub.",
		NextSteps: []string{
			"Pull the exact image locally: docker pull {{.Image}}. If that works, the cluster lacks permission (see imagePullSecrets).",
			"If it fails, pull without the tag ({{.Repository}}): if that works the tag does not exist; fix the tag in the spec or the CI step that pushes it.",
			"If neither works, the repository is not there: check the registry prefix (quay.io/…, <account>.dkr.ecr…, gcr.io/…).",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.{{.Field}}[?(@.name==\"{{.Container}}\")].image}'",
			"kubectl describe pod -n {{.Namespace}} {{.Pod}}",
		},
	},
	{
		ID: "image.unauthorized", Severity: Error, Step: StepDescribe, Rank: rankImage,
		Match:   imageMatcher(pullUnauthorized),
		Summary: "Pulling image {{.Image}} for {{.Kind_}} {{.Container}} was refused: {{.AuthProblem}}",
		Explanation: "The registry requires credentials the node does not have. Pods present them through " +
			"imagePullSecrets (on the pod or its ServiceAccount) holding a docker config for that registry. {{.AmbiguityNote}}",
		NextSteps: []string{
			"Create a docker-registry secret for {{.Registry}} and reference it in imagePullSecrets (or on ServiceAccount {{.ServiceAccount}}).",
		},
		Commands: []string{
			"kubectl get secret -n {{.Namespace}}{{if .PullSecret}} {{.PullSecret}}{{end}}",
			"kubectl get serviceaccount -n {{.Namespace}} {{.ServiceAccount}} -o jsonpath='{.imagePullSecrets}'",
			"kubectl describe pod -n {{.Namespace}} {{.Pod}}",
		},
	},
	{
		ID: "image.registry-unreachable", Severity: Error, Step: StepDescribe, Rank: rankImage,
		Match:   imageMatcher(pullUnreachable),
		Summary: "Node {{.Node}} cannot reach registry {{.Registry}} to pull {{.Image}}",
		Explanation: "The pull failed on the network before the registry could answer: DNS could not resolve it, " +
			"the connection was refused or timed out, or TLS failed. Typical causes are a firewall or missing " +
			"proxy on the nodes, a registry mirror that is down, or a registry reachable only from some networks.",
		NextSteps: []string{
			"From node {{.Node}}, try the registry: curl -v https://{{.Registry}}/v2/ (and crictl pull {{.Image}}).",
			"Check the nodes' DNS, HTTP(S)_PROXY settings of the container runtime, and registry mirror configuration.",
		},
		Commands: []string{"kubectl describe pod -n {{.Namespace}} {{.Pod}}", "{{if .Node}}kubectl describe node {{.Node}}{{end}}"},
	},
	{
		ID: "image.pull-timeout", Severity: Error, Step: StepDescribe, Rank: rankImage,
		Match:   imageMatcher(pullTimeout),
		Summary: "Pulling image {{.Image}} for {{.Kind_}} {{.Container}} timed out",
		Explanation: "The registry was reached but the pull did not finish in time: a large image over a slow " +
			"link, or many pods pulling at once on a freshly scaled node, runs into the kubelet's runtime request " +
			"timeout (--runtime-request-timeout) or the image pull progress deadline.",
		NextSteps: []string{
			"Pull the image by hand on the node to see its size and speed (crictl pull {{.Image}}).",
			"Make the image smaller, pre-pull it (a DaemonSet or node image), stagger rollouts, or raise the kubelet's --runtime-request-timeout / --image-pull-progress-deadline.",
		},
		Commands: []string{"kubectl describe pod -n {{.Namespace}} {{.Pod}}", "{{if .Node}}kubectl describe node {{.Node}}{{end}}"},
	},
	{
		ID: "image.invalid-name", Severity: Error, Step: StepDescribe, Rank: rankImage,
		Match:       imageMatcher(pullInvalid),
		Summary:     "{{.KindTitle}} {{.Container}}: {{.Problem}}",
		Explanation: "{{.Detail}}",
		NextSteps: []string{
			"Fix the image reference in the pod template: lower-case repository, registry/repository:tag or @sha256:digest, no spaces or stray characters.",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.{{.Field}}[?(@.name==\"{{.Container}}\")].image}'",
		},
	},
	{
		ID: "image.never-pull", Severity: Error, Step: StepDescribe, Rank: rankImage,
		Match:   imageMatcher(pullNever),
		Summary: "Image {{.Image}} is not on node {{.Node}} and imagePullPolicy is Never",
		Explanation: "With imagePullPolicy: Never the kubelet only uses images already present on the node. " +
			"That suits images loaded by hand (kind load, minikube image load) but fails on every node where " +
			"the image was never loaded.",
		NextSteps: []string{
			"Load the image onto the node, or set imagePullPolicy to IfNotPresent and push the image to a registry.",
		},
		Commands: []string{"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.{{.Field}}[*].imagePullPolicy}'"},
	},
}

type pullClass int

const (
	pullNone pullClass = iota
	pullNotFound
	pullUnauthorized
	pullUnreachable
	pullTimeout
	pullInvalid
	pullNever
)

var imageWaitingReasons = []string{"ErrImagePull", "ImagePullBackOff", "RegistryUnavailable", "InvalidImageName", "ImageInspectError", "ErrImageNeverPull"}

// classifyPull reads a pull failure. ambiguous is set for registries that
// answer the same to "no such repository" and "not allowed to see it".
func classifyPull(reason, msg string) (class pullClass, ambiguous bool) {
	switch {
	case reason == "InvalidImageName" || containsAny(msg, "invalid reference format", "couldn't parse image", "failed to apply default image tag"):
		return pullInvalid, false
	case reason == "ImageInspectError":
		return pullInvalid, false
	case reason == "ErrImageNeverPull" || strings.Contains(msg, "with pull policy of Never"):
		return pullNever, false
	}
	if rateLimited(msg) {
		// A 429 names the registry and the image too; it must not read
		// as "not found" or as a network failure.
		return pullRateLimited, false
	}
	notFound := containsAny(msg, "not found", "manifest unknown", "repository does not exist", "no such image",
		"name unknown", "no matching manifest", "does not exist")
	denied := containsAny(msg, "unauthorized", "authentication required", "401 Unauthorized", "403 Forbidden", "status: 40",
		"status code 40", "forbidden", "denied",
		"no basic auth credentials", "pull access denied", "authorization failed", "may require")
	switch {
	case notFound && denied:
		// Docker Hub and others hide private repositories behind "pull
		// access denied, repository does not exist or may require
		// authorization": a permission problem is the likelier and more
		// fixable reading, and the finding says it could be either.
		return pullUnauthorized, true
	case denied:
		return pullUnauthorized, false
	case notFound:
		return pullNotFound, false
	case reason == "RegistryUnavailable" || containsAny(msg, "dial tcp", "no such host", "i/o timeout", "TLS handshake timeout",
		"connection refused", "x509:", "certificate", "server gave HTTP response to HTTPS client", "Client.Timeout exceeded",
		"network is unreachable", "connection reset by peer", "no route to host", "temporary failure in name resolution"):
		return pullUnreachable, false
	case containsAny(msg, "context deadline exceeded", "DeadlineExceeded", "context canceled", "pull QPS exceeded",
		"image pull progress", "timed out", "timeout"):
		return pullTimeout, false
	}
	return pullNone, false
}

// bareError is the kubelet's "Error: ImagePullBackOff" companion event: it
// names the waiting reason and nothing more.
var bareError = regexp.MustCompile(`^Error: \w+$`)

// pullMessage returns the best description of why container c's image
// fails: the newest recent pull failure event, which quotes the runtime's
// error verbatim, else the waiting message (since Kubernetes 1.29 the
// back-off message embeds the pull error too).
func (w *walk) pullMessage(c *container) (msg string, evidence []string) {
	wt := c.waiting()
	evidence = append(evidence, w.formatState(c))
	var failure, backoff event
	var haveFailure, haveBackoff bool
	for _, e := range w.containerEvents(c.Name, "Failed", "ErrImagePull", "InspectFailed", "ErrImageNeverPull", "BackOff") {
		switch {
		case e.Reason == "BackOff" && strings.HasPrefix(e.Message, "Back-off pulling image"):
			backoff, haveBackoff = e, true
		case e.Reason != "BackOff" && !bareError.MatchString(e.Message):
			failure, haveFailure = e, true
		}
	}
	if !haveFailure {
		// Only back-offs lately: the pull error itself may be older.
		for _, e := range w.causeEvents("Failed", "ErrImagePull", "InspectFailed", "ErrImageNeverPull") {
			if (e.Container == c.Name || (e.Container == "" && mentionsContainer(e.Message, c.Name))) && !bareError.MatchString(e.Message) {
				failure, haveFailure = e, true
			}
		}
		if haveFailure {
			defer func() {
				if note := w.olderCauseNote(failure); note != "" {
					evidence = append(evidence, note)
				}
			}()
		}
	}
	if haveFailure {
		msg = failure.Message
		evidence = append(evidence, w.formatEvent(failure))
	}
	if haveBackoff {
		evidence = append(evidence, w.formatEvent(backoff))
	}
	if msg == "" {
		msg = wt.Message
	}
	if msg == "" {
		msg = wt.Reason
	}
	return msg, evidence
}

func imageMatcher(class pullClass) func(*walk) []hit {
	return func(w *walk) []hit {
		var hits []hit
		for _, c := range w.cs {
			wt := c.waiting()
			if wt == nil || !oneOf(wt.Reason, imageWaitingReasons...) {
				continue
			}
			msg, evidence := w.pullMessage(c)
			got, ambiguous := classifyPull(wt.Reason, msg)
			if got != class {
				continue
			}
			h := hit{Container: c.Name, Evidence: evidence, Vars: w.imageVars(c, msg)}
			if ambiguous {
				h.Vars["AmbiguityNote"] = "Note: this registry answers the same way for an image that does not exist " +
					"and for one you may not pull, so also check that the name and tag are right."
			}
			switch class {
			case pullUnauthorized:
				w.pullSecretVars(&h, c)
			case pullInvalid:
				if wt.Reason == "ImageInspectError" {
					h.Vars["Problem"] = "the node could not inspect image " + c.Spec.Image + " (ImageInspectError)"
					h.Vars["Detail"] = "The image is on the node but the runtime cannot read its metadata: " + oneLine(msg) +
						". The local copy may be corrupt: remove it on the node (crictl rmi) so it is pulled again."
				} else {
					h.Vars["Problem"] = "image reference " + quote(c.Spec.Image) + " is not a valid image name"
					h.Vars["Detail"] = "The runtime cannot parse the image reference: " + oneLine(msg) +
						". Repository names must be lower case and a reference is [registry/]repository[:tag][@digest]."
				}
			}
			hits = append(hits, h)
		}
		return hits
	}
}

func (w *walk) imageVars(c *container, msg string) map[string]string {
	image := ""
	if c.Spec != nil {
		image = c.Spec.Image
	}
	field := "containers"
	if c.Init {
		field = "initContainers"
	}
	kind, title := "container", "Container"
	if c.Init {
		kind, title = "init container", "Init container"
	}
	return map[string]string{
		"Image": image, "Repository": imageRepository(image), "Registry": imageRegistry(image),
		"Field": field, "Kind_": kind, "KindTitle": title, "Message": oneLine(msg), "AmbiguityNote": "",
		"ServiceAccount": w.serviceAccountName(),
	}
}

func (w *walk) serviceAccountName() string {
	if w.pod != nil && w.pod.Spec.ServiceAccountName != "" {
		return w.pod.Spec.ServiceAccountName
	}
	return "default"
}

// imageRepository strips the tag and digest from an image reference.
func imageRepository(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

// imageRegistry returns the registry host of an image reference; a first
// path part without a dot, a colon or "localhost" is a Docker Hub user.
func imageRegistry(image string) string {
	first, _, found := strings.Cut(image, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return "docker.io"
}

func (w *walk) serviceAccountHasPullSecrets() bool {
	sa := w.f.ServiceAccount.Object
	return sa != nil && len(sa.ImagePullSecrets) > 0
}

var registryInMessage = regexp.MustCompile(`https?://([^/"\s]+)`)

// pullSecretVars says what is wrong with the credentials, as far as kdoctor
// can see: no secret at all, a referenced secret missing, or a secret with
// no entry for the registry.
func (w *walk) pullSecretVars(h *hit, c *container) {
	registry := imageRegistry(c.Spec.Image)
	if m := registryInMessage.FindStringSubmatch(h.Vars["Message"]); m != nil && registry == "docker.io" && !strings.Contains(m[1], "docker.io") {
		registry = m[1]
	}
	h.Vars["Registry"] = registry
	h.Vars["PullSecret"] = ""
	refs := References(&w.pod.Spec).ImagePullSecrets
	if len(refs) == 0 {
		if w.serviceAccountHasPullSecrets() {
			h.Vars["AuthProblem"] = "the credentials from ServiceAccount " + w.serviceAccountName() + " were not accepted"
		} else {
			h.Vars["AuthProblem"] = "the pod has no imagePullSecrets"
			h.Evidence = append(h.Evidence, "pod spec: no imagePullSecrets (nor on ServiceAccount "+w.serviceAccountName()+" as far as kdoctor can see)")
		}
		return
	}
	h.Vars["PullSecret"] = refs[0]
	var problems []string
	for _, name := range refs {
		r, _ := findRef(w.f.Secrets, name)
		switch r.State {
		case NotFound:
			problems = append(problems, "imagePullSecret "+name+" does not exist")
			h.Evidence = append(h.Evidence, "secret "+name+": not found in namespace "+w.vars["Namespace"])
			h.Vars["PullSecret"] = name
		case Unknown:
			h.Evidence = append(h.Evidence, "secret "+name+": could not be checked ("+orUnknown(r.Reason)+")")
		case Found:
			if r.Object.Type != corev1.SecretTypeDockerConfigJson && r.Object.Type != corev1.SecretTypeDockercfg {
				problems = append(problems, "imagePullSecret "+name+" has type "+string(r.Object.Type)+", not kubernetes.io/dockerconfigjson")
			} else if hosts := dockerConfigHosts(r.Object); len(hosts) > 0 && !hostListed(hosts, registry) {
				problems = append(problems, "imagePullSecret "+name+" has no credentials for "+registry)
				h.Evidence = append(h.Evidence, "secret "+name+": credentials for "+strings.Join(hosts, ", ")+" only")
			} else {
				h.Evidence = append(h.Evidence, "secret "+name+": exists, type "+string(r.Object.Type))
			}
		}
	}
	if len(problems) == 0 {
		h.Vars["AuthProblem"] = "the credentials in imagePullSecrets were not accepted (wrong or expired password/token?)"
	} else {
		h.Vars["AuthProblem"] = strings.Join(problems, "; ")
	}
}

// dockerConfigHosts lists the registries a docker config secret holds
// credentials for (never the credentials themselves).
func dockerConfigHosts(s *corev1.Secret) []string {
	var hosts []string
	var cfg struct {
		Auths map[string]json.RawMessage `json:"auths"`
	}
	if data, ok := s.Data[corev1.DockerConfigJsonKey]; ok && json.Unmarshal(data, &cfg) == nil {
		for h := range cfg.Auths {
			hosts = append(hosts, h)
		}
	} else if data, ok := s.Data[corev1.DockerConfigKey]; ok {
		var old map[string]json.RawMessage
		if json.Unmarshal(data, &old) == nil {
			for h := range old {
				hosts = append(hosts, h)
			}
		}
	}
	sort.Strings(hosts)
	return hosts
}

func hostListed(hosts []string, registry string) bool {
	for _, h := range hosts {
		h = strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://")
		h, _, _ = strings.Cut(h, "/")
		if h == registry || (registry == "docker.io" && (h == "index.docker.io" || h == "registry-1.docker.io")) {
			return true
		}
	}
	return false
}
