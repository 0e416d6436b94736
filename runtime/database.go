package runtime

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	mclient "github.com/moby/moby/client"
)

// DatabaseKind is the database server an app uses.
type DatabaseKind string

// The database servers kaj runs.
const (
	MySQL    DatabaseKind = "mysql"
	MariaDB  DatabaseKind = "mariadb"
	Postgres DatabaseKind = "postgres"
)

// DefaultAlias is the host name an app reaches its database by, as the
// classic `--link mysql:dbserver` named it.
const DefaultAlias = "dbserver"

type kindInfo struct {
	image   string // default image
	port    int    // where the server listens in its container
	dataDir string // what the named volume is mounted on
	scheme  string // default URL scheme
}

var kinds = map[DatabaseKind]kindInfo{
	MySQL:    {image: "mysql:8.4", port: 3306, dataDir: "/var/lib/mysql", scheme: "mysql"},
	MariaDB:  {image: "mariadb:11.4", port: 3306, dataDir: "/var/lib/mysql", scheme: "mysql"},
	Postgres: {image: "postgres:17", port: 5432, dataDir: "/var/lib/postgresql/data", scheme: "postgresql"},
}

// DatabaseSpec describes an app's database container. Empty fields take
// the defaults named on them.
type DatabaseSpec struct {
	// App is the app the database belongs to; the container and the
	// network are named by the instance (see Names).
	App  string
	Kind DatabaseKind
	// Image defaults to mysql:8.4, mariadb:11.4 or postgres:17. It must
	// already be in the engine.
	Image string
	// Volume is the named volume holding the data directory; default
	// Names(App).Volume. It is created when missing and survives the
	// container.
	Volume string
	// Alias is the host name the app reaches the database by; default
	// DefaultAlias.
	Alias string
	// Database and User default to the app's name with '-' turned to '_'.
	Database string
	User     string
	// Password is required: make one with GeneratePassword and keep it.
	// The server takes it only when it first initialises an empty volume;
	// later containers on the same volume keep the first password.
	Password string
	// Memory limits the container, in bytes; zero means no limit.
	Memory int64
	// Labels are added to the container, the volume and, when it is
	// created here, the network.
	Labels map[string]string
}

func (s DatabaseSpec) withDefaults() DatabaseSpec {
	def := strings.ReplaceAll(s.App, "-", "_")
	if s.Image == "" {
		s.Image = kinds[s.Kind].image
	}
	if s.Volume == "" && s.App != "" {
		s.Volume = NamesFor("", s.App).Volume
	}
	if s.Alias == "" {
		s.Alias = DefaultAlias
	}
	if s.Database == "" {
		s.Database = def
	}
	if s.User == "" {
		s.User = def
	}
	return s
}

// validate checks a spec that has its defaults.
func (s DatabaseSpec) validate() error {
	if err := checkApp("DatabaseSpec.App", s.App); err != nil {
		return err
	}
	if _, ok := kinds[s.Kind]; !ok {
		return invalid("DatabaseSpec.Kind", string(s.Kind), `must be "mysql", "mariadb" or "postgres"`)
	}
	if err := checkImage("DatabaseSpec.Image", s.Image); err != nil {
		return err
	}
	if err := checkVolume("DatabaseSpec.Volume", s.Volume); err != nil {
		return err
	}
	if !dnsLabel.MatchString(s.Alias) {
		return invalid("DatabaseSpec.Alias", s.Alias, dnsLabelRule)
	}
	if !sqlIdentRe.MatchString(s.Database) {
		return invalid("DatabaseSpec.Database", s.Database, "a database name is 1 to 32 letters, digits and '_', not starting with a digit")
	}
	if !sqlIdentRe.MatchString(s.User) || s.User == "root" {
		return invalid("DatabaseSpec.User", s.User, "a database user is 1 to 32 letters, digits and '_', not starting with a digit, and not root")
	}
	switch {
	case s.Password == "":
		return invalid("DatabaseSpec.Password", "", "is required: generate one with GeneratePassword and store it with the app")
	case strings.IndexFunc(s.Password, unicode.IsControl) >= 0:
		return invalid("DatabaseSpec.Password", "", "a password cannot contain control characters")
	}
	if err := checkMemory("DatabaseSpec.Memory", s.Memory); err != nil {
		return err
	}
	return checkLabels("DatabaseSpec.Labels", s.Labels)
}

