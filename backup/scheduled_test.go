package backup

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/store"
)

// TestEngine_scheduledWithRetention runs real backups of a real database
// from a Scheduler driven by a fake clock, each stored and followed by a
// prune keeping the last two: after three runs the oldest file and record
// are gone and the two newest remain, named by the clock's times.
func TestEngine_scheduledWithRetention(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			clock := testutil.NewFakeClock(t0)
			tdb := startDB(t, kind, Options{Now: clock.Now})
			e := tdb.engine
			tdb.seed(t, 20)
			st, err := store.Open(filepath.Join(t.TempDir(), "kaj.db"), store.Options{Key: bytes.Repeat([]byte{1}, store.KeySize)})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()

			keep := Retention{KeepLast: 2}
			errs := make(chan error, 10)
			s := NewScheduler(func(ctx context.Context, app string) {
				rec, err := e.Dump(ctx, tdb.db)
				if err == nil {
					err = st.PutBackup(rec)
				}
				if err == nil {
					_, err = e.Prune(ctx, st, app, keep)
				}
				errs <- err
			}, clock)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			defer func() {
				cancel()
				<-done
			}()
			every, err := ParseSchedule("6h")
			if err != nil {
				t.Fatal(err)
			}
			s.Set(tdb.db.App, every)

			for i := 1; i <= 3; i++ {
				// Let the scheduler set its next slot before the clock moves.
				waitFor(t, func() bool { n, _ := s.Next(tdb.db.App); return n.After(clock.Now()) })
				clock.Advance(6 * time.Hour)
				select {
				case err := <-errs:
					if err != nil {
						t.Fatalf("run %d: %v", i, err)
					}
				case <-time.After(2 * time.Minute):
					t.Fatalf("run %d did not happen", i)
				}
			}
			recs, err := st.Backups(tdb.db.App)
			if err != nil {
				t.Fatal(err)
			}
			var ids, fs []string
			for _, r := range recs {
				ids, fs = append(ids, r.ID), append(fs, r.File)
			}
			wantIDs := []string{"20261201T120000.000Z", "20261201T180000.000Z"}
			if !slices.Equal(ids, wantIDs) {
				t.Fatalf("stored backups %v; want %v (the first, at 06:00, pruned)", ids, wantIDs)
			}
			if got := files(t, e.Dir()); !slices.Equal(got, fs) {
				t.Fatalf("files %v; want those of the stored backups %v", got, fs)
			}
			if recs[1].Tables[0].Rows != 20 {
				t.Fatalf("scheduled backup recorded %v", recs[1].Tables)
			}
		})
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
	}
}
