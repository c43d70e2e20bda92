//go:build tools

// Package tools pins helm v3 for scripts/install-tools.sh. It is its own
// module so that helm's dependency graph cannot move the versions that the
// Kubernetes control-plane binaries in ../go.mod are built with.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
