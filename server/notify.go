package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/notify"
	"github.com/kajhq/kaj/store"
)

// The notification routes keep targets in the store (secrets sealed,
// never shown back) and send a test through the notifier.

func (s *Server) listNotifyTargets(c *fiber.Ctx) error {
	var ts []store.NotifyTarget
	if err := s.opts.Store.View(func(tx *store.Tx) (err error) { ts, err = tx.NotifyTargets(); return err }); err != nil {
		return err
	}
	if app := c.Params("name"); app != "" {
		mine := []store.NotifyTarget{}
		for _, t := range ts {
			if t.App == app || t.App == "" {
				mine = append(mine, t)
			}
		}
		ts = mine
	}
	return c.JSON(ts)
}

// putNotifyTarget creates a target, or with an id replaces one (empty
// secrets keep the stored ones). Under /apps/:name it is that app's.
func (s *Server) putNotifyTarget(c *fiber.Ctx) error {
	var in store.NotifyTarget
	if err := decode(c, &in); err != nil {
		return err
	}
	if app := c.Params("name"); app != "" {
		if _, err := s.opts.Apps.Get(c.UserContext(), app); err != nil {
			return err
		}
		in.App = app
	}
	for _, k := range in.Events {
		ok := false
		for _, known := range notify.Kinds {
			ok = ok || k == string(known)
		}
		if !ok {
			return badRequest("events", "%q is not an event kind; use deploy.failed, deploy.succeeded, app.crashed, app.restarting, backup.failed or certificate.failed", k)
		}
	}
	var out store.NotifyTarget
	err := s.opts.Store.Update(func(tx *store.Tx) (err error) {
		if out, err = tx.PutNotifyTarget(in); err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: actor(c), Action: store.ActionNotifySave, Target: out.Name, Detail: out.Kind})
		return err
	})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) deleteNotifyTarget(c *fiber.Ctx) error {
	id := c.Params("id")
	err := s.opts.Store.Update(func(tx *store.Tx) error {
		if err := tx.DeleteNotifyTarget(id); err != nil {
			return err
		}
		_, err := tx.AddEvent(store.Event{Actor: actor(c), Action: store.ActionNotifyDelete, Target: id})
		return err
	})
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// testNotifyTarget sends a test notification now and says how it went;
// the outcome is also recorded on the target.
func (s *Server) testNotifyTarget(c *fiber.Ctx) error {
	if s.opts.Notifier == nil {
		return errNoEngineOps
	}
	err := s.opts.Notifier.Send(c.UserContext(), c.Params("id"), notify.Event{
		Kind: notify.Test, Title: "Test notification from kaj", Detail: "sent by " + actor(c) + " with the Send test button",
	})
	if err != nil {
		return &apiError{Code: fiber.StatusBadGateway, Msg: "the test notification failed", Err: err}
	}
	return c.JSON(map[string]bool{"sent": true})
}
