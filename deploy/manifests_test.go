package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/seed-a2a44e50/ngwaf-helloworld/deploy/internal/kustomize"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	k8sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// manifests holds the objects of one kustomize build, by kind and name.
type manifests struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	secrets     map[string]*corev1.Secret
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs        map[string]*policyv1.PodDisruptionBudget
	policies    map[string]*networkingv1.NetworkPolicy
}

// render builds the kustomization in dir with kustomize's Go API (what
// `kubectl kustomize` runs) and decodes its output strictly.
func render(t *testing.T, dir string) manifests {
	t.Helper()
	out, err := kustomize.Render(dir)
	require.NoError(t, err)
	m, err := decodeManifests(out)
	require.NoErrorf(t, err, "decoding the objects of %s", dir)
	return m
}

// readTree reads every file under root, except the directories skip
// matches, so that `go test` counts them among the test's inputs and reruns
// the test when one changes even though a child process uses them.
func readTree(t *testing.T, root string, skip func(path string) bool) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != root && skip != nil && skip(path):
			return filepath.SkipDir
		case d.Type().IsRegular():
			_, err = os.ReadFile(path)
			return err
		}
		return nil
	})
	require.NoError(t, err, "reading the test's inputs under %s", root)
}

// renderComponents builds base plus the named components (in order) from a
// throw-away kustomization, the way a user combines them in an overlay.
func renderComponents(t *testing.T, components ...string) manifests {
	t.Helper()
	o := kustomize.Overlay{Resources: []string{filepath.Join("kubernetes", "base")}}
	for _, c := range components {
		o.Components = append(o.Components, filepath.Join("kubernetes", "components", c))
	}
	dir := t.TempDir()
	require.NoError(t, o.Write(dir))
	return render(t, dir)
}

// decodeManifests splits a multi-document YAML stream and decodes every
// document into its k8s.io/api type. Unknown fields, duplicate keys and kinds
// this package does not expect are errors: kubectl kustomize does not check
// fields against the API schema, so a misspelt field would otherwise be
// dropped silently by the API server.
func decodeManifests(stream []byte) (manifests, error) {
	m := manifests{
		deployments: map[string]*appsv1.Deployment{},
		services:    map[string]*corev1.Service{},
		secrets:     map[string]*corev1.Secret{},
		hpas:        map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		pdbs:        map[string]*policyv1.PodDisruptionBudget{},
		policies:    map[string]*networkingv1.NetworkPolicy{},
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return m, fmt.Errorf("reading document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return m, fmt.Errorf("document %d is not valid YAML: %w", i, err)
		}
		var tm metav1.TypeMeta
		if err := json.Unmarshal(js, &tm); err != nil {
			return m, fmt.Errorf("document %d: reading apiVersion and kind: %w", i, err)
		}
		gvk := tm.GroupVersionKind()
		var name string
		switch gvk {
		case appsv1.SchemeGroupVersion.WithKind("Deployment"):
			var o appsv1.Deployment
			err, name = decodeStrict(js, &o), o.Name
			m.deployments[o.Name] = &o
		case corev1.SchemeGroupVersion.WithKind("Service"):
			var o corev1.Service
			err, name = decodeStrict(js, &o), o.Name
			m.services[o.Name] = &o
		case corev1.SchemeGroupVersion.WithKind("Secret"):
			var o corev1.Secret
			err, name = decodeStrict(js, &o), o.Name
			m.secrets[o.Name] = &o
		case autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"):
			var o autoscalingv2.HorizontalPodAutoscaler
			err, name = decodeStrict(js, &o), o.Name
			m.hpas[o.Name] = &o
		case policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"):
			var o policyv1.PodDisruptionBudget
			err, name = decodeStrict(js, &o), o.Name
			m.pdbs[o.Name] = &o
		case networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"):
			var o networkingv1.NetworkPolicy
			err, name = decodeStrict(js, &o), o.Name
			m.policies[o.Name] = &o
		default:
			return m, fmt.Errorf("document %d: unexpected kind %s", i, gvk)
		}
		if err != nil {
			return m, fmt.Errorf("document %d (%s %q): %w", i, gvk.Kind, name, err)
		}
	}
}

// decodeStrict decodes one JSON object into v the way the API server does
// in strict mode: field names match case-sensitively (encoding/json alone
// would accept "readOnlyRootFileSystem"), and unknown or duplicate fields
// are errors.
func decodeStrict(js []byte, v any) error {
	strict, err := k8sjson.UnmarshalStrict(js, v, k8sjson.DisallowUnknownFields, k8sjson.DisallowDuplicateFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

func TestDecodeManifests(t *testing.T) {
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: c
          image: busybox:1
          securityContext:
            %s: true
`
	tests := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{"a valid Deployment decodes", fmt.Sprintf(deployment, "readOnlyRootFilesystem"), ""},
		{"a misspelt field is an error", fmt.Sprintf(deployment, "readOnlyRootFS"), "unknown field"},
		{"a field in the wrong case is an error", fmt.Sprintf(deployment, "readOnlyRootFileSystem"), "unknown field"},
		{"a duplicate key is an error", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nmetadata: {name: b}\n", "already set"},
		{"an unexpected kind is an error", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", "unexpected kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeManifests([]byte("---\n" + tt.doc))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
