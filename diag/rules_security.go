package diag

import (
	"fmt"
	"regexp"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Before creating a container the kubelet checks runAsNonRoot against the
// image's user (pkg/kubelet/kuberuntime/security_context_others.go,
// verifyRunAsNonRoot) and reports a failure as CreateContainerConfigError.
// The image is fine and the pod is valid; the two disagree.
var securityContextRules = []*rule{
	{
		ID: "config.run-as-non-root", Severity: Error, Step: StepDescribe, Rank: rankStart,
		Match:   matchRunAsNonRoot,
		Summary: "{{.KindTitle}} {{.Container}} is not created: {{.Problem}}",
		Explanation: "The pod asks for runAsNonRoot: true ({{.Where}}), so before creating the container the kubelet " +
			"checks which user it would run as, and only accepts a numeric user id other than 0. {{.Detail}} " +
			"runAsNonRoot often comes from a Pod Security \"restricted\" profile or a policy engine that added it " +
			"to a workload whose image was never built for it.",
		NextSteps: []string{
			"{{.Fix}}",
			"Make sure the app can run as that user: files it writes must be writable by it (an emptyDir, or fsGroup for volumes), and it cannot bind ports below 1024.",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.securityContext}{\"\\n\"}{.spec.{{.Field}}[?(@.name==\"{{.Container}}\")].securityContext}{\"\\n\"}'",
			"kubectl describe pod -n {{.Namespace}} {{.Pod}}",
		},
	},
}

var nonNumericUser = regexp.MustCompile(`image has non-numeric user \(([^)]*)\)`)

// nonRootCheck names which of the kubelet's runAsNonRoot checks a message
// reports, or "" when it is not one of them.
func nonRootCheck(msg string) string {
	switch {
	case containsAny(msg, "image will run as root"):
		return "root"
	case containsAny(msg, "image has non-numeric user"):
		return "non-numeric"
	case containsAny(msg, "runAsUser breaks non-root policy"):
		return "runAsUser"
	case containsAny(msg, "image has an invalid user id"):
		return "invalid"
	}
	return ""
}

func matchRunAsNonRoot(w *walk) []hit {
	var hits []hit
	for _, c := range w.cs {
		wt := c.waiting()
		if wt == nil || wt.Reason != "CreateContainerConfigError" {
			continue
		}
		msg := wt.Message
		check := nonRootCheck(msg)
		if check == "" {
			continue
		}
		vars := w.imageVars(c, msg)
		h := hit{Container: c.Name, Vars: vars, Evidence: []string{w.formatState(c)}}
		if e, ok := newest(w.containerEvents(c.Name, "Failed")); ok {
			h.Evidence = append(h.Evidence, w.formatEvent(e))
		}
		podSC, ctrSC := w.pod.Spec.SecurityContext, c.Spec.SecurityContext
		h.Evidence = append(h.Evidence, "pod securityContext: "+formatPodSecurity(podSC), c.kind()+" securityContext: "+formatContainerSecurity(ctrSC))
		vars["Where"] = "in the pod's securityContext"
		if ctrSC != nil && ctrSC.RunAsNonRoot != nil {
			vars["Where"] = "in the securityContext of " + c.kind()
		}
		image := c.Spec.Image
		switch check {
		case "root":
			vars["Problem"] = "runAsNonRoot is set but image " + image + " runs as root"
			vars["Detail"] = "Image " + image + " declares no user, or user 0/root, and the pod sets no runAsUser, so it would run as root."
			vars["Fix"] = "Set securityContext.runAsUser (and runAsGroup) to a non-zero uid the image works with, or rebuild the image with a numeric non-root USER (e.g. USER 10001)."
		case "non-numeric":
			user := "a user name"
			if m := nonNumericUser.FindStringSubmatch(msg); m != nil {
				user = quote(m[1])
			}
			vars["Problem"] = "runAsNonRoot is set but image " + image + " names its user " + user + ", which the kubelet cannot verify"
			vars["Detail"] = "The image's USER is " + user + ", a name, not a uid: the kubelet cannot look names up inside the image, so it cannot prove the user is not root and refuses."
			vars["Fix"] = "Set securityContext.runAsUser to that user's numeric uid (for nobody usually 65534), or rebuild the image with USER given as a number (USER 65534)."
		case "runAsUser":
			vars["Problem"] = "runAsNonRoot is set but runAsUser is 0 (root)"
			vars["Detail"] = "The pod spec contradicts itself: runAsUser 0 is root."
			vars["Fix"] = "Set runAsUser to a non-zero uid, or drop runAsNonRoot if the container really must run as root (and the namespace's policy allows it)."
		default:
			vars["Problem"] = "runAsNonRoot is set but image " + image + " declares an invalid user id"
			vars["Detail"] = "The image's USER is a number outside the valid uid range."
			vars["Fix"] = "Set securityContext.runAsUser to a valid non-zero uid, or fix USER in the image."
		}
		hits = append(hits, h)
	}
	return hits
}

func formatPodSecurity(sc *corev1.PodSecurityContext) string {
	if sc == nil {
		return "none"
	}
	return formatUserFields(sc.RunAsNonRoot, sc.RunAsUser, sc.RunAsGroup)
}

func formatContainerSecurity(sc *corev1.SecurityContext) string {
	if sc == nil {
		return "none"
	}
	return formatUserFields(sc.RunAsNonRoot, sc.RunAsUser, sc.RunAsGroup)
}

func formatUserFields(nonRoot *bool, user, group *int64) string {
	var s string
	add := func(part string) {
		if s != "" {
			s += ", "
		}
		s += part
	}
	if nonRoot != nil {
		add(fmt.Sprintf("runAsNonRoot %t", *nonRoot))
	}
	if user != nil {
		add("runAsUser " + strconv.FormatInt(*user, 10))
	}
	if group != nil {
		add("runAsGroup " + strconv.FormatInt(*group, 10))
	}
	if s == "" {
		return "no user settings"
	}
	return s
}
