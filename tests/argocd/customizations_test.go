// Package argocd_test checks Airlock's Argo CD customizations with Argo CD's own code, as production runs
// them: argocd-cm-patch.yaml is read by Argo CD's settings manager, health goes through
// lua.ResourceHealthOverrides (what the application controller calls), discovery and actions through
// lua.VM with the overrides from argocd-cm (what the API server calls). Scripts from argocd-cm run without
// the Lua standard libraries; that is what is checked, not a copy of the sandbox.
//
// Every case of every health_test.yaml and action_test.yaml under manifests/argocd/airlock.dev is run, and
// results are compared exactly in both directions: no missing or extra action, field, key or annotation.
package argocd_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	applicationpkg "github.com/argoproj/argo-cd/v3/pkg/apiclient/application"
	appv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/lua"
	"github.com/argoproj/argo-cd/v3/util/settings"
	jsonpatch "github.com/evanphx/json-patch"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"
)

const argocdNamespace = "argocd"

var (
	root           = filepath.Join("..", "..")
	customizations = filepath.Join(root, "manifests", "argocd", "airlock.dev")
	configMapPatch = filepath.Join(root, "manifests", "argocd", "argocd-cm-patch.yaml")
)

// Argo CD's own test file formats (resource_customizations/*/*/health_test.yaml, actions/action_test.yaml),
// decoded strictly so that a misspelt key fails instead of being skipped.
type healthTests struct {
	Tests []struct {
		HealthStatus health.HealthStatus `json:"healthStatus"`
		InputPath    string              `json:"inputPath"`
	} `json:"tests"`
}

type actionTests struct {
	DiscoveryTests []struct {
		InputPath string                 `json:"inputPath"`
		Result    []appv1.ResourceAction `json:"result"`
	} `json:"discoveryTests"`
	ActionTests []struct {
		Action               string            `json:"action"`
		InputPath            string            `json:"inputPath"`
		ExpectedOutputPath   string            `json:"expectedOutputPath"`
		ExpectedErrorMessage string            `json:"expectedErrorMessage"`
		Parameters           map[string]string `json:"parameters"`
	} `json:"actionTests"`
}

func readStrict(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cannot read %s: %v", path, err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s does not follow Argo CD's test format: %v", path, err)
	}
}

func readObject(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cannot read %s: %v", path, err)
	}
	jsonData, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("%s is not YAML: %v", path, err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(jsonData); err != nil {
		t.Fatalf("%s is not a Kubernetes object: %v", path, err)
	}
	return obj
}

// resourceOverrides loads argocd-cm-patch.yaml into a ConfigMap named argocd-cm and reads it back through
// Argo CD's settings manager, which parses the resource.customizations.* keys the way the controller and
// the API server do.
func resourceOverrides(t *testing.T) map[string]appv1.ResourceOverride {
	t.Helper()
	data, err := os.ReadFile(configMapPatch)
	if err != nil {
		t.Fatalf("cannot read %s: %v", configMapPatch, err)
	}
	cm := &corev1.ConfigMap{}
	if err := yaml.UnmarshalStrict(data, cm); err != nil {
		t.Fatalf("%s is not a ConfigMap: %v", configMapPatch, err)
	}
	cm.Namespace = argocdNamespace
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name: "argocd-secret", Namespace: argocdNamespace,
		Labels: map[string]string{"app.kubernetes.io/part-of": "argocd"},
	}}
	clientset := fake.NewClientset(cm, secret)
	manager := settings.NewSettingsManager(t.Context(), clientset, argocdNamespace)
	overrides, err := manager.GetResourceOverrides()
	if err != nil {
		t.Fatalf("Argo CD's settings manager rejects %s: %v", configMapPatch, err)
	}
	return overrides
}

