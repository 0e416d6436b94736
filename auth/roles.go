package auth

import (
	"errors"
	"fmt"

	"github.com/kajhq/kaj/store"
)

// Role is what a user may do. Roles are ordered: each allows what the
// ones below it allow.
type Role string

// The roles, least to most.
const (
	// Viewer reads everything an app shows, logs included, and changes
	// nothing.
	Viewer Role = "viewer"
	// Deployer also deploys, rolls back, starts and stops apps, and
	// edits their settings and environment.
	Deployer Role = "deployer"
	// Admin does everything: users, registries, tokens of others,
	// terminals into containers, notifications, pruning.
	Admin Role = "admin"
)

// Roles lists every role, least to most.
var Roles = []Role{Viewer, Deployer, Admin}

func (r Role) rank() int {
	for i, x := range Roles {
		if x == r {
			return i + 1
		}
	}
	return 0 // unknown: allows nothing
}

// Allows says whether r may do what need requires. An unknown role
// allows nothing.
func (r Role) Allows(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r.rank() == 0 {
		return "", &store.ValidationError{Field: "role", Msg: fmt.Sprintf("%q: a role is viewer, deployer or admin", s)}
	}
	return r, nil
}

// ErrLastAdmin refuses to disable, demote or remove the last admin who
// can log in: nobody could manage users after it.
var ErrLastAdmin = errors.New("kaj needs at least one enabled admin; make another user admin first")

// ErrSelf refuses an admin's disabling, demoting or removing themselves:
// another admin does it, so nobody locks themselves out by a slip.
var ErrSelf = errors.New("you cannot disable, demote or remove yourself; another admin can")

// UserChange is an admin's change to another user; nil fields stay.
type UserChange struct {
	Role     *Role
	Disabled *bool
}

// UpdateUser changes a user's role or disables them, ending their
// sessions when they lose access, and records who did it. It refuses to
// leave kaj without an enabled admin (ErrLastAdmin), and changes to the
// user making them (ErrSelf).
func UpdateUser(st *store.Store, by, name string, ch UserChange) (store.User, error) {
	var out store.User
	err := st.Update(func(tx *store.Tx) error {
		u, err := tx.User(name)
		if err != nil {
			return err
		}
		if by == name && (ch.Role != nil && *ch.Role != Role(u.Role) || ch.Disabled != nil && *ch.Disabled) {
			return ErrSelf
		}
		detail := ""
		if ch.Role != nil {
			u.Role = string(*ch.Role)
			detail = "role " + u.Role
		}
		if ch.Disabled != nil {
			u.Disabled = *ch.Disabled
			if u.Disabled {
				detail = "disabled"
			} else {
				detail = "enabled"
			}
		}
		if err := keepAnAdmin(tx, name, &u); err != nil {
			return err
		}
		if out, err = tx.PutUser(u); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(name); err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: by, Action: store.ActionUserUpdate, Target: name, Detail: detail})
		return err
	})
	return out, err
}

// DeleteUser removes a user, their sessions and API tokens. It refuses
// to remove the last enabled admin (ErrLastAdmin) and the user asking
// (ErrSelf).
func DeleteUser(st *store.Store, by, name string) error {
	return st.Update(func(tx *store.Tx) error {
		if _, err := tx.User(name); err != nil {
			return err
		}
		if by == name {
			return ErrSelf
		}
		if err := keepAnAdmin(tx, name, nil); err != nil {
			return err
		}
		if err := tx.DeleteUser(name); err != nil {
			return err
		}
		_, err := tx.AddEvent(store.Event{Actor: by, Action: store.ActionUserDelete, Target: name})
		return err
	})
}

// keepAnAdmin checks that, with name changed to next (nil: removed), an
// enabled admin is left.
func keepAnAdmin(tx *store.Tx, name string, next *store.User) error {
	users, err := tx.Users()
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Name == name {
			if next == nil {
				continue
			}
			u = *next
		}
		if Role(u.Role) == Admin && !u.Disabled {
			return nil
		}
	}
	return ErrLastAdmin
}
