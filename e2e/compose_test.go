package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/zerocodelab/lab/e2e/native"
)

func TestComposeLoadsForEveryProfileAndPlatform(t *testing.T) {
	for name, p := range loadAll(t) {
		for _, stack := range []string{"otel-collector", "tempo", "loki", "prometheus", "grafana", "loadgen", "lab"} {
			if _, ok := p.Services[stack]; !ok {
				t.Errorf("%s: the stack service %s is missing", name, stack)
			}
		}
	}
	// Each profile brings its lane's four services, and nothing of other native.Lanes.
	for _, lane := range native.Lanes {
		p, err := load(t, testEnv, []string{lane}, "docker-compose.yml")
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range native.Lanes {
			for _, s := range native.Services {
				_, ok := p.Services[other+"-"+s]
				if ok != (other == lane) {
					t.Errorf("profile %s: service %s-%s present = %v", lane, other, s, ok)
				}
			}
		}
	}
}

// Only the agents get privileges, as named capabilities (privileged: true cannot start where the engine
// lacks a capability): each Go auto agent the few it needs to load eBPF programs and read its target's
// binary, Beyla those and NET_ADMIN for its cgroup programs; nothing else adds any.
func TestOnlyAgentsHavePrivileges(t *testing.T) {
	autoCaps := []string{"SYS_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH"}
	beylaCaps := append(slices.Clone(autoCaps), "NET_ADMIN")
	for name, p := range loadAll(t) {
		for _, s := range p.Services {
			switch {
			case s.Name == "beyla":
				if s.Privileged || !slices.Equal(s.CapAdd, beylaCaps) {
					t.Errorf("%s: beyla privileged %v, cap_add %v; want cap_add %v only", name, s.Privileged, s.CapAdd, beylaCaps)
				}
			case isAgent(s.Name):
				if s.Privileged || !slices.Equal(s.CapAdd, autoCaps) {
					t.Errorf("%s: %s privileged %v, cap_add %v; want cap_add %v only", name, s.Name, s.Privileged, s.CapAdd, autoCaps)
				}
			case s.Privileged || len(s.CapAdd) > 0:
				t.Errorf("%s: %s is not an agent but has privileged %v, cap_add %v", name, s.Name, s.Privileged, s.CapAdd)
			}
		}
	}
}

func TestShopServicesAreLockedDown(t *testing.T) {
	for name, p := range loadAll(t) {
		for _, lane := range native.Lanes {
			for _, svc := range native.Services {
				s, ok := p.Services[lane+"-"+svc]
				if !ok {
					continue
				}
				if !s.ReadOnly || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") || !slices.Contains(s.CapDrop, "ALL") {
					t.Errorf("%s: %s: read_only %v, security_opt %v, cap_drop %v", name, s.Name, s.ReadOnly, s.SecurityOpt, s.CapDrop)
				}
				if s.User != "" {
					t.Errorf("%s: %s overrides the image's non-root user with %q", name, s.Name, s.User)
				}
				if s.HealthCheck == nil || s.HealthCheck.Disable || !slices.Contains(s.HealthCheck.Test, "healthcheck") {
					t.Errorf("%s: %s has no healthcheck running the binary's own check", name, s.Name)
				}
				env := func(k string) string { return value(s.Environment[k]) }
				if env("OTEL_SERVICE_NAME") != svc || env("LANE") != lane || env("OTEL_RESOURCE_ATTRIBUTES") != "service.namespace="+lane {
					t.Errorf("%s: %s: OTEL_SERVICE_NAME=%q LANE=%q OTEL_RESOURCE_ATTRIBUTES=%q", name, s.Name, env("OTEL_SERVICE_NAME"), env("LANE"), env("OTEL_RESOURCE_ATTRIBUTES"))
				}
				if s.Build == nil || value(s.Build.Args["SERVICE"]) != svc {
					t.Errorf("%s: %s is not built from services/Dockerfile with SERVICE=%s", name, s.Name, svc)
					continue
				}
				if sdk := value(s.Build.Args["GO_BUILD_TAGS"]) == "otelsdk"; sdk != (lane == "manual") {
					t.Errorf("%s: %s built with the SDK = %v; only the manual lane is", name, s.Name, sdk)
				}
				if s.Logging == nil || s.Logging.Driver != "fluentd" {
					t.Errorf("%s: %s logs are not sent to the Collector", name, s.Name)
				}
			}
		}
	}
}

