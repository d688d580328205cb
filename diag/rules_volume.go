package diag

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// A persistent volume goes through three owners before a container can use
// it: the provisioner creates it (external-provisioner or the in-tree PV
// controller: ProvisioningFailed on the claim), the attach/detach
// controller attaches it to the node (FailedAttachVolume "AttachVolume.Attach
// failed"), and the kubelet mounts it (FailedMount "MountVolume.MountDevice
// failed", "MountVolume.SetUp failed", and "Unable to attach or mount
// volumes: … timed out waiting for the condition" while it waits).
// A claim with volumeBindingMode WaitForFirstConsumer binds only once the
// scheduler has chosen a node for its pod.
var volumeRules = []*rule{
	{
		ID: "volume.provisioning-failed", Severity: Error, Step: StepEvents, Rank: rankSchedule - 1,
		Match:   matchProvisioningFailed,
		Summary: "PersistentVolumeClaim {{.Claim}} of pod {{.Pod}} gets no volume: provisioning with StorageClass {{.StorageClass}} fails: {{.Short}}",
		Explanation: "The claim is Pending because the provisioner of its StorageClass ({{.Provisioner}}) tries to create " +
			"a volume and fails; until it succeeds the pod cannot be scheduled (or, already placed, cannot mount). " +
			"The provisioner's message says why: a StorageClass parameter the backend rejects, missing cloud " +
			"permissions for the CSI controller, a quota or capacity limit, a zone without that disk type, or the " +
			"CSI controller itself not running.",
		NextSteps: []string{
			"Read the claim's events for the whole message and fix what it names (StorageClass parameters, the CSI controller's cloud permissions, quota).",
			"Check the provisioner's controller pods and their logs (the csi-provisioner sidecar logs every attempt).",
		},
		Commands: []string{
			"kubectl describe pvc -n {{.Namespace}} {{.Claim}}",
			"{{if .StorageClassName}}kubectl get storageclass {{.StorageClassName}} -o yaml{{end}}",
			"kubectl get pods -A -o wide | grep -i csi",
		},
	},
	{
		ID: "volume.waiting-first-consumer", Severity: Error, Step: StepEvents, Rank: rankSchedule,
		Match:   matchWaitingFirstConsumer,
		Summary: "PersistentVolumeClaim {{.Claim}} waits for pod {{.Pod}} to be scheduled, but {{.Why}}",
		Explanation: "The claim's StorageClass uses volumeBindingMode WaitForFirstConsumer: the volume is only " +
			"provisioned or bound after the scheduler has picked a node for a pod using the claim, so that the " +
			"volume is created where the pod can run. Nothing is wrong with the claim; the pod is not getting " +
			"scheduled. {{.Detail}}",
		NextSteps: []string{
			"{{.Fix}}",
		},
		Commands: []string{
			"kubectl describe pvc -n {{.Namespace}} {{.Claim}}",
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.schedulerName}{\" \"}{.spec.nodeName}{\"\\n\"}'",
			"kubectl get pods -A -o wide | grep -i scheduler",
		},
	},
	{
		ID: "volume.attach-failed", Severity: Error, Step: StepEvents, Rank: rankConfig,
		Match:   matchAttachFailed,
		Summary: "Volume {{.Volume}} of pod {{.Pod}} cannot be attached to node {{.Node}}: {{.Short}}",
		Explanation: "Before the kubelet can mount a block volume (a cloud disk, an iSCSI/FC LUN), the attach/detach " +
			"controller asks the storage driver to attach it to node {{.Node}} (ControllerPublishVolume for CSI). That " +
			"call fails, so the pod waits in ContainerCreating and the kubelet's mount times out after 2 minutes, " +
			"again and again. The driver's message names the cause: the disk is attached to another instance, the " +
			"instance has reached its volume limit, the disk is in another zone, or the driver lacks permissions.",
		NextSteps: []string{
			"Read the driver's error in the FailedAttachVolume events and the VolumeAttachment object for {{.PV}}.",
			"Check the CSI controller's pods (the csi-attacher sidecar logs each attempt) and the disk in the cloud console: which instance holds it, which zone it is in.",
		},
		Commands: []string{
			"{{if .PV}}kubectl get volumeattachments -o wide | grep {{.PV}}{{else}}kubectl get volumeattachments -o wide{{end}}",
			"{{if .Claim}}kubectl describe pvc -n {{.Namespace}} {{.Claim}}{{end}}",
			"kubectl describe pod -n {{.Namespace}} {{.Pod}}",
		},
	},
	{
		ID: "volume.mount-timeout", Severity: Error, Step: StepEvents, Rank: rankConfig,
		Match:   matchMountTimeout,
		Summary: "Volume {{.Volume}} of pod {{.Pod}} does not mount on node {{.Node}}: the storage driver's {{.Operation}} times out",
		Explanation: "The volume is attached (or needs no attach) but the CSI node plugin on {{.Node}} does not " +
			"finish {{.Operation}} within the kubelet's deadline (rpc error: code = DeadlineExceeded), so the kubelet " +
			"gives up, reports \"timed out waiting for the condition\" and retries. The node plugin is stuck or slow: " +
			"its pod on that node is unhealthy, the storage backend (NFS/Ceph/iSCSI/cloud API) does not answer from " +
			"that node, or a previous mount of the same volume still hangs.",
		NextSteps: []string{
			"Look at the CSI node plugin pod on {{.Node}} (kubectl get pods -A -o wide --field-selector spec.nodeName={{.Node}}) and its logs around the failures.",
			"Check that node {{.Node}} reaches the storage backend; restart the node plugin pod if it is wedged.",
		},
		Commands: []string{
			"kubectl get pods -A -o wide --field-selector spec.nodeName={{.Node}}",
			"kubectl get csidrivers",
			"{{if .Claim}}kubectl describe pvc -n {{.Namespace}} {{.Claim}}{{end}}",
		},
	},
}

