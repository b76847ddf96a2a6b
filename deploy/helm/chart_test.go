// Package chart_test checks the Helm chart in threadsync/ without a cluster:
// it loads, lints and renders the chart with Helm's own packages and decodes
// what it renders into Kubernetes' API types.
package chart_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

var updateDashboard = flag.Bool("update-dashboard", false, "copy deploy/grafana/threadsync.json into the chart")

const (
	chartDir    = "threadsync"
	chartDash   = "threadsync/dashboards/threadsync.json"
	grafanaDash = "../grafana/threadsync.json"
	releaseName = "ts"
	namespace   = "inbox"
	fullname    = "ts-threadsync"
)

// managed are the settings the chart sets itself; config may not.
var managed = []string{"THREADSYNC_ACCOUNTS", "THREADSYNC_HTTP_ADDR", "THREADSYNC_EMBEDDED_NATS", "THREADSYNC_EMBEDDED_NATS_LISTEN", "THREADSYNC_DATA_DIR"}

// object is one rendered document.
type object struct {
	file, kind, name string
	json             []byte
}

type manifests struct {
	files   map[string]string // rendered template -> text
	objects []object
}

type renderOpts struct{ skipSchema bool }

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return c
}

func readValues(t *testing.T, valuesYAML string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValues([]byte(valuesYAML))
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	return v
}

func fullValues(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/full-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// render renders the chart as `helm install` would, with valuesYAML as -f.
func render(t *testing.T, valuesYAML string, opts ...renderOpts) (*manifests, error) {
	t.Helper()
	var o renderOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	c := loadChart(t)
	top, err := chartutil.ToRenderValuesWithSchemaValidation(c, readValues(t, valuesYAML),
		chartutil.ReleaseOptions{Name: releaseName, Namespace: namespace, IsInstall: true}, nil, o.skipSchema)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(c, top)
	if err != nil {
		return nil, err
	}
	m := &manifests{files: files}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if path.Ext(name) != ".yaml" {
			continue
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(files[name])))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			j, err := yaml.YAMLToJSON(doc)
			if err != nil {
				t.Fatalf("%s: not YAML: %v\n%s", name, err, doc)
			}
			if string(j) == "null" {
				continue
			}
			var meta struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(j, &meta); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			m.objects = append(m.objects, object{file: name, kind: meta.Kind, name: meta.Metadata.Name, json: j})
		}
	}
	return m, nil
}

func mustRender(t *testing.T, valuesYAML string) *manifests {
	t.Helper()
	m, err := render(t, valuesYAML)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return m
}

// find decodes the object of kind and name into into, refusing fields its
// type lacks; it reports whether there was one.
func (m *manifests) find(t *testing.T, kind, name string, into any) bool {
	t.Helper()
	for _, o := range m.objects {
		if o.kind != kind || o.name != name {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(o.json))
		dec.DisallowUnknownFields()
		if err := dec.Decode(into); err != nil {
			t.Fatalf("%s %s (%s): %v", kind, name, o.file, err)
		}
		return true
	}
	return false
}

func (m *manifests) get(t *testing.T, kind, name string, into any) {
	t.Helper()
	if !m.find(t, kind, name, into) {
		t.Fatalf("no %s %s rendered; have %v", kind, name, m.kinds())
	}
}

func (m *manifests) kinds() []string {
	var ks []string
	for _, o := range m.objects {
		ks = append(ks, o.kind+"/"+o.name)
	}
	return ks
}

func (m *manifests) deployment(t *testing.T) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	var d appsv1.Deployment
	m.get(t, "Deployment", fullname, &d)
	for i := range d.Spec.Template.Spec.Containers {
		if c := &d.Spec.Template.Spec.Containers[i]; c.Name == "threadsync" {
			return &d, c
		}
	}
	t.Fatal("no threadsync container")
	return nil, nil
}

func envOf(c *corev1.Container) map[string]corev1.EnvVar {
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	return env
}

// accountsFile is the accounts file the chart renders.
type accountsFile struct {
	Accounts    []map[string]any `json:"accounts"`
	SLAPolicies map[string]any   `json:"sla_policies"`
	DefaultSLA  string           `json:"default_sla"`
}

