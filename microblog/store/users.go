package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// User is a registered account.
type User struct {
	ID           int64
	Username     string
	Email        string
	PasswordHash string
	AboutMe      string
	// LastSeen is when the user last loaded a page; zero if never.
	LastSeen  time.Time
	CreatedAt time.Time
}

const userColumns = `id, username, email, password_hash, about_me, last_seen, created_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var seen, created int64
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.AboutMe, &seen, &created); err != nil {
		return User{}, err
	}
	u.LastSeen, u.CreatedAt = fromMicros(seen), fromMicros(created)
	return u, nil
}

// CreateUser registers a user with an already hashed password. It returns
// ErrUsernameTaken or ErrEmailTaken when either is in use.
func (s *Store) CreateUser(ctx context.Context, username, email, passwordHash string, at time.Time) (User, error) {
	if err := s.checkFree(ctx, 0, username, email); err != nil {
		return User{}, err
	}
	_, err := s.exec(ctx, `INSERT INTO users (username, email, password_hash, about_me, last_seen, created_at) VALUES (?, ?, ?, '', 0, ?)`,
		username, email, passwordHash, toMicros(at))
	if err != nil {
		// Lost a race with another registration: name the cause if we can.
		if ferr := s.checkFree(ctx, 0, username, email); ferr != nil {
			return User{}, ferr
		}
		return User{}, fmt.Errorf("creating user %q: %w", username, err)
	}
	return s.UserByUsername(ctx, username)
}

// checkFree reports whether username or email belong to a user other than
// self (0 for none).
func (s *Store) checkFree(ctx context.Context, self int64, username, email string) error {
	rows, err := s.query(ctx, `SELECT id, username, email FROM users WHERE username = ? OR email = ?`, username, email)
	if err != nil {
		return fmt.Errorf("checking username: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var u, e string
		if err := rows.Scan(&id, &u, &e); err != nil {
			return fmt.Errorf("checking username: %w", err)
		}
		switch {
		case id == self:
		case u == username:
			return ErrUsernameTaken
		case e == email && email != "":
			return ErrEmailTaken
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("checking username: %w", err)
	}
	return nil
}

// UserByUsername returns the user with this username, or ErrNotFound.
func (s *Store) UserByUsername(ctx context.Context, username string) (User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %q: %w", username, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("loading user %q: %w", username, err)
	}
	return u, nil
}

// UserByID returns the user with this id, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("loading user %d: %w", id, err)
	}
	return u, nil
}

// UpdateProfile changes a user's username and "about me". It returns
// ErrUsernameTaken when another user has the username, ErrNotFound when
// there is no such user.
func (s *Store) UpdateProfile(ctx context.Context, id int64, username, aboutMe string) error {
	if _, err := s.UserByID(ctx, id); err != nil {
		return err
	}
	if err := s.checkFree(ctx, id, username, ""); err != nil {
		return err
	}
	_, err := s.exec(ctx, `UPDATE users SET username = ?, about_me = ? WHERE id = ?`, username, aboutMe, id)
	if err != nil {
		if ferr := s.checkFree(ctx, id, username, ""); ferr != nil {
			return ferr
		}
		return fmt.Errorf("updating profile of user %d: %w", id, err)
	}
	return nil
}

// SetLastSeen records when the user was last active.
func (s *Store) SetLastSeen(ctx context.Context, id int64, at time.Time) error {
	if _, err := s.exec(ctx, `UPDATE users SET last_seen = ? WHERE id = ?`, toMicros(at), id); err != nil {
		return fmt.Errorf("updating last seen of user %d: %w", id, err)
	}
	return nil
}