type volumeClass int

const (
	volumeOther volumeClass = iota
	volumeAttach
	volumeMountTimeout
)

var (
	attachFailed  = regexp.MustCompile(`AttachVolume\.Attach failed for volume "([^"]+)" : (.*)`)
	mountOpFailed = regexp.MustCompile(`MountVolume\.(MountDevice|SetUp|WaitForAttach) failed for volume "([^"]+)" : (.*)`)
)

// volumeClassOf reads the pod's volume events. A Multi-Attach error stays
// with volume.mount-failed, which explains it; an attach error from the
// driver is an attach failure; a driver call that ran into its deadline is
// a mount timeout.
func volumeClassOf(evs []event) volumeClass {
	attach, timeout := false, false
	for _, e := range evs {
		switch {
		case strings.Contains(e.Message, "Multi-Attach error"):
			return volumeOther
		case attachFailed.MatchString(e.Message):
			attach = true
		case mountOpFailed.MatchString(e.Message) && containsAny(e.Message, "DeadlineExceeded", "context deadline exceeded"):
			timeout = true
		}
	}
	switch {
	case attach:
		return volumeAttach
	case timeout:
		return volumeMountTimeout
	}
	return volumeOther
}

// volumeHit builds the common part of an attach or mount finding.
func (w *walk) volumeHit(evs []event) hit {
	h := hit{Evidence: w.formatEvents(evs), Vars: map[string]string{"Volume": "(unnamed)", "Claim": "", "PV": ""}}
	for _, e := range evs {
		if m := volumeLists.FindStringSubmatch(e.Message); m != nil && strings.TrimSpace(m[1]) != "" {
			h.Vars["Volume"] = strings.Fields(m[1])[0]
		}
	}
	for _, v := range w.pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && (v.Name == h.Vars["Volume"] || h.Vars["Claim"] == "") {
			h.Vars["Claim"] = v.PersistentVolumeClaim.ClaimName
			if h.Vars["Volume"] == "(unnamed)" {
				h.Vars["Volume"] = v.Name
			}
		}
	}
	if c := h.Vars["Claim"]; c != "" {
		if r, _ := findRef(w.f.PVCs, c); r.Object != nil {
			h.Vars["PV"] = r.Object.Spec.VolumeName
			sc := ""
			if r.Object.Spec.StorageClassName != nil {
				sc = ", StorageClass " + *r.Object.Spec.StorageClassName
			}
			h.Evidence = append(h.Evidence, fmt.Sprintf("persistentvolumeclaim %s: phase %s, volume %s, access modes %v%s",
				c, r.Object.Status.Phase, r.Object.Spec.VolumeName, r.Object.Spec.AccessModes, sc))
		}
	}
	return h
}

