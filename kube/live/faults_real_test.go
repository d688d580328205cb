package live_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

const faultsNS = "faults"

// TestWatchUnderAPIServerFaults takes the API server away under a running
// watch and slows it down, checking that the watcher says so, recovers on
// its own and keeps the table exactly as the server has it.
func TestWatchUnderAPIServerFaults(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{}, "crashloop-exit-1")
	ctx := kubetest.Timeout(t, 60*time.Second)
	kubetest.CreateNamespace(t, srv, faultsNS)
	for _, name := range []string{"steady-a", "steady-b", "doomed"} {
		if _, err := srv.Client().CoreV1().Pods(faultsNS).Create(ctx, simplePod(faultsNS, name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("restart", func(t *testing.T) { testWatchAcrossRestart(t, srv) })
	t.Run("slow server", func(t *testing.T) { testWatchSlowServer(t, srv) })
}

// testWatchAcrossRestart stops the API server for 10 s under a watch of
// every namespace. While it is down a pod is written to etcd and another
// removed from it, which the watcher can only learn by relisting: the
// restarted API server's watch cache starts after the watcher's last
// resource version, so the watch resumes with 410 Gone.
func testWatchAcrossRestart(t *testing.T, srv *kubetest.Server) {
	ctx := kubetest.Timeout(t, 90*time.Second)
	etcd := findEtcd(t, srv)
	cl := kubetest.ConnectAs(t, srv, "", "")
	wctx, cancel := context.WithCancel(context.Background())
	w := live.Watch(wctx, cl.Client(), live.Scope{}, live.AllResources)
	defer stopWatcher(t, cancel, w, 5*time.Second)
	tr := trackRows(w)

	want := listPods(ctx, t, srv, "")
	if !tr.waitUntil(20*time.Second, func(tr *rowTracker) bool {
		return len(tr.states) > 0 && tr.states[len(tr.states)-1].State == live.Live && len(tr.rows) == len(want)
	}) {
		t.Fatalf("watch never live with %d rows: states %v, %d rows", len(want), tr.lastState(), len(tr.rows))
	}

	// A second watcher is cancelled while the server is down, as when the
	// user quits or switches namespace during an outage.
	qctx, quit := context.WithCancel(context.Background())
	defer quit()
	quitter := live.Watch(qctx, cl.Client(), live.Scope{Namespaces: []string{faultsNS}}, live.AllResources)
	qtr := trackRows(quitter)
	if !qtr.waitUntil(20*time.Second, func(tr *rowTracker) bool { return len(tr.states) > 0 && tr.states[len(tr.states)-1].State == live.Live }) {
		t.Fatalf("second watch never live: %+v", qtr.lastState())
	}

	stopped := time.Now()
	srv.StopAPIServer()
	if !tr.waitUntil(10*time.Second, func(tr *rowTracker) bool { _, ok := stateAfter(tr, live.Reconnecting, stopped); return ok }) {
		t.Errorf("API server down for 10 s, the watcher still says %v", tr.lastState().State)
	}
	rec, _ := tr.stateSince(live.Reconnecting, stopped)
	if rec.Err == nil || kube.Explain(rec.Err) == "" {
		t.Errorf("reconnecting without the error that caused it: %+v", rec)
	} else {
		t.Logf("reconnecting %v after the stop: %s", rec.At.Sub(stopped).Round(time.Millisecond), kube.Explain(rec.Err))
	}

	// Change the cluster behind the API server's back.
	born := simplePod(faultsNS, "born-while-down")
	born.APIVersion, born.Kind = "v1", "Pod"
	born.UID = uuid.NewUUID()
	born.CreationTimestamp = metav1.Now()
	etcd.put(t, "/registry/pods/"+faultsNS+"/born-while-down", born)
	etcd.del(t, "/registry/pods/"+faultsNS+"/doomed")
	time.Sleep(time.Until(stopped.Add(8 * time.Second)))
	took := stopWatcher(t, quit, quitter, 2*time.Second)
	t.Logf("a watcher cancelled during the outage stopped in %v", took.Round(time.Millisecond))
	time.Sleep(time.Until(stopped.Add(10 * time.Second)))

	restarting := time.Now()
	if err := srv.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	t.Logf("API server down for %v, ready %v after its restart began", back.Sub(stopped).Round(time.Millisecond), back.Sub(restarting).Round(time.Millisecond))
	// The API server answers before its readiness check passes, so the
	// watcher may be live before StartAPIServer returns.
	if !tr.waitUntil(5*time.Second, func(tr *rowTracker) bool {
		return tr.states[len(tr.states)-1].State == live.Live
	}) {
		t.Errorf("not live within 5 s of the API server's return: %+v", tr.lastState())
	}
	if live, ok := tr.stateSince(live.Live, restarting); ok {
		t.Logf("live again %v after the restart began (%v after ready)", live.At.Sub(restarting).Round(time.Millisecond), live.At.Sub(back).Round(time.Millisecond))
	}

	want = listPods(ctx, t, srv, "")
	if want[faultsNS+"/born-while-down"] != born.UID {
		t.Fatalf("the pod written to etcd is not listed: %v", want)
	}
	if _, ok := want[faultsNS+"/doomed"]; ok {
		t.Fatal("the pod removed from etcd is still listed")
	}
	var got map[string]types.UID
	var dupErr error
	consistent := tr.waitUntil(30*time.Second, func(tr *rowTracker) bool {
		got, dupErr = tr.keysLocked()
		return dupErr == nil && sameKeys(got, want)
	})
	if dupErr != nil {
		t.Error(dupErr)
	}
	if !consistent {
		t.Errorf("rows after recovery differ from a fresh LIST:\n rows %v\n list %v", sortedKeys(got), sortedKeys(want))
	} else {
		t.Logf("rows match a fresh LIST %v after the API server returned", time.Since(back).Round(time.Millisecond))
	}
	tr.mu.Lock()
	wipes := tr.wipes
	for _, st := range tr.states {
		if !st.At.Before(stopped) {
			t.Logf("  %+7.3fs  %v %v", st.At.Sub(stopped).Seconds(), st.State, st.Err)
		}
	}
	tr.mu.Unlock()
	if wipes > 0 {
		t.Errorf("%d batch(es) deleted every row during the recovery", wipes)
	}

	// The watcher learnt of the changes by listing again (the watch expired).
	events, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	relisted := false
	for _, ev := range events {
		if ev.UserAgent == "kdoctor" && ev.Resource == "pods" && ev.Time.After(back) &&
			(ev.Verb == "list" || ev.Verb == "watch" && strings.Contains(ev.RequestURI, "sendInitialEvents=true")) {
			relisted = true
		}
	}
	if !relisted {
		t.Error("no relist of pods after the restart: the watch resumed without expiring, so the etcd changes were not a relist test")
	}
}

// stateAfter finds the first change to st at or after since; the tracker is locked.
func stateAfter(tr *rowTracker, st live.ConnState, since time.Time) (stateAt, bool) {
	for _, s := range tr.states {
		if s.State == st && !s.At.Before(since) {
			return s, true
		}
	}
	return stateAt{}, false
}

func sortedKeys(m map[string]types.UID) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// testWatchSlowServer puts 2 s of latency in each direction between the
// watcher and the API server: the watch still syncs, changes keep coming
// (late, never stuck), and cancelling does not wait for the slow server.
func testWatchSlowServer(t *testing.T, srv *kubetest.Server) {
	const delay = 2 * time.Second
	ctx := kubetest.Timeout(t, 90*time.Second)
	proxy := startLatencyProxy(t, strings.TrimPrefix(srv.Host(), "https://"), delay)
	cl := kubetest.ConnectAs(t, srv, "", "https://"+proxy.addr())

	started := time.Now()
	wctx, cancel := context.WithCancel(context.Background())
	w := live.Watch(wctx, cl.Client(), live.Scope{Namespaces: []string{faultsNS}}, live.AllResources)
	if took := time.Since(started); took > 100*time.Millisecond {
		t.Errorf("Watch blocked for %v on a slow server", took)
	}
	tr := trackRows(w)
	want := listPods(ctx, t, srv, faultsNS)
	if !tr.waitUntil(60*time.Second, func(tr *rowTracker) bool {
		return len(tr.states) > 0 && tr.states[len(tr.states)-1].State == live.Live && len(tr.rows) == len(want)
	}) {
		t.Fatalf("no sync through a %v-latency link: %+v, %d rows", delay, tr.lastState(), len(tr.rows))
	}
	t.Logf("synced through a %v-latency link in %v", delay, time.Since(started).Round(time.Millisecond))

	// Changes keep flowing, each delayed by about the link's latency.
	var worst time.Duration
	for _, name := range []string{"slow-a", "slow-b"} {
		created := time.Now()
		if _, err := srv.Client().CoreV1().Pods(faultsNS).Create(ctx, simplePod(faultsNS, name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if !tr.waitUntil(15*time.Second, func(tr *rowTracker) bool {
			for _, r := range tr.rows {
				if r.Name == name {
					return true
				}
			}
			return false
		}) {
			t.Fatalf("pod %s never reached the watcher through the slow link", name)
		}
		worst = max(worst, time.Since(created))
	}
	if worst < delay {
		t.Errorf("changes arrived in %v through a %v-latency link: the proxy is not in the way", worst, delay)
	}
	t.Logf("changes arrive within %v through the %v-latency link", worst.Round(time.Millisecond), delay)
	if st := tr.lastState(); st.State != live.Live {
		t.Errorf("slow but working server shown as %v (%v)", st.State, st.Err)
	}
	took := stopWatcher(t, cancel, w, 2*time.Second)
	t.Logf("watcher stopped %v after cancel", took.Round(time.Millisecond))
}

// etcdKV writes to the harness's etcd through its JSON gateway, to change
// the cluster while the API server is down.
type etcdKV struct{ url string }

// findEtcd reads the etcd client URL from the command line of the
// harness's etcd process (the one whose data dir is in the server's dir).
func findEtcd(t *testing.T, srv *kubetest.Server) *etcdKV {
	t.Helper()
	dataDir := "--data-dir=" + filepath.Join(srv.Dir(), "etcd-data")
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(data), "\x00")
		if !slices.Contains(args, dataDir) {
			continue
		}
		for _, a := range args {
			if u, ok := strings.CutPrefix(a, "--listen-client-urls="); ok {
				return &etcdKV{url: strings.Split(u, ",")[0]}
			}
		}
	}
	t.Skip("cannot find the harness's etcd process in /proc")
	return nil
}

func (e *etcdKV) call(t *testing.T, method string, body map[string]string) {
	t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(e.url+"/v3/kv/"+method, "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatalf("etcd %s: %v", method, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("etcd %s: %s: %s", method, resp.Status, out)
	}
}

// put stores obj as JSON, which the API server's storage decoder accepts
// next to its own protobuf.
func (e *etcdKV) put(t *testing.T, key string, obj any) {
	t.Helper()
	value, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	e.call(t, "put", map[string]string{"key": b64(key), "value": base64.StdEncoding.EncodeToString(value)})
}

func (e *etcdKV) del(t *testing.T, key string) {
	t.Helper()
	e.call(t, "deleterange", map[string]string{"key": b64(key)})
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// latencyProxy forwards TCP connections to a target, holding every chunk
// of data for a fixed delay in each direction: a slow link, not a narrow one.
type latencyProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startLatencyProxy(t *testing.T, target string, delay time.Duration) *latencyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &latencyProxy{ln: ln, target: target, delay: delay, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *latencyProxy) addr() string { return p.ln.Addr().String() }

func (p *latencyProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, up) {
			return
		}
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

func (p *latencyProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies src to dst, each read delivered delay later; when either
// side ends, both are closed.
func (p *latencyProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	chunks := make(chan chunk, 4096)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{buf[:n], time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	src.Close()
	dst.Close()
	for range chunks { // let the reader finish
	}
}

func (p *latencyProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for c := range conns {
		c.Close()
	}
	p.wg.Wait()
}
