package server

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"path"
	"regexp"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/apps"
)

// The backup routes translate HTTP to the apps layer, which takes,
// verifies, restores and records backups.

func (s *Server) listBackups(c *fiber.Ctx) error {
	recs, err := s.opts.Apps.ListBackups(c.Params("name"))
	if err != nil {
		return err
	}
	return c.JSON(recs)
}

func (s *Server) createBackup(c *fiber.Ctx) error {
	j, err := s.opts.Apps.StartBackup(s.ctx, actor(c), c.Params("name"))
	if err != nil {
		return err
	}
	return jobAnswer(c, j)
}

func (s *Server) verifyBackup(c *fiber.Ctx) error {
	j, err := s.opts.Apps.VerifyBackup(s.ctx, actor(c), c.Params("name"), c.Params("id"))
	if err != nil {
		return err
	}
	return jobAnswer(c, j)
}

func (s *Server) deleteBackup(c *fiber.Ctx) error {
	if err := s.opts.Apps.DeleteBackup(actor(c), c.Params("name"), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// downloadBackup sends the backup's file exactly as stored, with its
// checksum, so a copy can be checked against the record.
func (s *Server) downloadBackup(c *fiber.Ctx) error {
	rec, f, err := s.opts.Apps.BackupFile(actor(c), c.Params("name"), c.Params("id"), c.IP())
	if err != nil {
		return err
	}
	// The file's own length, not the record's: a damaged file is sent
	// as it is, and its checksum tells the client so.
	n, err := f.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("reading backup %s: %w", rec.ID, err)
	}
	name := c.Params("name") + "-" + path.Base(rec.File)
	c.Set(fiber.HeaderContentType, "application/octet-stream")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s"`, safeFilename.ReplaceAllString(name, "_")))
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Checksum-Sha256", rec.SHA256)
	// The stream closes f once it is sent.
	return c.SendStream(f, int(n))
}

var safeFilename = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// restoreBackup loads a kept backup into the app's database (a job).
func (s *Server) restoreBackup(c *fiber.Ctx) error {
	var opts apps.RestoreOptions
	if len(c.Body()) > 0 {
		if err := decode(c, &opts); err != nil {
			return err
		}
	}
	j, err := s.opts.Apps.StartRestore(s.ctx, actor(c), c.Params("name"), c.Params("id"), opts)
	if err != nil {
		return err
	}
	return jobAnswer(c, j)
}

// isUpload tells limitBody which routes stream their own body: a dump to
// restore and a build context.
func isUpload(c *fiber.Ctx) bool {
	return c.Method() == fiber.MethodPost && uploadPath.MatchString(c.Path())
}

var uploadPath = regexp.MustCompile(`^/api/v1/apps/[^/]+/(restore|upload)$`)

// restoreUpload loads an uploaded dump into the app's database (a job):
// the dump is the raw body, or the field "file" of a multipart form;
// ?keep_serving=true keeps the app running meanwhile.
func (s *Server) restoreUpload(c *fiber.Ctx) error {
	body := bodyReader(c)
	if mt, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err == nil && mt == fiber.MIMEMultipartForm {
		part, err := filePart(multipart.NewReader(body, params["boundary"]))
		if err != nil {
			return err
		}
		body = part
	}
	opts := apps.RestoreOptions{KeepServing: c.QueryBool("keep_serving", false)}
	j, err := s.opts.Apps.StartRestoreUpload(s.ctx, actor(c), c.Params("name"), body, opts)
	if err != nil {
		return err
	}
	return jobAnswer(c, j)
}

// filePart finds the form's "file" field.
func filePart(mr *multipart.Reader) (io.Reader, error) {
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, badRequest("file", "the form has no field \"file\" holding the dump")
		}
		if err != nil {
			return nil, badRequest("file", "reading the form: %v", err)
		}
		if p.FormName() == "file" {
			return p, nil
		}
	}
}
