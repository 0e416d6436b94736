package store

import (
	"context"
	"fmt"

	"github.com/kajhq/kaj/microblog/dburl"
)

// Follow makes follower follow followed. Following twice is not an error.
// It returns ErrFollowSelf when both are the same user.
func (s *Store) Follow(ctx context.Context, follower, followed int64) error {
	if follower == followed {
		return ErrFollowSelf
	}
	var q string
	switch s.dialect {
	case dburl.MySQL:
		q = `INSERT IGNORE INTO followers (follower_id, followed_id) VALUES (?, ?)`
	default: // SQLite 3.24+ and PostgreSQL 9.5+
		q = `INSERT INTO followers (follower_id, followed_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
	}
	if _, err := s.exec(ctx, q, follower, followed); err != nil {
		return fmt.Errorf("user %d following %d: %w", follower, followed, err)
	}
	return nil
}

// Unfollow makes follower stop following followed. It is not an error if
// they did not follow.
func (s *Store) Unfollow(ctx context.Context, follower, followed int64) error {
	if _, err := s.exec(ctx, `DELETE FROM followers WHERE follower_id = ? AND followed_id = ?`, follower, followed); err != nil {
		return fmt.Errorf("user %d unfollowing %d: %w", follower, followed, err)
	}
	return nil
}

// IsFollowing reports whether follower follows followed.
func (s *Store) IsFollowing(ctx context.Context, follower, followed int64) (bool, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM followers WHERE follower_id = ? AND followed_id = ?`, follower, followed).Scan(&n); err != nil {
		return false, fmt.Errorf("checking whether user %d follows %d: %w", follower, followed, err)
	}
	return n > 0, nil
}

// FollowCounts returns how many users follow the user and how many the
// user follows.
func (s *Store) FollowCounts(ctx context.Context, userID int64) (followers, following int, err error) {
	err = s.queryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM followers WHERE followed_id = ?),
		(SELECT COUNT(*) FROM followers WHERE follower_id = ?)`, userID, userID).Scan(&followers, &following)
	if err != nil {
		return 0, 0, fmt.Errorf("counting followers of user %d: %w", userID, err)
	}
	return followers, following, nil
}
