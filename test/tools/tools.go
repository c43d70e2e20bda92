//go:build tools

// Package tools pins the Kubernetes control-plane binaries that the envtest
// harness (test/envtest) runs: etcd, kube-apiserver, kube-controller-manager
// and kubectl. scripts/install-tools.sh builds them from this module with
// `go build`, so the versions come from go.mod and go.sum here.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
