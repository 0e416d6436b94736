package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/auth"
)

type updateUserRequest struct {
	Role     *string `json:"role"`
	Disabled *bool   `json:"disabled"`
}

// updateUser changes another user's role or disables them; kaj keeps at
// least one enabled admin.
func (s *Server) updateUser(c *fiber.Ctx) error {
	var req updateUserRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	var ch auth.UserChange
	if req.Role != nil {
		r, err := auth.ParseRole(*req.Role)
		if err != nil {
			return err
		}
		ch.Role = &r
	}
	ch.Disabled = req.Disabled
	u, err := auth.UpdateUser(s.opts.Store, actor(c), c.Params("name"), ch)
	if err != nil {
		return err
	}
	return c.JSON(userResponse{Name: u.Name, Role: u.Role, Disabled: u.Disabled, CreatedAt: u.CreatedAt})
}

func (s *Server) deleteUser(c *fiber.Ctx) error {
	if err := auth.DeleteUser(s.opts.Store, actor(c), c.Params("name")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
