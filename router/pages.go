package router

import (
	"fmt"
	"html"
	"net/http"
)

// writePage answers with one of kaj's own small pages. They name no app
// and echo nothing from the request, so an unknown host learns nothing
// about what the router serves.
func writePage(w http.ResponseWriter, status int, title, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, pageHTML, status, html.EscapeString(title), status, html.EscapeString(title), html.EscapeString(text))
}

const pageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>%d %s</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:15vh auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}small{color:#777}</style>
</head><body><h1>%d %s</h1><p>%s</p><small>kaj</small></body></html>
`

func notFoundPage(w http.ResponseWriter) {
	writePage(w, http.StatusNotFound, "Not Found", "No app is served at this address. Check the address, or the app's domains in kaj.")
}

// retryAfterSeconds is what a 503 asks clients to wait: about the time a
// container takes to start and pass its health check.
const retryAfterSeconds = "5"

func unavailablePage(w http.ResponseWriter) {
	w.Header().Set("Retry-After", retryAfterSeconds)
	writePage(w, http.StatusServiceUnavailable, "Service Unavailable", "This app is not running right now: it is stopped or being deployed. Try again in a few seconds.")
}

func badGatewayPage(w http.ResponseWriter) {
	writePage(w, http.StatusBadGateway, "Bad Gateway", "The app did not answer properly. Try again in a moment.")
}

func gatewayTimeoutPage(w http.ResponseWriter) {
	writePage(w, http.StatusGatewayTimeout, "Gateway Timeout", "The app took too long to answer.")
}

func tooLargePage(w http.ResponseWriter) {
	writePage(w, http.StatusRequestEntityTooLarge, "Content Too Large", "The request body is larger than this app accepts.")
}
