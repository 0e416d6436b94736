package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kajhq/kaj/build"
)

// The client commands talk to a kaj over its API with a token; see
// client.go for where the login is kept.

func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

const loginUsage = `Usage: kaj login URL [--token TOKEN | --user NAME]

Saves kaj's address and an API token in your config folder (mode 0600).
Without --token, asks for one (create it under Tokens in the dashboard);
with --user, asks for that user's password and creates a token.
Scripts can set KAJ_URL and KAJ_TOKEN instead.

Flags:
`

func loginCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("kaj login", loginUsage, stderr)
	token := fs.String("token", "", "an API `token` (kaj_...)")
	user := fs.String("user", "", "log in as this `user` and create a token")
	pos, err := positionals(fs, args, 1)
	if err != nil {
		return err
	}
	base := strings.TrimRight(pos[0], "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not kaj's address: give it like https://kaj.example.com", pos[0])
	}
	switch {
	case *token != "":
	case *user != "":
		pw, err := prompt(stdin, stderr, "Password for "+*user+": ")
		if err != nil {
			return err
		}
		if *token, err = createToken(ctx, base, *user, pw); err != nil {
			return err
		}
	default:
		if *token, err = prompt(stdin, stderr, "API token: "); err != nil {
			return err
		}
	}
	c := &client{base: base, token: *token, http: defaultHTTP()}
	var me struct {
		User string `json:"user"`
	}
	if err := c.do(ctx, "GET", "/api/v1/auth/me", nil, &me); err != nil {
		return fmt.Errorf("checking the token: %w", err)
	}
	p, err := saveLogin(login{URL: base, Token: *token})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "logged in to %s as %s (saved in %s)\n", base, me.User, p)
	return nil
}

// createToken logs in with a password and makes an API token for this
// machine.
func createToken(ctx context.Context, base, user, password string) (string, error) {
	c := &client{base: base, http: defaultHTTP()}
	jar := newJar()
	c.http.Jar = jar
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	if err := c.do(ctx, "POST", "/api/v1/auth/login", map[string]string{"username": user, "password": password}, &me); err != nil {
		return "", fmt.Errorf("logging in: %w", err)
	}
	host, _ := os.Hostname()
	var tok struct {
		Secret string `json:"token"`
	}
	c.csrf = me.CSRF
	if err := c.do(ctx, "POST", "/api/v1/tokens", map[string]string{"name": "kaj cli on " + host}, &tok); err != nil {
		return "", fmt.Errorf("creating a token: %w", err)
	}
	return tok.Secret, nil
}

type appView struct {
	Name    string `json:"name"`
	Image   string `json:"image"`
	State   string `json:"state"`
	URL     string `json:"url"`
	Port    int    `json:"port"`
	Version uint64 `json:"version"`
	Live    *struct {
		Number uint64 `json:"number"`
		Image  string `json:"image"`
		Build  *struct {
			Commit   string `json:"commit"`
			Uploaded bool   `json:"uploaded"`
		} `json:"build"`
	} `json:"live"`
	Source *struct {
		Repo       string `json:"repo"`
		Ref        string `json:"ref"`
		Dockerfile string `json:"dockerfile"`
	} `json:"source"`
}

func appsCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("kaj apps", "Usage: kaj apps [--json]\n\nLists the apps.\n\n", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.do(ctx, "GET", "/api/v1/apps", nil, &raw); err != nil {
		return err
	}
	if *asJSON {
		_, err := fmt.Fprintln(stdout, string(raw))
		return err
	}
	var list []appView
	if err := json.Unmarshal(raw, &list); err != nil {
		return err
	}
	st := style{on: isTTY(stdout)}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, st.bold("NAME\tSTATE\tRELEASE\tSOURCE\tURL"))
	for _, a := range list {
		rel, src := "-", a.Image
		if a.Live != nil {
			rel = strconv.FormatUint(a.Live.Number, 10)
			switch b := a.Live.Build; {
			case b != nil && b.Commit != "":
				src = "commit " + b.Commit[:min(12, len(b.Commit))]
			case b != nil && b.Uploaded:
				src = "upload " + a.Live.Image
			}
		}
		if a.Source != nil && a.Source.Repo != "" {
			src = a.Source.Repo + "@" + cmpOr(a.Source.Ref, "main") + " " + src
		}
		state := a.State
		switch state {
		case "healthy", "running":
			state = st.green(state)
		case "failed", "unhealthy", "missing":
			state = st.red(state)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Name, state, rel, strings.TrimSpace(src), cmpOr(a.URL, "-"))
	}
	return tw.Flush()
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

const deployUsage = `Usage: kaj deploy APP [--context DIR [--dockerfile PATH]] [--image REF] [--json]

Deploys APP and follows the job until it ends; exits non-zero when it fails.
  --context DIR   uploads DIR as the build context (honouring its
                  .dockerignore); kaj lints, builds and deploys it
  --image REF     sets the app's image to REF and deploys it
  neither         deploys the app as defined; an app with a git repository
                  is built from it

Flags:
`

func deployCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("kaj deploy", deployUsage, stderr)
	dir := fs.String("context", "", "upload this `folder` as the build context")
	dockerfile := fs.String("dockerfile", "", "the Dockerfile's `path` (default DIR/Dockerfile, or the app's setting)")
	image := fs.String("image", "", "deploy this image `reference`")
	asJSON := fs.Bool("json", false, "print the job's events as JSON lines")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return usageError(err)
	}
	if len(pos) != 1 || (*dir != "" && *image != "") || (*dockerfile != "" && *dir == "") {
		fs.Usage()
		return exitCode(2)
	}
	app := pos[0]
	c, err := newClient()
	if err != nil {
		return err
	}
	var job jobStarted
	switch {
	case *dir != "":
		df, err := dockerfileInContext(*dir, *dockerfile)
		if err != nil {
			return err
		}
		ignoreFor := df
		if ignoreFor == "" {
			// The app's own Dockerfile path decides which ignore file
			// applies (Dockerfile_prod.dockerignore before .dockerignore).
			var a appView
			if err := c.do(ctx, "GET", "/api/v1/apps/"+url.PathEscape(app), nil, &a); err != nil {
				return err
			}
			if a.Source != nil {
				ignoreFor = a.Source.Dockerfile
			}
		}
		if job, err = upload(ctx, c, app, *dir, df, ignoreFor, stderr, *asJSON); err != nil {
			return err
		}
	case *image != "":
		if err := editApp(ctx, c, app, func(in map[string]any) error { in["image"] = *image; return nil }); err != nil {
			return err
		}
		if err := c.do(ctx, "POST", "/api/v1/apps/"+url.PathEscape(app)+"/deploy", nil, &job); err != nil {
			return err
		}
	default:
		// An app with a repository builds it; others deploy as defined.
		var a appView
		if err := c.do(ctx, "GET", "/api/v1/apps/"+url.PathEscape(app), nil, &a); err != nil {
			return err
		}
		action := "/deploy"
		if a.Source != nil && a.Source.Repo != "" {
			action = "/build"
		}
		if err := c.do(ctx, "POST", "/api/v1/apps/"+url.PathEscape(app)+action, nil, &job); err != nil {
			return err
		}
	}
	return follow(ctx, c, job.Job, stdout, *asJSON)
}

// dockerfileInContext turns --dockerfile (relative to the working
// folder, as docker build -f is) into a path inside the context.
func dockerfileInContext(dir, df string) (string, error) {
	if df == "" {
		return "", nil
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	absDF, err := filepath.Abs(df)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(absDir, absDF)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("the Dockerfile %s is not inside the context %s: move it in, or use a context that holds it", df, dir)
	}
	return filepath.ToSlash(rel), nil
}

// upload streams dir as a tar (what .dockerignore names never leaves
// this machine) and starts the build.
func upload(ctx context.Context, c *client, app, dir, dockerfile, ignoreFor string, stderr io.Writer, quiet bool) (jobStarted, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return jobStarted{}, fmt.Errorf("the context %s is not a folder", dir)
	}
	df := ignoreFor
	if df == "" {
		df = "Dockerfile"
	}
	pr, pw := io.Pipe()
	type counts struct{ sent, ignored int }
	done := make(chan counts, 1)
	go func() {
		sent, ignored, err := build.WriteContext(pw, dir, df)
		done <- counts{sent, ignored}
		pw.CloseWithError(err)
	}()
	start := time.Now()
	path := "/api/v1/apps/" + url.PathEscape(app) + "/upload"
	if dockerfile != "" {
		path += "?dockerfile=" + url.QueryEscape(dockerfile)
	}
	var job jobStarted
	err := c.do(ctx, "POST", path, pr, &job)
	pr.CloseWithError(errors.New("upload ended"))
	if err != nil {
		return job, fmt.Errorf("uploading %s: %w", dir, err)
	}
	n := <-done
	if !quiet {
		fmt.Fprintf(stderr, "uploaded %s: %d file(s), %d left out by .dockerignore, in %s\n", dir, n.sent, n.ignored, time.Since(start).Round(time.Millisecond))
	}
	return job, nil
}

// editApp reads app, lets edit change its definition and saves it.
func editApp(ctx context.Context, c *client, app string, edit func(map[string]any) error) error {
	var cur map[string]any
	if err := c.do(ctx, "GET", "/api/v1/apps/"+url.PathEscape(app), nil, &cur); err != nil {
		return err
	}
	// The API takes the definition's fields, not the view around it.
	in := map[string]any{}
	for _, k := range []string{"image", "env", "port", "host_port", "health_path", "health", "domains", "database", "restart", "command", "entrypoint", "memory_bytes", "cpus", "source", "version"} {
		if v, ok := cur[k]; ok {
			in[k] = v
		}
	}
	if db, ok := in["database"].(map[string]any); ok {
		delete(db, "password")
	}
	if err := edit(in); err != nil {
		return err
	}
	return c.do(ctx, "PUT", "/api/v1/apps/"+url.PathEscape(app), in, nil)
}

func logsCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("kaj logs", "Usage: kaj logs [-f] [--tail N] [--json] APP\n\nPrints the app container's log; -f follows it.\n\n", stderr)
	followLog := fs.Bool("f", false, "follow the log")
	tail := fs.Int("tail", 100, "lines of history")
	asJSON := fs.Bool("json", false, "print each line as JSON")
	pos, err := positionals(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	f := "0"
	if *followLog {
		f = "1"
	}
	conn, err := c.dial(ctx, fmt.Sprintf("/api/v1/apps/%s/logs?tail=%d&follow=%s", url.PathEscape(pos[0]), *tail, f))
	if err != nil {
		return err
	}
	defer conn.Close()
	st := style{on: isTTY(stdout)}
	for {
		var m struct {
			Type  string `json:"type"`
			Lines []struct {
				Stream  string    `json:"stream"`
				Time    time.Time `json:"time"`
				Text    string    `json:"text"`
				Skipped int       `json:"skipped"`
			} `json:"lines"`
			Error string `json:"error"`
		}
		if err := conn.ReadJSON(&m); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading the log: %w", err)
		}
		switch m.Type {
		case "error":
			return errors.New(m.Error)
		case "end":
			return nil
		case "lines":
			for _, l := range m.Lines {
				if *asJSON {
					b, _ := json.Marshal(l)
					fmt.Fprintln(stdout, string(b))
					continue
				}
				text := l.Text
				if l.Stream == "stderr" {
					text = st.red(text)
				}
				fmt.Fprintf(stdout, "%s %s\n", st.dim(l.Time.Local().Format("15:04:05")), text)
			}
		}
	}
}

func rollbackCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("kaj rollback", "Usage: kaj rollback APP [RELEASE] [--json]\n\nDeploys an earlier release again: RELEASE, or the previous good one.\n\n", stderr)
	asJSON := fs.Bool("json", false, "print the job's events as JSON lines")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return usageError(err)
	}
	if len(pos) < 1 || len(pos) > 2 {
		fs.Usage()
		return exitCode(2)
	}
	body := map[string]uint64{}
	if len(pos) == 2 {
		n, err := strconv.ParseUint(strings.TrimPrefix(pos[1], "#"), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a release number", pos[1])
		}
		body["release"] = n
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	var job jobStarted
	if err := c.do(ctx, "POST", "/api/v1/apps/"+url.PathEscape(pos[0])+"/rollback", body, &job); err != nil {
		return err
	}
	return follow(ctx, c, job.Job, stdout, *asJSON)
}

func envCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "Usage: kaj env set APP NAME=VALUE... [--secret]\n       kaj env unset APP NAME...\n\nChanges the app's environment; it takes effect at the next deploy.\n\n"
	fs := newFlags("kaj env", usage, stderr)
	secret := fs.Bool("secret", false, "store the values as secrets (sealed, never shown back)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return usageError(err)
	}
	if len(pos) < 3 || (pos[0] != "set" && pos[0] != "unset") {
		fs.Usage()
		return exitCode(2)
	}
	verb, app, items := pos[0], pos[1], pos[2:]
	c, err := newClient()
	if err != nil {
		return err
	}
	err = editApp(ctx, c, app, func(in map[string]any) error {
		env, _ := in["env"].([]any)
		index := map[string]int{}
		for i, e := range env {
			if m, ok := e.(map[string]any); ok {
				index[fmt.Sprint(m["name"])] = i
			}
		}
		for _, it := range items {
			if verb == "unset" {
				if i, ok := index[it]; ok {
					env[i] = nil
				}
				continue
			}
			name, value, ok := strings.Cut(it, "=")
			if !ok {
				return fmt.Errorf("%q: write NAME=VALUE", it)
			}
			v := map[string]any{"name": name, "value": value, "secret": *secret}
			if i, ok := index[name]; ok {
				env[i] = v
			} else {
				index[name] = len(env)
				env = append(env, v)
			}
		}
		kept := []any{}
		for _, e := range env {
			if e != nil {
				kept = append(kept, e)
			}
		}
		in["env"] = kept
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: env updated; run 'kaj deploy %s' to apply it\n", app, app)
	return nil
}

func pushCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("kaj push", "Usage: kaj push IMAGE TARGET [--json]\n\nPushes an image kaj's engine holds to a registry (credentials from kaj's Registries).\n\n", stderr)
	asJSON := fs.Bool("json", false, "print the job's events as JSON lines")
	pos, err := positionals(fs, args, 2)
	if err != nil {
		return err
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	var job jobStarted
	if err := c.do(ctx, "POST", "/api/v1/images/push", map[string]string{"image": pos[0], "target": pos[1]}, &job); err != nil {
		return err
	}
	return follow(ctx, c, job.Job, stdout, *asJSON)
}

// usageError turns a flag error into exit status 2 (the flag package has
// printed the usage); -h is not an error.
// positionals parses fs's flags wherever they stand in args and returns
// the other arguments, which must be want; otherwise it prints the usage
// and the command exits 2.
func positionals(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, usageError(err)
	}
	if len(pos) != want {
		fs.Usage()
		return nil, exitCode(2)
	}
	return pos, nil
}

func usageError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return exitCode(2)
}
