package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// selfSigned makes a certificate for host and its PEM key.
func selfSigned(t *testing.T, host string) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "kaj test CA"},
		DNSNames: []string{host}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	leaf, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), pool
}

// TestRouter_uploadedCertificate: a certificate uploaded through the API
// is served for its domain over HTTPS with HTTP/2, plain HTTP to that
// domain is sent to HTTPS, the key is never shown back, and a pair that
// does not match is refused with a reason.
func TestRouter_uploadedCertificate(t *testing.T) {
	t.Parallel()
	env := testutil.NewEnv(t)
	img := env.TestAppImageAs("kaj-e2e-tls", "PORT=5000", "VERSION=secure")
	k := kajtest.Start(t, env, func(c *config.Config) {
		c.Router.HTTPSListen = "127.0.0.1:0"
		// No ACME server is reachable here: the uploaded certificate is
		// what serves, and certmagic's attempts fail fast on loopback.
		c.Router.ACMEDirectory = "https://127.0.0.1:1/directory"
	})
	c := k.Login(t)
	name := env.Name("tls")
	domain := name + ".example.test"
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": img, "port": 5000, "domains": []string{domain}}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if st, ev := deployNow(t, c, name); st != "succeeded" {
		t.Fatalf("deploy: %s %s", st, failure(ev))
	}
	certPEM, keyPEM, pool := selfSigned(t, domain)
	_, otherKey, _ := selfSigned(t, domain)
	if code, body := c.Do("POST", "/api/v1/certificates", map[string]any{"cert_pem": string(certPEM), "key_pem": string(otherKey)}); code != 422 || !strings.Contains(string(body), "private key") {
		t.Fatalf("a mismatched pair: %d %s", code, body)
	}
	if code, body := c.Do("POST", "/api/v1/certificates", map[string]any{"cert_pem": string(certPEM), "key_pem": string(keyPEM)}); code != 201 {
		t.Fatalf("upload: %d %s", code, body)
	}
	_, list := c.Do("GET", "/api/v1/certificates", nil)
	if !strings.Contains(string(list), domain) || strings.Contains(string(list), "PRIVATE KEY") || strings.Contains(string(list), string(keyPEM[40:80])) {
		t.Fatalf("certificate list shows the key or lacks the domain: %s", list)
	}
	var app fullApp
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	if len(app.URLs) != 2 || !strings.HasPrefix(app.URLs[1], "https://"+domain+":") {
		t.Fatalf("URLs %v; want the domain over https", app.URLs)
	}
	u, _ := url.Parse(app.URLs[1])
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, "127.0.0.1:"+u.Port())
		},
	}}
	resp, err := client.Get(app.URLs[1] + "/env")
	if err != nil {
		t.Fatalf("HTTPS to %s: %v", domain, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 || !strings.Contains(string(body), `"VERSION":"secure"`) {
		t.Fatalf("HTTPS: %d over %s: %s", resp.StatusCode, resp.Proto, body)
	}
	// Plain HTTP to the domain goes to HTTPS.
	if code, h, _ := visitHost(t, k.RouterURL, domain, "/env"); code != http.StatusPermanentRedirect || !strings.HasPrefix(h.Get("Location"), "https://"+domain) {
		t.Fatalf("plain HTTP to %s: %d to %q; want a 308 to https", domain, code, h.Get("Location"))
	}
	// The app's own *.localhost address has no certificate: it stays on
	// plain HTTP rather than sending visitors to a TLS error.
	if code, _ := kajtest.Visit(t, app.URL+"/env"); code != 200 {
		t.Fatalf("plain HTTP to %s: %d; want 200 with no redirect", app.URL, code)
	}
}
