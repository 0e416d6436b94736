package server

import (
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
