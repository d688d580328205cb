// Package kubetest runs a real kube-apiserver (with a real etcd) for kdoctor's
// tests, demo sandbox and benchmarks, plus a fake kubelet so that logs, exec
// and drains go through the real API server exactly as they do in a cluster.
//
// The binaries are built from the separate module kube/kubetest/apiserver
// (`make bin`), because k8s.io/kubernetes needs replace directives that must
// never reach kdoctor's own go.mod. Nothing else runs: there is no scheduler,
// controller-manager or garbage collector, so scenarios create every object
// themselves (ApplyScenario) and the fake kubelet plays the one part a drain
// needs — confirming the deletion of terminating pods.
package kubetest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// frontProxyClient is the name in the aggregation layer's client
// certificate, the one name aggregated API servers accept (kubeadm's).
const frontProxyClient = "front-proxy-client"

// modulePath identifies kdoctor's repository root when looking for bin/.
const modulePath = "github.com/kdoctor-dev/kdoctor"

// ContextName is the kubeconfig context WriteKubeconfig writes.
const ContextName = "kdoctor-sandbox"

// AdminUser is the token identity behind RESTConfig and Client (group
// system:masters).
const AdminUser = "kubetest-admin"

// KubeletUser is the identity the fake kubelet uses for its own API calls, so
// that tests reading the audit log can tell them apart from the code under test.
const KubeletUser = "kubetest-kubelet"

// User is a token identity the API server accepts besides the admin. It has
// no permissions until a test binds it with RBAC.
type User struct {
	Name   string
	Groups []string
}

// Options configures Start.
type Options struct {
	// BinDir holds the etcd and kube-apiserver binaries. Empty means the
	// KDOCTOR_TEST_BIN environment variable, else bin/ at the repository root.
	BinDir string
	// Users are extra (restricted) token identities, see RESTConfigFor.
	Users []User
	// ServiceClusterIPRange defaults to 10.96.0.0/12, the kubeadm default, so
	// that scenario Services keep the cluster IPs they were captured with.
	ServiceClusterIPRange string
	// StartTimeout bounds the wait for etcd and /readyz (default 60s).
	StartTimeout time.Duration
}

// Server is a running etcd + kube-apiserver pair and its fake kubelet.
type Server struct {
	opts    Options
	dir     string // temp dir holding everything; removed by Close
	binDir  string
	etcdURL string
	port    int // kube-apiserver secure port, kept across restarts
	caPEM   []byte
	// frontProxyCAPEM signs the client certificate the API server's
	// aggregation layer presents to aggregated API servers (FakeMetrics).
	frontProxyCAPEM []byte
	tokens          map[string]string // user name → bearer token

	admin   kubernetes.Interface
	kubelet *FakeKubelet
	metrics []*FakeMetrics

	mu        sync.Mutex
	etcd      *process
	apiserver *process
	closed    bool
}

// Start launches etcd, kube-apiserver and the fake kubelet and waits until the
// API server reports ready. Call Close to stop everything and remove the temp
// directory. The child processes are also killed if this process dies.
func Start(ctx context.Context, opts Options) (s *Server, err error) {
	if opts.ServiceClusterIPRange == "" {
		opts.ServiceClusterIPRange = "10.96.0.0/12"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	binDir, err := findBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	sweepStale()
	dir, err := os.MkdirTemp("", tempPrefix)
	if err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	s = &Server{opts: opts, dir: dir, binDir: binDir, tokens: map[string]string{}}
	defer func() {
		if err != nil {
			s.Close()
			s = nil
		}
	}()
	if err := s.writeFiles(); err != nil {
		return s, fmt.Errorf("kubetest: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return s, fmt.Errorf("kubetest: %w", err)
	}
	s.port = ports[2]

	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	if err := s.startEtcd(ctx, ports[0], ports[1]); err != nil {
		return s, err
	}
	// The kubelet listens before the API server starts so its port is known
	// when nodes get registered, and it must outlive API server restarts.
	kubeletCfg := s.configFor(KubeletUser)
	kubeletCfg.QPS, kubeletCfg.Burst = -1, 0
	if s.kubelet, err = newFakeKubelet(kubeletCfg); err != nil {
		return s, fmt.Errorf("kubetest: fake kubelet: %w", err)
	}
	if err := s.startAPIServer(ctx); err != nil {
		return s, err
	}
	adminCfg := s.RESTConfig()
	adminCfg.QPS, adminCfg.Burst = -1, 0
	adminCfg.WarningHandler = rest.NoWarnings{}
	if s.admin, err = kubernetes.NewForConfig(adminCfg); err != nil {
		return s, fmt.Errorf("kubetest: %w", err)
	}
	if err := s.kubelet.startWatching(); err != nil {
		return s, fmt.Errorf("kubetest: fake kubelet: %w", err)
	}
	return s, nil
}

const tempPrefix = "kdoctor-kubetest-"

// sweepStale removes the temp dirs of harness processes that died without
// Close (kill -9, a test timeout): their children died with them, but the
// files stay. A dir is removed only when its owner.pid names a dead process.
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		_ = os.RemoveAll(d)
	}
}