func TestTheConfigMapConfiguresBothKindsWithoutOpenLibraries(t *testing.T) {
	overrides := resourceOverrides(t)
	for _, key := range []string{"airlock.dev/AIService", "airlock.dev/ReadinessPacket"} {
		override, ok := overrides[key]
		if !ok || override.HealthLua == "" {
			t.Errorf("argocd-cm-patch.yaml gives no health check for %s; run hack/gen_argocd_cm.py", key)
		}
		if override.UseOpenLibs {
			t.Errorf("%s asks for the Lua standard libraries; the scripts must run without them", key)
		}
	}
	override := overrides["airlock.dev/AIService"]
	actions, err := override.GetActions()
	if err != nil {
		t.Fatalf("Argo CD cannot parse the AIService actions: %v", err)
	}
	var names []string
	for _, definition := range actions.Definitions {
		names = append(names, definition.Name)
	}
	sort.Strings(names)
	if want := []string{"kill", "restore"}; !reflect.DeepEqual(names, want) {
		t.Errorf("AIService action definitions are %v, want %v", names, want)
	}
	if actions.MergeBuiltinActions {
		t.Errorf("AIService actions merge built-in actions; there are none for this kind")
	}
}

func kindDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(customizations)
	if err != nil {
		t.Fatalf("cannot list %s: %v", customizations, err)
	}
	var dirs []string
	for _, entry := range entries {
		if entry.IsDir() {
			dirs = append(dirs, filepath.Join(customizations, entry.Name()))
		}
	}
	if len(dirs) == 0 {
		t.Fatalf("no kinds under %s", customizations)
	}
	return dirs
}

func TestHealthMatchesEveryHealthTestCaseExactly(t *testing.T) {
	overrides := lua.ResourceHealthOverrides(resourceOverrides(t))
	cases := 0
	for _, dir := range kindDirs(t) {
		var file healthTests
		readStrict(t, filepath.Join(dir, "health_test.yaml"), &file)
		for _, tc := range file.Tests {
			cases++
			name := filepath.Base(dir) + "/" + tc.InputPath
			t.Run(name, func(t *testing.T) {
				obj := readObject(t, filepath.Join(dir, tc.InputPath))
				got, err := overrides.GetResourceHealth(obj)
				if err != nil {
					t.Fatalf("health check fails: %v", err)
				}
				if got == nil {
					t.Fatalf("no health check applies to %s", obj.GroupVersionKind())
				}
				if *got != tc.HealthStatus {
					t.Errorf("health is %+v, want %+v", *got, tc.HealthStatus)
				}
			})
		}
	}
	if cases == 0 {
		t.Fatal("no health cases found")
	}
}

func TestDiscoveryOffersExactlyTheExpectedActions(t *testing.T) {
	vm := lua.VM{ResourceOverrides: resourceOverrides(t)}
	dir := filepath.Join(customizations, "AIService", "actions")
	var file actionTests
	readStrict(t, filepath.Join(dir, "action_test.yaml"), &file)
	if len(file.DiscoveryTests) == 0 {
		t.Fatal("no discovery cases found")
	}
	for _, tc := range file.DiscoveryTests {
		t.Run(tc.InputPath, func(t *testing.T) {
			obj := readObject(t, filepath.Join(dir, tc.InputPath))
			scripts, err := vm.GetResourceActionDiscovery(obj)
			if err != nil {
				t.Fatalf("no discovery script: %v", err)
			}
			got, err := vm.ExecuteResourceActionDiscovery(obj, scripts)
			if err != nil {
				t.Fatalf("discovery fails: %v", err)
			}
			want := append([]appv1.ResourceAction(nil), tc.Result...)
			byName := func(actions []appv1.ResourceAction) {
				sort.Slice(actions, func(i, j int) bool { return actions[i].Name < actions[j].Name })
			}
			byName(got)
			byName(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("discovery offers\n%s\nwant\n%s", asJSON(got), asJSON(want))
			}
		})
	}
}

