// Package deploy holds no code: its tests check the project's deployment
// files offline, where no cluster or Docker engine is at hand.
//
//   - kubernetes_test.go renders every kustomize overlay with
//     `kubectl kustomize`, decodes each object strictly into its k8s.io/api
//     type and checks the pod against the agent's Kubernetes guide.
//   - compose_test.go loads docker-compose.yml (and its TCP variant) with
//     compose-go, as `docker compose` does.
//   - dockerfile_test.go parses the Dockerfile with BuildKit's parser.
//   - podemu_test.go runs podemu/run.sh: both binaries in bubblewrap
//     sandboxes that mimic the pod (read-only root, shared /sigsci/tmp).
//
// Run them from this directory (a module of its own, so that the
// Kubernetes, compose and BuildKit dependencies stay out of the main module):
//
//	cd deploy && go test ./...
package deploy
