package store

import (
	"context"
	"fmt"
	"time"
)

// Post is a short message and its author.
type Post struct {
	ID        int64
	Body      string
	CreatedAt time.Time
	Author    User
}

// Window selects one page of a list that runs newest first.
type Window struct {
	// Number counts pages from 1.
	Number int
	// Size is the number of posts per page.
	Size int
}

// PostPage is one page of posts, newest first.
type PostPage struct {
	Posts  []Post
	Number int
	// Older says whether a next page of older posts exists.
	Older bool
}

// Newer says whether a previous page of newer posts exists.
func (p PostPage) Newer() bool { return p.Number > 1 }

// CreatePost publishes body as a post by the user, dated at.
func (s *Store) CreatePost(ctx context.Context, userID int64, body string, at time.Time) error {
	if _, err := s.exec(ctx, `INSERT INTO posts (user_id, body, created_at) VALUES (?, ?, ?)`, userID, body, toMicros(at)); err != nil {
		return fmt.Errorf("creating post for user %d: %w", userID, err)
	}
	return nil
}

// postSelect reads a post with its author; the caller adds WHERE and the
// order. Ties in time fall back to the id so pages never overlap.
const postSelect = `SELECT p.id, p.body, p.created_at, ` +
	`u.id, u.username, u.email, u.password_hash, u.about_me, u.last_seen, u.created_at ` +
	`FROM posts p JOIN users u ON u.id = p.user_id `

const newestFirst = ` ORDER BY p.created_at DESC, p.id DESC LIMIT ? OFFSET ?`

// Timeline returns the posts of the user and of everyone they follow.
func (s *Store) Timeline(ctx context.Context, userID int64, w Window) (PostPage, error) {
	return s.postPage(ctx, w, postSelect+
		`WHERE p.user_id = ? OR p.user_id IN (SELECT followed_id FROM followers WHERE follower_id = ?)`, userID, userID)
}

// Explore returns everyone's posts.
func (s *Store) Explore(ctx context.Context, w Window) (PostPage, error) {
	return s.postPage(ctx, w, postSelect)
}

// PostsBy returns the user's own posts.
func (s *Store) PostsBy(ctx context.Context, userID int64, w Window) (PostPage, error) {
	return s.postPage(ctx, w, postSelect+`WHERE p.user_id = ?`, userID)
}

func (s *Store) postPage(ctx context.Context, w Window, q string, args ...any) (PostPage, error) {
	if w.Number < 1 || w.Size < 1 {
		return PostPage{}, fmt.Errorf("listing posts: invalid page %d of size %d", w.Number, w.Size)
	}
	// One more than a page tells whether an older page exists.
	args = append(args, w.Size+1, (w.Number-1)*w.Size)
	rows, err := s.query(ctx, q+newestFirst, args...)
	if err != nil {
		return PostPage{}, fmt.Errorf("listing posts: %w", err)
	}
	defer rows.Close()
	page := PostPage{Number: w.Number}
	for rows.Next() {
		var p Post
		var at, seen, created int64
		a := &p.Author
		if err := rows.Scan(&p.ID, &p.Body, &at, &a.ID, &a.Username, &a.Email, &a.PasswordHash, &a.AboutMe, &seen, &created); err != nil {
			return PostPage{}, fmt.Errorf("listing posts: %w", err)
		}
		p.CreatedAt, a.LastSeen, a.CreatedAt = fromMicros(at), fromMicros(seen), fromMicros(created)
		page.Posts = append(page.Posts, p)
	}
	if err := rows.Err(); err != nil {
		return PostPage{}, fmt.Errorf("listing posts: %w", err)
	}
	if len(page.Posts) > w.Size {
		page.Posts, page.Older = page.Posts[:w.Size], true
	}
	return page, nil
}
