package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/apps"
)

// Uploaded certificates: the PEM pair goes in, names and dates come out;
// the key is never sent back.

func (s *Server) listCertificates(c *fiber.Ctx) error {
	certs, err := s.opts.Apps.Certificates()
	if err != nil {
		return err
	}
	return c.JSON(certs)
}

func (s *Server) addCertificate(c *fiber.Ctx) error {
	var in apps.CertificateInput
	if err := decode(c, &in); err != nil {
		return err
	}
	cert, err := s.opts.Apps.AddCertificate(actor(c), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(cert)
}

func (s *Server) deleteCertificate(c *fiber.Ctx) error {
	if err := s.opts.Apps.DeleteCertificate(actor(c), c.Params("name")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
