package inspect

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The fixture: one payments namespace with an object of every kind inspect
// reads, the way the controllers leave them (owners, hashes, statuses), and
// the events their components record. Event reasons and messages are the
// components' own strings:
//   - kubelet (pkg/kubelet/kuberuntime, prober, images; pkg/kubelet/nodestatus):
//     "Back-off restarting failed container %s in pod %s", "Liveness probe
//     failed: …", "Container image %q already present on machine",
//     "Node %s status is now: %s" (recorded with the node's name as UID),
//     InvalidDiskCapacity "invalid capacity 0 on image filesystem";
//   - node-lifecycle-controller (RecordNodeStatusChange): NodeNotReady
//     "Node %s status is now: %s" (recorded with the node's UID);
//   - deployment-controller (sync.go): "Scaled up replica set %s from %d to %d";
//   - replicaset/job/daemonset controllers (controller_utils.go): "Created pod: %v";
//   - statefulset-controller (stateful_pod_control.go):
//     "create Pod %s in StatefulSet %s failed error: %s";
//   - cronjob-controller (cronjob_controllerv2.go): "Created job %v";
//   - persistentvolume-controller (pv_controller.go): WaitForFirstConsumer
//     "waiting for first consumer to be created before binding";
//   - service-controller: EnsuringLoadBalancer "Ensuring load balancer".

const (
	fxNS        = "payments"
	fxNode      = "worker-1"
	fxDeploy    = "api"
	fxRS        = "api-7c9d5b8f6d"
	fxPod       = "api-7c9d5b8f6d-x2x7k"
	fxOtherPod  = "api-7c9d5b8f6d-q9w4z"
	fxSTS       = "ledger"
	fxDS        = "log-agent"
	fxCronJob   = "nightly-report"
	fxJob       = "nightly-report-29012345"
	fxService   = "api"
	fxPVC       = "data-ledger-0"
	fxConfigMap = "api-config"
	fxSecret    = "api-credentials"

	// The Secret's values: none may appear in describe or redacted YAML.
	fxPassword  = "s3cr3t-P@ssw0rd-value" // 21 bytes
	fxToken     = "tok-9f8e7d6c5b4a"      // 16 bytes
	fxImage     = "registry.example.com/payments/api:1.8.2"
	fxSchedule  = "0 2 * * *"
	fxOldPodUID = types.UID("0d0d0d0d-old0-4000-8000-000000000000")
)

// uid gives each fixture object a stable, recognisable UID.
func uid(name string) types.UID { return types.UID("uid-" + name) }

