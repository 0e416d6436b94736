package kajd

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/kajhq/kaj/apps"
	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/notify"
	"github.com/kajhq/kaj/router"
)

// openRouter listens on the router's addresses and builds the router and
// its front door. The routes themselves come later, from the store.
func (k *Kaj) openRouter(cfg config.Config, log *slog.Logger, obs *observer) error {
	rc := cfg.Router
	var err error
	if k.httpLn, err = apps.Listen(rc.Listen, "HTTP"); err != nil {
		return err
	}
	if rc.HTTPSListen != "" {
		if k.httpsLn, err = apps.Listen(rc.HTTPSListen, "HTTPS"); err != nil {
			return err
		}
	}
	opts := router.Options{
		Suffix: rc.Suffix, DrainTimeout: rc.DrainTimeout.D(), DefaultApp: rc.DefaultApp,
		Logger: log.With("part", "router"), Metrics: k.Metrics, AccessLog: obs.access,
	}
	httpPort, httpsPort := portOf(k.httpLn), portOf(k.httpsLn)
	if k.httpsLn != nil {
		tls := &router.TLSOptions{
			StorageDir: filepath.Join(cfg.Data.Dir, "certs"), Email: rc.ACMEEmail, CA: rc.ACMEDirectory,
			AltHTTPPort: httpPort, AltTLSALPNPort: httpsPort,
			OnEvent: func(ctx context.Context, host string, st router.CertState) {
				if st.State == router.CertError {
					log.Error("certificate", "domain", host, "state", st.State, "err", st.LastError)
					k.Notifier.Notify(notify.Event{Kind: notify.CertFailed, Title: "certificate for " + host + " failed",
						Detail: st.LastError + "; the old certificate, if any, keeps serving until it expires"})
					return
				}
				log.Info("certificate", "domain", host, "state", st.State, "valid_until", st.NotAfter)
			},
		}
		if rc.ACMECARoots != "" {
			pem, err := os.ReadFile(rc.ACMECARoots)
			if err != nil {
				return fmt.Errorf("router.acme_ca_roots: %w", err)
			}
			tls.CARoots = x509.NewCertPool()
			if !tls.CARoots.AppendCertsFromPEM(pem) {
				return fmt.Errorf("router.acme_ca_roots: %s holds no PEM certificate", rc.ACMECARoots)
			}
		}
		opts.TLS = tls
	}
	if k.Router, err = router.New(opts); err != nil {
		return err
	}
	k.FrontDoor = apps.NewFrontDoor(k.Router, k.Store, apps.FrontDoorOptions{
		Suffix: rc.Suffix, HTTPPort: httpPort, HTTPSPort: httpsPort, HTTPSRedirect: rc.HTTPSRedirect,
		MaxBodyBytes: rc.MaxBodyBytes, Timeout: rc.Timeout.D(),
	})
	k.RouterURL = "http://" + k.httpLn.Addr().String()
	log.Info("router", "http", k.httpLn.Addr().String(), "https", addrOf(k.httpsLn), "apps_at", "http://<app>."+rc.Suffix+":"+strconv.Itoa(httpPort))
	return nil
}

func portOf(ln net.Listener) int {
	if ln == nil {
		return 0
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

func addrOf(ln net.Listener) string {
	if ln == nil {
		return "off"
	}
	return ln.Addr().String()
}
