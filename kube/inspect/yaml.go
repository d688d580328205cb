package inspect

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// YAMLOptions says how YAML prints an object.
type YAMLOptions struct {
	// RevealSecrets prints a Secret's values. Off, every value of data and
	// stringData is replaced by a marker that keeps the key and says how
	// long the value is, and the last-applied-configuration annotation
	// (which holds the values in plain text) is dropped. The caller decides
	// when a user may reveal: never in read-only mode.
	RevealSecrets bool
}

// RedactedMarker is what a Secret's value becomes when not revealed.
func RedactedMarker(n int) string { return fmt.Sprintf("<redacted: %d bytes>", n) }

// YAML returns one object as `kubectl get -o yaml` prints it: apiVersion and
// kind set (typed clients leave them empty), keys in kubectl's order
// (sorted), metadata.managedFields left out as kubectl does by default, and
// a Secret's values redacted unless opts.RevealSecrets.
func YAML(ctx context.Context, client kubernetes.Interface, kind, namespace, name string, opts YAMLOptions) ([]byte, error) {
	t, err := resolve(kind, namespace, name)
	if err != nil {
		return nil, err
	}
	obj, err := t.kind.get(ctx, client, t.namespace, t.name)
	if err != nil {
		return nil, wrap("get", t, err)
	}
	// kubectl's YAML printer marshals the object to JSON and converts that
	// to YAML; the map in between is where fields are set and removed.
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", t, err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // integers stay exact, as kubectl prints them
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("get %s: %w", t, err)
	}
	gvk := t.kind.GroupVersionKind()
	m["apiVersion"], m["kind"] = gvk.GroupVersion().String(), gvk.Kind
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
	}
	if t.kind.Name == "Secret" && !opts.RevealSecrets {
		if err := redactSecret(m); err != nil {
			return nil, fmt.Errorf("get %s: %w", t, err)
		}
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", t, err)
	}
	return out, nil
}

// redactSecret replaces every value of a Secret (as JSON: data base64,
// stringData plain) by a marker with its decoded length, and removes the
// annotation where `kubectl apply` keeps a plain copy of the whole object.
func redactSecret(m map[string]any) error {
	if data, ok := m["data"].(map[string]any); ok {
		for k, v := range data {
			s, _ := v.(string)
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return fmt.Errorf("data[%q] is not base64: %w", k, err)
			}
			data[k] = RedactedMarker(len(b))
		}
	}
	if sd, ok := m["stringData"].(map[string]any); ok {
		for k, v := range sd {
			s, _ := v.(string)
			sd[k] = RedactedMarker(len(s))
		}
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		if ann, ok := md["annotations"].(map[string]any); ok {
			delete(ann, corev1.LastAppliedConfigAnnotation)
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
	}
	return nil
}
