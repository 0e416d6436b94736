package router

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRouter_ACME obtains certificates from a real ACME server (Pebble)
// that really validates the challenges against the router's listeners:
// once by HTTP-01 on the HTTP port, once by TLS-ALPN-01 on the HTTPS
// port. A client trusting only Pebble's root then gets 200 over HTTP/2.
func TestRouter_ACME(t *testing.T) {
	httpLn, httpsLn := listenLoopback(t), listenLoopback(t)
	httpPort, httpsPort := httpLn.Addr().(*net.TCPAddr).Port, httpsLn.Addr().(*net.TCPAddr).Port
	pebble := startPebble(t, httpPort, httpsPort)
	up := startUpstream(t, "shop")

	// One router per challenge type, on the same ports, one after the
	// other, so that each challenge is proven alone.
	for _, tc := range []struct {
		name, domain      string
		noHTTP, noTLSALPN bool
	}{
		{"HTTP-01", "shop.kaj-test.net", false, true},
		{"TLS-ALPN-01", "tls.shop.kaj-test.net", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "HTTP-01" {
				httpLn, httpsLn = relisten(t, httpLn), relisten(t, httpsLn)
			}
			pebble.addA(t, tc.domain)
			var mu sync.Mutex
			var events []string
			r, err := New(Options{
				Logger: testLogger(t),
				TLS: &TLSOptions{
					StorageDir:              t.TempDir(),
					Email:                   "ops@kaj-test.net",
					CA:                      pebble.directory,
					CARoots:                 pebble.apiRoots,
					AltHTTPPort:             httpPort,
					AltTLSALPNPort:          httpsPort,
					DisableHTTPChallenge:    tc.noHTTP,
					DisableTLSALPNChallenge: tc.noTLSALPN,
					OnEvent: func(_ context.Context, host string, st CertState) {
						mu.Lock()
						events = append(events, host+":"+st.State)
						mu.Unlock()
					},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.SetRoutes([]Route{{
				App:       "shop",
				Domains:   []Domain{{Host: tc.domain}, {Host: "*.wild.kaj-test.net"}},
				Upstreams: []string{up.addr},
			}}); err != nil {
				t.Fatal(err)
			}
			f := serveTLS(t, r, httpLn, httpsLn)

			deadline := time.Now().Add(60 * time.Second)
			for r.CertStatus(tc.domain).State != CertValid {
				if time.Now().After(deadline) {
					t.Fatalf("no certificate after 60s: %+v", r.CertStatus(tc.domain))
				}
				time.Sleep(100 * time.Millisecond)
			}
			st := r.CertStatus(tc.domain)
			if st.Source != SourceACME || !strings.Contains(st.Issuer, "Pebble") || time.Until(st.NotAfter) < 24*time.Hour {
				t.Errorf("CertStatus = %+v", st)
			}
			mu.Lock()
			t.Logf("certificate events: %v", events)
			if len(events) < 2 || events[0] != tc.domain+":pending" || events[len(events)-1] != tc.domain+":valid" {
				t.Errorf("events %v, want pending first and valid last", events)
			}
			mu.Unlock()

			client := httpsClient(t, f.httpsAddr, pebble.root(t))
			resp, err := client.Get("https://" + tc.domain + "/")
			if err != nil {
				t.Fatalf("HTTPS with the ACME certificate: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := whoAnswered(t, resp.StatusCode, string(body)); got.Name != "shop" {
				t.Errorf("answered by %q", got.Name)
			}
			if resp.Proto != "HTTP/2.0" {
				t.Errorf("protocol %s, want HTTP/2.0", resp.Proto)
			}
			if n := resp.TLS.PeerCertificates[0].DNSNames; len(n) != 1 || n[0] != tc.domain {
				t.Errorf("served certificate names %v", n)
			}
			if st := r.CertStatus("*.wild.kaj-test.net"); st.State != CertNone || !strings.Contains(st.LastError, "DNS-01") {
				t.Errorf("wildcard CertStatus = %+v, want none with the reason", st)
			}
			if st := r.CertStatus("shop.localhost"); st.State != CertNone {
				t.Errorf("CertStatus of the .localhost address = %+v, want none", st)
			}
		})
	}
}

// relisten closes a listener used by a finished subtest and listens on
// the same address again, so that Pebble's fixed ports still lead to the
// router.
func relisten(t *testing.T, ln net.Listener) net.Listener {
	t.Helper()
	addr := ln.Addr().String()
	ln.Close()
	var err error
	for range 50 {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			return l
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("listening again on %s: %v", addr, err)
	return nil
}
