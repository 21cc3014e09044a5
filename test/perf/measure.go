package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/rest"
)

// writeCounter counts the API writes sent through a rest.Config, by verb and
// resource, and remembers when the last one was sent.
type writeCounter struct {
	mu     sync.Mutex
	counts map[string]int
	last   time.Time
	sent   []sentWrite // every write, in the order their responses came back
}

// sentWrite is one write: when its response came back, and its verb and
// resource.
type sentWrite struct {
	at  time.Time
	key string
}

func newWriteCounter() *writeCounter { return &writeCounter{counts: map[string]int{}} }

// wrap makes every client built from cfg count its writes here.
func (w *writeCounter) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if verb := writeVerb(req.Method); verb != "" {
				w.mu.Lock()
				key := verb + " " + resourceOf(req.URL.Path)
				w.counts[key]++
				w.last = time.Now()
				w.sent = append(w.sent, sentWrite{at: w.last, key: key})
				w.mu.Unlock()
			}
			return resp, err
		})
	}
	return cfg
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// snapshot returns the counts so far and the time of the last write.
func (w *writeCounter) snapshot() (map[string]int, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.counts))
	maps.Copy(out, w.counts)
	return out, w.last
}

// timeline says, per verb and resource, when the writes sent from start on
// came back: the first and the last, and how many in each tenth of the time
// from start to the last write. It tells a phase held up by one kind of
// write (the events trailing the reconciles) from one slow throughout.
func (w *writeCounter) timeline(start time.Time) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	const buckets = 10
	span := w.last.Sub(start)
	if span <= 0 {
		return "no writes"
	}
	type line struct {
		first, last time.Duration
		counts      [buckets]int
	}
	lines := map[string]*line{}
	for _, s := range w.sent {
		if s.at.Before(start) {
			continue
		}
		at := s.at.Sub(start)
		l := lines[s.key]
		if l == nil {
			l = &line{first: at}
			lines[s.key] = l
		}
		l.last = at
		l.counts[min(int(at*buckets/span), buckets-1)]++
	}
	var b strings.Builder
	for _, key := range slices.Sorted(maps.Keys(lines)) {
		l := lines[key]
		fmt.Fprintf(&b, "\n     %-32s %6.2fs to %6.2fs, per tenth: %v", key, l.first.Seconds(), l.last.Seconds(), l.counts)
	}
	return b.String()
}

