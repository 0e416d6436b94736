package testutil

import "sync"

// PostgresTag is the PostgreSQL server image scripts/build-postgres-image
// builds from Debian bookworm's packages: PostgreSQL 15, with an
// entrypoint that honours POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB
// as the official image does, and psql, pg_dump and pg_restore. It is kept
// per machine by this tag and carries no kaj.test label, so no test's
// cleanup removes it.
const PostgresTag = "kaj-postgres:15-bookworm"

var postgresBuild sync.Mutex

// PostgresImage returns PostgresTag, building the image first when the
// engine lacks it (about a minute, once per machine). When it cannot be
// built the test is skipped, or fails under KAJ_REQUIRE_DOCKER=1.
func (e *Env) PostgresImage() string {
	e.t.Helper()
	return e.scriptImage(&postgresBuild, PostgresTag, "build-postgres-image", "PostgreSQL", "KAJ_POSTGRES_IMAGE="+PostgresTag)
}
