package inspect

import (
	"context"
	"fmt"
	"reflect"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/kubectl/pkg/describe"
)

// settings are kubectl describe's defaults: events shown, lists paged by 500.
func settings() describe.DescriberSettings {
	return describe.DescriberSettings{ShowEvents: true, ChunkSize: pageSize}
}

// Describe returns `kubectl describe` for one object, written by kubectl's
// own describer for its kind, exactly as kubectl prints it.
//
// It works on any clientset, the demo's fake one included. kubectl builds
// its describers from a *rest.Config (DescriberFor); a fake clientset has
// none, so Describe builds the same describer structs around the client it
// is given. Three of them (Deployment, StatefulSet, CronJob) keep their
// client in an unexported field with no constructor but DescriberFor; for
// those the field is set by reflection (see withClient). With a real
// cluster, DescribeWithConfig goes through DescriberFor for every kind.
func Describe(client kubernetes.Interface, kind, namespace, name string) (string, error) {
	t, err := resolve(kind, namespace, name)
	if err != nil {
		return "", err
	}
	d, err := describerFor(t.kind, selectingClient{client})
	if err != nil {
		return "", fmt.Errorf("describe %s: %w", t, err)
	}
	out, err := d.Describe(t.namespace, t.name, settings())
	if err != nil {
		return "", wrap("describe", t, err)
	}
	return out, nil
}

// DescribeWithConfig is Describe for a real cluster, with the describer
// kubectl itself picks: describe.DescriberFor(kind, config).
func DescribeWithConfig(config *rest.Config, kind, namespace, name string) (string, error) {
	t, err := resolve(kind, namespace, name)
	if err != nil {
		return "", err
	}
	d, ok := describe.DescriberFor(t.kind.GroupKind(), config)
	if !ok {
		return "", fmt.Errorf("describe %s: kubectl has no describer for %s (or the client config is invalid)", t, t.kind.GroupKind())
	}
	out, err := d.Describe(t.namespace, t.name, settings())
	if err != nil {
		return "", wrap("describe", t, err)
	}
	return out, nil
}

// describerFor is describe.DescriberFor's table for the kinds inspect reads,
// around a clientset instead of a rest.Config.
func describerFor(k Kind, c kubernetes.Interface) (describe.ResourceDescriber, error) {
	switch k.Name {
	case "Pod":
		return &describe.PodDescriber{Interface: c}, nil
	case "Deployment":
		return withClient(&describe.DeploymentDescriber{}, c)
	case "StatefulSet":
		return withClient(&describe.StatefulSetDescriber{}, c)
	case "DaemonSet":
		return &describe.DaemonSetDescriber{Interface: c}, nil
	case "ReplicaSet":
		return &describe.ReplicaSetDescriber{Interface: c}, nil
	case "Job":
		return &describe.JobDescriber{Interface: c}, nil
	case "CronJob":
		return withClient(&describe.CronJobDescriber{}, c)
	case "Node":
		return &describe.NodeDescriber{Interface: c}, nil
	case "Namespace":
		return &describe.NamespaceDescriber{Interface: c}, nil
	case "Service":
		return &describe.ServiceDescriber{Interface: c}, nil
	case "PersistentVolumeClaim":
		return &describe.PersistentVolumeClaimDescriber{Interface: c}, nil
	case "ConfigMap":
		return &describe.ConfigMapDescriber{Interface: c}, nil
	case "Secret":
		// kubectl's Secret describer prints each key's size, never its value.
		return &describe.SecretDescriber{Interface: c}, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnsupportedKind, k.Name)
}

// clientType is the type of the field withClient sets.
var clientType = reflect.TypeFor[kubernetes.Interface]()

// withClient sets the unexported `client kubernetes.Interface` field of a
// kubectl describer (DeploymentDescriber, StatefulSetDescriber,
// CronJobDescriber: kubectl v0.37 fills it only inside DescriberFor, from a
// rest.Config). Should a kubectl upgrade rename or retype the field, this
// returns an error rather than panicking, and the tests fail.
func withClient[D describe.ResourceDescriber](d D, c kubernetes.Interface) (D, error) {
	v := reflect.ValueOf(d)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return d, fmt.Errorf("kubectl's %T is not a struct pointer", d)
	}
	f := v.Elem().FieldByName("client")
	if !f.IsValid() || f.Type() != clientType {
		return d, fmt.Errorf("kubectl's %T has no client field of type %s: describe it with DescribeWithConfig", d, clientType)
	}
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(reflect.ValueOf(&c).Elem())
	return d, nil
}

