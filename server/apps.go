package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/apps"
	"github.com/kajhq/kaj/catalog"
	"github.com/kajhq/kaj/jobs"
)

// The app routes translate HTTP to the apps layer, which owns every rule
// of an app's life; nothing here decides a default, a state or an audit
// action.

// listApps answers the apps list, encoding it again only when the apps
// layer says something in it changed: a dashboard or poller asking every
// second costs a version check, not a thousand views encoded.
func (s *Server) listApps(c *fiber.Ctx) error {
	s.appsJSON.Lock()
	known, body, zipped := s.appsJSON.version, s.appsJSON.body, s.appsJSON.gzip
	s.appsJSON.Unlock()
	views, version, engErr, err := s.opts.Apps.ListVersion(c.UserContext(), known)
	if err != nil {
		return err
	}
	// The list stays an array for the clients that read it; each app
	// carries engine_error, and this header says it for an empty list.
	c.Set("Kaj-Engine", engineCondition(engErr))
	if views != nil || body == nil {
		if views == nil {
			views = []apps.View{}
		}
		if body, err = json.Marshal(views); err != nil {
			return err
		}
		// A thousand apps make a megabyte of JSON and a tenth of that
		// gzipped: compressed once per version, it is cheaper to send
		// than the plain bytes.
		var zb bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&zb, gzip.BestSpeed)
		zw.Write(body)
		zw.Close()
		zipped = zb.Bytes()
		s.appsJSON.Lock()
		s.appsJSON.version, s.appsJSON.body, s.appsJSON.gzip = version, body, zipped
		s.appsJSON.Unlock()
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Vary(fiber.HeaderAcceptEncoding)
	if strings.Contains(c.Get(fiber.HeaderAcceptEncoding), "gzip") {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(zipped)
	}
	return c.Send(body)
}

func (s *Server) getApp(c *fiber.Ctx) error {
	v, err := s.opts.Apps.Get(c.UserContext(), c.Params("name"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) createApp(c *fiber.Ctx) error {
	var in apps.Input
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := s.opts.Apps.Create(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(v)
}

func (s *Server) updateApp(c *fiber.Ctx) error {
	var in apps.Input
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := s.opts.Apps.Update(c.UserContext(), actor(c), c.Params("name"), in)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) deleteApp(c *fiber.Ctx) error {
	if err := s.opts.Apps.Delete(c.UserContext(), actor(c), c.Params("name"), c.QueryBool("data", false)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type jobResponse struct {
	Job    string `json:"job"`
	Status string `json:"status"`
	Stream string `json:"stream"`
}

func jobAnswer(c *fiber.Ctx, j *jobs.Job) error {
	st, _ := j.Status()
	return c.Status(fiber.StatusAccepted).JSON(jobResponse{Job: j.ID, Status: st, Stream: "/api/v1/jobs/" + j.ID + "/stream"})
}

// deployApp starts a deploy as a job and answers with it. The job
// outlives the request: it ends with the server, not with the client.
func (s *Server) deployApp(c *fiber.Ctx) error {
	j, err := s.opts.Apps.StartDeploy(s.ctx, actor(c), c.Params("name"))
	if err != nil {
		return err
	}
	return jobAnswer(c, j)
}

type rollbackRequest struct {
	// Release is the release to return to; zero means the previous good
	// one.
	Release uint64 `json:"release"`
	// RestoreData also returns the database to the snapshot taken by the
	// deploy after that release ("roll back app and data").
	RestoreData bool `json:"restore_data"`
}

func (s *Server) rollbackApp(c *fiber.Ctx) error {
	var req rollbackRequest
	if len(c.Body()) > 0 {
		if err := decode(c, &req); err != nil {
			return err
		}
	}
	start := s.opts.Apps.StartRollback
	if req.RestoreData {
		start = s.opts.Apps.StartRollbackWithData
	}
	j, err := start(s.ctx, actor(c), c.Params("name"), req.Release)
	if err != nil {
		return err
	}
	return jobAnswer(c, j)
}

func (s *Server) appAction(c *fiber.Ctx) error {
	name, who, ctx := c.Params("name"), actor(c), c.UserContext()
	var (
		v   apps.View
		err error
	)
	switch c.Params("action") {
	case "stop":
		v, err = s.opts.Apps.Stop(ctx, who, name)
	case "start":
		v, err = s.opts.Apps.Start(ctx, who, name)
	case "restart":
		v, err = s.opts.Apps.Restart(ctx, who, name)
	default:
		return &apiError{Code: fiber.StatusNotFound, Msg: "unknown action " + c.Params("action") + "; use stop, start or restart"}
	}
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) listReleases(c *fiber.Ctx) error {
	rels, err := s.opts.Apps.Releases(c.Params("name"), clampLimit(c.QueryInt("limit", 50)))
	if err != nil {
		return err
	}
	return c.JSON(rels)
}

type passwordView struct {
	Password string `json:"password"`
}

func (s *Server) revealDatabasePassword(c *fiber.Ctx) error {
	pw, err := s.opts.Apps.RevealDatabasePassword(actor(c), c.Params("name"), c.IP())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(passwordView{Password: pw})
}

func (s *Server) listTemplates(c *fiber.Ctx) error { return c.JSON(s.opts.Catalog.List()) }

// instantiateTemplate creates an app from a template and deploys it: the
// one-click deploy. ?preview=true shows the generated settings and the
// defaults they took, storing nothing.
func (s *Server) instantiateTemplate(c *fiber.Ctx) error {
	var p catalog.Params
	if err := decode(c, &p); err != nil {
		return err
	}
	preview := c.QueryBool("preview", false)
	pv, j, err := s.opts.Apps.FromTemplate(s.ctx, actor(c), c.Params("id"), p, preview)
	if err != nil {
		return err
	}
	if preview {
		return c.JSON(pv)
	}
	return jobAnswer(c, j)
}

func (s *Server) listEvents(c *fiber.Ctx) error {
	before, _ := strconv.ParseUint(c.Query("before"), 10, 64)
	evs, err := s.opts.Store.Events(before, clampLimit(c.QueryInt("limit", 100)))
	if err != nil {
		return err
	}
	return c.JSON(evs)
}

// clampLimit keeps a page between 1 and 1000 items.
func clampLimit(n int) int { return min(max(n, 1), 1000) }