var fxManaged = []metav1.ManagedFieldsEntry{{
	Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
	FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}`)},
}}

func objMeta(name string, labels map[string]string, owner ...metav1.OwnerReference) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: name, Namespace: fxNS, UID: uid(name), Labels: labels, OwnerReferences: owner,
		CreationTimestamp: metav1.NewTime(fxNow.Add(-48 * time.Hour)),
		ManagedFields:     fxManaged,
	}
}

func owner(kind, name string) metav1.OwnerReference {
	gv := "apps/v1"
	if kind == "CronJob" || kind == "Job" {
		gv = "batch/v1"
	}
	return metav1.OwnerReference{APIVersion: gv, Kind: kind, Name: name, UID: uid(name), Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
}

var fxNow = time.Now().Truncate(time.Second)

func apiTemplate(extra map[string]string) corev1.PodTemplateSpec {
	labels := map[string]string{"app": "api"}
	for k, v := range extra {
		labels[k] = v
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "api", Image: fxImage,
			Ports: []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		}}},
	}
}

func fxPodObj(name string, restarts int32) *corev1.Pod {
	tmpl := apiTemplate(map[string]string{"pod-template-hash": "7c9d5b8f6d"})
	p := &corev1.Pod{ObjectMeta: objMeta(name, tmpl.Labels, owner("ReplicaSet", fxRS)), Spec: tmpl.Spec}
	p.Spec.NodeName = fxNode
	p.Spec.RestartPolicy = corev1.RestartPolicyAlways
	p.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: "10.244.1.17", PodIPs: []corev1.PodIP{{IP: "10.244.1.17"}},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "api", Image: fxImage, RestartCount: restarts,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason:  "CrashLoopBackOff",
				Message: "back-off 5m0s restarting failed container=api pod=" + name + "_payments(" + string(uid(name)) + ")",
			}},
		}},
	}
	return p
}

// fxEvent is a core/v1 event as a legacy recorder writes it.
func fxEvent(name, ns string, obj corev1.ObjectReference, typ, reason, component, msg string, ago time.Duration, count int32) *corev1.Event {
	last := metav1.NewTime(fxNow.Add(-ago))
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ns, UID: uid("event-" + name)},
		InvolvedObject: obj, Type: typ, Reason: reason, Message: msg,
		Source:         corev1.EventSource{Component: component},
		FirstTimestamp: metav1.NewTime(last.Add(-time.Duration(count-1) * 30 * time.Second)), LastTimestamp: last, Count: count,
	}
}

func ref(kind, apiVersion, name string) corev1.ObjectReference {
	r := corev1.ObjectReference{Kind: kind, APIVersion: apiVersion, Name: name, Namespace: fxNS, UID: uid(name)}
	if kind == "Node" || kind == "Namespace" {
		r.Namespace = ""
	}
	return r
}

// fixture returns every object, owners before what they own, then events.
func fixture() []runtime.Object {
	fxNodeMeta := objMeta(fxNode, map[string]string{"kubernetes.io/hostname": fxNode, "kubernetes.io/os": "linux"})
	fxNodeMeta.Namespace = ""
	nsMeta := objMeta(fxNS, map[string]string{"kubernetes.io/metadata.name": fxNS, "team": "payments"})
	nsMeta.Namespace = ""
	capacity := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods: resource.MustParse("110"),
	}

	deploy := &appsv1.Deployment{
		ObjectMeta: objMeta(fxDeploy, map[string]string{"app": "api"}),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Template: apiTemplate(nil),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%")),
			}},
		},
		Status: appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 2},
	}
	deploy.Annotations = map[string]string{"deployment.kubernetes.io/revision": "4"}
	rsTmpl := apiTemplate(map[string]string{"pod-template-hash": "7c9d5b8f6d"})
	rs := &appsv1.ReplicaSet{
		ObjectMeta: objMeta(fxRS, rsTmpl.Labels, owner("Deployment", fxDeploy)),
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](3), Template: rsTmpl,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api", "pod-template-hash": "7c9d5b8f6d"}},
		},
		Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1, AvailableReplicas: 1},
	}
	rs.Annotations = map[string]string{"deployment.kubernetes.io/revision": "4"}

	ledgerLabels := map[string]string{"app": "ledger"}
	sts := &appsv1.StatefulSet{
		ObjectMeta: objMeta(fxSTS, ledgerLabels),
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](1), ServiceName: fxSTS,
			Selector: &metav1.LabelSelector{MatchLabels: ledgerLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: ledgerLabels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "ledger", Image: "registry.example.com/payments/ledger:3.1.0"}}}},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
				},
			}},
		},
		Status: appsv1.StatefulSetStatus{Replicas: 0},
	}
	agentLabels := map[string]string{"app": "log-agent"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: objMeta(fxDS, agentLabels),
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: agentLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: agentLabels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "registry.example.com/infra/log-agent:0.9.4"}}}},
		},
		Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, CurrentNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1, UpdatedNumberScheduled: 1},
	}
	jobSpec := batchv1.JobSpec{
		Completions: ptr.To[int32](1), Parallelism: ptr.To[int32](1), BackoffLimit: ptr.To[int32](6),
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure,
			Containers: []corev1.Container{{Name: "report", Image: "registry.example.com/payments/report:2.0.0"}}}},
	}
	cj := &batchv1.CronJob{
		ObjectMeta: objMeta(fxCronJob, nil),
		Spec: batchv1.CronJobSpec{Schedule: fxSchedule, ConcurrencyPolicy: batchv1.ForbidConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{Spec: jobSpec}},
	}
	job := &batchv1.Job{
		ObjectMeta: objMeta(fxJob, nil, owner("CronJob", fxCronJob)),
		Spec:       *jobSpec.DeepCopy(),
		Status:     batchv1.JobStatus{Active: 1, StartTime: ptr.To(metav1.NewTime(fxNow.Add(-10 * time.Minute)))},
	}
	svc := &corev1.Service{
		ObjectMeta: objMeta(fxService, map[string]string{"app": "api"}),
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "api"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
		},
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: objMeta(fxPVC, ledgerLabels),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To("standard"),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
		},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	cm := &corev1.ConfigMap{ObjectMeta: objMeta(fxConfigMap, nil), Data: map[string]string{"LOG_LEVEL": "info"}}
	secret := &corev1.Secret{
		ObjectMeta: objMeta(fxSecret, nil),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"password": []byte(fxPassword), "token": []byte(fxToken)},
	}
	// What `kubectl apply -f secret.yaml` leaves behind: the whole manifest,
	// stringData in plain text.
	secret.Annotations = map[string]string{
		corev1.LastAppliedConfigAnnotation: `{"apiVersion":"v1","kind":"Secret","metadata":{"annotations":{},"name":"` + fxSecret +
			`","namespace":"` + fxNS + `"},"stringData":{"password":"` + fxPassword + `","token":"` + fxToken + `"},"type":"Opaque"}` + "\n",
		"owner": "payments-team",
	}

	pod := fxPodObj(fxPod, 5)
	other := fxPodObj(fxOtherPod, 0)
	other.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(fxNow.Add(-time.Hour))}}

	podRef := ref("Pod", "v1", fxPod)
	oldPodRef := podRef
	oldPodRef.UID = fxOldPodUID
	nodeByName := ref("Node", "", fxNode)
	nodeByName.UID = types.UID(fxNode) // the kubelet's way
	events := []runtime.Object{
		fxEvent("api-pulled", fxNS, podRef, corev1.EventTypeNormal, "Pulled", "kubelet",
			`Container image "`+fxImage+`" already present on machine`, 30*time.Second, 6),
		fxEvent("api-backoff", fxNS, podRef, corev1.EventTypeWarning, "BackOff", "kubelet",
			"Back-off restarting failed container api in pod "+fxPod+"_payments("+string(uid(fxPod))+")", time.Minute, 12),
		fxEvent("api-unhealthy", fxNS, podRef, corev1.EventTypeWarning, "Unhealthy", "kubelet",
			"Liveness probe failed: HTTP probe failed with statuscode: 500", 5*time.Minute, 3),
		// An earlier pod of the same name: not this pod's event.
		fxEvent("api-old-mount", fxNS, oldPodRef, corev1.EventTypeWarning, "FailedMount", "kubelet",
			`MountVolume.SetUp failed for volume "config" : configmap "api-config-old" not found`, 3*time.Hour, 1),
		fxEvent("other-backoff", fxNS, ref("Pod", "v1", fxOtherPod), corev1.EventTypeWarning, "BackOff", "kubelet",
			"Back-off restarting failed container api in pod "+fxOtherPod+"_payments("+string(uid(fxOtherPod))+")", 2*time.Minute, 2),
		fxEvent("api-scaled", fxNS, ref("Deployment", "apps/v1", fxDeploy), corev1.EventTypeNormal, "ScalingReplicaSet", "deployment-controller",
			"Scaled up replica set "+fxRS+" from 0 to 3", 2*time.Hour, 1),
		fxEvent("rs-created", fxNS, ref("ReplicaSet", "apps/v1", fxRS), corev1.EventTypeNormal, "SuccessfulCreate", "replicaset-controller",
			"Created pod: "+fxPod, 2*time.Hour, 1),
		fxEvent("ledger-failed", fxNS, ref("StatefulSet", "apps/v1", fxSTS), corev1.EventTypeWarning, "FailedCreate", "statefulset-controller",
			`create Pod ledger-0 in StatefulSet ledger failed error: pods "ledger-0" is forbidden: exceeded quota: compute-resources, requested: limits.memory=2Gi, used: limits.memory=7Gi, limited: limits.memory=8Gi`, 4*time.Minute, 9),
		fxEvent("agent-created", fxNS, ref("DaemonSet", "apps/v1", fxDS), corev1.EventTypeNormal, "SuccessfulCreate", "daemonset-controller",
			"Created pod: log-agent-7xk2p", 47*time.Hour, 1),
		fxEvent("job-created", fxNS, ref("Job", "batch/v1", fxJob), corev1.EventTypeNormal, "SuccessfulCreate", "job-controller",
			"Created pod: "+fxJob+"-abcde", 10*time.Minute, 1),
		fxEvent("cj-created", fxNS, ref("CronJob", "batch/v1", fxCronJob), corev1.EventTypeNormal, "SuccessfulCreate", "cronjob-controller",
			"Created job "+fxJob, 10*time.Minute, 1),
		fxEvent("svc-lb", fxNS, ref("Service", "v1", fxService), corev1.EventTypeNormal, "EnsuringLoadBalancer", "service-controller",
			"Ensuring load balancer", 20*time.Minute, 1),
		fxEvent("pvc-wait", fxNS, ref("PersistentVolumeClaim", "v1", fxPVC), corev1.EventTypeNormal, "WaitForFirstConsumer", "persistentvolume-controller",
			"waiting for first consumer to be created before binding", 4*time.Minute, 15),
		// Node events live in "default": the kubelet's with the node's name
		// as UID, the node controller's with its UID.
		fxEvent("node-memory", "default", nodeByName, corev1.EventTypeNormal, "NodeHasSufficientMemory", "kubelet",
			"Node "+fxNode+" status is now: NodeHasSufficientMemory", 47*time.Hour, 1),
		fxEvent("node-disk", "default", nodeByName, corev1.EventTypeWarning, "InvalidDiskCapacity", "kubelet",
			"invalid capacity 0 on image filesystem", 47*time.Hour, 1),
		fxEvent("node-notready", "default", ref("Node", "", fxNode), corev1.EventTypeNormal, "NodeNotReady", "node-controller",
			"Node "+fxNode+" status is now: NodeNotReady", 3*time.Minute, 1),
	}

	objs := []runtime.Object{
		&corev1.Namespace{ObjectMeta: nsMeta, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
		&corev1.Node{
			ObjectMeta: fxNodeMeta,
			Status: corev1.NodeStatus{
				Capacity: capacity, Allocatable: capacity,
				Conditions: []corev1.NodeCondition{{
					Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status",
					LastHeartbeatTime: metav1.NewTime(fxNow), LastTransitionTime: metav1.NewTime(fxNow.Add(-47 * time.Hour)),
				}},
				Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.11"}},
			},
		},
		deploy, rs, pod, other, sts, ds, cj, job, svc, pvc, cm, secret,
	}
	return append(objs, events...)
}
