// Package kustomize renders kustomizations in-process with kustomize's Go
// API (sigs.k8s.io/kustomize/api/krusty), the library `kubectl kustomize`
// is built on, so that the deployment tests need no kubectl binary.
package kustomize

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Render builds the kustomization in dir and returns its objects as one
// multi-document YAML stream, as `kubectl kustomize dir` prints them.
func Render(dir string) ([]byte, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: printing the objects: %w", dir, err)
	}
	return out, nil
}

// Overlay is a throw-away kustomization: Resources and Components are
// directories (kustomizations), Patches are inline patches applied last.
type Overlay struct {
	Namespace  string
	Resources  []string
	Components []string
	Patches    []Patch
}

// Patch is one inline patch: a strategic merge patch or a JSON 6902 patch
// (with Target), as in a kustomization's patches field.
type Patch struct {
	Kind, Name string // the target, for a JSON 6902 patch
	Patch      string
}

// Write writes o as kustomization.yaml into dir (which must exist), with
// the paths made relative to dir: kustomize accepts only relative paths to
// other kustomizations.
func (o Overlay) Write(dir string) error {
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
	if o.Namespace != "" {
		fmt.Fprintf(&b, "namespace: %s\n", o.Namespace)
	}
	list := func(field string, paths []string) error {
		if len(paths) == 0 {
			return nil
		}
		fmt.Fprintf(&b, "%s:\n", field)
		for _, p := range paths {
			abs, err := filepath.Abs(p)
			if err != nil {
				return fmt.Errorf("resolving %s: %w", p, err)
			}
			rel, err := filepath.Rel(dir, abs)
			if err != nil {
				return fmt.Errorf("making %s relative to %s: %w", abs, dir, err)
			}
			fmt.Fprintf(&b, "  - %s\n", filepath.ToSlash(rel))
		}
		return nil
	}
	if err := list("resources", o.Resources); err != nil {
		return err
	}
	if err := list("components", o.Components); err != nil {
		return err
	}
	if len(o.Patches) > 0 {
		b.WriteString("patches:\n")
		for _, p := range o.Patches {
			b.WriteString("  - patch: |-\n")
			for _, line := range strings.Split(strings.TrimRight(p.Patch, "\n"), "\n") {
				fmt.Fprintf(&b, "      %s\n", line)
			}
			if p.Kind != "" {
				fmt.Fprintf(&b, "    target:\n      kind: %s\n      name: %s\n", p.Kind, p.Name)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the kustomization in %s: %w", dir, err)
	}
	return nil
}