func TestPublishedPortsAreLoopbackOnly(t *testing.T) {
	for name, p := range loadAll(t) {
		for _, s := range p.Services {
			for _, port := range s.Ports {
				if port.HostIP != "127.0.0.1" {
					t.Errorf("%s: %s publishes %s:%d on %q; want 127.0.0.1", name, s.Name, port.Published, port.Target, port.HostIP)
				}
			}
		}
	}
}

var pinnedTag = regexp.MustCompile(`^[a-z0-9./_-]+:v?[0-9]+\.[0-9]+\.[0-9]+$`)

func TestEveryPulledImageIsPinned(t *testing.T) {
	for name, p := range loadAll(t) {
		for _, s := range p.Services {
			if s.Build != nil {
				continue // built here from pinned sources
			}
			if !pinnedTag.MatchString(s.Image) {
				t.Errorf("%s: %s uses image %q; want a pinned x.y.z tag", name, s.Name, s.Image)
			}
		}
	}
}

func TestCollectorImageIsTheContribDistribution(t *testing.T) {
	if image := mustLoad(t).Services["otel-collector"].Image; !strings.HasPrefix(image, "otel/opentelemetry-collector-contrib:") {
		t.Errorf("the Collector image %q is not the contrib distribution collector/builder-config.yaml mirrors", image)
	}
}

// The Go auto agents and the SDK build send OTLP over gRPC to the Collector's gRPC port, with an export
// timeout that outlasts a Collector restart: their OTLP/HTTP exporter drops a batch it cannot connect for,
// the gRPC one retries it (e2e/pipeline's sender test shows both). Beyla exports with its own exporter,
// which has not been measured across a Collector restart here, and keeps its OTLP/HTTP.
func TestSendersRetryWhileTheCollectorRestarts(t *testing.T) {
	senders := 0
	for name, p := range loadAll(t) {
		for _, s := range p.Services {
			if !strings.HasPrefix(s.Name, "manual-") && !(strings.HasPrefix(s.Name, "otel-auto-") && strings.HasSuffix(s.Name, "-agent")) {
				continue
			}
			senders++
			env := func(k string) string { return value(s.Environment[k]) }
			if env("OTEL_EXPORTER_OTLP_PROTOCOL") != "grpc" || env("OTEL_EXPORTER_OTLP_ENDPOINT") != "http://otel-collector:4317" {
				t.Errorf("%s: %s sends %s to %s; want grpc to http://otel-collector:4317", name, s.Name,
					env("OTEL_EXPORTER_OTLP_PROTOCOL"), env("OTEL_EXPORTER_OTLP_ENDPOINT"))
			}
			if ms, err := strconv.Atoi(env("OTEL_EXPORTER_OTLP_TIMEOUT")); err != nil || ms < 20000 {
				t.Errorf("%s: %s: OTEL_EXPORTER_OTLP_TIMEOUT=%q; want at least 20000 ms, to retry through a Collector restart",
					name, s.Name, env("OTEL_EXPORTER_OTLP_TIMEOUT"))
			}
		}
	}
	if senders == 0 {
		t.Error("no sender found to check")
	}
}

