//go:build tools

// Package apiserver pins the commands this module builds; it has no code of its own.
package apiserver

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