func (s DatabaseSpec) env() []string {
	if s.Kind == Postgres {
		return []string{"POSTGRES_DB=" + s.Database, "POSTGRES_USER=" + s.User, "POSTGRES_PASSWORD=" + s.Password}
	}
	// MariaDB's image reads the MYSQL_ names too.
	return []string{"MYSQL_DATABASE=" + s.Database, "MYSQL_USER=" + s.User, "MYSQL_PASSWORD=" + s.Password, "MYSQL_RANDOM_ROOT_PASSWORD=yes"}
}

// GeneratePassword returns a random password of 26 letters and digits
// (130 bits), safe in URLs and shell lines alike.
func GeneratePassword() string { return rand.Text() }

// EnsureDatabase makes sure the app's database container runs: it
// ensures the app's network and the data volume, creates and starts the
// container (Names(app).Database) when missing, and starts it when
// stopped. An existing
// container is reused as it is; to change its image or settings, Remove
// it (the volume stays) and call EnsureDatabase again. The container
// restarts unless stopped and joins the network under spec.Alias. It may
// not accept connections yet: see WaitDatabase.
//
// A container of that name that is not this instance's for this app, a
// volume that another kaj or app labelled, an unlabelled volume bearing
// kaj's default name, or another container answering to spec.Alias on
// the app's network is an ErrConflict, and left as it is. A volume the
// definition names that has no kaj labels is used as it is, to adopt data
// from before kaj, and kaj never deletes it. A missing image is
// ErrImageMissing.
func (d *Docker) EnsureDatabase(ctx context.Context, spec DatabaseSpec) (Container, error) {
	names := d.Names(spec.App)
	if spec.Volume == "" && spec.App != "" {
		spec.Volume = names.Volume
	}
	spec = spec.withDefaults()
	if err := spec.validate(); err != nil {
		return Container{}, err
	}
	netName := names.Network
	netID, err := d.ensureNetwork(ctx, spec.App, spec.Labels)
	if err != nil {
		return Container{}, err
	}
	name := names.Database
	defer d.locks.lock("db/" + name)()

	insp, err := d.cli.ContainerInspect(ctx, name, mclient.ContainerInspectOptions{})
	switch {
	case err == nil:
		c := insp.Container
		if !d.owns(c.Config.Labels) || c.Config.Labels[LabelApp] != spec.App || c.Config.Labels[LabelRole] != string(RoleDB) {
			return Container{}, fmt.Errorf("ensuring database: %w", foreign("container", name, spec.App, c.Config.Labels))
		}
		if c.State == nil || !c.State.Running {
			if _, err := d.cli.ContainerStart(ctx, c.ID, mclient.ContainerStartOptions{}); err != nil {
				return Container{}, engineError("starting database "+name, err)
			}
		}
		return d.container(ctx, c.ID)
	case !cerrdefs.IsNotFound(err):
		return Container{}, engineError("inspecting database "+name, err)
	}

	if err := d.checkAlias(ctx, netID, netName, spec.Alias, spec.App); err != nil {
		return Container{}, err
	}
	labels := d.labelsFor(spec.Labels, spec.App, RoleDB, "")
	labels[LabelDatabase] = string(spec.Kind)
	vol, err := d.cli.VolumeInspect(ctx, spec.Volume, mclient.VolumeInspectOptions{})
	switch {
	case err == nil:
		// Data of another kaj, of another app, or a stranger's volume
		// under the name kaj gives is never opened.
		vl := vol.Volume.Labels
		if managed(vl) && (!d.owns(vl) || vl[LabelApp] != spec.App) || !managed(vl) && spec.Volume == names.Volume {
			return Container{}, fmt.Errorf("ensuring database %s: %w", name, foreign("volume", spec.Volume, spec.App, vl))
		}
	case cerrdefs.IsNotFound(err):
		if _, err := d.cli.VolumeCreate(ctx, mclient.VolumeCreateOptions{Name: spec.Volume, Labels: labels}); err != nil {
			return Container{}, engineError("creating volume "+spec.Volume, err)
		}
	default:
		return Container{}, engineError("inspecting volume "+spec.Volume, err)
	}

	k := kinds[spec.Kind]
	port, _ := network.PortFrom(uint16(k.port), network.TCP)
	stop := 30 // seconds: a database flushes before it exits
	created, err := d.cli.ContainerCreate(ctx, mclient.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:        spec.Image,
			Env:          spec.env(),
			Labels:       labels,
			ExposedPorts: network.PortSet{port: {}},
			StopTimeout:  &stop,
		},
		HostConfig: &container.HostConfig{
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
			Mounts:        []mount.Mount{{Type: mount.TypeVolume, Source: spec.Volume, Target: k.dataDir}},
			Resources:     container.Resources{Memory: spec.Memory},
		},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			netName: {Aliases: []string{spec.Alias}},
		}},
	})
	if err != nil {
		return Container{}, d.createError(ctx, "creating database "+name, spec.Image, err)
	}
	if _, err := d.cli.ContainerStart(ctx, created.ID, mclient.ContainerStartOptions{}); err != nil {
		d.discard(ctx, created.ID)
		return Container{}, engineError("starting database "+name, err)
	}
	return d.container(ctx, created.ID)
}

