package facts_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// TestGatherClaimEvents: the provisioner reports on the claim, not on the
// pod, so a live Gather must read the events of the pod's claims for
// volume.provisioning-failed to see them.
func TestGatherClaimEvents(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	sc := "openebs-zfspv"
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "gitea-0", Namespace: "git", UID: "pod-uid"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "gitea", Image: "docker.gitea.com/gitea:1.24.6"}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "gitea-data"}}}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "gitea-data", Namespace: "git", UID: "claim-uid",
			Annotations: map[string]string{"volume.kubernetes.io/storage-provisioner": "zfs.csi.openebs.io"}},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &sc, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("50Gi")}}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "gitea-data.1", Namespace: "git"},
		InvolvedObject: corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "git", Name: "gitea-data", UID: "claim-uid"},
		Reason:         "ProvisioningFailed", Type: corev1.EventTypeWarning, Count: 9,
		Message:        `failed to provision volume with StorageClass "openebs-zfspv": rpc error: code = Internal desc = not able to provision the volume, nodes [apollon], err : zfs: volume creation failed`,
		FirstTimestamp: metav1.NewTime(now.Add(-14 * time.Minute)), LastTimestamp: metav1.NewTime(now.Add(-time.Minute)),
	}
	client := fake.NewSimpleClientset(pod, claim, ev, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "git"}})
	// The fake clientset ignores field selectors; the API server does not,
	// so a Gather that only lists the pod's events would miss the claim's.
	client.PrependReactor("list", "events", func(a k8stesting.Action) (bool, runtime.Object, error) {
		la := a.(k8stesting.ListAction)
		obj, err := client.Tracker().List(corev1.SchemeGroupVersion.WithResource("events"), corev1.SchemeGroupVersion.WithKind("Event"), la.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		out := &corev1.EventList{}
		for _, e := range obj.(*corev1.EventList).Items {
			io := e.InvolvedObject
			if la.GetListRestrictions().Fields.Matches(fields.Set{"involvedObject.uid": string(io.UID), "involvedObject.kind": io.Kind, "involvedObject.name": io.Name}) {
				out.Items = append(out.Items, e)
			}
		}
		return true, out, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	facts, err := facts.Gather(ctx, client, diag.Target{Kind: "pod", Namespace: "git", Name: "gitea-0"}, facts.GatherOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if facts.ClaimEvents.State != diag.Found || len(facts.ClaimEvents.Items) != 1 {
		t.Fatalf("claim events %v (%d), want the ProvisioningFailed event", facts.ClaimEvents.State, len(facts.ClaimEvents.Items))
	}
	if d := diag.Diagnose(&facts); d.RootCause.Rule != "volume.provisioning-failed" {
		t.Errorf("root cause %s, want volume.provisioning-failed", d.RootCause.Rule)
	}
}
