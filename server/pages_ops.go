package server

import (
	"bytes"
	"github.com/kajhq/kaj/apps"
	"os"
	"path/filepath"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/dashboard"
	"github.com/kajhq/kaj/notify"
	"github.com/kajhq/kaj/store"
)

func (p *site) notifications(c *fiber.Ctx) error {
	page := dashboard.NotificationsPage{Base: p.base(c, "notifications")}
	if err := p.s.opts.Store.View(func(tx *store.Tx) (err error) { page.Targets, err = tx.NotifyTargets(); return err }); err != nil {
		return err
	}
	for _, k := range notify.Kinds {
		page.Kinds = append(page.Kinds, string(k))
	}
	return p.render(c, fiber.StatusOK, "notifications", page)
}

// xtermFiles are the only files served from the xterm folder, nothing a
// path could reach beyond them. (Debian 12's addons are CommonJS too;
// the terminal keeps its 80x24 start size and follows resizes it is
// told of.)
var xtermFiles = map[string]string{
	"xterm.js":  fiber.MIMEApplicationJavaScriptCharsetUTF8,
	"xterm.css": "text/css; charset=utf-8",
}

// xtermAvailable says whether the host has a browser build of xterm.js
// to serve, and when not, why. Debian 12's libjs-xterm 3.8.1 ships a
// 288-byte CommonJS stub as xterm.js (it require()s files the package
// does not have), which a browser cannot run: that counts as missing.
func (s *Server) xtermAvailable() (bool, string) {
	if s.opts.XtermDir == "" {
		return false, "no xterm folder is configured (dashboard.xterm_dir)"
	}
	path := filepath.Join(s.opts.XtermDir, "xterm.js")
	b, err := os.ReadFile(path)
	if err != nil {
		return false, "xterm.js is not installed (apt-get install libjs-xterm, or set dashboard.xterm_dir)"
	}
	if len(b) < 4<<10 || (len(b) < 64<<10 && bytes.Contains(b, []byte(`require("./`))) {
		return false, path + " is not a browser build (Debian 12's libjs-xterm ships a CommonJS stub)"
	}
	return true, ""
}

// xtermFile serves xterm.js from the host's libjs-xterm at run time, from
// kaj's own origin, so the page's script-src 'self' policy holds and no
// third-party code lives in kaj's repository.
func (s *Server) xtermFile(c *fiber.Ctx) error {
	name := c.Params("*")
	ctype, ok := xtermFiles[name]
	if !ok || s.opts.XtermDir == "" {
		return &apiError{Code: fiber.StatusNotFound, Msg: "no such xterm file"}
	}
	b, err := os.ReadFile(filepath.Join(s.opts.XtermDir, filepath.FromSlash(name)))
	if err != nil {
		return &apiError{Code: fiber.StatusNotFound, Msg: "xterm.js is not installed here: apt-get install libjs-xterm, or set dashboard.xterm_dir", Err: err}
	}
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderCacheControl, "private, max-age=3600")
	return c.Send(b)
}

// usage is the latest reading of each app's serving container, from the
// stats streams open now.
func (s *Server) usage(views []apps.View) map[string]dashboard.Usage {
	out := map[string]dashboard.Usage{}
	if s.opts.Stats == nil {
		return out
	}
	latest := s.opts.Stats.Latest()
	for _, v := range views {
		for _, c := range v.Containers {
			if smp, ok := latest[c.ID]; ok && c.Role == "app" && (c.Serving || len(v.Containers) == 1) {
				out[v.Name] = dashboard.Usage{CPU: smp.CPUPercent, Memory: int64(smp.Memory)}
			}
		}
	}
	return out
}