// findBinDir picks the directory holding etcd and kube-apiserver.
func findBinDir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv("KDOCTOR_TEST_BIN")
	}
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", fmt.Errorf("kubetest: %w (set KDOCTOR_TEST_BIN to the directory holding kube-apiserver and etcd)", err)
		}
		dir = filepath.Join(root, "bin")
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
			return "", fmt.Errorf("%s binary not found in %s: run \"make bin\" (builds it from kube/kubetest/apiserver, ~4 min the first time)", name, dir)
		}
	}
	return dir, nil
}

// RepoRoot walks up from the working directory to the directory whose go.mod
// declares kdoctor's module; nested modules (kube/kubetest/apiserver) are skipped.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && declaresModule(data, modulePath) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod for module %s above the working directory", modulePath)
		}
		dir = parent
	}
}

func declaresModule(gomod []byte, path string) bool {
	for line := range strings.Lines(string(gomod)) {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == path {
			return true
		}
	}
	return false
}

// writeFiles creates the serving certificate, service-account key, token
// file and audit policy the API server reads at each (re)start.
func (s *Server) writeFiles() error {
	for _, d := range []string{"certs", "etcd-data"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o700); err != nil {
			return err
		}
	}
	caPEM, certPEM, keyPEM, err := servingCert([]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	if err != nil {
		return err
	}
	s.caPEM = caPEM
	// The aggregation layer's front proxy, set up as kubeadm does: the API
	// server proves itself to aggregated API servers with a client
	// certificate from its own CA, and passes the user in X-Remote-* headers.
	frontProxy, err := newAuthority("front-proxy-ca")
	if err != nil {
		return err
	}
	s.frontProxyCAPEM = frontProxy.pem
	proxyCert, proxyKey, err := frontProxy.issue(frontProxyClient, x509.ExtKeyUsageClientAuth, nil, nil)
	if err != nil {
		return err
	}
	saKey, err := ecKeyPEM()
	if err != nil {
		return err
	}
	var tokens bytes.Buffer
	addToken := func(name string, groups []string) error {
		tok, err := randomToken()
		if err != nil {
			return err
		}
		s.tokens[name] = tok
		// token,user,uid,"group1,group2"
		fmt.Fprintf(&tokens, "%s,%s,%s,%q\n", tok, name, name, strings.Join(groups, ","))
		return nil
	}
	if err := addToken(AdminUser, []string{"system:masters"}); err != nil {
		return err
	}
	if err := addToken(KubeletUser, []string{"system:masters"}); err != nil {
		return err
	}
	for _, u := range s.opts.Users {
		if u.Name == "" || strings.ContainsAny(u.Name, ",\"\n") {
			return fmt.Errorf("user name %q: must be non-empty without commas or quotes", u.Name)
		}
		if _, dup := s.tokens[u.Name]; dup {
			return fmt.Errorf("user %q listed twice (or clashes with a built-in identity)", u.Name)
		}
		if err := addToken(u.Name, u.Groups); err != nil {
			return err
		}
	}
	files := map[string][]byte{
		"certs/serving.crt":            certPEM,
		"certs/serving.key":            keyPEM,
		"certs/front-proxy-ca.crt":     frontProxy.pem,
		"certs/front-proxy-client.crt": proxyCert,
		"certs/front-proxy-client.key": proxyKey,
		"sa.key":                       saKey,
		"tokens.csv":                   tokens.Bytes(),
		"audit-policy.yaml":            []byte(auditPolicy),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(s.dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// auditPolicy records every request at Metadata level: who did what to which
// object and the response code, which is all read-only tests need. Dropping
// RequestReceived leaves one event per request (two for long-running ones).
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
`

func (s *Server) startEtcd(ctx context.Context, clientPort, peerPort int) error {
	s.etcdURL = fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	p, err := startProcess(filepath.Join(s.binDir, "etcd"), filepath.Join(s.dir, "etcd.log"),
		"--name=kubetest",
		"--data-dir="+filepath.Join(s.dir, "etcd-data"),
		"--listen-client-urls="+s.etcdURL,
		"--advertise-client-urls="+s.etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kubetest="+peerURL,
		"--unsafe-no-fsync=true",
		"--log-level=error",
	)
	if err != nil {
		return fmt.Errorf("kubetest: start etcd: %w", err)
	}
	s.mu.Lock()
	s.etcd = p
	s.mu.Unlock()
	err = waitHealthy(ctx, p, http.DefaultClient, s.etcdURL+"/health", func(body []byte) bool {
		return bytes.Contains(body, []byte(`"health":"true"`))
	})
	if err != nil {
		return fmt.Errorf("kubetest: etcd did not become healthy: %w\n%s", err, p.tail())
	}
	return nil
}

func (s *Server) apiserverArgs() []string {
	return []string{
		"--etcd-servers=" + s.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(s.port),
		"--cert-dir=" + filepath.Join(s.dir, "certs"),
		"--tls-cert-file=" + filepath.Join(s.dir, "certs", "serving.crt"),
		"--tls-private-key-file=" + filepath.Join(s.dir, "certs", "serving.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + filepath.Join(s.dir, "sa.key"),
		"--service-account-signing-key-file=" + filepath.Join(s.dir, "sa.key"),
		"--service-cluster-ip-range=" + s.opts.ServiceClusterIPRange,
		"--token-auth-file=" + filepath.Join(s.dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--endpoint-reconciler-type=none",
		"--kubelet-preferred-address-types=InternalIP",
		// Scenario pods may be privileged (the stories are about real clusters).
		"--allow-privileged=true",
		// The harness replays a captured cluster state: admission plugins that
		// mutate or reject objects based on other objects (quota usage,
		// limit ranges, service accounts, priority classes, pod security
		// labels, not-ready taints on new nodes, protection finalizers)
		// would change the story or refuse to store it.
		"--disable-admission-plugins=ServiceAccount,ResourceQuota,LimitRanger,Priority,PodSecurity,TaintNodesByCondition,DefaultTolerationSeconds,StorageObjectInUseProtection",
		// The aggregation layer (metrics.k8s.io is served through it).
		"--requestheader-client-ca-file=" + filepath.Join(s.dir, "certs", "front-proxy-ca.crt"),
		"--requestheader-allowed-names=" + frontProxyClient,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + filepath.Join(s.dir, "certs", "front-proxy-client.crt"),
		"--proxy-client-key-file=" + filepath.Join(s.dir, "certs", "front-proxy-client.key"),
		"--audit-log-path=" + filepath.Join(s.dir, "audit.log"),
		"--audit-policy-file=" + filepath.Join(s.dir, "audit-policy.yaml"),
		"--audit-log-mode=blocking",
		"--profiling=false",
		"--v=0",
	}
}

func (s *Server) startAPIServer(ctx context.Context) error {
	p, err := startProcess(filepath.Join(s.binDir, "kube-apiserver"), filepath.Join(s.dir, "kube-apiserver.log"), s.apiserverArgs()...)
	if err != nil {
		return fmt.Errorf("kubetest: start kube-apiserver: %w", err)
	}
	s.mu.Lock()
	s.apiserver = p
	s.mu.Unlock()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.caPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	url := fmt.Sprintf("https://127.0.0.1:%d/readyz", s.port)
	err = waitHealthy(ctx, p, &bearerClient{client, s.tokens[AdminUser]}, url, func(body []byte) bool {
		return bytes.Equal(bytes.TrimSpace(body), []byte("ok"))
	})
	if err != nil {
		return fmt.Errorf("kubetest: kube-apiserver did not become ready: %w\n%s", err, p.tail())
	}
	return nil
}

// StopAPIServer kills kube-apiserver (etcd and the fake kubelet keep
// running), so tests can watch kdoctor lose and regain its cluster.
func (s *Server) StopAPIServer() {
	s.mu.Lock()
	p := s.apiserver
	s.apiserver = nil
	s.mu.Unlock()
	if s.kubelet != nil {
		s.kubelet.stopWatching()
	}
	if p != nil {
		p.stop()
	}
}

// StartAPIServer starts kube-apiserver again on the same port and etcd, with
// the same certificates and tokens, and waits until it is ready.
func (s *Server) StartAPIServer(ctx context.Context) error {
	s.mu.Lock()
	running, closed := s.apiserver != nil, s.closed
	s.mu.Unlock()
	if closed {
		return errors.New("kubetest: server is closed")
	}
	if running {
		return errors.New("kubetest: kube-apiserver is already running")
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	if err := s.startAPIServer(ctx); err != nil {
		return err
	}
	return s.kubelet.startWatching()
}

// Close stops the kubelet, kube-apiserver and etcd and removes the temp
// directory. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	api, etcd, metrics := s.apiserver, s.etcd, s.metrics
	s.apiserver, s.etcd, s.metrics = nil, nil, nil
	s.mu.Unlock()
	for _, m := range metrics {
		m.Stop()
	}
	if s.kubelet != nil {
		s.kubelet.close()
	}
	if api != nil {
		api.stop()
	}
	if etcd != nil {
		etcd.stop()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// Dir is the temp directory holding the data dir, certificates, process
// logs (etcd.log, kube-apiserver.log) and audit.log; it goes away on Close.
func (s *Server) Dir() string { return s.dir }

// Host is the API server URL.
func (s *Server) Host() string { return fmt.Sprintf("https://127.0.0.1:%d", s.port) }

// RESTConfig returns an admin (system:masters) config with client-go's
// default rate limits, as kdoctor would build from a kubeconfig.
func (s *Server) RESTConfig() *rest.Config { return s.configFor(AdminUser) }

// RESTConfigFor returns the config of a restricted identity from
// Options.Users; it is nil for an unknown user.
func (s *Server) RESTConfigFor(user string) *rest.Config {
	if _, ok := s.tokens[user]; !ok || user == KubeletUser {
		return nil
	}
	return s.configFor(user)
}

func (s *Server) configFor(user string) *rest.Config {
	return &rest.Config{
		Host:            s.Host(),
		BearerToken:     s.tokens[user],
		TLSClientConfig: rest.TLSClientConfig{CAData: append([]byte(nil), s.caPEM...)},
	}
}

// Client is an admin clientset without client-side rate limiting.
func (s *Server) Client() kubernetes.Interface { return s.admin }

// Kubelet is the fake kubelet serving logs and exec for every node that
// ApplyScenario (or CreateNode) registered.
func (s *Server) Kubelet() *FakeKubelet { return s.kubelet }

// WriteKubeconfig writes a kubeconfig for user ("" or AdminUser for the
// admin) with context ContextName, usable by kubectl and kdoctor.
func (s *Server) WriteKubeconfig(path, user string) error {
	if user == "" {
		user = AdminUser
	}
	tok, ok := s.tokens[user]
	if !ok || user == KubeletUser {
		return fmt.Errorf("kubetest: unknown user %q (declare it in Options.Users)", user)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kdoctor-sandbox"] = &clientcmdapi.Cluster{Server: s.Host(), CertificateAuthorityData: s.caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: tok}
	cfg.Contexts[ContextName] = &clientcmdapi.Context{Cluster: "kdoctor-sandbox", AuthInfo: user, Namespace: "default"}
	cfg.CurrentContext = ContextName
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("kubetest: write kubeconfig: %w", err)
	}
	return nil
}

// freePorts reserves n distinct free loopback ports. They are released
// before the processes bind them; collisions are possible but rare.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

type getter interface {
	Get(url string) (*http.Response, error)
}

type bearerClient struct {
	c     *http.Client
	token string
}

func (b *bearerClient) Get(url string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.c.Do(req)
}

// waitHealthy polls url until ok accepts a 200 body, the process exits or ctx ends.
func waitHealthy(ctx context.Context, p *process, c getter, url string, ok func([]byte) bool) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		resp, err := c.Get(url)
		if err == nil {
			body := readAllLimit(resp.Body, 1<<16)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && ok(body) {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, firstLines(string(body), 5))
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			return fmt.Errorf("process exited: %v", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("%w (last answer: %s)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}

// process is a child process whose stderr and stdout go to a log file.
type process struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error
}

func startProcess(bin, logPath string, args ...string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop kills the process and waits for it. A SIGKILL is what a test wants:
// it is immediate, and the data either lives in a temp dir about to be
// removed or in etcd, which the API server does not buffer.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// tail returns the last lines of the process log for error messages.
func (p *process) tail() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 25 {
		lines = lines[len(lines)-25:]
	}
	return filepath.Base(p.logPath) + " (last lines):\n  " + strings.Join(lines, "\n  ")
}