func matchAttachFailed(w *walk) []hit {
	evs := w.mountProblemEvents()
	if volumeClassOf(evs) != volumeAttach {
		return nil
	}
	h := w.volumeHit(evs)
	for _, e := range evs {
		if m := attachFailed.FindStringSubmatch(e.Message); m != nil {
			h.Vars["PV"] = m[1]
			h.Vars["Short"] = shortRPC(m[2])
		}
	}
	return []hit{h}
}

func matchMountTimeout(w *walk) []hit {
	evs := w.mountProblemEvents()
	if volumeClassOf(evs) != volumeMountTimeout {
		return nil
	}
	h := w.volumeHit(evs)
	for _, e := range evs {
		if m := mountOpFailed.FindStringSubmatch(e.Message); m != nil && containsAny(m[3], "DeadlineExceeded", "deadline exceeded") {
			h.Vars["Operation"] = map[string]string{
				"MountDevice": "NodeStageVolume (MountDevice)", "SetUp": "NodePublishVolume (SetUp)", "WaitForAttach": "WaitForAttach",
			}[m[1]]
			if h.Vars["PV"] == "" {
				h.Vars["PV"] = m[2]
			}
		}
	}
	return []hit{h}
}

// shortRPC keeps the driver's own words from a gRPC error: "rpc error:
// code = Internal desc = Could not attach volume …" becomes "Internal: Could
// not attach volume …".
var rpcError = regexp.MustCompile(`rpc error: code = (\w+) desc = (.*)`)

func shortRPC(msg string) string {
	if m := rpcError.FindStringSubmatch(msg); m != nil {
		return shortMessage(m[1] + ": " + m[2])
	}
	return shortMessage(msg)
}

// claimsPending returns the pod's claims that are Pending, with their
// recent events (oldest first).
func (w *walk) claimsPending() []pendingClaim {
	if w.pod == nil || podTerminal(w.pod) {
		return nil
	}
	var out []pendingClaim
	for _, name := range References(&w.pod.Spec).PVCs {
		r, _ := findRef(w.f.PVCs, name)
		if r.Object == nil || r.Object.Status.Phase != corev1.ClaimPending {
			continue
		}
		pc := pendingClaim{pvc: r.Object}
		for i := range w.f.ClaimEvents.Items {
			e := newEvent(&w.f.ClaimEvents.Items[i], nil)
			if e.InvolvedObject.Kind == "PersistentVolumeClaim" && e.InvolvedObject.Name == name && w.recent(e.Last) {
				pc.events = append(pc.events, e)
			}
		}
		sortEvents(pc.events)
		out = append(out, pc)
	}
	return out
}

type pendingClaim struct {
	pvc    *corev1.PersistentVolumeClaim
	events []event
}

func (pc pendingClaim) storageClass() string {
	if pc.pvc.Spec.StorageClassName != nil {
		return *pc.pvc.Spec.StorageClassName
	}
	return ""
}

func (pc pendingClaim) withReason(reasons ...string) []event {
	var out []event
	for _, e := range pc.events {
		if oneOf(e.Reason, reasons...) {
			out = append(out, e)
		}
	}
	return out
}

