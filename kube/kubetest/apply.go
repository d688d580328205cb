package kubetest

import (
	"context"
	"errors"
	"fmt"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// Applied is what ApplyScenario created.
type Applied struct {
	Scenario string
	// UIDs maps the scenario's object UIDs to the UIDs the server assigned.
	UIDs map[types.UID]types.UID
	// Objects lists the objects in creation order.
	Objects []AppliedObject
}

// AppliedObject is one object ApplyScenario created (or found: namespaces,
// nodes and other cluster-scoped objects shared between scenarios).
type AppliedObject struct {
	Kind        string
	Namespace   string
	Name        string
	UID         types.UID // on the server
	ScenarioUID types.UID // in objects.yaml
}

// Pods returns the applied pods.
func (a *Applied) Pods() []AppliedObject {
	var out []AppliedObject
	for _, o := range a.Objects {
		if o.Kind == "Pod" {
			out = append(out, o)
		}
	}
	return out
}

// kindOrder creates owners before what they own and events last, so
// ownerReferences and involvedObject UIDs can be rewritten to server UIDs.
var kindOrder = map[string]int{
	"Namespace": 0, "Node": 1,
	"PriorityClass": 2, "StorageClass": 2, "PersistentVolume": 2, "ClusterRole": 2, "ClusterRoleBinding": 2, "RuntimeClass": 2,
	"ServiceAccount": 3, "Secret": 3, "ConfigMap": 3, "ResourceQuota": 3, "LimitRange": 3, "Role": 3, "RoleBinding": 3,
	"PersistentVolumeClaim": 4, "Service": 4,
	"Deployment": 6, "StatefulSet": 6, "DaemonSet": 6, "CronJob": 6,
	"ReplicaSet": 7, "Job": 7, "ControllerRevision": 7,
	"HorizontalPodAutoscaler": 8, "PodDisruptionBudget": 8,
	"Pod":       9,
	"Endpoints": 10, "EndpointSlice": 10, // after pods: they name them in targetRef
	"Event": 20,
}

const otherKinds = 5 // NetworkPolicy, Ingress, …: after services, before workloads

func rank(kind string) int {
	if r, ok := kindOrder[kind]; ok {
		return r
	}
	return otherKinds
}

// ApplyScenario replays a scenario into the server for real, its timestamps
// shifted so the newest is now. Metadata the server owns (creationTimestamp,
// uid, resourceVersion, generation) is the server's; statuses are written
// with UpdateStatus exactly as the scenario has them, save the fields that
// must point at the harness (node addresses and kubelet port). Pods the
// scenario shows Terminating are created with their finalizers, then
// deleted, and stay Terminating. The scenario's logs are served by the fake
// kubelet, and its PodMetrics by the FakeMetrics ServeMetrics started
// (which must come first). Several scenarios can be applied to one server as long as their
// namespaced objects do not collide; namespaces, nodes and other
// cluster-scoped objects that already exist are reused.
func (s *Server) ApplyScenario(ctx context.Context, sc *facts.Scenario) (*Applied, error) {
	a := &Applied{Scenario: sc.Name, UIDs: map[types.UID]types.UID{}}
	ap, err := s.newApplier(a)
	if err != nil {
		return nil, fmt.Errorf("kubetest: apply %s: %w", sc.Name, err)
	}
	objs := sc.ShiftedTo(time.Now())
	sort.SliceStable(objs, func(i, j int) bool { return rank(facts.KindOf(objs[i])) < rank(facts.KindOf(objs[j])) })
	type deletion struct {
		gvr       schema.GroupVersionResource
		namespace string
		name      string
		uid       types.UID
		grace     *int64
		pod       bool
	}
	var deletions []deletion
	for _, o := range objs {
		kind := facts.KindOf(o)
		if pm, ok := o.(*metricsv1beta1.PodMetrics); ok {
			// Usage is not stored in etcd: metrics-server reports it.
			if err := s.ServePodMetrics(pm); err != nil {
				return a, fmt.Errorf("kubetest: apply %s: %w", sc.Name, err)
			}
			continue
		}
		terminating := o.GetDeletionTimestamp() != nil
		grace := o.GetDeletionGracePeriodSeconds()
		created, gvr, err := ap.apply(ctx, o)
		if err != nil {
			return a, fmt.Errorf("kubetest: apply %s: %s %s: %w", sc.Name, kind, objName(o), err)
		}
		if terminating && created != nil {
			deletions = append(deletions, deletion{gvr, created.GetNamespace(), created.GetName(), created.GetUID(), grace, kind == "Pod"})
		}
	}
	// Deletions come last: a Terminating namespace accepts no new objects.
	for i := len(deletions) - 1; i >= 0; i-- {
		d := deletions[i]
		if d.pod {
			s.kubelet.PinTerminating(d.uid)
		}
		uid := d.uid
		err := ap.resource(d.gvr, d.namespace).Delete(ctx, d.name, metav1.DeleteOptions{
			GracePeriodSeconds: d.grace,
			Preconditions:      &metav1.Preconditions{UID: &uid},
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return a, fmt.Errorf("kubetest: apply %s: delete %s %s/%s to make it Terminating: %w", sc.Name, d.gvr.Resource, d.namespace, d.name, err)
		}
	}
	s.kubelet.LoadLogs(sc.Logs)
	return a, nil
}

func objName(o facts.Object) string {
	if o.GetNamespace() == "" {
		return o.GetName()
	}
	return o.GetNamespace() + "/" + o.GetName()
}

// applier holds one ApplyScenario's clients and bookkeeping.
type applier struct {
	s          *Server
	a          *Applied
	dyn        dynamic.Interface
	mapper     meta.RESTMapper
	hasStatus  map[schema.GroupResource]bool
	namespaces map[string]bool
}

func (s *Server) newApplier(a *Applied) (*applier, error) {
	cfg := s.RESTConfig()
	cfg.QPS, cfg.Burst = -1, 0
	cfg.WarningHandler = rest.NoWarnings{} // "v1 Endpoints is deprecated" is the scenario's business
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc := memory.NewMemCacheClient(s.admin.Discovery())
	_, lists, err := disc.ServerGroupsAndResources()
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	hasStatus := map[schema.GroupResource]bool{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if res, ok := strings.CutSuffix(r.Name, "/status"); ok {
				hasStatus[schema.GroupResource{Group: gv.Group, Resource: res}] = true
			}
		}
	}
	return &applier{
		s: s, a: a, dyn: dyn,
		mapper:     restmapper.NewDeferredDiscoveryRESTMapper(disc),
		hasStatus:  hasStatus,
		namespaces: map[string]bool{},
	}, nil
}

func (ap *applier) resource(gvr schema.GroupVersionResource, namespace string) dynamic.ResourceInterface {
	if namespace == "" {
		return ap.dyn.Resource(gvr)
	}
	return ap.dyn.Resource(gvr).Namespace(namespace)
}

// apply creates one object and writes its status.
func (ap *applier) apply(ctx context.Context, o facts.Object) (*unstructured.Unstructured, schema.GroupVersionResource, error) {
	kind := facts.KindOf(o)
	gvk := o.GetObjectKind().GroupVersionKind()
	m, err := ap.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, schema.GroupVersionResource{}, err
	}
	gvr := m.Resource
	namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
	if namespaced && o.GetNamespace() == "" {
		o.SetNamespace(metav1.NamespaceDefault)
	}
	if !namespaced {
		o.SetNamespace("")
	}
	scenarioUID := o.GetUID()
	scenarioGen := o.GetGeneration()
	ap.prepare(o)

	u, err := toUnstructured(o)
	if err != nil {
		return nil, gvr, err
	}
	status, _, _ := unstructured.NestedMap(u.Object, "status")
	delete(u.Object, "status")
	if kind == "PodDisruptionBudget" && status == nil {
		status = map[string]any{} // fixStatus gives it an observedGeneration
	}

	if namespaced {
		if err := ap.ensureNamespace(ctx, o.GetNamespace()); err != nil {
			return nil, gvr, err
		}
	}
	ri := ap.resource(gvr, o.GetNamespace())
	created, err := ri.Create(ctx, u, metav1.CreateOptions{})
	if err != nil && kind == "Service" && apierrors.IsInvalid(err) && clearServiceAllocations(u) {
		// The captured cluster IP or node port is outside this server's
		// range or taken by another scenario: let the server allocate.
		created, err = ri.Create(ctx, u, metav1.CreateOptions{})
	}
	switch {
	case apierrors.IsAlreadyExists(err) && !namespaced:
		// Namespaces, nodes, storage classes… may be shared by scenarios.
		created, err = ri.Get(ctx, o.GetName(), metav1.GetOptions{})
	case apierrors.IsAlreadyExists(err) && kind == "ServiceAccount" && o.GetName() == "default":
		// ensureNamespace made it; the scenario's (imagePullSecrets…) wins.
		created, err = ri.Get(ctx, o.GetName(), metav1.GetOptions{})
		if err == nil {
			u.SetResourceVersion(created.GetResourceVersion())
			created, err = ri.Update(ctx, u, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return nil, gvr, err
	}
	if kind == "Namespace" {
		if err := ap.ensureNamespace(ctx, created.GetName()); err != nil {
			return nil, gvr, err
		}
	}
	if (len(status) > 0 || kind == "PodDisruptionBudget") && kind != "Namespace" && ap.hasStatus[gvr.GroupResource()] {
		fixStatus(kind, status, scenarioGen, created)
		created.Object["status"] = status
		updated, err := ri.UpdateStatus(ctx, created, metav1.UpdateOptions{})
		if err != nil {
			return nil, gvr, fmt.Errorf("update status: %w", err)
		}
		created = updated
	}
	if scenarioUID != "" {
		ap.a.UIDs[scenarioUID] = created.GetUID()
	}
	ap.a.Objects = append(ap.a.Objects, AppliedObject{
		Kind: kind, Namespace: created.GetNamespace(), Name: created.GetName(),
		UID: created.GetUID(), ScenarioUID: scenarioUID,
	})
	return created, gvr, nil
}

// ensureNamespace creates a namespace the scenario uses, and the default
// ServiceAccount a real cluster's controller-manager would put in it (the
// ServiceAccount admission plugin is disabled, so pods naming other service
// accounts load too, but tools look for "default").
func (ap *applier) ensureNamespace(ctx context.Context, name string) error {
	if ap.namespaces[name] {
		return nil
	}
	c := ap.s.admin.CoreV1()
	_, err := c.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	_, err = c.ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: default service account: %w", name, err)
	}
	ap.namespaces[name] = true
	return nil
}

// prepare clears server-owned metadata and rewrites references to
// scenario UIDs into server UIDs.
func (ap *applier) prepare(o facts.Object) {
	o.SetUID("")
	o.SetResourceVersion("")
	o.SetGeneration(0)
	o.SetCreationTimestamp(metav1.Time{})
	o.SetDeletionTimestamp(nil)
	o.SetDeletionGracePeriodSeconds(nil)
	o.SetManagedFields(nil)
	o.SetSelfLink("")
	refs := o.GetOwnerReferences()
	for i := range refs {
		refs[i].UID = ap.uid(refs[i].UID)
	}
	o.SetOwnerReferences(refs)
	// Labels holding an owner's UID (a Job's controller-uid) follow it.
	if labels := o.GetLabels(); len(labels) > 0 {
		for k, v := range labels {
			if uid, ok := ap.a.UIDs[types.UID(v)]; ok {
				labels[k] = string(uid)
			}
		}
		o.SetLabels(labels)
	}
	switch obj := o.(type) {
	case *corev1.Node:
		wireNode(obj, ap.s.kubelet.Port())
	case *batchv1.Job:
		unpinJobSelector(obj)
	case *corev1.Event:
		if obj.Name == "" && obj.GenerateName == "" {
			obj.GenerateName = obj.InvolvedObject.Name + "."
		}
		ref := &obj.InvolvedObject
		ref.UID = ap.uidOf(ref.Kind, ref.Namespace, ref.Name, ref.UID)
		if r := obj.Related; r != nil {
			r.UID = ap.uidOf(r.Kind, r.Namespace, r.Name, r.UID)
		}
	case *corev1.Endpoints:
		for i := range obj.Subsets {
			for _, addrs := range [][]corev1.EndpointAddress{obj.Subsets[i].Addresses, obj.Subsets[i].NotReadyAddresses} {
				for j := range addrs {
					if r := addrs[j].TargetRef; r != nil {
						r.UID = ap.uidOf(r.Kind, r.Namespace, r.Name, r.UID)
					}
				}
			}
		}
	case *discoveryv1.EndpointSlice:
		for i := range obj.Endpoints {
			if r := obj.Endpoints[i].TargetRef; r != nil {
				r.UID = ap.uidOf(r.Kind, r.Namespace, r.Name, r.UID)
			}
		}
	}
}

// uid maps a scenario UID to the server's, leaving unknown ones (dangling
// owners, which the API server accepts) as they are.
func (ap *applier) uid(u types.UID) types.UID {
	if v, ok := ap.a.UIDs[u]; ok {
		return v
	}
	return u
}

// uidOf maps a reference by UID, else by the object it names.
func (ap *applier) uidOf(kind, namespace, name string, u types.UID) types.UID {
	if v, ok := ap.a.UIDs[u]; ok {
		return v
	}
	for _, o := range ap.a.Objects {
		if o.Kind == kind && o.Name == name && (o.Namespace == namespace || o.Namespace == "") {
			return o.UID
		}
	}
	return u
}

// wireNode points a node at the fake kubelet: the API server reaches a
// node's kubelet at its InternalIP and daemonEndpoints port. Other address
// types are kept for display. The WebSocket feature is dropped from the
// declared features, so the API server translates WebSocket exec to SPDY
// itself instead of expecting the kubelet to (cri-streaming cannot).
func wireNode(n *corev1.Node, port int) {
	addrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			addrs = append(addrs, a)
		}
	}
	n.Status.Addresses = addrs
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	var feats []string
	for _, f := range n.Status.DeclaredFeatures {
		if f != "ExtendWebSocketsToKubelet" {
			feats = append(feats, f)
		}
	}
	n.Status.DeclaredFeatures = feats
}

