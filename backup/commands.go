package backup

import (
	"strings"

	"github.com/kajhq/kaj/runtime"
)

// The commands run in database containers. Clients connect over TCP to
// 127.0.0.1: the accounts kaj creates may log in from any host, while a
// socket's path differs between images. Passwords travel in the exec's
// environment (MYSQL_PWD, PGPASSWORD), never on a command line.

// mysqlTool runs the first of the named programs the image has: MariaDB
// images since 11 have only the mariadb-* names, MySQL images only the
// mysql* ones.
func mysqlTool(names ...string) []string {
	list := strings.Join(names, " ")
	script := `for t in ` + list + `; do
  if command -v "$t" >/dev/null 2>&1; then exec "$t" "$@"; fi
done
echo "none of ` + list + ` is in this image" >&2
exit 127`
	return []string{"sh", "-c", script, "kaj"}
}

func mysqlEnv(db Database) []string { return []string{"MYSQL_PWD=" + db.Password} }
func pgEnv(db Database) []string    { return []string{"PGPASSWORD=" + db.Password} }

var mysqlConn = []string{"--protocol=tcp", "--host=127.0.0.1", "--port=3306"}

// mysqlDumpCmd dumps one database in one consistent snapshot, row by row
// (--quick keeps the tool's memory flat), with its stored routines and
// triggers. --no-tablespaces: MySQL 8 asks for the PROCESS privilege to
// dump tablespaces, which an app's account lacks, and an app's database
// has none of its own.
func mysqlDumpCmd(db Database) []string {
	cmd := mysqlTool("mariadb-dump", "mysqldump")
	cmd = append(cmd, mysqlConn...)
	return append(cmd, "--user="+db.User, "--single-transaction", "--quick", "--routines", "--triggers",
		"--no-tablespaces", "--hex-blob", "--default-character-set=utf8mb4", db.Name)
}

// mysqlClientCmd loads SQL from stdin into the database.
func mysqlClientCmd(db Database) []string {
	cmd := mysqlTool("mariadb", "mysql")
	cmd = append(cmd, mysqlConn...)
	return append(cmd, "--user="+db.User, "--batch", "--skip-column-names", "--default-character-set=utf8mb4", db.Name)
}

// mysqlCountSQL counts every base table's rows, exactly, one table per
// output line: name TAB count.
const mysqlCountSQL = `SET SESSION group_concat_max_len = 1048576;
SELECT GROUP_CONCAT(CONCAT('SELECT ', QUOTE(TABLE_NAME), ', COUNT(*) FROM ', CONCAT('` + "`" + `', REPLACE(TABLE_NAME, '` + "`" + `', '` + "``" + `'), '` + "`" + `')) SEPARATOR ' UNION ALL ')
  INTO @kaj_counts FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE';
SET @kaj_counts = COALESCE(@kaj_counts, 'SELECT 1, 1 FROM DUAL WHERE FALSE');
PREPARE kaj_counts FROM @kaj_counts;
EXECUTE kaj_counts;
`

var pgConn = []string{"--host=127.0.0.1", "--port=5432"}

// pgDumpCmd dumps in the custom format, which pg_restore reads, from
// the given exported snapshot. -Z0: kaj compresses the stream itself, on
// another core, instead of pg_dump doing it inline.
func pgDumpCmd(db Database, snapshot string) []string {
	return append(append([]string{"pg_dump"}, pgConn...), "--username="+db.User, "--dbname="+db.Name,
		"--format=custom", "--compress=0", "--snapshot="+snapshot)
}

func psqlCmd(db Database, extra ...string) []string {
	cmd := append([]string{"psql"}, pgConn...)
	cmd = append(cmd, "--username="+db.User, "--dbname="+db.Name, "--no-psqlrc", "--quiet",
		"--tuples-only", "--no-align", "--field-separator=\t", "--set=ON_ERROR_STOP=1")
	return append(cmd, extra...)
}

// pgRestoreCmd loads a custom-format dump from stdin. clean replaces what
// the dump holds, in one transaction: a failed restore changes nothing.
// Ownership and grants are not restored: the objects belong to the
// account restoring them, the app's own.
func pgRestoreCmd(db Database, clean bool) []string {
	cmd := append([]string{"pg_restore"}, pgConn...)
	cmd = append(cmd, "--username="+db.User, "--dbname="+db.Name, "--no-owner", "--no-privileges", "--exit-on-error")
	if clean {
		cmd = append(cmd, "--clean", "--if-exists", "--single-transaction")
	}
	return cmd
}

// pgCountSQL counts every table's rows exactly, one per output line:
// schema.name TAB count. query_to_xml runs each count in the calling
// transaction, so all of them see its snapshot.
const pgCountSQL = `SELECT format('%I.%I', n.nspname, c.relname),
  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
ORDER BY 1;
`

// execOpts are the runtime's exec options for cmd with env.
func execOpts(cmd, env []string) runtime.ExecOptions {
	return runtime.ExecOptions{Cmd: cmd, Env: env}
}