func (m *manifests) accounts(t *testing.T) (accountsFile, string) {
	t.Helper()
	var cm corev1.ConfigMap
	m.get(t, "ConfigMap", fullname+"-accounts", &cm)
	text, ok := cm.Data["accounts.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no accounts.yaml: %v", cm.Name, cm.Data)
	}
	var f accountsFile
	if err := yaml.UnmarshalStrict([]byte(text), &f); err != nil {
		t.Fatalf("accounts.yaml: %v\n%s", err, text)
	}
	return f, text
}

// secretFile resolves a path in the container to the Secret and key mounted
// there, failing the test when no Secret volume holds it.
func secretFile(t *testing.T, d *appsv1.Deployment, c *corev1.Container, p string) (secret, key string) {
	t.Helper()
	vols := map[string]corev1.Volume{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		vols[v.Name] = v
	}
	for _, mnt := range c.VolumeMounts {
		rel, err := filepath.Rel(mnt.MountPath, p)
		if err != nil || strings.HasPrefix(rel, "..") || rel == "." {
			continue
		}
		if mnt.SubPath != "" {
			t.Errorf("%s is mounted with subPath %s: a rotated Secret would never reach it", mnt.MountPath, mnt.SubPath)
		}
		if !mnt.ReadOnly {
			t.Errorf("mount %s is writable", mnt.MountPath)
		}
		v := vols[mnt.Name]
		switch {
		case v.Secret != nil:
			for _, it := range v.Secret.Items {
				if it.Path == rel {
					return v.Secret.SecretName, it.Key
				}
			}
			if len(v.Secret.Items) == 0 {
				return v.Secret.SecretName, rel
			}
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.Secret == nil {
					continue
				}
				for _, it := range src.Secret.Items {
					if it.Path == rel {
						return src.Secret.Name, it.Key
					}
				}
			}
		}
	}
	t.Fatalf("%s is in no mounted Secret", p)
	return "", ""
}

func wantSecretRef(t *testing.T, env map[string]corev1.EnvVar, name, secret, key string) {
	t.Helper()
	e, ok := env[name]
	if !ok {
		t.Errorf("%s is not set", name)
		return
	}
	if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Errorf("%s is not taken from a Secret: %+v", name, e)
		return
	}
	if r := e.ValueFrom.SecretKeyRef; r.Name != secret || r.Key != key {
		t.Errorf("%s comes from %s/%s, want %s/%s", name, r.Name, r.Key, secret, key)
	}
}

func wantValue(t *testing.T, env map[string]corev1.EnvVar, name, want string) {
	t.Helper()
	e, ok := env[name]
	switch {
	case !ok:
		t.Errorf("%s is not set, want %q", name, want)
	case e.ValueFrom != nil || e.Value != want:
		t.Errorf("%s = %+v, want %q", name, e, want)
	}
}

