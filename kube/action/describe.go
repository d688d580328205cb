package action

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/describe"
)

// Describe returns `kubectl describe` output for a pod or node, produced by
// kubectl's own describe package so it reads exactly as on-call engineers
// know it.
func Describe(client kubernetes.Interface, kind, namespace, name string) (string, error) {
	settings := describe.DescriberSettings{ShowEvents: true, ChunkSize: 500}
	switch kind {
	case "Pod", "pod":
		return (&describe.PodDescriber{Interface: client}).Describe(namespace, name, settings)
	case "Node", "node":
		return (&describe.NodeDescriber{Interface: client}).Describe("", name, settings)
	}
	return "", fmt.Errorf("describe: unsupported kind %q", kind)
}