func TestEveryActionReturnsExactlyTheExpectedObjectOrError(t *testing.T) {
	vm := lua.VM{ResourceOverrides: resourceOverrides(t)}
	dir := filepath.Join(customizations, "AIService", "actions")
	var file actionTests
	readStrict(t, filepath.Join(dir, "action_test.yaml"), &file)
	if len(file.ActionTests) == 0 {
		t.Fatal("no action cases found")
	}
	for i, tc := range file.ActionTests {
		t.Run(fmt.Sprintf("%d-%s-%s", i, tc.Action, tc.InputPath), func(t *testing.T) {
			live := readObject(t, filepath.Join(dir, tc.InputPath))
			definition, err := vm.GetResourceAction(live, tc.Action)
			if err != nil {
				t.Fatalf("no action %q: %v", tc.Action, err)
			}
			var params []*applicationpkg.ResourceActionParameters
			for name, value := range tc.Parameters {
				params = append(params, &applicationpkg.ResourceActionParameters{Name: &name, Value: &value})
			}
			impacted, err := vm.ExecuteResourceAction(live, definition.ActionLua, params)
			if tc.ExpectedErrorMessage != "" {
				if err == nil {
					t.Fatalf("action succeeded, want error %q", tc.ExpectedErrorMessage)
				}
				if err.Error() != tc.ExpectedErrorMessage {
					t.Fatalf("error is %q, want %q", err.Error(), tc.ExpectedErrorMessage)
				}
				return
			}
			if err != nil {
				t.Fatalf("action fails: %v", err)
			}
			if len(impacted) != 1 || impacted[0].K8SOperation != lua.PatchOperation {
				t.Fatalf("action returns %d resources, want one patch of the AIService", len(impacted))
			}
			got := impacted[0].UnstructuredObj
			want := readObject(t, filepath.Join(dir, tc.ExpectedOutputPath))
			if !reflect.DeepEqual(got.Object, want.Object) {
				t.Errorf("action returns\n%s\nwant\n%s", asJSON(got.Object), asJSON(want.Object))
			}
			// The API server applies the JSON merge patch from the live object to the returned one: it
			// must touch nothing but annotations.
			patch := mergePatch(t, live, got)
			if !onlyAnnotations(patch) {
				t.Errorf("action's merge patch changes more than annotations: %s", patch)
			}
		})
	}
}

func mergePatch(t *testing.T, live, returned *unstructured.Unstructured) []byte {
	t.Helper()
	liveJSON, err := json.Marshal(live)
	if err != nil {
		t.Fatal(err)
	}
	returnedJSON, err := json.Marshal(returned)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.CreateMergePatch(liveJSON, returnedJSON)
	if err != nil {
		t.Fatal(err)
	}
	return patch
}

func onlyAnnotations(patch []byte) bool {
	var top map[string]map[string]json.RawMessage
	if err := json.Unmarshal(patch, &top); err != nil {
		return string(bytes.TrimSpace(patch)) == "{}"
	}
	for key, value := range top {
		if key != "metadata" {
			return false
		}
		for field := range value {
			if field != "annotations" {
				return false
			}
		}
	}
	return true
}

func TestEveryTestdataFileIsUsed(t *testing.T) {
	used := map[string]bool{}
	for _, dir := range kindDirs(t) {
		var health healthTests
		readStrict(t, filepath.Join(dir, "health_test.yaml"), &health)
		for _, tc := range health.Tests {
			used[filepath.Join(dir, tc.InputPath)] = true
		}
		actionsDir := filepath.Join(dir, "actions")
		if _, err := os.Stat(filepath.Join(actionsDir, "action_test.yaml")); err != nil {
			continue
		}
		var actions actionTests
		readStrict(t, filepath.Join(actionsDir, "action_test.yaml"), &actions)
		for _, tc := range actions.DiscoveryTests {
			used[filepath.Join(actionsDir, tc.InputPath)] = true
		}
		for _, tc := range actions.ActionTests {
			used[filepath.Join(actionsDir, tc.InputPath)] = true
			if tc.ExpectedOutputPath != "" {
				used[filepath.Join(actionsDir, tc.ExpectedOutputPath)] = true
			}
		}
	}
	err := filepath.WalkDir(customizations, func(path string, entry os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(path, string(filepath.Separator)+"testdata"+string(filepath.Separator)) && !used[path] {
			t.Errorf("%s is in no health_test.yaml or action_test.yaml case", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func asJSON(value any) string {
	out, err := json.MarshalIndent(value, "", "  ")
	if err != nil {
		return fmt.Sprintf("%#v", value)
	}
	return string(out)
}
