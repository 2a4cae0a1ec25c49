package deploy

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// composeEnv is what an operator puts in deploy/.env: here keys made by
// `molar keygen` for this test only.
var composeEnv = map[string]string{
	"MOLAR_ORIGIN":    "https://clinic.example.com",
	"MOLAR_JWT_KEYS":  "k20261206:B9EtmQAUSQWSDJQXA4V32je9lJOJ1cEFFf1-cOXqrQM",
	"MOLAR_RRN_KEYS":  "k20261206:HLkeQkgt9iPUoK5zkpe1Fw0MZHQfKbeSf-w3pKGDFSM",
	"MOLAR_MEDIA_KEY": "B+I7uYz7LaIAzrr6FNHEHW4kty2GOxs7v/KMg+aq9g0=",
	// `molar keygen --backup`'s public half; the key itself is not needed.
	"MOLAR_BACKUP_RECIPIENT": "age1c2ycvtp0gpm7uj23p30lnf76jlc94gfjdg5mgxv4mgdpqvdrw3ds3kwec6",
}

// loadCompose reads compose.yaml as `docker compose config` does (the same
// library: schema, interpolation, references between services), with env.
func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// The loader adds to the environment it is given.
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "compose.yaml")}},
		Environment: maps.Clone(env),
	}, func(o *loader.Options) { o.SetProjectName("molar", true) })
}