func matchProvisioningFailed(w *walk) []hit {
	// A scheduler message about unbound immediate claims is explained by
	// sched.pvc-unbound, which sends the reader to the claim's events.
	if msg, _ := w.schedulingMessage(); msg != "" {
		if _, reasons := parseSchedulerMessage(msg); len(reasons) > 0 {
			for _, r := range reasons {
				if r.class == schedPVC {
					return nil
				}
			}
		}
	}
	var hits []hit
	for _, pc := range w.claimsPending() {
		evs := pc.withReason("ProvisioningFailed")
		last, ok := newest(evs)
		if !ok {
			continue
		}
		sc := pc.storageClass()
		h := hit{Evidence: w.formatEvents(evs), Vars: map[string]string{
			"Claim": pc.pvc.Name, "StorageClass": quote(sc), "StorageClassName": sc, "Provisioner": "unknown",
		}}
		if sc == "" {
			h.Vars["StorageClass"] = "(the default)"
		}
		if p := pc.pvc.Annotations["volume.kubernetes.io/storage-provisioner"]; p != "" {
			h.Vars["Provisioner"] = p
		}
		text := last.Message
		if i := strings.Index(text, ": "); i >= 0 && strings.HasPrefix(strings.ToLower(text), "failed to provision volume with storageclass") {
			text = text[i+2:]
		}
		h.Vars["Short"] = shortRPC(text)
		h.Evidence = append(h.Evidence, fmt.Sprintf("persistentvolumeclaim %s: phase Pending, StorageClass %s, provisioner %s",
			pc.pvc.Name, orDefaultClass(sc), h.Vars["Provisioner"]))
		for _, e := range pc.withReason("ExternalProvisioning", "Provisioning") {
			if e.Last.After(last.Last) || e.Last.Equal(last.Last) {
				h.Evidence = append(h.Evidence, w.formatEvent(e))
			}
		}
		hits = append(hits, h)
	}
	return hits
}

func matchWaitingFirstConsumer(w *walk) []hit {
	p := w.pod
	if p == nil || p.DeletionTimestamp != nil {
		return nil
	}
	msg, _ := w.schedulingMessage()
	if msg != "" {
		return nil // the scheduler says why it cannot place the pod: the sched rules explain it
	}
	var hits []hit
	for _, pc := range w.claimsPending() {
		evs := pc.withReason("WaitForFirstConsumer", "WaitForPodScheduled")
		if len(evs) == 0 {
			continue
		}
		h := hit{Evidence: w.formatEvents(evs), Vars: map[string]string{"Claim": pc.pvc.Name}}
		h.Evidence = append(h.Evidence, fmt.Sprintf("persistentvolumeclaim %s: phase Pending, StorageClass %s, no volume bound",
			pc.pvc.Name, orDefaultClass(pc.storageClass())))
		sched := p.Spec.SchedulerName
		switch {
		case p.Spec.NodeName != "":
			h.Vars["Why"] = "the pod was bound to node " + p.Spec.NodeName + " directly with spec.nodeName, bypassing the scheduler"
			h.Vars["Detail"] = "Only the scheduler triggers WaitForFirstConsumer binding (it records the chosen node on the claim); a pod placed with spec.nodeName never does, and the kubelet waits for a claim that never binds."
			h.Vars["Fix"] = "Remove spec.nodeName and select the node with nodeSelector kubernetes.io/hostname (or node affinity) instead, so the scheduler binds the claim."
			h.Evidence = append(h.Evidence, "pod spec: nodeName "+p.Spec.NodeName+" set, schedulerName "+orDefaultScheduler(sched))
		case sched != "" && sched != corev1.DefaultSchedulerName:
			h.Vars["Why"] = "no scheduler has acted on the pod: it asks for scheduler " + quote(sched)
			h.Vars["Detail"] = "The pod names schedulerName " + quote(sched) + " and has no scheduling condition or event at all: that scheduler is not running, or does not watch this namespace."
			h.Vars["Fix"] = "Start (or fix) scheduler " + quote(sched) + ", or remove schedulerName from the pod template so default-scheduler places it."
			h.Evidence = append(h.Evidence, "pod spec: schedulerName "+sched+"; no PodScheduled condition and no scheduling event")
		default:
			h.Vars["Why"] = "the scheduler reports nothing about the pod"
			h.Vars["Detail"] = "The pod has no PodScheduled condition and no scheduling event: the scheduler is not running or has not caught up."
			h.Vars["Fix"] = "Check that kube-scheduler runs and is healthy (its pods in kube-system, or the control plane's status)."
			h.Evidence = append(h.Evidence, "pod: not scheduled, no PodScheduled condition and no scheduling event")
		}
		hits = append(hits, h)
	}
	return hits
}

func orDefaultClass(sc string) string {
	if sc == "" {
		return "(default)"
	}
	return sc
}

func orDefaultScheduler(s string) string {
	if s == "" {
		return corev1.DefaultSchedulerName
	}
	return s
}

func sortEvents(evs []event) {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Last.Before(evs[j].Last) })
}
