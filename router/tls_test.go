package router

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testCA is a certificate authority made in the test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue makes a server certificate for names (DNS names or IPs) and
// returns it and its key as PEM.
func (ca *testCA) issue(t *testing.T, notAfter time.Time, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-2 * time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// tlsFrontDoor is a Router serving HTTP and HTTPS on loopback.
type tlsFrontDoor struct {
	*Router
	httpAddr, httpsAddr string
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveTLS runs r on the two listeners until the test ends.
func serveTLS(t *testing.T, r *Router, httpLn, httpsLn net.Listener) *tlsFrontDoor {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, httpLn, httpsLn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		r.Close()
	})
	return &tlsFrontDoor{Router: r, httpAddr: httpLn.Addr().String(), httpsAddr: httpsLn.Addr().String()}
}

// httpsClient reaches any host name at addr, trusting roots only, and
// speaks HTTP/2 when the server offers it.
func httpsClient(t *testing.T, addr string, roots *x509.CertPool) *http.Client {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestRouter_uploadedCertificate(t *testing.T) {
	up := startUpstream(t, "secure")
	r, err := New(Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetRoutes([]Route{{App: "secure", Domains: []Domain{{Host: "secure.example.com"}, {Host: "*.secure.example.com"}}, Upstreams: []string{up.addr}, HTTPSRedirect: true}}); err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, "kaj test CA")
	certPEM, keyPEM := ca.issue(t, time.Now().Add(12*time.Hour), "secure.example.com", "*.secure.example.com")
	names, err := r.AddCertificate(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("AddCertificate: %v", err)
	}
	if strings.Join(names, ",") != "secure.example.com,*.secure.example.com" {
		t.Errorf("names %v", names)
	}
	f := serveTLS(t, r, listenLoopback(t), listenLoopback(t))
	client := httpsClient(t, f.httpsAddr, ca.pool)

	for _, host := range []string{"secure.example.com", "www.secure.example.com"} {
		resp, err := client.Get("https://" + host + "/")
		if err != nil {
			t.Fatalf("GET https://%s/: %v", host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := whoAnswered(t, resp.StatusCode, string(body))
		if resp.Proto != "HTTP/2.0" {
			t.Errorf("%s: protocol %s, want HTTP/2.0", host, resp.Proto)
		}
		if got.Header.Get("X-Forwarded-Proto") != "https" || !strings.HasSuffix(got.Header.Get("Forwarded"), "proto=https") {
			t.Errorf("%s: upstream saw X-Forwarded-Proto %q, Forwarded %q", host, got.Header.Get("X-Forwarded-Proto"), got.Header.Get("Forwarded"))
		}
		if got.Header.Get("Upgrade") != "" || got.Header.Get("Http2-Settings") != "" {
			t.Errorf("hop-by-hop headers reached the upstream: %v", got.Header)
		}
	}

	st := r.CertStatus("secure.example.com")
	if st.State != CertValid || st.Source != SourceUploaded || st.Issuer != "kaj test CA" || st.NotAfter.IsZero() {
		t.Errorf("CertStatus = %+v", st)
	}

	// Plain HTTP is redirected, keeping the path and query.
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodPost, "http://"+f.httpAddr+"/a/b?c=d", nil)
	req.Host = "secure.example.com"
	resp, err := plain.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(f.httpsAddr)
	if want := "https://secure.example.com:" + port + "/a/b?c=d"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Errorf("plain HTTP: %d to %q, want 308 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}

	r.RemoveCertificate(names...)
	if _, err := httpsClient(t, f.httpsAddr, ca.pool).Get("https://secure.example.com/"); err == nil {
		t.Error("after RemoveCertificate the handshake still succeeds")
	}
	if st := r.CertStatus("*.secure.example.com"); st.State != CertNone || !strings.Contains(st.LastError, "DNS-01") {
		t.Errorf("CertStatus of a wildcard without a certificate = %+v", st)
	}
}

func TestRouter_AddCertificate_invalid(t *testing.T) {
	r, err := New(Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, "ca")
	certPEM, _ := ca.issue(t, time.Now().Add(time.Hour), "a.example.com")
	_, otherKey := ca.issue(t, time.Now().Add(time.Hour), "a.example.com")
	ipCert, ipKey := ca.issue(t, time.Now().Add(time.Hour), "127.0.0.1")
	for name, pair := range map[string][2][]byte{
		"garbage":       {[]byte("nope"), []byte("nope")},
		"key mismatch":  {certPEM, otherKey},
		"no host names": {ipCert, ipKey},
	} {
		if _, err := r.AddCertificate(pair[0], pair[1]); !errors.Is(err, ErrInvalidCertificate) {
			t.Errorf("%s: AddCertificate = %v, want ErrInvalidCertificate", name, err)
		}
	}
	expiredCert, expiredKey := ca.issue(t, time.Now().Add(-time.Hour), "old.example.com")
	if _, err := r.AddCertificate(expiredCert, expiredKey); err != nil {
		t.Fatalf("an expired certificate is refused: %v", err)
	}
	if st := r.CertStatus("old.example.com"); st.State != CertError || !strings.Contains(st.LastError, "expired") {
		t.Errorf("CertStatus of an expired upload = %+v", st)
	}
}
