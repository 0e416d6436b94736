package dashboard

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// TestDashboard_backups: the Backups tab in a real browser against a
// real MariaDB: "Back up now" follows the job and lists the backup
// verified ✓ with its size and rows; a restore asks to confirm, with the
// keep-serving choice, and runs; the schedule and retention are saved
// on the app; the delete dialog no longer claims there is no backup.
func TestDashboard_backups(t *testing.T) {
	env := testutil.NewEnv(t)
	appImage := env.TestAppImageAs("kaj-e2e-web", "PORT=5000")
	k := kajtest.Start(t, env)
	api := k.Login(t)
	b := newBrowser(t, k.URL)
	name := env.Name("bk")

	var job struct {
		Job string `json:"job"`
	}
	if code := api.JSON("POST", "/api/v1/templates/microblog-mysql", map[string]any{"name": name, "image": appImage, "database_image": env.MariaDBImage()}, &job); code != http.StatusAccepted {
		t.Fatalf("one-click deploy: %d", code)
	}
	if st, events := api.WaitJob(job.Job, 5*time.Minute); st != "succeeded" {
		t.Fatalf("deploy %s: %v", st, events)
	}

	b.open("/")
	login(b, k.Password)
	b.open("/apps/" + name + "#backups")
	b.waitFor("the Backups tab, empty", `document.querySelector("#backup-rows").innerText.includes("No backups yet")`, 15*time.Second)
	b.click("#backup-now")
	panel := `document.querySelector("#backup-panel")`
	b.waitFor("the backup job to end", panel+`.dataset.status && `+panel+`.dataset.status !== "running"`, 3*time.Minute)
	if st := eval[string](b, panel+`.dataset.status`); st != "succeeded" {
		t.Fatalf("backup %s: %s", st, eval[string](b, panel+`.innerText`))
	}
	b.waitFor("the backup listed, verified", `document.querySelector("#backup-rows").innerText.includes("verified")`, 15*time.Second)
	row := eval[string](b, `document.querySelector("#backup-rows tr").innerText`)
	if !strings.Contains(row, "✓") || !strings.Contains(row, "Download") || !strings.Contains(row, "B") {
		t.Fatalf("backup row: %q", row)
	}
	b.screenshot("app-backups")

	// Restore it, keeping the app serving: a confirmation first.
	b.click("#backup-rows button[data-restore]")
	b.waitFor("the restore dialog", `document.querySelector("dialog[open] [name=keep]") !== null`, 10*time.Second)
	b.screenshot("app-backups-restore")
	b.click(`dialog[open] [name="keep"]`)
	b.click(`dialog[open] button[value="ok"]`)
	b.waitFor("the restore job to start", panel+`.dataset.job && `+panel+`.innerText.includes("Restoring")`, 15*time.Second)
	b.waitFor("the restore job to end", panel+`.dataset.status !== "running"`, 3*time.Minute)
	if st := eval[string](b, panel+`.dataset.status`); st != "succeeded" {
		t.Fatalf("restore %s: %s", st, eval[string](b, panel+`.innerText`))
	}
	b.waitFor("the safety backup listed", `document.querySelectorAll("#backup-rows tr").length === 2`, 15*time.Second)

	// Schedule and retention, saved on the app at once.
	b.typeInto("#backup-schedule", "6h")
	b.typeInto("#backup-keep-last", "3")
	b.click(`#backup-settings button[type="submit"]`)
	b.waitFor("the settings saved", `document.body.innerText.includes("Next backup")`, 15*time.Second)
	var v struct {
		Backup struct {
			Schedule string `json:"schedule"`
			KeepLast int    `json:"keep_last"`
		} `json:"backup"`
	}
	api.JSON("GET", "/api/v1/apps/"+name, nil, &v)
	if v.Backup.Schedule != "6h" || v.Backup.KeepLast != 3 {
		t.Fatalf("saved backup settings %+v", v.Backup)
	}
	b.open("/apps/" + name)
	if txt := eval[string](b, `document.querySelector("#delete-data-dialog").textContent`); strings.Contains(txt, "there is no backup") || !strings.Contains(txt, "backups/"+name) {
		t.Fatalf("the delete dialog says %q", txt)
	}
}
