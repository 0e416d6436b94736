package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	mclient "github.com/moby/moby/client"
)

// readsPasswordFile reports whether image is one of the official server
// images, whose entrypoints read MYSQL_PASSWORD_FILE (MARIADB_… too) and
// POSTGRES_PASSWORD_FILE: "mariadb:11.4", "docker.io/library/postgres:17",
// "mirror.example.com/mysql:8.4". Other images get the password in their
// environment, which every entrypoint of these servers reads.
func readsPasswordFile(image string) bool {
	ref := image
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	base := ref[strings.LastIndex(ref, "/")+1:]
	switch base {
	case "mariadb", "mysql", "postgres":
		return true
	}
	return false
}

// passwordSecretName names the swarm secret holding a database password:
// secrets cannot change, so the name carries a digest of the value, and
// the same password finds the same secret.
func passwordSecretName(database, app, password string) string {
	sum := sha256.Sum256([]byte(app + "\x00" + password))
	return database + "-pw-" + hex.EncodeToString(sum[:6])
}

// databaseSecret makes sure the swarm secret holding spec's password
// exists and returns the env and the secret reference the service uses
// instead of the password in clear.
func (d *Docker) databaseSecret(ctx context.Context, spec DatabaseSpec, labels map[string]string) ([]string, *swarm.SecretReference, error) {
	name := passwordSecretName(d.Names(spec.App).Database, spec.App, spec.Password)
	res, err := d.cli.SecretList(ctx, mclient.SecretListOptions{Filters: mclient.Filters{}.Add("name", name)})
	if err != nil {
		return nil, nil, engineError("listing secrets", err)
	}
	id := ""
	for _, s := range res.Items {
		if s.Spec.Name == name {
			id = s.ID
		}
	}
	if id == "" {
		created, err := d.cli.SecretCreate(ctx, mclient.SecretCreateOptions{Spec: swarm.SecretSpec{
			Annotations: swarm.Annotations{Name: name, Labels: labels}, Data: []byte(spec.Password),
		}})
		if err != nil && !cerrdefs.IsConflict(err) && !cerrdefs.IsAlreadyExists(err) {
			return nil, nil, engineError("creating secret "+name, err)
		}
		if id = created.ID; id == "" {
			return nil, nil, fmt.Errorf("creating secret %s: %w: created elsewhere meanwhile; deploy again", name, ErrConflict)
		}
	}
	file := "/run/secrets/" + name
	env := []string{"MYSQL_DATABASE=" + spec.Database, "MYSQL_USER=" + spec.User, "MYSQL_PASSWORD_FILE=" + file, "MYSQL_RANDOM_ROOT_PASSWORD=yes"}
	if spec.Kind == Postgres {
		env = []string{"POSTGRES_DB=" + spec.Database, "POSTGRES_USER=" + spec.User, "POSTGRES_PASSWORD_FILE=" + file}
	}
	ref := &swarm.SecretReference{SecretID: id, SecretName: name, File: &swarm.SecretReferenceFileTarget{Name: name, UID: "0", GID: "0", Mode: 0o444}}
	return env, ref, nil
}

// removeSecrets removes app's database password secrets.
func (d *Docker) removeSecrets(ctx context.Context, app string) error {
	res, err := d.cli.SecretList(ctx, mclient.SecretListOptions{Filters: d.filters(map[string]string{LabelApp: app})})
	if err != nil {
		return engineError("listing secrets", err)
	}
	for _, s := range res.Items {
		if !d.owns(s.Spec.Labels) {
			continue
		}
		if _, err := d.cli.SecretRemove(ctx, s.ID, mclient.SecretRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return engineError("removing secret "+s.Spec.Name, err)
		}
	}
	return nil
}