// unpinJobSelector drops a captured Job's generated selector and
// controller-uid labels: the server refuses a selector it did not generate
// (unless manualSelector) and generates them again for the new UID. The
// Job's pods get their controller-uid label rewritten by UID mapping.
func unpinJobSelector(j *batchv1.Job) {
	if j.Spec.ManualSelector != nil && *j.Spec.ManualSelector {
		return
	}
	j.Spec.Selector = nil
	for _, k := range []string{"controller-uid", batchv1.ControllerUidLabel} {
		delete(j.Spec.Template.Labels, k)
	}
}

// clearServiceAllocations removes the cluster IPs and node ports the server
// allocates; it reports whether there was anything to clear.
func clearServiceAllocations(u *unstructured.Unstructured) bool {
	spec, ok := u.Object["spec"].(map[string]any)
	if !ok {
		return false
	}
	changed := false
	if ip, _ := spec["clusterIP"].(string); ip != "" && ip != corev1.ClusterIPNone {
		delete(spec, "clusterIP")
		delete(spec, "clusterIPs")
		changed = true
	}
	if _, ok := spec["healthCheckNodePort"]; ok {
		delete(spec, "healthCheckNodePort")
		changed = true
	}
	if ports, ok := spec["ports"].([]any); ok {
		for _, p := range ports {
			if pm, ok := p.(map[string]any); ok {
				if _, ok := pm["nodePort"]; ok {
					delete(pm, "nodePort")
					changed = true
				}
			}
		}
	}
	return changed
}

