package backup

import (
	"testing"
	"time"
)

func TestRetention_Expired(t *testing.T) {
	now := time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	// Backups taken 0..9 days ago; the one 6 days ago is the newest
	// verified one.
	var recs []Record
	for i := 9; i >= 0; i-- {
		recs = append(recs, Record{App: "blog", ID: string(rune('a' + i)), Time: now.Add(-time.Duration(i) * day), Verified: i == 6 || i == 8})
	}
	ids := func(rs []Record) string {
		s := ""
		for _, r := range rs {
			s += r.ID
		}
		return s
	}
	for name, tc := range map[string]struct {
		r    Retention
		want string // expired IDs, oldest first (j = 9 days ago)
	}{
		"keep all":         {Retention{}, ""},
		"last 3":           {Retention{KeepLast: 3}, "jihfed"},            // g (6 days, verified) stays
		"3 days":           {Retention{KeepDays: 3}, "jihfed"},            // younger than 3 days: c b a; d is 3 days old
		"last 5 or 2 days": {Retention{KeepLast: 5, KeepDays: 2}, "jihf"}, // a-e, and g
		"last 1":           {Retention{KeepLast: 1}, "jihfedcb"},
		"last 10":          {Retention{KeepLast: 10}, ""},
		"last 7":           {Retention{KeepLast: 7}, "jih"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := ids(tc.r.Expired(recs, now)); got != tc.want {
				t.Fatalf("expired %q; want %q", got, tc.want)
			}
		})
	}
}
