package server

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/store"
)

type credentialRequest struct {
	Host     string `json:"host"`
	Username string `json:"username"`
	// Password is write-only; empty on update keeps the stored one.
	Password string `json:"password"`
	Version  uint64 `json:"version"`
}

func (r *credentialRequest) normalize() error {
	host, err := registry.NormalizeHost(strings.TrimSpace(r.Host))
	if err != nil {
		return &apiError{Code: fiber.StatusUnprocessableEntity, Msg: "invalid registry host", Field: "host", Err: err}
	}
	r.Host = host
	return nil
}

func (s *Server) listCredentials(c *fiber.Ctx) error {
	creds, err := s.opts.Store.Credentials()
	if err != nil {
		return err
	}
	return c.JSON(creds)
}

func (s *Server) putCredential(c *fiber.Ctx) error {
	var req credentialRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if h := hostParam(c); h != "" {
		req.Host = h
	}
	if err := req.normalize(); err != nil {
		return err
	}
	var out store.Credential
	err := s.opts.Store.Update(func(tx *store.Tx) (err error) {
		out, err = tx.PutCredential(store.Credential{Host: req.Host, Username: req.Username, Password: req.Password, Version: req.Version})
		if err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: actor(c), Action: store.ActionRegistrySave, Target: req.Host})
		return err
	})
	if err != nil {
		return err
	}
	code := fiber.StatusOK
	if out.Version == 1 {
		code = fiber.StatusCreated
	}
	return c.Status(code).JSON(out)
}

func (s *Server) deleteCredential(c *fiber.Ctx) error {
	host, err := registry.NormalizeHost(hostParam(c))
	if err != nil {
		return &apiError{Code: fiber.StatusUnprocessableEntity, Msg: "invalid registry host", Field: "host", Err: err}
	}
	err = s.opts.Store.Update(func(tx *store.Tx) error {
		if err := tx.DeleteCredential(host); err != nil {
			return err
		}
		_, err := tx.AddEvent(store.Event{Actor: actor(c), Action: store.ActionRegistryDel, Target: host})
		return err
	})
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type credentialTest struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// testCredential checks the stored credential for a host, or, with a body,
// the credential in it before it is saved. A refusal is a normal answer
// (200, ok false); only kaj's own failures are errors.
func (s *Server) testCredential(c *fiber.Ctx) error {
	req := credentialRequest{Host: hostParam(c)}
	if len(c.Body()) > 0 {
		if err := decode(c, &req); err != nil {
			return err
		}
	}
	if err := req.normalize(); err != nil {
		return err
	}
	if req.Password == "" {
		cred, err := s.opts.Store.RevealCredential(req.Host)
		if err != nil {
			return err
		}
		if req.Username == "" {
			req.Username = cred.Username
		}
		req.Password = cred.Password
	}
	if err := s.opts.Registry.TestCredentials(c.UserContext(), req.Host, req.Username, req.Password); err != nil {
		if code, _ := classify(err); code >= 500 && code != fiber.StatusBadGateway {
			return err // kaj's own failure, not the registry's answer
		}
		return c.JSON(credentialTest{Error: err.Error()})
	}
	return c.JSON(credentialTest{OK: true})
}

func (s *Server) listImages(c *fiber.Ctx) error {
	imgs, err := s.opts.Registry.ListLocal(c.UserContext(), nil)
	if err != nil {
		return err
	}
	return c.JSON(imgs)
}

type pushRequest struct {
	// Image is the local image, by name or ID.
	Image string `json:"image"`
	// Target is the reference to push to: host/repository:tag.
	Target string `json:"target"`
}

func (s *Server) pushImage(c *fiber.Ctx) error {
	var req pushRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Image) == "" {
		return badRequest("image", "name the local image to push")
	}
	if _, err := registry.ParseReference(req.Target); err != nil {
		return &apiError{Code: fiber.StatusUnprocessableEntity, Msg: "invalid target reference", Field: "target", Err: err}
	}
	who := actor(c)
	s.audit(who, store.ActionImagePush, req.Target, req.Image)
	j := s.opts.Jobs.Start(s.ctx, "push", req.Target, who, func(ctx context.Context, emit jobs.Emit) error {
		emit(jobs.Event{Type: jobs.TypeStep, Step: "push", Status: jobs.StatusRunning, Message: req.Image + " → " + req.Target})
		res, err := s.opts.Registry.Push(ctx, req.Image, req.Target, func(p registry.Progress) {
			emit(jobs.Event{Type: jobs.TypeProgress, Step: "push", Layer: strconv.Itoa(p.Index) + " " + p.Layer, Message: string(p.Phase), Current: p.Done, Total: p.Total})
		})
		if err != nil {
			emit(jobs.Event{Type: jobs.TypeStep, Step: "push", Status: jobs.StatusFailed, Message: err.Error()})
			return err
		}
		emit(jobs.Event{Type: jobs.TypeStep, Step: "push", Status: jobs.StatusSucceeded, Message: "pushed " + res.Digest})
		return nil
	})
	return jobAnswer(c, j)
}

type jobView struct {
	*jobs.Job
	Status string       `json:"status"`
	Error  string       `json:"error,omitempty"`
	Events []jobs.Event `json:"events"`
}

func (s *Server) getJob(c *fiber.Ctx) error {
	j, ok := s.opts.Jobs.Get(c.Params("id"))
	if !ok {
		return &apiError{Code: fiber.StatusNotFound, Msg: "no such job (finished jobs are kept for a while, not forever)"}
	}
	past, _, stop := j.Watch()
	stop()
	st, err := j.Status()
	v := jobView{Job: j, Status: st, Events: past}
	if err != nil {
		v.Error = err.Error()
	}
	return c.JSON(v)
}

func (s *Server) cancelJob(c *fiber.Ctx) error {
	j, ok := s.opts.Jobs.Get(c.Params("id"))
	if !ok {
		return &apiError{Code: fiber.StatusNotFound, Msg: "no such job"}
	}
	j.Cancel()
	s.audit(actor(c), store.ActionJobCancel, j.Target, j.Kind)
	return c.SendStatus(fiber.StatusAccepted)
}

// hostParam is the :host route parameter, which clients may send with
// its ':' escaped (127.0.0.1%3A5000).
func hostParam(c *fiber.Ctx) string {
	h := c.Params("host")
	if u, err := url.PathUnescape(h); err == nil {
		return u
	}
	return h
}