// fixStatus adapts a captured status to the object as created: generations
// restart at 1 here, so observedGeneration keeps its lag behind generation
// (a rollout in progress stays in progress); a PDB without one gets
// observedGeneration = generation, or evictions would wait for a disruption
// controller that does not exist; a pod's QoS class is the server's (it may
// not change).
func fixStatus(kind string, status map[string]any, scenarioGen int64, created *unstructured.Unstructured) {
	gen := created.GetGeneration()
	if obs, ok := status["observedGeneration"].(int64); ok {
		lag := int64(0)
		if scenarioGen > 0 {
			lag = max(scenarioGen-obs, 0)
		}
		status["observedGeneration"] = max(gen-lag, 0)
	} else if kind == "PodDisruptionBudget" {
		status["observedGeneration"] = gen
	}
	if kind == "Pod" {
		if qos, ok, _ := unstructured.NestedString(created.Object, "status", "qosClass"); ok {
			status["qosClass"] = qos
		}
	}
}

func toUnstructured(o facts.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	gvk := o.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" {
		return nil, errors.New("object has no kind")
	}
	u.SetAPIVersion(gvk.GroupVersion().String())
	u.SetKind(gvk.Kind)
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}

// CreateNode creates a node served by the fake kubelet (Ready unless the
// node's conditions say otherwise) and returns it as stored.
func (s *Server) CreateNode(ctx context.Context, node *corev1.Node) (*corev1.Node, error) {
	n := node.DeepCopy()
	if len(n.Status.Conditions) == 0 {
		now := metav1.Now()
		n.Status.Conditions = []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message: "kubelet is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now,
		}}
	}
	wireNode(n, s.kubelet.Port())
	status := n.Status
	created, err := s.admin.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("kubetest: create node %s: %w", n.Name, err)
	}
	created.Status = status
	updated, err := s.admin.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("kubetest: node %s status: %w", n.Name, err)
	}
	return updated, nil
}