func TestLint(t *testing.T) {
	kube, err := chartutil.ParseKubeVersion("v1.33.0")
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range map[string]string{"defaults": "", "full": fullValues(t)} {
		t.Run(name, func(t *testing.T) {
			// In lint mode Helm logs a template's fail or required and
			// renders on; those lines are failures here.
			var logged bytes.Buffer
			log.SetOutput(&logged)
			l := lint.AllWithKubeVersion(chartDir, readValues(t, values), namespace, kube)
			log.SetOutput(os.Stderr)
			for _, line := range strings.Split(strings.TrimSpace(logged.String()), "\n") {
				if strings.Contains(line, "Fail:") || strings.Contains(line, "Missing required value") {
					t.Error(line)
				}
			}
			for _, msg := range l.Messages {
				if msg.Severity >= support.WarningSev {
					t.Error(msg)
				} else {
					t.Log(msg)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	m := mustRender(t, "")
	d, c := m.deployment(t)

	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", d.Spec.Replicas)
	}
	if got, want := c.Image, "threadsync:0.1.0"; got != want {
		t.Errorf("image = %s, want %s", got, want)
	}
	if !slices.Equal(c.Args, []string{"run"}) {
		t.Errorf("args = %v, want [run]", c.Args)
	}
	env := envOf(c)
	wantValue(t, env, "THREADSYNC_HTTP_ADDR", ":9090")
	wantValue(t, env, "THREADSYNC_ACCOUNTS", "/etc/threadsync/accounts.yaml")
	wantValue(t, env, "NATS_URL", "nats://nats:4222")
	wantValue(t, env, "REDIS_URL", "redis://redis:6379/0")
	wantValue(t, env, "THREADSYNC_LOG_FORMAT", "json")
	for name := range env {
		if strings.Contains(name, "PASSWORD") || strings.HasPrefix(name, "NATS_TLS") || strings.HasPrefix(name, "REDIS_TLS") || name == "NATS_CREDS" {
			t.Errorf("%s is set with no Secret given", name)
		}
	}
	if got := d.Spec.Template.Spec.TerminationGracePeriodSeconds; got == nil || *got <= 30 {
		t.Errorf("terminationGracePeriodSeconds = %v, want more than the 30s shutdown timeout", got)
	}
	if a := d.Spec.Template.Spec.AutomountServiceAccountToken; a == nil || *a {
		t.Error("the service account token is mounted")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v, want cpu and memory requests and a memory limit", c.Resources)
	}

	f, text := m.accounts(t)
	if len(f.Accounts) != 0 || !strings.Contains(text, "accounts: []") {
		t.Errorf("accounts.yaml = %q, want an empty accounts list", text)
	}
	var mnt *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == "accounts" {
			mnt = &c.VolumeMounts[i]
		}
	}
	if mnt == nil || mnt.MountPath != "/etc/threadsync" || mnt.SubPath != "" || !mnt.ReadOnly {
		t.Errorf("accounts mount = %+v, want /etc/threadsync read-only without subPath (a subPath mount never sees a change)", mnt)
	}
	if notes := m.files["threadsync/templates/NOTES.txt"]; !strings.Contains(notes, "No accounts are configured") {
		t.Errorf("NOTES.txt does not say that no account is configured:\n%s", notes)
	}

	var sa corev1.ServiceAccount
	m.get(t, "ServiceAccount", fullname, &sa)
	if d.Spec.Template.Spec.ServiceAccountName != fullname {
		t.Errorf("serviceAccountName = %s, want %s", d.Spec.Template.Spec.ServiceAccountName, fullname)
	}
	if m.find(t, "ServiceMonitor", fullname, &map[string]any{}) {
		t.Error("a ServiceMonitor is rendered by default")
	}
	if m.find(t, "ConfigMap", fullname+"-dashboard", &corev1.ConfigMap{}) {
		t.Error("the dashboard is rendered by default")
	}
	for _, o := range m.objects {
		if !slices.Contains([]string{"Deployment", "Service", "ConfigMap", "ServiceAccount", "PodDisruptionBudget"}, o.kind) {
			t.Errorf("unexpected %s/%s by default", o.kind, o.name)
		}
	}
}

func TestReplicas(t *testing.T) {
	for _, n := range []int32{0, 1, 5} {
		d, _ := mustRender(t, fmt.Sprintf("replicaCount: %d", n)).deployment(t)
		if d.Spec.Replicas == nil || *d.Spec.Replicas != n {
			t.Errorf("replicaCount %d: replicas = %v", n, d.Spec.Replicas)
		}
	}
	if _, err := render(t, "replicaCount: two"); err == nil {
		t.Error("replicaCount: two rendered")
	}
}

func TestProbesAndPort(t *testing.T) {
	for _, port := range []int32{9090, 8081} {
		t.Run(fmt.Sprint(port), func(t *testing.T) {
			m := mustRender(t, fmt.Sprintf("containerPort: %d", port))
			d, c := m.deployment(t)
			if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != port {
				t.Fatalf("ports = %+v, want http on %d", c.Ports, port)
			}
			wantValue(t, envOf(c), "THREADSYNC_HTTP_ADDR", fmt.Sprintf(":%d", port))
			for _, p := range []struct {
				name  string
				probe *corev1.Probe
				path  string
			}{
				{"startup", c.StartupProbe, "/healthz"},
				{"liveness", c.LivenessProbe, "/healthz"},
				{"readiness", c.ReadinessProbe, "/readyz"},
			} {
				if p.probe == nil || p.probe.HTTPGet == nil {
					t.Errorf("%s probe = %+v, want an HTTP GET", p.name, p.probe)
					continue
				}
				if g := p.probe.HTTPGet; g.Path != p.path || g.Port.String() != "http" {
					t.Errorf("%s probe gets %s on port %s, want %s on http", p.name, g.Path, g.Port.String(), p.path)
				}
				if p.probe.PeriodSeconds == 0 || p.probe.FailureThreshold == 0 {
					t.Errorf("%s probe = %+v, want a period and a failure threshold", p.name, p.probe)
				}
			}
			// The endpoints come up only after NATS and Redis answered: the
			// startup probe must allow minutes before liveness may restart.
			if s := c.StartupProbe; s.PeriodSeconds*s.FailureThreshold < 120 {
				t.Errorf("startup probe allows %ds, want at least 120", s.PeriodSeconds*s.FailureThreshold)
			}
			if a := d.Spec.Template.Annotations; a["prometheus.io/port"] != fmt.Sprint(port) || a["prometheus.io/path"] != "/metrics" {
				t.Errorf("scrape annotations = %v", a)
			}

			var svc corev1.Service
			m.get(t, "Service", fullname, &svc)
			if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].TargetPort.String() != "http" || svc.Spec.Ports[0].Port != 9090 {
				t.Errorf("service ports = %+v, want http 9090 -> http", svc.Spec.Ports)
			}
			if !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
				t.Errorf("service selector %v does not select the pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
			}
		})
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestSecurityContext(t *testing.T) {
	for name, values := range map[string]string{"defaults": "", "full": fullValues(t)} {
		t.Run(name, func(t *testing.T) {
			d, c := mustRender(t, values).deployment(t)
			pod := d.Spec.Template.Spec.SecurityContext
			if pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot {
				t.Errorf("pod securityContext = %+v, want runAsNonRoot", pod)
			} else {
				if pod.RunAsUser == nil || *pod.RunAsUser == 0 {
					t.Errorf("pod runs as user %v", pod.RunAsUser)
				}
				if pod.SeccompProfile == nil || pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
					t.Errorf("pod seccompProfile = %+v, want RuntimeDefault", pod.SeccompProfile)
				}
			}
			sc := c.SecurityContext
			if sc == nil {
				t.Fatal("no container securityContext")
			}
			if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				t.Error("container: runAsNonRoot is not true")
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Error("container: readOnlyRootFilesystem is not true")
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Error("container: allowPrivilegeEscalation is not false")
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Error("container is privileged")
			}
			if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
				t.Errorf("capabilities = %+v, want drop ALL and nothing added", sc.Capabilities)
			}
			if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("container seccompProfile = %+v, want RuntimeDefault", sc.SeccompProfile)
			}
			for _, m := range c.VolumeMounts {
				if !m.ReadOnly {
					t.Errorf("volume %s is mounted writable", m.Name)
				}
			}
		})
	}
}

