package swarmtest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func runAll(cmds ...[]string) error {
	for _, c := range cmds {
		if err := run(c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// freeSubnet picks a /24 in 10.100.0.0–10.250.255.0 that overlaps no route
// and no address of the root namespace. The swarm's own overlay networks
// are allocated upwards from 10.0.0.0/24, far below.
func freeSubnet() (netip.Prefix, error) { return freePrefix(24, nil) }

// freePrefix picks a prefix of bits bits in 10.100.0.0–10.250.255.255
// that overlaps no route, no address of the root namespace and none of
// taken.
func freePrefix(bits int, taken []netip.Prefix) (netip.Prefix, error) {
	used := append([]netip.Prefix(nil), taken...)
	out, err := exec.Command("ip", "-4", "-o", "route", "show", "table", "all").Output()
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("ip route: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		dst := f[0]
		if dst == "broadcast" || dst == "local" || dst == "unicast" || dst == "multicast" {
			if len(f) < 2 {
				continue
			}
			dst = f[1]
		}
		if p, err := netip.ParsePrefix(dst); err == nil {
			used = append(used, p.Masked())
		} else if a, err := netip.ParseAddr(dst); err == nil {
			used = append(used, netip.PrefixFrom(a, 32))
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
				used = append(used, p.Masked())
			}
		}
	}
	for range 200 {
		p, _ := netip.AddrFrom4([4]byte{10, byte(100 + rand.IntN(151)), byte(rand.IntN(256)), 0}).Prefix(bits)
		free := true
		for _, u := range used {
			if u.Overlaps(p) {
				free = false
				break
			}
		}
		if free {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /%d in 10.100.0.0–10.250.255.255 for the test swarm", bits)
}

func freePortOn(addr string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// killUnder SIGKILLs the processes whose command line names a path under
// dir (an engine, its containerd, shims and the registry), the extra pids,
// and all their descendants (the containers).
func killUnder(dir string, pids ...int) int {
	dir = filepath.Clean(dir) + "/"
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	seed := map[int]bool{}
	for _, p := range pids {
		seed[p] = true
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			// The command name in parentheses may hold spaces; the
			// parent pid is the second field after it.
			s := string(stat)
			if i := strings.LastIndexByte(s, ')'); i >= 0 {
				f := strings.Fields(s[i+1:])
				if len(f) > 1 {
					parent[pid], _ = strconv.Atoi(f[1])
				}
			}
		}
		if cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil {
			if strings.Contains(string(cmdline), dir) {
				seed[pid] = true
			}
		}
	}
	doomed := map[int]bool{}
	for p := range seed {
		doomed[p] = true
	}
	// Descendants: repeat until no process is added.
	for changed := true; changed; {
		changed = false
		for pid, pp := range parent {
			if !doomed[pid] && doomed[pp] {
				doomed[pid] = true
				changed = true
			}
		}
	}
	delete(doomed, self)
	delete(doomed, 1)
	for p := range doomed {
		syscall.Kill(p, syscall.SIGKILL)
	}
	return len(doomed)
}

// unmountUnder detaches every mount below dir, deepest first (the
// engines' fuse-overlayfs layers, container shm mounts, network namespace
// bind mounts).
func unmountUnder(dir string) error {
	prefix := filepath.Clean(dir) + "/"
	var lastErr error
	for pass := 0; pass < 5; pass++ {
		f, err := os.Open("/proc/self/mountinfo")
		if err != nil {
			return err
		}
		var mounts []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 5 {
				continue
			}
			mp := unescapeMount(fields[4])
			if strings.HasPrefix(mp, prefix) {
				mounts = append(mounts, mp)
			}
		}
		f.Close()
		if len(mounts) == 0 {
			return nil
		}
		sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
		lastErr = nil
		for _, mp := range mounts {
			if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				lastErr = fmt.Errorf("unmounting %s: %w", mp, err)
			}
		}
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("mounts left under %s after 5 passes", dir)
	}
	return lastErr
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// teardown removes everything st names. Objects already gone are not
// errors.
func teardown(st state) error {
	var errs []error
	if st.Dir != "" && strings.HasPrefix(filepath.Base(st.Dir), st.Name) {
		for i := 0; i < 20 && killUnder(st.Dir) > 0; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if err := unmountUnder(st.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	if len(st.Rule) > 0 {
		if err := run("iptables", append([]string{"-D"}, st.Rule...)...); err != nil && !gone(err) {
			errs = append(errs, err)
		}
	}
	for _, ns := range st.Netns {
		if _, err := os.Stat("/var/run/netns/" + ns); err == nil {
			if err := run("ip", "netns", "del", ns); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, v := range append(append([]string(nil), st.Veths...), st.Bridge) {
		if v == "" {
			continue
		}
		if _, err := net.InterfaceByName(v); err == nil {
			if err := run("ip", "link", "del", v); err != nil && !gone(err) {
				errs = append(errs, err)
			}
		}
	}
	if st.Dir != "" && strings.HasPrefix(filepath.Base(st.Dir), st.Name) {
		if err := os.RemoveAll(st.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && st.Name != "" {
		os.RemoveAll(filepath.Join(StateRoot, st.Name))
	}
	return errors.Join(errs...)
}

// gone reports whether a teardown step failed because what it removes
// is already gone: a veth goes with its peer when a namespace is deleted,
// which the kernel finishes a moment later.
func gone(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Cannot find device") || strings.Contains(s, "No such device") || strings.Contains(s, "does not exist") || strings.Contains(s, "Bad rule")
}

// sweepStale tears down the clusters whose owning process is gone: a test
// binary killed by its timeout leaves its cluster running.
func sweepStale() {
	entries, err := os.ReadDir(StateRoot)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "kajsw") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(StateRoot, e.Name(), "state.json"))
		if err != nil {
			continue
		}
		var st state
		if json.Unmarshal(b, &st) != nil || st.Name != e.Name() || st.Owner <= 0 {
			continue
		}
		if err := syscall.Kill(st.Owner, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue
		}
		if err := teardown(st); err != nil {
			fmt.Fprintf(os.Stderr, "swarmtest: tearing down %s left by process %d: %v\n", st.Name, st.Owner, err)
		}
	}
}
