package facts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// decoding is client-go's scheme plus metrics.k8s.io, whose PodMetrics
// (`kubectl get podmetrics -o yaml`) a dump may hold next to its pods.
var decoding = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(scheme.AddToScheme(s))
	utilruntime.Must(metricsv1beta1.AddToScheme(s))
	return s
}()

var decoder = serializer.NewCodecFactory(decoding).UniversalDeserializer()

// Object is a typed Kubernetes API object with metadata.
type Object interface {
	metav1.Object
	runtime.Object
}

// DecodeObjects parses YAML or JSON holding one object, a `kind: List` (as
// `kubectl get -o yaml` prints it) or several YAML documents, into typed
// objects. Every object gets its TypeMeta set so callers can switch on kind.
func DecodeObjects(data []byte) ([]Object, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []Object
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: not valid YAML or JSON: %s", doc, firstLine(err.Error()))
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		objs, err := decodeOne(raw)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		out = append(out, objs...)
	}
}

func decodeOne(raw []byte) ([]Object, error) {
	var tm metav1.TypeMeta
	if err := json.Unmarshal(raw, &tm); err != nil {
		return nil, fmt.Errorf("not a Kubernetes object: %s", firstLine(err.Error()))
	}
	if tm.Kind == "" {
		return nil, errors.New("not a Kubernetes object: no kind")
	}
	if strings.HasSuffix(tm.Kind, "List") {
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("%s: %s", tm.Kind, firstLine(err.Error()))
		}
		var out []Object
		for i, item := range list.Items {
			objs, err := decodeOne(item)
			if err != nil {
				return nil, fmt.Errorf("%s item %d: %w", tm.Kind, i, err)
			}
			out = append(out, objs...)
		}
		return out, nil
	}
	gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
	if !decoding.Recognizes(gvk) {
		return nil, &UnknownKindError{APIVersion: tm.APIVersion, Kind: tm.Kind}
	}
	obj, _, err := decoder.Decode(raw, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", tm.Kind, firstLine(err.Error()))
	}
	o, ok := obj.(Object)
	if !ok {
		return nil, fmt.Errorf("%s has no object metadata", tm.Kind)
	}
	o.GetObjectKind().SetGroupVersionKind(gvk)
	return []Object{o}, nil
}

// UnknownKindError reports an object kind kdoctor does not know.
type UnknownKindError struct{ APIVersion, Kind string }

func (e *UnknownKindError) Error() string {
	return fmt.Sprintf("unknown kind %q (apiVersion %q)", e.Kind, e.APIVersion)
}

func firstLine(s string) string { line, _, _ := strings.Cut(s, "\n"); return line }

// KindOf returns the object's kind ("Pod", "Event", …).
func KindOf(o runtime.Object) string {
	if k := o.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	gvks, _, err := decoding.ObjectKinds(o)
	if err != nil || len(gvks) == 0 {
		return ""
	}
	return gvks[0].Kind
}

// NewestTimestamp returns the latest timestamp held anywhere in objs.
func NewestTimestamp(objs []Object) time.Time {
	var newest time.Time
	for _, o := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			continue
		}
		walkTimes(m, func(t time.Time) time.Time {
			if t.After(newest) {
				newest = t
			}
			return t
		})
	}
	return newest
}

// ShiftTimestamps returns a deep copy of o with every timestamp moved by d.
func ShiftTimestamps(o Object, d time.Duration) Object {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return o.DeepCopyObject().(Object)
	}
	walkTimes(m, func(t time.Time) time.Time { return t.Add(d) })
	out := o.DeepCopyObject().(Object)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, out); err != nil {
		return o.DeepCopyObject().(Object)
	}
	out.GetObjectKind().SetGroupVersionKind(o.GetObjectKind().GroupVersionKind())
	return out
}

// walkTimes applies f to every RFC3339 timestamp under a key that names a time
// (creationTimestamp, lastTransitionTime, startedAt, eventTime, …).
func walkTimes(v any, f func(time.Time) time.Time) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && isTimeKey(k) {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					layout := time.RFC3339
					if strings.Contains(s, ".") {
						layout = metav1.RFC3339Micro
					}
					v[k] = f(t).UTC().Format(layout)
				}
				continue
			}
			walkTimes(x, f)
		}
	case []any:
		for _, x := range v {
			walkTimes(x, f)
		}
	}
}

func isTimeKey(k string) bool {
	return strings.HasSuffix(k, "Timestamp") || strings.HasSuffix(k, "Time") ||
		strings.HasSuffix(k, "At") || k == "renewTime" || k == "acquireTime"
}
