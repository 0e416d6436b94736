package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// jobEvent is one event of a job, as kaj streams it.
type jobEvent struct {
	Type    string   `json:"type"`
	Step    string   `json:"step"`
	Status  string   `json:"status"`
	Message string   `json:"message"`
	Layer   string   `json:"layer"`
	Current int64    `json:"current"`
	Total   int64    `json:"total"`
	Lines   []string `json:"lines"`
}

type jobStarted struct {
	Job    string `json:"job"`
	Status string `json:"status"`
}

// errJobFailed is returned when the followed job did not succeed; the
// job's own message has been printed.
type errJobFailed struct{ status, msg string }

func (e errJobFailed) Error() string {
	return fmt.Sprintf("the job %s: %s", e.status, e.msg)
}

// follow prints a job's events until it ends: steps, build output, and
// transfer progress (a bar on a terminal, nothing elsewhere). With
// asJSON each event is one JSON line. It returns errJobFailed unless the
// job succeeded.
func follow(ctx context.Context, c *client, id string, out io.Writer, asJSON bool) error {
	conn, err := c.dial(ctx, "/api/v1/jobs/"+id+"/stream")
	if err != nil {
		return err
	}
	defer conn.Close()
	st := style{on: isTTY(out)}
	bar := false
	for {
		var m struct {
			Type  string   `json:"type"`
			Event jobEvent `json:"event"`
			Error string   `json:"error"`
		}
		if err := conn.ReadJSON(&m); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("stopped following job %s; it goes on in kaj (cancel it with DELETE /api/v1/jobs/%s)", id, id)
			}
			return fmt.Errorf("following job %s: %w", id, err)
		}
		switch m.Type {
		case "error":
			return fmt.Errorf("following job %s: %s", id, m.Error)
		case "end":
			return fmt.Errorf("job %s ended without saying how", id)
		case "event":
		default:
			continue
		}
		e := m.Event
		if asJSON {
			b, _ := json.Marshal(e)
			fmt.Fprintln(out, string(b))
		} else {
			if bar && e.Type != "progress" {
				fmt.Fprintln(out)
				bar = false
			}
			printEvent(out, st, e, &bar)
		}
		if e.Type == "done" {
			if e.Status != "succeeded" {
				return errJobFailed{status: e.Status, msg: e.Message}
			}
			return nil
		}
	}
}

func printEvent(out io.Writer, st style, e jobEvent, bar *bool) {
	switch e.Type {
	case "step":
		switch e.Status {
		case "running":
			fmt.Fprintf(out, "%s %s\n", st.bold("==>"), e.Step)
		case "succeeded":
			if e.Message != "" {
				fmt.Fprintf(out, "    %s %s\n", st.green("ok"), e.Message)
			}
		case "failed":
			fmt.Fprintf(out, "    %s %s\n", st.red("failed"), e.Message)
		}
	case "log":
		if e.Message != "" {
			fmt.Fprintf(out, "    %s\n", e.Message)
		}
		for _, l := range e.Lines {
			fmt.Fprintf(out, "    %s\n", st.dim(l))
		}
	case "progress":
		if !st.on || e.Total <= 0 {
			return
		}
		const width = 30
		n := int(float64(width) * float64(e.Current) / float64(e.Total))
		n = min(max(n, 0), width)
		fmt.Fprintf(out, "\r    %-24.24s [%s%s] %3d%%", e.Layer, strings.Repeat("=", n), strings.Repeat(" ", width-n), 100*e.Current/e.Total)
		*bar = true
	case "done":
		if e.Status == "succeeded" {
			fmt.Fprintln(out, st.green("done"))
		} else {
			fmt.Fprintf(out, "%s %s\n", st.red(e.Status+":"), e.Message)
		}
	}
}