func TestAutoAgentSidecars(t *testing.T) {
	pinnedVersion := pinned(t, "OTEL_GO_AUTO_VERSION")
	for name, p := range loadAll(t) {
		for _, svc := range native.Services {
			target, ok := p.Services["otel-auto-"+svc]
			if !ok {
				continue
			}
			agent, ok := p.Services["otel-auto-"+svc+"-agent"]
			if !ok {
				t.Errorf("%s: %s has no auto agent sidecar", name, target.Name)
				continue
			}
			if got := imageTag(t, p, agent.Name); got != pinnedVersion {
				t.Errorf("%s: %s runs agent %s; .env pins %s (make agent builds it)", name, agent.Name, got, pinnedVersion)
			}
			if agent.Pid != "service:"+target.Name {
				t.Errorf("%s: %s pid = %q; want service:%s", name, agent.Name, agent.Pid, target.Name)
			}
			// The agent targets PID 1 of the namespace it shares: the service, when nothing runs before it
			// (no init process, no entrypoint but the image's).
			if pid := value(agent.Environment["OTEL_GO_AUTO_TARGET_PID"]); pid != "1" {
				t.Errorf("%s: %s targets PID %q; want 1, its target's main process", name, agent.Name, pid)
			}
			if exe := value(agent.Environment["OTEL_GO_AUTO_TARGET_EXE"]); exe != "" {
				t.Errorf("%s: %s also targets %q: OTEL_GO_AUTO_TARGET_PID would win, and the path would mislead", name, agent.Name, exe)
			}
			if (target.Init != nil && *target.Init) || target.Entrypoint != nil || target.Command != nil {
				t.Errorf("%s: %s runs an init or another command first: its service is not PID 1", name, target.Name)
			}
			if value(agent.Environment["OTEL_GO_AUTO_INCLUDE_DB_STATEMENT"]) != "true" {
				t.Errorf("%s: %s leaves the SQL statement off its database/sql spans", name, agent.Name)
			}
			if agent.Restart == "" || agent.Restart == "no" {
				t.Errorf("%s: %s has no restart policy", name, agent.Name)
			}
			if dep, ok := agent.DependsOn[target.Name]; !ok || !dep.Restart {
				t.Errorf("%s: %s does not restart with its target", name, agent.Name)
			}
		}
		// One sidecar per service: no agent without its target.
		for _, s := range p.Services {
			if strings.HasPrefix(s.Name, "otel-auto-") && strings.HasSuffix(s.Name, "-agent") {
				if _, ok := p.Services[strings.TrimSuffix(s.Name, "-agent")]; !ok {
					t.Errorf("%s: %s has no target", name, s.Name)
				}
			}
		}
	}
	if !strings.Contains(readFile(t, "services/Dockerfile"), `ENTRYPOINT ["/app/service"]`) {
		t.Error(`services/Dockerfile's entrypoint is no longer the service itself: the sidecars' target, PID 1, is something else`)
	}
}