func TestSecretReferences(t *testing.T) {
	m := mustRender(t, fullValues(t))
	d, c := m.deployment(t)
	env := envOf(c)
	f, _ := m.accounts(t)

	type want struct{ file, env, secret, key string }
	wants := map[string]want{
		"mirakl/shop-2001": {file: "/var/run/secrets/threadsync/tokens/threadsync-tokens/mirakl-shop-2001", secret: "threadsync-tokens", key: "mirakl-shop-2001"},
		"mirakl/shop-2002": {file: "/var/run/secrets/threadsync/tokens/threadsync-tokens/mirakl-shop-2002", secret: "threadsync-tokens", key: "mirakl-shop-2002"},
		"hubspot/portal-7": {env: "HUBSPOT_PORTAL_7_TOKEN", secret: "hubspot-oauth", key: "access-token"},
		"olx/olx-1":        {env: "OLX_ONE_KEY", secret: "olx", key: "token"},
		// A reference the pod resolves through extraEnvFrom: kept as given.
		"partizap/vendor-9": {env: "PARTIZAP_KEY"},
	}
	if len(f.Accounts) != len(wants) {
		t.Fatalf("accounts.yaml has %d accounts, want %d", len(f.Accounts), len(wants))
	}
	for _, a := range f.Accounts {
		label := fmt.Sprintf("%v/%v", a["provider"], a["id"])
		w, ok := wants[label]
		if !ok {
			t.Errorf("unexpected account %s", label)
			continue
		}
		if _, ok := a["tokenSecret"]; ok {
			t.Errorf("%s: tokenSecret reached the accounts file", label)
		}
		tok, _ := a["token"].(string)
		file, _ := a["token_file"].(string)
		switch {
		case w.file != "":
			if tok != "" || file != w.file {
				t.Errorf("%s: token %q, token_file %q; want token_file %s", label, tok, file, w.file)
				continue
			}
			if s, k := secretFile(t, d, c, file); s != w.secret || k != w.key {
				t.Errorf("%s: %s holds %s/%s, want %s/%s", label, file, s, k, w.secret, w.key)
			}
		default:
			if file != "" || tok != "${"+w.env+"}" {
				t.Errorf("%s: token %q, token_file %q; want token ${%s}", label, tok, file, w.env)
				continue
			}
			if w.secret != "" {
				wantSecretRef(t, env, w.env, w.secret, w.key)
			} else if _, ok := env[w.env]; ok {
				t.Errorf("%s: the chart set %s, which the values leave to extraEnvFrom", label, w.env)
			}
		}
	}
	if f.DefaultSLA != "support-hours" || f.SLAPolicies["support-hours"] == nil {
		t.Errorf("sla_policies %v, default_sla %q: not carried over", f.SLAPolicies, f.DefaultSLA)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "partizap-keys" {
		t.Errorf("envFrom = %+v, want the partizap-keys Secret", c.EnvFrom)
	}

	wantValue(t, env, "NATS_URL", "nats://nats.messaging:4222")
	wantValue(t, env, "NATS_USER", "threadsync")
	wantSecretRef(t, env, "NATS_PASSWORD", "nats-auth", "password")
	wantSecretRef(t, env, "REDIS_URL", "redis-conn", "url")
	wantValue(t, env, "REDIS_USERNAME", "threadsync")
	wantSecretRef(t, env, "REDIS_PASSWORD", "redis-auth", "redis-password")
	for name, sk := range map[string][2]string{
		"NATS_CREDS":    {"nats-creds", "threadsync.creds"},
		"NATS_TLS_CA":   {"nats-client-tls", "ca.crt"},
		"NATS_TLS_CERT": {"nats-client-tls", "tls.crt"},
		"NATS_TLS_KEY":  {"nats-client-tls", "tls.key"},
		"REDIS_TLS_CA":  {"redis-ca", "ca.crt"},
	} {
		e, ok := env[name]
		if !ok || e.Value == "" {
			t.Errorf("%s = %+v, want a path", name, e)
			continue
		}
		if s, k := secretFile(t, d, c, e.Value); s != sk[0] || k != sk[1] {
			t.Errorf("%s (%s) holds %s/%s, want %s/%s", name, e.Value, s, k, sk[0], sk[1])
		}
	}
	for _, name := range []string{"NATS_NKEY", "REDIS_TLS_CERT", "REDIS_TLS_KEY"} {
		if _, ok := env[name]; ok {
			t.Errorf("%s is set with no Secret given for it", name)
		}
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if p := v.Projected; p != nil && (p.DefaultMode == nil || *p.DefaultMode != 0o440) {
			t.Errorf("volume %s: mode %v, want 0440", v.Name, p.DefaultMode)
		}
	}
}

// TestNoSecretInOutput: the chart creates no Secret and reads none (no
// lookup), every secret variable comes from a secretKeyRef, and a secret
// put where values take a plain string is refused without being echoed.
func TestNoSecretInOutput(t *testing.T) {
	c := loadChart(t)
	lookup := regexp.MustCompile(`\blookup\b`)
	for _, tpl := range c.Templates {
		if lookup.Match(tpl.Data) {
			t.Errorf("%s calls lookup: a Secret's value could be rendered into a manifest", tpl.Name)
		}
	}

	m := mustRender(t, fullValues(t))
	_, ctr := m.deployment(t)
	f, _ := m.accounts(t)
	fromAccounts := map[string]bool{}
	ref := regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)
	for _, a := range f.Accounts {
		tok, _ := a["token"].(string)
		if tok == "" {
			continue
		}
		sub := ref.FindStringSubmatch(tok)
		if sub == nil {
			t.Errorf("%v/%v: token %q in the ConfigMap is no ${VAR} reference", a["provider"], a["id"], tok)
			continue
		}
		fromAccounts[sub[1]] = true
	}
	secretName := regexp.MustCompile(`PASSWORD|TOKEN|SECRET`)
	for _, e := range ctr.Env {
		if !fromAccounts[e.Name] && !secretName.MatchString(e.Name) {
			continue
		}
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s is not taken from a Secret: %+v", e.Name, e)
		}
	}
	for _, o := range m.objects {
		if o.kind == "Secret" {
			t.Errorf("the chart renders Secret %s; it must use existing ones", o.name)
		}
	}

	const sentinel = "sentinel-c2VjcmV0-value"
	for name, values := range map[string]string{
		"literal token": "accounts: [{provider: mirakl, id: s1, base_url: https://x, token: " + sentinel + "}]",
		"token and tokenSecret": "accounts: [{provider: mirakl, id: s1, base_url: https://x, token: '${A_B}', " +
			"tokenSecret: {name: s, key: k}}]",
		"nats url with password":  "nats: {url: 'nats://threadsync:" + sentinel + "@nats:4222'}",
		"redis url with password": "redis: {url: 'redis://:" + sentinel + "@redis:6379/0'}",
		"nats url with a token":   "nats: {url: 'nats://nats-1:4222,nats://" + sentinel + "@nats-2:4222'}",
		"password in config":      "config: {NATS_PASSWORD: " + sentinel + "}",
	} {
		for _, skip := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/skip schema %v", name, skip), func(t *testing.T) {
				m, err := render(t, values, renderOpts{skipSchema: skip})
				if err == nil {
					t.Fatalf("rendered:\n%s", m.files["threadsync/templates/configmap-accounts.yaml"])
				}
				if strings.Contains(err.Error(), sentinel) {
					t.Errorf("the error quotes the secret: %v", err)
				}
				t.Log(err)
			})
		}
	}
}

