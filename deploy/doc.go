// Package deploy holds no code: its tests check the project's deployment
// files offline, where no cluster or Docker engine is at hand.
//
//   - kubernetes_test.go renders every kustomize overlay (and combinations
//     of components) with kustomize's Go API, decodes each object strictly
//     into its k8s.io/api type and checks the pod against the agent's
//     Kubernetes guide.
//   - compose_test.go loads docker-compose.yml (and its TCP variant) with
//     compose-go, as `docker compose` does.
//   - dockerfile_test.go parses the Dockerfile with BuildKit's parser.
//   - podemu_test.go runs podemu/run.sh: both binaries in bubblewrap
//     sandboxes that mimic the pod (read-only root, shared /sigsci/tmp).
//
// The real-thing checks are scripts run by make (as root): images/build.sh
// (make test-images), compose/run.sh (make test-compose) and k8s/run.sh
// (make test-k8s, the k8snode-tagged suite in package k8s on a real node).
//
// Run them from this directory (a module of its own, so that the
// Kubernetes, compose and BuildKit dependencies stay out of the main module):
//
//	cd deploy && go test ./...
package deploy