func TestBeylaSeesExactlyItsLane(t *testing.T) {
	p, err := load(t, testEnv, native.Lanes, "docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	beyla := p.Services["beyla"]
	for _, s := range p.Services {
		shares := s.Pid == "service:beyla-pause"
		if want := strings.HasPrefix(s.Name, "beyla") && s.Name != "beyla-pause"; shares != want {
			t.Errorf("%s shares the beyla lane's PID namespace = %v; want %v: exactly Beyla and the lane's services", s.Name, shares, want)
		}
	}
	mounted := map[string]bool{}
	for _, v := range beyla.Volumes {
		mounted[v.Target] = true
	}
	for _, want := range []string{"/etc/beyla/config.yml", "/sys/kernel/security", "/sys/fs/cgroup"} {
		if !mounted[want] {
			t.Errorf("beyla does not mount %s", want)
		}
	}
	if v := value(beyla.Environment["BEYLA_BPF_CONTEXT_PROPAGATION"]); v == "" || v == "disabled" {
		t.Errorf("beyla context propagation = %q; want it on", v)
	}
}

func TestMacOverrideChangesWhatTheVMLacks(t *testing.T) {
	p, err := load(t, testEnv, native.Lanes, "docker-compose.yml", "docker-compose.mac.yml")
	if err != nil {
		t.Fatal(err)
	}
	if v := value(p.Services["beyla"].Environment["BEYLA_BPF_CONTEXT_PROPAGATION"]); v != "all" {
		t.Errorf("on macOS beyla propagation = %q; want all, as on Linux: its socket-level ways need no lockdown-free kernel and its header write works in the VM", v)
	}
	for _, name := range []string{"beyla", "otel-auto-gateway-agent", "otel-auto-catalog-agent", "otel-auto-inventory-agent", "otel-auto-orders-agent"} {
		found := false
		for _, v := range p.Services[name].Volumes {
			if v.Target == "/sys/kernel/security" {
				found = true
				if v.Type != "tmpfs" {
					t.Errorf("on macOS %s mounts /sys/kernel/security as %s; want the empty tmpfs", name, v.Type)
				}
			}
		}
		if !found {
			t.Errorf("on macOS %s has no /sys/kernel/security at all", name)
		}
	}
}

// Grafana starts with no step before "docker compose up": no password to set, none known, anonymous
// users allowed into Explore (where every trace link leads), an admin login possible.
func TestGrafanaNeedsNoStepAndOpensExploreToAnonymousUsers(t *testing.T) {
	p, err := load(t, map[string]string{}, native.Lanes, "docker-compose.yml")
	if err != nil {
		t.Fatalf("compose does not load without GRAFANA_ADMIN_PASSWORD: %v", err)
	}
	g := p.Services["grafana"]
	env := func(k string) string { return value(g.Environment[k]) }
	if env("GF_AUTH_ANONYMOUS_ENABLED") != "true" || env("GF_AUTH_ANONYMOUS_ORG_ROLE") != "Viewer" {
		t.Errorf("anonymous access %q as %q; want true as Viewer", env("GF_AUTH_ANONYMOUS_ENABLED"), env("GF_AUTH_ANONYMOUS_ORG_ROLE"))
	}
	// Grafana guards /explore with datasources:explore, which a Viewer has only with viewers_can_edit.
	if env("GF_USERS_VIEWERS_CAN_EDIT") != "true" {
		t.Error("GF_USERS_VIEWERS_CAN_EDIT is not true: anonymous Viewers are sent away from Explore, where every trace link leads")
	}
	if pw := env("GF_SECURITY_ADMIN_PASSWORD"); pw != "" {
		t.Errorf("with no GRAFANA_ADMIN_PASSWORD, the admin password is %q; want none set, so the entrypoint makes a random one", pw)
	}
	p, err = load(t, map[string]string{"GRAFANA_ADMIN_PASSWORD": "chosen"}, native.Lanes, "docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	if pw := value(p.Services["grafana"].Environment["GF_SECURITY_ADMIN_PASSWORD"]); pw != "chosen" {
		t.Errorf("GRAFANA_ADMIN_PASSWORD=chosen gives Grafana %q", pw)
	}
	for _, line := range strings.Split(readFile(t, ".env"), "\n") {
		if strings.HasPrefix(line, "GRAFANA_ADMIN_PASSWORD=") {
			t.Errorf(".env ships a Grafana password (%s): it must be the user's own", line)
		}
	}
}

// The entrypoint compose gives Grafana, run by a real busybox sh (Grafana's image is Alpine, whose sh is
// busybox): a random password made once and kept, the user's own when set, then the image's /run.sh.
func TestGrafanaEntrypointMakesOnePasswordAndKeepsIt(t *testing.T) {
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("busybox is missing: .ci/run must install Debian's busybox-static")
		}
		t.Skip("busybox not found (apt-get install busybox-static)")
	}
	g := mustLoad(t).Services["grafana"]
	ep := []string(g.Entrypoint)
	if len(ep) < 3 || ep[0] != "sh" || ep[1] != "-c" || !strings.Contains(ep[2], "exec /run.sh") {
		t.Fatalf("grafana's entrypoint is %q; want sh -c '... exec /run.sh'", ep)
	}
	dir := t.TempDir()
	// /run.sh is Grafana's; here a stand-in prints the password Grafana would start with.
	runSh := filepath.Join(dir, "run.sh")
	if err := os.WriteFile(runSh, []byte("#!"+busybox+" sh\necho \"password=$GF_SECURITY_ADMIN_PASSWORD\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := strings.ReplaceAll(ep[2], "/run.sh", runSh)
	start := func(env ...string) string {
		t.Helper()
		cmd := exec.Command(busybox, append([]string{"sh", "-c", script}, ep[3:]...)...)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin", "GF_PATHS_DATA=" + dir}, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the entrypoint failed: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	first := start("GF_SECURITY_ADMIN_PASSWORD=")
	if len(first) < len("password=")+20 {
		t.Fatalf("first start: %q; want a random password of 24 characters", first)
	}
	if again := start("GF_SECURITY_ADMIN_PASSWORD="); again != first {
		t.Errorf("second start: %q; want the password of the first start, %q", again, first)
	}
	info, err := os.Stat(filepath.Join(dir, "admin-password"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the kept password file: %v, mode %v; want mode 0600", err, info.Mode().Perm())
	}
	if own := start("GF_SECURITY_ADMIN_PASSWORD=mine"); own != "password=mine" {
		t.Errorf("with a password set: %q; want password=mine", own)
	}
}

func TestEnvFileTurnsOnTheAgentLanes(t *testing.T) {
	var profiles string
	for _, line := range strings.Split(readFile(t, ".env"), "\n") {
		if v, ok := strings.CutPrefix(line, "COMPOSE_PROFILES="); ok {
			profiles = v
		}
	}
	if profiles != "beyla,otel-auto,manual" {
		t.Errorf(".env COMPOSE_PROFILES = %q; want beyla,otel-auto,manual", profiles)
	}
}

// docker-compose.sampling.yml runs what collector/two-tier.yaml and sampler.yaml expect: the Collector with
// both of its files, two samplers of the Collector's own image under the name the first tier looks up, each
// with a volume of its own, and Prometheus finding them where they serve their metrics.
func TestTwoTierSamplingComposeMatchesItsConfigs(t *testing.T) {
	p, err := load(t, testEnv, native.Lanes, "docker-compose.yml", "docker-compose.sampling.yml")
	if err != nil {
		t.Fatal(err)
	}
	first, sampler := p.Services["otel-collector"], p.Services["otel-sampler"]
	if want := []string{"--config=/etc/otelcol/config.yaml", "--config=/etc/otelcol/two-tier.yaml"}; !slices.Equal(first.Command, want) {
		t.Errorf("otel-collector runs %q; want %q", first.Command, want)
	}
	mounts := func(s types.ServiceConfig) map[string]string {
		m := map[string]string{}
		for _, v := range s.Volumes {
			m[v.Target] = v.Source
		}
		return m
	}
	if got := mounts(first); !strings.HasSuffix(got["/etc/otelcol/two-tier.yaml"], "collector/two-tier.yaml") || !strings.HasSuffix(got["/etc/otelcol/config.yaml"], "collector/config.yaml") || got["/var/lib/otelcol"] != "otelcol-queue" {
		t.Errorf("otel-collector mounts %v; want config.yaml, two-tier.yaml and its queue volume", got)
	}
	if sampler.Image != first.Image {
		t.Errorf("otel-sampler runs %s; want the Collector's image %s", sampler.Image, first.Image)
	}
	if want := []string{"--config=/etc/otelcol/sampler.yaml"}; !slices.Equal(sampler.Command, want) {
		t.Errorf("otel-sampler runs %q; want %q", sampler.Command, want)
	}
	got := mounts(sampler)
	if !strings.HasSuffix(got["/etc/otelcol/sampler.yaml"], "collector/sampler.yaml") {
		t.Errorf("otel-sampler mounts %v; want collector/sampler.yaml", got)
	}
	if src, ok := got["/var/lib/otelcol"]; !ok || src != "" {
		t.Errorf("otel-sampler's /var/lib/otelcol comes from %q (mounted %v); want an anonymous volume, one per replica", src, ok)
	}
	if sampler.Deploy == nil || sampler.Deploy.Replicas == nil || *sampler.Deploy.Replicas != 2 {
		t.Errorf("otel-sampler: deploy %+v; want 2 replicas", sampler.Deploy)
	}
	if !sampler.ReadOnly || !slices.Contains(sampler.CapDrop, "ALL") {
		t.Errorf("otel-sampler: read_only %v, cap_drop %v", sampler.ReadOnly, sampler.CapDrop)
	}
	if !strings.Contains(readFile(t, "collector/two-tier.yaml"), "SAMPLER_HOSTNAME:-otel-sampler}") {
		t.Error("collector/two-tier.yaml does not look the samplers up under their compose service name, otel-sampler")
	}
	prom := readFile(t, "observability/prometheus/prometheus.yml")
	if !strings.Contains(prom, "names: [otel-sampler]") || !strings.Contains(prom, "port: 8888") || !strings.Contains(readFile(t, "collector/sampler.yaml"), "TELEMETRY_PORT:-8888") {
		t.Error("prometheus does not find the samplers by DNS where they serve their metrics")
	}
	// Without the file, no sampler, and the Collector runs config.yaml alone.
	if _, ok := mustLoad(t).Services["otel-sampler"]; ok {
		t.Error("docker-compose.yml alone runs otel-sampler")
	}
}

// The lab waits for a checkout's spans exactly as long as the compose files' senders, Collectors and Tempo
// may take to make them findable (native.SpanDelay reads their batch delays, decision wait, queue
// flushes and Tempo's search delay).
func TestLabWaitsAsLongAsSpansTakeToBeFound(t *testing.T) {
	for _, files := range combos {
		p, err := load(t, testEnv, native.Lanes, files...)
		if err != nil {
			t.Fatal(err)
		}
		want, err := native.SpanDelay(p)
		if err != nil {
			t.Fatalf("%v: %v", files, err)
		}
		got := value(p.Services["lab"].Environment["LAB_SPAN_DELAY"])
		if d, err := time.ParseDuration(got); err != nil || d != want {
			t.Errorf("%v: the lab's LAB_SPAN_DELAY=%q; a span can take %s to be found in Tempo", files, got, want)
		}
	}
}