// checkAlias refuses a container on the app's network that is not this
// instance's and answers to alias: the app would reach it instead of its
// database.
func (d *Docker) checkAlias(ctx context.Context, netID, netName, alias, app string) error {
	res, err := d.cli.NetworkInspect(ctx, netID, mclient.NetworkInspectOptions{})
	if err != nil {
		return engineError("inspecting network "+netName, err)
	}
	for id, ep := range res.Network.Containers {
		if id == d.self {
			continue
		}
		c, err := d.cli.ContainerInspect(ctx, id, mclient.ContainerInspectOptions{})
		if err != nil {
			if cerrdefs.IsNotFound(err) {
				continue
			}
			return engineError("inspecting container "+ep.Name, err)
		}
		var labels map[string]string
		if c.Container.Config != nil {
			labels = c.Container.Config.Labels
		}
		if d.owns(labels) && labels[LabelApp] == app {
			continue
		}
		answers := strings.TrimPrefix(c.Container.Name, "/") == alias
		if ns := c.Container.NetworkSettings; ns != nil {
			if es, ok := ns.Networks[netName]; ok && es != nil {
				answers = answers || slices.Contains(es.Aliases, alias) || slices.Contains(es.DNSNames, alias)
			}
		}
		if answers {
			return fmt.Errorf("ensuring database of %s: %w: container %s on network %s answers to the database's name %q and is not this kaj's; disconnect it from the network (docker network disconnect %s %s)", app, ErrConflict, strings.TrimPrefix(c.Container.Name, "/"), netName, alias, netName, strings.TrimPrefix(c.Container.Name, "/"))
		}
	}
	return nil
}

// createError tells a missing image from other not-found errors of a
// container create (a network removed meanwhile).
func (d *Docker) createError(ctx context.Context, doing, image string, err error) error {
	if cerrdefs.IsNotFound(err) {
		if _, ierr := d.cli.ImageInspect(ctx, image); cerrdefs.IsNotFound(ierr) {
			return fmt.Errorf("%s: %w: %s (pull it first): %w", doing, ErrImageMissing, image, err)
		}
	}
	return engineError(doing, err)
}

// DatabaseURL is the URL an app uses to reach spec's database by its alias
// on the app network: scheme://user:password@alias/database, with user,
// password and database percent-encoded, and no port (the kind's default).
// An empty scheme is the kind's usual one ("mysql", "postgresql");
// SQLAlchemy-style schemes such as "mysql+pymysql" are accepted as given.
func DatabaseURL(spec DatabaseSpec, scheme string) (string, error) {
	spec = spec.withDefaults()
	if err := spec.validate(); err != nil {
		return "", err
	}
	if scheme == "" {
		scheme = kinds[spec.Kind].scheme
	}
	if !schemeRe.MatchString(scheme) {
		return "", invalid("scheme", scheme, `a URL scheme is a lowercase letter then letters, digits, '+', '.' or '-', e.g. "mysql+pymysql"`)
	}
	return scheme + "://" + escape(spec.User) + ":" + escape(spec.Password) + "@" + spec.Alias + "/" + escape(spec.Database), nil
}

// DatabaseEnv is what an app needs to reach spec's database: DATABASE_URL
// (as DatabaseURL builds it) and the discrete DB_HOST, DB_PORT, DB_NAME,
// DB_USER and DB_PASSWORD.
func DatabaseEnv(spec DatabaseSpec, scheme string) (map[string]string, error) {
	u, err := DatabaseURL(spec, scheme)
	if err != nil {
		return nil, err
	}
	spec = spec.withDefaults()
	return map[string]string{
		"DATABASE_URL": u,
		"DB_HOST":      spec.Alias,
		"DB_PORT":      strconv.Itoa(kinds[spec.Kind].port),
		"DB_NAME":      spec.Database,
		"DB_USER":      spec.User,
		"DB_PASSWORD":  spec.Password,
	}, nil
}

// escape percent-encodes all but RFC 3986's unreserved characters, which
// every URL parser reads back the same way, whatever part it is in.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