// selectingClient applies the field selectors of event and pod lists on the
// client side too. The API server has applied them already, so against a
// cluster this changes nothing; the fake clientset behind the demo ignores
// field selectors, and without this a pod's describe would list every event
// of its namespace and a node's describe every pod of the cluster.
type selectingClient struct{ kubernetes.Interface }

func (c selectingClient) CoreV1() corev1client.CoreV1Interface {
	return selectingCore{c.Interface.CoreV1()}
}

type selectingCore struct{ corev1client.CoreV1Interface }

func (c selectingCore) Events(namespace string) corev1client.EventInterface {
	return selectingEvents{c.CoreV1Interface.Events(namespace)}
}

func (c selectingCore) Pods(namespace string) corev1client.PodInterface {
	return selectingPods{c.CoreV1Interface.Pods(namespace)}
}

type selectingEvents struct{ corev1client.EventInterface }

// GetFieldSelector builds the selector kubectl's describers search events
// with. The fake clientset's answers "everything"; this is client-go's real
// one (typed/core/v1/event_expansion.go).
func (e selectingEvents) GetFieldSelector(name, namespace, kind, uid *string) fields.Selector {
	set := fields.Set{}
	for field, v := range map[string]*string{
		"involvedObject.name": name, "involvedObject.namespace": namespace,
		"involvedObject.kind": kind, "involvedObject.uid": uid,
	} {
		if v != nil {
			set[field] = *v
		}
	}
	return set.AsSelector()
}

func (e selectingEvents) List(ctx context.Context, opts metav1.ListOptions) (*corev1.EventList, error) {
	list, err := e.EventInterface.List(ctx, opts)
	if err != nil || opts.FieldSelector == "" {
		return list, err
	}
	sel, err := fields.ParseSelector(opts.FieldSelector)
	if err != nil {
		return list, nil // the server took it; keep its answer
	}
	kept := list.Items[:0]
	for _, ev := range list.Items {
		if sel.Matches(eventFields(&ev)) {
			kept = append(kept, ev)
		}
	}
	list.Items = kept
	return list, nil
}

type selectingPods struct{ corev1client.PodInterface }

func (p selectingPods) List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error) {
	list, err := p.PodInterface.List(ctx, opts)
	if err != nil || opts.FieldSelector == "" {
		return list, err
	}
	sel, err := fields.ParseSelector(opts.FieldSelector)
	if err != nil {
		return list, nil
	}
	kept := list.Items[:0]
	for _, pod := range list.Items {
		if sel.Matches(podFields(&pod)) {
			kept = append(kept, pod)
		}
	}
	list.Items = kept
	return list, nil
}

// podFields are the fields the API server lets a field selector on pods name
// (k8s.io/kubernetes pkg/registry/core/pod ToSelectableFields).
func podFields(p *corev1.Pod) fields.Set {
	hostNetwork := "false"
	if p.Spec.HostNetwork {
		hostNetwork = "true"
	}
	podIP := ""
	if len(p.Status.PodIPs) > 0 {
		podIP = p.Status.PodIPs[0].IP
	}
	return fields.Set{
		"metadata.name":            p.Name,
		"metadata.namespace":       p.Namespace,
		"spec.nodeName":            p.Spec.NodeName,
		"spec.restartPolicy":       string(p.Spec.RestartPolicy),
		"spec.schedulerName":       p.Spec.SchedulerName,
		"spec.serviceAccountName":  p.Spec.ServiceAccountName,
		"spec.hostNetwork":         hostNetwork,
		"status.phase":             string(p.Status.Phase),
		"status.podIP":             podIP,
		"status.nominatedNodeName": p.Status.NominatedNodeName,
	}
}
