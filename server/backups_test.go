package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestServer_bodyLimit: bodies are streamed so a dump upload need not sit
// in memory, yet every other route still refuses a body over 4 MiB, and
// the upload route still needs a login before it reads a byte.
func TestServer_bodyLimit(t *testing.T) {
	f := newFixture(t)
	big := `{"name":"` + strings.Repeat("a", bodyLimit) + `"}`
	f.expect(f.as("POST", "/api/v1/apps", big), http.StatusRequestEntityTooLarge, "over 4 MiB")
	f.expect(f.as("POST", "/api/v1/apps", `{"name":"x"`), http.StatusBadRequest)
	f.expect(f.req("POST", "/api/v1/apps/blog/restore", big, nil), http.StatusUnauthorized)
}

// TestServer_backupsOff: without a backup engine the backup routes say
// so, rather than failing later in a job.
func TestServer_backupsOff(t *testing.T) {
	f := newFixture(t)
	f.expect(f.as("POST", "/api/v1/apps", `{"name":"blog","image":"nginx:1","port":80,"database":{"kind":"postgres","image":"postgres:17"}}`), http.StatusCreated)
	f.expect(f.as("GET", "/api/v1/apps/blog/backups", ""), http.StatusOK, "[]")
	f.expect(f.as("POST", "/api/v1/apps/blog/backups", ""), http.StatusConflict, "backups are off")
	f.expect(f.as("POST", "/api/v1/apps/blog/restore", "-- a dump"), http.StatusConflict, "backups are off")
	f.expect(f.as("GET", "/api/v1/apps/blog/backups/20261201T030000.000Z/download", ""), http.StatusConflict)
	f.expect(f.as("POST", "/api/v1/apps/blog/rollback", `{"release":1,"restore_data":true}`), http.StatusConflict, "backups are off")
	// Settings are validated where they are stored.
	f.expect(f.as("POST", "/api/v1/apps", `{"name":"shop","image":"nginx:1","port":80,"database":{"kind":"postgres","image":"postgres:17"},"backup":{"schedule":"1m"}}`), http.StatusUnprocessableEntity, "at least 5m")
	f.expect(f.as("POST", "/api/v1/apps", `{"name":"shop","image":"nginx:1","port":80,"backup":{"snapshot_before_deploy":true}}`), http.StatusUnprocessableEntity, "no database")
	f.expect(f.as("POST", "/api/v1/apps", `{"name":"shop","image":"nginx:1","port":80,"database":{"kind":"postgres","image":"postgres:17"},"backup":{"keep_last":-1}}`), http.StatusUnprocessableEntity, "keep_last")
}
