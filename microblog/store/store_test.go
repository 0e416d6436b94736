package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/kajhq/kaj/microblog/dburl"
	"github.com/kajhq/kaj/microblog/internal/testdb"
	"github.com/kajhq/kaj/microblog/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustUser(t *testing.T, st *store.Store, name string) store.User {
	t.Helper()
	u, err := st.CreateUser(context.Background(), name, name+"@example.com", "hash-of-"+name, t0)
	if err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	return u
}

func mustPost(t *testing.T, st *store.Store, u store.User, body string, at time.Time) {
	t.Helper()
	if err := st.CreatePost(context.Background(), u.ID, body, at); err != nil {
		t.Fatalf("posting %q: %v", body, err)
	}
}

func bodies(p store.PostPage) []string {
	var out []string
	for _, post := range p.Posts {
		out = append(out, post.Body)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStore_Migrate_idempotent(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(dburl.SQLitePath(filepath.Join(t.TempDir(), "app.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if v, err := st.SchemaVersion(ctx); err == nil {
		t.Fatalf("schema version %d before any migration, want an error (no table)", v)
	}
	applied, err := st.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 {
		t.Fatal("first Migrate applied nothing")
	}
	again, err := st.Migrate(ctx)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(again) != 0 {
		t.Errorf("second Migrate applied %v, want nothing", again)
	}
	v, err := st.SchemaVersion(ctx)
	if err != nil || v != len(applied) {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, len(applied))
	}
	// The schema works: a user can be stored.
	mustUser(t, st, "alice")
}

func TestStore_CreateUser(t *testing.T) {
	ctx := context.Background()
	st := testdb.Open(t)
	alice := mustUser(t, st, "alice")
	if alice.ID == 0 || alice.Username != "alice" || alice.Email != "alice@example.com" || alice.PasswordHash != "hash-of-alice" {
		t.Errorf("created %+v", alice)
	}
	if !alice.CreatedAt.Equal(t0) || !alice.LastSeen.IsZero() {
		t.Errorf("created at %v, last seen %v; want %v and zero", alice.CreatedAt, alice.LastSeen, t0)
	}
	got, err := st.UserByID(ctx, alice.ID)
	if err != nil || got != alice {
		t.Errorf("UserByID = %+v, %v; want %+v", got, err, alice)
	}

	_, err = st.CreateUser(ctx, "alice", "other@example.com", "h", t0)
	if !errors.Is(err, store.ErrUsernameTaken) {
		t.Errorf("same username: %v, want ErrUsernameTaken", err)
	}
	_, err = st.CreateUser(ctx, "alicia", "alice@example.com", "h", t0)
	if !errors.Is(err, store.ErrEmailTaken) {
		t.Errorf("same email: %v, want ErrEmailTaken", err)
	}
	if _, err := st.UserByUsername(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	if _, err := st.UserByID(ctx, alice.ID+1000); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound", err)
	}
}

func TestStore_UpdateProfile(t *testing.T) {
	ctx := context.Background()
	st := testdb.Open(t)
	alice := mustUser(t, st, "alice")
	mustUser(t, st, "bob")

	if err := st.UpdateProfile(ctx, alice.ID, "alice", "I like tea ☕"); err != nil {
		t.Fatalf("keeping own name: %v", err)
	}
	if err := st.UpdateProfile(ctx, alice.ID, "bob", "x"); !errors.Is(err, store.ErrUsernameTaken) {
		t.Errorf("taking bob's name: %v, want ErrUsernameTaken", err)
	}
	if err := st.UpdateProfile(ctx, alice.ID, "alice2", "I like tea ☕"); err != nil {
		t.Fatal(err)
	}
	u, err := st.UserByID(ctx, alice.ID)
	if err != nil || u.Username != "alice2" || u.AboutMe != "I like tea ☕" {
		t.Errorf("after update: %+v, %v", u, err)
	}
	if err := st.UpdateProfile(ctx, alice.ID+1000, "ghost", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}

	seen := t0.Add(90*time.Minute + 123456*time.Microsecond)
	if err := st.SetLastSeen(ctx, alice.ID, seen); err != nil {
		t.Fatal(err)
	}
	if u, _ := st.UserByID(ctx, alice.ID); !u.LastSeen.Equal(seen) {
		t.Errorf("last seen %v, want %v to the microsecond", u.LastSeen, seen)
	}
}

func TestStore_Follow(t *testing.T) {
	ctx := context.Background()
	st := testdb.Open(t)
	alice, bob, carol := mustUser(t, st, "alice"), mustUser(t, st, "bob"), mustUser(t, st, "carol")

	if err := st.Follow(ctx, alice.ID, alice.ID); !errors.Is(err, store.ErrFollowSelf) {
		t.Errorf("following self: %v, want ErrFollowSelf", err)
	}
	for range 2 { // the second time is a no-op, not an error
		if err := st.Follow(ctx, alice.ID, bob.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Follow(ctx, carol.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.IsFollowing(ctx, alice.ID, bob.ID); !ok || err != nil {
		t.Errorf("alice follows bob: %v, %v", ok, err)
	}
	if ok, err := st.IsFollowing(ctx, bob.ID, alice.ID); ok || err != nil {
		t.Errorf("bob follows alice: %v, %v; following is one way", ok, err)
	}
	if f, g, err := st.FollowCounts(ctx, bob.ID); f != 2 || g != 0 || err != nil {
		t.Errorf("bob: %d followers, %d following, %v; want 2, 0", f, g, err)
	}
	if f, g, err := st.FollowCounts(ctx, alice.ID); f != 0 || g != 1 || err != nil {
		t.Errorf("alice: %d followers, %d following, %v; want 0, 1", f, g, err)
	}
	if err := st.Unfollow(ctx, alice.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.IsFollowing(ctx, alice.ID, bob.ID); ok {
		t.Error("alice still follows bob after unfollowing")
	}
	if err := st.Unfollow(ctx, alice.ID, bob.ID); err != nil {
		t.Errorf("unfollowing again: %v", err)
	}
}

func TestStore_Timeline(t *testing.T) {
	ctx := context.Background()
	st := testdb.Open(t)
	alice, bob, carol := mustUser(t, st, "alice"), mustUser(t, st, "bob"), mustUser(t, st, "carol")
	// Written out of order, so the order read back comes from the dates.
	mustPost(t, st, bob, "bob 2", t0.Add(4*time.Minute))
	mustPost(t, st, alice, "alice 1", t0.Add(1*time.Minute))
	mustPost(t, st, carol, "carol 1", t0.Add(3*time.Minute))
	mustPost(t, st, bob, "bob 1", t0.Add(2*time.Minute))
	mustPost(t, st, alice, "alice 2", t0.Add(5*time.Minute))
	w := store.Window{Number: 1, Size: 10}

	timeline := func() []string {
		t.Helper()
		p, err := st.Timeline(ctx, alice.ID, w)
		if err != nil {
			t.Fatal(err)
		}
		return bodies(p)
	}
	if got, want := timeline(), []string{"alice 2", "alice 1"}; !equal(got, want) {
		t.Errorf("own timeline = %q, want %q", got, want)
	}
	if err := st.Follow(ctx, alice.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if got, want := timeline(), []string{"alice 2", "bob 2", "bob 1", "alice 1"}; !equal(got, want) {
		t.Errorf("following bob = %q, want %q (newest first, no carol)", got, want)
	}
	if err := st.Unfollow(ctx, alice.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if got, want := timeline(), []string{"alice 2", "alice 1"}; !equal(got, want) {
		t.Errorf("after unfollowing bob = %q, want %q", got, want)
	}

	all, err := st.Explore(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := bodies(all), []string{"alice 2", "bob 2", "carol 1", "bob 1", "alice 1"}; !equal(got, want) {
		t.Errorf("explore = %q, want %q", got, want)
	}
	if a := all.Posts[1].Author; a.ID != bob.ID || a.Username != "bob" || a.Email != "bob@example.com" {
		t.Errorf("author of bob 2 = %+v", a)
	}
	if !all.Posts[0].CreatedAt.Equal(t0.Add(5 * time.Minute)) {
		t.Errorf("created at %v, want %v", all.Posts[0].CreatedAt, t0.Add(5*time.Minute))
	}

	mine, err := st.PostsBy(ctx, bob.ID, w)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := bodies(mine), []string{"bob 2", "bob 1"}; !equal(got, want) {
		t.Errorf("bob's posts = %q, want %q", got, want)
	}
}

func TestStore_pagination(t *testing.T) {
	ctx := context.Background()
	st := testdb.Open(t)
	alice := mustUser(t, st, "alice")
	// Seven posts; the last two share a time, so the id must break the tie.
	for i := 1; i <= 5; i++ {
		mustPost(t, st, alice, fmt.Sprint("post ", i), t0.Add(time.Duration(i)*time.Minute))
	}
	mustPost(t, st, alice, "post 6", t0.Add(6*time.Minute))
	mustPost(t, st, alice, "post 7", t0.Add(6*time.Minute))

	for _, tc := range []struct {
		page         int
		want         []string
		newer, older bool
	}{
		{1, []string{"post 7", "post 6", "post 5"}, false, true},
		{2, []string{"post 4", "post 3", "post 2"}, true, true},
		{3, []string{"post 1"}, true, false},
		{4, nil, true, false},
	} {
		t.Run(fmt.Sprint("page ", tc.page), func(t *testing.T) {
			p, err := st.Explore(ctx, store.Window{Number: tc.page, Size: 3})
			if err != nil {
				t.Fatal(err)
			}
			if got := bodies(p); !equal(got, tc.want) {
				t.Errorf("posts = %q, want %q", got, tc.want)
			}
			if p.Number != tc.page || p.Newer() != tc.newer || p.Older != tc.older {
				t.Errorf("number %d newer %v older %v; want %d %v %v", p.Number, p.Newer(), p.Older, tc.page, tc.newer, tc.older)
			}
		})
	}
	if _, err := st.Explore(ctx, store.Window{Number: 0, Size: 3}); err == nil {
		t.Error("page 0 accepted")
	}
}

func TestStore_Ping(t *testing.T) {
	st := testdb.Open(t)
	ctx := context.Background()
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("open store: %v", err)
	}
	st.Close()
	if err := st.Ping(ctx); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
}

func TestOpen_unknownDialect(t *testing.T) {
	if _, err := store.Open(dburl.Target{Dialect: "oracle", Driver: "oracle"}); err == nil {
		t.Fatal("unknown dialect accepted")
	}
}
