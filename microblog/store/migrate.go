package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kajhq/kaj/microblog/dburl"
)

// migration is one versioned step of the schema. Its statements must be
// idempotent (IF NOT EXISTS): MySQL commits DDL implicitly, so a step cut
// short there is simply run again.
type migration struct {
	version int
	name    string
	stmts   map[string][]string // by dialect
}

// migrations run in order; append, never edit a released one.
var migrations = []migration{
	{
		version: 1,
		name:    "users, posts and followers",
		stmts: map[string][]string{
			dburl.SQLite: {
				`CREATE TABLE IF NOT EXISTS users (
					id INTEGER PRIMARY KEY AUTOINCREMENT,
					username VARCHAR(64) NOT NULL UNIQUE,
					email VARCHAR(120) NOT NULL UNIQUE,
					password_hash VARCHAR(128) NOT NULL,
					about_me VARCHAR(140) NOT NULL DEFAULT '',
					last_seen BIGINT NOT NULL DEFAULT 0,
					created_at BIGINT NOT NULL
				)`,
				`CREATE TABLE IF NOT EXISTS posts (
					id INTEGER PRIMARY KEY AUTOINCREMENT,
					user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
					body VARCHAR(140) NOT NULL,
					created_at BIGINT NOT NULL
				)`,
				`CREATE INDEX IF NOT EXISTS ix_posts_created_at ON posts (created_at)`,
				`CREATE INDEX IF NOT EXISTS ix_posts_user_id_created_at ON posts (user_id, created_at)`,
				`CREATE TABLE IF NOT EXISTS followers (
					follower_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
					followed_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
					PRIMARY KEY (follower_id, followed_id)
				)`,
				`CREATE INDEX IF NOT EXISTS ix_followers_followed_id ON followers (followed_id)`,
			},
			// MySQL has no CREATE INDEX IF NOT EXISTS, so indexes live in
			// the table definitions. utf8mb4 because MySQL and MariaDB
			// default to latin1 on older versions, which cannot hold emoji.
			dburl.MySQL: {
				`CREATE TABLE IF NOT EXISTS users (
					id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
					username VARCHAR(64) NOT NULL,
					email VARCHAR(120) NOT NULL,
					password_hash VARCHAR(128) NOT NULL,
					about_me VARCHAR(140) NOT NULL DEFAULT '',
					last_seen BIGINT NOT NULL DEFAULT 0,
					created_at BIGINT NOT NULL,
					UNIQUE KEY ux_users_username (username),
					UNIQUE KEY ux_users_email (email)
				) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
				`CREATE TABLE IF NOT EXISTS posts (
					id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
					user_id BIGINT NOT NULL,
					body VARCHAR(140) NOT NULL,
					created_at BIGINT NOT NULL,
					KEY ix_posts_created_at (created_at),
					KEY ix_posts_user_id_created_at (user_id, created_at),
					CONSTRAINT fk_posts_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
				) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
				`CREATE TABLE IF NOT EXISTS followers (
					follower_id BIGINT NOT NULL,
					followed_id BIGINT NOT NULL,
					PRIMARY KEY (follower_id, followed_id),
					KEY ix_followers_followed_id (followed_id),
					CONSTRAINT fk_followers_follower FOREIGN KEY (follower_id) REFERENCES users (id) ON DELETE CASCADE,
					CONSTRAINT fk_followers_followed FOREIGN KEY (followed_id) REFERENCES users (id) ON DELETE CASCADE
				) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
			},
			dburl.Postgres: {
				`CREATE TABLE IF NOT EXISTS users (
					id BIGSERIAL PRIMARY KEY,
					username VARCHAR(64) NOT NULL UNIQUE,
					email VARCHAR(120) NOT NULL UNIQUE,
					password_hash VARCHAR(128) NOT NULL,
					about_me VARCHAR(140) NOT NULL DEFAULT '',
					last_seen BIGINT NOT NULL DEFAULT 0,
					created_at BIGINT NOT NULL
				)`,
				`CREATE TABLE IF NOT EXISTS posts (
					id BIGSERIAL PRIMARY KEY,
					user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
					body VARCHAR(140) NOT NULL,
					created_at BIGINT NOT NULL
				)`,
				`CREATE INDEX IF NOT EXISTS ix_posts_created_at ON posts (created_at)`,
				`CREATE INDEX IF NOT EXISTS ix_posts_user_id_created_at ON posts (user_id, created_at)`,
				`CREATE TABLE IF NOT EXISTS followers (
					follower_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
					followed_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
					PRIMARY KEY (follower_id, followed_id)
				)`,
				`CREATE INDEX IF NOT EXISTS ix_followers_followed_id ON followers (followed_id)`,
			},
		},
	},
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER NOT NULL PRIMARY KEY,
	name VARCHAR(200) NOT NULL,
	applied_at BIGINT NOT NULL
)`

// Migrate brings the schema up to date and returns the names of the
// migrations it applied, oldest first (none when the schema was current).
// It is the first thing to touch the database, so its error is the one to
// retry while the database starts. Running it again is harmless.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	if _, err := s.exec(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("creating schema_migrations: %w", err)
	}
	done, err := s.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range migrations {
		if done[m.version] {
			continue
		}
		if err := s.apply(ctx, m); err != nil {
			return applied, fmt.Errorf("applying migration %d (%s): %w", m.version, m.name, err)
		}
		applied = append(applied, fmt.Sprintf("%d %s", m.version, m.name))
	}
	return applied, nil
}

// SchemaVersion returns the highest migration version applied, 0 for none.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.queryRow(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	return int(v.Int64), nil
}

func (s *Store) appliedVersions(ctx context.Context) (map[int]bool, error) {
	rows, err := s.query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("reading schema_migrations: %w", err)
		}
		done[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	return done, nil
}

func (s *Store) apply(ctx context.Context, m migration) error {
	stmts, ok := m.stmts[s.dialect]
	if !ok {
		return fmt.Errorf("no statements for dialect %q", s.dialect)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	// Two instances booting at once both try this insert; the loser's
	// primary-key error sends it round its retry loop, where it finds the
	// version applied.
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.version, m.name, time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("recording version: %w", err)
	}
	return tx.Commit()
}
