package store

// Action names what an audit event records. Every action kaj records is
// one of the constants below, so the trail's vocabulary lives in one
// place and a typo is a compile error rather than a new kind of event.
type Action string

// The actions of the audit trail.
const (
	ActionAppCreate  Action = "app.create"
	ActionAppUpdate  Action = "app.update"
	ActionAppDelete  Action = "app.delete"
	ActionAppStop    Action = "app.stop"
	ActionAppStart   Action = "app.start"
	ActionAppRestart Action = "app.restart"
	// A restart's new container failed its stability window; the one
	// before serves again.
	ActionRestartFail  Action = "app.restart.fail"
	ActionDeployStart  Action = "deploy.start"
	ActionRollback     Action = "rollback.start"
	ActionDeployLive   Action = "deploy.live"
	ActionDeployFail   Action = "deploy.fail"
	ActionInterrupted  Action = "deploy.interrupted"
	ActionRestored     Action = "app.restore"
	ActionVolumeAdopt  Action = "volume.adopt"
	ActionDBReveal     Action = "database.reveal"
	ActionDBImage      Action = "database.image"
	ActionRegistrySave Action = "registry.save"
	ActionRegistryDel  Action = "registry.delete"
	ActionImagePush    Action = "image.push"
	ActionJobCancel    Action = "job.cancel"
	ActionTokenCreate  Action = "token.create"
	ActionTokenRevoke  Action = "token.revoke"
	ActionUserCreate   Action = "user.create"
	ActionUserPassword Action = "user.password"
	ActionUserUpdate   Action = "user.update"
	ActionUserDelete   Action = "user.delete"
	ActionNodeDrain    Action = "node.drain"
	ActionNodeActivate Action = "node.activate"
	ActionJoinReveal   Action = "swarm.join.reveal"
	// A terminal session into a container: opened and closed, with who
	// and which container.
	ActionTerminalOpen  Action = "terminal.open"
	ActionTerminalClose Action = "terminal.close"
	ActionNotifySave    Action = "notify.save"
	ActionNotifyDelete  Action = "notify.delete"
	ActionImagePrune    Action = "image.prune"
	ActionLogin         Action = "login"
	ActionLoginFail     Action = "login.fail"
	ActionCertUpload    Action = "certificate.upload"
	ActionCertDelete    Action = "certificate.delete"
	ActionWebhook       Action = "webhook.push"
	ActionWebhookDeny   Action = "webhook.refuse"
	ActionWebhookShow   Action = "webhook.reveal"
	ActionBackup        Action = "backup.create"
	ActionBackupFail    Action = "backup.fail"
	ActionBackupVerify  Action = "backup.verify"
	ActionBackupDelete  Action = "backup.delete"
	ActionBackupFetch   Action = "backup.download"
	ActionBackupPrune   Action = "backup.prune"
	ActionDBRestore     Action = "database.restore"
	ActionDBRestoreErr  Action = "database.restore.fail"

	// The password typed again in a session, for a sensitive action.
	ActionConfirm Action = "session.confirm"
	// ActionDBStranded: a swarm cannot place the database's task, the
	// node holding its volume being down.
	ActionDBStranded Action = "database.stranded"
)