// since returns the writes counted after before was taken.
func since(after, before map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func total(counts map[string]int) int {
	n := 0
	for _, v := range counts {
		n += v
	}
	return n
}

// formatCounts prints counts as "verb resource=n" sorted, or "none".
func formatCounts(counts map[string]int) string {
	if len(counts) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range counts {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

func writeVerb(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return ""
}

// resourceOf extracts resource[/subresource] from an API path such as
// /apis/tierwall.dev/v1alpha1/namespaces/ns/appisolations/name/status.
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return path
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) != 2 {
		parts = parts[2:]
	}
	switch len(parts) {
	case 0:
		return path
	case 1, 2:
		return parts[0]
	default:
		return parts[0] + "/" + parts[2]
	}
}

// cpuSample is the CPU time of the whole machine, of this process and of
// its child processes (the envtest kube-apiserver and etcd), and the
// kube-apiserver's counters, at one moment.
type cpuSample struct {
	at                          time.Time
	busy, self, apiserver, etcd time.Duration
	requests                    apiserverRequests
}

// apiserverRequests are the kube-apiserver's counters of what it served
// since it started: the watch events it sent, and the writes (POST and
// PATCH requests) and etcd requests it served, with their summed latency.
type apiserverRequests struct {
	watchEvents            float64
	writes, writeSeconds   float64
	etcdCalls, etcdSeconds float64
	// gcCycles are its garbage collections so far; heap is its heap in
	// use now.
	gcCycles, heap float64
}

// readAPIServerRequests reads the counters from the kube-apiserver's
// /metrics; the zero value when it cannot.
func readAPIServerRequests(ctx context.Context, c rest.Interface) apiserverRequests {
	var r apiserverRequests
	body, err := c.Get().AbsPath("/metrics").Stream(ctx)
	if err != nil {
		return r
	}
	defer func() { _ = body.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(body)
	if err != nil {
		return r
	}
	all := func(*dto.Metric) bool { return true }
	write := func(m *dto.Metric) bool {
		return hasLabel(m, "verb", "POST") || hasLabel(m, "verb", "PATCH")
	}
	r.watchEvents, _ = sumOf(families["apiserver_watch_events_total"], all)
	r.writeSeconds, r.writes = sumOf(families["apiserver_request_duration_seconds"], write)
	r.etcdSeconds, r.etcdCalls = sumOf(families["etcd_request_duration_seconds"], all)
	_, r.gcCycles = sumOf(families["go_gc_duration_seconds"], all)
	r.heap, _ = sumOf(families["go_memstats_heap_inuse_bytes"], all)
	return r
}

// sumOf sums, over the series of family f that match, the value of a
// counter or gauge, or the sum and the count of the observations of a
// histogram or summary. A nil f sums to zero.
func sumOf(f *dto.MetricFamily, match func(*dto.Metric) bool) (value, count float64) {
	for _, m := range f.GetMetric() {
		if !match(m) {
			continue
		}
		value += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetHistogram().GetSampleSum() + m.GetSummary().GetSampleSum()
		count += float64(m.GetHistogram().GetSampleCount() + m.GetSummary().GetSampleCount())
	}
	return value, count
}

// hasLabel tells whether series m has label name with value.
func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// clockTick is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTick = 10 * time.Millisecond

func sampleCPU(ctx context.Context, apiserver rest.Interface) cpuSample {
	s := cpuSample{at: time.Now(), requests: readAPIServerRequests(ctx, apiserver)}
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		// cpu user nice system idle iowait irq softirq steal ...
		fields := strings.Fields(strings.SplitN(string(data), "\n", 2)[0])
		for i, f := range fields[1:] {
			if i == 3 || i == 4 || i >= 8 { // idle, iowait, guest (already in user)
				continue
			}
			v, _ := strconv.ParseInt(f, 10, 64)
			s.busy += time.Duration(v) * clockTick
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.apiserver, s.etcd = childrenCPU()
	return s
}

// childrenCPU sums the user and system time of this process's children:
// the kube-apiserver, and etcd.
func childrenCPU() (apiserver, etcd time.Duration) {
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// The command may hold spaces: the fields start after its ')'.
		s := string(data)
		end := strings.LastIndexByte(s, ')')
		command := s[strings.IndexByte(s, '(')+1 : end]
		fields := strings.Fields(s[end+1:])
		if len(fields) < 13 || fields[1] != self {
			continue
		}
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		if command == "etcd" {
			etcd += time.Duration(utime+stime) * clockTick
		} else {
			apiserver += time.Duration(utime+stime) * clockTick
		}
	}
	return apiserver, etcd
}

// cpuReport says how the machine's CPU was spent between two samples.
func cpuReport(a, b cpuSample) string {
	wall := b.at.Sub(a.at)
	capacity := float64(wall) * float64(runtime.NumCPU())
	self := b.self - a.self
	apiserver, etcd := b.apiserver-a.apiserver, b.etcd-a.etcd
	other := max(b.busy-a.busy-self-apiserver-etcd, 0)
	pct := func(d time.Duration) float64 { return 100 * float64(d) / capacity }
	report := fmt.Sprintf("wall %s on %d CPUs: this process %.0f%%, control plane %.0f%% (kube-apiserver %.0f%%, etcd %.0f%%); other processes used %.0f%% CPU during this phase",
		wall.Round(time.Millisecond), runtime.NumCPU(), pct(self), pct(apiserver+etcd), pct(apiserver), pct(etcd), pct(other))
	if writes := b.requests.writes - a.requests.writes; writes > 0 {
		report += fmt.Sprintf("; the kube-apiserver sent %.0f watch events, served %.0f writes in %.1f ms on average, and waited %.1f ms on average for %.0f etcd requests",
			b.requests.watchEvents-a.requests.watchEvents, writes, 1000*(b.requests.writeSeconds-a.requests.writeSeconds)/writes,
			1000*(b.requests.etcdSeconds-a.requests.etcdSeconds)/max(b.requests.etcdCalls-a.requests.etcdCalls, 1), b.requests.etcdCalls-a.requests.etcdCalls)
		report += fmt.Sprintf("; it collected garbage %.0f times, its heap in use went from %.0f to %.0f MiB",
			b.requests.gcCycles-a.requests.gcCycles, a.requests.heap/(1<<20), b.requests.heap/(1<<20))
	}
	return report
}
