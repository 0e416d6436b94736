package store

import (
	"errors"
	"testing"
)

func TestBackupSettings_validate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		b     BackupSettings
		hasDB bool
		field string // "" for valid
	}{
		{"zero", BackupSettings{}, true, ""},
		{"schedule and retention", BackupSettings{Schedule: "6h", KeepLast: 7, KeepDays: 30}, true, ""},
		{"no database", BackupSettings{Schedule: "6h"}, false, "backup"},
		{"snapshot without a database", BackupSettings{SnapshotBeforeDeploy: true}, false, "backup"},
		{"retention alone without a database", BackupSettings{KeepLast: 3}, false, ""},
		{"two lines", BackupSettings{Schedule: "6h\n@daily"}, true, "backup.schedule"},
		{"negative count", BackupSettings{KeepLast: -1}, true, "backup.keep_last"},
		{"a millennium", BackupSettings{KeepDays: 365000}, true, "backup.keep_days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.b.validate(tc.hasDB)
			var ve *ValidationError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("valid settings refused: %v", err)
			case tc.field != "" && (!errors.As(err, &ve) || ve.Field != tc.field):
				t.Fatalf("got %v; want a validation error on %s", err, tc.field)
			}
		})
	}
}

func TestBackupSettings_Verify(t *testing.T) {
	var none *BackupSettings
	if !none.Verify() || !(&BackupSettings{}).Verify() || (&BackupSettings{NoVerify: true}).Verify() {
		t.Fatal("verification is on unless NoVerify says otherwise")
	}
}
