package router

import "strings"

// redirects reports whether a plain-HTTP request for host goes to HTTPS:
// only for a host that has a valid certificate to be served with, so an
// app's own <app>.<suffix> address, a domain still waiting for its
// certificate, or one whose ACME order failed keeps answering over HTTP
// instead of sending visitors to a TLS error.
func (r *Router) redirects(host string) bool {
	if host == r.suffix || strings.HasSuffix(host, "."+r.suffix) {
		return false
	}
	return r.CertStatus(host).State == CertValid
}
