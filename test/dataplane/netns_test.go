package dataplane

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
)

// probeTimeout is how long a probe waits for a connection or an echo.
const probeTimeout = time.Second

// inNetns runs fn with the calling goroutine's thread in the network
// namespace ns: sockets that fn creates stay in ns. It runs fn on a thread of
// its own, and when it cannot switch that thread back, it leaves the thread
// locked so that Go discards it with the goroutine.
func inNetns(ns netns.NsHandle, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("failed to read the thread's network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("failed to enter a pod's network namespace: %w", err)
			return
		}
		err = fn()
		if setErr := netns.Set(orig); setErr != nil {
			done <- errors.Join(err, fmt.Errorf("failed to leave a pod's network namespace: %w", setErr))
			return // the thread stays locked and ends with this goroutine
		}
		runtime.UnlockOSThread()
		done <- err
	}()
	return <-done
}

// listen starts, in ns, a TCP listener that accepts and closes connections
// or a UDP listener that echoes datagrams, on port. Close the result to stop
// it.
func listen(ns netns.NsHandle, port int32, protocol corev1.Protocol) (io.Closer, error) {
	addr := net.JoinHostPort("0.0.0.0", strconv.Itoa(int(port)))
	var closer io.Closer
	err := inNetns(ns, func() error {
		switch protocol {
		case corev1.ProtocolUDP:
			conn, err := net.ListenPacket("udp4", addr)
			if err != nil {
				return err
			}
			closer = conn
			go echo(conn)
		default:
			l, err := net.Listen("tcp4", addr)
			if err != nil {
				return err
			}
			closer = l
			go acceptAndClose(l)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to listen on %d/%s: %w", port, protocol, err)
	}
	return closer, nil
}

func acceptAndClose(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		_ = c.Close()
	}
}

func echo(conn net.PacketConn) {
	buf := make([]byte, 512)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		_, _ = conn.WriteTo(buf[:n], from)
	}
}

// udpPorts hands out UDP source ports, a different one per probe: a probe
// that reused the 5-tuple of an earlier allowed probe would match its
// conntrack entry and pass as established traffic.
var udpPorts atomic.Uint32

func nextUDPPort() int {
	const lo, span = 20000, 40000
	return lo + int(udpPorts.Add(1)%span)
}

// probe opens a new connection from ns to ip:port and reports whether it
// got through: a TCP connect, or a UDP datagram echoed back, within
// probeTimeout. It sends from the address local when set (an address of
// ns), else from the one the kernel picks.
func probe(ns netns.NsHandle, local, ip string, port int32, protocol corev1.Protocol) (bool, error) {
	addr := net.JoinHostPort(ip, strconv.Itoa(int(port)))
	var localIP net.IP
	if local != "" {
		if localIP = net.ParseIP(local); localIP == nil {
			return false, fmt.Errorf("invalid source address %q", local)
		}
	}
	ok := false
	err := inNetns(ns, func() error {
		if protocol == corev1.ProtocolUDP {
			var err error
			ok, err = probeUDP(localIP, addr)
			return err
		}
		d := net.Dialer{Timeout: probeTimeout}
		if localIP != nil {
			d.LocalAddr = &net.TCPAddr{IP: localIP}
		}
		c, err := d.Dial("tcp4", addr)
		if err != nil {
			return nil // refused or timed out: denied
		}
		ok = true
		return c.Close()
	})
	return ok, err
}

func probeUDP(local net.IP, addr string) (bool, error) {
	raddr, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return false, err
	}
	var conn *net.UDPConn
	for tries := 0; ; tries++ {
		conn, err = net.DialUDP("udp4", &net.UDPAddr{IP: local, Port: nextUDPPort()}, raddr)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EADDRINUSE) || tries > 10 {
			return false, fmt.Errorf("failed to open a UDP socket: %w", err)
		}
	}
	defer conn.Close()
	payload := []byte("twlab " + conn.LocalAddr().String())
	if err := conn.SetDeadline(time.Now().Add(probeTimeout)); err != nil {
		return false, err
	}
	if _, err := conn.Write(payload); err != nil {
		return false, nil
	}
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	return err == nil && string(buf[:n]) == string(payload), nil
}

// parallel runs fn(i) for i in [0, n), at most width at a time.
func parallel(n, width int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, width)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}