// TestComposeFile checks deploy/compose.yaml without a Docker engine: it
// loads as Compose loads it, and its parts fit together: two molar
// replicas on a MongoDB replica set that a one-shot step initiates once
// MongoDB is healthy; nginx in front with the certificates where its
// configuration reads them, at the one address molar trusts; Prometheus
// scraping the port molar serves its metrics on, with the alert rules.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, composeEnv)
	if err != nil {
		t.Fatal(err)
	}
	svc := func(name string) types.ServiceConfig {
		t.Helper()
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		return s
	}
	mongo, initRS, molar, nginx, prom := svc("mongo"), svc("mongo-init"), svc("molar"), svc("nginx"), svc("prometheus")

	// Every dependency waits for what it needs: health where there is a
	// health check, completion of a one-shot step.
	for _, s := range p.Services {
		for dep, d := range s.DependsOn {
			target := svc(dep)
			switch d.Condition {
			case types.ServiceConditionHealthy:
				if target.HealthCheck == nil || target.HealthCheck.Disable || len(target.HealthCheck.Test) == 0 {
					t.Errorf("%s waits for %s to be healthy, which has no health check", s.Name, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if target.Restart != "no" {
					t.Errorf("%s waits for %s to complete, which restarts (%q)", s.Name, dep, target.Restart)
				}
			}
		}
	}
	if got := initRS.DependsOn["mongo"].Condition; got != types.ServiceConditionHealthy {
		t.Errorf("the replica set is initiated when mongo is %q, want healthy", got)
	}
	if got := molar.DependsOn["mongo-init"].Condition; got != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("molar starts when the replica set's initiation is %q, want completed", got)
	}
	if got := nginx.DependsOn["molar"].Condition; got != types.ServiceConditionHealthy {
		t.Errorf("nginx starts when molar is %q, want healthy", got)
	}

	// One replica set name everywhere.
	set := ""
	if i := slices.Index(mongo.Command, "--replSet"); i >= 0 && i+1 < len(mongo.Command) {
		set = mongo.Command[i+1]
	}
	if set == "" {
		t.Fatalf("mongod runs without --replSet: %q", mongo.Command)
	}
	script := strings.Join(initRS.Command, " ")
	if !strings.Contains(script, "rs.initiate(") || !strings.Contains(script, `_id: "`+set+`"`) || !strings.Contains(script, "isWritablePrimary") {
		t.Errorf("mongo-init does not initiate %s and wait for its primary: %q", set, script)
	}
	env := func(s types.ServiceConfig, k string) string {
		if v := s.Environment[k]; v != nil {
			return *v
		}
		return ""
	}
	if uri := env(molar, "MONGODB_URI"); !strings.Contains(uri, "replicaSet="+set) {
		t.Errorf("MONGODB_URI %q does not name the replica set %s", uri, set)
	}

	if molar.Deploy == nil || molar.Deploy.Replicas == nil || *molar.Deploy.Replicas != 2 {
		t.Errorf("molar replicas: %+v, want 2", molar.Deploy)
	}
	if got := env(molar, "MOLAR_PROFILE"); got != "prod" {
		t.Errorf("MOLAR_PROFILE %q", got)
	}
	if got := env(molar, "MOLAR_ALLOWED_ORIGINS"); got != composeEnv["MOLAR_ORIGIN"] {
		t.Errorf("MOLAR_ALLOWED_ORIGINS %q, want the operator's MOLAR_ORIGIN", got)
	}
	// The replicas share the data volume (image files, partial uploads)
	// and write backups to a volume of their own, where MOLAR_BACKUP_DIR
	// says.
	targets := map[string]bool{}
	for _, v := range molar.Volumes {
		targets[v.Target] = v.Type == types.VolumeTypeVolume
	}
	if len(molar.Volumes) != 2 || !targets["/var/lib/molar"] || !targets[env(molar, "MOLAR_BACKUP_DIR")] {
		t.Errorf("molar's volumes: %+v, want the shared data volume at /var/lib/molar and one at MOLAR_BACKUP_DIR", molar.Volumes)
	}

	// molar believes X-Forwarded-For from nginx, and from nothing else.
	proxy := nginx.Networks["molar"]
	if proxy == nil || proxy.Ipv4Address == "" {
		t.Fatal("nginx has no fixed address on the molar network")
	}
	if got := env(molar, "MOLAR_TRUST_PROXY"); got != proxy.Ipv4Address {
		t.Errorf("MOLAR_TRUST_PROXY %q, want nginx's address %s", got, proxy.Ipv4Address)
	}
	subnet, err := netip.ParsePrefix(p.Networks["molar"].Ipam.Config[0].Subnet)
	if err != nil || !subnet.Contains(netip.MustParseAddr(proxy.Ipv4Address)) {
		t.Errorf("nginx's address %s is not in the network's subnet (%v)", proxy.Ipv4Address, err)
	}
	var ports []string
	for _, pc := range nginx.Ports {
		ports = append(ports, fmt.Sprintf("%s:%d", pc.Published, pc.Target))
	}
	if !slices.Equal(ports, []string{"80:80", "443:443"}) {
		t.Errorf("nginx publishes %v, want 80 and 443", ports)
	}

	// nginx's configuration reads the certificates where they are mounted.
	conf, err := os.ReadFile("nginx/molar.conf")
	if err != nil {
		t.Fatal(err)
	}
	certDir := ""
	for _, v := range nginx.Volumes {
		if v.Target == "/etc/nginx/certs" && v.ReadOnly {
			certDir = v.Target
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*ssl_certificate(?:_key)?\s+(\S+);`).FindAllSubmatch(conf, -1) {
		if certDir == "" || !strings.HasPrefix(string(m[1]), certDir+"/") {
			t.Errorf("molar.conf reads %s, which no read-only volume of nginx holds", m[1])
		}
	}

	// Prometheus scrapes the port of molar's admin listener, in the job
	// the alert rules name, and loads those rules.
	_, adminPort, err := net.SplitHostPort(env(molar, "MOLAR_ADMIN_ADDR"))
	if err != nil {
		t.Fatalf("MOLAR_ADMIN_ADDR: %v", err)
	}
	var cfgDir string
	for _, v := range prom.Volumes {
		if v.Target == "/etc/prometheus" {
			cfgDir = v.Source
		}
	}
	if wd, _ := os.Getwd(); cfgDir != filepath.Join(wd, "prometheus") {
		t.Fatalf("prometheus/ is not mounted at /etc/prometheus: %+v", prom.Volumes)
	}
	b, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var pcfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName      string `yaml:"job_name"`
			DNSSDConfigs []struct {
				Names []string `yaml:"names"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &pcfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pcfg.RuleFiles, "alerts.yml") {
		t.Errorf("prometheus.yml does not load alerts.yml: %v", pcfg.RuleFiles)
	}
	scraped := false
	for _, sc := range pcfg.ScrapeConfigs {
		for _, d := range sc.DNSSDConfigs {
			if sc.JobName == "molar" && slices.Contains(d.Names, "molar") && strconv.Itoa(d.Port) == adminPort {
				scraped = true
			}
		}
	}
	if !scraped {
		t.Errorf("no scrape job \"molar\" finds the molar replicas on port %s: %+v", adminPort, pcfg.ScrapeConfigs)
	}
}

// TestComposeRequiresSecrets: without the keys or the origin, Compose
// refuses to start and says what to set.
func TestComposeRequiresSecrets(t *testing.T) {
	t.Parallel()
	for name := range composeEnv {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range composeEnv {
				if k != name {
					env[k] = v
				}
			}
			if _, err := loadCompose(t, env); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("compose.yaml without %s: %v", name, err)
			}
		})
	}
}

// TestComposeConfigStartsProd runs molar's own configuration check on the
// environment compose.yaml gives each replica: the prod profile accepts
// it (`molar healthcheck` reads the configuration first, then fails to
// reach a server, which is not running).
func TestComposeConfigStartsProd(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, composeEnv)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "./cmd/molar", "healthcheck")
	cmd.Dir = ".."
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MOLAR_") && !strings.HasPrefix(kv, "MONGODB_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range p.Services["molar"].Environment {
		if v != nil {
			cmd.Env = append(cmd.Env, k+"="+*v)
		}
	}
	out, _ := cmd.CombinedOutput()
	if strings.Contains(string(out), "configuration") || (cmd.ProcessState.ExitCode() != 0 && !strings.Contains(string(out), "molar: healthcheck:")) {
		t.Errorf("molar refuses compose.yaml's environment: %s", out)
	}
}

// TestPrometheusConfig runs promtool (Debian's prometheus package, `go
// tool task prometheus`) on prometheus.yml, which also checks the alert
// rules it loads.
func TestPrometheusConfig(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: `go tool task prometheus` installs Debian's")
	}
	if out, err := exec.Command(promtool, "check", "config", "prometheus/prometheus.yml").CombinedOutput(); err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
}