func TestTokenSecretErrors(t *testing.T) {
	for name, values := range map[string]string{
		"no key":       "accounts: [{provider: mirakl, id: s1, tokenSecret: {name: s}}]",
		"bad as":       "accounts: [{provider: mirakl, id: s1, tokenSecret: {name: s, key: k, as: volume}}]",
		"clashing env": "accounts: [{provider: mirakl, id: s1, tokenSecret: {name: s, key: k, as: env, env: REDIS_URL}}]",
		"two keys, one variable": "accounts: [{provider: mirakl, id: s-1, tokenSecret: {name: s, key: a, as: env}}, " +
			"{provider: mirakl, id: s_1, tokenSecret: {name: s, key: b, as: env}}]",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := render(t, values, renderOpts{skipSchema: true}); err == nil {
				t.Error("rendered")
			} else {
				t.Log(err)
			}
		})
	}
	// One token shared by two accounts is one variable.
	m := mustRender(t, "accounts: [{provider: mirakl, id: s1, tokenSecret: {name: s, key: k, as: env, env: SHARED}}, "+
		"{provider: mirakl, id: s2, tokenSecret: {name: s, key: k, as: env, env: SHARED}}]")
	_, c := m.deployment(t)
	wantSecretRef(t, envOf(c), "SHARED", "s", "k")
}

