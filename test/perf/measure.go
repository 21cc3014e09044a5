package main

import (
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

	"k8s.io/client-go/rest"
)

// writeCounter counts the API writes sent through a rest.Config, by verb and
// resource, and remembers when the last one was sent.
type writeCounter struct {
	mu     sync.Mutex
	counts map[string]int
	last   time.Time
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
				w.counts[verb+" "+resourceOf(req.URL.Path)]++
				w.last = time.Now()
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
// its child processes (the envtest kube-apiserver and etcd), at one moment.
type cpuSample struct {
	at                   time.Time
	busy, self, children time.Duration
}

// clockTick is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTick = 10 * time.Millisecond

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
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
	s.children = childrenCPU()
	return s
}

// childrenCPU sums the user and system time of this process's children.
func childrenCPU() time.Duration {
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var sum time.Duration
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// The command may hold spaces: the fields start after its ')'.
		s := string(data)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 13 || fields[1] != self {
			continue
		}
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		sum += time.Duration(utime+stime) * clockTick
	}
	return sum
}

// cpuReport says how the machine's CPU was spent between two samples.
func cpuReport(a, b cpuSample) string {
	wall := b.at.Sub(a.at)
	capacity := float64(wall) * float64(runtime.NumCPU())
	self := b.self - a.self
	cp := b.children - a.children
	other := max(b.busy-a.busy-self-cp, 0)
	pct := func(d time.Duration) float64 { return 100 * float64(d) / capacity }
	return fmt.Sprintf("wall %s on %d CPUs: this process %.0f%%, control plane %.0f%%; other processes used %.0f%% CPU during this phase",
		wall.Round(time.Millisecond), runtime.NumCPU(), pct(self), pct(cp), pct(other))
}