func TestChecksumFollowsAccounts(t *testing.T) {
	checksum := func(values string) string {
		t.Helper()
		m := mustRender(t, values)
		d, _ := m.deployment(t)
		sum := d.Spec.Template.Annotations["checksum/accounts"]
		if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
			t.Fatalf("checksum/accounts = %q, want a SHA-256", sum)
		}
		_, file := m.accounts(t)
		if want := sha256.Sum256([]byte(strings.TrimSuffix(file, "\n"))); sum != hex.EncodeToString(want[:]) {
			t.Errorf("checksum/accounts %s is not the accounts file's", sum)
		}
		return sum
	}
	one := "accounts: [{provider: mirakl, id: s1, base_url: https://a, tokenSecret: {name: t, key: s1}}]\n"
	base := checksum(one)
	if again := checksum(one); again != base {
		t.Errorf("the same accounts give %s, then %s", base, again)
	}
	if other := checksum(one + "replicaCount: 4\nconfig: {THREADSYNC_LOG_LEVEL: debug}\nimage: {tag: '2.0'}\n"); other != base {
		t.Error("a change unrelated to the accounts changed the checksum")
	}
	for name, values := range map[string]string{
		"none":          "",
		"another token": "accounts: [{provider: mirakl, id: s1, base_url: https://a, tokenSecret: {name: t, key: s1-new}}]",
		"an option":     "accounts: [{provider: mirakl, id: s1, base_url: https://a, tokenSecret: {name: t, key: s1}, options: {shop_id: '1'}}]",
		"a policy":      one + "slaPolicies: {p: {reply_within: 1h}}\ndefaultSla: p\n",
	} {
		if checksum(values) == base {
			t.Errorf("%s: the checksum did not change", name)
		}
	}
}

func TestServiceMonitor(t *testing.T) {
	if mustRender(t, "serviceMonitor: {enabled: false}").find(t, "ServiceMonitor", fullname, &map[string]any{}) {
		t.Error("rendered while disabled")
	}
	m := mustRender(t, "serviceMonitor: {enabled: true, labels: {release: prom}, interval: 15s}")
	var sm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			Endpoints []struct {
				Port, Path, Interval, ScrapeTimeout string
			} `json:"endpoints"`
		} `json:"spec"`
	}
	m.get(t, "ServiceMonitor", fullname, &sm)
	if sm.APIVersion != "monitoring.coreos.com/v1" {
		t.Errorf("apiVersion = %s", sm.APIVersion)
	}
	if sm.Metadata.Labels["release"] != "prom" {
		t.Errorf("labels = %v, want release: prom", sm.Metadata.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("endpoints = %+v", sm.Spec.Endpoints)
	}
	if e := sm.Spec.Endpoints[0]; e.Port != "http" || e.Path != "/metrics" || e.Interval != "15s" || e.ScrapeTimeout != "10s" {
		t.Errorf("endpoint = %+v, want port http, /metrics, every 15s", e)
	}
	var svc corev1.Service
	m.get(t, "Service", fullname, &svc)
	if !selects(sm.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("selector %v does not select the Service %v", sm.Spec.Selector.MatchLabels, svc.Labels)
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	for _, tc := range []struct {
		values   string
		min, max string
	}{
		{"", "", "1"},
		{"podDisruptionBudget: {minAvailable: 1}", "1", ""},
		{"podDisruptionBudget: {minAvailable: '50%'}", "50%", ""},
		{"podDisruptionBudget: {maxUnavailable: 2}", "", "2"},
	} {
		m := mustRender(t, tc.values)
		var pdb policyv1.PodDisruptionBudget
		m.get(t, "PodDisruptionBudget", fullname, &pdb)
		str := func(v fmt.Stringer, set bool) string {
			if !set {
				return ""
			}
			return v.String()
		}
		if got := str(pdb.Spec.MinAvailable, pdb.Spec.MinAvailable != nil); got != tc.min {
			t.Errorf("%q: minAvailable = %q, want %q", tc.values, got, tc.min)
		}
		if got := str(pdb.Spec.MaxUnavailable, pdb.Spec.MaxUnavailable != nil); got != tc.max {
			t.Errorf("%q: maxUnavailable = %q, want %q", tc.values, got, tc.max)
		}
		d, _ := m.deployment(t)
		if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			t.Errorf("%q: the selector %v does not select the pods", tc.values, pdb.Spec.Selector)
		}
	}
	if mustRender(t, "podDisruptionBudget: {enabled: false}").find(t, "PodDisruptionBudget", fullname, &policyv1.PodDisruptionBudget{}) {
		t.Error("rendered while disabled")
	}
}

func TestConfig(t *testing.T) {
	m := mustRender(t, `config:
  THREADSYNC_CONCURRENCY: 1000000
  THREADSYNC_SWEEP_INTERVAL: 0
  THREADSYNC_POLL_INTERVAL: 15s
  THREADSYNC_LOG_FORMAT: ""
  OTEL_SERVICE_NAME: inbox-sync
`)
	_, c := m.deployment(t)
	env := envOf(c)
	wantValue(t, env, "THREADSYNC_CONCURRENCY", "1000000")
	wantValue(t, env, "THREADSYNC_SWEEP_INTERVAL", "0")
	wantValue(t, env, "THREADSYNC_POLL_INTERVAL", "15s")
	wantValue(t, env, "OTEL_SERVICE_NAME", "inbox-sync")
	for _, name := range []string{"THREADSYNC_LOG_FORMAT", "THREADSYNC_STREAM", "THREADSYNC_LEASE_TTL"} {
		if e, ok := env[name]; ok {
			t.Errorf("%s = %+v; an empty setting must leave the process's default", name, e)
		}
	}
	for _, name := range append([]string{"NATS_URL", "HOME"}, managed...) {
		if _, err := render(t, "config: {"+name+": x}", renderOpts{skipSchema: true}); err == nil {
			t.Errorf("config.%s rendered", name)
		}
	}
}

// TestConfigCoversEverySetting keeps config in values.yaml in step with the
// settings the README documents.
func TestConfigCoversEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(THREADSYNC_[A-Z0-9_]+)`").FindAllSubmatch(readme, -1) {
		documented[string(m[1])] = true
	}
	if len(documented) < 10 {
		t.Fatalf("found %d THREADSYNC_* rows in README.md's configuration table; has its format changed?", len(documented))
	}
	config, _ := loadChart(t).Values["config"].(map[string]any)
	for name := range documented {
		_, inValues := config[name]
		if !inValues && !slices.Contains(managed, name) {
			t.Errorf("%s is documented but neither in values.yaml's config nor set by the chart", name)
		}
	}
	for name := range config {
		if !documented[name] {
			t.Errorf("values.yaml's config has %s, which README.md does not document", name)
		}
	}
}

func TestGrafanaDashboard(t *testing.T) {
	chartCopy, err := os.ReadFile(chartDash)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []any  `json:"panels"`
	}
	if err := json.Unmarshal(chartCopy, &dash); err != nil {
		t.Fatalf("%s: %v", chartDash, err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Errorf("%s has no title, uid or panels", chartDash)
	}

	m := mustRender(t, "grafanaDashboard: {enabled: true, namespace: monitoring, annotations: {grafana_folder: Inbox}}")
	var cm corev1.ConfigMap
	m.get(t, "ConfigMap", fullname+"-dashboard", &cm)
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("labels = %v, want grafana_dashboard: \"1\"", cm.Labels)
	}
	if cm.Namespace != "monitoring" || cm.Annotations["grafana_folder"] != "Inbox" {
		t.Errorf("namespace %q, annotations %v", cm.Namespace, cm.Annotations)
	}
	if got := cm.Data["threadsync.json"]; strings.TrimSpace(got) != strings.TrimSpace(string(chartCopy)) {
		t.Errorf("the ConfigMap's threadsync.json is not the chart's dashboards/threadsync.json")
	}
	if _, err := render(t, "grafanaDashboard: {enabled: true}"); err != nil {
		t.Errorf("without a namespace: %v", err)
	}
}

// TestDashboardInStep: the chart carries its own copy of the dashboard,
// since Helm reads only files inside the chart.
func TestDashboardInStep(t *testing.T) {
	want, err := os.ReadFile(grafanaDash)
	if errors.Is(err, fs.ErrNotExist) {
		if *updateDashboard {
			t.Fatalf("%s does not exist", grafanaDash)
		}
		t.Skipf("%s does not exist yet; the chart carries a placeholder", grafanaDash)
	}
	if err != nil {
		t.Fatal(err)
	}
	if *updateDashboard {
		if err := os.WriteFile(chartDash, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(chartDash)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("deploy/helm/%s differs from deploy/grafana/threadsync.json; copy it with: cd deploy/helm && go test -run TestDashboardInStep -update-dashboard", chartDash)
	}
}

// TestFullValuesDecode renders every feature and decodes each object into
// its API type, refusing fields the type lacks (a misspelled field would be
// dropped by the API server).
func TestFullValuesDecode(t *testing.T) {
	m := mustRender(t, fullValues(t))
	typed := map[string]func() any{
		"Deployment":          func() any { return &appsv1.Deployment{} },
		"Service":             func() any { return &corev1.Service{} },
		"ConfigMap":           func() any { return &corev1.ConfigMap{} },
		"ServiceAccount":      func() any { return &corev1.ServiceAccount{} },
		"PodDisruptionBudget": func() any { return &policyv1.PodDisruptionBudget{} },
		"ServiceMonitor":      func() any { return &map[string]any{} },
	}
	seen := map[string]bool{}
	for _, o := range m.objects {
		newObj, ok := typed[o.kind]
		if !ok {
			t.Errorf("unexpected %s/%s", o.kind, o.name)
			continue
		}
		seen[o.kind] = true
		m.get(t, o.kind, o.name, newObj())
	}
	for kind := range typed {
		if !seen[kind] {
			t.Errorf("no %s rendered", kind)
		}
	}
	d, _ := m.deployment(t)
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %d, want 3", *d.Spec.Replicas)
	}
	if got, want := d.Spec.Template.Spec.Containers[0].Image, "registry.example/threadsync:1.4.2"; got != want {
		t.Errorf("image = %s, want %s", got, want)
	}
}
